"""The machine-readable parts of multipart/report messages (RFC 6522).

- delivery-status (RFC 3464): one block of per-message fields, then one block
  per recipient with Final-Recipient, Action, Status and Diagnostic-Code.
- feedback-report (ARF, RFC 5965): Feedback-Type, User-Agent, Original-Rcpt-To…
- the returned original (message/rfc822 or text/rfc822-headers): its headers
  tell which issue and, through the unsubscribe link, which subscriber.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message

from briefing.inbox.rules import code_from_reply, find_code


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a DSN (RFC 3464 2.3)."""

    final: str  # Final-Recipient, the address the reporting MTA tried
    original: str  # Original-Recipient (or X-Actual-Recipient) when given, else ''
    action: str  # failed, delayed, delivered, relayed, expanded ('' when absent)
    code: str | None  # RFC 3463 code from Status, else from Diagnostic-Code
    diagnostic: str

    @property
    def address(self) -> str:
        """The address we sent to: Original-Recipient names it before any rewriting."""
        return self.original or self.final


def report_type(msg: Message) -> str:
    if msg.get_content_type() != "multipart/report":
        return ""
    return str(msg.get_param("report-type", "", header="content-type") or "").lower()


def _part(msg: Message, *types: str) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() in types:
            return part
    return None


def _blocks(part: Message) -> list[Message]:
    """Field blocks of a message/* report part. The parser splits delivery-status at
    blank lines itself; a part that arrived encoded (base64, or with a charset) is a
    string, parsed here."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [b for b in payload if isinstance(b, Message)]
        if len(blocks) == 1 and isinstance(rest := blocks[0].get_payload(), str) and rest.strip():
            # A subtype the parser does not split (message/global-delivery-status, RFC
            # 6533) comes as one block whose "body" holds the others.
            return blocks[:1] + _split(rest)
        return blocks
    data = part.get_payload(decode=True)
    return _split(data.decode("ascii", "replace") if isinstance(data, bytes) else str(payload))


def _split(text: str) -> list[Message]:
    chunks = re.split(r"\r?\n\s*\r?\n", text.strip())
    return [
        email.message_from_string(chunk + "\n", policy=email.policy.compat32) for chunk in chunks
    ]


def _address(value: str | None) -> str:
    """'rfc822; <user@example.com>' → 'user@example.com' (RFC 3464 2.3.1/2.3.2)."""
    if not value:
        return ""
    kind, _, address = str(value).partition(";")
    if not address:
        address, kind = kind, "rfc822"
    if kind.strip().lower() not in ("rfc822", "utf-8"):  # utf-8: RFC 6533 3.2
        return ""
    address = re.sub(r"\s+", "", address).strip("<>")
    return address if "@" in address else ""


def delivery_statuses(msg: Message) -> list[RecipientStatus] | None:
    """Per-recipient results of a DSN; None when the message has no delivery-status part."""
    part = _part(msg, "message/delivery-status", "message/global-delivery-status")
    if part is None:
        return None
    found = []
    for block in _blocks(part):
        final = _address(block.get("Final-Recipient"))
        original = _address(block.get("Original-Recipient") or block.get("X-Actual-Recipient"))
        if not final and not original:
            continue  # the per-message block, or a recipient block naming nobody
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        status = str(block.get("Status", ""))
        code = find_code(status) or code_from_reply(diagnostic)
        action = str(block.get("Action", "")).strip().lower().split(" ")[0]
        found.append(RecipientStatus(final, original, action, code, diagnostic[:300]))
    return found


@dataclass(frozen=True)
class Feedback:
    """The fields of an ARF report this tool acts on (RFC 5965 3.1, 3.2)."""

    feedback_type: str
    user_agent: str
    original_rcpt_to: str


def feedback_report(msg: Message) -> Feedback | None:
    part = _part(msg, "message/feedback-report")
    if part is None:
        return None
    fields: dict[str, str] = {}
    for block in _blocks(part):
        for name, value in block.items():
            fields.setdefault(name.lower(), " ".join(str(value).split()))
    return Feedback(
        fields.get("feedback-type", "").lower(),
        fields.get("user-agent", ""),
        _address(fields.get("original-rcpt-to", "")),
    )


def returned_headers(msg: Message) -> Message | None:
    """Headers of the message that bounced or was reported, when the report includes them."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            data = part.get_payload(decode=True)
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
            return email.message_from_string(text, policy=email.policy.compat32)
    return None
