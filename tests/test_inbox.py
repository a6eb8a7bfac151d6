"""`briefing inbox` against real mailboxes: Maildir, mbox and Dovecot over IMAPS."""

from __future__ import annotations

import dataclasses
import imaplib
import mailbox
import os
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from briefing.audience.access import open_store
from briefing.cli import cli
from briefing.config import load_config
from briefing.send.ledger import Ledger
from imap_server import Dovecot, dovecot
from inbox_mail import SECRET, Mixed, big_message, mixed_mailbox, render, write_maildir

HELPERS = Path(__file__).resolve().parent / "inbox_helpers"
ACTED = ("bounced", "soft-bounced", "complained", "unsubscribed")
BOUNCES = """
[bounces]
address = "bounces@briefing.example.com"
"""


@pytest.fixture(scope="module")
def mixed() -> Mixed:
    return mixed_mailbox()


@pytest.fixture
def project(example: Path, mixed: Mixed, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example publication with every subscriber of the mixed mailbox active and
    every delivery it refers to in the ledger (so VERP tokens resolve)."""
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET.decode())
    with (example / "briefing.toml").open("a") as toml:
        toml.write(BOUNCES)
    config = load_config(example)
    store = open_store(config)
    for address in mixed.expected:
        store.change(address, "active", "import")
    store.close()
    ledger = Ledger(example / config.send.ledger)
    for issue, recipient in mixed.deliveries:
        ledger.enqueue(issue, [recipient])
    ledger.close()
    return example


def statuses(root: Path, addresses: Iterator[str] | list[str]) -> dict[str, str]:
    store = open_store(load_config(root))
    try:
        return {a: m.status if (m := store.get(a)) else "absent" for a in addresses}
    finally:
        store.close()


def history_rows(root: Path) -> list[tuple[object, ...]]:
    store = open_store(load_config(root))
    try:
        return store.query("SELECT key, status, source FROM events ORDER BY id")
    finally:
        store.close()


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), "inbox", *args])


def count_line(output: str, name: str) -> int:
    line = next(x for x in output.splitlines() if x.strip().startswith(name + " "))
    return int(line.split()[1])


def check_first_run(result: Result, mixed: Mixed) -> None:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    expected = mixed.counts()
    for name in ACTED:
        assert count_line(result.output, name) == expected[name], name
    left = expected["ignored"] + expected["auto-reply"] + expected["malformed"]
    assert count_line(result.output, "ignored") == left
    # Each malformed message gets its own line; addresses are masked.
    assert result.output.count("left alone: ") == expected["malformed"]
    assert "soft3@example.net" not in result.output
    assert "s***3@example.net: bounced after 3 soft bounces" in result.output


def check_statuses(root: Path, mixed: Mixed) -> None:
    assert statuses(root, list(mixed.expected)) == mixed.expected


def check_second_run(root: Path, mixed: Mixed, *args: str) -> None:
    before = history_rows(root)
    again = run(root, *args)
    assert again.exit_code == 0, again.output
    for name in (*ACTED, "ignored"):
        assert count_line(again.output, name) == 0
    assert "0 status(es) changed" in again.output
    assert history_rows(root) == before
    check_statuses(root, mixed)


def test_maildir_mixed_mailbox(project: Path, mixed: Mixed, tmp_path: Path) -> None:
    folder = tmp_path / "Maildir"
    write_maildir(folder, mixed.messages)
    first = run(project, "--maildir", str(folder), "--move-to", "Processed")
    check_first_run(first, mixed)
    check_statuses(project, mixed)
    acted = sum(mixed.counts()[k] for k in ACTED)
    assert len(list((folder / ".Processed" / "cur").iterdir())) == acted
    left = list((folder / "new").iterdir()) + list((folder / "cur").iterdir())
    assert len(left) == len(mixed.messages) - acted
    # Known by file name, a message left in place is not read again (its content is
    # not even looked at).
    (sorted((folder / "new").iterdir())[0]).write_bytes(b"not read again")
    check_second_run(project, mixed, "--maildir", str(folder), "--move-to", "Processed")
    # The moved messages, read again from their new folder, are recognised too.
    check_second_run(project, mixed, "--maildir", str(folder / ".Processed"))


def test_mbox_mixed_mailbox(project: Path, mixed: Mixed, tmp_path: Path) -> None:
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for data in mixed.messages:
        box.add(data)
    box.close()
    first = run(project, "--mbox", str(path))
    check_first_run(first, mixed)
    check_statuses(project, mixed)
    assert len(mailbox.mbox(path)) == len(mixed.messages)  # left in place
    check_second_run(project, mixed, "--mbox", str(path), "--move-to", "done.mbox")
    assert len(mailbox.mbox(tmp_path / "done.mbox")) == sum(mixed.counts()[k] for k in ACTED)


@pytest.fixture(scope="module")
def imap_server() -> Iterator[Dovecot]:
    with dovecot() as server:
        yield server


def imap_login(server: Dovecot) -> imaplib.IMAP4_SSL:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    imap = imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=context)
    imap.login(server.user, server.password)
    return imap


def imap_count(imap: imaplib.IMAP4_SSL, folder: str) -> int:
    status, data = imap.select(f'"{folder}"')
    assert status == "OK", data
    return int(data[0] or 0)


def test_imap_mixed_mailbox(
    project: Path,
    mixed: Mixed,
    imap_server: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imap = imap_login(imap_server)
    for data in mixed.messages:
        status, _ = imap.append("INBOX", None, None, data.replace(b"\n", b"\r\n"))
        assert status == "OK"
    with (project / "briefing.toml").open("a") as toml:
        toml.write(
            f'imap_host = "127.0.0.1"\nimap_port = {imap_server.port}\n'
            f'ca_file = "{imap_server.ca_file}"\nmove_to = "Processed"\n'
        )
    monkeypatch.setenv("BRIEFING_IMAP_USER", imap_server.user)
    monkeypatch.setenv("BRIEFING_IMAP_PASSWORD", imap_server.password)
    first = run(project, "--imap")
    check_first_run(first, mixed)
    check_statuses(project, mixed)
    acted = sum(mixed.counts()[k] for k in ACTED)
    assert imap_count(imap, "Processed") == acted
    assert imap_count(imap, "INBOX") == len(mixed.messages) - acted
    fetched: list[str] = []
    real_uid = imaplib.IMAP4.uid

    def counting_uid(self: imaplib.IMAP4, command: str, *args: str) -> tuple[str, list[Any]]:
        if command == "FETCH" and "BODY" in args[-1]:
            fetched.append(args[0])
        return real_uid(self, command, *args)

    monkeypatch.setattr(imaplib.IMAP4, "uid", counting_uid)
    check_second_run(project, mixed, "--imap")
    assert fetched == []  # known by UIDVALIDITY/UID: nothing downloaded again
    assert imap_count(imap, "INBOX") == len(mixed.messages) - acted
    imap.logout()


def test_imap_wrong_password_is_one_line(
    project: Path, imap_server: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (project / "briefing.toml").open("a") as toml:
        toml.write(
            f'imap_host = "127.0.0.1"\nimap_port = {imap_server.port}\n'
            f'ca_file = "{imap_server.ca_file}"\n'
        )
    monkeypatch.setenv("BRIEFING_IMAP_USER", imap_server.user)
    monkeypatch.setenv("BRIEFING_IMAP_PASSWORD", "wrong")
    result = subprocess.run(
        [sys.executable, "-m", "briefing", "--project", str(project), "inbox"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "imaps://127.0.0.1" in result.stderr


@pytest.mark.parametrize(("where", "at"), [("transaction", 20), ("move", 9)])
def test_sigkill_mid_run_then_rerun(
    project: Path, mixed: Mixed, tmp_path: Path, where: str, at: int
) -> None:
    """Killed inside a message's transaction or between its commit and its move: the
    rerun ends exactly where one clean run does, with no event applied twice."""
    clean_project = tmp_path / "clean"
    shutil.copytree(project, clean_project)
    clean_box, box = tmp_path / "clean-box", tmp_path / "box"
    write_maildir(clean_box, mixed.messages)
    write_maildir(box, mixed.messages)
    assert run(clean_project, "--maildir", str(clean_box), "--move-to", "Done").exit_code == 0

    args = ["--project", str(project), "inbox", "--maildir", str(box), "--move-to", "Done"]
    env = {**os.environ, "KILL_AT": str(at), "KILL_WHERE": where}
    killed = subprocess.run(
        [sys.executable, str(HELPERS / "kill_inbox.py"), *args],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL
    assert statuses(project, list(mixed.expected)) != mixed.expected  # stopped part-way
    rerun = run(project, "--maildir", str(box), "--move-to", "Done")
    assert rerun.exit_code == 0, rerun.output

    check_statuses(project, mixed)
    strip = [row[1:] for row in history_rows(clean_project)]
    assert sorted(map(str, (row[1:] for row in history_rows(project)))) == sorted(map(str, strip))
    assert sorted(p.name for p in (box / ".Done" / "cur").iterdir()) == sorted(
        p.name for p in (clean_box / ".Done" / "cur").iterdir()
    )


def test_status_shows_what_came_back(project: Path, mixed: Mixed, tmp_path: Path) -> None:
    folder = tmp_path / "Maildir"
    write_maildir(folder, mixed.messages)
    assert run(project, "--maildir", str(folder)).exit_code == 0
    result = CliRunner().invoke(cli, ["--project", str(project), "status", "chip-rules"])
    assert result.exit_code == 0, result.output
    # chip-rules went to subscriber 1 of each fixture, and to three soft-bouncers.
    assert "came back: 8 bounced, 2 complained, 3 soft-bounced" in result.output


def test_large_message_is_not_read(project: Path, tmp_path: Path) -> None:
    """A 20 MB message (bounces.max_size is 10 MB) is counted and left alone unread."""
    folder = tmp_path / "Maildir"
    write_maildir(folder, [big_message(20)])
    result = run(project, "--maildir", str(folder), "-v")
    assert result.exit_code == 0, result.output
    assert count_line(result.output, "ignored") == 1
    assert "MB: too large for a bounce or complaint; not read" in result.output


def test_no_mailbox_and_two_mailboxes_are_one_line_errors(project: Path, tmp_path: Path) -> None:
    result = run(project)
    assert result.exit_code == 1
    assert "no mailbox to read" in result.output
    assert "Traceback" not in result.output
    result = run(project, "--maildir", str(tmp_path), "--mbox", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "choose one of --imap, --maildir and --mbox" in result.output
    result = run(project, "--maildir", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "not a Maildir" in result.output
    with (project / "briefing.toml").open("a") as toml:
        toml.write('maildir = "a"\nmbox = "b"\n')
    result = run(project)
    assert result.exit_code == 1
    assert "bounces.imap_host: set only one of imap_host, maildir and mbox" in result.output
    with (project / "briefing.toml").open("a") as toml:
        toml.write("soft_limit = 0\n")
    result = run(project)
    assert result.output == "error: briefing.toml: bounces.soft_limit: must be at least 1\n"


def test_imap_without_move_copies_and_expunges(
    imap_server: Dovecot, mixed: Mixed, tmp_path: Path
) -> None:
    """Servers without MOVE (RFC 6851): COPY, \\Deleted, UID EXPUNGE."""
    from briefing.inbox.imap import ImapSettings, ImapSource

    imap = imap_login(imap_server)
    imap.create('"Fallback"')
    for data in mixed.messages[:2]:
        imap.append("Fallback", None, None, data.replace(b"\n", b"\r\n"))
    settings = ImapSettings(
        "127.0.0.1",
        imap_server.port,
        "ssl",
        "Fallback",
        imap_server.user,
        imap_server.password,
        str(imap_server.ca_file),
    )
    source = ImapSource(settings, 1024 * 1024)
    assert source.can_move  # Dovecot offers MOVE; pretend it does not
    source.can_move = False
    refs = [mail.ref for mail in source.messages()]
    assert len(refs) == 2
    source.move(refs[0], "Fallback-done")
    source.close()
    assert imap_count(imap, "Fallback") == 1
    assert imap_count(imap, "Fallback-done") == 1
    imap.logout()


def test_report_spelling_the_address_in_another_case(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without VERP (no secret), a DSN naming 'ADA@EXAMPLE.COM' still bounces the
    subscriber 'ada@example.com'; a stray report for a stranger adds nobody."""
    monkeypatch.delenv("BRIEFING_UNSUBSCRIBE_SECRET")
    folder = tmp_path / "Maildir"
    write_maildir(
        folder,
        [
            render("postfix-hard", "ADA@EXAMPLE.COM", "trade-talks", 1),
            render("sendmail-hard", "stranger@example.net", "trade-talks", 2),
        ],
    )
    result = run(project, "--maildir", str(folder))
    assert result.exit_code == 0, result.output
    assert "VERP and unsubscribe tokens cannot be checked" in result.output
    assert statuses(project, ["ada@example.com", "stranger@example.net"]) == {
        "ada@example.com": "bounced",
        "stranger@example.net": "absent",
    }


def test_imap_starttls_and_a_certificate_not_trusted(imap_server: Dovecot, mixed: Mixed) -> None:
    from briefing.inbox.imap import ImapSettings, ImapSource
    from briefing.inbox.sources import InboxError

    imap = imap_login(imap_server)
    imap.create('"Plain"')
    imap.append("Plain", None, None, mixed.messages[0].replace(b"\n", b"\r\n"))
    imap.logout()
    settings = ImapSettings(
        "127.0.0.1",
        imap_server.starttls_port,
        "starttls",
        "Plain",
        imap_server.user,
        imap_server.password,
        str(imap_server.ca_file),
    )
    source = ImapSource(settings, 1 << 20)
    assert [len(m.data) > 0 for m in source.messages()] == [True]
    source.close()
    # Without the test CA the server's certificate is refused: one clear error.
    with pytest.raises(InboxError, match=r"imap://127\.0\.0\.1:\d+/Plain: .*CERTIFICATE"):
        ImapSource(dataclasses.replace(settings, ca_file=""), 1 << 20)


def test_locked_mbox_is_one_line(project: Path, tmp_path: Path) -> None:
    """An MTA delivering into the mbox holds its lock: inbox waits for another run."""
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    box.add(b"Subject: hello\n\nhi\n")
    box.lock()
    try:
        result = run(project, "--mbox", str(path))
    finally:
        box.unlock()
        box.close()
    assert result.exit_code == 1
    assert result.output == f"error: {path}: locked by another program; try again\n"
    assert run(project, "--mbox", str(path)).exit_code == 0


def test_dry_run_changes_nothing(project: Path, mixed: Mixed, tmp_path: Path) -> None:
    folder = tmp_path / "Maildir"
    write_maildir(folder, mixed.messages)
    names = sorted(p.name for p in (folder / "new").iterdir())
    before = history_rows(project)
    preview = run(project, "--maildir", str(folder), "--move-to", "Done", "--dry-run")
    assert preview.exit_code == 0, preview.output
    expected = mixed.counts()
    for name in ACTED:
        assert count_line(preview.output, name) == expected[name], name
    assert "0 status(es) changed" in preview.output
    assert preview.output.count(": dry run: not applied") == sum(expected[k] for k in ACTED)
    assert preview.output.endswith("dry run: nothing was recorded, changed or moved\n")
    assert history_rows(project) == before
    assert sorted(p.name for p in (folder / "new").iterdir()) == names
    check_first_run(run(project, "--maildir", str(folder)), mixed)  # all still to do
