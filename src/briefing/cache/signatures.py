"""File signatures: a stamp of every file in a folder, cheap to take and changed by
any edit, and whether a stored signature still holds (git's "racily clean" rule: a
file changed within RACY_NS of being stamped is also stamped by a hash of its content).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from stat import S_ISREG

from briefing import cache as settings  # RACY_NS and _content_hash, read at call time

# (name, size, mtime_ns, ctime_ns, inode, content hash or "")
Stamp = tuple[str, int, int, int, int, str]
Signature = tuple[Stamp, ...]
# An issue folder's own mtime_ns, ctime_ns and inode: adding, removing or renaming a
# file in it moves its times (POSIX), so while they hold, its files are the ones stored.
FolderStamp = tuple[int, int, int]


def signature(folder: Path, recursive: bool = False, hash_recent: bool = True) -> Signature:
    """A stamp of every file in folder (by relative name): cheap, and changes with any edit.
    Without hash_recent (the theme and briefing's code), stamps hold no content hash."""
    found: list[Stamp] = []
    racy = time.time_ns() - settings.RACY_NS if hash_recent else 1 << 62
    if not recursive:  # an issue folder, thousands of times a build: the short way
        with os.scandir(folder) as entries:
            for entry in entries:
                if _is_folder(entry):
                    continue
                try:
                    stat = entry.stat()
                except OSError:  # a link loop, or gone: the loader names it and says why
                    found.append((entry.name, -1, 0, 0, 0, ""))
                    continue
                mtime, ctime = stat.st_mtime_ns, stat.st_ctime_ns
                if mtime < racy and ctime < racy:  # _stamp's usual case, inline
                    found.append((entry.name, stat.st_size, mtime, ctime, stat.st_ino, ""))
                else:
                    found.append(_stamp(entry.name, entry.path, stat, racy))
        found.sort()
        return tuple(found)
    stack = [""]
    while stack:
        prefix = stack.pop()
        with os.scandir(os.path.join(folder, prefix)) as entries:
            for entry in entries:
                name = prefix + entry.name
                if entry.is_dir():
                    if recursive and entry.name != "__pycache__":
                        stack.append(name + "/")
                    continue
                found.append(_stamp(name, entry.path, entry.stat(), racy))
    return tuple(sorted(found))


def folder_stamp(folder: str) -> FolderStamp | None:
    """The folder's own stamp, taken before its files are listed (a file added after
    the listing then moves it); None while its times are recent, when a second change
    could still share them: the folder is listed again the next time."""
    stat = os.stat(folder)
    mtime, ctime = stat.st_mtime_ns, stat.st_ctime_ns
    racy = time.time_ns() - settings.RACY_NS
    return (mtime, ctime, stat.st_ino) if mtime < racy and ctime < racy else None


def restamp(folder: str, stored: Signature) -> Signature | None:
    """The stamps of the files stored names, each stat()ed by name, without listing the
    folder (its own stamp said no file came or went: a listing costs more than the stats
    at 5,000 folders). None if one cannot be taken so (gone, not a plain file, a stored
    name that is not a plain one): the caller lists the folder instead."""
    racy = time.time_ns() - settings.RACY_NS
    found: list[Stamp] = []
    stat = os.stat
    for old in stored:
        name = old[0] if len(old) == 6 else None
        if type(name) is not str or "/" in name or "\0" in name or name in ("", ".", ".."):
            return None
        path = f"{folder}/{name}"
        try:
            now = stat(path)
        except OSError:
            return None
        if not S_ISREG(now.st_mode):
            return None
        mtime, ctime = now.st_mtime_ns, now.st_ctime_ns
        if mtime < racy and ctime < racy:
            found.append((name, now.st_size, mtime, ctime, now.st_ino, ""))
        else:
            found.append(_stamp(name, path, now, racy))
    return tuple(found)


def listed_names(folder: str) -> list[str]:
    """The names signature() stamps in an issue folder (every entry but folders), sorted."""
    with os.scandir(folder) as entries:
        return sorted(entry.name for entry in entries if not _is_folder(entry))


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a link loop: not a folder, and the loader says what it is
        return False


def file_signature(path: Path) -> Stamp:
    return _stamp(path.name, str(path), path.stat(), 1 << 62)


def _stamp(name: str, path: str, stat: os.stat_result, racy: int) -> Stamp:
    content = ""
    # Only a regular file is opened: a FIFO in issues/ would block the build here
    # (the loader refuses it with a message; briefing.project_files).
    if S_ISREG(stat.st_mode) and max(stat.st_mtime_ns, stat.st_ctime_ns) >= racy:
        content = settings._content_hash(Path(path))
    return (name, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, content)


def digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def digest_lines(lines: list[str]) -> str:
    """digest() of strings that hold no newline (hex digests), in a tenth of the time:
    a listing of 5,000 issues is one hash of its lines, not the repr of a list."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def matches(stored: Signature, current: Signature, folder: Path | str) -> bool:
    """Whether a folder's files are as stored. A file recorded with a content hash (it
    had just changed then) must still have that content, checked now if need be. A
    malformed stored stamp (a crafted cache) is simply not the same."""
    if stored == current:  # the usual case, compared at C speed
        return True
    if len(stored) != len(current):
        return False
    for old, new in zip(stored, current, strict=True):
        if len(old) != 6 or old[:5] != new[:5]:
            return False
        if old[5] and old[5] != (new[5] or settings._content_hash(Path(folder, new[0]))):
            return False
    return True


def settled_stamp(stamp: Stamp, folder: Path, racy: int) -> Stamp:
    """stamp without its content hash if the file is out of the racy window and still has
    that content and those times (read first, then stat: a change in between shows)."""
    if not stamp[5] or max(stamp[2], stamp[3]) >= racy:
        return stamp
    path = folder / stamp[0]
    try:
        content = settings._content_hash(path)
        now = path.stat()
    except OSError:
        return stamp
    current = (stamp[0], now.st_size, now.st_mtime_ns, now.st_ctime_ns, now.st_ino)
    return (*current, "") if content == stamp[5] and current == stamp[:5] else stamp
