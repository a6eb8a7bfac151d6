"""The transport a send goes through, chosen from the request and the configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from briefing.config import Config, choices
from briefing.errors import relative
from briefing.send.credentials import Credentials
from briefing.send.transports import OutboxTransport, SmtpSettings, SmtpTransport, Transport

TRANSPORTS = choices("send.transport")  # declared once, with send.transport


@dataclass(frozen=True)
class Relay:
    """Per-send overrides of the [smtp] settings (None: as configured)."""

    host: str | None = None
    port: int | None = None
    security: str | None = None


@dataclass(frozen=True)
class Channel:
    make: Callable[[], Transport]  # one transport session per worker
    idempotent: bool  # delivering twice has the effect of once: resend what was in flight
    where: str  # for people: 'outbox/<slug>/' or 'smtp://host:port (security)'


def open_channel(
    config: Config,
    kind: str,
    folder: str,
    relay: Relay,
    credentials: Credentials,
    clean: bool = True,
) -> Channel:
    """kind: 'outbox' or 'smtp'; folder: the outbox folder's name (the slug); clean:
    remove what a killed run left half-written (a dry run leaves the folder alone)."""
    if kind == "outbox":
        path = config.root / config.send.outbox / folder
        if clean:
            OutboxTransport.clear_leftovers(path)
        return Channel(lambda: OutboxTransport(path), True, relative(path, config.root) + "/")
    smtp = config.smtp
    settings = SmtpSettings(
        host=relay.host or smtp.host,
        port=relay.port or smtp.port,
        security=relay.security or smtp.security,
        username=credentials.smtp_user,
        password=credentials.smtp_password,
        allow_insecure_auth=smtp.allow_insecure_auth,
        ca_file=str(config.root / smtp.ca_file) if smtp.ca_file else "",
        timeout=smtp.timeout,
        deadline=smtp.deadline,
    )
    where = f"smtp://{settings.host}:{settings.port} ({settings.security})"
    return Channel(lambda: SmtpTransport(settings), False, where)
