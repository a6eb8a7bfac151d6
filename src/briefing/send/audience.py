"""Subscribers (CSV) and the suppression list, behind the AudienceSource a send reads.

A send refuses to start while any subscriber row is bad: every bad row is
reported as ``subscribers.csv:LINE: message`` so the editor can fix them all at
once, and nobody is silently left out.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

# One definition of what an address is and when two are one (re-exported for the send).
from briefing.audience.address import address_problem as address_problem
from briefing.audience.address import fields_problem
from briefing.audience.address import normalize as normalize
from briefing.audience.address import suppression_key as suppression_key
from briefing.audience.csv_rows import records
from briefing.errors import Problem, SendError, relative
from briefing.output import atomic_write

log = logging.getLogger("briefing")


@dataclass(frozen=True, slots=True)  # slots: a send holds one per subscriber
class Subscriber:
    email: str
    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # every column, for merge fields

    @property
    def key(self) -> str:
        return normalize(self.email)

    @property
    def suppression_key(self) -> str:
        return suppression_key(self.email)


def read_subscribers(path: Path, project: Path) -> SubscriberRows:
    """Every valid subscriber once, in file order; SendError listing every bad row."""
    global _last_valid
    label = relative(path, project)
    _must_exist(path, label)
    problems: list[Problem] = []
    seen: set[str] = set()  # suppression keys, for this pass only
    repeated: dict[int, str] = {}  # lines of later spellings of one person
    with _opened(path, label) as (data, text):
        last = _last_valid
        if last is not None and last.data == data:  # the very bytes checked last time
            _warn_repeated(label, last.repeated)
            return last.rows
        reader = csv.reader(text, strict=True)
        header = _header(reader, label)
        for line, row in records(reader):
            if isinstance(row, str):
                problems.append(Problem(label, row, line=line))
                continue
            subscriber = _subscriber(header, row)
            if isinstance(subscriber, str):
                problems.append(Problem(label, subscriber, line=line))
            elif subscriber.suppression_key in seen:  # Ada@x and ada@x: one person
                repeated[line] = subscriber.email
                _warn_repeated(label, {line: subscriber.email})
            else:
                seen.add(subscriber.suppression_key)
    if problems:
        raise SendError([*problems, Problem(label, "fix these rows; nothing was sent")])
    rows = SubscriberRows(data, header, frozenset(repeated), len(seen))
    _last_valid = _Valid(data, repeated, rows)
    return rows


def _warn_repeated(label: str, repeated: dict[int, str]) -> None:
    for line, email in repeated.items():
        log.warning("%s:%d: %s is listed twice; sending once", label, line, email)


@dataclass(frozen=True)
class _Valid:
    """A list's bytes found valid, and what reading them gave."""

    data: bytes
    repeated: dict[int, str]
    rows: SubscriberRows


# The last list found valid. A send reads its list twice (review, then run after the
# confirmation): the same bytes give the same rows and warnings, so the second read
# compares bytes (a millisecond) instead of checking each row again (~0.8 s at 100,000).
# A list changed in any byte is checked in full. One list at a time: the rows keep the
# bytes anyway (~60 bytes a subscriber).
_last_valid: _Valid | None = None


class Passes(Collection[Subscriber]):
    """Subscribers found again on each pass rather than held (the gate, the plan and the
    send each go through them once): subclasses give __iter__ and __len__."""

    def __contains__(self, item: object) -> bool:
        return any(item == subscriber for subscriber in self)


class SubscriberRows(Passes):
    """The subscribers of a CSV file read once (every row valid), in file order.

    Kept as the file's bytes (~60 bytes a subscriber, where a Subscriber with its
    fields took ~450) and parsed again on each pass: the gate, the plan and the send
    each go through the list once, and memory stays nearly flat however long it is.
    The bytes read are the bytes checked, whatever happens to the file meanwhile."""

    def __init__(
        self, data: bytes, header: list[str], repeated: frozenset[int], count: int
    ) -> None:
        self._data, self._header, self._repeated, self._count = data, header, repeated, count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Subscriber]:
        header, repeated = self._header, self._repeated
        with _text(self._data) as text:
            reader = csv.reader(text, strict=True)
            next(reader)
            for line, row in records(reader):
                if line not in repeated and isinstance(row, list):
                    values = {k: v.strip() for k, v in zip(header, row, strict=True)}
                    yield Subscriber(values["email"], values.get("name", ""), values)


def _must_exist(path: Path, label: str) -> None:
    if not path.is_file():
        raise SendError(
            Problem(
                label,
                "subscribers file not found; create it (a CSV with an"
                " 'email' column) or pass --subscribers FILE",
            )
        )


@contextlib.contextmanager
def _opened(path: Path, label: str) -> Iterator[tuple[bytes, TextIO]]:
    """The file's bytes, and its text read from them as it is parsed (a list of 100,000
    decoded whole into a StringIO took 25 MB more than its ~6 MB of UTF-8); a SendError
    naming the file when it cannot be read. Lines as _decoded reads them: a BOM
    dropped, line ends made \\n."""
    try:
        data = path.read_bytes()
        with _text(data) as text:
            yield data, text
    except UnicodeDecodeError:
        raise SendError(Problem(label, "is not UTF-8 text; save it as UTF-8")) from None
    except OSError as exc:
        raise SendError(
            Problem(label, f"cannot be read ({exc.strerror}); nothing was sent")
        ) from None


def _text(data: bytes) -> io.TextIOWrapper:
    """data decoded as it is read, as open(encoding="utf-8-sig") reads a file (BytesIO
    shares the bytes, it does not copy them)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig")


def _decoded(path: Path, label: str) -> str:
    """The file's text (a BOM dropped); a SendError naming the file when it cannot be."""
    with _opened(path, label) as (_, text):
        return text.read()


def _header(reader: Iterator[list[str]], label: str) -> list[str]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise SendError(Problem(label, "is empty; the first row must name the columns")) from None
    except csv.Error as exc:
        raise SendError(Problem(label, f"bad CSV: {exc}", line=1)) from None
    if "email" not in header:
        raise SendError(Problem(label, "the header row has no 'email' column", line=1))
    if len(set(header)) != len(header) or "" in header:
        raise SendError(Problem(label, "column names must be unique and not empty", line=1))
    return header


def _subscriber(header: list[str], row: list[str]) -> Subscriber | str:
    """The subscriber a row describes, or what is wrong with the row."""
    if len(row) != len(header):
        return f"has {len(row)} fields, the header has {len(header)}; add the missing column"
    values = {k: v.strip() for k, v in zip(header, row, strict=True)}
    # Control characters could inject or break headers; refuse rather than clean.
    if reason := fields_problem(values) or address_problem(values["email"]):
        return reason
    return Subscriber(values["email"], values.get("name", ""), values)


SUPPRESSION_HEADER = ["email", "reason"]
REASONS = ("unsubscribed", "bounced", "complained", "manual")


def read_suppressions(path: Path, project: Path | None = None) -> dict[str, str]:
    """Suppression keys → reason, read as strictly as the subscribers: a wrong or missing
    header, a bad row or an unreadable file stops the send with FILE:LINE: message (a
    list that silently suppresses nobody is the worst failure). No file: nobody."""
    if not path.exists():
        return {}
    label = relative(path, project or path.parent)
    reader = csv.reader(io.StringIO(_decoded(path, label), newline=""), strict=True)
    header = _suppression_header(reader, label)
    found: dict[str, str] = {}
    problems: list[Problem] = []
    for line, row in records(reader):
        if isinstance(row, str):
            problems.append(Problem(label, row, line=line))
            continue
        if len(row) != len(header):
            problems.append(
                Problem(label, f"has {len(row)} fields, the header has {len(header)}", line=line)
            )
            continue
        values = {k: v.strip() for k, v in zip(header, row, strict=True)}
        reason = values.get("reason", "")
        if problem := address_problem(values["email"]):
            problems.append(Problem(label, problem, line=line))
        elif reason and reason not in REASONS:
            problems.append(
                Problem(label, f"unknown reason '{reason}'; use {', '.join(REASONS)}", line=line)
            )
        else:
            found[suppression_key(values["email"])] = reason
    if problems:
        raise SendError([*problems, Problem(label, "fix these rows; nothing was sent")])
    return found


def _suppression_header(reader: Iterator[list[str]], label: str) -> list[str]:
    expected = ",".join(SUPPRESSION_HEADER)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise SendError(Problem(label, f"is empty; the first row must be '{expected}'")) from None
    except csv.Error as exc:
        raise SendError(Problem(label, f"bad CSV: {exc}", line=1)) from None
    if any("@" in cell for cell in header):
        raise SendError(
            Problem(label, f"has no header row; add '{expected}' as the first line", line=1)
        )
    if "email" not in header:
        shown = ",".join(header)
        raise SendError(
            Problem(label, f"the header is '{shown}', not '{expected}'; rename the column", line=1)
        )
    if len(set(header)) != len(header) or "" in header:
        raise SendError(Problem(label, "column names must be unique and not empty", line=1))
    return header


def add_suppressions(path: Path, entries: Iterable[tuple[str, str]]) -> list[str]:
    """Add (address, reason) pairs not already suppressed; return the addresses added."""
    existing = read_suppressions(path)
    added = []
    rows = []
    for address, reason in entries:
        key = suppression_key(address)
        if key not in existing:
            existing[key] = reason
            added.append(address)
            rows.append([address, reason])
    if rows:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if not old:
            writer.writerow(SUPPRESSION_HEADER)
        writer.writerows(rows)
        atomic_write(path, (old + out.getvalue()).encode("utf-8"), durable=True)
    return added


class AudienceSource(Protocol):
    """Where a send's recipients come from, and who must never get mail."""

    def subscribers(self) -> Collection[Subscriber]:
        """Every subscriber once, the same on every pass (the gate, the plan and the
        send each go through it); a SendError listing every bad entry."""
        ...

    def suppressed(self) -> Collection[str]:
        """Suppression keys (see suppression_key) of addresses never to mail."""
        ...

    def suppress(self, entries: Iterable[tuple[str, str]]) -> list[str]:
        """Suppress (address, reason) pairs; return the addresses newly suppressed."""
        ...

    def still_wanted(self, subscriber: Subscriber) -> bool:
        """Asked just before each handover: False when the subscriber left mid-send."""
        ...


@dataclass(frozen=True)
class CsvAudience:
    """The subscribers CSV and the suppressions CSV of a publication."""

    path: Path
    suppressions_path: Path
    root: Path  # the project, for file names in messages

    def subscribers(self) -> Collection[Subscriber]:
        return read_subscribers(self.path, self.root)

    def suppressed(self) -> Collection[str]:
        return read_suppressions(self.suppressions_path, self.root).keys()

    def suppress(self, entries: Iterable[tuple[str, str]]) -> list[str]:
        return add_suppressions(self.suppressions_path, entries)

    def still_wanted(self, subscriber: Subscriber) -> bool:
        return True  # the files are read once per send; a one-click unsubscribe is not here
