"""The output folder's safety: where a site may go, who may build it, what --clean may empty.

- A site never goes where it could overwrite or delete the project: not the project
  folder or one holding it, not inside a source folder (issues/, the theme,
  .briefing/, outbox/), not a folder holding another project's briefing.toml.
- One build at a time per output folder: an exclusive flock(2) on a lock file named
  after the folder, kept in the project's .briefing/ (not in the site: a no-op build
  changes no file there). The kernel releases the lock when the process ends,
  however it ends, so a crash never leaves it stuck; the file says who holds it,
  for the second run's message.
- --clean empties only a folder briefing created (or found empty) and marked: the
  first line of its manifest (the list of files briefing wrote there) says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from briefing.errors import BriefingError, Problem
from briefing.locks import exclusive

MANIFEST = ".briefing-manifest"  # the files briefing wrote in the site, one a line
MARKER = "# made by briefing: `briefing build --clean` may empty this folder"
CONFIG_FILE = "briefing.toml"


def refuse_unsafe(target: Path, root: Path, sources: Iterable[Path], shown: str) -> None:
    """Raise unless target is a safe output folder for the project at root."""
    target, root = target.resolve(), root.resolve()
    if root.is_relative_to(target):
        what = "is the project folder" if root == target else "holds the project folder"
        raise _unsafe(shown, f"{what} {root}")
    for folder in sources:
        folder = folder.resolve()
        if target.is_relative_to(folder):
            raise _unsafe(shown, f"lies inside {folder}, which holds sources")
    if (target / CONFIG_FILE).exists():
        raise _unsafe(shown, f"holds a {CONFIG_FILE}: it is a project, not a site")


def _unsafe(shown: str, why: str) -> BriefingError:
    return BriefingError(
        Problem("", f"refusing to build into {shown}: it {why}; choose another --out folder")
    )


def mark_if_new(folder: Path) -> None:
    """Create folder if needed; mark it as briefing's when it is new or empty."""
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        (folder / MANIFEST).write_text(MARKER + "\n")


def is_marked(folder: Path) -> bool:
    try:
        with (folder / MANIFEST).open(encoding="utf-8") as manifest:
            return manifest.readline().rstrip("\n") == MARKER
    except (FileNotFoundError, UnicodeDecodeError):
        return False


@contextmanager
def site_lock(lock: Path, shown: str) -> Iterator[None]:
    """Hold the build lock of the site shown (the file lock), or raise naming the
    process that holds it."""
    with exclusive(lock) as holder:
        if holder:
            raise BriefingError(Problem("", f"{shown} is being built by {holder}"))
        yield


def pause_point(point: str) -> None:
    """A test hook: with BRIEFING_PAUSE_AT=point:FOLDER, write this process's id to the
    FIFO FOLDER/reached, then wait until a line arrives on the FIFO FOLDER/go. Tests
    race or kill a build at a known point this way, waiting on events, not sleeps."""
    name, _, folder = os.environ.get("BRIEFING_PAUSE_AT", "").partition(":")
    if name != point or not folder:
        return
    with open(os.path.join(folder, "reached"), "w") as reached:
        reached.write(f"{os.getpid()}\n")
    with open(os.path.join(folder, "go")) as go:
        go.readline()
