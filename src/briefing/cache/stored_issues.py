"""Issues read back from the build cache a part at a time, and the store of their bodies.

An issue's fields but its note and articles are in the metadata; a few are read at
once, the rest on first use. The note and articles, most of the bytes, are in the
store (`.briefing/build-issues.json`), appended when an issue is loaded and read back,
checked against their hash, only for an issue a build renders.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import typing
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from briefing import cache as settings  # STORE_FILE and _COMPACT_SLACK, read at call time
from briefing.atomic import atomic_write
from briefing.datacodec import DecodeError, Decoder, decoder, from_data, to_data
from briefing.model import Article, Issue, Markdown

log = logging.getLogger("briefing")

# Where an issue's note and articles are in the store: offset, length, hash.
Ref = tuple[int, int, str]

# Everything of an Issue but its body is in the metadata; of that, these fields are read
# at once (the loader sorts and checks by them, the cut-off by date and draft), the rest
# on first use (a folder, three dates, tags, audience: the bulk of a no-op's decoding).
_BODY = ("note", "articles")
_HEAD = tuple(f.name for f in fields(Issue) if f.name not in _BODY)
EAGER = ("slug", "date", "number", "draft")
_LAZY = frozenset(_HEAD) - frozenset(EAGER)
HEAD_KEYS = {*_HEAD, "_lead"}  # _lead: the first article's dek, for Issue.summary
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
    attribute of Issue, which __getattr__ would never be asked for. Each field alone:
    an edit's plan reads a few fields of every issue (titles, tags, dates), not all."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, issue: StoredIssue | None, owner: type | None = None) -> Any:
        if issue is None:
            return self
        state = vars(issue)
        try:
            value = state[self.name] = _lazy_readers()[self.name](state["_head"][self.name])
        except DecodeError as exc:
            _read_fields(issue, exc)
            value = state[self.name]
        return value


class _Folder(_Lazy):
    """The folder: the path the loader found the issue at (reuse() notes it as text:
    a Path for each of 5,000 issues costs more than the lookups), made a Path on first
    use; the stored one only for an issue not found so."""

    def __get__(self, issue: StoredIssue | None, owner: type | None = None) -> Any:
        if issue is None:
            return self
        state = vars(issue)
        if (path := state.get("_path")) is None:
            return super().__get__(issue, owner)
        folder = state["folder"] = Path(path)
        return folder


for _name in _LAZY:
    setattr(StoredIssue, _name, _Folder(_name) if _name == "folder" else _Lazy(_name))


def stored_issue(values: dict[str, Any], head: dict[str, Any], ref: Ref, store: str) -> StoredIssue:
    """values: the fields read at once from head, the data as stored (saved again as it is)."""
    issue = object.__new__(StoredIssue)
    issue.__dict__.update(values, _lead=head["_lead"], _head=head, _ref=ref, _store=store)
    return issue


def _read_fields(issue: StoredIssue, exc: DecodeError) -> None:
    """The fields not read yet, from the folder: a stored one does not decode (the
    metadata was checked for shape, not for every field's type)."""
    state = vars(issue)
    folder = Path(str(state.get("_path") or state["_head"]["folder"]))
    log.debug("reloading %s: a stored field is unreadable: %s", folder.name, exc)
    from briefing.sources.issues import reload_issue

    fresh = reload_issue(folder)
    state.update({name: getattr(fresh, name) for name in _LAZY if name not in state})


@functools.cache
def _lazy_readers() -> dict[str, Decoder]:
    """The decoder of each field read on first use, looked up once per process."""
    return {name: decoder(HINTS[name]) for name in sorted(_LAZY)}


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


def head_of(issue: Issue) -> dict[str, Any]:
    if "_head" in vars(issue):  # a StoredIssue: its fields as read
        stored: dict[str, Any] = vars(issue)["_head"]
        return stored
    head = {name: to_data(getattr(issue, name)) for name in _HEAD}
    head["_lead"] = issue.articles[0].dek if issue.articles else ""
    return head


def store_bodies(root: Path, issues: Iterable[tuple[str, Issue]]) -> dict[str, Ref]:
    """Where each issue's body is in the store (issues: by their folders' names): appended
    for the issues loaded from their folders; the store rewritten with only the live
    bodies when it is mostly garbage."""
    path = root / settings.STORE_FILE
    refs: dict[str, Ref] = {}
    new: list[tuple[str, bytes]] = []
    store = str(path)
    for name, issue in issues:
        ref = issue.__dict__.get("_ref") if isinstance(issue, StoredIssue) else None
        if ref is not None and issue.__dict__["_store"] == store:
            refs[name] = ref
        else:
            body = to_data((issue.note, issue.articles))
            new.append((name, json.dumps(body, separators=(",", ":")).encode()))
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    live = sum(ref[1] for ref in refs.values()) + sum(len(blob) for _, blob in new)
    # Nothing kept (a first or clean build), or mostly bodies replaced since: start again.
    if not refs or size > 2 * live + settings._COMPACT_SLACK:
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


def _blob_hash(blob: bytes) -> str:
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


HINTS = typing.get_type_hints(Issue)
