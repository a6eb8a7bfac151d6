"""`briefing send` under faults: killed processes, Ctrl-C, TLS, AUTH, no server, full disk, DKIM.

Runs whose behaviour depends on the process dying are real subprocesses against a
real SMTP server (tests/smtp_server.py) living in the test process; the rest run
in-process through click's CliRunner.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

import briefing.send.transports as transports
from briefing.send.transports import OutboxTransport
from send_cli import (
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

from smtp_server import SmtpServer, free_port

HELPERS = Path(__file__).resolve().parent / "send_helpers"
IN_FLIGHT = re.compile(r"(\d+) message\(s\) were in flight when a previous run stopped")
SENT_LINE = re.compile(r"^Sent (\d+) via ", re.MULTILINE)


# ---------------------------------------------------------------------------
# helpers


@pytest.fixture
def project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return built_project(example, monkeypatch)


def received(server: SmtpServer) -> Counter[str]:
    """Messages per recipient, by RCPT; each message's To header must name its RCPT."""
    counts: Counter[str] = Counter()
    parser = BytesParser(policy=policy.default)
    with server.recorder.lock:
        messages = list(server.recorder.messages)
    for message in messages:
        assert len(message.rcpt_tos) == 1, message.rcpt_tos
        to = parser.parsebytes(message.data)["To"]
        assert [a.addr_spec for a in to.addresses] == message.rcpt_tos
        counts.update(message.rcpt_tos)
    return counts


def outbox_recipients(root: Path) -> list[str]:
    """The To address of every .eml file in the issue's outbox folder (one per file)."""
    parser = BytesParser(policy=policy.default)
    found = []
    for path in sorted((root / "outbox" / SLUG).glob("*.eml")):
        to = parser.parsebytes(path.read_bytes())["To"]
        assert len(to.addresses) == 1, path
        found.append(to.addresses[0].addr_spec)
    return found


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"send ended (exit {proc.returncode}) before {what}:\n{out}\n{err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


# ---------------------------------------------------------------------------
# 1. SIGKILL in the middle of an SMTP send


def kill_hooks(server: SmtpServer, moment: str, at: int, pid: list[int]) -> None:
    """Have the server itself SIGKILL the client at a precise moment of message `at`."""
    recorder = server.recorder
    if moment == "at-rcpt":  # the client waits for the RCPT reply: nothing handed over
        original_rcpt = recorder.handle_RCPT
        rcpts = 0

        async def handle_rcpt(*args: Any) -> str:
            nonlocal rcpts
            rcpts += 1
            if rcpts == at:
                os.kill(pid[0], signal.SIGKILL)
            return await original_rcpt(*args)

        recorder.handle_RCPT = handle_rcpt  # type: ignore[method-assign]
    elif moment == "before-reply":  # the server has the message, the client not the 250
        original_data = recorder.handle_DATA

        async def handle_data(*args: Any) -> str:
            reply = await original_data(*args)
            if len(recorder.messages) == at:
                os.kill(pid[0], signal.SIGKILL)
            return reply

        recorder.handle_DATA = handle_data  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("moment", "at"),
    [("arrived", 80), ("before-reply", 150), ("at-rcpt", 220)],
)
def test_sigkill_mid_smtp_send_then_rerun_delivers_at_most_once(
    project: Path, moment: str, at: int
) -> None:
    subscribers, addresses = write_subscribers(project, 300)
    pid: list[int] = []
    with SmtpServer() as server:
        kill_hooks(server, moment, at, pid)
        args = smtp_args(
            project, server.port, subscribers, "none", "--rate", "150", "--connections", "1"
        )
        proc = start(args)
        pid.append(proc.pid)
        if moment == "arrived":  # the test process kills it, whatever it is doing
            wait_until(lambda: len(server.recorder.messages) >= at, proc, f"{at} messages")
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        got_before = len(server.recorder.messages)
        assert at - 1 <= got_before < len(addresses), "the kill must land mid-send"

        before = ledger_states(project)
        in_flight = sum(state == "sending" for state in before.values())
        sent_before = sum(state == "sent" for state in before.values())
        assert in_flight <= 1
        if moment == "before-reply":
            assert before[addresses[at - 1]] == "sending"
        if moment == "at-rcpt":
            assert in_flight == 0
            assert before[addresses[at - 1]] == "queued"

        rerun = run(args)
        # 2: finished, but a message's fate is unknown and needs a look (briefing status).
        assert rerun.returncode == (2 if in_flight else 0), rerun.stdout + rerun.stderr
        no_traceback(rerun.stderr)
        counts = received(server)

    states = ledger_states(project)
    assert set(states) == set(addresses)
    assert max(counts.values()) == 1, counts.most_common(3)
    assert set(counts) <= set(addresses)
    unknown = [a for a, state in states.items() if state == "unknown"]
    assert len(unknown) == in_flight  # connections=1: at most one
    for address in addresses:
        if states[address] == "unknown":
            assert counts[address] in (0, 1)
        else:
            assert states[address] == "sent", (address, states[address])
            assert counts[address] == 1, address
    if moment == "before-reply":
        assert counts[addresses[at - 1]] == 1
    summary = rerun.stdout
    sent_now = SENT_LINE.search(summary)
    assert sent_now, summary
    assert int(sent_now.group(1)) == len(addresses) - sent_before - in_flight
    recovered = IN_FLIGHT.search(summary)
    if in_flight:
        assert recovered and int(recovered.group(1)) == in_flight, summary
        assert f"unknown {in_flight}" in summary
    else:
        assert recovered is None, summary


# ---------------------------------------------------------------------------
# 2. SIGKILL in the middle of an outbox send


@pytest.mark.parametrize(("moment", "at"), [("arrived", 80), ("mid-write", 150)])
def test_sigkill_mid_outbox_send_then_rerun_writes_each_once(
    project: Path, moment: str, at: int
) -> None:
    subscribers, addresses = write_subscribers(project, 300)
    folder = project / "outbox" / SLUG
    args = outbox_args(project, subscribers, "--rate", "150")
    if moment == "mid-write":
        proc = start(
            args, [sys.executable, str(HELPERS / "kill_mid_write.py")], KILL_AT_WRITE=str(at)
        )
    else:
        proc = start(args)

        def written() -> bool:
            return folder.is_dir() and len(list(folder.glob("*.eml"))) >= at

        wait_until(written, proc, f"{at} files")
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert at - 1 <= len(list(folder.glob("*.eml"))) < len(addresses)
    before = ledger_states(project)
    in_flight = sum(state == "sending" for state in before.values())
    if moment == "mid-write":
        # The outbox marks a batch `sending`, writes it, then marks it `sent`.
        assert 1 <= in_flight <= OutboxTransport.batch_size
        assert before[addresses[at - 1]] == "sending"
        assert list(folder.glob(".*.tmp")), "the helper leaves half a temporary file"

    rerun = run(args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    no_traceback(rerun.stderr)

    files = list(folder.glob("*.eml"))
    recipients = outbox_recipients(project)
    assert len(files) == len(addresses)
    assert len(recipients) == len(set(recipients))
    assert set(recipients) == set(addresses)
    assert list(folder.glob(".*.tmp")) == []
    assert all(f.name.endswith(".eml") for f in folder.iterdir())
    states = ledger_states(project)
    assert Counter(states.values()) == {"sent": len(addresses)}
    recovered = IN_FLIGHT.search(rerun.stdout)
    if in_flight:
        assert recovered and int(recovered.group(1)) == in_flight, rerun.stdout
    else:
        assert recovered is None, rerun.stdout
    assert "unknown 0" in rerun.stdout


# ---------------------------------------------------------------------------
# 3. Ctrl-C


def test_ctrl_c_exits_1_with_resume_hint_and_rerun_completes(project: Path) -> None:
    subscribers, addresses = write_subscribers(project, 60)
    with SmtpServer() as server:
        args = smtp_args(project, server.port, subscribers, "none", "--rate", "50")
        proc = start(args)
        wait_until(lambda: len(server.recorder.messages) >= 15, proc, "15 messages")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, out + err
        # The hint is the whole command: transport, relay and list spelled out.
        assert f"send {SLUG} --transport smtp --smtp-host 127.0.0.1" in err
        assert f"--subscribers {subscribers}" in err and "again to resume" in err
        no_traceback(err)
        got = len(server.recorder.messages)
        assert got < len(addresses)
        # A clean stop: nothing left in flight, the ledger agrees with the server.
        before = ledger_states(project)
        assert Counter(before.values()) == {"sent": got, "queued": len(addresses) - got}
        summary = SENT_LINE.search(out)
        assert summary and int(summary.group(1)) == got, out

        rerun = run(args)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert IN_FLIGHT.search(rerun.stdout) is None
        counts = received(server)

    assert counts == dict.fromkeys(addresses, 1)
    assert Counter(ledger_states(project).values()) == {"sent": len(addresses)}


def test_ctrl_c_waits_for_the_message_in_flight(project: Path) -> None:
    """SIGINT arrives while the server holds back the reply to message 10 for 0.5 s:
    the send must wait for that reply, record it as sent and only then stop."""
    subscribers, addresses = write_subscribers(project, 30)
    held = addresses[9]
    pid: list[int] = []
    with SmtpServer() as server:
        recorder = server.recorder
        original_data = recorder.handle_DATA

        async def handle_data(*args: Any) -> str:
            reply = await original_data(*args)
            if len(recorder.messages) == 10:
                os.kill(pid[0], signal.SIGINT)
                await asyncio.sleep(0.5)
            return reply

        recorder.handle_DATA = handle_data  # type: ignore[method-assign]
        args = smtp_args(project, server.port, subscribers, "none", "--rate", "50")
        proc = start(args)
        pid.append(proc.pid)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, out + err
        before = ledger_states(project)
        assert "sending" not in before.values()
        assert before[held] == "sent"

        rerun = run(args)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        counts = received(server)
    assert Counter(ledger_states(project).values()) == {"sent": len(addresses)}
    assert all(counts[a] == 1 for a in addresses)


def test_ctrl_c_between_messages_starts_no_new_one(project: Path) -> None:
    """At --rate 2 the worker waits 0.5 s between messages; Ctrl-C lands 0.25 s
    after the third message was accepted, when nothing is in flight."""
    subscribers, addresses = write_subscribers(project, 10)
    pid: list[int] = []
    with SmtpServer() as server:
        recorder = server.recorder
        original_data = recorder.handle_DATA

        async def handle_data(*args: Any) -> str:
            reply = await original_data(*args)
            if len(recorder.messages) == 3:
                asyncio.get_running_loop().call_later(0.25, os.kill, pid[0], signal.SIGINT)
            return reply

        recorder.handle_DATA = handle_data  # type: ignore[method-assign]
        proc = start(smtp_args(project, server.port, subscribers, "none", "--rate", "2"))
        pid.append(proc.pid)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, out + err
        assert "again to resume" in err
        assert len(recorder.messages) == 3
    states = ledger_states(project)
    assert [states[a] for a in addresses] == ["sent"] * 3 + ["queued"] * 7


# ---------------------------------------------------------------------------
# 4. TLS with a certificate from a private CA


@pytest.fixture
def tls() -> tuple[Any, ssl.SSLContext]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return ca, context


def trust(root: Path, ca: Any) -> None:
    """Write the CA into the project and name it in [smtp] ca_file."""
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    with (root / "briefing.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[smtp]\nca_file = "ca.pem"\n')


def test_starttls_refuses_an_untrusted_certificate(
    project: Path, tls: tuple[Any, ssl.SSLContext]
) -> None:
    _, context = tls
    subscribers, _ = write_subscribers(project, 4)
    with SmtpServer(tls=context) as server:
        result = invoke(*smtp_args(project, server.port, subscribers, "starttls"))
        assert server.recorder.messages == []
    assert result.exit_code == 1, result.output
    assert "not trusted" in result.output
    assert "ca_file" in result.output
    assert result.output.strip().count("\n") == 0, result.output
    no_traceback(result.output)
    assert not {"sent", "sending", "unknown"} & set(ledger_states(project).values())


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_the_ca_trusted_delivers(
    project: Path, tls: tuple[Any, ssl.SSLContext], security: str
) -> None:
    ca, context = tls
    trust(project, ca)
    subscribers, addresses = write_subscribers(project, 4)
    with SmtpServer(tls=context, implicit_tls=security == "ssl") as server:
        result = invoke(*smtp_args(project, server.port, subscribers, security))
        counts = received(server)
    assert result.exit_code == 0, result.output
    assert f"({security})" in result.output
    assert counts == dict.fromkeys(addresses, 1)
    assert Counter(ledger_states(project).values()) == {"sent": len(addresses)}


# ---------------------------------------------------------------------------
# 5. AUTH


def test_auth_over_starttls(
    project: Path, tls: tuple[Any, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, context = tls
    trust(project, ca)
    subscribers, addresses = write_subscribers(project, 3)
    wrong = "wr0ng-Passw0rd-7c1e"
    with SmtpServer(tls=context, auth=("editor", "s3cret")) as server:
        auths = answering_authenticator(server)
        monkeypatch.setenv("BRIEFING_SMTP_USER", "editor")
        monkeypatch.setenv("BRIEFING_SMTP_PASSWORD", wrong)
        refused = invoke(*smtp_args(project, server.port, subscribers, "starttls"))
        assert auths, "the wrong password reached the server and was refused there"
        assert server.recorder.messages == []

        monkeypatch.setenv("BRIEFING_SMTP_PASSWORD", "s3cret")
        accepted = invoke(*smtp_args(project, server.port, subscribers, "starttls"))
        counts = received(server)

    assert refused.exit_code == 1, refused.output
    assert "login refused" in refused.output
    assert wrong not in refused.output
    no_traceback(refused.output)
    assert accepted.exit_code == 0, accepted.output
    assert "s3cret" not in accepted.output
    assert counts == dict.fromkeys(addresses, 1)


def answering_authenticator(server: SmtpServer, require_tls: bool = True) -> list[str]:
    """Record every AUTH the server is sent, and answer a refused one with 535.

    tests/smtp_server.py's Authenticator returns AuthResult(success=False), whose
    `handled` defaults to True in aiosmtpd: the server then sends no reply at all
    and the client waits for its whole timeout. handled=False makes it say 535.
    With require_tls=False the server offers AUTH on a plain connection too.
    """
    kwargs = server.controller.SMTP_kwargs
    check = kwargs["authenticator"]
    seen: list[str] = []

    def authenticator(
        smtp: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        seen.append(mechanism)
        result = check(smtp, session, envelope, mechanism, auth_data)
        return result if result.success else AuthResult(success=False, handled=False)

    kwargs.update(authenticator=authenticator, auth_require_tls=require_tls)
    return seen


def test_password_is_never_sent_unencrypted(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subscribers, addresses = write_subscribers(project, 3)
    monkeypatch.setenv("BRIEFING_SMTP_USER", "editor")
    monkeypatch.setenv("BRIEFING_SMTP_PASSWORD", "s3cret")
    with SmtpServer(auth=("editor", "s3cret")) as server:
        auths = answering_authenticator(server, require_tls=False)
        result = invoke(*smtp_args(project, server.port, subscribers, "none"))
        assert auths == []
        assert server.recorder.messages == []
        # The control: with insecure AUTH allowed, the same server does see the login.
        with (project / "briefing.toml").open("a", encoding="utf-8") as handle:
            handle.write("\n[smtp]\nallow_insecure_auth = true\n")
        allowed = invoke(*smtp_args(project, server.port, subscribers, "none"))
        assert allowed.exit_code == 0, allowed.output
        assert len(auths) == 1
        assert len(server.recorder.messages) == len(addresses)
    assert result.exit_code == 1, result.output
    assert "refusing to send the password" in result.output
    assert "without encryption" in result.output
    assert "s3cret" not in result.output
    no_traceback(result.output)


# ---------------------------------------------------------------------------
# 6. Nobody listening


def test_unreachable_server_is_one_clear_line_and_nothing_is_marked(project: Path) -> None:
    subscribers, addresses = write_subscribers(project, 5)
    port = free_port()
    failed = run(smtp_args(project, port, subscribers, "none"))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert f"127.0.0.1:{port}" in lines[0]
    no_traceback(failed.stderr)
    states = ledger_states(project)
    assert not {"sent", "sending", "unknown"} & set(states.values()), states

    with SmtpServer() as server:
        later = run(smtp_args(project, server.port, subscribers, "none"))
        counts = received(server)
    assert later.returncode == 0, later.stdout + later.stderr
    assert counts == dict.fromkeys(addresses, 1)
    assert Counter(ledger_states(project).values()) == {"sent": len(addresses)}


# ---------------------------------------------------------------------------
# 7. Full disk while writing the outbox


def test_full_disk_stops_with_advice_and_rerun_finishes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribers, addresses = write_subscribers(project, 12)
    good = 5
    real_write = transports.atomic_write
    writes = 0

    def filling_write(target: Path, data: bytes, durable: bool = False, **kw: bool) -> None:
        nonlocal writes
        if writes >= good:
            raise OSError(errno.ENOSPC, "No space left on device")
        writes += 1
        real_write(target, data, durable, **kw)

    monkeypatch.setattr(transports, "atomic_write", filling_write)
    full = invoke(*outbox_args(project, subscribers))
    assert full.exit_code == 1, full.output
    assert f"outbox/{SLUG}" in full.output
    assert "free space" in full.output
    assert "run the same command again" in full.output
    assert "No space left on device" in full.output
    no_traceback(full.output)
    assert Counter(ledger_states(project).values())["sent"] == good
    assert len(outbox_recipients(project)) == good

    monkeypatch.setattr(transports, "atomic_write", real_write)
    rerun = invoke(*outbox_args(project, subscribers))
    assert rerun.exit_code == 0, rerun.output
    recipients = outbox_recipients(project)
    assert sorted(recipients) == sorted(addresses)
    assert list((project / "outbox" / SLUG).glob(".*.tmp")) == []
    assert Counter(ledger_states(project).values()) == {"sent": len(addresses)}


# ---------------------------------------------------------------------------
# 8. DKIM


def dkim_key_pair(folder: Path) -> tuple[Path, bytes]:
    """A 2048-bit RSA private key file and its public key as DER."""
    key = folder / "dkim.pem"
    if shutil.which("openssl"):
        subprocess.run(
            ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
        )
        der = subprocess.run(
            ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        return key, der
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        pytest.skip("neither openssl nor the cryptography package is available")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, der


def test_dkim_signature_verifies_and_covers_the_unsubscribe_headers(project: Path) -> None:
    dkim = pytest.importorskip("dkim")
    _, der = dkim_key_pair(project)
    with (project / "briefing.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[dkim]\nprivate_key = "dkim.pem"\nselector = "brief"\n')
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    lookups: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        lookups.append(name)
        return record if name.rstrip(b".") == b"brief._domainkey.briefing.example.com" else None

    subscribers, addresses = write_subscribers(project, 3)
    result = invoke(*outbox_args(project, subscribers))
    assert result.exit_code == 0, result.output
    files = sorted((project / "outbox" / SLUG).glob("*.eml"))
    assert len(files) == len(addresses)
    parser = BytesParser(policy=policy.default)
    for path in files:
        data = path.read_bytes()
        assert data.startswith(b"DKIM-Signature:")
        assert dkim.verify(data, dnsfunc=dns), path
        signature = str(parser.parsebytes(data)["DKIM-Signature"])
        tags = dict(
            part.strip().split("=", 1) for part in re.sub(r"\s+", "", signature).split(";") if part
        )
        assert tags["d"] == "briefing.example.com"
        assert tags["s"] == "brief"
        signed = tags["h"].lower().split(":")
        assert "list-unsubscribe" in signed
        assert "list-unsubscribe-post" in signed

        head, sep, body = data.partition(b"\r\n\r\n")
        # The header may be folded after its colon (a long URL gets a line of its own).
        assert re.search(rb"^List-Unsubscribe:(\r\n)? <https://", head, re.M)
        target = b"<https://briefing.example.com/u/"
        assert head.count(target) == 1
        moved = head.replace(target, b"<https://evil.example.net/u/")
        assert not dkim.verify(moved + sep + body, dnsfunc=dns)
        post = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
        assert head.count(post) == 1
        dropped = head.replace(b"\r\n" + post, b"")
        assert dropped != head
        assert not dkim.verify(dropped + sep + body, dnsfunc=dns)
    assert lookups, "the DNS function was never asked"
