"""What the classifier says about a message: its kind, the events for the audience, and
the context (settings and token checks) it reads messages with."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import errors
from email.header import decode_header, make_header
from enum import Enum


class Kind(Enum):
    BOUNCED = "bounced"
    SOFT_BOUNCED = "soft-bounced"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    AUTO_REPLY = "auto-reply"
    IGNORED = "ignored"
    MALFORMED = "malformed"


ACTIONS = (Kind.BOUNCED, Kind.SOFT_BOUNCED, Kind.COMPLAINED, Kind.UNSUBSCRIBED)


@dataclass(frozen=True)
class Event:
    kind: Kind
    address: str
    issue: str | None = None
    code: str = ""
    detail: str = ""
    # The address came from a signed token (VERP or unsubscribe): we mailed it, so it
    # is suppressed even when the audience store does not list it (a one-off list).
    signed: bool = False


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    note: str  # one line: what the message is, or why it was left alone
    events: tuple[Event, ...] = ()


def _none(_: str) -> None:
    return None


@dataclass(frozen=True)
class Context:
    """What the publication's settings tell the classifier."""

    bounce_address: str = ""  # VERP base, e.g. bounces@example.com
    domain: str = ""  # Message-IDs of our issues end in @domain
    unsubscribe_url: str = ""  # with {token}
    resolve_verp: Callable[[str], tuple[str, str] | None] = field(default=_none)
    verify_unsubscribe: Callable[[str], str | None] = field(default=_none)


_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def valid_address(address: str) -> bool:
    return len(address) <= 254 and bool(_ADDRESS.match(address))


def header_text(value: object) -> str | None:
    """A header as text; None when it uses a charset Python does not know."""
    try:
        return str(make_header(decode_header(str(value or ""))))
    except (LookupError, UnicodeError, errors.HeaderParseError):
        return None
