"""What an SMTP refusal means for the recipient, read from its enhanced status code.

RFC 3463 puts the class in the first digit (2 success, 4 persistent transient, 5
permanent) and the subject in the second: x.1.x addressing, x.2.x mailbox, x.7.x
security or policy. The reply code alone misleads: many servers answer a full
mailbox with 552 5.2.2, which RFC 3463 §3.3 calls a condition that may clear, so it
is retried like a 4xx; 5.1.x (no such user) and 5.7.x (refused by policy) are final.
"""

from __future__ import annotations

import re

from briefing.send.states import DeliveryState

_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# Permanent codes that say: try later (RFC 3463 3.3 "mailbox full").
_TEMPORARY = {"5.2.2"}
REASONS = {
    "1": "bad address (no such user or domain)",
    "2": "mailbox problem",
    "3": "mail system problem",
    "4": "network or routing problem",
    "5": "protocol problem",
    "6": "message content problem",
    "7": "refused by policy or security",
}


def status_code(reply: str) -> str | None:
    """The enhanced status code a reply text opens with ('5.1.1'), if any."""
    match = _STATUS.match(reply)
    return ".".join(match.groups()) if match else None


def classify(code: int, reply: str) -> DeliveryState:
    """Deferred (tried again) or failed (final) for a refusal: the enhanced status code
    decides when there is one, else the reply code (4xx deferred, 5xx failed)."""
    status = status_code(reply)
    if status in _TEMPORARY:
        return DeliveryState.DEFERRED
    if status:
        return DeliveryState.DEFERRED if status[0] == "4" else DeliveryState.FAILED
    return DeliveryState.DEFERRED if 400 <= code < 500 or code < 200 else DeliveryState.FAILED


def reason(reply: str) -> str:
    """The kind of refusal for people, from the status code's subject ('' unknown)."""
    status = status_code(reply)
    if status == "5.2.2" or (status and status.startswith("4.2.2")):
        return "mailbox full"
    return REASONS.get(status.split(".")[1], "") if status else ""
