"""The `briefing` command. Thin: parse options, call the library, print."""

from __future__ import annotations

import csv
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from briefing import __version__
from briefing.build import Progress, build, load
from briefing.config import Config, load_config
from briefing.errors import BriefingError, ContentError, SendError
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

log = logging.getLogger("briefing")


@dataclass
class State:
    root: Path
    debug: bool


def _interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress_bar(description: str) -> Iterator[Progress | None]:
    """A rich progress bar on a terminal; nothing in CI or when piped."""
    if not _interactive():
        yield None
        return
    from rich.progress import Progress as RichProgress

    with RichProgress(transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Folder holding briefing.toml.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(__version__, prog_name="briefing")
@click.pass_context
def cli(ctx: click.Context, project: Path, debug: bool) -> None:
    """briefing: plain-file newsletters, published as email, web pages and feeds.

    \b
    Example:
      briefing build            # render site/ from issues/
      briefing --project ~/news build --out /tmp/site
    """
    # Only our own logger goes to debug: markdown-it alone would print thousands of lines.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    log.setLevel(logging.DEBUG if debug else logging.WARNING)
    ctx.obj = State(project.resolve(), debug)


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", default="My Briefing", show_default=True, help="Publication name.")
@click.option(
    "--base-url",
    default="https://news.example.com/",
    show_default=True,
    help="Where site/ will be published.",
)
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone for dates.")
def init_command(directory: Path, title: str, base_url: str, timezone: str) -> None:
    """Create a new publication in DIRECTORY that builds at once.

    Writes briefing.toml (with comments), the default theme in templates/, one
    sample issue, subscribers.csv, outbox/ and a .gitignore. Never overwrites.

    \b
    Example:
      briefing init my-letter --title "The Weekly" --base-url https://weekly.example.org/
      cd my-letter && briefing build
    """
    from briefing.scaffold import init_project

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown time zone '{timezone}'", param_hint="--timezone"
        ) from None
    today = datetime.now(ZoneInfo(timezone)).date()
    made = init_project(directory.resolve(), title, base_url, timezone, today)
    click.echo(f"Created {len(made)} files in {directory}/. Next: cd {directory} && briefing build")


@cli.command("new")
@click.argument("title")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Issue date (default: today in the publication's time zone).",
)
@click.option("--from-issue", metavar="SLUG", help="Copy edition, tags and article layout.")
@click.pass_obj
def new_command(state: State, title: str, day: datetime | None, from_issue: str | None) -> None:
    """Scaffold the next issue (next number, slug from TITLE) and print its folder.

    \b
    Example:
      briefing new "Tariffs, one month on" --date 2025-07-01 --from-issue trump-xi-call
    """
    from briefing.scaffold import new_issue

    folder = new_issue(state.root, title, day.date() if day else None, from_issue=from_issue)
    click.echo(_shown(folder, state.root))


@cli.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--into", metavar="SLUG", help="Append to this issue (default: a new issue).")
@click.pass_obj
def import_command(state: State, files: tuple[Path, ...], into: str | None) -> None:
    """Turn raw articles (plain text or HTML pages) into article files of an issue.

    Reads each FILE without running or fetching anything in it, keeps the
    structure (headline, source, byline, dateline, dek, key points, subheadings,
    quotes), drops scraped debris and reports what it dropped or could not place.

    \b
    Example:
      briefing import story.txt page.html --into trump-xi-call
      briefing import story.txt            # a new issue titled after the headline
    """
    from briefing.scaffold import new_issue
    from briefing.sources.importer import import_article, write_article

    articles = [import_article(path, str(path)) for path in files]  # all read before writing
    if into:
        issue = load(state.root).issue(into)
        if issue is None:
            raise ContentError(f"--into: no issue with the slug '{into}'")
        folder = issue.folder
    else:
        first = articles[0]
        day = first.published.date() if first.published else None
        folder = new_issue(state.root, first.headline, day, with_story=False)
    for path, article in zip(files, articles, strict=True):
        written = write_article(article, folder)
        click.echo(_shown(written, state.root).rstrip("/"))
        for note in article.notes:
            click.echo(f"  {path.name}: {note}", err=True)


@cli.command("build")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: site/ in the project).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=0,
    help="Parallel render processes (0 = one per core).",
)
@click.option(
    "--clean",
    is_flag=True,
    help="Also remove files in the output folder that the build did not write.",
)
@click.pass_obj
def build_command(state: State, out: Path | None, jobs: int, clean: bool) -> None:
    """Render every issue: email HTML and text, web archive, RSS, Atom and JSON Feed.

    \b
    Example:
      briefing build --out public --jobs 2
    """
    started = time.perf_counter()
    with progress_bar("Rendering issues") as progress:
        result = build(state.root, out.resolve() if out else None, jobs, clean, progress)
    report = result.report
    count = len(result.publication.issues)
    click.echo(
        f"Built {count} issue{'s' * (count != 1)} into {_shown(result.out_dir, state.root)}:"
        f" {report.written} written, {report.unchanged} unchanged, {report.removed} removed"
        f" in {time.perf_counter() - started:.2f} s"
    )


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
        return (lambda: OutboxTransport(folder)), True, _shown(folder, config.root)
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


@cli.command("check")
@click.argument("slugs", nargs=-1, metavar="[SLUG]...")
@click.option("--strict", is_flag=True, help="Treat findings as errors (exit 1).")
@click.pass_obj
def check_command(state: State, slugs: tuple[str, ...], strict: bool) -> None:
    """Lint what subscribers and feed readers would suffer from.

    Each finding prints as file:line: rule: message. Exit status: 0 when there is
    nothing to report, 2 for warnings, 1 with --strict (findings are errors).

    \b
    Example:
      briefing check trump-xi-call
      briefing check --strict      # in CI, before send
    """
    from briefing.check import check

    publication = load(state.root)
    unknown = [s for s in slugs if publication.issue(s) is None]
    if unknown:
        raise ContentError(f"no issue with the slug '{unknown[0]}'")
    findings = check(publication, slugs, _subscriber_columns(publication.config))
    level = "error" if strict else "warning"
    for finding in findings:
        click.echo(f"{finding} [{level}]")
    checked = len(slugs) or len(publication.issues)
    click.echo(
        f"Checked {checked} issue{'s' * (checked != 1)}: {len(findings)} finding"
        f"{'s' * (len(findings) != 1)}.",
        err=True,
    )
    if findings:
        sys.exit(1 if strict else 2)


def _subscriber_columns(config: Config) -> set[str] | None:
    path = config.root / config.send.subscribers
    if not path.is_file():
        return None
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {c.strip() for c in next(csv.reader(handle), [])}


@cli.command("preview")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Site folder to build into and serve (default: site/).",
)
@click.pass_obj
def preview_command(state: State, port: int, out: Path | None) -> None:
    """Serve the site on 127.0.0.1, rebuild on every change, reload the browser.

    The page at / shows each issue's email at 600 and 375 px in light and dark
    mode, its plain text, web page, feed entry and check findings.

    \b
    Example:
      briefing preview --port 8000     # then open http://127.0.0.1:8000/
    """
    from briefing.preview import serve

    site = (out or state.root / "site").resolve()
    try:
        server, preview = serve(state.root, site, port, lambda line: click.echo(line, err=True))
    except OSError as exc:
        raise BriefingError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; choose another --port"
        ) from None
    click.echo(
        f"Previewing on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)", err=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        preview.stop.set()
        server.server_close()


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
        f"Added {len(added)} address(es) to {_shown(path, config.root).rstrip('/')}"
        f" ({len(addresses) - len(added)} already there)."
    )


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) + "/"
    except ValueError:
        return str(path) + "/"


def main() -> None:
    """Console entry point: user errors are one line; anything else too, unless --debug."""
    debug = "--debug" in sys.argv[1:]
    try:
        code = cli.main(prog_name="briefing", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(1)
