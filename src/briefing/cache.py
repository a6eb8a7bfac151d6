"""The build cache: what a rebuild may skip because none of its inputs changed.

Inputs are recognised by file signatures (name, size, modification time), so a
rebuild reads no unchanged source. Three layers:

- the environment: briefing.toml, the theme, briefing's own code and the output
  folder. Any change there drops the whole cache;
- each issue folder: its signature maps to the Issue loaded from it, so loading
  an unchanged issue costs a dictionary lookup (reuse() is the loader's callback);
- each set of outputs (one issue's files; the shared index, tag pages, feeds and
  stylesheet): a digest of everything they are rendered from, with the size of
  every file written. If the digest matches and the files are still there, the
  outputs are not rendered again.

A cache that cannot be read is ignored (a full build), never an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from briefing.atomic import atomic_write
from briefing.model import Issue

log = logging.getLogger("briefing")

CACHE_FILE = Path(".briefing") / "build-cache.pickle"
_FORMAT = 3
Signature = tuple[tuple[str, int, int], ...]


def signature(folder: Path, recursive: bool = False) -> Signature:
    """(relative name, size, mtime_ns) of every file in folder: cheap, and changes with any edit."""
    found: list[tuple[str, int, int]] = []
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
                stat = entry.stat()
                found.append((name, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def file_signature(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (path.name, stat.st_size, stat.st_mtime_ns)


def digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@dataclass
class OutputSet:
    key: str
    sizes: dict[str, int]  # site-relative path → bytes written


@dataclass
class BuildCache:
    environment: str = ""
    changed: bool = False  # whether save() has anything new to write
    issues: dict[str, tuple[Signature, Issue]] = field(default_factory=dict)
    outputs: dict[str, OutputSet] = field(default_factory=dict)
    seen: dict[str, Signature] = field(default_factory=dict)  # signatures reuse() took
    entries: dict[str, tuple[Signature, str]] = field(default_factory=dict)  # feed entries

    @classmethod
    def load(cls, root: Path, environment: str) -> BuildCache:
        path = root / CACHE_FILE
        try:
            with path.open("rb") as handle:
                version, cache = pickle.load(handle)
        except FileNotFoundError:
            return cls(environment)
        except Exception as exc:  # a damaged or foreign cache: start afresh
            log.debug("ignoring the build cache %s: %s", path, exc)
            return cls(environment)
        if version != _FORMAT or not isinstance(cache, cls) or cache.environment != environment:
            return cls(environment)
        return cache

    def save(self, root: Path) -> None:
        if self.changed or not (root / CACHE_FILE).exists():
            self.changed = False
            atomic_write(root / CACHE_FILE, pickle.dumps((_FORMAT, self), protocol=5))

    def reuse(self, folder: Path) -> Issue | None:
        """The Issue an earlier build loaded from folder, if none of its files changed."""
        stamp = self.seen[folder.name] = signature(folder)
        hit = self.issues.get(folder.name)
        return hit[1] if hit and hit[0] == stamp else None

    def record(self, issues: Iterable[Issue]) -> None:
        """Remember the issues a load returned, under the signatures reuse() took."""
        loaded = {i.folder.name: (self.seen[i.folder.name], i) for i in issues}
        if {k: v[0] for k, v in loaded.items()} != {k: v[0] for k, v in self.issues.items()}:
            self.changed = True
        self.issues, self.seen = loaded, {}
        # Entries of issues that are gone or changed go (the feeds hold a few newest).
        self.entries = {
            k: v for k, v in self.entries.items() if k in loaded and v[0] == loaded[k][0]
        }

    def feed_entry(self, issue: Issue, make: Callable[[], str]) -> str:
        """An issue's feed entry content, rendered again only when its folder changed."""
        stamp = self.stamp(issue)
        cached = self.entries.get(issue.folder.name)
        if cached is None or cached[0] != stamp:
            cached = self.entries[issue.folder.name] = (stamp, make())
            self.changed = True
        return cached[1]

    def stamp(self, issue: Issue) -> Signature:
        """The signature of the folder issue was loaded from (after record())."""
        return self.issues[issue.folder.name][0]

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

    def remember(self, name: str, key: str, files: Iterable[tuple[str, bytes]]) -> None:
        self.outputs[name] = OutputSet(key, {path: len(data) for path, data in files})
        self.changed = True
