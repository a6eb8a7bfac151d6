"""Delivery commands: send, status, suppress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from briefing.build import load
from briefing.cli.app import State, cli, progress_bar, shown_path
from briefing.config import Config, load_config
from briefing.errors import SendError
from briefing.send.audience import Subscriber, add_suppressions, address_problem
from briefing.send.dispatch import Options
from briefing.send.ledger import Ledger
from briefing.send.run import (
    Plan,
    PreparedIssue,
    Summary,
    ledger_for,
    load_audience,
    make_template,
    plan_send,
    prepare_issue,
    run_send,
    secret_from_env,
)
from briefing.send.transports import OutboxTransport, SmtpSettings, SmtpTransport, Transport


def _transport_factory(
    config: Config,
    transport: str,
    slug: str,
    host: str | None,
    port: int | None,
    security: str | None,
) -> tuple[Callable[[], Transport], bool, str]:
    """A factory for one transport session, whether resending is safe, and where it goes."""
    if transport == "outbox":
        folder = config.root / config.send.outbox / slug
        OutboxTransport.clear_leftovers(folder)
        return (lambda: OutboxTransport(folder)), True, shown_path(folder, config.root)
    smtp = config.smtp
    settings = SmtpSettings(
        host=host or smtp.host,
        port=port or smtp.port,
        security=security or smtp.security,
        username=os.environ.get("BRIEFING_SMTP_USER", ""),
        password=os.environ.get("BRIEFING_SMTP_PASSWORD", ""),
        allow_insecure_auth=smtp.allow_insecure_auth,
        ca_file=str(config.root / smtp.ca_file) if smtp.ca_file else "",
        timeout=smtp.timeout,
    )
    where = f"smtp://{settings.host}:{settings.port} ({settings.security})"
    return (lambda: SmtpTransport(settings)), False, where


@cli.command("send")
@click.argument("slug")
@click.option(
    "--transport",
    type=click.Choice(["outbox", "smtp"]),
    help="Where messages go (default: send.transport, 'outbox').",
)
@click.option(
    "--subscribers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Subscribers CSV (default: send.subscribers).",
)
@click.option("--smtp-host", help="SMTP relay host (overrides smtp.host).")
@click.option("--smtp-port", type=click.IntRange(1, 65535), help="SMTP relay port.")
@click.option(
    "--smtp-security",
    type=click.Choice(["starttls", "ssl", "none"]),
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
@click.pass_obj
def send_command(
    state: State,
    slug: str,
    transport: str | None,
    subscribers: Path | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_security: str | None,
    test_to: tuple[str, ...],
    dry_run: bool,
    rate: float | None,
    connections: int | None,
    resend_unknown: bool,
    site: Path | None,
) -> None:
    """Deliver issue SLUG to every subscriber, exactly once, personalised.

    Run it again after a crash or Ctrl-C: what was sent is skipped, temporary
    failures are retried. Needs BRIEFING_UNSUBSCRIBE_SECRET; SMTP login comes
    from BRIEFING_SMTP_USER and BRIEFING_SMTP_PASSWORD.

    \b
    Example:
      briefing build && briefing send trump-xi-call            # into outbox/
      briefing send trump-xi-call --to me@example.com --transport smtp
      briefing send trump-xi-call --transport smtp --connections 4 --rate 50
    """
    publication = load(state.root)
    config = publication.config
    prepared = prepare_issue(publication, slug, (site or state.root / "site").resolve())
    secret = secret_from_env()
    chosen = transport or config.send.transport
    # Test copies go to their own outbox folder so they never replace a real message.
    make_transport, idempotent, where = _transport_factory(
        config, chosen, slug + ("-test" if test_to else ""), smtp_host, smtp_port, smtp_security
    )
    if test_to:
        _send_test(config, prepared, secret, make_transport, test_to, where)
        return
    audience = load_audience(config, subscribers.resolve() if subscribers else None)
    options = Options(
        rate=config.send.rate if rate is None else rate,
        connections=connections or config.send.connections,
        max_attempts=config.send.max_attempts,
    )
    ledger = ledger_for(config)
    try:
        if dry_run:
            plan = plan_send(
                config, slug, audience, ledger, idempotent, resend_unknown, dry_run=True
            )
            _print_plan(plan, len(audience), options, where)
            return
        template = make_template(config, prepared, secret)
        with progress_bar(f"Sending {slug}") as progress:
            summary = run_send(
                config,
                slug,
                template,
                audience,
                ledger,
                make_transport,
                idempotent,
                options,
                resend_unknown,
                progress,
            )
        _print_summary(summary, slug, where, ledger)
    finally:
        ledger.close()
    if summary.tally.interrupted:
        raise SendError(
            f"interrupted: the message in flight was finished; run `briefing send"
            f" {slug}` again to resume"
        )
    t = summary.tally
    if t.failed or t.deferred or t.unknown or summary.plan.unknown:
        sys.exit(2)


def _send_test(
    config: Config,
    prepared: PreparedIssue,
    secret: bytes,
    make_transport: Callable[[], Transport],
    addresses: tuple[str, ...],
    where: str,
) -> None:
    template = make_template(config, prepared, secret, test=True)
    transport = make_transport()
    try:
        for address in addresses:
            if reason := address_problem(address):
                raise SendError(f"--to: {reason}")
            result = transport.deliver(
                template.sender.envelope_from,
                address,
                template.render_for(Subscriber(address)),
                lambda: None,
            )
            click.echo(
                f"test copy to {address}: {result.state}"
                f"{f' ({result.code} {result.reply})' if result.code else ''} via {where}"
            )
    finally:
        transport.close()


def _print_plan(plan: Plan, listed: int, options: Options, where: str) -> None:
    click.echo(f"Plan: {len(plan.to_send)} to send via {where}")
    click.echo(f"  subscribers listed: {listed}")
    click.echo(f"  suppressed:         {plan.suppressed}")
    click.echo(f"  already sent:       {plan.already_sent}")
    click.echo(f"  failed before:      {plan.failed_before} (not retried)")
    click.echo(f"  unknown:            {plan.unknown} (resent only with --resend-unknown)")
    if options.rate:
        minutes = len(plan.to_send) / options.rate / 60
        click.echo(f"  estimated time:     {minutes:.1f} min at {options.rate:g} messages/s")
    click.echo("Nothing was sent (--dry-run).")


def _print_summary(summary: Summary, slug: str, where: str, ledger: Ledger) -> None:
    t, plan = summary.tally, summary.plan
    rate = t.sent / summary.seconds if summary.seconds > 0 else 0.0
    click.echo(
        f"Sent {t.sent} via {where} in {summary.seconds:.2f} s ({rate:.0f} messages/s);"
        f" skipped {plan.already_sent} already sent, {plan.suppressed} suppressed,"
        f" {plan.failed_before} failed before; failed {t.failed}, deferred {t.deferred},"
        f" unknown {t.unknown + plan.unknown}"
    )
    if plan.recovered:
        click.echo(f"{plan.recovered} message(s) were in flight when a previous run stopped.")
    if t.bounced:
        click.echo(f"Suppressed {len(t.bounced)} address(es) that do not exist (5.1.x).")
    if t.failed or t.deferred or t.unknown or plan.unknown:
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
    config = load_config(state.root)
    ledger = ledger_for(config)
    try:
        counts = ledger.counts(slug)
        if not counts:
            click.echo(f"{slug}: never sent")
            return
        click.echo(f"{slug}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for row in ledger.problems(slug):
            code = f" {row.code}" if row.code else ""
            click.echo(f"  {row.state:<8} {row.recipient}{code} {row.reply or ''}".rstrip())
    finally:
        ledger.close()


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
    """Never send to ADDRESSES again (they stay in the subscribers file).

    \b
    Example:
      briefing suppress ada@example.com --reason complained
    """
    config = load_config(state.root)
    for address in addresses:
        if problem := address_problem(address):
            raise SendError(problem)
    path = config.root / config.send.suppressions
    added = add_suppressions(path, ((a, reason) for a in addresses))
    click.echo(
        f"Added {len(added)} address(es) to {shown_path(path, config.root).rstrip('/')}"
        f" ({len(addresses) - len(added)} already there)."
    )
