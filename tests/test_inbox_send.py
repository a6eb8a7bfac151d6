"""End to end: send over SMTP with VERP return paths, bounces come back to them,
`briefing inbox` reads them, and the next send leaves those subscribers out."""

from __future__ import annotations

import email
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner, Result

from briefing.audience.access import open_store
from briefing.build import build
from briefing.cli import cli
from briefing.config import load_config
from briefing.inbox.verp import verp_address, verp_token
from briefing.send.audience import normalize
from inbox_mail import BOUNCES, SECRET, render, write_maildir

from smtp_server import SmtpServer

FIRST, NEXT = "trump-xi-call", "tariff-timeline"
EVERYONE = ["ada@example.com", "grace@example.com", "linus@example.com", "margaret@example.com"]


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET.decode())
    with (example / "briefing.toml").open("a") as toml:
        toml.write(f'\n[bounces]\naddress = "{BOUNCES}"\n')
    build(example, jobs=1)
    return example


def cli_run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def send(root: Path, slug: str, server: SmtpServer) -> Result:
    return cli_run(
        root,
        "send",
        slug,
        "--transport",
        "smtp",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(server.port),
        "--smtp-security",
        "none",
    )


def statuses(root: Path, *strangers: str) -> dict[str, str]:
    """The store's status of each listed subscriber and of each stranger it holds (a
    stranger found is a key the expected dict lacks: the comparison fails)."""
    store = open_store(load_config(root))
    try:
        return {a: m.status for a in (*EVERYONE, *strangers) if (m := store.get(a))}
    finally:
        store.close()


def test_bounces_to_verp_addresses_stop_the_next_send(project: Path, tmp_path: Path) -> None:
    with SmtpServer() as server:
        first = send(project, FIRST, server)
        assert first.exit_code == 0, first.output
        return_paths = {m.rcpt_tos[0]: m.mail_from for m in server.recorder.messages}
    assert sorted(return_paths) == EVERYONE
    # One VERP return path per recipient, made as the inbox will read it back.
    for address, mail_from in return_paths.items():
        assert re.fullmatch(r"bounces\+[a-z2-7]{20}@briefing\.example\.com", mail_from)
        assert mail_from == verp_address(BOUNCES, verp_token(SECRET, FIRST, normalize(address)))
    assert len(set(return_paths.values())) == len(EVERYONE)

    grace, linus = "grace@example.com", "linus@example.com"
    mail = [
        # Grace forwards to an address that no longer exists: only VERP names her.
        render("gmail-hard", "grace.old@forward.example", FIRST, 1, verp=return_paths[grace]),
        # Linus's provider redacts the complaint; VERP (in the returned message) names him.
        render("yahoo-arf", linus, FIRST, 2, verp=return_paths[linus]),
        # An out-of-office reply changes nothing.
        render("autoreply-outlook", "ada@example.com", FIRST, 3),
    ]
    folder = tmp_path / "Maildir"
    write_maildir(folder, mail)
    inbox = cli_run(project, "inbox", "--maildir", str(folder))
    assert inbox.exit_code == 0, inbox.output
    assert "2 status(es) changed" in inbox.output

    assert statuses(project, "grace.old@forward.example") == {  # never ours: not added
        "ada@example.com": "active",
        "grace@example.com": "bounced",
        "linus@example.com": "complained",
        "margaret@example.com": "active",
    }

    with SmtpServer() as server:
        second = send(project, NEXT, server)
        assert second.exit_code == 0, second.output
        received = sorted(m.rcpt_tos[0] for m in server.recorder.messages)
    assert received == ["ada@example.com", "margaret@example.com"]


def test_outbox_files_carry_the_verp_return_path(project: Path) -> None:
    result = cli_run(project, "send", FIRST, "--transport", "outbox")
    assert result.exit_code == 0, result.output
    files = sorted((project / "outbox" / FIRST).glob("*.eml"))
    assert len(files) == len(EVERYONE)
    paths = set()
    for path in files:
        first_line, _, rest = path.read_bytes().partition(b"\r\n")
        match = re.fullmatch(
            rb"Return-Path: <(bounces\+[a-z2-7]{20}@briefing\.example\.com)>", first_line
        )
        assert match, first_line
        assert b"\r\nReturn-Path:" not in rest
        paths.add(match.group(1))
    assert len(paths) == len(EVERYONE)


def test_a_mailto_unsubscribe_is_known_by_the_token_in_its_subject(
    project: Path, tmp_path: Path
) -> None:
    with SmtpServer() as server:
        assert send(project, FIRST, server).exit_code == 0
        sent = {m.rcpt_tos[0]: m.data for m in server.recorder.messages}
    header = email.message_from_bytes(sent["grace@example.com"])["List-Unsubscribe"]
    mailto = re.search(r"<mailto:([^?>]+)\?subject=([^>]+)>", str(header))
    assert mailto is not None, header
    # What a mail client's unsubscribe button sends (RFC 6068), here from an alias the
    # list has never heard of: the From names nobody, the subject's token names Grace.
    request = (
        f"From: g.hopper@alias.example\r\nTo: {mailto.group(1)}\r\n"
        f"Subject: {unquote(mailto.group(2))}\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\n"
        "Message-ID: <unsub-1@alias.example>\r\n\r\nThis message was sent by your mail app.\r\n"
    )
    folder = tmp_path / "Maildir"
    write_maildir(folder, [request.encode()])
    inbox = cli_run(project, "inbox", "--maildir", str(folder))
    assert inbox.exit_code == 0 and "1 status(es) changed" in inbox.output, inbox.output
    assert statuses(project, "g.hopper@alias.example") == {
        "ada@example.com": "active",
        "grace@example.com": "unsubscribed",
        "linus@example.com": "active",
        "margaret@example.com": "active",
    }
