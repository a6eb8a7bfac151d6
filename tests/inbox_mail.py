"""Fills in the inbox fixtures (tests/fixtures/inbox/*.eml) for one subscriber and issue."""

from __future__ import annotations

import base64
import os
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from briefing.inbox.verp import verp_address, verp_token
from briefing.send.audience import normalize
from briefing.send.message import message_id, unsubscribe_token

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inbox"
SECRET = b"test-secret-0123456789"
LIST_ID = "The Briefing <briefing.example.com>"
DOMAIN = "briefing.example.com"
BOUNCES = "bounces@briefing.example.com"
UNSUBSCRIBE_URL = "https://briefing.example.com/u/{token}"


def days_ago(days: int) -> datetime:
    """Dates relative to the real clock: `briefing inbox` dates a report by its Date
    header, and a date in the future counts as now."""
    return (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0)


# What each fixture must come out as (briefing.inbox.classify.Kind values).
EXPECTED = {
    "postfix-hard": "bounced",
    "postfix-mailbox-full": "soft-bounced",
    "postfix-delayed": "ignored",
    "postfix-timeout": "soft-bounced",
    "exim-hard": "bounced",
    "exim-legacy": "bounced",
    "m365-hard": "bounced",
    "outlookcom-hard": "bounced",
    "gmail-hard": "bounced",
    "gmail-over-quota": "soft-bounced",
    "yahoo-arf": "complained",
    "arf-generic": "complained",
    "qmail": "bounced",
    "sendmail-hard": "bounced",
    "sendmail-warning": "ignored",
    "autoreply-outlook": "auto-reply",
    "autoreply-vacation": "auto-reply",
    "unsubscribe-subject": "unsubscribed",
    "unsubscribe-body": "unsubscribed",
    "unsubscribe-token": "unsubscribed",
    "junk-spam": "ignored",
    "human-reply": "ignored",
    "malformed-truncated": "malformed",
    "malformed-no-recipient": "malformed",
    "malformed-charset": "malformed",
    "malformed-subject-charset": "malformed",
}


def render(
    name: str,
    rcpt: str,
    issue: str,
    serial: int,
    when: datetime | None = None,
    secret: bytes = SECRET,
    verp: str = "",
) -> bytes:
    """The fixture as the mailbox would hold it, LF line ends. verp: the return path
    the message really used (default: the one made for rcpt and issue)."""
    token = verp_token(secret, issue, normalize(rcpt))
    unsub = unsubscribe_token(secret, LIST_ID, rcpt)
    values = {
        "rcpt": rcpt,
        "verp": verp or verp_address(BOUNCES, token),
        "msgid": message_id(issue, rcpt, DOMAIN),
        "mid": f"<fixture.{serial}.{name}@reports.example>",
        "date": format_datetime(when or days_ago(10)),
        "unsub": UNSUBSCRIBE_URL.replace("{token}", unsub),
        "token": unsub,
    }
    raw = (FIXTURES / f"{name}.eml").read_bytes().decode("latin-1")
    return string.Template(raw).safe_substitute(values).encode("latin-1")


ISSUES = ("trade-talks", "chip-rules", "mineral-deals")
# Fixture → how many subscribers get one, and the status each must end with.
_PLAN = [
    *((name, "bounced") for name in EXPECTED if EXPECTED[name] == "bounced"),
    *((name, "complained") for name in EXPECTED if EXPECTED[name] == "complained"),
    *((name, "unsubscribed") for name in EXPECTED if EXPECTED[name] == "unsubscribed"),
    *(
        (name, "active")
        for name in EXPECTED
        if EXPECTED[name] in ("ignored", "auto-reply", "malformed")
    ),
]
# Soft bounces: (fixture, issue, day of the last 30) per message, and the status after them.
_SOFT = {
    "soft3": (  # three issues within 30 days: bounced
        [("postfix-mailbox-full", 0, 1), ("gmail-over-quota", 1, 10), ("postfix-timeout", 2, 20)],
        "bounced",
    ),
    "soft2": ([("postfix-mailbox-full", 0, 3), ("gmail-over-quota", 1, 12)], "active"),
    "softsame": (  # one issue reported three times counts once
        [("postfix-timeout", 0, 2), ("postfix-timeout", 0, 3), ("postfix-mailbox-full", 0, 4)],
        "active",
    ),
    "softold": (  # the first is more than 30 days before the last
        [("gmail-over-quota", 0, -40), ("postfix-mailbox-full", 1, 5), ("postfix-timeout", 2, 9)],
        "active",
    ),
}


@dataclass
class Mixed:
    messages: list[bytes]
    expected: dict[str, str]  # every subscriber → status after inbox
    deliveries: list[tuple[str, str]]  # (issue, recipient) the ledger holds

    def counts(self) -> dict[str, int]:
        """What `briefing inbox` must report, by EXPECTED kind (events or messages)."""
        kinds = [EXPECTED[name] for name in self.names]
        return {kind: kinds.count(kind) for kind in set(kinds)}

    names: list[str] = field(default_factory=list)


def mixed_mailbox() -> Mixed:
    """At least 50 messages: two subscribers per fixture, plus soft-bounce histories."""
    mixed = Mixed([], {}, [])
    serial = 0

    def add(name: str, rcpt: str, issue: str, when: datetime | None = None) -> None:
        nonlocal serial
        serial += 1
        mixed.messages.append(render(name, rcpt, issue, serial, when))
        mixed.names.append(name)
        mixed.deliveries.append((issue, rcpt))

    for name, status in _PLAN:
        for n in (1, 2):
            rcpt = f"{name.replace('-', '.')}.{n}@example.org"
            mixed.expected[rcpt] = status
            add(name, rcpt, ISSUES[n % len(ISSUES)])
    for who, (steps, status) in _SOFT.items():
        rcpt = f"{who}@example.net"
        mixed.expected[rcpt] = status
        for name, issue, day in steps:
            add(name, rcpt, ISSUES[issue], days_ago(30 - day))
    mixed.expected["quiet@example.org"] = "active"  # nothing came back for them
    mixed.deliveries = sorted(set(mixed.deliveries))
    return mixed


def write_maildir(folder: Path, messages: list[bytes]) -> None:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for n, data in enumerate(messages):
        (folder / "new" / f"{1764000000 + n}.M{n}P1.test").write_bytes(data)


def big_message(megabytes: int = 20) -> bytes:
    """A bounce-shaped message carrying a large attachment, built without the slow
    pure-Python encoders."""
    data = base64.encodebytes(os.urandom(megabytes * 1024 * 1024))
    return (
        b"From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender\n"
        b"Message-ID: <big.1@mx.example.net>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\n'
        b"Content-Type: text/plain\n\nYour message could not be delivered.\n--b1\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + data
        + b"--b1--\n"
    )
