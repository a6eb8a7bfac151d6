"""Issue 10: status that tells the story (every issue; a typo is not 'never sent'),
replies classified by their enhanced status code (RFC 3463), and retries that say who
waits and for how long."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from briefing.build import build
from briefing.cli import cli
from briefing.send.replies import classify, reason
from briefing.send.states import DeliveryState

from smtp_server import SmtpServer

SECRET = "status-secret-0123456789"
SLUG = "trump-xi-call"


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET)
    build(example, jobs=1)
    return example


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def _smtp_args(server: SmtpServer) -> list[str]:
    port = str(server.port)
    return ["--transport", "smtp", "--smtp-host", "127.0.0.1", "--smtp-port", port]


def _people(root: Path, *addresses: str) -> None:
    (root / "subscribers.csv").write_text("email\n" + "".join(f"{a}\n" for a in addresses))


def test_status_without_a_slug_lists_every_issue(project: Path) -> None:
    _people(project, "ann@example.com", "bounce@example.com")
    with SmtpServer() as server:
        sent = _run(project, "send", SLUG, *_smtp_args(server), "--smtp-security", "none")
    assert sent.exit_code == 2, sent.output  # one bounced
    result = _run(project, "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3  # the example's three issues
    (line,) = [x for x in lines if x.startswith(f"{SLUG}:")]
    assert "built, sent to 1 of 2 (last 20" in line
    assert "via smtp://127.0.0.1:" in line and "failed 1, deferred 0, unknown 0" in line
    others = [x for x in lines if not x.startswith(f"{SLUG}:")]
    assert all(x.endswith(": built, never sent") for x in others)


def test_an_unknown_slug_is_no_such_issue_with_a_did_you_mean(project: Path) -> None:
    result = _run(project, "status", "trump-xi-cal")
    assert result.exit_code == 1
    assert "no such issue 'trump-xi-cal'; did you mean 'trump-xi-call'?" in result.output
    assert _run(project, "status", SLUG).output.strip() == f"{SLUG}: never sent"


@pytest.mark.parametrize(
    ("code", "reply", "state", "kind"),
    [
        (552, "5.2.2 Mailbox full", DeliveryState.DEFERRED, "mailbox full"),
        (450, "4.2.1 Mailbox busy", DeliveryState.DEFERRED, "mailbox problem"),
        (550, "5.1.1 No such user", DeliveryState.FAILED, "bad address (no such user or domain)"),
        (554, "5.7.1 Refused by policy", DeliveryState.FAILED, "refused by policy or security"),
        (550, "Go away", DeliveryState.FAILED, ""),
        (451, "Try later", DeliveryState.DEFERRED, ""),
    ],
)
def test_replies_are_classified_by_their_enhanced_status_code(
    code: int, reply: str, state: DeliveryState, kind: str
) -> None:
    assert classify(code, reply) == state
    assert reason(reply) == kind


def test_a_full_mailbox_is_retried_and_the_wait_is_shown(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _people(project, "full1@example.com", "reject@example.com")
    toml = project / "briefing.toml"
    toml.write_text(toml.read_text() + "\n[send]\nmax_attempts = 2\n")
    with SmtpServer() as server, caplog.at_level(logging.WARNING, "briefing"):
        result = _run(project, "send", SLUG, *_smtp_args(server), "--smtp-security", "none")
        delivered = [r for m in server.recorder.messages for r in m.rcpt_tos]
    assert delivered == ["full1@example.com"]  # 552 5.2.2 was tried again, not failed
    waits = [r.getMessage() for r in caplog.records if "try 2 of 2 in" in r.getMessage()]
    assert waits and waits[0].startswith("full1@example.com: 552 5.2.2 Mailbox full; try 2 of 2")
    assert result.exit_code == 2
    status = _run(project, "status", SLUG).output
    assert "reject@example.com 554 5.7.1 Message refused [refused by policy or security]" in status


def test_after_a_relay_failure_the_hint_is_the_full_command(project: Path) -> None:
    people = project / "people.csv"
    people.write_text("email\n" + "".join(f"user{n}@example.com\n" for n in range(25)))
    with SmtpServer() as server:  # a relay refusing everyone: the send stops
        server.recorder.refuse_all = "550 5.1.1 Recipient unknown"
        args = [*_smtp_args(server), "--smtp-security", "none"]
        result = _run(project, "send", SLUG, *args, "--subscribers", str(people))
    assert result.exit_code == 1
    hint = result.output.split("once fixed, resume with: ")[1].strip()
    assert (
        hint == f"briefing --project {project} send {SLUG} {' '.join(args)} --subscribers {people}"
    )


def test_nothing_sent_yet_is_one_error_line(project: Path) -> None:
    with SmtpServer() as server:
        port = server.port  # nothing listens on it once the server is gone
    args = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-security", "none"]
    result = _run(project, "send", SLUG, "--transport", "smtp", *args)
    assert result.exit_code == 1
    assert result.output.count("error:") == 1 and "resume" not in result.output


def test_a_dry_run_says_the_send_would_go_another_way(project: Path) -> None:
    _people(project, "ann@example.com", "tempfail1@example.com")
    toml = project / "briefing.toml"
    toml.write_text(toml.read_text() + "\n[send]\nmax_attempts = 1\n")
    with SmtpServer() as server:
        first = _run(project, "send", SLUG, *_smtp_args(server), "--smtp-security", "none")
    assert first.exit_code == 2, first.output  # one deferred
    dry = _run(project, "send", SLUG, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert ".briefing/ledger.db:1: route: it went via smtp://127.0.0.1:" in dry.output
    assert "the send would be refused (--change-route) [refused]" in dry.output
    assert "Plan: 1 to send" in dry.output
