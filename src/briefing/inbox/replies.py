"""Mail written or sent on a person's behalf: out-of-office replies (RFC 3834) and
requests to the List-Unsubscribe mailto (RFC 2369 3.2)."""

from __future__ import annotations

import re
from email.message import Message
from email.utils import parseaddr

from briefing.inbox.verdict import Context, Event, Kind, Verdict, header_text, valid_address

_AUTO_SUBJECT = re.compile(
    r"^(automatic reply|auto(matic)?[ -]?(reply|response)|auto:|out of (the )?office"
    r"|abwesenheitsnotiz|absence|r[ée]ponse automatique|vacation)",
    re.IGNORECASE,
)
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|tr)\s*:\s*)+", re.IGNORECASE)


def auto_reply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if not auto.startswith("no"):
        return True
    if any(h in msg for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response")):
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("auto_reply", "junk", "bulk"):
        return True
    return bool(_AUTO_SUBJECT.match(header_text(msg["Subject"]) or ""))


def _first_line(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                for line in data.decode("utf-8", "replace").splitlines():
                    if line.strip():
                        return line.strip()
            return ""
    return ""


def unsubscribe(msg: Message, ctx: Context) -> Verdict:
    """A mail to the List-Unsubscribe mailto (RFC 2369 3.2): 'unsubscribe' as the subject
    or the body's first line, optionally followed by the unsubscribe token."""
    subject = header_text(msg["Subject"])
    if subject is None:
        return Verdict(Kind.MALFORMED, "subject in an unknown charset")
    request = None
    for text in (_REPLY_PREFIX.sub("", subject), _first_line(msg)):
        words = text.strip().split()
        if words and words[0].lower().rstrip(".!") == "unsubscribe" and len(words) <= 2:
            request = words
            break
    if request is None:
        return Verdict(Kind.IGNORED, "not a bounce, complaint or unsubscribe request")
    token_owner = ctx.verify_unsubscribe(request[1]) if len(request) == 2 else None
    if token_owner:
        event = Event(Kind.UNSUBSCRIBED, token_owner, None, "mailto", "signed token", True)
        return Verdict(Kind.UNSUBSCRIBED, "unsubscribe request (by signed token)", (event,))
    # The From address, and the envelope sender when it differs (a person writing from
    # an alias whose provider keeps the real mailbox as the return path).
    senders = [parseaddr(str(msg.get(h, "")))[1] for h in ("From", "Return-Path")]
    by_key = {a.lower(): a for a in reversed(senders) if a and valid_address(a)}
    found = list(reversed(by_key.values()))  # From first
    if not found:
        return Verdict(Kind.MALFORMED, "unsubscribe request without a valid sender address")
    events = tuple(Event(Kind.UNSUBSCRIBED, a, None, "mailto", "sender address") for a in found)
    return Verdict(Kind.UNSUBSCRIBED, "unsubscribe request (by sender address)", events)
