"""The inbox's reading of real-world-shaped bounces, complaints and unsubscribes."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from briefing.inbox.classify import Context, Kind, classify
from briefing.inbox.rules import Severity, code_from_reply, severity
from briefing.inbox.verp import VerpIndex, find_tokens, verp_address, verp_token
from briefing.send.message import verify_unsubscribe_token
from inbox_mail import (
    BOUNCES,
    DOMAIN,
    EXPECTED,
    LIST_ID,
    SECRET,
    UNSUBSCRIBE_URL,
    big_message,
    render,
)

ISSUE = "trade-talks"
RCPT = "ada.lovelace@example.org"


def context(deliveries: list[tuple[str, str]] | None = None) -> Context:
    index = VerpIndex.of(SECRET, deliveries if deliveries is not None else [(ISSUE, RCPT)])
    return Context(
        BOUNCES,
        DOMAIN,
        UNSUBSCRIBE_URL,
        index.resolve,
        lambda token: verify_unsubscribe_token(SECRET, LIST_ID, token),
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_kind_and_subscriber(name: str) -> None:
    verdict = classify(render(name, RCPT, ISSUE, 1), context())
    assert verdict.kind.value == EXPECTED[name], verdict.note
    if verdict.kind in (Kind.BOUNCED, Kind.SOFT_BOUNCED, Kind.COMPLAINED, Kind.UNSUBSCRIBED):
        assert [e.address for e in verdict.events] == [RCPT]
        assert all(e.kind is verdict.kind for e in verdict.events)
    else:
        assert verdict.events == ()
    if verdict.kind in (Kind.BOUNCED, Kind.SOFT_BOUNCED, Kind.COMPLAINED):
        assert verdict.events[0].issue == ISSUE


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.startswith("malformed")))
def test_malformed_never_names_anyone(name: str) -> None:
    """With or without a VERP token that resolves, a malformed report changes nobody."""
    for ctx in (context(), Context()):
        verdict = classify(render(name, RCPT, ISSUE, 1), ctx)
        assert verdict.kind is Kind.MALFORMED
        assert verdict.events == ()
        assert "\n" not in verdict.note and verdict.note


def test_bounce_without_verp_uses_the_report_recipient() -> None:
    """No [bounces] address: the DSN's Original-Recipient names the subscriber."""
    verdict = classify(render("postfix-hard", RCPT, ISSUE, 1), Context(domain=DOMAIN))
    assert verdict.kind is Kind.BOUNCED
    event = verdict.events[0]
    assert (event.address, event.issue, event.code, event.signed) == (RCPT, ISSUE, "5.1.1", False)


def test_global_delivery_status() -> None:
    """RFC 6533 (SMTPUTF8) reports: message/global-delivery-status, 'utf-8' address type."""
    raw = (
        render("postfix-hard", RCPT, ISSUE, 1)
        .replace(
            b"Content-Type: message/delivery-status",
            b"Content-Type: message/global-delivery-status",
        )
        .replace(
            f"Final-Recipient: rfc822; {RCPT}".encode(), f"Final-Recipient: utf-8; {RCPT}".encode()
        )
        .replace(b"Original-Recipient: rfc822;", b"X-Other: rfc822;")
    )
    verdict = classify(raw, Context(domain=DOMAIN))
    assert [(e.kind, e.address, e.code) for e in verdict.events] == [(Kind.BOUNCED, RCPT, "5.1.1")]


def test_verp_names_the_subscriber_when_forwarding_rewrote_the_address() -> None:
    raw = render("gmail-hard", RCPT, ISSUE, 1).replace(
        f"Final-Recipient: rfc822; {RCPT}".encode(),
        b"Final-Recipient: rfc822; fwd@elsewhere.example",
    )
    verdict = classify(raw, context())
    assert [(e.address, e.signed) for e in verdict.events] == [(RCPT, True)]


def test_forged_verp_token_is_not_trusted() -> None:
    """A token made with another secret resolves to nobody: the report's own address is
    used, unsigned (so the store only changes someone it already lists)."""
    raw = render("qmail", RCPT, ISSUE, 1, secret=b"another-secret-456789")
    verdict = classify(raw, context())
    assert [(e.address, e.signed) for e in verdict.events] == [(RCPT, False)]


def test_unsubscribe_token_beats_the_from_address() -> None:
    verdict = classify(render("unsubscribe-token", RCPT, ISSUE, 1), context())
    assert [(e.address, e.signed) for e in verdict.events] == [(RCPT, True)]
    forged = render("unsubscribe-token", RCPT, ISSUE, 1).replace(b"unsubscribe ", b"unsubscribe x")
    verdict = classify(forged, context())
    assert [e.address for e in verdict.events] == ["forwarded-alias@mail.alias.example"]


def test_unsubscribe_by_from_and_envelope_sender() -> None:
    raw = render("unsubscribe-subject", RCPT, ISSUE, 1).replace(
        f"Return-Path: <{RCPT}>".encode(), b"Return-Path: <real.mailbox@example.net>"
    )
    verdict = classify(raw, context())
    assert [(e.address, e.signed) for e in verdict.events] == [
        (RCPT, False),
        ("real.mailbox@example.net", False),
    ]
    same = classify(render("unsubscribe-subject", RCPT.upper(), ISSUE, 1), context())
    assert [e.address for e in same.events] == [RCPT.upper()]  # one event, as written


def test_complaint_found_through_the_unsubscribe_link_when_yahoo_redacts() -> None:
    """No VERP index (nothing in the ledger): the List-Unsubscribe token of the reported
    message still names the subscriber, not the redacted Original-Rcpt-To."""
    verdict = classify(render("yahoo-arf", RCPT, ISSUE, 1), context(deliveries=[]))
    assert [(e.kind, e.address) for e in verdict.events] == [(Kind.COMPLAINED, RCPT)]


def test_human_mentioning_unsubscribe_is_not_unsubscribed() -> None:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = RCPT
    msg["Subject"] = "Re: unsubscribe link broken?"
    msg.set_content("The unsubscribe link in the footer did not work for me.")
    assert classify(msg.as_bytes(), context()).kind is Kind.IGNORED


def test_big_attachment_is_read_without_trouble() -> None:
    """A 20 MB attachment (from a reader, or a bounce returning it all) is classified
    on its structure: nobody is suppressed and nothing raises."""
    verdict = classify(big_message(), context())
    assert verdict.kind is Kind.MALFORMED
    assert verdict.events == ()


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("5.1.1", Severity.HARD),
        ("5.1.10", Severity.HARD),
        ("5.2.1", Severity.HARD),
        ("5.5.0", Severity.HARD),
        ("5.2.2", Severity.SOFT),
        ("5.7.1", Severity.SOFT),
        ("4.2.2", Severity.SOFT),
        ("4.4.1", Severity.SOFT),
        ("2.0.0", Severity.NONE),
    ],
)
def test_rfc3463_rules(code: str, level: Severity) -> None:
    assert severity(code) is level


def test_codes_from_replies() -> None:
    assert code_from_reply("smtp; 550-5.1.1 The email account") == "5.1.1"
    assert code_from_reply("host said: 550 No such user here") == "5.0.0"
    assert code_from_reply("451 Try again") == "4.0.0"
    assert code_from_reply("connection timed out") is None


def test_verp_tokens() -> None:
    token = verp_token(SECRET, ISSUE, RCPT)
    address = verp_address(BOUNCES, token)
    assert len(address.split("@")[0]) <= 64  # RFC 5321 4.5.3.1.1
    assert address == f"bounces+{token}@briefing.example.com"
    assert find_tokens(f"To: <{address.upper()}>", BOUNCES) == [token]
    assert find_tokens(f"To: <{address}>", "other@briefing.example.com") == []
    assert verp_token(SECRET, "other-issue", RCPT) != token
    assert verp_token(b"another-secret-456789", ISSUE, RCPT) != token
    assert VerpIndex.of(SECRET, [(ISSUE, RCPT)]).resolve(token.upper()) == (ISSUE, RCPT)
    assert token[:4] == verp_token(SECRET, ISSUE, "someone@else.example")[:4]  # the issue tag
    assert len(token) == 20
