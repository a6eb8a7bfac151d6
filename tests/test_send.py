"""briefing send: messages checked on the raw bytes, against a real SMTP server on loopback."""

from __future__ import annotations

import contextlib
import email
import email.policy
import math
import re
import threading
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from briefing.audience.store import Store
from briefing.build import build
from briefing.cli import cli
from briefing.config import load_config
from briefing.send.audience import normalize, read_subscribers
from briefing.send.channel import Relay
from briefing.send.ledger import Ledger
from briefing.send.message import verify_unsubscribe_token
from briefing.send.pacing import Backoff
from briefing.send.service import SendRequest, SendService, Summary
from briefing.send.transports import OutboxTransport

from smtp_server import SmtpServer

SECRET = "test-secret-0123456789"
SLUG = "trump-xi-call"


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET)
    build(example, jobs=1)
    return example


def _subscribers(root: Path, rows: str) -> Path:
    path = root / "subscribers.csv"
    path.write_text(rows, encoding="utf-8")
    return path


def _run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def _smtp_args(server: SmtpServer) -> list[str]:
    return [
        "--transport",
        "smtp",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(server.port),
        "--smtp-security",
        "none",
    ]


def _outbox(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((root / "outbox" / SLUG).glob("*.eml"))]


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _check_raw(raw: bytes) -> None:
    """What RFC 5322 / 2045 ask of the bytes on the wire."""
    assert raw.count(b"\n") == raw.count(b"\r\n"), "bare LF"
    assert b"\r\r" not in raw
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        assert len(line) <= 998
        assert line.isascii()
        # Folded under 78 where the grammar allows: a Message-ID cannot be broken, nor a
        # List-Unsubscribe URL, which then stands alone on its folded line.
        alone = re.fullmatch(rb" <[^<> ]+>,?", line)
        assert len(line) <= 78 or line.startswith(b"Message-ID:") or alone, line
    for line in body.split(b"\r\n"):
        assert len(line) <= 78, line  # quoted-printable keeps body lines at 76
    # Folded after the colon when the first URL cannot share the line (issue 14).
    unsubscribe = re.search(rb"^List-Unsubscribe:(?:\r\n)? (.*?)\r\n(?! )", head, re.M | re.S)
    assert unsubscribe is not None
    assert b"=?" not in unsubscribe.group(1), "List-Unsubscribe must not be RFC 2047-encoded"
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head + b"\r\n"


def _check_message(raw: bytes, address: str, name: str) -> EmailMessage:
    _check_raw(raw)
    message = _parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in parts)
    assert message["To"].addresses[0].addr_spec == address
    assert message["To"].addresses[0].display_name == name
    assert message["From"].addresses[0].addr_spec == "news@briefing.example.com"
    assert message["Reply-To"] == "editor@briefing.example.com"
    assert message["List-Id"] == "The Briefing <briefing.example.com>"
    assert message["Subject"] == "Trump pushes for a Xi call as the trade truce frays"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert re.fullmatch(
        r"<[0-9a-f]{32}\.trump-xi-call@briefing\.example\.com>", message["Message-ID"]
    )
    https, mailto = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert https.startswith("https://briefing.example.com/u/")
    token = https.rsplit("/", 1)[1]
    assert mailto == f"mailto:unsubscribe@briefing.example.com?subject=unsubscribe%20{token}"
    assert verify_unsubscribe_token(SECRET.encode(), message["List-Id"], token) == normalize(
        address
    )
    assert verify_unsubscribe_token(b"another-secret-0123456", message["List-Id"], token) is None
    html = parts[1].get_content()
    text = parts[0].get_content()
    # The text part is wrapped once filled: the URL may stand on a line of its own.
    assert f'href="{https}"' in html and re.search(rf"Unsubscribe:\s+{re.escape(https)}", text)
    assert "{{" not in html and "{{" not in text
    return message


def test_outbox_messages_are_complete_and_personal(project: Path) -> None:
    _subscribers(
        project,
        "email,name\nada@example.com,Ada Lovelace\n"
        'zoe@Example.COM,"Zoë ""Z"" Ünïcode"\nlinus@example.com,\n',
    )
    result = _run(project, "send", SLUG)
    assert result.exit_code == 0, result.output
    assert "Sent 3 via outbox/trump-xi-call/" in result.output
    raws = _outbox(project)
    assert len(raws) == 3
    by_to = {_parse(r)["To"].addresses[0].addr_spec: r for r in raws}
    ada = _check_message(by_to["ada@example.com"], "ada@example.com", "Ada Lovelace")
    assert "Good morning, Ada Lovelace." in ada.get_body(("html",)).get_content()  # type: ignore[union-attr]
    zoe = _check_message(by_to["zoe@Example.COM"], "zoe@Example.COM", 'Zoë "Z" Ünïcode')
    assert b"=?utf-8?" in by_to["zoe@Example.COM"].split(b"\r\n\r\n")[0]  # RFC 2047 name
    assert "Good morning, Zoë" in zoe.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    linus = _check_message(by_to["linus@example.com"], "linus@example.com", "")
    assert "Good morning, reader." in linus.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # Names never leak into file names.
    assert not any("ada" in p.name for p in (project / "outbox" / SLUG).iterdir())


def test_message_ids_are_unique_and_stable_across_runs(project: Path) -> None:
    _subscribers(project, "email,name\na@example.com,A\nb@example.com,B\n")
    assert _run(project, "send", SLUG).exit_code == 0
    first = sorted(_parse(r)["Message-ID"] for r in _outbox(project))
    (project / ".briefing" / "ledger.db").unlink()
    for name in ("ledger.db-wal", "ledger.db-shm"):
        (project / ".briefing" / name).unlink(missing_ok=True)
    # The outbox shows it was sent: without its ledger, only --ledger-lost sends again.
    assert "the ledger has no record" in _run(project, "send", SLUG).output
    assert _run(project, "send", SLUG, "--ledger-lost").exit_code == 0
    second = sorted(_parse(r)["Message-ID"] for r in _outbox(project))
    assert len(set(first)) == 2
    assert first == second


def test_merge_fields_are_escaped_in_html_and_cannot_inject_headers(project: Path) -> None:
    _subscribers(project, 'email,name\neve@example.com,"<b>Eve</b> & co"\n')
    assert _run(project, "send", SLUG).exit_code == 0
    (raw,) = _outbox(project)
    message = _check_message(raw, "eve@example.com", "<b>Eve</b> & co")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Good morning, &lt;b&gt;Eve&lt;/b&gt; &amp; co." in html
    assert "<b>Eve</b>" not in html
    assert "Good morning, <b>Eve</b> & co." in text


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("email,name\nnot-an-address,X\n", r"subscribers.csv:2: 'not-an-address' is not an"),
        (
            'email,name\na@example.com,"Eve\r\nBcc: x@evil.example"\n',
            r"subscribers.csv:2: the 'name' field contains the control character U\+000[AD]",
        ),
        ("email,name,city\na@example.com,A\n", r"subscribers.csv:2: has 2 fields, the header"),
        ("name\nA\n", r"subscribers.csv:1: the header row has no 'email' column"),
        ("email\na@example..com\n", r"subscribers.csv:2: 'a@example..com' has an invalid domain"),
    ],
)
def test_bad_subscriber_rows_stop_the_send(project: Path, rows: str, message: str) -> None:
    _subscribers(project, rows)
    result = _run(project, "send", SLUG)
    assert result.exit_code == 1
    assert re.search(message, result.output), result.output
    assert not (project / "outbox" / SLUG).exists()


def test_every_bad_row_is_reported_at_once_and_duplicates_are_sent_once(project: Path) -> None:
    path = _subscribers(project, "email,name\nx,1\nok@example.com,2\ny,3\n")
    result = _run(project, "send", SLUG)
    assert "subscribers.csv:2:" in result.output and "subscribers.csv:4:" in result.output
    assert "fix these rows; nothing was sent" in result.output  # moved into the store
    path.write_text("email,name\nAnn@Example.com,A\nAnn@example.COM,B\nann@example.com,C\n")
    subscribers = read_subscribers(path, project)
    # One person however spelled: the first spelling, as written, gets the message.
    assert [s.email for s in subscribers] == ["Ann@Example.com"]


def test_rerun_skips_what_was_sent_and_suppression_is_honoured(project: Path) -> None:
    _subscribers(project, "email,name\na@example.com,A\nb@example.com,B\nc@example.com,C\n")
    assert _run(project, "suppress", "B@EXAMPLE.com").exit_code == 0
    with SmtpServer() as server:
        first = _run(project, "send", SLUG, *_smtp_args(server))
        second = _run(project, "send", SLUG, *_smtp_args(server))
        received = [m.rcpt_tos for m in server.recorder.messages]
    assert first.exit_code == 0, first.output
    assert "Sent 2 via smtp://127.0.0.1" in first.output and "1 suppressed" in first.output
    assert "Sent 0" in second.output and "skipped 2 already sent" in second.output
    assert sorted(received) == [["a@example.com"], ["c@example.com"]]
    status = _run(project, "status", SLUG)
    assert "2 sent" in status.output


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_smtp_messages_pass_the_header_checks_on_the_wire(project: Path, pipelining: bool) -> None:
    _subscribers(project, "email,name\nada@example.com,Ada\nbounce@example.com,B\n")
    with SmtpServer(pipelining=pipelining) as server:
        assert _run(project, "send", SLUG, *_smtp_args(server)).exit_code == 2  # one bounced
        (received,) = server.recorder.messages
    assert received.mail_from == "news@briefing.example.com"
    _check_message(received.data, "ada@example.com", "Ada")
    assert "failed   bounce@example.com 550 5.1.1" in _run(project, "status", SLUG).output


def test_lines_starting_with_a_dot_survive_transport() -> None:
    from briefing.send.transports import dot_stuffed

    assert dot_stuffed(b".a\r\nb\r\n.c\r\n..d\r\n") == b"..a\r\nb\r\n..c\r\n...d\r\n"


def test_data_for_is_the_message_dot_stuffed_whatever_starts_a_line() -> None:
    """SMTP sends MessageTemplate.data_for, assembled from pieces stuffed once per issue:
    it must be exactly dot_stuffed(render_for()), dots at a piece's or a value's start too."""
    from briefing.send.audience import Subscriber
    from briefing.send.message import MessageTemplate, Sender
    from briefing.send.transports import dot_stuffed

    sender = Sender("News <news@example.com>", "", "<n.example.com>", "https://x/{token}", "", "x")
    text = ".starts\n{{ name }}\n.{{ city }} after a dot\n..two\n{{ city }}"
    html = "<p>\n.{{ name }}</p>\n.{{ city | .none }}\n{{ city }}.\n.end"
    template = MessageTemplate("s", "Hi {{ name }}", html, text, sender, b"0123456789abcdef")
    readers = [
        Subscriber("a@example.com", ".Dot", {"city": ".\n.x"}),
        Subscriber("b@example.com", "", {"city": ""}),
        Subscriber("c@example.com", "C", {"city": "." * 90}),
    ]
    for reader in readers:
        data = template.data_for(reader, 0)
        assert data == dot_stuffed(template.render_for(reader, 0))
        assert b"\r\n..starts" in data and b"\r\n...two" in data


def test_a_message_in_pieces_arrives_whole_when_the_socket_takes_it_bit_by_bit() -> None:
    """SMTP hands a message's pieces to sendmsg(), which takes only what fits in the
    socket's buffer: the rest must follow from the byte where it stopped, even mid-piece."""
    import socket

    from briefing.send.transports import _sendmsg_all

    class Counting:
        def __init__(self, sock: socket.socket) -> None:
            self.sock, self.calls = sock, 0

        def sendmsg(self, buffers: list[bytes]) -> int:
            self.calls += 1
            return self.sock.sendmsg(buffers)

    parts = [bytes([65 + n % 26]) * (700 + 37 * n) for n in range(120)] + [b"", b".\r\n"]
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.settimeout(10)  # as smtplib's: sendmsg returns what fitted instead of blocking
    got = bytearray()

    def read() -> None:
        while chunk := theirs.recv(1500):
            got.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    counting = Counting(ours)
    with ours, theirs:
        _sendmsg_all(counting, parts)  # type: ignore[arg-type]
        ours.shutdown(socket.SHUT_WR)
        reader.join(10)
    assert bytes(got) == b"".join(parts)
    assert counting.calls > 1, "the socket took all ~400 KB at once: nothing was resumed"


def test_a_relay_that_hangs_up_mid_message_is_a_lost_connection_as_smtplib_says() -> None:
    """A relay that closes while the pieces go out: the session is dropped and the error
    is smtplib's own (SMTPServerDisconnected), which the transport records as a
    connection lost after the handover (unknown), never a traceback."""
    import smtplib
    import socket

    from briefing.send.transports import _send_parts

    ours, theirs = socket.socketpair()
    ours.settimeout(10)
    theirs.close()  # the relay is gone before the message went out
    smtp = smtplib.SMTP()
    smtp.sock = ours
    with pytest.raises(smtplib.SMTPServerDisconnected):
        _send_parts(smtp, [b"Subject: x\r\n\r\n", b"body\r\n", b".\r\n"])
    assert smtp.sock is None  # closed: the next message opens a new session
    assert ours.fileno() == -1


def _library_send(
    project: Path, addresses: list[str], server: SmtpServer, rate: float = 0, max_attempts: int = 5
) -> tuple[Ledger, Summary]:
    """A send through the service, as another program would call it (no CLI)."""
    _subscribers(project, "email\n" + "".join(f"{a}\n" for a in addresses))
    toml = project / "briefing.toml"
    if max_attempts != 5 and "max_attempts" not in toml.read_text():
        toml.write_text(toml.read_text() + f"\n[send]\nmax_attempts = {max_attempts}\n")
    service = SendService(load_config(project), backoff=Backoff(first=0.01))
    request = SendRequest(
        SLUG, transport="smtp", relay=Relay("127.0.0.1", server.port, "none"), rate=rate
    )
    summary = service.run(request)
    return Ledger(project / ".briefing" / "ledger.db"), summary


def test_temporary_failures_are_retried_and_throttling_slows_down(project: Path) -> None:
    rows = ["tempfail2@example.com", "throttle2@example.com", "ok@example.com"]
    with SmtpServer() as server:
        ledger, _ = _library_send(project, rows, server)
        tries = dict(server.recorder.tries)
        delivered = sorted(r for m in server.recorder.messages for r in m.rcpt_tos)
        sessions = server.recorder.sessions
    assert delivered == ["ok@example.com", "tempfail2@example.com", "throttle2@example.com"]
    assert tries == {"tempfail2@example.com": 3, "throttle2@example.com": 3}
    assert sessions >= 3, "a 421 closes the session: the transport must reconnect"
    assert ledger.counts(SLUG) == {"sent": 3}


def test_a_deferral_that_outlasts_the_tries_is_retried_on_the_next_run(project: Path) -> None:
    rows = ["tempfail3@example.com"]
    with SmtpServer() as server:
        ledger, _ = _library_send(project, rows, server, max_attempts=2)
        assert ledger.counts(SLUG) == {"deferred": 1}
        _library_send(project, rows, server, max_attempts=2)
        assert ledger.counts(SLUG) == {"sent": 1}
        assert len(server.recorder.messages) == 1


def test_permanent_failures_are_recorded_and_bad_addresses_suppressed(project: Path) -> None:
    _subscribers(
        project, "email,name\nbounce@example.com,B\nreject@example.com,R\nok@example.com,O\n"
    )
    with SmtpServer() as server:
        result = _run(project, "send", SLUG, *_smtp_args(server))
        again = _run(project, "send", SLUG, *_smtp_args(server))
        assert len(server.recorder.messages) == 1
    assert result.exit_code == 2  # finished, but not everyone got it
    assert "failed 2" in result.output
    with Store(project / ".briefing/audience.db") as store:  # 5.1.1 only, not 5.7.1
        assert {m.email: m.status for m in store.members(["bounced"])} == {
            "bounce@example.com": "bounced"
        }
    assert "Sent 0" in again.output and "1 suppressed" in again.output
    status = _run(project, "status", SLUG).output
    assert "failed   bounce@example.com 550 5.1.1 No such user here" in status
    assert "failed   reject@example.com 554 5.7.1 Message refused" in status


def test_connection_lost_after_data_is_unknown_and_not_resent_unless_asked(
    project: Path,
) -> None:
    _subscribers(project, "email,name\ndrop@example.com,D\nok@example.com,O\n")
    with SmtpServer() as server:
        first = _run(project, "send", SLUG, *_smtp_args(server))
        second = _run(project, "send", SLUG, *_smtp_args(server))
        third = _run(project, "send", SLUG, *_smtp_args(server), "--resend-unknown")
    assert "unknown 1" in first.output and "ok" not in first.output.split("unknown")[0][-5:]
    assert "Sent 0" in second.output and "unknown 1" in second.output
    assert "unknown 1" in third.output  # the server drops it again: still unknown
    assert _run(project, "status", SLUG).output.startswith(f"{SLUG}: 1 sent, 1 unknown")


def test_parallel_connections_deliver_each_recipient_once(project: Path) -> None:
    rows = "email,name\n" + "".join(f"user{n:03d}@example.com,U{n}\n" for n in range(60))
    _subscribers(project, rows)
    with SmtpServer() as server:
        result = _run(project, "send", SLUG, *_smtp_args(server), "--connections", "4")
        received = sorted(r for m in server.recorder.messages for r in m.rcpt_tos)
        sessions = server.recorder.sessions
    assert result.exit_code == 0, result.output
    assert received == sorted(f"user{n:03d}@example.com" for n in range(60))
    assert sessions == 4


def test_rate_limit_spaces_messages(project: Path) -> None:
    rows = [f"r{n}@example.com" for n in range(6)]
    with SmtpServer() as server:
        _, summary = _library_send(project, rows, server, rate=20.0)
    assert summary.seconds >= 0.24  # 6 messages at 20/s: five gaps of 50 ms


def test_dry_run_plans_and_sends_nothing(project: Path) -> None:
    _subscribers(project, "email,name\na@example.com,A\nb@example.com,B\n")
    _run(project, "suppress", "a@example.com")
    result = _run(project, "send", SLUG, "--dry-run", "--rate", "1")
    assert result.exit_code == 0
    assert "Plan: 1 to send" in result.output and "suppressed:         1" in result.output
    assert "estimated time:     0.0 min at 1 messages/s" in result.output
    assert not (project / "outbox" / SLUG).exists()
    assert _run(project, "status", SLUG).output.strip() == f"{SLUG}: never sent"


def test_test_copies_are_marked_and_stay_out_of_the_ledger(project: Path) -> None:
    with SmtpServer() as server:
        result = _run(project, "send", SLUG, *_smtp_args(server), "--to", "me@example.com")
        (received,) = server.recorder.messages
    assert result.exit_code == 0, result.output
    message = _parse(received.data)
    assert message["Subject"].startswith("[TEST] ")
    assert message["X-Briefing-Test"] == "yes"
    assert _run(project, "status", SLUG).output.strip() == f"{SLUG}: never sent"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unknown", "no issue with the slug 'nope'"),
        ("unbuilt", "site/issues/trump-xi-call/email.html does not exist: run `briefing build`"),
        ("edited", "issues/2025-06-03-trump-xi-call changed since"),
        ("no-secret", "set BRIEFING_UNSUBSCRIBE_SECRET"),
        ("no-subscribers", ".briefing/audience.db has no active subscribers"),
    ],
)
def test_send_refuses_to_start_with_a_clear_message(
    project: Path, monkeypatch: pytest.MonkeyPatch, change: str, message: str
) -> None:
    slug = "nope" if change == "unknown" else SLUG
    if change == "unbuilt":
        (project / "site" / "issues" / SLUG / "email.html").unlink()
    if change == "edited":
        article = next((project / "issues").glob("2025-06-03-*/01-*.md"))
        article.write_text(article.read_text().replace("WASHINGTON —", "WASHINGTON (AP) —"))
    if change == "no-secret":
        monkeypatch.delenv("BRIEFING_UNSUBSCRIBE_SECRET")
    if change == "no-subscribers":
        (project / "subscribers.csv").unlink()
    result = _run(project, "send", slug)
    assert result.exit_code == 1
    assert message in result.output
    assert not (project / "outbox" / SLUG).exists()


def test_outbox_messages_are_written_whole(project: Path) -> None:
    """A reader watching the folder sees complete files only (atomic rename)."""
    _subscribers(project, "email,name\n" + "".join(f"u{n}@example.com,U\n" for n in range(40)))
    folder = project / "outbox" / SLUG
    seen: list[bytes] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for path in folder.glob("*.eml") if folder.exists() else []:
                with contextlib.suppress(FileNotFoundError):
                    seen.append(path.read_bytes())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert _run(project, "send", SLUG).exit_code == 0
    finally:
        stop.set()
        watcher.join()
    assert seen, "the watcher saw no file"
    assert all(raw.endswith(b"--\r\n") for raw in seen)


def test_outbox_transport_names_leak_no_address(tmp_path: Path) -> None:
    transport = OutboxTransport(tmp_path)
    name = transport.path_for("secret.person@example.com").name
    assert re.fullmatch(r"[0-9a-f]{24}\.eml", name)


def test_outbox_sync_reports_the_files_written_before_the_first_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox writes in a thread of its own: sync() waits for every file started,
    returns the results of those written before the first failure (the ledger says
    sent for them) and that failure, made a SendError when the disk is full."""
    import errno

    from briefing.errors import SendError
    from briefing.send import transports

    real_write = transports.atomic_write

    def write(target: Path, data: bytes, durable: bool = False, **kw: bool) -> None:
        if data == b"3":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(target, data, durable, **kw)

    monkeypatch.setattr(transports, "atomic_write", write)
    transport = OutboxTransport(tmp_path)
    for n in range(1, 6):
        transport.write(f"r{n}@example.com", str(n).encode())
    results, failure = transport.sync()
    transport.close()
    assert [r.reply for r in results] == [
        transport.path_for(f"r{n}@example.com").name for n in (1, 2)
    ]
    assert isinstance(failure, SendError) and "free space" in str(failure)
    assert transport.path_for("r2@example.com").read_bytes() == b"2"
    assert transport.sync() == ([], None)  # nothing left over for the next batch


def test_a_list_read_as_it_is_parsed_still_refuses_a_late_bad_byte(tmp_path: Path) -> None:
    """read_subscribers streams the file: a byte that is not UTF-8 after thousands of
    good rows still stops the send with the file's name, not a traceback."""
    from briefing.errors import SendError

    path = tmp_path / "list.csv"
    rows = "".join(f"r{n}@example.com,R {n}\n" for n in range(20000))
    path.write_bytes(b"email,name\n" + rows.encode() + b"late@example.com,\xff\n")
    with pytest.raises(SendError, match=r"list.csv: is not UTF-8 text; save it as UTF-8"):
        read_subscribers(path, tmp_path)
    path.write_bytes(b"\xef\xbb\xbfemail,name\r\n" + rows.encode())  # BOM, CRLF
    assert len(read_subscribers(path, tmp_path)) == 20000


def test_the_plan_reads_only_ledger_rows_that_are_not_queued(tmp_path: Path) -> None:
    from briefing.send.states import DeliveryState

    ledger = Ledger(tmp_path / "ledger.db")
    ledger.enqueue("i", ["a@x.example", "b@x.example", "c@x.example"])
    ledger.mark("i", "b@x.example", DeliveryState.SENT, 250, "ok")
    assert ledger.states("i", besides=DeliveryState.QUEUED) == {"b@x.example": DeliveryState.SENT}
    assert len(ledger.states("i")) == 3
    ledger.close()


def test_config_sections_for_send_are_validated(project: Path) -> None:
    toml = project / "briefing.toml"
    toml.write_text(toml.read_text() + '\n[smtp]\nsecurity = "tls"\nport = 0\n')
    result = _run(project, "send", SLUG)
    assert "briefing.toml: smtp.security: must be 'starttls', 'ssl' or 'none'" in result.output
    assert "briefing.toml: smtp.port: must be a port number" in result.output
    toml.write_text(toml.read_text().replace('security = "tls"\nport = 0\n', ""))
    assert load_config(project).smtp.security == "starttls"


@pytest.mark.parametrize(
    ("pipelining", "connections"),
    [(True, "1"), (True, "3"), (False, "1")],
    ids=["pipelined", "pipelined-3", "one-by-one"],
)
def test_smtp_sends_each_message_byte_for_byte_as_rendered(
    project: Path, pipelining: bool, connections: str
) -> None:
    """What crosses the wire (unstuffed by a real server) is exactly the message
    render_for() gives for that reader at the Date it carries, and that Date is the
    second it was sent in (or the one before, assembled just before a second began):
    however the SMTP path assembles, stuffs, prepares ahead (the message after slow@
    waits 2.5 s for its turn) or retries (tempfail1) a message."""
    from briefing.send.audience import Subscriber

    readers = [(f"r{n}@example.com", f".Dot {n}" if n % 3 else f"Reader {n}") for n in range(30)]
    readers[5:5] = [("slow@example.com", "Slow")]
    readers += [("tempfail1@example.com", "Retried"), ("bounce@example.com", "Gone")]
    rows = "".join(f"{address},{name}\n" for address, name in readers)
    _subscribers(project, "email,name\n" + rows)
    with SmtpServer(pipelining=pipelining) as server:
        args = [*_smtp_args(server), "--connections", connections]
        assert _run(project, "send", SLUG, *args).exit_code == 2  # one bounced
        received = list(server.recorder.messages)
        sent_at = dict(server.recorder.rcpt_at)
    service = SendService(load_config(project))
    request = SendRequest(SLUG, transport="smtp", relay=Relay("127.0.0.1", 25, "none"))
    template = service._prepare(request, clean=False)[0]
    names = dict(readers)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(names.keys() - {"bounce@example.com"})
    for message in received:
        (address,) = message.rcpt_tos
        date = parsedate_to_datetime(_parse(message.data)["Date"]).timestamp()
        expected = template.render_for(Subscriber(address, names[address]), date)
        assert message.data == expected, address
        assert math.floor(sent_at[address]) - 1 <= date <= sent_at[address], address
