"""Fills in the inbox fixtures (tests/fixtures/inbox/*.eml) for one subscriber and issue."""

from __future__ import annotations

import string
from datetime import UTC, datetime
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
) -> bytes:
    """The fixture as the mailbox would hold it, LF line ends."""
    token = verp_token(secret, issue, normalize(rcpt))
    unsub = unsubscribe_token(secret, LIST_ID, rcpt)
    values = {
        "rcpt": rcpt,
        "verp": verp_address(BOUNCES, token),
        "msgid": message_id(issue, rcpt, DOMAIN),
        "mid": f"<fixture.{serial}.{name}@reports.example>",
        "date": format_datetime(when or datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        "unsub": UNSUBSCRIBE_URL.replace("{token}", unsub),
        "token": unsub,
    }
    raw = (FIXTURES / f"{name}.eml").read_bytes().decode("latin-1")
    return string.Template(raw).safe_substitute(values).encode("latin-1")
