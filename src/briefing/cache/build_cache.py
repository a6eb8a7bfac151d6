"""BuildCache: the build cache's metadata (signatures, issues, output digests), read
from `.briefing/build-cache.json` into the declared types and saved only when changed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from briefing import cache as settings  # CACHE_FILE, STORE_FILE, RACY_NS at call time
from briefing.atomic import atomic_write
from briefing.cache.signatures import (
    FolderStamp,
    Signature,
    digest,
    folder_stamp,
    listed_names,
    matches,
    restamp,
    settled_stamp,
    signature,
)
from briefing.cache.stored_issues import (
    EAGER,
    HEAD_KEYS,
    HINTS,
    StoredIssue,
    head_of,
    store_bodies,
    stored_issue,
)
from briefing.datacodec import DecodeError, decoder, from_data
from briefing.model import Issue

log = logging.getLogger("briefing")

_FORMAT = 7
_HASH = itemgetter(5)  # a stamp's content hash
_INT = {int}


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
    # folder name → its own stamp, for the folders whose times were not recent then
    folders: dict[str, FolderStamp] = field(default_factory=dict)
    seen_folders: dict[str, FolderStamp | None] = field(default_factory=dict)  # reuse() took
    entries: dict[str, tuple[str, str]] = field(default_factory=dict)  # token, feed entry
    listings: dict[str, str] = field(default_factory=dict)  # digest of what listings show
    site: str = ""  # the last build's site key (BuildCache.site_key)
    # id of each issue reuse() gave → (the issue, its folder's name); then, after
    # record(), of each issue recorded → (the issue, its folder's name, its token).
    # By the object: an issue's folder name without making its Path (5,000 a build).
    reused: dict[int, tuple[Issue, str]] = field(default_factory=dict)
    recorded: dict[int, tuple[Issue, str, str]] = field(default_factory=dict)
    read: _Read | None = None  # the file load() read, whose unchanged lines save() keeps

    @classmethod
    def load(cls, root: Path, environment: str) -> BuildCache:
        path = root / settings.CACHE_FILE
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
            cache = cls(environment, _exactly(str, stored["as_of"]), **_decode(root, raw, stored))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # A damaged or foreign cache (DecodeError is a ValueError): start afresh.
            log.debug("ignoring the build cache %s: %s", path, exc)
            return cls(environment)
        return cache

    def save(self, root: Path) -> None:
        self._settle()
        if self.changed or not (root / settings.CACHE_FILE).exists():
            self.changed = False
            refs = store_bodies(root, [(n, issue) for n, (_, _, issue) in self.issues.items()])
            issues = {
                name: (
                    stamp,
                    token,
                    head_of(issue),
                    refs[name],
                    self.listings.get(name, ""),
                    self.folders.get(name, ()),
                )
                for name, (stamp, token, issue) in self.issues.items()
            }
            atomic_write(root / settings.CACHE_FILE, self._encoded(issues))
            self.read = None  # its lines are not the file's any more

    def _encoded(self, issues: Mapping[str, tuple[object, ...]]) -> bytes:
        """The metadata as JSON, one issue and one output set a line: a line that did not
        change since load() is kept as read, so an edit encodes a few entries, not 5,000
        (the whole file is read by json.loads all the same: the layout is only whitespace).
        """
        read = self.read
        kept_issues, kept_outputs = read.lines() if read else ({}, {})
        head = {
            "format": _FORMAT,
            "environment": self.environment,
            "as_of": self.as_of,
            "site": self.site,
        }
        # Stamps and entries are tuples of text and numbers: JSON as they are.
        issue_lines = [
            kept
            if (kept := kept_issues.get(name)) and read and read.entries.get(name) == entry
            else _line(name, entry)
            for name, entry in issues.items()
        ]
        output_lines = [
            kept
            if (kept := kept_outputs.get(name)) and read and read.outputs.get(name) is o
            else _line(name, [o.key, o.sizes])
            for name, o in self.outputs.items()
        ]
        return b"".join(
            [
                _dumps(head)[:-1].encode(),
                b',"issues":{\n',
                b",\n".join(issue_lines),
                b'\n},"outputs":{\n',
                b",\n".join(output_lines),
                b'\n},"entries":',
                _dumps(self.entries).encode(),
                b"}",
            ]
        )

    def _settle(self) -> None:
        """Drop the content hashes the stamps no longer need: a file read while recent
        (a copy made just before a first build: every file) is hashed again now, if its
        times are out of the racy window since. Same content, same stamp: no later edit
        can share its times, so the stamp alone tells, and the next build reads nothing."""
        racy = time.time_ns() - settings.RACY_NS
        for name, (stamp, token, issue) in self.issues.items():
            if name not in self.folders:
                self._settle_folder(name, stamp, str(issue.folder))
            if not any(map(_HASH, stamp)):  # the usual case: no content hash to drop
                continue
            settled = tuple(settled_stamp(s, issue.folder, racy) for s in stamp)
            if settled != stamp:
                self.issues[name] = (settled, token, issue)
                self.changed = True

    def _settle_folder(self, name: str, stamp: Signature, folder: str) -> None:
        """Keep the folder's own stamp if its times are out of the racy window now and
        it holds the files stamped (its stamp first: a file added after shows next time).
        After a first build (a copy made just before: every folder recent), the next
        build stats the files it knows, without listing a folder."""
        try:
            shown = folder_stamp(folder)
            if shown and listed_names(folder) == [s[0] for s in stamp]:
                self.folders[name] = shown
                self.changed = True
        except OSError:  # gone meanwhile: listed again next time
            pass

    def cut_off(self, as_of: str) -> None:
        """Record the build's cut-off (issues dated after it are not in the site)."""
        # Recorded, not a reason to save: with the clock as cut-off it differs every
        # build, and a no-op build must not rewrite the cache.
        self.as_of = as_of

    def forget_on_disk(self, root: Path) -> None:
        """Remove the saved cache (save() writes it again)."""
        (root / settings.CACHE_FILE).unlink(missing_ok=True)
        self.changed = True

    def reuse(self, path: str) -> Issue | None:
        """The Issue an earlier build loaded from the folder at path, if none of its files
        changed. If the folder's own stamp is as stored, its files are stat()ed by the
        names stored; otherwise (or if one changed) it is listed, and the signature
        recorded is of every file in it."""
        name = path.rpartition("/")[2]
        hit = self.issues.get(name)
        shown = self.seen_folders[name] = folder_stamp(path)  # before any listing
        if hit and shown is not None and self.folders.get(name) == shown:
            quick = restamp(path, hit[0])
            if quick is not None and matches(hit[0], quick, path):
                self.seen[name] = quick
                return self._reused(hit[2], name, path)
        folder = Path(path)
        stamp = self.seen[name] = signature(folder)
        if not (hit and matches(hit[0], stamp, folder)):
            return None
        return self._reused(hit[2], name, path)

    def _reused(self, issue: Issue, name: str, path: str) -> Issue:
        if isinstance(issue, StoredIssue):
            # Its folder is where the loader found it (never the stored one), made a
            # Path on first use: a no-op build makes none.
            vars(issue).pop("folder", None)
            vars(issue)["_path"] = path
        self.reused[id(issue)] = (issue, name)
        return issue

    def _name(self, issue: Issue) -> str:
        """The name of the folder issue was found in (by the object, if reuse() gave it)."""
        found = self.reused.get(id(issue))
        return found[1] if found is not None and found[0] is issue else issue.folder.name

    def record(self, issues: Iterable[Issue]) -> None:
        """Remember the issues a load returned, under the signatures reuse() took. A
        reused issue keeps its token, so the outputs keyed by it stay fresh when only
        its stamps were renewed (a recent file's hash checked once, then dropped)."""
        loaded = {}
        kept: set[str] = set()  # issues reused, under the token they had
        same = True  # every issue as before, under the same stamp and token
        reused = self.reused
        for issue in issues:
            found = reused.get(id(issue))  # _name(), inline: 5,000 calls
            name = found[1] if found is not None and found[0] is issue else issue.folder.name
            stamp, hit = self.seen[name], self.issues.get(name)
            if hit and hit[2] is issue:
                token = hit[1]
                same = same and hit[0] == stamp
                kept.add(name)
            else:
                token, same = digest(stamp), False
            loaded[name] = (stamp, token, issue)
        folders = {n: f for n in loaded if (f := self.seen_folders.get(n)) is not None}
        if not same or len(loaded) != len(self.issues) or folders != self.folders:
            self.changed = True
        self.issues, self.seen, self.folders, self.seen_folders = loaded, {}, folders, {}
        self.reused = {}
        self.recorded = {id(i): (i, name, token) for name, (_, token, i) in loaded.items()}
        # A listing digest holds for the token it was made for: kept for reused issues.
        self.listings = {k: v for k, v in self.listings.items() if k in kept}
        # Entries of issues that are gone or changed go (the feeds hold a few newest).
        self.entries = {
            k: v for k, v in self.entries.items() if k in loaded and v[0] == loaded[k][1]
        }

    def feed_entry(self, issue: Issue, make: Callable[[], str]) -> str:
        """An issue's feed entry content, rendered again only when its folder changed."""
        name, stamp = self._recorded(issue)
        cached = self.entries.get(name)
        if cached is None or cached[0] != stamp:
            cached = self.entries[name] = (stamp, make())
            self.changed = True
        return cached[1]

    def listing(self, issue: Issue, make: Callable[[], str]) -> str:
        """The digest of what listings show of issue, made again only when its folder
        changed (every planned build digests every issue: at 5,000, most of the plan)."""
        name = self._recorded(issue)[0]
        if not (found := self.listings.get(name)):
            found = self.listings[name] = make()
            self.changed = True
        return found

    def stamp(self, issue: Issue) -> str:
        """The token of the content of the folder issue was loaded from (after record())."""
        return self._recorded(issue)[1]

    def _recorded(self, issue: Issue) -> tuple[str, str]:
        """A recorded issue's folder name and token, looked up by the object."""
        found = self.recorded.get(id(issue))
        if found is not None and found[0] is issue:
            return found[1], found[2]
        name = issue.folder.name
        return name, self.issues[name][1]

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


def _decode(root: Path, raw: bytes, stored: dict[str, Any]) -> dict[str, Any]:
    """The metadata read back, checked: stamps as tuples (compared field by field by matches(),
    which refuses a malformed one), fields by their type, output sizes as numbers."""
    store = str(root / settings.STORE_FILE)
    read = [(key, decoder(HINTS[key])) for key in EAGER]
    issues: dict[str, tuple[Signature, str, Issue]] = {}
    listings: dict[str, str] = {}
    folders: dict[str, FolderStamp] = {}
    read_back: dict[str, tuple[object, ...]] = {}  # each entry as read, to compare at save
    for name, entry in _exactly(dict, stored["issues"]).items():
        stamps, token, head, ref, listing, shown = entry
        if _exactly(dict, head).keys() != HEAD_KEYS:
            raise DecodeError(f"{name}: the fields stored are not an issue's")
        values = {key: field_of(head[key]) for key, field_of in read}
        ref = (_exactly(int, ref[0]), _exactly(int, ref[1]), _exactly(str, ref[2]))
        _exactly(str, head["_lead"])
        issue = stored_issue(values, head, ref, store)
        stamps = tuple(map(tuple, stamps))
        issues[_exactly(str, name)] = (stamps, _exactly(str, token), issue)
        if _exactly(str, listing):
            listings[name] = listing
        if _exactly(list, shown):
            if len(shown) != 3 or {*map(type, shown)} != _INT:
                raise DecodeError(f"{name}: the folder's stamp is not three numbers")
            folders[name] = shown = tuple(shown)
        read_back[name] = (stamps, token, head, ref, listing, tuple(shown))
    outputs = {}
    for name, (key, sizes) in _exactly(dict, stored["outputs"]).items():
        if not {*map(type, _exactly(dict, sizes).values())} <= _INT:  # not bool: exactly int
            raise DecodeError(f"output sizes of {name} are not all numbers")
        outputs[name] = OutputSet(_exactly(str, key), sizes)
    entries = from_data(dict[str, tuple[str, str]], stored["entries"])
    return {
        "issues": issues,
        "outputs": outputs,
        "entries": entries,
        "listings": listings,
        "folders": folders,
        "read": _Read(raw, read_back, dict(outputs)),
        "site": _exactly(str, stored["site"]),
    }


@dataclass
class _Read:
    """The metadata file load() read: its bytes, and each issue's entry and each output
    set as decoded from it."""

    raw: bytes
    entries: dict[str, tuple[object, ...]]
    outputs: dict[str, OutputSet]

    def lines(self) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """Each issue's and each output set's line in the file, if it has the layout
        _encoded() writes (one entry a line, in the order read, each starting with its
        name, the sections where they belong); else none (the file is encoded whole)."""
        lines = self.raw.split(b"\n")
        issues, outputs = list(self.entries), list(self.outputs)
        n, m = len(issues), len(outputs)
        if len(lines) != n + m + 3 or not (n and m):
            return {}, {}
        if not lines[0].endswith(b'"issues":{') or lines[n + 1] != b'},"outputs":{':
            return {}, {}
        found: list[dict[str, bytes]] = []
        for names, part in ((issues, lines[1 : n + 1]), (outputs, lines[n + 2 : n + m + 2])):
            if not all(map(bytes.startswith, part, _keys(names))):  # a loop in C: 10,000 lines
                return {}, {}
            found.append(dict(zip(names, [line.removesuffix(b",") for line in part], strict=True)))
        return found[0], found[1]


def _keys(names: list[str]) -> list[bytes]:
    """Each name as _key() gives it; checked for escapes once for all, not name by name."""
    joined = "".join(names)
    if joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined:
        return [f'"{name}":'.encode() for name in names]
    return [_key(name) for name in names]


def _key(name: str) -> bytes:
    """name as a JSON object key, with its colon."""
    if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name:
        return b'"' + name.encode() + b'":'  # what json.dumps gives, in a tenth of the time
    return json.dumps(name).encode() + b":"


def _line(name: str, value: object) -> bytes:
    return _key(name) + _dumps(value).encode()


def _dumps(value: object) -> str:
    # A tree of fresh dicts, lists and tuples: no cycle to guard against (-20%).
    return json.dumps(value, separators=(",", ":"), check_circular=False)


def _exactly(kind: type, value: Any) -> Any:
    if type(value) is not kind:
        raise DecodeError(f"expected {kind.__name__}, found {type(value).__name__}")
    return value
