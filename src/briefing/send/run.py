"""`briefing send`: check the issue and audience, plan, deliver, summarise."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from briefing.config import Config
from briefing.errors import Problem, SendError, relative
from briefing.model import Issue, Publication
from briefing.render.context import IssueView
from briefing.render.email import render_email
from briefing.render.text import render_text
from briefing.send.audience import Subscriber, add_suppressions, read_subscribers, read_suppressions
from briefing.send.dispatch import Options, Progress, Tally, dispatch
from briefing.send.dkim_signing import make_signer
from briefing.send.ledger import FAILED, QUEUED, SENDING, SENT, UNKNOWN, Ledger
from briefing.send.message import MessageTemplate, Sender
from briefing.send.transports import Transport

SECRET_ENV = "BRIEFING_UNSUBSCRIBE_SECRET"


def secret_from_env() -> bytes:
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < 16:
        raise SendError(
            f"set {SECRET_ENV} to a random string of 16+ characters; it signs"
            " unsubscribe links, so keep it the same for every send"
        )
    return secret.encode()


@dataclass(frozen=True)
class PreparedIssue:
    issue: Issue
    html: str
    text: str


def prepare_issue(publication: Publication, slug: str, site: Path) -> PreparedIssue:
    """Render the issue from its sources and insist it matches what `build` published:
    the editor reviewed the built email, and the web version the email links to must exist."""
    config = publication.config
    issue = publication.issue(slug)
    if issue is None:
        known = ", ".join(i.slug for i in publication.issues[:5])
        raise SendError(f"no issue with the slug '{slug}'; recent issues: {known}")
    view = IssueView(issue, config.publication.base_url)
    html, text = render_email(publication, view), render_text(publication, view)
    built = site / "issues" / slug
    for name, fresh in (("email.html", html), ("email.txt", text)):
        path = built / name
        shown = relative(path, config.root)
        if not path.is_file():
            raise SendError(
                f"{shown} does not exist: run `briefing build` and review the issue"
                " before sending it"
            )
        if path.read_text(encoding="utf-8") != fresh:
            raise SendError(
                f"{relative(issue.folder, config.root)} changed since {shown} was"
                " built: run `briefing build` and review it again, then send"
            )
    return PreparedIssue(issue, html, text)


def make_template(
    config: Config, prepared: PreparedIssue, secret: bytes, test: bool = False
) -> MessageTemplate:
    email = config.email
    sender = Sender(
        email.sender,
        email.reply_to,
        email.list_id,
        email.unsubscribe_url,
        email.unsubscribe_mailto,
        config.domain,
    )
    return MessageTemplate(
        prepared.issue.slug,
        prepared.issue.title,
        prepared.html,
        prepared.text,
        sender,
        secret,
        test=test,
        sign=make_signer(config),
    )


@dataclass(frozen=True)
class Plan:
    to_send: list[Subscriber]
    already_sent: int
    suppressed: int
    failed_before: int
    unknown: int
    recovered: int  # rows a killed run left in flight


def plan_send(
    config: Config,
    slug: str,
    subscribers: list[Subscriber],
    ledger: Ledger,
    idempotent: bool,
    resend_unknown: bool,
    dry_run: bool = False,
) -> Plan:
    """Who gets the issue now. Unless dry_run, brings the ledger up to date first:
    in-flight rows of a killed run are settled and new subscribers are queued."""
    suppressions = read_suppressions(config.root / config.send.suppressions)
    audience = [s for s in subscribers if s.suppression_key not in suppressions]
    if dry_run:
        states = ledger.states(slug)
        recovered = sum(state == SENDING for state in states.values())
        settled = QUEUED if idempotent else UNKNOWN
        states = {k: settled if v == SENDING else v for k, v in states.items()}
    else:
        recovered = ledger.recover(slug, idempotent)
        ledger.enqueue(slug, (s.key for s in audience))
        states = ledger.states(slug)
    skip = {SENT, FAILED} | (set() if resend_unknown else {UNKNOWN})
    counted = [states.get(s.key) for s in audience]
    return Plan(
        to_send=[s for s in audience if states.get(s.key) not in skip],
        already_sent=counted.count(SENT),
        suppressed=len(subscribers) - len(audience),
        failed_before=counted.count(FAILED),
        unknown=0 if resend_unknown else counted.count(UNKNOWN),
        recovered=recovered,
    )


@dataclass(frozen=True)
class Summary:
    plan: Plan
    tally: Tally
    seconds: float


def run_send(
    config: Config,
    slug: str,
    template: MessageTemplate,
    subscribers: list[Subscriber],
    ledger: Ledger,
    make_transport: Callable[[], Transport],
    idempotent: bool,
    options: Options,
    resend_unknown: bool = False,
    progress: Progress | None = None,
) -> Summary:
    plan = plan_send(config, slug, subscribers, ledger, idempotent, resend_unknown)
    stop = threading.Event()
    started = time.perf_counter()
    tally = dispatch(slug, template, plan.to_send, ledger, make_transport, options, stop, progress)
    if tally.bounced:
        add_suppressions(
            config.root / config.send.suppressions,
            ((address, "bounced") for address in tally.bounced),
        )
    return Summary(plan, tally, time.perf_counter() - started)


def load_audience(config: Config, override: Path | None) -> list[Subscriber]:
    path = override or config.root / config.send.subscribers
    return read_subscribers(path, config.root)


def ledger_for(config: Config) -> Ledger:
    path = config.root / config.send.ledger
    try:
        return Ledger(path)
    except Exception as exc:  # sqlite3.Error, OSError
        raise SendError(
            Problem(relative(path, config.root), f"cannot open the ledger: {exc}")
        ) from None
