"""What the audience store hands out: a person, an event of their history, a consent."""

from __future__ import annotations

import json
from dataclasses import dataclass

from briefing.audience.address import normalize

# Where a person stands (the CLI's choices come from here, without the store).
PENDING, ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED = (
    "pending",
    "active",
    "unsubscribed",
    "bounced",
    "complained",
)
STATUSES = (PENDING, ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED)


@dataclass(frozen=True)
class Member:
    """One person in the store."""

    email: str
    name: str
    fields: dict[str, str]
    status: str
    source: str
    status_at: str
    created_at: str
    consent_at: str | None = None
    consent_source: str | None = None
    consent_detail: str | None = None

    @property
    def key(self) -> str:
        return normalize(self.email)


@dataclass(frozen=True)
class Event:
    at: str
    status: str
    source: str
    detail: str


@dataclass(frozen=True)
class Consent:
    """The record a publisher keeps: when, how, and the proof (e.g. the confirmation)."""

    source: str
    detail: str


def member_from_row(row: tuple[object, ...]) -> Member:
    email, name, fields, status, source, status_at, created_at, *consent = row
    return Member(
        str(email),
        str(name),
        json.loads(str(fields)),
        str(status),
        str(source),
        str(status_at),
        str(created_at),
        *(None if c is None else str(c) for c in consent),
    )
