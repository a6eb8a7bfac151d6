"""The send service: plan, run and test copies of one issue, usable without the CLI.

A SendRequest says what the caller wants (plain, frozen values: it can be built
from command-line options, a schedule or a test); SendService does it against
one publication. The steps of a send, in order:

    prepare  render the issue and insist it matches the built site; the secret
    channel  the transport (outbox or SMTP) and whether resending is harmless
    audience subscribers and suppressions (an AudienceSource)
    gate     check's rules on what goes out (send/gate.py): refuse, or warnings confirmed
    route    the way the first run went, remembered by the ledger (send/route.py)
    plan     who gets it now, from the ledger
    dispatch deliver (Dispatcher), then suppress addresses that bounced (5.1.x)

Each later feature has one place: the pre-send gate runs in `review` and `run`; the
per-issue lock (send/issue_lock.py) wraps the ledger block of `run`; the audience
store is the default AudienceOpener (send/store_audience.py); a per-recipient
return path (VERP) is MessageTemplate.envelope_from; a scheduled send stores a SendRequest and calls
`run` when it is due.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from briefing.check import Finding
from briefing.config import Config, load_config
from briefing.errors import Problem, SendError
from briefing.model import Publication
from briefing.out_folder import pause_point
from briefing.send.audience import AudienceSource, CsvAudience, Subscriber, address_problem
from briefing.send.channel import Channel, Relay, open_channel
from briefing.send.credentials import Credentials
from briefing.send.dispatch import Dispatcher, Options, Progress, Tally
from briefing.send.gate import GateReport, run_gate
from briefing.send.guard import RouteChanged, refuse, sent_before
from briefing.send.issue_lock import issue_lock
from briefing.send.ledger import Delivery, Ledger, open_ledger
from briefing.send.message import MessageTemplate
from briefing.send.overview import IssueStatus, known_issue, overview
from briefing.send.pacing import Backoff
from briefing.send.plan import Plan, plan_send
from briefing.send.prepare import PreparedIssue, make_template, prepare_issue
from briefing.send.route import Route, differences, digest
from briefing.send.segments import segmented
from briefing.send.states import DeliveryState
from briefing.send.store_audience import store_audience
from briefing.send.transports import Result
from briefing.sources import load_publication


@dataclass(frozen=True)
class SendRequest:
    """One send as asked for. None means: as briefing.toml says."""

    slug: str
    transport: str | None = None  # 'outbox' or 'smtp'
    relay: Relay = field(default_factory=Relay)  # overrides of [smtp] host, port, security
    subscribers: Path | None = None  # another subscribers file for this send
    rate: float | None = None  # messages per second at most (0: no limit)
    connections: int | None = None
    dry_run: bool = False  # run() only plans: nothing is sent, the ledger is untouched
    test_to: tuple[str, ...] = ()  # for send_test_copies(): the addresses
    resend_unknown: bool = False  # also resend what a crash left of unknown fate
    site: Path | None = None  # the built site the issue is checked against
    yes: bool = False  # the gate's warnings are confirmed (the gate's refusals never are)
    change_route: bool = False  # go another way than the first run went (send/route.py)
    ledger_lost: bool = False  # send although it was sent before with no ledger record
    as_reader: str | None = None  # test copies carry this subscriber's fields (--as)
    where: tuple[str, ...] = ()  # segment rules besides the issue's audience (segment.py)


@dataclass(frozen=True)
class Summary:
    """What run() did (with dry_run, what it would do: the tally stays empty)."""

    plan: Plan
    tally: Tally
    seconds: float
    where: str  # the channel, for people
    listed: int  # subscribers in the audience, suppressed ones included
    options: Options

    @property
    def complete(self) -> bool:
        """Everyone planned got it, and nobody was left of unknown fate."""
        t = self.tally
        return not (t.failed or t.deferred or t.unknown or self.plan.unknown)


@dataclass(frozen=True)
class TestCopy:
    address: str
    result: Result | None  # None: the address is suppressed, so nothing was sent


@dataclass(frozen=True)
class Status:
    counts: dict[DeliveryState, int]
    problems: list[Delivery] = field(default_factory=list)


AudienceOpener = Callable[[Config, SendRequest], AudienceSource]


def _audience_name(request: SendRequest) -> str:
    return request.subscribers.name if request.subscribers else "the audience store"


def csv_audience(config: Config, request: SendRequest) -> AudienceSource:
    """The CSV files of [send], or the request's own subscribers file."""
    path = request.subscribers.resolve() if request.subscribers else None
    return CsvAudience(
        path or config.root / config.send.subscribers,
        config.root / config.send.suppressions,
        config.root,
    )


class SendService:
    """Sends of one publication. Credentials default to the environment's."""

    def __init__(
        self,
        config: Config,
        credentials: Credentials | None = None,
        *,
        audience: AudienceOpener | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.credentials = credentials or Credentials.from_env()
        # The audience store by default (see store_audience); csv_audience reads the files;
        # either narrowed to the issue's audience and --where (send/segments.py).
        self.open_audience = segmented(audience or store_audience, lambda: self.publication)
        self.backoff = backoff or Backoff()
        self._publication: Publication | None = None

    @classmethod
    def open(cls, root: Path) -> SendService:
        return cls(load_config(root))

    @property
    def publication(self) -> Publication:
        """Loaded on first use: status and suppress need only the configuration."""
        if self._publication is None:
            self._publication = load_publication(self.config)
        return self._publication

    # --- operations -----------------------------------------------------------------------

    def plan(self, request: SendRequest) -> Summary:
        """What run() would do now; sends nothing and changes nothing on disk (the ledger
        and the audience store are read from copies, the outbox is left as it is)."""
        return self.review(request)[0]

    def test_gate(self, request: SendRequest) -> GateReport:
        """The gate for test copies: the issue's findings, and the merge fields judged
        against the subscriber of --as (if any)."""
        _, _, prepared = self._prepare(request, test=True, clean=False)
        reader = self.reader(request)
        audience = [reader] if reader else None
        return run_gate(self.publication, prepared, audience, f"--as {request.as_reader}")

    def reader(self, request: SendRequest) -> Subscriber | None:
        """The subscriber request.as_reader names, with their fields, from the audience."""
        if not request.as_reader:
            return None
        if problem := address_problem(request.as_reader):
            raise SendError(Problem("--as", problem))
        audience = self.open_audience(self.config, replace(request, dry_run=True))
        key = Subscriber(request.as_reader).key
        found = next((s for s in audience.subscribers() if s.key == key), None)
        if found is None:
            where = _audience_name(request)
            raise SendError(Problem("--as", f"{request.as_reader} is not in {where}"))
        return found

    def review(self, request: SendRequest) -> tuple[Summary, GateReport]:
        """The plan and the gate's findings, changing nothing on disk."""
        _, channel, prepared = self._prepare(request, clean=False)
        # A dry-run request opens the audience from a copy (changes nothing on disk).
        audience = self.open_audience(self.config, replace(request, dry_run=True))
        subscribers = audience.subscribers()
        suppressed = audience.suppressed()
        report = run_gate(self.publication, prepared, subscribers, _audience_name(request))
        with open_ledger(self.config, readonly=True) as ledger:
            plan = plan_send(
                request.slug,
                subscribers,
                suppressed,
                ledger,
                channel.idempotent,
                request.resend_unknown,
                dry_run=True,
            )
            recorded = ledger.route(request.slug)
            handled = not set(ledger.counts(request.slug)) <= {DeliveryState.QUEUED}
        if recorded and handled and not request.change_route:  # what run() would refuse
            now = self._route(request, channel, prepared)
            changes = differences(Route.from_json(recorded), now)
            label, hint = self.config.send.ledger, "; the send would be refused (--change-route)"
            moved = [Finding(label, 1, "route", change + hint) for change in changes]
            report = GateReport([*moved, *report.blockers], report.warnings, report.accepted)
        options = self.options(request)
        return Summary(plan, Tally(), 0.0, channel.where, len(subscribers), options), report

    def run(
        self,
        request: SendRequest,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> Summary:
        """Deliver the issue to everyone the plan names; resumable after any stop."""
        if request.dry_run:
            return self.plan(request)
        template, channel, prepared = self._prepare(request)
        audience = self.open_audience(self.config, request)
        subscribers = audience.subscribers()
        refuse(run_gate(self.publication, prepared, subscribers, _audience_name(request)), request)
        options = self.options(request)
        route = self._route(request, channel, prepared)
        # One run per issue: planning settles the in-flight rows of a run that is gone.
        ledger_path = self.config.root / self.config.send.ledger
        with issue_lock(ledger_path, request.slug), open_ledger(self.config) as ledger:
            pause_point("send-locked")
            # Rows another transport had in flight are never re-queued by this one.
            same = self._keep_route(ledger, request, route)
            plan = plan_send(
                request.slug,
                subscribers,
                audience.suppressed(),
                ledger,
                channel.idempotent and same,
                request.resend_unknown,
            )
            dispatcher = Dispatcher(
                request.slug,
                template,
                ledger,
                channel.make,
                options,
                stop=stop,
                progress=progress,
                still_wanted=audience.still_wanted,
            )
            started = time.perf_counter()
            tally = dispatcher.run(plan.to_send)
            seconds = time.perf_counter() - started
            if tally.bounced:
                audience.suppress((address, "bounced") for address in tally.bounced)
        return Summary(plan, tally, seconds, channel.where, len(subscribers), options)

    def send_test_copies(self, request: SendRequest) -> tuple[str, list[TestCopy]]:
        """A marked copy ([TEST] subject) to each of request.test_to, outside the ledger;
        in the outbox they go to <slug>-test/ so they never replace a real message.
        Returns where they went and each copy's result."""
        template, channel, _ = self._prepare(request, test=True)
        bad = [
            Problem("--to", reason)
            for address in request.test_to
            if (reason := address_problem(address))
        ]
        if bad:
            raise SendError([*bad, Problem("--to", "fix these addresses; nothing was sent")])
        suppressed = self.open_audience(self.config, replace(request, dry_run=True)).suppressed()
        reader = self.reader(request)
        transport = channel.make()
        copies: list[TestCopy] = []
        try:
            for address in request.test_to:
                # --as: the reader's name and fields; To and the unsubscribe link stay the
                # test address's, so a click in a test copy unsubscribes nobody else.
                subscriber = Subscriber(address)
                if reader:
                    subscriber = Subscriber(address, reader.name, reader.fields)
                if subscriber.suppression_key in suppressed:
                    copies.append(TestCopy(address, None))  # suppressed: never mailed
                    continue
                message = template.render_for(subscriber)
                sender = template.envelope_from(subscriber)
                result = transport.deliver(sender, address, message, lambda: None)
                copies.append(TestCopy(address, result))
        finally:
            transport.close()
        return channel.where, copies

    def overview(self, site: Path | None = None) -> list[IssueStatus]:
        """Every issue: built, sent how often, when, which way, failures, mail back."""
        site = (site or self.config.root / "site").resolve()
        with open_ledger(self.config, readonly=True) as ledger:
            return overview(self.config, self.publication, ledger, site)

    def status(self, slug: str) -> Status:
        with open_ledger(self.config, readonly=True) as ledger:
            known_issue(self.publication, ledger, slug)
            return Status(ledger.counts(slug), ledger.problems(slug))

    def suppress(self, addresses: tuple[str, ...], reason: str) -> list[str]:
        """Never send to addresses again; returns those not suppressed before."""
        for address in addresses:
            if problem := address_problem(address):
                raise SendError(problem)
        audience = self.open_audience(self.config, SendRequest(slug=""))
        return audience.suppress((address, reason) for address in addresses)

    # --- steps ----------------------------------------------------------------------------

    def options(self, request: SendRequest) -> Options:
        send = self.config.send
        return Options(
            rate=send.rate if request.rate is None else request.rate,
            connections=request.connections or send.connections,
            max_attempts=send.max_attempts,
            backoff=self.backoff,
        )

    def _prepare(
        self, request: SendRequest, test: bool = False, clean: bool = True
    ) -> tuple[MessageTemplate, Channel, PreparedIssue]:
        """The issue checked against the built site, the secret, and the channel, in the
        order a user fixes them (clean=False: leave the outbox as it is)."""
        site = (request.site or self.config.root / "site").resolve()
        prepared = prepare_issue(self.publication, request.slug, site)
        secret = self.credentials.secret()
        kind = request.transport or self.config.send.transport
        folder = request.slug + ("-test" if test else "")
        channel = open_channel(
            self.config, kind, folder, request.relay, self.credentials, clean=clean
        )
        return make_template(self.config, prepared, secret, test=test), channel, prepared

    def _route(self, request: SendRequest, channel: Channel, prepared: PreparedIssue) -> Route:
        """How this run goes, as the ledger remembers it (send/route.py)."""
        kind = request.transport or self.config.send.transport
        smtp, relay = self.config.smtp, request.relay
        file = request.subscribers.resolve() if request.subscribers else None
        issue = digest(prepared.issue.title, prepared.html, prepared.text)
        if kind == "outbox":
            return Route(kind, channel.where, issue_digest=issue).with_audience(file)
        return Route(
            kind,
            channel.where,
            relay.host or smtp.host,
            relay.port or smtp.port,
            relay.security or smtp.security,
            issue_digest=issue,
        ).with_audience(file)

    def _keep_route(self, ledger: Ledger, request: SendRequest, route: Route) -> bool:
        """Record the first run's route; refuse a run that differs unless asked. Returns
        whether this run goes the recorded way."""
        recorded = ledger.route(request.slug)
        if recorded is None:
            if not ledger.counts(request.slug):
                sent_before(self.config, request)
            ledger.set_route(request.slug, route.to_json())
            return True
        then = Route.from_json(recorded)
        found = differences(then, route)
        # Nothing handed to or refused by any transport yet (the relay could not be
        # reached): the run that first gets that far sets the route.
        untouched = set(ledger.counts(request.slug)) <= {DeliveryState.QUEUED}
        if found and not (request.change_route or untouched):
            raise RouteChanged(request.slug, then, route, found)
        if found:
            ledger.set_route(request.slug, route.to_json())
        return then.transport == route.transport or untouched
