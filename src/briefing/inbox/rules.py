"""What a delivery status code means for a subscriber (RFC 3463 enhanced status codes).

class.subject.detail: class 2 is success, 4 persistent transient, 5 permanent.

- 5.x.x marks the address ``bounced`` at once: the receiving system says the
  mail will never be delivered (5.1.1 no such user, 5.1.10 null MX, 5.2.1
  mailbox disabled, 5.1.2 no such domain, …).
- 4.x.x is a soft bounce, counted; enough of them in the window (default 3 in
  30 days, counting each issue once) mark the address ``bounced``.
- 5.2.2 "mailbox full" is soft too: RFC 3463 3.3 lists it under permanent, but
  the same section says it is usually transient, and mailboxes do get emptied.
- 5.7.x (security or policy: "blocked as spam", sender not authorised) is soft:
  it says the *sender* was refused, not that the mailbox is gone; a real block
  repeats and crosses the threshold anyway.
- 2.x.x (delivered, relayed, expanded) and delay warnings change nothing.
"""

from __future__ import annotations

import re
from enum import Enum

_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# Basic SMTP replies when no enhanced code is given (RFC 5321 4.2.3).
_BASIC = re.compile(r"\b([45])\d\d\b")
_SOFT_PERMANENT = ("5.2.2", "5.7.")


class Severity(Enum):
    HARD = "hard"
    SOFT = "soft"
    NONE = "none"


def find_code(text: str) -> str | None:
    """The first RFC 3463 code in text (e.g. a Diagnostic-Code line), or None."""
    match = _CODE.search(text)
    return ".".join(match.groups()) if match else None


def code_from_reply(text: str) -> str | None:
    """An enhanced code, or the class of a basic SMTP reply ('550' → '5.0.0')."""
    if code := find_code(text):
        return code
    match = _BASIC.search(text)
    return f"{match.group(1)}.0.0" if match else None


def severity(code: str) -> Severity:
    if code.startswith("2."):
        return Severity.NONE
    if code.startswith("4.") or any(
        code == rule or (rule.endswith(".") and code.startswith(rule)) for rule in _SOFT_PERMANENT
    ):
        return Severity.SOFT
    if code.startswith("5."):
        return Severity.HARD
    return Severity.NONE
