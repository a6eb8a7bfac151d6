"""The build cache: what a rebuild may skip because none of its inputs changed.

Inputs are recognised by file signatures (name, size, modification and change
times, inode), so a rebuild reads no unchanged source. The change time (ctime)
moves with every write and cannot be set back the way `touch -d` sets back the
modification time; a file changed in the last two seconds, when a second edit
could still share its timestamps, is recognised by a hash of its content as well
(git's "racily clean" rule). Three layers:

- the environment: briefing.toml, the theme, briefing's own code and the output
  folder. Any change there drops the whole cache;
- each issue folder: its signature maps to the Issue loaded from it, so loading
  an unchanged issue costs a dictionary lookup (reuse() is the loader's callback);
- each set of outputs (one issue's files; the shared index, tag pages, feeds and
  stylesheet): a digest of everything they are rendered from, with the size of
  every file written. If the digest matches and the files are still there, the
  outputs are not rendered again.

The cache is JSON (briefing.datacodec), data and never code: a crafted
`.briefing/build-cache.json` can at worst be refused. A cache that cannot be
read is ignored (a full build, with a debug line), never an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any

from briefing.atomic import atomic_write
from briefing.datacodec import from_data, to_data
from briefing.model import Issue

log = logging.getLogger("briefing")

CACHE_FILE = Path(".briefing") / "build-cache.json"
_FORMAT = 4
RACY_NS = 2_000_000_000  # a file changed this recently is hashed too
# (name, size, mtime_ns, ctime_ns, inode, content hash or "")
Stamp = tuple[str, int, int, int, int, str]
Signature = tuple[Stamp, ...]


def signature(folder: Path, recursive: bool = False, hash_recent: bool = True) -> Signature:
    """A stamp of every file in folder (by relative name): cheap, and changes with any edit.
    Without hash_recent (the theme and briefing's code), stamps hold no content hash."""
    found: list[Stamp] = []
    racy = time.time_ns() - RACY_NS if hash_recent else 1 << 62
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


def file_signature(path: Path) -> Stamp:
    return _stamp(path.name, str(path), path.stat(), 1 << 62)


def _stamp(name: str, path: str, stat: os.stat_result, racy: int) -> Stamp:
    content = ""
    # Only a regular file is opened: a FIFO in issues/ would block the build here
    # (the loader refuses it with a message; briefing.project_files).
    if S_ISREG(stat.st_mode) and max(stat.st_mtime_ns, stat.st_ctime_ns) >= racy:
        content = _content_hash(Path(path))
    return (name, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, content)


def digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@dataclass
class OutputSet:
    key: str
    sizes: dict[str, int]  # site-relative path → bytes written


@dataclass
class BuildCache:
    environment: str = ""
    as_of: str = ""  # the build's cut-off (ISO 8601; '' for none), for the record
    changed: bool = False  # whether save() has anything new to write
    # folder name → its files' signature, a token for its content, the Issue loaded from it
    issues: dict[str, tuple[Signature, str, Issue]] = field(default_factory=dict)
    outputs: dict[str, OutputSet] = field(default_factory=dict)
    seen: dict[str, Signature] = field(default_factory=dict)  # signatures reuse() took
    entries: dict[str, tuple[str, str]] = field(default_factory=dict)  # token, feed entry

    @classmethod
    def load(cls, root: Path, environment: str) -> BuildCache:
        path = root / CACHE_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(environment)
        except OSError as exc:
            log.debug("ignoring the build cache %s: %s", path, exc)
            return cls(environment)
        try:
            stored = json.loads(raw)
            if stored.get("format") != _FORMAT or stored.get("environment") != environment:
                return cls(environment)
            cache = cls(environment, str(stored.get("as_of", "")), **_decode(stored))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # A damaged or foreign cache (DecodeError is a ValueError): start afresh.
            log.debug("ignoring the build cache %s: %s", path, exc)
            return cls(environment)
        return cache

    def save(self, root: Path) -> None:
        if self.changed or not (root / CACHE_FILE).exists():
            self.changed = False
            stored = {"format": _FORMAT, "environment": self.environment, "as_of": self.as_of}
            stored |= {name: to_data(getattr(self, name)) for name in _STORED}
            atomic_write(root / CACHE_FILE, json.dumps(stored, separators=(",", ":")).encode())

    def cut_off(self, as_of: str) -> None:
        """Record the build's cut-off (issues dated after it are not in the site)."""
        # Recorded, not a reason to save: with the clock as cut-off it differs every
        # build, and a no-op build must not rewrite the cache.
        self.as_of = as_of

    def forget_on_disk(self, root: Path) -> None:
        """Remove the saved cache (save() writes it again)."""
        (root / CACHE_FILE).unlink(missing_ok=True)
        self.changed = True

    def reuse(self, folder: Path) -> Issue | None:
        """The Issue an earlier build loaded from folder, if none of its files changed."""
        stamp = self.seen[folder.name] = signature(folder)
        hit = self.issues.get(folder.name)
        return hit[2] if hit and _same(hit[0], stamp, folder) else None

    def record(self, issues: Iterable[Issue]) -> None:
        """Remember the issues a load returned, under the signatures reuse() took. A
        reused issue keeps its token, so the outputs keyed by it stay fresh when only
        its stamps were renewed (a recent file's hash checked once, then dropped)."""
        loaded = {}
        for issue in issues:
            name, stamp = issue.folder.name, self.seen[issue.folder.name]
            hit = self.issues.get(name)
            token = hit[1] if hit and hit[2] is issue else digest(stamp)
            loaded[name] = (stamp, token, issue)
        if {k: v[:2] for k, v in loaded.items()} != {k: v[:2] for k, v in self.issues.items()}:
            self.changed = True
        self.issues, self.seen = loaded, {}
        # Entries of issues that are gone or changed go (the feeds hold a few newest).
        self.entries = {
            k: v for k, v in self.entries.items() if k in loaded and v[0] == loaded[k][1]
        }

    def feed_entry(self, issue: Issue, make: Callable[[], str]) -> str:
        """An issue's feed entry content, rendered again only when its folder changed."""
        stamp = self.stamp(issue)
        cached = self.entries.get(issue.folder.name)
        if cached is None or cached[0] != stamp:
            cached = self.entries[issue.folder.name] = (stamp, make())
            self.changed = True
        return cached[1]

    def stamp(self, issue: Issue) -> str:
        """The token of the content of the folder issue was loaded from (after record())."""
        return self.issues[issue.folder.name][1]

    def fresh(self, name: str, key: str, out_dir: Path) -> OutputSet | None:
        """The cached outputs named name, if their key matches and every file is in place."""
        cached = self.outputs.get(name)
        if cached is None or cached.key != key:
            return None
        for path, size in cached.sizes.items():
            try:
                if (out_dir / path).stat().st_size != size:
                    return None
            except FileNotFoundError:
                return None
        return cached

    def remember(self, name: str, key: str, sizes: dict[str, int]) -> None:
        """Record the outputs rendered under key: each site path and its size in bytes."""
        self.outputs[name] = OutputSet(key, dict(sizes))
        self.changed = True


_STORED = ("issues", "outputs", "entries")


def _decode(stored: dict[str, Any]) -> dict[str, Any]:
    hints = {
        "issues": dict[str, tuple[Signature, str, Issue]],
        "outputs": dict[str, OutputSet],
        "entries": dict[str, tuple[str, str]],
    }
    return {name: from_data(hints[name], stored[name]) for name in _STORED}


def _same(stored: Signature, current: Signature, folder: Path) -> bool:
    """Whether a folder's files are as stored. A file recorded with a content hash (it
    had just changed then) must still have that content, checked now if need be."""
    if len(stored) != len(current):
        return False
    for old, new in zip(stored, current, strict=True):
        if old[:5] != new[:5]:
            return False
        if old[5] and old[5] != (new[5] or _content_hash(folder / new[0])):
            return False
    return True


def _content_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
