"""`briefing inbox`: read the bounce / unsubscribe mailbox and update the audience."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from briefing.cli.app import State, cli

if TYPE_CHECKING:
    from briefing.inbox.service import Report

_ACTIONS = ("bounced", "soft-bounced", "complained", "unsubscribed")


@cli.command("inbox")
@click.option("--imap", "kind", flag_value="imap", help="Read the IMAP mailbox of [bounces].")
@click.option(
    "--maildir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Read this Maildir folder (default: bounces.maildir).",
)
@click.option(
    "--mbox",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read this mbox file (default: bounces.mbox).",
)
@click.option(
    "--move-to",
    metavar="FOLDER",
    help="Move messages acted on into FOLDER (default: bounces.move_to).",
)
@click.option("--leave", is_flag=True, help="Leave every message where it is.")
@click.option(
    "--dry-run", is_flag=True, help="Only show what it finds: nothing is changed or moved."
)
@click.option("--verbose", "-v", is_flag=True, help="Show each message and full addresses.")
@click.pass_obj
def inbox_command(
    state: State,
    kind: str | None,
    maildir: Path | None,
    mbox: Path | None,
    move_to: str | None,
    leave: bool,
    dry_run: bool,
    verbose: bool,
) -> None:
    """Act on the mail that comes back: bounces (RFC 3464 and the formats MTAs
    really send), complaints (ARF, RFC 5965) and mailto unsubscribes. Running it
    again changes nothing; run it from cron or CI beside `briefing send`.

    \b
    Example:
      briefing inbox --imap
      briefing inbox --maildir ~/Maildir/.bounces --move-to Done -v
    """
    chosen = [k for k, v in (("imap", kind), ("maildir", maildir), ("mbox", mbox)) if v]
    if len(chosen) > 1:
        raise click.UsageError("choose one of --imap, --maildir and --mbox")
    # The services load here, not at import: `briefing --help` stays quick.
    from briefing.audience.access import open_store
    from briefing.config import load_config
    from briefing.inbox.service import run_inbox
    from briefing.inbox.setup import make_context, open_source, options
    from briefing.inbox.state import InboxState

    config = load_config(state.root)
    ctx, warning = make_context(config)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    settings = options(config, "" if leave or dry_run else move_to, dry_run)
    source = open_source(config, chosen[0] if chosen else None, maildir or mbox)
    store = open_store(config)
    try:
        report = run_inbox(source, InboxState(store), ctx, settings)
    finally:
        store.close()
    _print(report, source.label, settings.move_to, verbose)
    if dry_run:
        click.echo("dry run: nothing was recorded, changed or moved")


def _shown(address: str, verbose: bool) -> str:
    from briefing.audience.address import mask

    return address if verbose else mask(address)


def _print(report: Report, label: str, move_to: str, verbose: bool) -> None:
    from briefing.inbox.classify import Kind

    left_alone = {
        Kind.AUTO_REPLY.value: "auto-replies",
        Kind.MALFORMED.value: "malformed",
        Kind.IGNORED.value: "other",
    }
    counts = report.counts()
    click.echo(f"inbox: {len(report.handled)} message(s) in {label}")
    for name in _ACTIONS:
        click.echo(f"  {name:<13} {counts[name]}")
    alone = {text: counts[kind] for kind, text in left_alone.items() if counts[kind]}
    detail = ", ".join(f"{text} {n}" for text, n in alone.items())
    click.echo(f"  {'ignored':<13} {sum(alone.values())}" + (f" ({detail})" if detail else ""))
    if counts["already processed"]:
        click.echo(f"  {'seen before':<13} {counts['already processed']}")
    changed = 0
    for item in report.handled:
        for kind, address, outcome in item.outcomes:
            # 'soft bounce 1 of 3…', 'complained: no change…' and a dry run leave the status.
            preview = outcome.startswith("dry run:")
            changes = not preview and not outcome.startswith(
                ("soft bounce ", f"{kind}:", "bounced:")
            )
            changed += changes
            if verbose or changes or preview:
                click.echo(f"  {kind}: {_shown(address, verbose)}: {outcome}")
        if item.kind is Kind.MALFORMED and not item.before:
            click.echo(f"  left alone: {item.ref}: {item.note}")
        elif verbose and not item.outcomes:
            click.echo(f"  {item.kind.value}: {item.ref}: {item.note}")
    moved = sum(1 for i in report.handled if i.kind.value in _ACTIONS) if move_to else 0
    where = f"; {moved} moved to {move_to}" if move_to else ""
    click.echo(f"{changed} status(es) changed{where}")
