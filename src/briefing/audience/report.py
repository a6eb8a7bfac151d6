"""What `briefing audience stats` shows: counts by status and source, and growth."""

from __future__ import annotations

from dataclasses import dataclass

from briefing.audience.store import ACTIVE, STATUSES, SUPPRESSING, Store


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM
    joined: int  # became active
    left: int  # unsubscribed, bounced or complained


@dataclass(frozen=True)
class Stats:
    by_status: dict[str, int]
    by_source: dict[str, dict[str, int]]  # status → how it was reached → count
    months: list[Month]
    erased: int


def stats(store: Store, months: int = 12) -> Stats:
    by_status = dict.fromkeys(STATUSES, 0) | store.counts()
    by_source: dict[str, dict[str, int]] = {}
    for status, source, n in store.query(
        "SELECT status, source, COUNT(*) FROM subscribers GROUP BY status, source"
    ):
        by_source.setdefault(str(status), {})[str(source)] = int(str(n))
    marks = ",".join("?" * len(SUPPRESSING))
    rows = store.query(
        f"SELECT substr(at, 1, 7) AS m, SUM(status = ?), SUM(status IN ({marks}))"
        " FROM events GROUP BY m ORDER BY m DESC LIMIT ?",
        ACTIVE,
        *SUPPRESSING,
        months,
    )
    history = [Month(str(m), int(str(j)), int(str(left))) for m, j, left in reversed(rows)]
    erased = int(str(store.query("SELECT COUNT(*) FROM erased")[0][0]))
    return Stats(by_status, by_source, history, erased)
