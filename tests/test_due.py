"""Scheduled sends: `send --due` on an injected clock (--at), across runs, after a missed
slot, from two processes at once, and after a SIGKILL; `schedule` says where each stands.

Sends go to the outbox; each recipient's file is counted, so a double send shows.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from briefing.cli import cli
from pausing import reached

from smtp_server import SmtpServer

SECRET = "due-tests-unsubscribe-secret"
BRIEFING = [sys.executable, "-m", "briefing"]
FIRST, SECOND = "trump-xi-call", "tariff-timeline"
SLOTS = {FIRST: "2025-06-03T08:00:00-04:00", SECOND: "2025-06-10T08:00:00-04:00"}


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.setenv("CI", "1")
    for slug, at in SLOTS.items():
        index = next((example / "issues").glob(f"*-{slug}/issue.md"))
        index.write_text(index.read_text().replace("---\n", f"---\nsend_at: {at}\n", 1))
    result = _run(example, "build", "--jobs", "1", "--as-of", "2025-06-30")
    assert result.exit_code == 0, result.output
    return example


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def _due(root: Path, at: str, *extra: str) -> Result:
    return _run(root, "send", "--due", "--at", at, "--yes", *extra)


def _sent(root: Path, slug: str) -> list[str]:
    return sorted(p.name for p in (root / "outbox" / slug).glob("*.eml"))


def _subscribers(root: Path) -> int:
    return len((root / "subscribers.csv").read_text().strip().splitlines()) - 1


def test_due_runs_on_an_injected_clock(project: Path) -> None:
    early = _due(project, "2025-06-03T11:59:00+00:00")
    assert early.exit_code == 0 and "Nothing due" in early.output
    assert not (project / "outbox").exists() or not _sent(project, FIRST)

    on_time = _due(project, "2025-06-03T12:00:30+00:00")
    assert on_time.exit_code == 0, on_time.output
    assert f"{FIRST}: sent {_subscribers(project)}" in on_time.output
    assert "late" not in on_time.output
    every_minute = [_due(project, f"2025-06-03T12:0{m}:00+00:00") for m in range(1, 4)]
    assert all("Nothing due" in r.output for r in every_minute)
    assert len(_sent(project, FIRST)) == _subscribers(project)
    assert not _sent(project, SECOND)

    listed = _run(project, "schedule", "--at", "2025-06-05T00:00:00+00:00").output
    assert f"{FIRST}" in listed and "done (sent 2025-06-03T12:00:30+00:00" in listed
    assert "waiting: due in 5 d 12 h 0 min" in listed


def test_a_missed_slot_is_sent_late_once_and_a_stale_one_not_at_all(project: Path) -> None:
    # The machine was off from before the first slot until 3 h after the second.
    late = _due(project, "2025-06-10T15:00:00+00:00", "--max-late", "6h")
    assert late.exit_code == 0, late.output
    assert f"{SECOND}: sent {_subscribers(project)}, 3 h 0 min late" in late.output
    assert FIRST not in late.output  # 7 days late: over --max-late, not sent by itself
    assert not _sent(project, FIRST)
    assert "Nothing due" in _due(project, "2025-06-10T15:01:00+00:00", "--max-late", "6h").output
    listed = _run(project, "schedule", "--at", "2025-06-10T15:02:00+00:00", "--max-late", "6h")
    missed = "missed by 7 d 3 h 2 min (over --max-late): send it by hand"
    assert f"{missed}, `briefing send {FIRST}`" in listed.output
    # A longer bound lets the next run take it, once, and say how late.
    later = _due(project, "2025-06-10T15:05:00+00:00", "--max-late", "8d")
    assert f"{FIRST}: sent {_subscribers(project)}, 7 d 3 h 5 min late" in later.output
    assert len(_sent(project, FIRST)) == len(_sent(project, SECOND)) == _subscribers(project)


def test_a_draft_or_unbuilt_issue_is_not_sent_and_stays_due(project: Path) -> None:
    index = next((project / "issues").glob(f"*-{FIRST}/issue.md"))
    index.write_text(index.read_text().replace("---\n", "---\ndraft: true\n", 1))
    result = _due(project, "2025-06-03T12:01:00+00:00")
    assert result.exit_code == 0 and "Nothing due" in result.output
    index.write_text(index.read_text().replace("draft: true\n", ""))
    (project / "site" / "issues" / FIRST / "email.html").unlink()
    listed = _run(project, "schedule", "--at", "2025-06-03T12:02:00+00:00").output
    assert "not built in site/ yet: run `briefing build`" in listed
    unbuilt = _due(project, "2025-06-03T12:02:00+00:00")
    assert unbuilt.exit_code == 1 and f"{FIRST}: not sent:" in unbuilt.output
    assert _run(project, "build", "--as-of", "2025-06-30").exit_code == 0
    after = _due(project, "2025-06-03T12:03:00+00:00")
    assert f"{FIRST}: sent {_subscribers(project)}" in after.output  # late by 3 min: not "late"


# -- separate processes ---------------------------------------------------------------


def _start(root: Path, at: str, **env: str) -> subprocess.Popen[str]:
    args = ["--project", str(root), "send", "--due", "--at", at, "--yes"]
    return subprocess.Popen(
        [*BRIEFING, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def test_two_concurrent_due_runs_send_once(project: Path, pause: Path) -> None:
    at = "2025-06-03T12:00:30+00:00"
    first = _start(project, at, BRIEFING_PAUSE_AT=f"due-locked:{pause}")
    reached(pause)  # the first holds the due lock and waits
    second = _start(project, at)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "Another `briefing send --due` is running; nothing to do here." in out
    assert not _sent(project, FIRST)
    with open(pause / "go", "w") as go:
        go.write("go\n")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert f"{FIRST}: sent {_subscribers(project)}" in out
    assert len(_sent(project, FIRST)) == _subscribers(project)


def test_a_run_killed_mid_send_is_resumed_by_the_next(project: Path, pause: Path) -> None:
    at = "2025-06-03T12:00:30+00:00"
    doomed = _start(project, at, BRIEFING_PAUSE_AT=f"send-locked:{pause}")
    pid = reached(pause)  # inside the send: issue lock held, the issue marked started
    os.kill(pid, signal.SIGKILL)
    doomed.communicate(timeout=60)
    assert doomed.returncode == -signal.SIGKILL
    listed = _run(project, "schedule", "--at", "2025-06-03T12:01:00+00:00").output
    assert "started 2025-06-03T12:00:30+00:00, not complete" in listed
    resumed = _due(project, "2025-06-03T12:01:00+00:00")
    assert resumed.exit_code == 0, resumed.output
    assert f"{FIRST}: sent {_subscribers(project)} (resumed a run that had stopped)" in (
        resumed.output
    )
    assert len(_sent(project, FIRST)) == _subscribers(project)
    assert "Nothing due" in _due(project, "2025-06-03T12:02:00+00:00").output


@pytest.mark.parametrize("args", [["schedule"], ["audience", "tag"], ["send"]])
def test_help_has_an_example(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
    assert "briefing " + " ".join(args) in result.output


def test_send_needs_a_slug_or_due(project: Path) -> None:
    neither = _run(project, "send")
    assert (
        neither.exit_code == 2 and "give the SLUG of the issue to send, or --due" in neither.output
    )
    both = _run(project, "send", FIRST, "--due")
    assert both.exit_code == 2 and "--due sends every issue that is due: give no SLUG" in (
        both.output
    )


def test_a_run_killed_mid_delivery_over_smtp(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while the third message is in flight: the next run sends the rest, leaves
    the one of unknown fate alone (SMTP may have it) and says the issue is not complete;
    --resend-unknown finishes it. Nobody gets the issue twice."""
    monkeypatch.delenv("BRIEFING_SMTP_USER", raising=False)
    monkeypatch.delenv("BRIEFING_SMTP_PASSWORD", raising=False)
    at = "2025-06-03T12:00:30+00:00"
    with SmtpServer() as server:
        smtp = ["--transport", "smtp", "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port)]
        smtp += ["--smtp-security", "none"]
        arrived = threading.Event()
        original, calls = server.recorder.handle_DATA, 0

        async def held(*args: Any) -> str:
            nonlocal calls
            calls += 1
            if calls == 3:  # the third message never gets its reply
                arrived.set()
                await asyncio.sleep(120)
            return await original(*args)

        server.recorder.handle_DATA = held  # type: ignore[method-assign,assignment]
        args = ["--project", str(project), "send", "--due", "--at", at, "--yes", *smtp]
        doomed = subprocess.Popen([*BRIEFING, *args], stdout=subprocess.PIPE, text=True)
        assert arrived.wait(60), "the third message never reached DATA"
        doomed.send_signal(signal.SIGKILL)
        doomed.communicate(timeout=60)
        server.recorder.handle_DATA = original  # type: ignore[method-assign]
        assert len(server.recorder.messages) == 2

        resumed = _due(project, "2025-06-03T12:01:00+00:00", *smtp)
        assert resumed.exit_code == 2, resumed.output
        assert (
            "resumed a run that had stopped" in resumed.output and "not complete" in resumed.output
        )
        assert len(server.recorder.messages) == _subscribers(project) - 1
        finished = _due(project, "2025-06-03T12:02:00+00:00", *smtp, "--resend-unknown")
        assert finished.exit_code == 0, finished.output
        assert "Nothing due" in _due(project, "2025-06-03T12:03:00+00:00", *smtp).output
        received = Counter(to for m in server.recorder.messages for to in m.rcpt_tos)
    assert len(received) == _subscribers(project) and set(received.values()) == {1}


def test_another_machines_claim_is_respected_until_it_lapses(project: Path) -> None:
    """Two machines sharing the project's .briefing/ on a file system whose flocks they
    cannot see: the claim in the ledger's database keeps the second away."""
    import sqlite3

    from briefing.config import load_config
    from briefing.send.due import DueBook

    config = load_config(project)
    DueBook(config).close()  # the table
    with sqlite3.connect(project / config.send.ledger) as db:
        db.execute(
            "INSERT INTO due_runs (slug, send_at, started, late, holder, held_until)"
            " VALUES (?, ?, ?, 0, 'other-machine:4242', '2025-06-03T12:10:30+00:00')",
            (FIRST, "2025-06-03T08:00:00-04:00", "2025-06-03T12:00:30+00:00"),
        )
    held = _due(project, "2025-06-03T12:05:00+00:00")
    assert held.exit_code == 0, held.output
    assert f"{FIRST}: left alone: another run is sending it, other-machine:4242" in held.output
    assert not _sent(project, FIRST)
    lapsed = _due(project, "2025-06-03T12:11:00+00:00")  # silent past its lease
    assert f"{FIRST}: sent {_subscribers(project)} (resumed a run that had stopped)" in (
        lapsed.output
    )
    assert len(_sent(project, FIRST)) == _subscribers(project)
