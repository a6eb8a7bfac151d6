"""The inbox service without the CLI: the soft-bounce window on an injected clock,
and how a report is dated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from briefing.audience.store import Store
from briefing.inbox.apply import Policy
from briefing.inbox.classify import Context
from briefing.inbox.service import Options, message_time, run_inbox
from briefing.inbox.sources import MaildirSource
from briefing.inbox.state import InboxState
from inbox_mail import render, write_maildir

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
RCPT = "reader@example.org"


def undated(name: str, issue: str, serial: int) -> bytes:
    """A report without a Date field: the run's clock dates it."""
    raw = render(name, RCPT, issue, serial)
    return b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"Date: "))


def test_soft_bounces_count_within_the_window(tmp_path: Path) -> None:
    store = Store(tmp_path / "audience.db")
    store.change(RCPT, "active", "import")
    state = InboxState(store)
    policy = Options(policy=Policy(soft_limit=3, soft_days=30))
    days = [0, 10, 35, 38]  # by day 35 the first has left the window; day 38 makes three
    seen = []
    for n, day in enumerate(days):
        folder = tmp_path / f"box{n}"
        write_maildir(folder, [undated("postfix-mailbox-full", f"issue-{n}", n)])
        report = run_inbox(
            MaildirSource(folder, 1 << 20),
            state,
            Context(),
            policy,
            clock=lambda day=day: START + timedelta(days=day),
        )
        seen.append([outcome for item in report.handled for _, _, outcome in item.outcomes])
        assert store.get(RCPT).status == ("bounced" if day == 38 else "active")  # type: ignore[union-attr]
    assert seen[:3] == [
        ["soft bounce 1 of 3 in 30 days"],
        ["soft bounce 2 of 3 in 30 days"],
        ["soft bounce 2 of 3 in 30 days"],
    ]
    assert seen[3] == ["bounced after 3 soft bounces"]
    assert store.history(RCPT)[-1].detail.startswith("3 soft bounces in 30 days, last 5.2.2")
    store.close()


def test_message_time() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    dated = b"Date: Tue, 31 Dec 2029 10:00:00 +0100\nSubject: x\n\nbody"
    assert message_time(dated, now) == datetime(2029, 12, 31, 9, 0, tzinfo=UTC)
    assert message_time(b"Subject: x\n\nbody", now) == now  # no Date
    assert message_time(b"Date: yesterday-ish\n\n", now) == now  # unreadable
    assert message_time(b"Date: Wed, 01 Jan 2031 00:00:00 +0000\n\n", now) == now  # future
