"""`briefing audience …`: the subscriber store from the command line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from briefing.audience.records import STATUSES
from briefing.cli.app import State, cli
from briefing.errors import BriefingError, Problem, relative

# The services load inside the commands, not at import: `briefing --help` stays quick.
if TYPE_CHECKING:
    from briefing.audience.store import Store
    from briefing.audience.transfer import ImportReport

_STATUS = click.Choice(STATUSES)


@contextmanager
def _store(state: State) -> Iterator[Store]:
    from briefing.audience.access import expire_sign_ups, open_store
    from briefing.config import load_config

    config = load_config(state.root)
    store = open_store(config)
    try:
        expire_sign_ups(store, config)  # what `audience` lists holds no expired sign-up
        yield store
    finally:
        store.close()


@cli.group("audience")
def audience_group() -> None:
    """Subscribers in the audience store: import, export, list, stats, tag, remove.

    \b
    Example:
      briefing audience import members.csv --map 'Email Address=email'
      briefing audience stats
    """


@audience_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="'COLUMN=field'",
    help="Rename a column of the file, e.g. 'Email Address=email' (repeatable).",
)
@click.option(
    "--reactivate",
    is_flag=True,
    help="Also make active again people who unsubscribed, bounced or complained.",
)
@click.option(
    "--suppressions",
    is_flag=True,
    help="FILE is a suppression list (email, reason): suppress every address in it.",
)
@click.pass_obj
def import_command(
    state: State, file: Path, pairs: tuple[str, ...], reactivate: bool, suppressions: bool
) -> None:
    """Add the people in FILE (CSV with an 'email' column) as active subscribers.

    Running it again with the same file changes nothing. 'name' and every other
    column become merge fields. Nobody who left the list is brought back unless
    --reactivate is given; someone erased with `audience remove` never is.

    \b
    Example:
      briefing audience import subscribers.csv
      briefing audience import export.csv --map 'Email Address=email' --map 'First Name=name'
      briefing audience import suppressions.csv --suppressions
    """
    from briefing.audience.transfer import (
        import_rows,
        import_suppressions,
        parse_map,
        read_csv,
        subscriber_rows,
    )

    path = file.resolve()
    label = relative(path, state.root)
    rows = read_csv(path, label, parse_map(pairs))
    with _store(state) as store:
        if suppressions:
            report = import_suppressions(store, rows, f"imported from {label}")
        else:
            report = import_rows(store, subscriber_rows(rows), f"imported from {label}", reactivate)
    click.echo(_describe(report, label))


def _describe(report: ImportReport, label: str) -> str:
    parts = [f"{label}: {report.added} added"]
    if report.suppressed:
        parts.append(f"{report.suppressed} suppressed")
    parts += [f"{report.updated} updated", f"{report.unchanged} unchanged"]
    if report.reactivated:
        parts.append(f"{report.reactivated} reactivated (--reactivate)")
    for status, n in sorted(report.skipped.items()):
        parts.append(f"{n} {status} left alone (pass --reactivate to subscribe them again)")
    if report.erased:
        parts.append(f"{report.erased} erased on request, not imported")
    return ", ".join(parts) + "."


@audience_group.command("export")
@click.option("--status", "statuses", multiple=True, type=_STATUS, help="Only these (repeatable).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to stdout."
)
@click.pass_obj
def export_command(state: State, statuses: tuple[str, ...], out: Path | None) -> None:
    """Write subscribers as CSV, with status, history and consent columns.

    \b
    Example:
      briefing audience export --status active --out active.csv
    """
    from briefing.audience.transfer import export_csv

    with _store(state) as store:
        members = store.members(statuses)
    if out is None:
        export_csv(members, sys.stdout)
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        count = export_csv(members, handle)
    click.echo(f"Wrote {count} subscriber(s) to {out}.", err=True)


@audience_group.command("list")
@click.option("--status", "statuses", multiple=True, type=_STATUS, help="Only these (repeatable).")
@click.pass_obj
def list_command(state: State, statuses: tuple[str, ...]) -> None:
    """Print subscribers, one a line: address, status, how and when it was reached.

    \b
    Example:
      briefing audience list --status pending
    """
    with _store(state) as store:
        for m in store.members(statuses):
            click.echo(f"{m.email}\t{m.status}\t{m.source}\t{m.status_at[:19]}Z")


@audience_group.command("show")
@click.argument("address")
@click.pass_obj
def show_command(state: State, address: str) -> None:
    """Print one subscriber's record: status, consent and full history.

    \b
    Example:
      briefing audience show ada@example.com
    """
    with _store(state) as store:
        member, events = store.get(address), store.history(address)
        erased = store.is_erased(address)
    if member is None:
        raise BriefingError(
            f"{address} was erased on request" if erased else f"{address} is not in the store"
        )
    click.echo(f"{member.email} ({member.name or 'no name'}): {member.status}")
    if member.consent_at:
        click.echo(
            f"consent: {member.consent_at[:19]}Z via {member.consent_source}:"
            f" {member.consent_detail}"
        )
    for event in events:
        detail = f" — {event.detail}" if event.detail else ""
        click.echo(f"  {event.at[:19]}Z {event.status:<12} {event.source}{detail}")


@audience_group.command("stats")
@click.pass_obj
def stats_command(state: State) -> None:
    """Counts by status and by how each was reached, and growth by month.

    \b
    Example:
      briefing audience stats
    """
    from briefing.audience.report import stats

    with _store(state) as store:
        figures = stats(store)
    for status, n in figures.by_status.items():
        sources = figures.by_source.get(status, {})
        how = ", ".join(f"{k} {v}" for k, v in sorted(sources.items()))
        click.echo(f"{status:<13}{n:>7}" + (f"   ({how})" if how else ""))
    if figures.erased:
        click.echo(f"{'erased':<13}{figures.erased:>7}   (kept only as a hash)")
    if figures.months:
        click.echo("month      joined   left")
        for month in figures.months:
            click.echo(f"{month.month}  {month.joined:>7} {month.left:>6}")


@audience_group.command("tag")
@click.argument("addresses", nargs=-1, required=True)
@click.option("--add", "add", multiple=True, metavar="TAG", help="Tag to add (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="TAG", help="Tag to take away.")
@click.pass_obj
def tag_command(
    state: State, addresses: tuple[str, ...], add: tuple[str, ...], remove: tuple[str, ...]
) -> None:
    """Add or remove tags of ADDRESSES (segments select by tag: `audience:` in
    issue.md, `send --where tags_any=…`). A CSV import's `tags` column sets them too.

    \b
    Example:
      briefing audience tag ada@example.com bob@example.com --add trade --remove paused
    """
    from briefing.audience.tags import retag
    from briefing.sources.frontmatter import SLUG

    bad = [t for t in (*add, *remove) if not SLUG.match(t.lower())]
    if bad or not (add or remove):
        raise click.UsageError(
            f"'{bad[0]}' is not a tag (letters, digits, hyphens)"
            if bad
            else "give --add or --remove"
        )
    with _store(state) as store:
        missing = retag(store, addresses, add, remove)
    click.echo(f"Tagged {len(addresses) - len(missing)} subscriber(s).")
    for address in missing:
        click.echo(f"not in the store: {address}", err=True)


@audience_group.command("remove")
@click.argument("addresses", nargs=-1, required=True)
@click.pass_obj
def remove_command(state: State, addresses: tuple[str, ...]) -> None:
    """Erase ADDRESSES and their history (a data-deletion request).

    Only a salted hash of each address is kept, so that no later import
    subscribes them again by mistake; signing up again themselves still works.
    The delivery ledger keeps its rows of past sends (their counts) under a name
    made from that hash instead of the address.

    \b
    Example:
      briefing audience remove ada@example.com
    """
    from briefing.audience.address import address_problem

    for address in addresses:
        if problem := address_problem(address):
            raise BriefingError(problem)
    with _store(state) as store:
        found = sum(store.erase(address) for address in addresses)
        # The ledger's rows keep their states (the counts of past sends) under a name
        # that is no address: the same person is the same alias in every issue.
        aliases = [(a, "erased-" + store.erasure_hash(a)[:16]) for a in addresses]
    click.echo(
        f"Erased {found} subscriber(s); {len(addresses) - found} were not in the store."
        " Their addresses are kept only as hashes, so imports skip them."
    )
    if renamed := _forget_in_ledger(state, aliases):
        click.echo(f"The delivery ledger's {renamed} row(s) of past sends no longer name them.")


def _forget_in_ledger(state: State, aliases: list[tuple[str, str]]) -> int:
    import sqlite3
    from contextlib import ExitStack

    from briefing.config import load_config
    from briefing.send.issue_lock import issue_lock
    from briefing.send.ledger import open_ledger

    config = load_config(state.root)
    path = config.root / config.send.ledger
    if not path.is_file():
        return 0  # nothing was ever sent
    with open_ledger(config) as ledger, ExitStack() as locks:
        # Each issue's send lock: a running send marks its rows by address, and a row
        # renamed under it would be queued again by its next run (a second message).
        for slug in sorted(ledger.issues()):
            locks.enter_context(issue_lock(path, slug))  # held: says so, "run again"
        try:
            return sum(ledger.forget(address, alias) for address, alias in aliases)
        except sqlite3.Error as exc:  # a full disk, a damaged file
            raise BriefingError(
                Problem(
                    config.send.ledger,
                    f"cannot rewrite the ledger ({exc}); the store has erased them:"
                    " run the same command again to clear the ledger too",
                )
            ) from None
