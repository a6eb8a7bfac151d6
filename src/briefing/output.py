"""The site writer: staged, atomic, write-if-changed, stale files removed."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from briefing.atomic import atomic_write as atomic_write  # re-exported: send/ imports it here
from briefing.atomic import located, replace
from briefing.atomic import sync_folder as sync_folder  # re-exported: send/ imports it here
from briefing.out_folder import MANIFEST, MARKER, is_marked, pause_point
from briefing.site import Outputs, collision

STAGING = ".briefing-staging"
OWN = {MANIFEST, STAGING}  # briefing's bookkeeping in the site folder


@dataclass(frozen=True)
class WriteReport:
    written: int
    unchanged: int
    removed: int


def write_site(
    outputs: Outputs, out_dir: Path, clean: bool = False, kept: set[str] | None = None
) -> WriteReport:
    """Write outputs under out_dir in one go (see Staging)."""
    staging = Staging(out_dir)
    try:
        staging.put(outputs)
        return staging.commit(clean, kept or set())
    except BaseException:
        staging.discard()
        raise


class Staging:
    """Rendered files wait in a hidden folder inside the site until the build succeeded.

    A build hands each issue's files over as soon as they are rendered, so memory
    holds one issue at a time, not the whole site. commit() then moves each file
    into place with a rename (atomic: a reader never sees half a file), leaves
    files whose bytes did not change untouched, and removes files a previous build
    wrote (the manifest) that this build does not; with clean, every other file
    too. A failed build calls discard(): the site is as it was.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.folder = out_dir / STAGING
        shutil.rmtree(self.folder, ignore_errors=True)  # left by a killed build
        self.folder.mkdir(parents=True)
        self.sizes: dict[str, int] = {}
        self._origin: dict[str, str] = {}

    def put(self, outputs: Outputs) -> None:
        self.record(stage(self.out_dir, outputs))

    def record(self, staged: Staged) -> None:
        """Take files that stage() wrote (in this process or a worker) into the build."""
        for path, size in staged.sizes.items():
            if path in self.sizes:
                raise collision(path, staged.origins[path], self._origin[path])
            self.sizes[path] = size
            self._origin[path] = staged.origins[path]

    def commit(self, clean: bool, kept: set[str]) -> WriteReport:
        manifest = self.out_dir / MANIFEST
        marked = is_marked(self.out_dir)
        if not self.sizes and not clean and _holds(manifest, _listing(kept, marked)):
            # Nothing rendered, and the manifest lists exactly the files kept: nothing
            # to move, remove or write (a no-op build: 15,000 lines not parsed twice).
            self.discard()
            return WriteReport(0, len(kept), 0)
        current = set(self.sizes) | kept
        listing = _listing(current, marked)
        if _holds(manifest, listing):
            # It lists exactly these files (an edit): nothing to parse, none to remove.
            previous = set(current)
        else:
            previous = _listed(manifest)
            # Before any move, the manifest lists the old files and the new: if this process
            # dies among the moves, the next build still knows every file it may have to
            # remove.
            _write_manifest(manifest, previous | current, marked)
            listing = b""
        written = unchanged = 0
        # A folder the site lacks (a new issue's, every folder of a first build) moves
        # in whole: one rename for all its files. Folders known to exist are remembered.
        moved: set[str] = set()
        present: set[str] = set()
        for done, (path, size) in enumerate(sorted(self.sizes.items())):
            if done == len(self.sizes) // 2:
                pause_point("moving")
            folders = _folders(path)
            if moved.intersection(folders):
                written += 1
                continue
            if new := next((f for f in folders if f not in present and self._lacks(f)), None):
                replace(self.folder / new, self.out_dir / new)
                moved.add(new)
                written += 1
                continue
            present.update(folders)
            staged, target = self.folder / path, self.out_dir / path
            if _same_file(target, staged, size):
                unchanged += 1
                continue
            replace(staged, target)
            written += 1
        self.discard()
        if clean:
            previous |= set(_unlisted_files(self.out_dir))
        stale = sorted(previous - current)
        for path in stale:
            _remove(self.out_dir, path)
        if not listing or stale:  # else the manifest lists current already
            _write_manifest(manifest, current, marked)
        return WriteReport(written, unchanged + len(kept), len(stale))

    def _lacks(self, folder: str) -> bool:
        return not os.path.lexists(self.out_dir / folder)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class Staged:
    """What stage() wrote: each site path's size and the source it came from."""

    sizes: dict[str, int]
    origins: dict[str, str]


def stage(out_dir: Path, outputs: Outputs) -> Staged:
    """Write outputs into out_dir's staging folder, from any process: the pool's
    workers write each issue's files themselves, so the build's own process only
    records them (Staging.record), and files are written on every core."""
    folder = out_dir / STAGING
    made: set[Path] = set()
    for path, data in outputs.files.items():
        target = folder / path
        try:
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(data)
        except OSError as exc:  # a full disk names the site file, not the staged copy
            raise located(exc, out_dir / path) from exc
    sizes = {path: len(data) for path, data in outputs.files.items()}
    return Staged(sizes, {path: outputs.origin(path) for path in sizes})


def _folders(path: str) -> list[str]:
    """The folders a site path is in, outermost first: 'a/b/c.html' → ['a', 'a/b']."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _same_file(target: Path, staged: Path, size: int) -> bool:
    try:
        if target.stat().st_size != size:
            return False
    except FileNotFoundError:
        return False
    return target.read_bytes() == staged.read_bytes()


def _listed(manifest: Path) -> set[str]:
    """The site paths a manifest lists: only plain relative paths inside the folder
    (the manifest is a file in the site; a crafted one must not aim a removal outside)."""
    if not manifest.is_file():
        return set()
    return {p for p in manifest.read_text("utf-8").split("\n") if _plain(p)}


def _plain(path: str) -> bool:
    # Normal form by splitting: no empty part (a leading, doubled or trailing /), no
    # '.' or '..'. Run on every manifest line of every build: plain string work.
    parts = path.split("/")
    return path != MARKER and parts[0] not in OWN and not _NOT_PLAIN.intersection(parts)


_NOT_PLAIN = frozenset({"", ".", ".."})


def _write_manifest(manifest: Path, paths: set[str], marked: bool) -> None:
    listing = _listing(paths, marked)
    if not _holds(manifest, listing):
        atomic_write(manifest, listing)


def _listing(paths: set[str], marked: bool) -> bytes:
    return ("\n".join([MARKER] * marked + sorted(paths)) + "\n").encode()


def _holds(manifest: Path, listing: bytes) -> bool:
    """Whether the manifest is a file with exactly these bytes."""
    return manifest.is_file() and manifest.read_bytes() == listing


def _unlisted_files(root: Path) -> list[str]:
    """Every file under root for --clean, except briefing's own and hidden ones (.git,
    .well-known, .htaccess: briefing never writes a hidden file, so they are someone's)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        base = Path(folder).relative_to(root)
        found += [(base / f).as_posix() for f in files if not f.startswith(".")]
    return found


def _remove(root: Path, path: str) -> None:
    """Remove a stale file, then the folders it leaves empty up to root, and no others."""
    target = root / path
    if not target.parent.resolve().is_relative_to(root.resolve()):
        return  # a folder in the path is a link out of the site
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    folder = target.parent
    while folder != root:
        try:
            folder.rmdir()  # fails, as wanted, when the folder is not empty
        except OSError:
            return
        folder = folder.parent
