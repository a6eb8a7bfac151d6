"""CSV in and out of the audience store, and moving a publication's CSV files into it.

An import is idempotent (the same file twice changes nothing) and conservative:
it never makes active again someone who unsubscribed, bounced or complained
unless asked, and never brings back someone erased on request.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from briefing.audience.address import address_problem, fields_problem, normalize
from briefing.audience.csv_rows import records
from briefing.audience.store import (
    ACTIVE,
    BOUNCED,
    COMPLAINED,
    SUPPRESSING,
    UNSUBSCRIBED,
    Consent,
    Member,
    Store,
)
from briefing.errors import BriefingError, Problem

# email, name (None: the file has no name column), merge fields
Row = tuple[str, str | None, dict[str, str]]
# Columns an export writes about the store itself; an import of an export ignores them.
EXPORT_COLUMNS = [
    "email",
    "name",
    "status",
    "source",
    "status_at",
    "created_at",
    "consent_at",
    "consent_source",
    "consent_detail",
]
# A suppression list's reason → (status, source).
REASONS = {
    "unsubscribed": (UNSUBSCRIBED, "suppress"),
    "manual": (UNSUBSCRIBED, "suppress"),
    "bounced": (BOUNCED, "bounce"),
    "complained": (COMPLAINED, "complaint"),
}


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    reactivated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # status → rows left alone
    erased: int = 0
    suppressed: int = 0


def parse_map(pairs: Iterable[str]) -> dict[str, str]:
    """'Email Address=email' pairs → {file column: store column}."""
    mapping = {}
    for pair in pairs:
        column, eq, target = pair.partition("=")
        if not eq or not column.strip() or not target.strip():
            raise BriefingError(f"--map '{pair}': write it as 'Column In File=column'")
        mapping[column.strip()] = target.strip()
    return mapping


def read_csv(
    path: Path,
    label: str,
    mapping: dict[str, str] | None = None,
    outcome: str = "nothing was imported",
) -> list[dict[str, str]]:
    """The rows of a UTF-8 CSV with a header, columns renamed by mapping; every bad row
    is reported as ``FILE:LINE: message`` before anything is imported."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BriefingError(Problem(label, "file not found")) from None
    except UnicodeDecodeError:
        raise BriefingError(Problem(label, "is not UTF-8 text; save it as UTF-8")) from None
    except OSError as exc:  # a folder, no permission: one line, never a traceback
        raise BriefingError(Problem(label, f"cannot be read ({exc.strerror}); {outcome}")) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [(mapping or {}).get(h.strip(), h.strip()) for h in next(reader)]
    except StopIteration:
        raise BriefingError(
            Problem(label, "is empty; the first row must name the columns")
        ) from None
    except csv.Error as exc:
        raise BriefingError(Problem(label, f"bad CSV: {exc}", line=1)) from None
    if "email" not in header:
        hint = " (use --map 'Your Column=email')" if mapping is not None else ""
        raise BriefingError(Problem(label, f"the header row has no 'email' column{hint}", line=1))
    if len(set(header)) != len(header) or "" in header:
        raise BriefingError(Problem(label, "column names must be unique and not empty", line=1))
    rows, problems = [], []
    for line, row in records(reader):
        if isinstance(row, str):
            problems.append(Problem(label, row, line=line))
            continue
        if problem := _row_problem(header, row):
            problems.append(Problem(label, problem, line=line))
            continue
        rows.append({k: v.strip() for k, v in zip(header, row, strict=True)})
    if problems:
        raise BriefingError([*problems, Problem(label, f"fix these rows; {outcome}")])
    return rows


def _row_problem(header: list[str], row: list[str]) -> str | None:
    if len(row) != len(header):
        return f"has {len(row)} fields, the header has {len(header)}"
    values = dict(zip(header, row, strict=True))
    # Control characters could inject or break headers in a message; refuse, never clean.
    return fields_problem(values) or address_problem(values["email"].strip())


def subscriber_rows(rows: list[dict[str, str]]) -> list[Row]:
    """(email, name, merge fields) once per person, first spelling wins."""
    seen: dict[str, Row] = {}
    for values in rows:
        fields = {k: v for k, v in values.items() if k not in EXPORT_COLUMNS}
        seen.setdefault(normalize(values["email"]), (values["email"], values.get("name"), fields))
    return list(seen.values())


def import_rows(store: Store, rows: Iterable[Row], detail: str, reactivate: bool) -> ImportReport:
    """Add or update rows as active, in one transaction (see the module's rules)."""
    report = ImportReport()
    with store.write():
        for email, name, fields in rows:
            member = store.get(email)
            if member is None and store.is_erased(email):
                report.erased += 1
            elif member is None:
                consent = Consent("import", detail)
                store.apply(email, ACTIVE, "import", detail, consent, name or "", fields)
                report.added += 1
            elif member.status in SUPPRESSING and not reactivate:
                report.skipped[member.status] = report.skipped.get(member.status, 0) + 1
            else:
                _update(store, member, name, fields, detail, report)
    return report


def _update(
    store: Store,
    member: Member,
    name: str | None,
    fields: dict[str, str],
    detail: str,
    report: ImportReport,
) -> None:
    """The file's columns win; what the file does not have stays as it was."""
    name = member.name if name is None else name
    fields = member.fields | fields
    if member.status != ACTIVE:
        store.apply(member.email, ACTIVE, "import", detail, Consent("import", detail))
        report.reactivated += member.status in SUPPRESSING
        report.added += member.status not in SUPPRESSING  # pending, now vouched for
    if (member.name, member.fields) != (name, fields):
        store.set_details(member.email, name, fields)
        report.updated += member.status == ACTIVE
    else:
        report.unchanged += member.status == ACTIVE


def import_suppressions(store: Store, rows: list[dict[str, str]], detail: str) -> ImportReport:
    """A suppression list (email, reason): each address unsubscribed, bounced or complained."""
    report = ImportReport()
    with store.write():
        for values in rows:
            status, source = REASONS.get(values.get("reason", "").strip(), REASONS["manual"])
            if store.is_erased(values["email"]):
                report.erased += 1
            elif store.apply(values["email"], status, source, detail):
                report.suppressed += 1
            else:
                report.unchanged += 1
    return report


def export_csv(members: list[Member], out: TextIO) -> int:
    """Members as CSV (the store's columns, then every merge field); re-importable."""
    extra = sorted({k for m in members for k in m.fields} - set(EXPORT_COLUMNS))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*EXPORT_COLUMNS, *extra])
    for m in members:
        fixed = [m.email, m.name, m.status, m.source, m.status_at, m.created_at]
        consent = [m.consent_at or "", m.consent_source or "", m.consent_detail or ""]
        writer.writerow([*fixed, *consent, *(m.fields.get(k, "") for k in extra)])
    return len(members)


MIGRATED = "migrated"


def migrate(store: Store, subscribers: Path, suppressions: Path, root: Path) -> str | None:
    """Once per store: import the publication's subscribers and suppressions CSV files
    (the way briefing kept its audience before the store). Returns what was done."""
    if store.meta(MIGRATED) is not None:
        return None
    done = []
    for path, suppress in ((subscribers, False), (suppressions, True)):
        if not path.is_file():
            continue
        label = _label(path, root)
        rows = read_csv(path, label, outcome="nothing was sent or moved into the store")
        if suppress:
            report = import_suppressions(store, rows, f"migrated from {label}")
            done.append(f"{report.suppressed} suppression(s) from {label}")
        else:
            report = import_rows(store, subscriber_rows(rows), f"migrated from {label}", False)
            done.append(f"{report.added} subscriber(s) from {label}")
    store.set_meta(MIGRATED, store.clock().isoformat(timespec="seconds"))
    return "; ".join(done) or None


def _label(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
