"""Issue 15: a send goes through its audience in passes instead of holding one object per
subscriber. The streamed plan, gate and segments must pick exactly whom the lists did, in
the same order, and a long file's bad row is still named by its line."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from briefing.errors import SendError
from briefing.segment import parse_where
from briefing.send.audience import CsvAudience, Subscriber, read_subscribers
from briefing.send.dispatch import Dispatcher, Options
from briefing.send.ledger import Ledger
from briefing.send.message import MessageTemplate, Sender
from briefing.send.plan import Plan, plan_send, wanted
from briefing.send.segments import SegmentAudience
from briefing.send.states import DeliveryState
from briefing.send.transports import OutboxTransport

SLUG = "issue"


def _list_file(path: Path, n: int) -> Path:
    """n subscribers with a city (some empty), later case-spellings of a few, a quoted
    field and a blank line (skipped, but counted in the line numbers)."""
    rows = ["email,name,city", 'first@x.example,"Smith, Jo",Oslo', ""]
    for i in range(n):
        rows.append(f"r{i}@x.example,R {i},{'' if i % 7 == 0 else 'Bergen'}")
        if i % 50 == 3:
            rows.append(f"R{i}@X.example,Again {i},Paris")  # one person, spelt again
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _history(ledger: Ledger) -> None:
    """A ledger a killed run left: every state, on addresses spread over the list."""
    marks = {
        "r5@x.example": DeliveryState.SENT,
        "r6@x.example": DeliveryState.FAILED,
        "r8@x.example": DeliveryState.UNKNOWN,
        "r9@x.example": DeliveryState.DEFERRED,
        "r10@x.example": DeliveryState.SENDING,
        "r11@x.example": DeliveryState.QUEUED,
    }
    ledger.enqueue(SLUG, marks)
    for key, state in marks.items():
        ledger.mark(SLUG, key, state)


def _as_before(
    subscribers: list[Subscriber], suppressed: set[str], states: dict[str, DeliveryState]
) -> list[str]:
    """The plan as it was computed on a list: first spelling per person, less the
    suppressed, less what the ledger settled."""
    once: dict[str, Subscriber] = {}
    for s in subscribers:
        once.setdefault(s.suppression_key, s)
    audience = [s for key, s in once.items() if key not in suppressed]
    return [s.email for s in audience if wanted(states.get(s.key), False)]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_streamed_plan_picks_the_recipients_and_order_a_list_did(
    tmp_path: Path, dry_run: bool
) -> None:
    rows = read_subscribers(_list_file(tmp_path / "list.csv", 600), tmp_path)
    held = list(rows)  # what read_subscribers returned before: the objects, in order
    assert len(rows) == len(held) == 601
    assert [s.email for s in rows] == [s.email for s in held]  # every pass the same
    assert "R3@X.example" not in {s.email for s in held}  # the first spelling is kept
    suppressed = {"r2@x.example", "r400@x.example", "r53@x.example"}  # r53 is spelt twice
    plans: list[Plan] = []
    for name, audience in (("rows", rows), ("list", held)):
        ledger = Ledger(tmp_path / f"{name}.db")
        _history(ledger)
        plans.append(plan_send(SLUG, audience, suppressed, ledger, True, False, dry_run))
        states = ledger.states(SLUG)
        ledger.close()
    streamed, listed = plans
    settled = {"r5@x.example": DeliveryState.SENT, "r6@x.example": DeliveryState.FAILED}
    settled["r8@x.example"] = DeliveryState.UNKNOWN
    expected = _as_before(held, suppressed, settled)
    assert [s.email for s in streamed.to_send] == [s.email for s in listed.to_send] == expected
    assert [s.email for s in streamed.to_send] == expected  # and again: nothing used up
    assert len(streamed.to_send) == len(expected) == 601 - 3 - 3
    assert expected[0] == "first@x.example" and "r10@x.example" in expected
    for plan in plans:
        assert (plan.already_sent, plan.failed_before, plan.unknown) == (1, 1, 1)
        assert (plan.suppressed, plan.recovered) == (3, 1)
    if not dry_run:  # every person once in the ledger, by the first spelling's key
        assert len(states) == 601 - 3 and "R3@x.example" not in states
        assert states["r10@x.example"] == DeliveryState.QUEUED  # recovered: resent


def test_a_long_list_with_one_bad_row_names_its_line(tmp_path: Path) -> None:
    path = _list_file(tmp_path / "list.csv", 60000)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[45000].startswith("r")
    lines[45000] = "not-an-address,Bad,Oslo"
    lines[52000] = lines[52000].replace(",R ", ",R\x07")
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(SendError) as refused:
        read_subscribers(path, tmp_path)
    said = str(refused.value)
    assert "list.csv:45001:" in said and "list.csv:52001:" in said
    assert said.count("list.csv:") == 3  # the two rows and "fix these rows"
    assert "fix these rows; nothing was sent" in said


def test_the_rows_sent_are_the_rows_checked_whatever_the_file_becomes(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("email,name\na@x.example,A\nb@x.example,B\n", encoding="utf-8")
    rows = read_subscribers(path, tmp_path)
    path.write_text("email,name\nbad row\n", encoding="utf-8")  # edited mid-send
    assert [(s.email, s.name, s.fields) for s in rows] == [
        ("a@x.example", "A", {"email": "a@x.example", "name": "A"}),
        ("b@x.example", "B", {"email": "b@x.example", "name": "B"}),
    ]
    assert Subscriber("b@x.example", "B", {"email": "b@x.example", "name": "B"}) in rows


def test_a_segment_of_a_file_gives_what_filtering_a_list_gave(tmp_path: Path) -> None:
    path = _list_file(tmp_path / "list.csv", 300)
    source = CsvAudience(path, tmp_path / "none.csv", tmp_path)
    segment = SegmentAudience(source, [parse_where(("city=Bergen",))])
    narrowed = segment.subscribers()
    expected = [s.email for s in read_subscribers(path, tmp_path) if s.fields["city"] == "Bergen"]
    assert [s.email for s in narrowed] == expected and len(narrowed) == len(expected)
    assert [s.email for s in narrowed] == expected  # a second pass
    assert "r7@x.example" not in expected and "r8@x.example" in expected


class Counted(Collection[Subscriber]):
    """Recipients that note how many were drawn from them before the tally caught up."""

    def __init__(self, subscribers: list[Subscriber]) -> None:
        self.subscribers = subscribers
        self.dispatcher: Dispatcher | None = None
        self.most_ahead = 0

    def __len__(self) -> int:
        return len(self.subscribers)

    def __contains__(self, item: object) -> bool:
        return item in self.subscribers

    def __iter__(self) -> Iterator[Subscriber]:
        for drawn, subscriber in enumerate(self.subscribers):
            assert self.dispatcher is not None
            done = sum(self.dispatcher.tally.counts.values())
            self.most_ahead = max(self.most_ahead, drawn - done)
            yield subscriber


def test_the_dispatcher_draws_recipients_as_it_sends(tmp_path: Path) -> None:
    """A list of 1,000 is never held whole: at most one batch is drawn ahead of the tally."""
    sender = Sender("N <n@x.example>", "", "<l.x.example>", "https://x.example/u/{token}", "", "x")
    template = MessageTemplate(SLUG, "Hi", "<p>Hi {{ name | you }}</p>", "Hi", sender, b"s")
    people = [Subscriber(f"p{i}@x.example", f"P {i}") for i in range(1000)]
    recipients = Counted(people)
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.enqueue(SLUG, (p.key for p in people))
    folder = tmp_path / "out"
    folder.mkdir()
    dispatcher = Dispatcher(SLUG, template, ledger, lambda: OutboxTransport(folder), Options())
    recipients.dispatcher = dispatcher
    tally = dispatcher.run(recipients)
    assert tally.sent == 1000 and len(list(folder.glob("*.eml"))) == 1000
    assert set(ledger.states(SLUG).values()) == {DeliveryState.SENT}
    assert 0 < recipients.most_ahead <= OutboxTransport.batch_size
    ledger.close()


def test_the_store_gives_a_send_the_subscribers_its_members_are(tmp_path: Path) -> None:
    from briefing.audience.store import ACTIVE, PENDING, SUPPRESSING, UNSUBSCRIBED, Store
    from briefing.send.store_audience import StoreRows

    store = Store(tmp_path / "audience.db")
    with store.write():
        for i in range(40):
            status = UNSUBSCRIBED if i % 9 == 4 else PENDING if i % 11 == 5 else ACTIVE
            fields = {"city": "Oslo"} if i % 3 else {}
            store.apply(f"p{i}@x.example", status, "import", name=f"P {i}", fields=fields)
    statuses = [ACTIVE, *SUPPRESSING]
    members = store.members(statuses)
    expected = [
        Subscriber(m.email, m.name, {**m.fields, "email": m.email, "name": m.name}) for m in members
    ]
    rows = StoreRows([(e, n, f) for e, n, f, _ in store.member_rows(statuses)])
    assert list(rows) == list(rows) == expected and len(rows) == len(expected)
    assert [m.status for m in members] == [s for *_, s in store.member_rows(statuses)]
    assert "p5@x.example" not in {s.email for s in rows}  # pending: never sent to
    assert {"p4@x.example", "p3@x.example"} <= {s.email for s in rows}
