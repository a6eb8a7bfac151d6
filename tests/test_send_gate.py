"""Issue 10: sends that must not go out are refused before the first message, with nothing
delivered: the three bad sends of the issue, the gate's confirmation on a terminal, a
strict suppression list, and dry runs and status that change nothing on disk."""

from __future__ import annotations

import gc
import os
import pty
import re
import select
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from briefing.build import build
from briefing.cli import cli
from briefing.config import load_config
from briefing.placeholders import STORY_SKELETON
from briefing.render.theme import eject
from briefing.schema import ARTICLE_FIELDS, front_matter
from briefing.send.ledger import Ledger

from smtp_server import SmtpServer

SECRET = "gate-secret-0123456789"
SLUG = "trump-xi-call"
TITLE = "Trump pushes for a Xi call as the trade truce frays"


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET)
    (example / "subscribers.csv").write_text(
        "email,name\nann@example.com,Ann\nbob@example.com,Bob\n"
    )
    build(example, jobs=1)
    return example


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def _smtp(server: SmtpServer) -> list[str]:
    port = str(server.port)
    return ["--transport", "smtp", "--smtp-host", "127.0.0.1", "--smtp-port", port]


def _smtp_args(server: SmtpServer) -> list[str]:
    return [*_smtp(server), "--smtp-security", "none"]


def _issue(root: Path) -> Path:
    return next((root / "issues").glob(f"*-{SLUG}"))


def _outbox(root: Path) -> list[Path]:
    return sorted((root / "outbox" / SLUG).glob("*.eml"))


def _rows(root: Path) -> dict[str, str]:
    path = root / ".briefing" / "ledger.db"
    if not path.exists():
        return {}
    with Ledger(path) as ledger:
        return {k: v.value for k, v in ledger.states(SLUG).items()}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the three bad sends ------------------------------------------------------------------


def test_a_skeleton_left_beside_the_story_is_refused_over_smtp(project: Path) -> None:
    """`briefing new` wrote 01-story.md; the editor wrote 01-storm.md beside it."""
    story = front_matter(ARTICLE_FIELDS, {}, skeleton=True)
    (_issue(project) / "01-story.md").write_text("\n".join([*story, STORY_SKELETON, ""]))
    build(project, jobs=1)
    with SmtpServer() as server:
        result = _run(project, "send", SLUG, *_smtp_args(server))
        delivered = server.recorder.messages
    assert result.exit_code == 1, result.output
    assert re.search(
        r"01-story\.md:\d+: scaffold: headline: 'Headline of the story'", result.output
    )
    assert "01-trump-xi-call.md:1: article-number: 01-story.md has the number 01" in result.output
    assert "refuse the send; nothing was sent" in result.output
    assert delivered == [] and _rows(project) == {}
    # check says so too, so an editor sees it before sending.
    checked = _run(project, "check", SLUG)
    assert "scaffold" in checked.output and checked.exit_code == 2


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("unsubscribe", "unsubscribe: the email has no unsubscribe link"),
        ("column", "merge-column: {{ city }}: the audience store has no 'city' column"),
        ("lorem", "scaffold: 'Lorem ipsum' is placeholder text"),
    ],
)
def test_the_gate_refuses_what_check_only_warned_about(
    project: Path, fault: str, expected: str
) -> None:
    if fault == "unsubscribe":  # removed from the template by mistake
        eject(load_config(project), ["email.mjml.j2"])
        template = project / "templates" / "email.mjml.j2"
        template.write_text(
            template.read_text().replace("href=\"{{ merge('unsubscribe_url') }}\"", 'href="#"')
        )
    elif fault == "column":  # "See you in town, ."
        _edit(_issue(project) / "issue.md", "\n---\n", "\n---\nSee you in town, {{ city }}.\n\n")
    else:
        _edit(_issue(project) / "issue.md", "\n---\n", "\n---\nLorem ipsum dolor sit amet.\n\n")
    build(project, jobs=1)
    with SmtpServer() as server:
        result = _run(project, "send", SLUG, *_smtp_args(server), "--yes")
        delivered = server.recorder.messages
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert delivered == [] and _rows(project) == {}


def test_a_field_some_subscribers_lack_needs_a_fallback(project: Path) -> None:
    (project / "subscribers.csv").unlink()
    people = project / "people.csv"
    people.write_text("email,name,city\nann@example.com,Ann,Oslo\nbob@example.com,Bob,\n")
    note = _issue(project) / "issue.md"
    _edit(note, "\n---\n", "\n---\nSee you in {{ city }}.\n\n")
    build(project, jobs=1)
    refused = _run(project, "send", SLUG, "--subscribers", str(people))
    assert refused.exit_code == 1
    assert "merge-missing: {{ city }} has no fallback and 1 of 2 subscribers" in refused.output
    assert "(e.g. bob@example.com)" in refused.output and not _outbox(project)
    _edit(note, "{{ city }}", "{{ city | town }}")
    build(project, jobs=1)
    sent = _run(project, "send", SLUG, "--subscribers", str(people))
    assert sent.exit_code == 0, sent.output
    assert len(_outbox(project)) == 2


def test_a_rerun_that_would_switch_transport_is_refused_with_the_resume_command(
    project: Path,
) -> None:
    """A temporary failure over SMTP, then a rerun without --transport smtp: it used to
    write the deferred message into the outbox and mark it sent."""
    (project / "briefing.toml").write_text(
        (project / "briefing.toml").read_text() + "\n[send]\nmax_attempts = 1\n"
    )
    (project / "subscribers.csv").unlink()
    people = project / "people.csv"
    people.write_text("email,name\nann@example.com,Ann\ntempfail1@example.com,Temp\n")
    with SmtpServer() as server:
        first = _run(project, "send", SLUG, *_smtp_args(server), "--subscribers", str(people))
        assert first.exit_code == 2, first.output
        assert _rows(project) == {"ann@example.com": "sent", "tempfail1@example.com": "deferred"}
        hint = first.output.split("to retry deferred messages run: ")[1].strip()
        assert f"--subscribers {people}" in hint and "--smtp-security none" in hint

        rerun = _run(project, "send", SLUG, "--subscribers", str(people))
        assert rerun.exit_code == 1
        assert "it went via smtp://127.0.0.1" in rerun.output
        assert "this run would go via outbox/trump-xi-call/" in rerun.output
        assert not _outbox(project)
        assert _rows(project)["tempfail1@example.com"] == "deferred"
        resume = rerun.output.split("resume as before: ")[1].split("\n")[0]
        words = shlex.split(resume)
        assert words[:3] == ["briefing", "--project", str(project)]
        assert words[3:] == [
            "send", SLUG, *_smtp(server), "--smtp-security", "none",
            "--subscribers", str(people),
        ]  # fmt: skip
        again = CliRunner().invoke(cli, words[1:])
        assert again.exit_code == 0, again.output
        assert sorted(r for m in server.recorder.messages for r in m.rcpt_tos) == [
            "ann@example.com",
            "tempfail1@example.com",
        ]
    assert _rows(project) == {"ann@example.com": "sent", "tempfail1@example.com": "sent"}


def test_a_deliberate_switch_never_re_marks_what_the_first_transport_handled(
    project: Path,
) -> None:
    (project / "briefing.toml").write_text(
        (project / "briefing.toml").read_text() + "\n[send]\nmax_attempts = 1\n"
    )
    _edit(project / "subscribers.csv", "bob@example.com", "tempfail9@example.com")
    with SmtpServer() as server:
        assert _run(project, "send", SLUG, *_smtp_args(server)).exit_code == 2
    switched = _run(project, "send", SLUG, "--change-route")
    assert switched.exit_code == 0, switched.output
    # Only the deferred message goes into the outbox; Ann's stays sent by SMTP.
    assert len(_outbox(project)) == 1
    assert _rows(project) == {"ann@example.com": "sent", "tempfail9@example.com": "sent"}
    # The new route is the one remembered now.
    assert _run(project, "send", SLUG).exit_code == 0


def test_an_issue_edited_after_a_partial_send_is_refused(project: Path) -> None:
    (project / "briefing.toml").write_text(
        (project / "briefing.toml").read_text() + "\n[send]\nmax_attempts = 1\n"
    )
    _edit(project / "subscribers.csv", "bob@example.com", "tempfail9@example.com")
    with SmtpServer() as server:
        assert _run(project, "send", SLUG, *_smtp_args(server)).exit_code == 2
        _edit(_issue(project) / "issue.md", "\n---\n", "\n---\nA late correction.\n\n")
        build(project, jobs=1)
        result = _run(project, "send", SLUG, *_smtp_args(server))
        assert len(server.recorder.messages) == 1
    assert result.exit_code == 1
    assert "the issue changed since the first run" in result.output


def test_a_send_without_its_ledger_is_refused_when_the_outbox_shows_it_went(
    project: Path,
) -> None:
    assert _run(project, "send", SLUG).exit_code == 0
    for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
        (project / ".briefing" / name).unlink(missing_ok=True)
    result = _run(project, "send", SLUG)
    assert result.exit_code == 1
    assert "outbox/trump-xi-call/ holds 2 message(s)" in result.output
    assert "--ledger-lost" in result.output
    assert _run(project, "send", SLUG, "--ledger-lost").exit_code == 0


# --- confirmation ---------------------------------------------------------------------------


def _on_terminal(root: Path, answer: str, *args: str) -> tuple[int, str]:
    """briefing send on a pseudo-terminal, answering its question."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "briefing", "--project", str(root), "send", SLUG, *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "CI": "", "COLUMNS": "200"},
    )
    os.close(follower)
    seen = b""
    answered = False
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        assert ready, f"no output from briefing send; so far: {seen!r}"
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(leader, answer.encode() + b"\n")
            answered = True
    os.close(leader)
    return process.wait(timeout=60), seen.decode("utf-8", "replace")


def test_on_a_terminal_the_editor_confirms_with_the_count(project: Path) -> None:
    code, output = _on_terminal(project, "n")
    assert f"Send '{TITLE}' to 2 subscribers? [y/N]" in output
    assert code == 1 and "not confirmed; nothing was sent" in output
    assert not _outbox(project) and _rows(project) == {}
    code, output = _on_terminal(project, "y")
    assert code == 0, output
    assert len(_outbox(project)) == 2


def test_warnings_need_yes_or_the_allow_list_without_a_terminal(project: Path) -> None:
    _edit(_issue(project) / "issue.md", "preheader:", "old_preheader_was:")
    issue = _issue(project) / "issue.md"
    issue.write_text(re.sub(r"(?m)^old_preheader_was:.*\n", "", issue.read_text()))
    build(project, jobs=1)
    refused = _run(project, "send", SLUG)
    assert refused.exit_code == 1
    assert "preheader: no preheader" in refused.output and "[warning]" in refused.output
    assert "pass --yes" in refused.output and not _outbox(project)
    config = project / "briefing.toml"
    config.write_text(config.read_text() + '\n[check]\nallow = ["preheader"]\n')
    strict = _run(project, "check", "--strict", SLUG)
    assert strict.exit_code == 0, strict.output
    assert _run(project, "send", SLUG).exit_code == 0
    assert len(_outbox(project)) == 2


def test_yes_sends_past_warnings_and_refusals_cannot_be_allowed(project: Path) -> None:
    issue = _issue(project) / "issue.md"
    issue.write_text(re.sub(r"(?m)^preheader:.*\n", "", issue.read_text()))
    build(project, jobs=1)
    assert _run(project, "send", SLUG, "--yes").exit_code == 0
    config = project / "briefing.toml"
    config.write_text(config.read_text() + '\n[check]\nallow = ["unsubscribe"]\n')
    result = _run(project, "check")
    assert "check.allow: 'unsubscribe' guards every send and cannot be allowed" in result.output


# --- strict lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("address,reason\nann@example.com,manual\n", "suppressions.csv:1: the header is"),
        ("ann@example.com,manual\n", "suppressions.csv:1: has no header row"),
        ("", "suppressions.csv: is empty"),
        ("email,reason\nnot an address,manual\n", "suppressions.csv:2: 'not an address'"),
        ("email,reason\nann@example.com\n", "suppressions.csv:2: has 1 fields"),
        ("email,reason\nann@example.com,angry\n", "suppressions.csv:2: unknown reason 'angry'"),
        (b"email,reason\n\xff@example.com,manual\n", "suppressions.csv: is not UTF-8"),
        (None, "suppressions.csv: cannot be read"),
    ],
    ids=["header", "no-header", "empty", "address", "fields", "reason", "utf8", "unreadable"],
)
def test_every_suppression_file_fault_stops_the_send(
    project: Path, content: str | bytes | None, expected: str
) -> None:
    assert _run(project, "suppress", "nobody@example.com").exit_code == 0  # the store exists
    path = project / "suppressions.csv"
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = _run(project, "send", SLUG)
    assert result.exit_code == 1
    assert expected in result.output
    assert not _outbox(project) and _rows(project) == {}


def test_a_suppressions_file_edited_after_the_move_still_applies(project: Path) -> None:
    assert _run(project, "suppress", "nobody@example.com").exit_code == 0
    (project / "suppressions.csv").write_text("email,reason\nBob@Example.com,complained\n")
    result = _run(project, "send", SLUG)
    assert result.exit_code == 0, result.output
    assert "2 suppressed" in result.output and len(_outbox(project)) == 1  # nobody, Bob


def test_test_copies_honour_suppression_and_check_every_address_first(project: Path) -> None:
    assert _run(project, "suppress", "bob@example.com").exit_code == 0
    with SmtpServer() as server:
        bad = _run(
            project, "send", SLUG, *_smtp_args(server), "--to", "me@example.com", "--to", "x"
        )
        assert bad.exit_code == 1 and server.recorder.messages == []
        assert "--to: 'x' is not" in bad.output
        result = _run(
            project,
            "send",
            SLUG,
            *_smtp_args(server),
            "--to",
            "me@example.com",
            "--to",
            "bob@example.com",
        )
        received = [m.rcpt_tos for m in server.recorder.messages]
    assert result.exit_code == 0, result.output
    assert "test copy to bob@example.com: not sent, the address is suppressed" in result.output
    assert received == [["me@example.com"]]


# --- nothing on disk ------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("sent_before", [False, True], ids=["fresh", "after-a-send"])
def test_dry_run_and_status_leave_the_folder_byte_identical(
    project: Path, sent_before: bool
) -> None:
    if sent_before:
        assert _run(project, "send", SLUG).exit_code == 0
        gc.collect()  # the in-process send's store connection closes (and checkpoints)
        (project / "outbox" / SLUG / ".leftover.tmp").write_bytes(b"half a message")
    before = _tree(project)
    dry = _run(project, "send", SLUG, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"Plan: {0 if sent_before else 2} to send" in dry.output
    for args in (["status", SLUG], ["status"]):
        status = _run(project, *args)
        assert status.exit_code == 0, status.output
    assert _tree(project) == before
