"""The send service used as a library: a request in, a summary out, no CLI, no environment."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Iterable
from pathlib import Path

import pytest

from briefing.build import build
from briefing.config import load_config
from briefing.errors import SendError
from briefing.send.audience import Subscriber, suppression_key
from briefing.send.channel import Relay
from briefing.send.credentials import Credentials
from briefing.send.pacing import Backoff
from briefing.send.service import SendRequest, SendService
from briefing.send.states import DeliveryState

from smtp_server import SmtpServer

SLUG = "trump-xi-call"
CREDENTIALS = Credentials(unsubscribe_secret="service-secret-0123456789")
SRC = Path(__file__).resolve().parent.parent / "src" / "briefing"


class MemoryAudience:
    """An audience source that is not a CSV file (as the audience store will be)."""

    def __init__(self, addresses: list[str], suppressed: dict[str, str]) -> None:
        self.people = [Subscriber(a, a.split("@")[0].title()) for a in addresses]
        self.suppressions = dict(suppressed)

    def subscribers(self) -> list[Subscriber]:
        return list(self.people)

    def suppressed(self) -> Collection[str]:
        return self.suppressions.keys()

    def suppress(self, entries: Iterable[tuple[str, str]]) -> list[str]:
        added = [a for a, _ in entries if suppression_key(a) not in self.suppressions]
        self.suppressions.update({suppression_key(a): "bounced" for a in added})
        return added

    def still_wanted(self, subscriber: Subscriber) -> bool:
        return subscriber.suppression_key not in self.suppressions


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The service takes its credentials as given: the environment is not consulted.
    for name in ("BRIEFING_UNSUBSCRIBE_SECRET", "BRIEFING_SMTP_USER", "BRIEFING_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    build(example, jobs=1)
    return example


def _service(project: Path, audience: MemoryAudience) -> SendService:
    return SendService(
        load_config(project),
        CREDENTIALS,
        audience=lambda config, request: audience,
        backoff=Backoff(first=0.01),
    )


def test_a_send_reads_any_audience_source_and_honours_its_suppressions(project: Path) -> None:
    audience = MemoryAudience(
        ["ada@example.com", "bob@example.com", "cy@example.com"], {"bob@example.com": "manual"}
    )
    service = _service(project, audience)
    plan = service.plan(SendRequest(SLUG))
    assert [s.email for s in plan.plan.to_send] == ["ada@example.com", "cy@example.com"]
    assert service.status(SLUG).counts == {}, "planning leaves the ledger alone"
    summary = service.run(SendRequest(SLUG))
    assert summary.complete and summary.tally.sent == 2 and summary.plan.suppressed == 1
    assert len(list((project / "outbox" / SLUG).glob("*.eml"))) == 2
    assert service.status(SLUG).counts == {DeliveryState.SENT: 2}
    again = service.run(SendRequest(SLUG))
    assert again.tally.sent == 0 and again.plan.already_sent == 2


def test_bounces_go_back_to_the_audience_source_as_suppressions(project: Path) -> None:
    audience = MemoryAudience(["bounce@example.com", "ok@example.com"], {})
    service = _service(project, audience)
    with SmtpServer() as server:
        relay = Relay("127.0.0.1", server.port, "none")
        summary = service.run(SendRequest(SLUG, transport="smtp", relay=relay))
        assert [m.rcpt_tos for m in server.recorder.messages] == [["ok@example.com"]]
    assert not summary.complete and summary.tally.failed == 1
    assert audience.suppressions == {"bounce@example.com": "bounced"}
    problems = service.status(SLUG).problems
    assert [(p.recipient, p.state, p.code) for p in problems] == [
        ("bounce@example.com", DeliveryState.FAILED, 550)
    ]


def test_a_subscriber_who_leaves_mid_send_gets_nothing_more(project: Path) -> None:
    audience = MemoryAudience(["ada@example.com", "bob@example.com"], {})

    def progress(done: int, total: int) -> None:
        audience.suppressions["bob@example.com"] = "unsubscribed"  # after Ada's message

    with SmtpServer() as server:
        relay = Relay("127.0.0.1", server.port, "none")
        summary = _service(project, audience).run(
            SendRequest(SLUG, transport="smtp", relay=relay), progress
        )
        assert [m.rcpt_tos for m in server.recorder.messages] == [["ada@example.com"]]
    assert summary.tally.sent == 1 and summary.tally.withheld == 1


def test_test_copies_refuse_a_bad_address_before_sending_any(project: Path) -> None:
    service = _service(project, MemoryAudience([], {}))
    with SmtpServer() as server:
        relay = Relay("127.0.0.1", server.port, "none")
        request = SendRequest(SLUG, transport="smtp", relay=relay, test_to=("me@example.com",))
        where, copies = service.send_test_copies(request)
        assert [(c.address, c.result.state) for c in copies] == [
            ("me@example.com", DeliveryState.SENT)
        ]
        assert where == f"smtp://127.0.0.1:{server.port} (none)"
        bad = dataclasses.replace(request, test_to=("me@example.com", "not an address"))
        with pytest.raises(SendError, match="--to: 'not an address'"):
            service.send_test_copies(bad)
        assert len(server.recorder.messages) == 1
    assert service.status(SLUG).counts == {}


def test_without_a_secret_nothing_is_sent(project: Path) -> None:
    service = SendService(load_config(project), Credentials())
    with pytest.raises(SendError, match="BRIEFING_UNSUBSCRIBE_SECRET"):
        service.run(SendRequest(SLUG))
    assert not (project / "outbox" / SLUG).exists()


def test_requests_are_frozen_and_the_environment_is_read_in_one_place() -> None:
    request = SendRequest(SLUG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.rate = 5  # type: ignore[misc]
    readers = sorted(
        str(path.relative_to(SRC))
        for path in [*(SRC / "send").glob("*.py"), SRC / "cli" / "send.py"]
        if any(word in path.read_text(encoding="utf-8") for word in ("os.environ", "getenv"))
    )
    assert readers == ["send/credentials.py"]


# --- review, then run: what changed in between is seen ------------------------------------


def _list(path: Path, *rows: str) -> Path:
    path.write_text("email,name,city\n" + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def _edit_issue(project: Path, text: str) -> None:
    note = next((project / "issues").glob(f"*-{SLUG}")) / "issue.md"
    note.write_text(note.read_text(encoding="utf-8").replace("\n---\n", f"\n---\n{text}\n\n", 1))


def test_a_list_edited_between_review_and_run_is_read_and_checked_again(project: Path) -> None:
    """The CLI reviews (and asks to confirm), then runs: run() reuses nothing of a list
    whose bytes changed, even a same-sized edit with the old modification time."""
    people = _list(project / "people.csv", "ann@example.com,Ann,Oslo", "bob@example.com,Bob,Rome")
    service = SendService(load_config(project), CREDENTIALS)
    request = SendRequest(SLUG, subscribers=people, yes=True)
    summary, report = service.review(request)
    assert len(summary.plan.to_send) == 2 and not report.blockers
    stat = people.stat()
    _list(people, "ann@example.com,Ann,Oslo", "bob@example.com,B\x07b,Rome")  # a bell
    os.utime(people, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert people.stat().st_size == stat.st_size
    with pytest.raises(SendError, match=r"people.csv:3: the 'name' field contains the control"):
        service.run(request)
    assert service.status(SLUG).counts == {}, "refused before the ledger"

    _list(people, "ann@example.com,Ann,Oslo", "bob@example.com,Bob,Rome")
    assert len(service.review(request)[0].plan.to_send) == 2
    _list(people, "ann@example.com,Ann,Oslo", "bob@example.com,Bob,Rome", "cy@example.com,Cy,")
    summary = service.run(request)
    assert summary.tally.sent == 3 and summary.listed == 3
    assert len(list((project / "outbox" / SLUG).glob("*.eml"))) == 3


def test_the_gate_judges_the_list_run_sends_to(project: Path) -> None:
    """A merge field without a fallback: the list reviewed gives everyone a value, the
    list run finds does not. run() refuses, with nothing sent."""
    _edit_issue(project, "See you in {{ city }}.")
    build(project, jobs=1)
    people = _list(project / "people.csv", "ann@example.com,Ann,Oslo", "bob@example.com,Bob,Rome")
    service = SendService(load_config(project), CREDENTIALS)
    request = SendRequest(SLUG, subscribers=people, yes=True)
    assert not service.review(request)[1].blockers
    _list(people, "ann@example.com,Ann,Oslo", "bob@example.com,Bob,")
    with pytest.raises(SendError, match=r"merge-missing: \{\{ city \}\} has no fallback and 1"):
        service.run(request)
    assert service.status(SLUG).counts == {}
    assert not (project / "outbox" / SLUG).exists() or not any(
        (project / "outbox" / SLUG).glob("*.eml")
    )


def test_a_site_rebuilt_between_review_and_run_is_refused(project: Path) -> None:
    people = _list(project / "people.csv", "ann@example.com,Ann,Oslo")
    service = SendService(load_config(project), CREDENTIALS)
    request = SendRequest(SLUG, subscribers=people, yes=True)
    assert not service.review(request)[1].blockers
    _edit_issue(project, "A late correction.")
    build(project, jobs=1)
    with pytest.raises(SendError, match=r"changed since .* was built"):
        service.run(request)
    assert service.status(SLUG).counts == {}


def test_the_same_bytes_read_again_are_the_rows_checked_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from briefing.send.audience import read_subscribers

    people = _list(tmp_path / "people.csv", "ann@example.com,Ann,Oslo", "ann@EXAMPLE.com,A,")
    first = read_subscribers(people, tmp_path)
    assert read_subscribers(people, tmp_path) is first
    twice = "people.csv:3: ann@EXAMPLE.com is listed twice; sending once"
    assert [r.getMessage() for r in caplog.records] == [twice, twice]  # said on each read
    _list(people, "ann@example.com,Ann,Oslo", "bob@example.com,Bob,")
    second = read_subscribers(people, tmp_path)
    assert second is not first and [s.email for s in second] == [
        "ann@example.com",
        "bob@example.com",
    ]
    assert [s.email for s in first] == ["ann@example.com"]  # the rows keep their bytes
