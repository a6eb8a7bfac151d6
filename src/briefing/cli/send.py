"""Delivery commands: send, status, suppress."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from briefing.cli.app import State, cli, progress_bar, shown_path
from briefing.config import choices
from briefing.errors import Problem, SendError

# The services load when a command runs: `briefing --help` lists this module's
# commands without importing the sender, the gate and the inbox.
if TYPE_CHECKING:
    from briefing.send.gate import GateReport
    from briefing.send.overview import IssueStatus
    from briefing.send.service import SendRequest, SendService, Summary, TestCopy


@cli.command("send")
@click.argument("slug", required=False)
@click.option(
    "--transport",
    type=click.Choice(choices("send.transport")),
    help="Where messages go (default: send.transport, 'outbox').",
)
@click.option(
    "--subscribers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A one-off subscribers CSV instead of the audience store (its suppressions apply).",
)
@click.option("--smtp-host", help="SMTP relay host (overrides smtp.host).")
@click.option("--smtp-port", type=click.IntRange(1, 65535), help="SMTP relay port.")
@click.option(
    "--smtp-security",
    type=click.Choice(choices("smtp.security")),
    help="Connection security (overrides smtp.security).",
)
@click.option(
    "--to",
    "test_to",
    multiple=True,
    metavar="ADDRESS",
    help="Send a test copy to ADDRESS only (repeatable); not recorded in the ledger.",
)
@click.option(
    "--as",
    "as_reader",
    metavar="ADDRESS",
    help="With --to: fill the copy with this subscriber's name and fields.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and send nothing.")
@click.option("--rate", type=click.FloatRange(min=0), help="Messages per second at most.")
@click.option(
    "--connections", type=click.IntRange(min=1), help="Parallel SMTP sessions (outbox: writers)."
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Also resend messages whose fate is unknown after a crash.",
)
@click.option(
    "--site",
    type=click.Path(file_okay=False, path_type=Path),
    help="The built site to check the issue against (default: site/).",
)
@click.option("--yes", is_flag=True, help="Send without asking, the gate's warnings accepted.")
@click.option(
    "--change-route",
    is_flag=True,
    help="Go another way (transport, relay, list, edited issue) than the first run went.",
)
@click.option(
    "--ledger-lost",
    is_flag=True,
    help="Send although the issue was sent before and the ledger has no record of it.",
)
@click.option(
    "--where",
    multiple=True,
    metavar="RULE",
    help="Only subscribers matching RULE (repeatable, all must match): tags_any=a,b,"
    " tags_all=…, tags_none=…, FIELD=value or FIELD=v1,v2.",
)
@click.option("--due", is_flag=True, help="Send every issue whose send_at has passed, once.")
@click.option(
    "--max-late",
    default="24h",
    show_default=True,
    help="With --due: how late a missed slot may still be sent (30m, 6h, 2d).",
)
@click.option("--at", metavar="DATE", help="With --due: act as at DATE (default: now).")
@click.pass_obj
def send_command(state: State, /, slug: str | None, **options: Any) -> None:
    """Deliver issue SLUG to every subscriber, exactly once, personalised.

    Run it again after a crash or Ctrl-C: what was sent is skipped, temporary
    failures are retried. Needs BRIEFING_UNSUBSCRIBE_SECRET; SMTP login comes
    from BRIEFING_SMTP_USER and BRIEFING_SMTP_PASSWORD.

    \b
    Example:
      briefing build && briefing send trump-xi-call            # into outbox/
      briefing send trump-xi-call --to me@example.com --transport smtp
      briefing send trump-xi-call --to me@example.com --as reader@example.org
      briefing send trump-xi-call --transport smtp --connections 4 --rate 50
      briefing send trump-xi-call --where tags_any=trade --dry-run   # a segment's count
      briefing send --due --transport smtp     # every minute from cron: what send_at says

    Before the first message the gate runs check's rules on what goes out: it
    refuses on a missing unsubscribe link, scaffold text, a merge field the list
    cannot fill, a placeholder address…, and asks you to confirm its warnings.
    """
    from briefing.send.channel import Relay
    from briefing.send.service import SendRequest, SendService

    # The option names are SendRequest's field names; the relay's three go together.
    relay = Relay(options.pop("smtp_host"), options.pop("smtp_port"), options.pop("smtp_security"))
    due, max_late, at = options.pop("due"), options.pop("max_late"), options.pop("at")
    if due:  # scheduled sends (cli/schedule.py)
        from briefing.cli.schedule import due_request, send_due

        send_due(state, at, max_late, due_request(slug, {"relay": relay, **options}))
        return
    if slug is None:
        raise click.UsageError("give the SLUG of the issue to send, or --due")
    request = SendRequest(slug, relay=relay, **options)
    service = SendService.open(state.root)
    if request.as_reader and not request.test_to:
        raise SendError("--as needs --to: it fills test copies with a subscriber's fields")
    if request.test_to:
        _echo_findings(service.test_gate(request), test=True)
        where, copies = service.send_test_copies(request)
        _print_test_copies(copies, where)
        return
    summary, report = service.review(request)
    if request.dry_run:
        _echo_findings(report)
        _print_segments(service, request)
        _print_plan(summary)
        return
    confirmed = _confirm(service, request, summary, report)
    del summary, report  # the review's audience and plan: not held through the whole send
    _list_send(state, service, confirmed)


def _list_send(state: State, service: SendService, request: SendRequest) -> None:
    """The send itself; every hint it prints is the full command to run next."""
    from briefing.send.guard import GateRefused, RouteChanged, SentBefore
    from briefing.send.route import command
    from briefing.send.states import DeliveryState

    slug = request.slug
    try:
        with progress_bar(f"Sending {slug}") as progress:
            summary = service.run(request, progress)
    except RouteChanged as changed:
        resume = command(slug, changed.then, _extra(request), _project(state))
        switch = _full_command(state, service, request, "--change-route")
        raise SendError(
            [
                Problem("", str(changed)),
                Problem("", f"resume as before: {resume}"),
                Problem("", f"or switch on purpose: {switch}"),
            ]
        ) from None
    except (GateRefused, SentBefore):
        raise
    except SendError as exc:  # a relay gone, a full disk: what was sent stays sent
        if set(service.status(slug).counts) <= {DeliveryState.QUEUED}:
            raise  # nothing went anywhere yet: the error is all there is to say
        again = _full_command(state, service, request)
        raise SendError([*exc.problems, Problem("", f"once fixed, resume with: {again}")]) from None
    _print_summary(summary, slug, _full_command(state, service, request))
    if summary.tally.interrupted:
        raise SendError(
            "interrupted: the message in flight was finished; run"
            f" `{_full_command(state, service, request)}` again to resume"
        )
    if not summary.complete:
        sys.exit(2)


def _print_segments(service: SendService, request: SendRequest) -> None:
    """Which part of the audience the plan counts (the issue's audience, --where)."""
    from briefing.send.segments import segments_of

    for segment in segments_of(service.publication, request):
        click.echo(f"Segment: {segment.describe()}")


def _echo_findings(report: GateReport, test: bool = False) -> None:
    """The gate's findings; for test copies the refusals are warnings too."""
    from briefing.send.gate import describe

    for line in describe(report):
        click.echo(line.replace("[refused]", "[would refuse a list send]") if test else line)
    if report.accepted:
        click.echo(f"{len(report.accepted)} finding(s) accepted by [check] allow.")


def _confirm(
    service: SendService, request: SendRequest, summary: Summary, report: GateReport
) -> SendRequest:
    """The gate's findings shown; on a terminal the editor confirms with the count."""
    _echo_findings(report)
    if report.blockers or request.yes or not _terminal():
        return request  # run() refuses what must be refused and what nobody confirmed
    title = service.publication.issue(request.slug)
    count = len(summary.plan.to_send)
    question = (
        f"Send '{title.title if title else request.slug}' to {count:,}"
        f" subscriber{'s' * (count != 1)}?"
    )
    if not click.confirm(question, default=False):
        raise SendError("not confirmed; nothing was sent")
    return dataclasses.replace(request, yes=True)


def _terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _project(state: State) -> str | None:
    return None if state.root.resolve() == Path.cwd().resolve() else str(state.root)


def _extra(request: SendRequest, *more: str) -> list[str]:
    """The flags of a request besides its route, for a command to copy and paste."""
    words: list[str] = []
    if request.site:
        words += ["--site", str(request.site)]
    if request.rate is not None:
        words += ["--rate", f"{request.rate:g}"]
    if request.connections:
        words += ["--connections", str(request.connections)]
    for flag in ("resend_unknown", "yes", "ledger_lost"):
        if getattr(request, flag):
            words.append("--" + flag.replace("_", "-"))
    return [*words, *more]


def _full_command(state: State, service: SendService, request: SendRequest, *more: str) -> str:
    """The command that runs this send again, every flag spelled out (the configured
    transport and relay too, so a changed briefing.toml cannot send it another way)."""
    from briefing.send.route import Route, command

    config = service.config
    relay = request.relay
    route = Route(
        request.transport or config.send.transport,
        "",
        relay.host or config.smtp.host,
        relay.port or config.smtp.port,
        relay.security or config.smtp.security,
    ).with_audience(request.subscribers.resolve() if request.subscribers else None)
    return command(request.slug, route, _extra(request, *more), _project(state))


def _print_test_copies(copies: list[TestCopy], where: str) -> None:
    for copy in copies:
        result = copy.result
        if result is None:
            click.echo(f"test copy to {copy.address}: not sent, the address is suppressed")
            continue
        click.echo(
            f"test copy to {copy.address}: {result.state}"
            f"{f' ({result.code} {result.reply})' if result.code else ''} via {where}"
        )


def _print_plan(summary: Summary) -> None:
    plan, options = summary.plan, summary.options
    click.echo(f"Plan: {len(plan.to_send)} to send via {summary.where}")
    click.echo(f"  subscribers listed: {summary.listed}")
    click.echo(f"  suppressed:         {plan.suppressed}")
    click.echo(f"  already sent:       {plan.already_sent}")
    click.echo(f"  failed before:      {plan.failed_before} (not retried)")
    click.echo(f"  unknown:            {plan.unknown} (resent only with --resend-unknown)")
    if options.rate:
        minutes = len(plan.to_send) / options.rate / 60
        click.echo(f"  estimated time:     {minutes:.1f} min at {options.rate:g} messages/s")
    click.echo("Nothing was sent (--dry-run).")


def _print_summary(summary: Summary, slug: str, again: str) -> None:
    t, plan = summary.tally, summary.plan
    rate = t.sent / summary.seconds if summary.seconds > 0 else 0.0
    click.echo(
        f"Sent {t.sent} via {summary.where} in {summary.seconds:.2f} s ({rate:.0f} messages/s);"
        f" skipped {plan.already_sent} already sent, {plan.suppressed} suppressed,"
        f" {plan.failed_before} failed before; failed {t.failed}, deferred {t.deferred},"
        f" unknown {t.unknown + plan.unknown}"
    )
    if plan.recovered:
        click.echo(f"{plan.recovered} message(s) were in flight when a previous run stopped.")
    if t.withheld:
        click.echo(f"Withheld {t.withheld}: they unsubscribed while the send ran.")
    if t.bounced:
        click.echo(f"Suppressed {len(t.bounced)} address(es) that do not exist (5.1.x).")
    if not summary.complete:
        click.echo(f"See `briefing status {slug}`; to retry deferred messages run: {again}")


@cli.command("status")
@click.argument("slug", required=False)
@click.pass_obj
def status_command(state: State, slug: str | None) -> None:
    """Show how the delivery of issue SLUG stands, with every failure and its reason;
    without SLUG, every issue: built, sent to how many, when, which way, failures,
    unknown, and what came back (from `briefing inbox`).

    \b
    Example:
      briefing status
      briefing status trump-xi-call
    """
    from briefing.config import load_config
    from briefing.inbox.setup import mail_back
    from briefing.send.replies import reason
    from briefing.send.service import SendService

    service = SendService.open(state.root)
    if slug is None:
        _print_overview(service.overview())
        return
    status = service.status(slug)
    if not status.counts:
        click.echo(f"{slug}: never sent")
        return
    click.echo(f"{slug}: " + ", ".join(f"{n} {s}" for s, n in sorted(status.counts.items())))
    for row in status.problems:
        code = f" {row.code}" if row.code else ""
        why = f" [{kind}]" if (kind := reason(row.reply or "")) else ""
        click.echo(f"  {row.state:<8} {row.recipient}{code} {row.reply or ''}{why}".rstrip())
    if back := mail_back(load_config(state.root), slug):
        # What `briefing inbox` found came back for this issue (subscribers, not messages).
        click.echo("came back: " + ", ".join(f"{n} {kind}" for kind, n in sorted(back.items())))


def _print_overview(issues: list[IssueStatus]) -> None:
    from briefing.send.states import DeliveryState

    for issue in issues:
        built = "built" if issue.built else "not built"
        if not issue.counts:
            click.echo(f"{issue.slug}: {built}, never sent")
            continue
        total = sum(issue.counts.values())
        line = (
            f"{issue.slug}: {built}, sent to {issue.count(DeliveryState.SENT):,} of {total:,}"
            f" (last {issue.when}) via {issue.where or 'unknown'}"
            f"; failed {issue.count(DeliveryState.FAILED)}"
            f", deferred {issue.count(DeliveryState.DEFERRED)}"
            f", unknown {issue.count(DeliveryState.UNKNOWN)}"
        )
        if issue.back:
            line += "; came back: " + ", ".join(f"{n} {k}" for k, n in sorted(issue.back.items()))
        click.echo(line)


@cli.command("suppress")
@click.argument("addresses", nargs=-1, required=True)
@click.option(
    "--reason",
    type=click.Choice(["unsubscribed", "bounced", "complained", "manual"]),
    default="unsubscribed",
    show_default=True,
)
@click.pass_obj
def suppress_command(state: State, addresses: tuple[str, ...], reason: str) -> None:
    """Never send to ADDRESSES again: their status in the audience store becomes
    unsubscribed, bounced or complained (manual: unsubscribed), with the history kept.

    \b
    Example:
      briefing suppress ada@example.com --reason complained
    """
    from briefing.send.service import SendService

    service = SendService.open(state.root)
    added = service.suppress(addresses, reason)
    path = service.config.root / service.config.audience.store
    click.echo(
        f"Suppressed {len(added)} address(es) in"
        f" {shown_path(path, service.config.root).rstrip('/')}"
        f" ({len(addresses) - len(added)} already were)."
    )
