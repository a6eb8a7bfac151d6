"""A real SMTP server on loopback (aiosmtpd) that misbehaves on cue, for the send tests.

The recipient's local part picks the behaviour:
  tempfail<N>@…   451 4.3.0 for the first N tries, then accepted
  throttle<N>@…   421 4.7.0 (closing) for the first N tries, then accepted
  full<N>@…       552 5.2.2 (mailbox full) for the first N tries, then accepted
  bounce@…        550 5.1.1 at RCPT (no such user)
  reject@…        554 5.7.1 after DATA (content refused)
  drop@…          the connection is closed after DATA, before any reply
  garble@…        the message is taken, but the reply to its final '.' has no code
  ansi@…          550 5.7.1 at RCPT, the reply holding terminal escape sequences
  slow@…          accepted, the reply to its DATA 2.5 s late
Everything else is accepted with 250, unless Recorder.refuse_all holds a reply that
every RCPT gets (a relay that refuses everyone).
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    # aiosmtpd's Controller(port=0) fails: pick a free port first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the raw bytes as they crossed the wire (after dot-unstuffing)


@dataclass
class Recorder:
    messages: list[Received] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: int = 0
    pipelining: bool = True  # advertised, as real relays do (RFC 2920)
    refuse_all: str = ""  # e.g. "550 5.1.1 No such user": every RCPT gets it
    rcpt_at: dict[str, float] = field(default_factory=dict)  # last accepted RCPT's time

    def for_recipient(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]

    def _count(self, address: str) -> int:
        with self.lock:
            self.tries[address] = self.tries.get(address, 0) + 1
            return self.tries[address]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        local = address.split("@")[0]
        if self.refuse_all:
            return self.refuse_all
        if local == "bounce":
            return "550 5.1.1 No such user here"
        if local == "ansi":
            return "550 5.7.1 \x1b[2J\x1b[31mrefused\x1b[0m \x1b]0;owned\x07 bye"
        match = re.fullmatch(r"(tempfail|throttle|full)(\d+)", local)
        if match and self._count(address) <= int(match.group(2)):
            if match.group(1) == "throttle":
                return "421 4.7.0 Too many messages, slow down"
            if match.group(1) == "full":  # permanent code, temporary status (RFC 3463 3.3)
                return "552 5.2.2 Mailbox full"
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        self.rcpt_at[address] = time.time()
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        local = envelope.rcpt_tos[0].split("@")[0]
        if local == "reject":
            return "554 5.7.1 Message refused"
        if local == "slow":
            await asyncio.sleep(2.5)
        if local == "drop":
            assert server.transport is not None
            server.transport.close()
            return "250 never seen"
        with self.lock:
            self.messages.append(
                Received(
                    str(envelope.mail_from),
                    list(envelope.rcpt_tos),
                    bytes(envelope.original_content or b""),
                )
            )
        if local == "garble":
            return "2.0.0 Ok: queued as 4F2A"  # no reply code: the fate is unknown
        return "250 2.0.0 Queued"

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd reads commands in order, so it can take them piped
            responses.insert(-1, "250-PIPELINING")
        return responses


class Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        # handled=False: aiosmtpd then sends the failure reply itself (else the client hangs).
        return AuthResult(success=ok, handled=False)


class SmtpServer:
    """Starts on a free loopback port; optionally STARTTLS or implicit TLS, and AUTH."""

    def __init__(
        self,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        auth: tuple[str, str] | None = None,
        pipelining: bool = True,
    ) -> None:
        self.recorder = Recorder(pipelining=pipelining)
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if auth:
            kwargs.update(authenticator=Authenticator(*auth), auth_require_tls=True)
        if tls and not implicit_tls:
            kwargs.update(tls_context=tls, require_starttls=False)
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=tls if implicit_tls else None,
            server_hostname="localhost",
            **kwargs,
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
