"""The send side of issue 9: what an attack on `briefing send` found, each case kept.

Concurrent sends are real processes against a real SMTP server on loopback (or the
outbox); misbehaving relays are scripted in tests/smtp_server.py or are a few lines of
raw socket server here. Messages are checked at the raw bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import threading
from collections import Counter
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest

from briefing.errors import SendError
from briefing.send.credentials import secret_problem
from briefing.send.message import verify_unsubscribe_token
from briefing.send.states import DeliveryState
from briefing.send.transports import SmtpSettings, SmtpTransport
from pausing import reached
from send_cli import (
    SECRET,
    SLUG,
    built_project,
    invoke,
    ledger_states,
    outbox_args,
    run,
    smtp_args,
    start,
    write_subscribers,
)

from smtp_server import SmtpServer


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return built_project(example, monkeypatch)


def received(server: SmtpServer) -> Counter[str]:
    with server.recorder.lock:
        return Counter(r for m in server.recorder.messages for r in m.rcpt_tos)


def outbox_recipients(root: Path) -> Counter[str]:
    parser = BytesParser(policy=policy.default)
    found: Counter[str] = Counter()
    for path in (root / "outbox" / SLUG).glob("*.eml"):
        found[parser.parsebytes(path.read_bytes())["To"].addresses[0].addr_spec] += 1
    return found


# ---------------------------------------------------------------------------
# 1. one send per issue at a time


def test_two_smtp_sends_of_one_issue_deliver_each_message_once(project: Path) -> None:
    subscribers, addresses = write_subscribers(project, 20)
    with SmtpServer() as server:
        arrived, release = threading.Event(), threading.Event()
        original = server.recorder.handle_DATA
        calls = 0

        async def held_data(*args: Any) -> str:
            nonlocal calls
            calls += 1
            if calls == 1:  # the first run's first message stays in flight
                arrived.set()
                await asyncio.get_running_loop().run_in_executor(None, release.wait, 60)
            return await original(*args)

        server.recorder.handle_DATA = held_data  # type: ignore[method-assign,assignment]
        first = start(smtp_args(project, server.port, subscribers))
        try:
            assert arrived.wait(60), "the first send never reached DATA"
            second = run(smtp_args(project, server.port, subscribers))
        finally:
            release.set()
            out, err = first.communicate(timeout=120)
        assert first.returncode == 0, out + err
    assert second.returncode == 1
    assert f"issue {SLUG} is being sent by process {first.pid} since " in second.stderr
    assert "Traceback" not in second.stderr
    assert received(server) == Counter({a: 1 for a in addresses})


def test_two_outbox_sends_one_waits_and_a_killed_send_leaves_no_lock(
    project: Path, pause: Path
) -> None:
    subscribers, addresses = write_subscribers(project, 30)
    env = {"BRIEFING_PAUSE_AT": f"send-locked:{pause}"}
    first = start(outbox_args(project, subscribers), **env)
    pid = reached(pause)
    second = run(outbox_args(project, subscribers))
    with open(pause / "go", "w") as go:
        go.write("go\n")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert second.returncode == 1, second.stdout
    assert f"issue {SLUG} is being sent by process {pid} since " in second.stderr
    assert outbox_recipients(project) == Counter({a: 1 for a in addresses})

    # A send killed while it holds the lock: the kernel drops it, the next run goes ahead.
    killed = start(outbox_args(project, subscribers), **env)
    reached(pause)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=60)
    rerun = run(outbox_args(project, subscribers))
    assert rerun.returncode == 0, rerun.stderr
    assert "is being sent" not in rerun.stderr
    assert outbox_recipients(project) == Counter({a: 1 for a in addresses})


# ---------------------------------------------------------------------------
# 2. subscriber names and fields: one header-value rule at load, folding at the bytes


CONTROLS = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x1b", "\x7f", "\x85", "\t"]


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_a_control_character_in_a_name_is_refused_at_load(project: Path, char: str) -> None:
    path = project / "people.csv"
    rows = f"email,name,city\nann@example.com,Ann,Oslo\nbob@example.com,Bob{char}: x,Rome\n"
    path.write_text(rows, encoding="utf-8")
    expected = f"people.csv:3: the 'name' field contains the control character U+{ord(char):04X}"
    for args in (
        ["send", SLUG, "--transport", "outbox", "--subscribers", str(path), "--dry-run"],
        ["send", SLUG, "--transport", "outbox", "--subscribers", str(path)],
        ["audience", "import", str(path)],
    ):
        result = invoke("--project", str(project), *args)
        assert result.exit_code == 1, (args, result.output)
        assert expected in result.output, result.output
        assert "Traceback" not in result.output
    assert not (project / "outbox" / SLUG).exists()


def test_a_control_character_in_a_merge_field_is_refused_at_load(project: Path) -> None:
    path = project / "people.csv"
    path.write_text("email,name,city\nann@example.com,Ann,Os\x1elo\n", encoding="utf-8")
    result = invoke("--project", str(project), "audience", "import", str(path))
    assert result.exit_code == 1
    assert "people.csv:2: the 'city' field contains the control character U+001E" in result.output


def test_a_name_longer_than_a_header_may_be_is_refused_at_load(project: Path) -> None:
    path = project / "people.csv"
    path.write_text(f"email,name\nann@example.com,{'A' * 2000}\n", encoding="utf-8")
    result = invoke(
        "--project", str(project), "send", SLUG, "--transport", "outbox", "--subscribers", str(path)
    )
    assert result.exit_code == 1
    assert "people.csv:2: the 'name' field is 2000 bytes long" in result.output


LONG_NAMES = {
    "one-word@example.com": "x" * 890,
    "words@example.com": "word " * 170,
    "accents@example.com": "Zoë Ångström " * 50,
    "quoted@example.com": 'Ada "the Countess", Lovelace ' * 25,
    "mixed@example.com": "Ada " + "é" * 400,
}


def _header_lines(raw: bytes, name: bytes) -> list[bytes]:
    """The physical lines of one header (the field line and its continuation lines)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(n for n, line in enumerate(head) if line.startswith(name + b":"))
    end = start + 1
    while end < len(head) and head[end][:1] in (b" ", b"\t"):
        end += 1
    return head[start:end]


def test_long_names_are_folded_into_short_lines_and_read_back_whole(project: Path) -> None:
    path = project / "people.csv"
    path.write_text(
        "email,name\n"
        + "".join(f'{a},"{n.replace(chr(34), chr(34) * 2)}"\n' for a, n in LONG_NAMES.items()),
        encoding="utf-8",
    )
    result = invoke(
        "--project", str(project), "send", SLUG, "--transport", "outbox", "--subscribers", str(path)
    )
    assert result.exit_code == 0, result.output
    parser = BytesParser(policy=policy.default)
    seen = set()
    for eml in (project / "outbox" / SLUG).glob("*.eml"):
        raw = eml.read_bytes()
        lines = _header_lines(raw, b"To")
        assert all(len(line) <= 78 for line in lines), [len(line) for line in lines]
        assert all(line.isascii() and line.strip() for line in lines)
        to = parser.parsebytes(raw)["To"]
        assert len(to.addresses) == 1
        address = to.addresses[0].addr_spec
        # Decoded as RFC 2047 6.2 says (white space between encoded-words dropped); the
        # stdlib's structured-header parser keeps it, mail clients do not.
        value = b"".join(lines).decode("ascii").removeprefix("To:")
        name, decoded = parseaddr(str(make_header(decode_header(value))))
        assert (name, decoded) == (" ".join(LONG_NAMES[address].split()), address)
        seen.add(address)
    assert seen == set(LONG_NAMES)


# ---------------------------------------------------------------------------
# 3. SMTP: a deadline per message, only a clear reply after DATA, a circuit breaker


class RawServer:
    """A few lines of SMTP on a loopback socket, misbehaving where `mode` says:
    'trickle-greeting', 'trickle-rcpt' or 'trickle-data' send one byte of a reply at a
    time and never finish it (until the test ends); 'garble' answers the final '.'
    with a line that has no reply code."""

    def __init__(self, mode: str, pipelining: bool = True) -> None:
        self.mode, self.pipelining = mode, pipelining
        self.done = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.messages = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not
        self.sock.close()
        self.thread.join(timeout=30)

    def _trickle(self, conn: socket.socket) -> None:
        # One byte every 0.2 s, for at most 30 s: a client without a deadline waits it out.
        for _ in range(150):
            if self.done.wait(0.2):
                return
            conn.sendall(b"2")

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            # OSError: the client went away
            with conn, conn.makefile("rb") as lines, contextlib.suppress(OSError):
                self._session(conn, lines)

    def _session(self, conn: socket.socket, lines: Any) -> None:
        if self.mode == "trickle-greeting":
            return self._trickle(conn)
        conn.sendall(b"220 raw ESMTP\r\n")
        for line in lines:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                extra = b"250-PIPELINING\r\n" if self.pipelining else b""
                conn.sendall(b"250-raw\r\n" + extra + b"250 8BITMIME\r\n")
            elif verb == b"RCPT" and self.mode == "trickle-rcpt":
                return self._trickle(conn)
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                for body in lines:
                    if body == b".\r\n":
                        break
                self.messages += 1
                if self.mode == "trickle-data":
                    return self._trickle(conn)
                conn.sendall(b"2x0 Ok: queued as 4F2A\r\n")  # 'garble'
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return None
            else:
                conn.sendall(b"250 OK\r\n")
        return None


def _transport(port: int, deadline: float = 1.0) -> SmtpTransport:
    return SmtpTransport(SmtpSettings("127.0.0.1", port, "none", timeout=20, deadline=deadline))


MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_a_relay_trickling_its_last_reply_makes_the_message_unknown(pipelining: bool) -> None:
    handed: list[bool] = []
    with RawServer("trickle-data", pipelining) as server:
        transport = _transport(server.port)
        result = transport.deliver(
            "a@example.com", "b@example.com", MESSAGE, lambda: handed.append(True)
        )
        transport.close()
    assert handed == [True]
    assert result.state == DeliveryState.UNKNOWN
    assert result.reply == "no answer within 1 s"


def test_a_relay_trickling_before_the_message_defers_it() -> None:
    with RawServer("trickle-rcpt", pipelining=False) as server:
        transport = _transport(server.port)
        result = transport.deliver("a@example.com", "b@example.com", MESSAGE, lambda: None)
        transport.close()
    assert result.state == DeliveryState.DEFERRED
    assert result.reply == "no answer within 1 s"


def test_a_relay_trickling_its_greeting_is_one_clear_error() -> None:
    with RawServer("trickle-greeting") as server:
        transport = _transport(server.port)
        with pytest.raises(SendError, match="cannot connect to the SMTP server"):
            transport.deliver("a@example.com", "b@example.com", MESSAGE, lambda: None)
        transport.close()


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-by-one"])
def test_a_garbled_reply_to_the_message_is_unknown_not_retried(pipelining: bool) -> None:
    with RawServer("garble", pipelining) as server:
        transport = _transport(server.port, deadline=30)
        result = transport.deliver("a@example.com", "b@example.com", MESSAGE, lambda: None)
        transport.close()
    assert server.messages == 1
    assert result.state == DeliveryState.UNKNOWN
    assert result.reply.startswith("unclear reply to the message: ")


def test_a_garbled_reply_over_smtp_sends_one_copy_in_any_number_of_runs(project: Path) -> None:
    path = project / "people.csv"
    path.write_text("email\nann@example.com\ngarble@example.com\nbob@example.com\n")
    with SmtpServer() as server:
        for _ in range(2):
            result = invoke(*smtp_args(project, server.port, path))
            assert "Traceback" not in result.output
    assert received(server) == Counter(
        {"ann@example.com": 1, "garble@example.com": 1, "bob@example.com": 1}
    )
    assert ledger_states(project)["garble@example.com"] == "unknown"


def test_a_relay_refusing_everyone_trips_the_breaker_and_suppresses_nobody(
    project: Path,
) -> None:
    subscribers, addresses = write_subscribers(project, 40)
    with SmtpServer() as server:
        server.recorder.refuse_all = "550 5.1.1 <someone@example.com>: Recipient unknown"
        result = invoke(*smtp_args(project, server.port, subscribers))
        assert result.exit_code == 1, result.output
        assert "stopped: the relay refused" in result.output
        assert "(550 5.1.1: 5.1.1 <someone@example.com>: Recipient unknown)" in result.output
        states = Counter(ledger_states(project).values())
        assert states["failed"] == 0 and states["deferred"] >= 16, states
        assert states["deferred"] < 40  # stopped early: the rest were never tried
        # The relay is fixed: every subscriber is still wanted and gets the issue once.
        server.recorder.refuse_all = ""
        result = invoke(*smtp_args(project, server.port, subscribers))
        assert result.exit_code == 0, result.output
    assert received(server) == Counter({a: 1 for a in addresses})


def test_scattered_bounces_do_not_trip_the_breaker(project: Path) -> None:
    path = project / "people.csv"
    # Every third is refused (550 5.1.1): a third of the window, not most of it.
    rows = "".join(
        f"bounce@example{n}.com\nuser{n}@example.com\nuser{n}@example.org\n" for n in range(10)
    )
    path.write_text("email\n" + rows)
    with SmtpServer() as server:
        result = invoke(*smtp_args(project, server.port, path))
    assert "stopped" not in result.output, result.output
    assert sum(received(server).values()) == 20


# ---------------------------------------------------------------------------
# 6. what a server said is printed without its control characters


def test_status_prints_a_relay_reply_without_terminal_escapes(project: Path) -> None:
    path = project / "people.csv"
    path.write_text("email\nann@example.com\nansi@example.com\n")
    with SmtpServer() as server:
        invoke(*smtp_args(project, server.port, path))
    result = invoke("--project", str(project), "status", SLUG)
    assert result.exit_code == 0, result.output
    assert "ansi@example.com" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b[31mrefused" in result.output


def test_smtp_deadline_in_briefing_toml_ends_a_trickling_send(project: Path) -> None:
    toml = project / "briefing.toml"
    toml.write_text(toml.read_text() + "\n[smtp]\ndeadline = 1\n")
    path = project / "people.csv"
    path.write_text("email\nann@example.com\n")
    with RawServer("trickle-data") as server:
        result = invoke(*smtp_args(project, server.port, path))
    assert "Traceback" not in result.output
    assert ledger_states(project) == {"ann@example.com": "unknown"}


# ---------------------------------------------------------------------------
# 4. two spellings of one address are one recipient


def test_addresses_differing_only_in_case_get_one_message(project: Path) -> None:
    path = project / "people.csv"
    path.write_text(
        "email,name\nAda@example.com,Ada\nada@EXAMPLE.com,Ada again\nbob@example.com,Bob\n"
    )
    with SmtpServer() as server:
        result = invoke(*smtp_args(project, server.port, path))
        assert result.exit_code == 0, result.output
    assert received(server) == Counter({"Ada@example.com": 1, "bob@example.com": 1})
    assert ledger_states(project) == {"Ada@example.com": "sent", "bob@example.com": "sent"}


def test_the_store_holding_both_spellings_sends_once(project: Path) -> None:
    first, second = project / "first.csv", project / "second.csv"
    first.write_text("email\nAda@example.com\n")
    second.write_text("email\nada@example.com\n")
    for path in (first, second):  # two imports: the store keeps both spellings
        result = invoke("--project", str(project), "audience", "import", str(path))
        assert result.exit_code == 0, result.output
    result = invoke("--project", str(project), "send", SLUG, "--transport", "outbox")
    assert result.exit_code == 0, result.output
    to = outbox_recipients(project)  # the example's subscribers, and one Ada
    assert [n for a, n in to.items() if a.lower() == "ada@example.com"] == [1]
    states = ledger_states(project)
    assert [s for a, s in states.items() if a.lower() == "ada@example.com"] == ["sent"]


# ---------------------------------------------------------------------------
# 5. tokens and secrets


def test_a_non_ascii_token_is_simply_not_genuine() -> None:
    for token in ("é", "YWRh.é", "\u2028.x", "ada\udcff.x"):
        assert verify_unsubscribe_token(SECRET.encode(), "list", token) is None


@pytest.mark.parametrize(
    "secret", ["aaaaaaaaaaaaaaaa", "abababababababab", "passwordpassword", "short"]
)
def test_a_weak_secret_is_refused_in_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", secret)
    path, _ = write_subscribers(project, 2)
    result = invoke(
        "--project", str(project), "send", SLUG, "--transport", "outbox", "--subscribers", str(path)
    )
    assert result.exit_code == 1
    assert "BRIEFING_UNSUBSCRIBE_SECRET is" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (project / "outbox" / SLUG).exists()


def test_random_secrets_pass() -> None:
    for _ in range(500):
        assert secret_problem(secrets.token_hex(8)) is None
        assert secret_problem(secrets.token_urlsafe(12)) is None


def test_a_line_break_in_the_unsubscribe_url_is_refused_at_config_load(project: Path) -> None:
    toml = project / "briefing.toml"
    text = toml.read_text()
    assert "unsubscribe_url = " in text
    toml.write_text(
        re.sub(
            r'unsubscribe_url = "',
            r'unsubscribe_url = "https://x.example/u\\r\\nBcc: a@b.example#',
            text,
        )
    )
    path, _ = write_subscribers(project, 2)
    result = invoke(
        "--project", str(project), "send", SLUG, "--transport", "outbox", "--subscribers", str(path)
    )
    assert result.exit_code == 1
    assert "email.unsubscribe_url" in result.output
    assert "U+000D" in result.output
    assert not (project / "outbox" / SLUG).exists()
