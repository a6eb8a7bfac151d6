"""The dispatcher's policy on a fake clock: retries, backoff, throttling, --resend-unknown.

The transport is a script of replies per recipient; the clock only moves when the
dispatcher sleeps, so every delay is checked exactly. The ledger is the real one.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from briefing.errors import SendError
from briefing.send.audience import Subscriber
from briefing.send.credentials import Credentials
from briefing.send.dispatch import Dispatcher, Options, Tally
from briefing.send.ledger import Ledger
from briefing.send.message import MessageTemplate, Sender
from briefing.send.pacing import Backoff
from briefing.send.plan import plan_send, wanted
from briefing.send.states import DeliveryState
from briefing.send.transports import Handover, Result

SLUG = "issue-1"
OK = Result(DeliveryState.SENT, 250, "2.0.0 OK")
TEMPFAIL = Result(DeliveryState.DEFERRED, 451, "4.3.0 Try again later")
THROTTLE = Result(DeliveryState.DEFERRED, 421, "4.7.0 Slow down", throttle=True)
BOUNCE = Result(DeliveryState.FAILED, 550, "5.1.1 No such user")
LOST = Result(DeliveryState.UNKNOWN, None, "connection lost")


class FakeClock:
    """Monotonic time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeTransport:
    """Answers each recipient from a script (then OK), noting when each try happened."""

    idempotent = False

    def __init__(self, script: dict[str, list[Result]], clock: FakeClock) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.clock = clock
        self.tries: list[tuple[float, str]] = []
        self.closed = False

    def deliver(self, sender: str, recipient: str, message: bytes, handover: Handover) -> Result:
        assert message.startswith(b"To: ")
        self.tries.append((self.clock(), recipient))
        replies = self.script.get(recipient, [])
        result = replies.pop(0) if replies else OK
        if result.state in (DeliveryState.SENT, DeliveryState.UNKNOWN):
            handover()  # the message went out
        return result

    def close(self) -> None:
        self.closed = True

    def times(self, recipient: str | None = None) -> list[float]:
        return [t for t, r in self.tries if recipient in (None, r)]


def _template() -> MessageTemplate:
    sender = Sender(
        "News <news@example.com>",
        "",
        "News <news.example.com>",
        "https://example.com/u/{token}",
        "",
        "example.com",
    )
    return MessageTemplate(SLUG, "Hello", "<p>Hi</p>", "Hi", sender, b"0123456789abcdef")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.db")


def _send(
    ledger: Ledger,
    script: dict[str, list[Result]],
    recipients: list[str],
    options: Options,
    random: Callable[[], float] = lambda: 0.5,  # jitter factor 1.0: delays exactly nominal
    stop: threading.Event | None = None,
) -> tuple[Tally, FakeTransport, FakeClock]:
    clock = FakeClock()
    transport = FakeTransport(script, clock)
    subscribers = [Subscriber(r) for r in recipients]
    ledger.enqueue(SLUG, (s.key for s in subscribers))
    dispatcher = Dispatcher(
        SLUG,
        _template(),
        ledger,
        lambda: transport,
        options,
        clock=clock,
        sleep=clock.sleep,
        random=random,
        stop=stop,
    )
    return dispatcher.run(subscribers), transport, clock


def _options(**kw: object) -> Options:
    return Options(**{"backoff": Backoff(first=1.0, ceiling=60.0), **kw})  # type: ignore[arg-type]


# --- retry --------------------------------------------------------------------------------


def test_a_deferred_message_is_retried_until_it_is_sent(ledger: Ledger) -> None:
    tally, transport, _ = _send(
        ledger, {"a@x.example": [TEMPFAIL, TEMPFAIL]}, ["a@x.example"], _options()
    )
    assert len(transport.tries) == 3
    assert tally.sent == 1 and tally.deferred == 0
    assert ledger.states(SLUG) == {"a@x.example": DeliveryState.SENT}


def test_a_deferral_that_outlasts_the_tries_stays_deferred_for_the_next_run(ledger: Ledger) -> None:
    script = {"a@x.example": [TEMPFAIL] * 5}
    tally, transport, clock = _send(ledger, script, ["a@x.example"], _options(max_attempts=3))
    assert len(transport.tries) == 3
    assert len(clock.sleeps) == 2, "no backoff after the last try"
    assert tally.deferred == 1
    assert ledger.states(SLUG) == {"a@x.example": DeliveryState.DEFERRED}
    assert ledger.problems(SLUG)[0].code == 451


@pytest.mark.parametrize(("reply", "state"), [(BOUNCE, "failed"), (LOST, "unknown")])
def test_failed_and_unknown_are_never_retried_within_a_run(
    ledger: Ledger, reply: Result, state: str
) -> None:
    tally, transport, clock = _send(ledger, {"a@x.example": [reply]}, ["a@x.example"], _options())
    assert len(transport.tries) == 1 and clock.sleeps == []
    assert ledger.states(SLUG)["a@x.example"] == state
    assert tally.counts[DeliveryState(state)] == 1
    assert tally.bounced == (["a@x.example"] if reply is BOUNCE else [])


# --- backoff ------------------------------------------------------------------------------


def test_backoff_doubles_between_tries_up_to_the_ceiling(ledger: Ledger) -> None:
    script = {"a@x.example": [TEMPFAIL] * 5}
    options = _options(max_attempts=6, backoff=Backoff(first=1.0, ceiling=5.0))
    _, transport, clock = _send(ledger, script, ["a@x.example"], options)
    assert clock.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    times = transport.times()
    assert [b - a for a, b in itertools.pairwise(times)] == clock.sleeps


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.5), (0.999, 1.499)])
def test_backoff_jitter_stays_within_half_and_one_and_a_half(
    ledger: Ledger, draw: float, factor: float
) -> None:
    script = {"a@x.example": [TEMPFAIL] * 3}
    _, _, clock = _send(ledger, script, ["a@x.example"], _options(), random=lambda: draw)
    assert clock.sleeps == pytest.approx([1.0 * factor, 2.0 * factor, 4.0 * factor])


def test_backoff_jitter_spreads_retries_with_real_randomness(ledger: Ledger) -> None:
    import random

    script = {f"r{n}@x.example": [TEMPFAIL, TEMPFAIL] for n in range(20)}
    rng = random.Random(8)
    _, _, clock = _send(ledger, script, sorted(script), _options(), random=rng.random)
    firsts, seconds = clock.sleeps[0::2], clock.sleeps[1::2]
    assert all(0.5 <= d < 1.5 for d in firsts) and all(1.0 <= d < 3.0 for d in seconds)
    assert len(set(firsts)) == len(firsts), "every recipient retried at its own moment"


# --- throttle -----------------------------------------------------------------------------


def _gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


def test_throttling_replies_slow_the_whole_send_and_successes_ease_it_back(
    ledger: Ledger,
) -> None:
    recipients = ["a@x.example", *(f"n{n:02d}@x.example" for n in range(30))]
    no_backoff = _options(rate=10.0, backoff=Backoff(first=0.0))
    _, transport, _ = _send(ledger, {"a@x.example": [THROTTLE, THROTTLE]}, recipients, no_backoff)
    gaps = _gaps(transport.times())
    # 10/s is one message every 0.1 s; two 421s double that twice, to 0.4 s.
    assert gaps[:3] == [0.1, 0.2, 0.4]
    after = gaps[3:]
    assert after[0] == pytest.approx(0.38)  # one success eases by 5%
    assert all(b < a for a, b in itertools.pairwise(after) if a > 0.1)
    assert after[-1] == pytest.approx(0.1), "back at the configured rate"


def test_a_plain_temporary_failure_does_not_slow_the_send(ledger: Ledger) -> None:
    recipients = ["a@x.example", "b@x.example", "c@x.example"]
    no_backoff = _options(rate=10.0, backoff=Backoff(first=0.0))
    _, transport, _ = _send(ledger, {"a@x.example": [TEMPFAIL, TEMPFAIL]}, recipients, no_backoff)
    assert _gaps(transport.times()) == [0.1] * 4


def test_throttling_slows_even_a_send_without_a_rate_limit(ledger: Ledger) -> None:
    recipients = ["a@x.example", "b@x.example", "c@x.example"]
    no_backoff = _options(rate=0.0, backoff=Backoff(first=0.0))
    _, transport, _ = _send(ledger, {"a@x.example": [THROTTLE]}, recipients, no_backoff)
    gaps = _gaps(transport.times())
    assert gaps[0] == 0.0  # the first try had no spacing to wait for
    assert all(g > 0 for g in gaps[1:]), gaps


# --- --resend-unknown ---------------------------------------------------------------------


def _ledger_with_history(ledger: Ledger) -> list[Subscriber]:
    """sent, failed, unknown, deferred, and one left `sending` by a killed run."""
    people = [Subscriber(f"{s}@x.example") for s in ("sent", "failed", "unk", "def", "flight")]
    ledger.enqueue(SLUG, (p.key for p in people))
    marks = {
        "sent@x.example": DeliveryState.SENT,
        "failed@x.example": DeliveryState.FAILED,
        "unk@x.example": DeliveryState.UNKNOWN,
        "def@x.example": DeliveryState.DEFERRED,
        "flight@x.example": DeliveryState.SENDING,
    }
    for address, state in marks.items():
        ledger.mark(SLUG, address, state)
    return [*people, Subscriber("new@x.example")]


def _planned(ledger: Ledger, people: list[Subscriber], resend: bool, idempotent: bool) -> set[str]:
    plan = plan_send(SLUG, people, set(), ledger, idempotent, resend_unknown=resend)
    return {s.email for s in plan.to_send}


def test_unknown_fates_are_left_alone_unless_resend_unknown_is_asked(ledger: Ledger) -> None:
    people = _ledger_with_history(ledger)
    assert _planned(ledger, people, resend=False, idempotent=False) == {
        "def@x.example",
        "new@x.example",
    }
    # The killed run's in-flight row became unknown over SMTP (the server may have it).
    assert ledger.states(SLUG)["flight@x.example"] == DeliveryState.UNKNOWN
    assert _planned(ledger, people, resend=True, idempotent=False) == {
        "unk@x.example",
        "flight@x.example",
        "def@x.example",
        "new@x.example",
    }


def test_in_flight_rows_are_simply_queued_again_when_resending_is_harmless(
    ledger: Ledger,
) -> None:
    people = _ledger_with_history(ledger)
    planned = _planned(ledger, people, resend=False, idempotent=True)
    assert planned == {"flight@x.example", "def@x.example", "new@x.example"}


def test_resend_unknown_delivers_to_the_unknown_recipient_again(ledger: Ledger) -> None:
    people = [Subscriber("unk@x.example")]
    ledger.enqueue(SLUG, ["unk@x.example"])
    ledger.mark(SLUG, "unk@x.example", DeliveryState.UNKNOWN)
    for resend, tries in ((False, 0), (True, 1)):
        plan = plan_send(SLUG, people, set(), ledger, False, resend_unknown=resend)
        _, transport, _ = _send(ledger, {}, [s.email for s in plan.to_send], _options())
        assert len(transport.tries) == tries
    assert ledger.states(SLUG) == {"unk@x.example": DeliveryState.SENT}


def test_wanted_states() -> None:
    assert [s for s in DeliveryState if wanted(s, resend_unknown=False)] == [
        DeliveryState.QUEUED,
        DeliveryState.SENDING,
        DeliveryState.DEFERRED,
    ]
    assert wanted(None, resend_unknown=False)
    assert wanted(DeliveryState.UNKNOWN, resend_unknown=True)
    assert not wanted(DeliveryState.SENT, resend_unknown=True)


# --- stopping, errors, the ledger's strings ----------------------------------------------


def test_a_stop_during_backoff_starts_no_new_try(ledger: Ledger) -> None:
    stop = threading.Event()
    clock = FakeClock()
    transport = FakeTransport({"a@x.example": [TEMPFAIL] * 3}, clock)
    ledger.enqueue(SLUG, ["a@x.example", "b@x.example"])

    def sleep(seconds: float) -> None:
        stop.set()  # Ctrl-C arrives while waiting to retry

    dispatcher = Dispatcher(
        SLUG,
        _template(),
        ledger,
        lambda: transport,
        _options(),
        stop=stop,
        clock=clock,
        sleep=sleep,
    )
    tally = dispatcher.run([Subscriber("a@x.example"), Subscriber("b@x.example")])
    assert [r for _, r in transport.tries] == ["a@x.example"]
    assert tally.deferred == 1
    assert ledger.states(SLUG) == {
        "a@x.example": DeliveryState.DEFERRED,
        "b@x.example": DeliveryState.QUEUED,
    }


def test_a_transport_error_stops_the_send_and_reaches_the_caller(ledger: Ledger) -> None:
    class Broken(FakeTransport):
        def deliver(
            self, sender: str, recipient: str, message: bytes, handover: Handover
        ) -> Result:
            raise SendError("cannot connect to the SMTP server")

    clock = FakeClock()
    transport = Broken({}, clock)
    ledger.enqueue(SLUG, ["a@x.example"])
    dispatcher = Dispatcher(SLUG, _template(), ledger, lambda: transport, _options(), clock=clock)
    with pytest.raises(SendError, match="cannot connect"):
        dispatcher.run([Subscriber("a@x.example")])
    assert transport.closed
    assert ledger.states(SLUG) == {"a@x.example": DeliveryState.QUEUED}


def test_the_ledger_stores_the_same_strings_as_before(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        ledger.enqueue(SLUG, ["a@x.example", "b@x.example"])
        ledger.mark(SLUG, "a@x.example", DeliveryState.SENT, 250, "OK")
    db = sqlite3.connect(path)
    db.execute("UPDATE deliveries SET state='unknown' WHERE recipient='b@x.example'")
    db.commit()
    rows = dict(db.execute("SELECT recipient, state FROM deliveries").fetchall())
    db.close()
    assert rows == {"a@x.example": "sent", "b@x.example": "unknown"}
    with Ledger(path) as ledger:  # a row written as a plain string reads as the enum
        assert ledger.states(SLUG)["b@x.example"] is DeliveryState.UNKNOWN
        assert ledger.counts(SLUG) == {DeliveryState.SENT: 1, DeliveryState.UNKNOWN: 1}


def test_credentials_come_from_the_environment_and_never_show(tmp_path: Path) -> None:
    env = {
        "BRIEFING_SMTP_USER": "ada",
        "BRIEFING_SMTP_PASSWORD": "hunter2-pass",
        "BRIEFING_UNSUBSCRIBE_SECRET": "s3cret-for-tests",
    }
    credentials = Credentials.from_env(env)
    assert credentials.smtp_user == "ada" and credentials.secret() == b"s3cret-for-tests"
    assert "hunter2" not in repr(credentials) and "s3cret" not in repr(credentials)
    with pytest.raises(SendError, match="BRIEFING_UNSUBSCRIBE_SECRET"):
        Credentials.from_env({"BRIEFING_UNSUBSCRIBE_SECRET": "short"}).secret()


def test_the_breaker_trips_exactly_where_counting_its_whole_window_would() -> None:
    """CircuitBreaker counts the window only once enough refusals are in it; it must
    trip on the same result, with the same reply, as counting the window every time."""
    import random
    from collections import Counter, deque

    from briefing.send.dispatch import CircuitBreaker, refusal

    def reference(results: list[Result], window: int, share: float) -> int | None:
        recent: deque[str | None] = deque(maxlen=window)
        for n, result in enumerate(results):
            recent.append(refusal(result))
            if len(recent) < window:
                continue
            (most, count), *_ = Counter(recent).most_common(1)
            if most is not None and count >= share * window:
                return n
        return None

    sent = Result(DeliveryState.SENT, 250, "2.0.0 Ok")
    refusals = [
        Result(DeliveryState.FAILED, 550, "5.1.1 No such user"),
        Result(DeliveryState.FAILED, 554, "5.7.1 Refused"),
        Result(DeliveryState.DEFERRED, 451, "4.3.0 Later"),
    ]
    pick = random.Random(15)
    trips = 0
    for _ in range(400):
        window, share = pick.choice([(1, 1.0), (5, 0.6), (20, 0.8), (20, 0.5), (8, 0.0)])
        bad = pick.random()
        results = [
            pick.choice(refusals) if pick.random() < bad else sent
            for _ in range(pick.randint(0, 60))
        ]
        breaker = CircuitBreaker(window, share)
        tripped = next((n for n, r in enumerate(results) if breaker.see(r)), None)
        assert tripped == reference(results, window, share), (window, share, results)
        trips += tripped is not None
    assert 50 < trips < 350  # both ways were tried
