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
  outputs are not rendered again. The last build's site key (the issues its site
  showed) lets a build that changes nothing skip even working out those digests.

Two files, both JSON (data, never code: a crafted file can at worst be refused):
`.briefing/build-cache.json` holds the metadata a rebuild reads every time (the
signatures, each issue's fields but its note and articles, the output digests);
`.briefing/build-issues.json` holds the note and articles of each issue, most of
the bytes, appended when an issue is loaded and read back only for an issue a
build renders. Each stored piece is checked against its hash; one that does not
match (a damaged or foreign store) is loaded from its folder again. A cache that
cannot be read is ignored (a full build, with a debug line), never an error.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from stat import S_ISREG
from typing import Any

from briefing.atomic import atomic_write
from briefing.datacodec import DecodeError, Decoder, decoder, from_data, to_data
from briefing.model import Article, Issue, Markdown

log = logging.getLogger("briefing")

CACHE_FILE = Path(".briefing") / "build-cache.json"
STORE_FILE = Path(".briefing") / "build-issues.json"
_FORMAT = 6
RACY_NS = 2_000_000_000  # a file changed this recently is hashed too
# (name, size, mtime_ns, ctime_ns, inode, content hash or "")
Stamp = tuple[str, int, int, int, int, str]
Signature = tuple[Stamp, ...]
# Where an issue's note and articles are in the store: offset, length, hash.
Ref = tuple[int, int, str]


def signature(folder: Path, recursive: bool = False, hash_recent: bool = True) -> Signature:
    """A stamp of every file in folder (by relative name): cheap, and changes with any edit.
    Without hash_recent (the theme and briefing's code), stamps hold no content hash."""
    found: list[Stamp] = []
    racy = time.time_ns() - RACY_NS if hash_recent else 1 << 62
    if not recursive:  # an issue folder, thousands of times a build: the short way
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    continue
                stat = entry.stat()
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
    listings: dict[str, str] = field(default_factory=dict)  # digest of what listings show
    site: str = ""  # the last build's site key (BuildCache.site_key)

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
            cache = cls(environment, _exactly(str, stored["as_of"]), **_decode(root, stored))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # A damaged or foreign cache (DecodeError is a ValueError): start afresh.
            log.debug("ignoring the build cache %s: %s", path, exc)
            return cls(environment)
        return cache

    def save(self, root: Path) -> None:
        self._settle()
        if self.changed or not (root / CACHE_FILE).exists():
            self.changed = False
            refs = _store(root, [issue for _, _, issue in self.issues.values()])
            stored = {
                "format": _FORMAT,
                "environment": self.environment,
                "as_of": self.as_of,
                "site": self.site,
                # Stamps and entries are tuples of text and numbers: JSON as they are.
                "issues": {
                    name: [stamp, token, _head(issue), refs[name], self.listings.get(name, "")]
                    for name, (stamp, token, issue) in self.issues.items()
                },
                "outputs": {name: [o.key, o.sizes] for name, o in self.outputs.items()},
                "entries": self.entries,
            }
            # A tree of fresh dicts, lists and tuples: no cycle to guard against (-20%).
            data = json.dumps(stored, separators=(",", ":"), check_circular=False)
            atomic_write(root / CACHE_FILE, data.encode())

    def _settle(self) -> None:
        """Drop the content hashes the stamps no longer need: a file read while recent
        (a copy made just before a first build: every file) is hashed again now, if its
        times are out of the racy window since. Same content, same stamp: no later edit
        can share its times, so the stamp alone tells, and the next build reads nothing."""
        racy = time.time_ns() - RACY_NS
        for name, (stamp, token, issue) in self.issues.items():
            if not any(s[5] for s in stamp):
                continue
            settled = tuple(_settled(s, issue.folder, racy) for s in stamp)
            if settled != stamp:
                self.issues[name] = (settled, token, issue)
                self.changed = True

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
        if not (hit and _same(hit[0], stamp, folder)):
            return None
        if isinstance(hit[2], StoredIssue):  # the loader's path: no need to decode one
            vars(hit[2]).setdefault("folder", folder)
        return hit[2]

    def record(self, issues: Iterable[Issue]) -> None:
        """Remember the issues a load returned, under the signatures reuse() took. A
        reused issue keeps its token, so the outputs keyed by it stay fresh when only
        its stamps were renewed (a recent file's hash checked once, then dropped)."""
        loaded = {}
        kept: set[str] = set()  # issues reused, under the token they had
        same = True  # every issue as before, under the same stamp and token
        for issue in issues:
            name = issue.folder.name
            stamp, hit = self.seen[name], self.issues.get(name)
            if hit and hit[2] is issue:
                token = hit[1]
                same = same and hit[0] == stamp
                kept.add(name)
            else:
                token, same = digest(stamp), False
            loaded[name] = (stamp, token, issue)
        if not same or len(loaded) != len(self.issues):
            self.changed = True
        self.issues, self.seen = loaded, {}
        # A listing digest holds for the token it was made for: kept for reused issues.
        self.listings = {k: v for k, v in self.listings.items() if k in kept}
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

    def listing(self, issue: Issue, make: Callable[[], str]) -> str:
        """The digest of what listings show of issue, made again only when its folder
        changed (every planned build digests every issue: at 5,000, most of the plan)."""
        name = issue.folder.name
        if not (found := self.listings.get(name)):
            found = self.listings[name] = make()
            self.changed = True
        return found

    def stamp(self, issue: Issue) -> str:
        """The token of the content of the folder issue was loaded from (after record())."""
        return self.issues[issue.folder.name][1]

    def site_key(self, issues: Iterable[Issue], *more: object) -> str:
        """What a site shows: these issues (their content, in this order) and more. Every
        output's key follows from it, so the same site key means the same keys."""
        return digest([self.stamp(i) for i in issues], more)

    def settle(self, site: str, names: list[str]) -> None:
        """After a build: its site key, and the outputs it has, in its order (issues gone
        leave, so that the site key's shortcut finds exactly these)."""
        if list(self.outputs) != names:
            self.outputs = {name: self.outputs[name] for name in names}
            self.changed = True
        if site != self.site:
            self.site = site
            self.changed = True

    def fresh(self, name: str, key: str, out_dir: Path) -> OutputSet | None:
        """The cached outputs named name, if their key matches and every file is in place."""
        cached = self.outputs.get(name)
        if cached is None or cached.key != key:
            return None
        folder = str(out_dir)
        stat = os.stat
        for path, size in cached.sizes.items():
            try:
                if stat(f"{folder}/{path}").st_size != size:
                    return None
            except FileNotFoundError:
                return None
        return cached

    def remember(self, name: str, key: str, sizes: dict[str, int]) -> None:
        """Record the outputs rendered under key: each site path and its size in bytes."""
        self.outputs[name] = OutputSet(key, dict(sizes))
        self.changed = True


# --- issues read from the cache a part at a time ---------------------------------------

# Everything of an Issue but its body is in the metadata; of that, these fields are read
# at once (the loader sorts and checks by them, the cut-off by date and draft), the rest
# on first use (a folder, three dates, tags, audience: the bulk of a no-op's decoding).
_BODY = ("note", "articles")
_HEAD = tuple(f.name for f in fields(Issue) if f.name not in _BODY)
_EAGER = ("slug", "date", "number", "draft")
_LAZY = frozenset(_HEAD) - frozenset(_EAGER)
_HEAD_KEYS = {*_HEAD, "_lead"}  # _lead: the first article's dek, for Issue.summary
_BodyData = tuple[Markdown, tuple[Article, ...]]


class StoredIssue(Issue):
    """An Issue read back from the cache: most fields are decoded on first use and the
    note and articles, most of its bytes, read from the store on first use, so a rebuild
    that renders nothing never reads them. Equal to the Issue it was saved from."""

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set: the body before its first use.
        if name not in _BODY:
            raise AttributeError(name)
        note, articles = _read_body(self)
        object.__setattr__(self, "note", note)
        object.__setattr__(self, "articles", articles)
        return vars(self)[name]

    @property
    def summary(self) -> str:
        if "articles" in vars(self):
            return super().summary
        return self.preheader or str(vars(self)["_lead"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Issue):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(Issue))

    __hash__ = Issue.__hash__


class _Lazy:
    """A field of a StoredIssue decoded on first use (then found in the instance, which
    comes first). A descriptor, not __getattr__: a field with a default is a class
    attribute of Issue, which __getattr__ would never be asked for."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, issue: StoredIssue | None, owner: type | None = None) -> Any:
        if issue is None:
            return self
        _read_fields(issue)
        return vars(issue)[self.name]


for _name in _LAZY:
    setattr(StoredIssue, _name, _Lazy(_name))


def _made(values: dict[str, Any], head: dict[str, Any], ref: Ref, store: str) -> StoredIssue:
    """values: the fields read at once from head, the data as stored (saved again as it is)."""
    issue = object.__new__(StoredIssue)
    issue.__dict__.update(values, _lead=head["_lead"], _head=head, _ref=ref, _store=store)
    return issue


def _read_fields(issue: StoredIssue) -> None:
    """The fields not read at once; from the folder if the stored ones do not decode
    (the metadata was checked for shape, not for every field's type)."""
    state = vars(issue)
    head = state["_head"]
    try:
        found = {name: read(head[name]) for name, read in _lazy_readers() if name not in state}
    except DecodeError as exc:
        folder = Path(str(head["folder"]))
        log.debug("reloading %s: a stored field is unreadable: %s", folder.name, exc)
        from briefing.sources.issues import reload_issue

        fresh = reload_issue(folder)
        found = {name: getattr(fresh, name) for name in _LAZY if name not in state}
    state.update(found)


@functools.cache
def _lazy_readers() -> tuple[tuple[str, Decoder], ...]:
    """The decoder of each field read on first use, looked up once per process."""
    return tuple((name, decoder(_HINTS[name])) for name in sorted(_LAZY))


def _read_body(issue: StoredIssue) -> _BodyData:
    """The note and articles from the store; from the folder if the store does not have
    them as saved (damaged, or rewritten by a build that died before its metadata)."""
    offset, length, expected = vars(issue)["_ref"]
    try:
        with open(vars(issue)["_store"], "rb") as handle:
            handle.seek(offset)
            blob = handle.read(length)
        if _blob_hash(blob) == expected:
            body: _BodyData = from_data(_BodyData, json.loads(blob))
            return body
    except (OSError, ValueError, TypeError, RecursionError) as exc:
        log.debug("reloading %s: the stored issue is unreadable: %s", issue.folder.name, exc)
    from briefing.sources.issues import reload_issue

    fresh = reload_issue(issue.folder)
    vars(issue)["_ref"] = None  # stored again by the next save
    return fresh.note, fresh.articles


def _head(issue: Issue) -> dict[str, Any]:
    if "_head" in vars(issue):  # a StoredIssue: its fields as read
        stored: dict[str, Any] = vars(issue)["_head"]
        return stored
    head = {name: to_data(getattr(issue, name)) for name in _HEAD}
    head["_lead"] = issue.articles[0].dek if issue.articles else ""
    return head


def _store(root: Path, issues: list[Issue]) -> dict[str, Ref]:
    """Where each issue's body is in the store: appended for the issues loaded from their
    folders; the store rewritten with only the live bodies when it is mostly garbage."""
    path = root / STORE_FILE
    refs: dict[str, Ref] = {}
    new: list[tuple[str, bytes]] = []
    for issue in issues:
        ref = issue.__dict__.get("_ref") if isinstance(issue, StoredIssue) else None
        if ref is not None and issue.__dict__["_store"] == str(path):
            refs[issue.folder.name] = ref
        else:
            body = to_data((issue.note, issue.articles))
            new.append((issue.folder.name, json.dumps(body, separators=(",", ":")).encode()))
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    live = sum(ref[1] for ref in refs.values()) + sum(len(blob) for _, blob in new)
    # Nothing kept (a first or clean build), or mostly bodies replaced since: start again.
    if not refs or size > 2 * live + _COMPACT_SLACK:
        old = path.read_bytes() if refs else b""
        new = [(name, old[o : o + n]) for name, (o, n, _) in refs.items()] + new
        refs, size = {}, 0
        parts = []
        for name, blob in new:
            refs[name] = (size, len(blob), _blob_hash(blob))
            parts.append(blob)
            size += len(blob)
        atomic_write(path, b"".join(parts))
        return refs
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as handle:
            offset = handle.seek(0, os.SEEK_END)
            for name, blob in new:
                refs[name] = (offset, len(blob), _blob_hash(blob))
                offset += len(blob)
            handle.write(b"".join(blob for _, blob in new))
    return refs


_COMPACT_SLACK = 1 << 20  # bytes of garbage always allowed: a small store is not rewritten


def _blob_hash(blob: bytes) -> str:
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


_HINTS = typing.get_type_hints(Issue)


def _decode(root: Path, stored: dict[str, Any]) -> dict[str, Any]:
    """The metadata read back, checked: stamps as tuples (compared field by field by _same,
    which refuses a malformed one), fields by their type, output sizes as numbers."""
    store = str(root / STORE_FILE)
    read = [(key, decoder(_HINTS[key])) for key in _EAGER]
    issues: dict[str, tuple[Signature, str, Issue]] = {}
    listings: dict[str, str] = {}
    for name, (stamps, token, head, ref, listing) in _exactly(dict, stored["issues"]).items():
        if _exactly(dict, head).keys() != _HEAD_KEYS:
            raise DecodeError(f"{name}: the fields stored are not an issue's")
        values = {key: field_of(head[key]) for key, field_of in read}
        ref = (_exactly(int, ref[0]), _exactly(int, ref[1]), _exactly(str, ref[2]))
        _exactly(str, head["_lead"])
        issue = _made(values, head, ref, store)
        issues[_exactly(str, name)] = (tuple(map(tuple, stamps)), _exactly(str, token), issue)
        if _exactly(str, listing):
            listings[name] = listing
    outputs = {}
    for name, (key, sizes) in _exactly(dict, stored["outputs"]).items():
        if not all(type(s) is int for s in _exactly(dict, sizes).values()):
            raise DecodeError(f"output sizes of {name} are not all numbers")
        outputs[name] = OutputSet(_exactly(str, key), sizes)
    entries = from_data(dict[str, tuple[str, str]], stored["entries"])
    return {
        "issues": issues,
        "outputs": outputs,
        "entries": entries,
        "listings": listings,
        "site": _exactly(str, stored["site"]),
    }


def _exactly(kind: type, value: Any) -> Any:
    if type(value) is not kind:
        raise DecodeError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value


def _same(stored: Signature, current: Signature, folder: Path) -> bool:
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
        if old[5] and old[5] != (new[5] or _content_hash(folder / new[0])):
            return False
    return True


def _settled(stamp: Stamp, folder: Path, racy: int) -> Stamp:
    """stamp without its content hash if the file is out of the racy window and still has
    that content and those times (read first, then stat: a change in between shows)."""
    if not stamp[5] or max(stamp[2], stamp[3]) >= racy:
        return stamp
    path = folder / stamp[0]
    try:
        content = _content_hash(path)
        now = path.stat()
    except OSError:
        return stamp
    current = (stamp[0], now.st_size, now.st_mtime_ns, now.st_ctime_ns, now.st_ino)
    return (*current, "") if content == stamp[5] and current == stamp[:5] else stamp


def _content_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
