"""Where messages go: files in the outbox, or an SMTP relay.

A transport delivers one message and says what happened as a Result; it calls
`handover()` at the last moment before the message may be accepted, so the
ledger can tell "never sent" from "maybe sent" after a crash.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from briefing.errors import SendError
from briefing.output import atomic_write, sync_folder
from briefing.send.replies import classify
from briefing.send.states import DeliveryState

log = logging.getLogger("briefing")

Handover = Callable[[], None]


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
        result = self.write(recipient, message)
        self.sync()
        return result

    # Batches (see dispatch): many write()s, then one sync() before the ledger says sent.
    batch_size = 64

    def write(self, recipient: str, message: bytes, return_path: str = "") -> Result:
        """Write one message durably; its name in the folder is durable after sync().
        A return path is written as the Return-Path field final delivery would add
        (RFC 5321 4.4), so the file shows where its bounces go."""
        path = self.path_for(recipient)
        if return_path:
            message = f"Return-Path: <{return_path}>".encode() + b"\r\n" + message
        try:
            atomic_write(path, message, durable=True, sync_dir=False)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                raise SendError(
                    f"cannot write to {self.folder}: {exc.strerror}; free space"
                    " or fix permissions, then run the same command again"
                ) from None
            raise
        return Result(DeliveryState.SENT, reply=path.name)

    def sync(self) -> None:
        sync_folder(self.folder)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "starttls", "ssl" or "none"
    username: str = ""
    password: str = field(default="", repr=False)  # never in a log or a traceback
    allow_insecure_auth: bool = False
    ca_file: str = ""  # extra CA to trust, e.g. a relay's self-signed certificate
    timeout: float = 30.0
    local_hostname: str | None = None


def dot_stuffed(message: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with '.' gets one more. Our messages end in CRLF.
    (bytes.replace, where smtplib runs a regex over the whole message.)"""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


# Reply codes that mean "slow down" rather than "this message is bad".
THROTTLE_CODES = {421, 451, 454}


class SmtpTransport:
    """One SMTP session, reused for many messages and reopened when the server drops it."""

    idempotent = False

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

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
                    s.host,
                    s.port,
                    timeout=s.timeout,
                    context=self._context(),
                    local_hostname=s.local_hostname,
                )
            else:
                smtp = smtplib.SMTP(
                    s.host, s.port, timeout=s.timeout, local_hostname=s.local_hostname
                )
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
                f"cannot connect to the SMTP server {where}: {exc}; check"
                " --smtp-host/--smtp-port and that the server is running"
            ) from None
        return smtp

    def deliver(self, sender: str, recipient: str, message: bytes, handover: Handover) -> Result:
        handed_over = False

        def mark() -> None:
            nonlocal handed_over
            handed_over = True
            handover()

        try:
            if self._smtp is None:
                self._smtp = self.connect()
            return self._transaction(self._smtp, sender, recipient, message, mark)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
            return self._refused(self._smtp, exc.smtp_code, exc.smtp_error)  # type: ignore[arg-type]
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            # Lost after the message went out, the server may have queued it (RFC 1047):
            # only a human can tell, so it is not retried on its own.
            state = DeliveryState.UNKNOWN if handed_over else DeliveryState.DEFERRED
            return Result(state, None, f"connection lost: {exc}")

    def _transaction(
        self, smtp: smtplib.SMTP, sender: str, recipient: str, message: bytes, handover: Handover
    ) -> Result:
        if smtp.has_extn("pipelining"):
            return self._pipelined(smtp, sender, recipient, message, handover)
        code, reply = smtp.mail(sender)
        if code != 250:
            return self._refused(smtp, code, reply)
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            # A refused recipient is the per-recipient answer sendmail() would
            # have returned in its dict; here it is simply this message's result.
            return self._refused(smtp, code, reply)
        handover()
        code, reply = smtp.data(message)
        if code != 250:
            return self._refused(smtp, code, reply, rset=False)
        return Result(DeliveryState.SENT, code, reply.decode("utf-8", "replace"))

    def _pipelined(
        self, smtp: smtplib.SMTP, sender: str, recipient: str, message: bytes, handover: Handover
    ) -> Result:
        """RFC 2920: MAIL, RCPT and DATA in one write, so a message costs two round trips
        instead of four."""
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode())
        mail, rcpt, data = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if data[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
            smtp.send(b".\r\n")  # DATA was accepted regardless: end it empty, then reset
            smtp.getreply()
        if mail[0] != 250:
            return self._refused(smtp, *mail)
        if rcpt[0] not in (250, 251):
            return self._refused(smtp, *rcpt)
        if data[0] != 354:
            return self._refused(smtp, *data)
        handover()
        smtp.send(dot_stuffed(message) + b".\r\n")
        code, reply = smtp.getreply()
        if code != 250:
            return self._refused(smtp, code, reply, rset=False)
        return Result(DeliveryState.SENT, code, reply.decode("utf-8", "replace"))

    def _refused(self, smtp: smtplib.SMTP, code: int, reply: bytes, rset: bool = True) -> Result:
        text = reply.decode("utf-8", "replace")
        if code == 421:  # the server is closing the session
            self._drop()
        elif rset:
            try:
                smtp.rset()
            except smtplib.SMTPException:
                self._drop()
        # The enhanced status code decides (RFC 3463): 552 5.2.2 mailbox full is retried.
        if classify(code, text) == DeliveryState.DEFERRED:
            return Result(DeliveryState.DEFERRED, code, text, throttle=code in THROTTLE_CODES)
        return Result(DeliveryState.FAILED, code, text)

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._drop()
