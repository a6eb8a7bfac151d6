"""The one guarded way briefing reads the files of a project (issues/, templates/, briefing.toml).

Whatever is read from issues/ can end up in site/, so a link there must not reach
the rest of the machine: `ln -s /proc/self/environ chart.png` would publish the
environment with its secrets. The rule: a symbolic link is followed only when it
resolves inside the folder tree it sits in (issues/ for sources, templates/ for the
theme), so it can reach nothing that is not published anyway (not briefing.toml,
subscribers.csv, .env or .git); only regular files are read (a FIFO would hang
the build, a device never ends); each file has a size limit. Everything refused
is a one-line problem naming the file.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from briefing.errors import Problem
from briefing.headers import describe

# A long article is about 100 KB of Markdown: 2 MB is far beyond any real one and
# keeps the Markdown renderer's time and memory bounded.
MAX_TEXT_BYTES = 2 * 1024 * 1024
# An image in an email should weigh kilobytes; 20 MB stops a stray video or disk image.
MAX_ASSET_BYTES = 20 * 1024 * 1024

_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class Refused(Exception):
    """A file briefing will not read; the message completes '<file>: …'."""


def refusal(path: Path, tree: Path) -> str | None:
    """Why path, inside the folder tree, must not be read or listed; None when it may.

    Checks where path really leads (every symbolic link on the way resolved) and
    what it is there, without opening it.
    """
    return _resolve(path, tree)[1]


def _resolve(path: Path, tree: Path) -> tuple[str, str | None]:
    """Where path really leads, and why it must not be read (None when it may)."""
    try:
        real = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        link = path.is_symlink()
        return "", "is a symbolic link to nothing (broken link)" if link else "not found"
    except OSError as exc:  # a loop of links, a permission
        return "", _os_message(exc)
    if not Path(real).is_relative_to(os.path.realpath(tree)):
        how = "is a symbolic link" if path.is_symlink() else "is reached through a symbolic link"
        return real, (
            f"{how} to {real}, outside {tree.name}/; briefing follows links only within"
            f" {tree.name}/: copy the file in instead"
        )
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:
        return real, _os_message(exc)
    return real, None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else _not_a_file(mode)


def refused_in_tree(tree: Path) -> list[tuple[Path, str]]:
    """Every entry under tree that refusal() refuses, with its reason (e.g. templates/)."""
    found = []
    for folder, dirs, files in os.walk(tree):  # does not descend into linked folders
        for name in sorted(dirs + files):
            path = Path(folder, name)
            if message := refusal(path, tree):
                found.append((path, message))
    return found


def read_bytes(path: Path, tree: Path, limit: int) -> bytes:
    """The bytes of a regular file inside tree, at most limit of them; raises Refused."""
    real, message = _resolve(path, tree)
    if message:
        raise Refused(message)
    # O_NOFOLLOW: the resolved path must still not be a link when it is opened;
    # O_NONBLOCK: a FIFO swapped in after the check does not block the open.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise Refused(_os_message(exc)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise Refused("is a folder, not a file" if stat.S_ISDIR(mode) else _not_a_file(mode))
    with open(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise Refused(
            f"is larger than {limit // (1024 * 1024)} MB, the limit for this kind of file;"
            " split it or make it smaller"
        )
    return data


def read_text(
    path: Path, tree: Path, label: str, problems: list[Problem], limit: int = MAX_TEXT_BYTES
) -> str | None:
    """A UTF-8 text file with '\\n' line ends, or None with a problem naming file and line.

    A byte order mark at the start is dropped (Windows editors write one); CRLF and
    lone CR line ends become LF, so lines count the same for YAML, Markdown and us.
    Control characters other than tab and line end are refused: they are invisible,
    invalid in XML feeds, and break email headers.
    """
    try:
        data = read_bytes(path, tree, limit)
    except Refused as exc:
        problems.append(Problem(label, str(exc)))
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data[:start].count(b"\n") + 1
        problems.append(
            Problem(
                label,
                f"is not UTF-8 text (byte 0x{data[start]:02x}); save it as UTF-8",
                line=line,
            )
        )
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if bad := _CONTROL.search(text):
        problems.append(
            Problem(
                label,
                f"contains the control character {describe(bad.group())}; remove it",
                line=text.count("\n", 0, bad.start()) + 1,
            )
        )
        return None
    return text


# C0 controls but tab and line feed (XML 1.0 §2.2 forbids them), and the
# non-characters U+FFFE/U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")


def _not_a_file(mode: int) -> str:
    kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
    return f"is {kind}, not a regular file; briefing reads only regular files"


def _os_message(exc: OSError) -> str:
    reason = (exc.strerror or str(exc)).lower()
    return f"cannot be read: {reason}"
