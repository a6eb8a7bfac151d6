"""Delivery commands: send, status, suppress."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from briefing.cli.app import State, cli, progress_bar, shown_path
from briefing.config import choices, load_config
from briefing.errors import SendError
from briefing.inbox.setup import mail_back
from briefing.send.channel import TRANSPORTS, Relay
from briefing.send.service import SendRequest, SendService, Summary, TestCopy


@cli.command("send")
@click.argument("slug", required=False)
@click.option(
    "--transport",
    type=click.Choice(TRANSPORTS),
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
      briefing send trump-xi-call --transport smtp --connections 4 --rate 50
      briefing send trump-xi-call --where tags_any=trade --dry-run   # a segment's count
      briefing send --due --transport smtp     # every minute from cron: what send_at says
    """
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
    if request.test_to:
        where, copies = service.send_test_copies(request)
        _print_test_copies(copies, where)
        return
    if request.dry_run:
        _print_plan(service.plan(request))
        return
    with progress_bar(f"Sending {slug}") as progress:
        summary = service.run(request, progress)
    _print_summary(summary, slug)
    if summary.tally.interrupted:
        raise SendError(
            f"interrupted: the message in flight was finished; run `briefing send"
            f" {slug}` again to resume"
        )
    if not summary.complete:
        sys.exit(2)


def _print_test_copies(copies: list[TestCopy], where: str) -> None:
    for copy in copies:
        result = copy.result
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


def _print_summary(summary: Summary, slug: str) -> None:
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
        click.echo(
            f"See `briefing status {slug}`; run the same send again to retry deferred messages."
        )


@cli.command("status")
@click.argument("slug")
@click.pass_obj
def status_command(state: State, slug: str) -> None:
    """Show how the delivery of issue SLUG stands, with every failure.

    \b
    Example:
      briefing status trump-xi-call
    """
    status = SendService.open(state.root).status(slug)
    if not status.counts:
        click.echo(f"{slug}: never sent")
        return
    click.echo(f"{slug}: " + ", ".join(f"{n} {s}" for s, n in sorted(status.counts.items())))
    for row in status.problems:
        code = f" {row.code}" if row.code else ""
        click.echo(f"  {row.state:<8} {row.recipient}{code} {row.reply or ''}".rstrip())
    if back := mail_back(load_config(state.root), slug):
        # What `briefing inbox` found came back for this issue (subscribers, not messages).
        click.echo("came back: " + ", ".join(f"{n} {kind}" for kind, n in sorted(back.items())))


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
    service = SendService.open(state.root)
    added = service.suppress(addresses, reason)
    path = service.config.root / service.config.audience.store
    click.echo(
        f"Suppressed {len(added)} address(es) in"
        f" {shown_path(path, service.config.root).rstrip('/')}"
        f" ({len(addresses) - len(added)} already were)."
    )
