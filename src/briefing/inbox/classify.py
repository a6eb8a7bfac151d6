"""What one message in the mailbox says: a bounce, a complaint, an unsubscribe, or nothing.

Order matters. Standard reports first (RFC 6522 multipart/report: delivery
status, RFC 3464, and feedback, RFC 5965); then mail shaped like a bounce
(from MAILER-DAEMON or postmaster, or a failure subject), read by flufl.bounce,
GNU Mailman's detector of the formats MTAs really send (qmail, old Exim,
Exchange…); then out-of-office replies (RFC 3834); then mailto unsubscribes.
The subscriber is named by the VERP token first, then by the unsubscribe token
of the returned original, and only then by the addresses the report gives.

A message that cannot be read with confidence (broken MIME, a report naming no
valid recipient, text in an unknown charset) is MALFORMED: it is reported and
never changes anyone's status.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from email import errors
from email.message import Message
from email.utils import parseaddr

from flufl.bounce import all_failures

from briefing.inbox.replies import auto_reply, unsubscribe
from briefing.inbox.reports import (
    delivery_statuses,
    feedback_report,
    report_type,
    returned_headers,
)
from briefing.inbox.rules import Severity, code_from_reply, severity
from briefing.inbox.verdict import (
    ACTIONS,
    Context,
    Event,
    Kind,
    Verdict,
    header_text,
    valid_address,
)
from briefing.inbox.verp import find_tokens

__all__ = ["ACTIONS", "Context", "Event", "Kind", "Verdict", "classify"]

log = logging.getLogger("briefing")


_STRUCTURE = (
    errors.CloseBoundaryNotFoundDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.NoBoundaryInMultipartDefect,
)
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailer|mdaemon)@", re.IGNORECASE)
_FAILURE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed|problem)|failure notice"
    r"|returned mail|mail delivery (failed|system)|could not be delivered|non-?delivery",
    re.IGNORECASE,
)
_VERP_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


def classify(raw: bytes, ctx: Context) -> Verdict:
    """Never raises: a message that trips the parser is MALFORMED, so one odd message
    cannot stop a run (and the run would meet it again each time)."""
    try:
        return _classify(raw, ctx)
    except Exception as exc:
        log.debug("classify failed", exc_info=True)
        return Verdict(Kind.MALFORMED, f"could not be read ({type(exc).__name__}: {exc})")


def _classify(raw: bytes, ctx: Context) -> Verdict:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    text = raw.decode("latin-1")
    if problem := _structure_problem(msg):
        return Verdict(Kind.MALFORMED, problem)
    kind = report_type(msg)
    if kind == "delivery-status":
        return _dsn(msg, ctx, text)
    if kind == "feedback-report":
        return _complaint(msg, ctx, text)
    if kind:
        return Verdict(Kind.IGNORED, f"a '{kind}' report, not a bounce or complaint")
    if _bounce_shaped(msg):
        return _legacy_bounce(msg, ctx, text)
    if auto_reply(msg):
        return Verdict(Kind.AUTO_REPLY, "an automatic reply (RFC 3834)")
    return unsubscribe(msg, ctx)


def _structure_problem(msg: Message) -> str | None:
    """Broken MIME in the report itself (not inside the returned original)."""
    parts = [msg]
    if msg.is_multipart() and isinstance(msg.get_payload(), list):
        parts += [p for p in msg.get_payload() if isinstance(p, Message)]
    for part in parts:
        for defect in part.defects:
            if isinstance(defect, _STRUCTURE):
                return f"broken or truncated MIME ({type(defect).__name__})"
    return None


def _verp(msg: Message, ctx: Context, original: Message | None) -> tuple[str, str] | None:
    """(issue, recipient) from a VERP token in the report's envelope headers, or else in
    the returned original's Return-Path."""
    if not ctx.bounce_address:
        return None
    sources = [" ".join(str(v) for v in msg.get_all(h, [])) for h in _VERP_HEADERS]
    if original is not None:
        sources.append(str(original.get("Return-Path", "")))
    for text in sources:
        for token in find_tokens(text, ctx.bounce_address):
            if found := ctx.resolve_verp(token):
                return found
    return None


def _issue(original: Message | None, raw_text: str, ctx: Context) -> str | None:
    """The issue slug from our Message-ID, <32 hex.slug@domain> (send.message.message_id)."""
    domain = re.escape(ctx.domain) if ctx.domain else r"[^>\s]+"
    pattern = re.compile(rf"<[0-9a-f]{{32}}\.([A-Za-z0-9._-]+)@{domain}>")
    text = str(original.get("Message-ID", "")) if original is not None else ""
    match = pattern.search(text) or pattern.search(raw_text)
    return match.group(1) if match else None


def _unsubscribe_owner(original: Message | None, ctx: Context) -> str | None:
    """The subscriber named by the signed token in the original's List-Unsubscribe URL."""
    if original is None or "{token}" not in ctx.unsubscribe_url:
        return None
    before, after = ctx.unsubscribe_url.split("{token}", 1)
    pattern = re.escape(before) + r"([A-Za-z0-9_=.%-]+?)" + (re.escape(after) if after else ">")
    header = " ".join(str(original.get("List-Unsubscribe", "")).split())
    match = re.search(pattern, header)
    return ctx.verify_unsubscribe(match.group(1).replace("%3D", "=")) if match else None


def _bounce_event(
    address: str, issue: str | None, code: str, detail: str, signed: bool
) -> Event | None:
    level = severity(code)
    if level is Severity.NONE:
        return None
    kind = Kind.BOUNCED if level is Severity.HARD else Kind.SOFT_BOUNCED
    return Event(kind, address, issue, code, detail, signed)


def _dsn(msg: Message, ctx: Context, text: str) -> Verdict:
    statuses = delivery_statuses(msg) or []
    failed = [s for s in statuses if s.action in ("failed", "")]
    if not statuses:
        return Verdict(Kind.MALFORMED, "delivery report names no recipient")
    if not failed:
        actions = sorted({s.action for s in statuses})
        return Verdict(Kind.IGNORED, f"delivery report: {', '.join(actions)} (not a failure)")
    original = returned_headers(msg)
    issue = _issue(original, text, ctx)
    known = _verp(msg, ctx, original)
    owner = known[1] if known else _unsubscribe_owner(original, ctx)
    if known:
        issue = known[0]
    events = []
    for status in failed:
        if not status.code:
            return Verdict(Kind.MALFORMED, "delivery report gives no status code")
        # Checked even when VERP names the subscriber: a garbled report is not trusted.
        if not valid_address(status.address):
            return Verdict(Kind.MALFORMED, "delivery report's recipient is not a valid address")
        address = owner or status.address
        if event := _bounce_event(address, issue, status.code, status.diagnostic, bool(owner)):
            events.append(event)
    return _verdict(events, "delivery report")


def _verdict(events: list[Event], what: str) -> Verdict:
    if not events:
        return Verdict(Kind.IGNORED, f"{what}: nothing to act on")
    # One message we sent has one recipient: keep the gravest result per address.
    best: dict[str, Event] = {}
    for event in events:
        if event.address not in best or event.kind is Kind.BOUNCED:
            best[event.address] = event
    kinds = {e.kind for e in best.values()}
    kind = Kind.BOUNCED if Kind.BOUNCED in kinds else next(iter(kinds))
    return Verdict(
        kind, f"{what}: {', '.join(sorted({e.code for e in best.values()}))}", tuple(best.values())
    )


# RFC 5965 3.1 and RFC 6650: what each feedback type means here.
_COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}


def _complaint(msg: Message, ctx: Context, text: str) -> Verdict:
    report = feedback_report(msg)
    if report is None or not report.feedback_type:
        return Verdict(Kind.MALFORMED, "feedback report without a Feedback-Type")
    if report.feedback_type not in _COMPLAINT_TYPES:
        return Verdict(Kind.IGNORED, f"feedback report of type '{report.feedback_type}'")
    original = returned_headers(msg)
    known = _verp(msg, ctx, original)
    issue = known[0] if known else _issue(original, text, ctx)
    signed = (known[1] if known else None) or _unsubscribe_owner(original, ctx)
    address = (
        signed
        or report.original_rcpt_to
        or (parseaddr(str(original.get("To", "")))[1] if original is not None else "")
    )
    if not valid_address(address):
        return Verdict(Kind.MALFORMED, "complaint names no recipient we can identify")
    agent = f" from {report.user_agent}" if report.user_agent else ""
    event = Event(
        Kind.COMPLAINED, address, issue, report.feedback_type, agent.strip(), bool(signed)
    )
    return Verdict(Kind.COMPLAINED, f"complaint ({report.feedback_type}){agent}", (event,))


def _bounce_shaped(msg: Message) -> bool:
    sender = parseaddr(str(msg.get("From", "")))[1]
    return bool(_DAEMON.match(sender) or _FAILURE_SUBJECT.search(header_text(msg["Subject"]) or ""))


def _body_text(msg: Message) -> str:
    chunks = []
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            chunks.append(data.decode("utf-8", "replace"))
    return "\n".join(chunks)


def _code_near(text: str, address: str, permanent: bool) -> str:
    """The status code given near the address in a free-text bounce."""
    at = text.lower().find(address.lower())
    window = text[at : at + 600] if at >= 0 else text
    code = code_from_reply(window) or code_from_reply(text)
    if code and code[0] == ("5" if permanent else "4"):
        return code
    return "5.0.0" if permanent else "4.0.0"


def _legacy_bounce(msg: Message, ctx: Context, raw_text: str) -> Verdict:
    """A non-standard bounce: flufl.bounce finds the failed addresses, we find the code."""
    _prune(msg)
    temporary, permanent = all_failures(msg)
    text = _body_text(msg)
    original = returned_headers(msg)
    known = _verp(msg, ctx, original)
    issue = known[0] if known else _issue(original, raw_text, ctx)
    events = []
    for addresses, hard in ((permanent, True), (temporary, False)):
        for raw_address in sorted(addresses):
            address = raw_address.decode("ascii", "replace")
            code = _code_near(text, address, hard)
            target = known[1] if known else address
            if not valid_address(target):
                continue
            summary = " ".join(text.split())[:200]
            if event := _bounce_event(target, issue, code, summary, bool(known)):
                events.append(event)
    if not events:
        if auto_reply(msg):
            return Verdict(Kind.AUTO_REPLY, "an automatic reply (RFC 3834)")
        return Verdict(Kind.MALFORMED, "looks like a bounce but names no failed recipient")
    return _verdict(events, "bounce")


_TEXT_LIMIT = 256 * 1024


def _prune(msg: Message) -> None:
    """Drop attachments and cut long text before the heuristics, which read every line
    of every part: a 20 MB attachment costs them minutes and can hold no bounce."""
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload()
        if part.get_content_maintype() not in ("text", "message"):
            part.set_payload("")
        elif isinstance(payload, str) and len(payload) > _TEXT_LIMIT:
            part.set_payload(payload[:_TEXT_LIMIT])
