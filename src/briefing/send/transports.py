"""Where messages go: files in the outbox, or an SMTP relay.

A transport delivers one message and says what happened as a Result; it calls
`handover()` at the last moment before the message may be accepted, so the
ledger can tell "never sent" from "maybe sent" after a crash.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import logging
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from briefing.errors import SendError
from briefing.headers import CONTROL
from briefing.output import atomic_write, sync_folder
from briefing.send.message import dot_stuffed
from briefing.send.replies import classify
from briefing.send.states import DeliveryState

log = logging.getLogger("briefing")

Handover = Callable[[], None]

# Ends a message's data: CRLF . CRLF, the message's own last CRLF being the first
# (RFC 5321 4.1.1.4); our messages end in CRLF.
END_OF_DATA = b".\r\n"


@dataclass(frozen=True)
class Result:
    state: DeliveryState  # sent, deferred (temporary), failed (permanent) or unknown
    code: int | None = None
    reply: str = ""
    throttle: bool = False  # the server asked us to slow down

    @property
    def bounced(self) -> bool:
        """RFC 3463 5.1.x: the address itself is bad; never send to it again."""
        return self.state == DeliveryState.FAILED and bool(re.match(r"5\.1\.\d", self.reply))


class Transport(Protocol):
    #: True when delivering the same message twice has the effect of once.
    idempotent: bool

    def deliver(
        self, sender: str, recipient: str, message: bytes, handover: Handover
    ) -> Result: ...

    def close(self) -> None: ...


class OutboxTransport:
    """Each message becomes outbox/<slug>/<hash>.eml, written atomically and made durable.

    The name is a hash of the recipient, so it leaks no address, and rewriting it
    after a crash replaces the same file: delivering twice is delivering once.
    """

    idempotent = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # Batches (see write): the files being written, in order, by one writer thread.
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[tuple[Future[None], Result]] = []

    @staticmethod
    def clear_leftovers(folder: Path) -> None:
        """Remove temporary files of a run killed mid-write (never a delivered message).
        Call once before a send: each session's transport writes its own temporaries."""
        for stale in folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def path_for(self, recipient: str) -> Path:
        digest = hashlib.sha256(recipient.lower().encode()).hexdigest()[:24]
        return self.folder / f"{digest}.eml"

    def deliver(self, sender: str, recipient: str, message: bytes, handover: Handover) -> Result:
        handover()
        self.write(recipient, message)
        results, failure = self.sync()
        if failure is not None:
            raise failure
        return results[0]

    # Batches (see dispatch): many write()s, then one sync() before the ledger says sent.
    # While the folder's fsync and the ledger's two commits of a batch run (~5 ms), no
    # file is being written: at 256 that pause costs ~20 µs a message (at 64, ~80 µs of
    # the ~600 µs each takes). A crash leaves at most one batch to write again.
    batch_size = 256
    ahead = 4

    def write(self, recipient: str, message: bytes, return_path: str = "") -> None:
        """Start writing one message durably; sync() says when it is, and how it went.
        A return path is written as the Return-Path field final delivery would add
        (RFC 5321 4.4), so the file shows where its bounces go.

        One writer thread per transport writes and fsyncs the files in order while
        the caller renders the next messages: the fsync waits on the disk, not on us.
        At most `ahead` files wait for it, so each is written within milliseconds of
        its last check against the audience (an unsubscribe must stop it promptly)."""
        path = self.path_for(recipient)
        if return_path:
            message = f"Return-Path: <{return_path}>".encode() + b"\r\n" + message
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        if len(self._pending) >= self.ahead:
            wait([self._pending[-self.ahead][0]])  # its failure is sync()'s to report
        job = self._writer.submit(atomic_write, path, message, durable=True, sync_dir=False)
        self._pending.append((job, Result(DeliveryState.SENT, reply=path.name)))

    def sync(self) -> tuple[list[Result], Exception | None]:
        """Wait for the files written since the last sync, then make their names durable.
        Returns the results of those written, in order, up to the first that failed,
        and that failure, for the caller to raise once it recorded those before it."""
        pending, self._pending = self._pending, []
        done: list[Result] = []
        failure: OSError | None = None
        for job, result in pending:
            try:
                job.result()
            except OSError as exc:
                failure = failure or exc
            else:
                if failure is None:
                    done.append(result)
        if done:
            sync_folder(self.folder)
        if failure is not None and failure.errno in (
            errno.ENOSPC,
            errno.EDQUOT,
            errno.EROFS,
            errno.EACCES,
        ):
            return done, SendError(
                f"cannot write to {self.folder}: {failure.strerror}; free space"
                " or fix permissions, then run the same command again"
            )
        return done, failure

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown()


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "starttls", "ssl" or "none"
    username: str = ""
    password: str = field(default="", repr=False)  # never in a log or a traceback
    allow_insecure_auth: bool = False
    ca_file: str = ""  # extra CA to trust, e.g. a relay's self-signed certificate
    timeout: float = 30.0  # for each read or write
    local_hostname: str | None = None
    # For one message in all (connecting, commands, data, the last reply): a relay that
    # trickles a byte every few seconds never trips `timeout`. 0: no limit.
    deadline: float = 300.0


def server_text(said: bytes | str) -> str:
    """What a server said, safe to store and print: lines joined, and every control
    character written as an escape (a reply can hold terminal escape sequences that
    would clear or retitle the editor's terminal when `status` prints it)."""
    if isinstance(said, bytes):
        return _reply_text(said)
    return _shown(said)


@functools.lru_cache(maxsize=256)
def _reply_text(said: bytes) -> str:
    """A relay says the same few replies ("2.0.0 Ok") thousands of times in a send."""
    return _shown(said.decode("utf-8", "replace"))


def _shown(text: str) -> str:
    text = " / ".join(line.strip() for line in text.splitlines() if line.strip())
    return CONTROL.sub(_escape, text)[:1000]


def _escape(control: re.Match[str]) -> str:
    code = ord(control.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


# Pieces in one sendmsg() at most (Linux takes 1,024 buffers a call, IOV_MAX).
GATHER_MAX = 512


def _send_parts(smtp: smtplib.SMTP, parts: list[bytes]) -> None:
    """smtp.send(b"".join(parts)) without the join: a plain socket gathers the pieces
    itself (sendmsg), so a ~60 KB message is not copied once more per recipient while
    the relay reads the last one. A TLS socket cannot gather: it gets them joined."""
    sock = smtp.sock
    if sock is None or isinstance(sock, ssl.SSLSocket) or len(parts) > GATHER_MAX:
        smtp.send(b"".join(parts))
        return
    try:
        _sendmsg_all(sock, parts)
    except OSError:  # as smtplib's send() says it
        smtp.close()
        raise smtplib.SMTPServerDisconnected("Server not connected") from None


def _sendmsg_all(sock: socket.socket, parts: list[bytes]) -> None:
    """sendall() for pieces: sendmsg() may take only the first bytes (a full socket
    buffer); the rest goes in the next call, from where it stopped."""
    left = sum(map(len, parts))
    pending: list[bytes | memoryview] = list(parts)
    while (sent := sock.sendmsg(pending)) < left:
        left -= sent
        for i, part in enumerate(pending):
            if sent < len(part):
                pending = [memoryview(part)[sent:], *pending[i + 1 :]]
                break
            sent -= len(part)


# Reply codes that mean "slow down" rather than "this message is bad".
THROTTLE_CODES = {421, 451, 454}


class _Watchdog:
    """Cuts a session's socket when a message overruns its deadline: the blocked read or
    write then fails at once, and the message ends as any lost connection does. One
    thread per session, armed per message without waking it: a deadline armed later is
    at least `seconds` away, so the thread sleeps until the armed deadline or for
    `seconds`, and looks again (a wake-up per message cost a thread switch each time)."""

    def __init__(self, transport: SmtpTransport, seconds: float) -> None:
        self.transport, self.seconds, self.expired = transport, seconds, False
        self._until: float | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Watchdog:
        self.expired = False
        if self.seconds > 0:
            with self._cond:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._watch, name="smtp-deadline", daemon=True
                    )
                    self._thread.start()
                self._until = time.monotonic() + self.seconds
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._until = None

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._until is None or self._until > now:
                    self._cond.wait(self.seconds if self._until is None else self._until - now)
                    continue
                self._until, self.expired = None, True
                sock = getattr(self.transport._session, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)


class SmtpTransport:
    """One SMTP session, reused for many messages and reopened when the server drops it."""

    idempotent = False

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._session: smtplib.SMTP | None = None  # also while connecting, for the deadline
        self._watchdog = _Watchdog(self, settings.deadline)

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()  # verifies the certificate and host name
        if self.settings.ca_file:
            context.load_verify_locations(self.settings.ca_file)
        return context

    def connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    timeout=s.timeout, context=self._context(), local_hostname=s.local_hostname
                )
            else:
                smtp = smtplib.SMTP(timeout=s.timeout, local_hostname=s.local_hostname)
            self._session = smtp  # connected below, so the deadline can cut it
            # TLS checks the certificate against _host, which only the constructor sets
            # (connect() does not): set it as SMTP(host) would.
            smtp._host = s.host  # type: ignore[attr-defined]
            smtp.connect(s.host, s.port)
            if s.security == "starttls":
                smtp.starttls(context=self._context())
            smtp.ehlo_or_helo_if_needed()
            if s.username:
                if s.security == "none" and not s.allow_insecure_auth:
                    smtp.close()
                    raise SendError(
                        f"refusing to send the password to {where} without"
                        " encryption; use --smtp-security starttls or ssl (or set"
                        " smtp.allow_insecure_auth = true for a local relay)"
                    )
                smtp.login(s.username, s.password)
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                f"{where}: the server's certificate is not trusted"
                f" ({exc.verify_message}); set smtp.ca_file to trust it"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"{where}: login refused ({exc.smtp_code}); check"
                " BRIEFING_SMTP_USER and BRIEFING_SMTP_PASSWORD"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise SendError(
                f"{where} does not offer STARTTLS; use --smtp-security ssl or none"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(
                f"cannot connect to the SMTP server {where}: {server_text(str(exc))}; check"
                " --smtp-host/--smtp-port and that the server is running"
            ) from None
        return smtp

    def deliver(self, sender: str, recipient: str, message: bytes, handover: Handover) -> Result:
        return self.deliver_data(sender, recipient, dot_stuffed(message), handover)

    def deliver_data(self, sender: str, recipient: str, data: bytes, handover: Handover) -> Result:
        """deliver() for a message already dot-stuffed (MessageTemplate.data_for)."""
        return self.deliver_wire(sender, recipient, [data, END_OF_DATA], handover)

    def deliver_wire(
        self,
        sender: str,
        recipient: str,
        wire: list[bytes],
        handover: Handover,
        meanwhile: Callable[[], None] | None = None,
    ) -> Result:
        """deliver() for what follows DATA as it is, in pieces (MessageTemplate.data_parts):
        the message dot-stuffed and ended with END_OF_DATA. meanwhile: called once the
        message went out, while the server reads it and before its reply is read (the
        caller prepares its next one then)."""
        handed_over = False

        def mark() -> None:
            nonlocal handed_over
            handed_over = True
            handover()

        deadline = self._watchdog
        try:
            with deadline:
                if self._smtp is None:
                    self._smtp = self.connect()
                smtp = self._smtp
                opened = self._pipelined if smtp.has_extn("pipelining") else self._one_by_one
                refusal = opened(smtp, sender, recipient, mark)
                result = self._data(smtp, wire, meanwhile) if refusal is None else refusal
            if deadline.expired:  # what was read when the socket was cut is no reply
                raise smtplib.SMTPServerDisconnected("cut at the deadline")
            return result
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
            return self._refused(self._smtp, exc.smtp_code, exc.smtp_error)  # type: ignore[arg-type]
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            # Lost after the message went out, the server may have queued it (RFC 1047):
            # only a human can tell, so it is not retried on its own.
            state = DeliveryState.UNKNOWN if handed_over else DeliveryState.DEFERRED
            if deadline.expired:
                return Result(state, None, f"no answer within {deadline.seconds:g} s")
            return Result(state, None, f"connection lost: {server_text(str(exc))}")

    def _one_by_one(
        self, smtp: smtplib.SMTP, sender: str, recipient: str, handover: Handover
    ) -> Result | None:
        """MAIL, RCPT and DATA a reply each: the refusal, or None once DATA may follow."""
        code, reply = smtp.mail(sender)
        if code != 250:
            return self._refused(smtp, code, reply)
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            # A refused recipient is the per-recipient answer sendmail() would
            # have returned in its dict; here it is simply this message's result.
            return self._refused(smtp, code, reply)
        handover()
        # smtplib's data(), without its dot-stuffing: data is stuffed already.
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        return None

    def _pipelined(
        self, smtp: smtplib.SMTP, sender: str, recipient: str, handover: Handover
    ) -> Result | None:
        """RFC 2920: MAIL, RCPT and DATA in one write, so a message costs two round trips
        instead of four. The refusal, or None once DATA may follow."""
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode())
        mail, rcpt, go = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if go[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
            smtp.send(b".\r\n")  # DATA was accepted regardless: end it empty, then reset
            smtp.getreply()
        if mail[0] != 250:
            return self._refused(smtp, *mail)
        if rcpt[0] not in (250, 251):
            return self._refused(smtp, *rcpt)
        if go[0] != 354:
            return self._refused(smtp, *go)
        handover()
        return None

    def _data(
        self, smtp: smtplib.SMTP, wire: list[bytes], meanwhile: Callable[[], None] | None
    ) -> Result:
        """The message after the server's 354, then its final reply. meanwhile runs
        while the server reads it."""
        _send_parts(smtp, wire)
        if meanwhile is not None:
            meanwhile()
        return self._final(smtp, *smtp.getreply())

    def _final(self, smtp: smtplib.SMTP, code: int, reply: bytes) -> Result:
        """The reply to the message's final '.': once the data went out, only a clear
        2xx, 4xx or 5xx decides (RFC 5321 4.2.1). Anything else (smtplib says -1 for a
        reply it cannot parse) leaves the message of unknown fate: the server may have
        queued it, so it is never sent again on its own."""
        if 200 <= code < 300:
            return Result(DeliveryState.SENT, code, server_text(reply))
        if 400 <= code < 600:
            return self._refused(smtp, code, reply, rset=False)
        self._drop()  # the session is out of step with the server
        shown = server_text(reply)[:200]
        return Result(DeliveryState.UNKNOWN, None, f"unclear reply to the message: '{shown}'")

    def _refused(self, smtp: smtplib.SMTP, code: int, reply: bytes, rset: bool = True) -> Result:
        text = server_text(reply)
        if code == 421:  # the server is closing the session
            self._drop()
        elif rset:
            try:
                smtp.rset()
            except smtplib.SMTPException:
                self._drop()
        # The enhanced status code decides (RFC 3463): 552 5.2.2 mailbox full is retried.
        # A reply outside 4xx/5xx (a garbled one: smtplib says -1) is no refusal.
        if not 400 <= code < 600 or classify(code, text) == DeliveryState.DEFERRED:
            return Result(DeliveryState.DEFERRED, code, text, throttle=code in THROTTLE_CODES)
        return Result(DeliveryState.FAILED, code, text)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp or self._session, None
        self._session = None
        if smtp is not None:
            smtp.close()

    def close(self) -> None:
        self._watchdog.stop()
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._drop()
