"""Editor commands: init, new, import, build, check, preview."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from briefing.cli.app import State, checked_as, cli, progress_bar, shown_path
from briefing.config import key
from briefing.errors import BriefingError, ContentError

# The services (build, render, check) load inside the commands: `briefing --help` stays quick.
if TYPE_CHECKING:
    from briefing.config import Config


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--title",
    default="My Briefing",
    show_default=True,
    help=key("publication.title").option.help,
)
@click.option(
    "--base-url",
    default="https://news.example.com/",
    show_default=True,
    callback=checked_as("publication.base_url", fix=lambda url: url.rstrip("/") + "/"),
    help=key("publication.base_url").option.help,
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    callback=checked_as("publication.timezone"),
    help=key("publication.timezone").option.help,
)
@click.option("--with-theme", is_flag=True, help="Also copy the whole packaged theme.")
def init_command(
    directory: Path, title: str, base_url: str, timezone: str, with_theme: bool
) -> None:
    """Create a new publication in DIRECTORY that builds at once.

    Writes briefing.toml (with comments), templates/ (a README only: the packaged
    theme serves every file, see `briefing theme`), one sample issue,
    subscribers.csv, outbox/ and a .gitignore. Never overwrites.

    \b
    Example:
      briefing init my-letter --title "The Weekly" --base-url https://weekly.example.org/
      cd my-letter && briefing build
    """
    from briefing.scaffold import init_project

    now = datetime.now(ZoneInfo(timezone))
    # The sample issue is dated 08:00 that day; before then it would be a future issue,
    # which build holds back, so it takes yesterday's date.
    today = now.date() if now.hour >= 8 else now.date() - timedelta(days=1)
    made = init_project(directory.resolve(), title, base_url, timezone, today, with_theme)
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
    click.echo(shown_path(folder, state.root))


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
    from briefing.build import load
    from briefing.importer import import_article, write_article
    from briefing.scaffold import new_issue

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
        click.echo(shown_path(written, state.root).rstrip("/"))
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
    help="Also remove files the build did not write (only in a folder briefing created;"
    " hidden files and folders stay).",
)
@click.option(
    "--as-of",
    "as_of",
    callback=lambda _ctx, _param, value: as_of_time(value),
    metavar="DATE",
    help="Publish the issues dated up to DATE (ISO 8601; default: now). Same sources and"
    " --as-of, same site.",
)
@click.pass_obj
def build_command(state: State, out: Path | None, jobs: int, clean: bool, as_of: datetime) -> None:
    """Render every published issue: email HTML and text, web archive, RSS, Atom and
    JSON Feed. Drafts (draft: true) and issues dated after the cut-off are left out.

    \b
    Example:
      briefing build --out public --jobs 2
      briefing build --as-of 2025-06-10T07:00:00+00:00   # the site as it was then
    """
    from briefing.build import build

    started = time.perf_counter()
    with progress_bar("Rendering issues") as progress:
        target = out.resolve() if out else None
        result = build(state.root, target, jobs, clean, progress, as_of=as_of)
    report = result.report
    count = len(result.publication.issues)
    click.echo(
        f"Built {count} issue{'s' * (count != 1)} into {shown_path(result.out_dir, state.root)}:"
        f" {report.written} written, {report.unchanged} unchanged, {report.removed} removed"
        f" in {time.perf_counter() - started:.2f} s"
    )
    drafts = [i.slug for i in result.held_back if i.draft]
    future = [i for i in result.held_back if not i.draft]
    line = f"Cut-off {as_of.isoformat(timespec='seconds')}"
    if drafts:
        line += f"; {len(drafts)} draft(s) left out: {', '.join(drafts)}"
    if future:
        soonest = min(future, key=lambda i: i.date)
        line += (
            f"; {len(future)} future issue(s) held back (next: {soonest.slug}"
            f" on {soonest.date.isoformat()})"
        )
    click.echo(line)


def as_of_time(value: str | None) -> datetime:
    """--as-of as an aware time; the clock is read here, at the CLI, and nowhere below."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"'{value}' is not an ISO 8601 date or date-time, e.g. 2025-06-10T07:00:00+00:00"
        ) from None
    if parsed.tzinfo is None:  # a bare date or time: the end of that moment in UTC
        if len(value) == 10:
            parsed = parsed.replace(hour=23, minute=59, second=59)
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@cli.command("check")
@click.argument("slugs", nargs=-1, metavar="[SLUG]...")
@click.option("--strict", is_flag=True, help="Treat findings as errors (exit 1).")
@click.option(
    "--as-of",
    "as_of",
    callback=lambda _ctx, _param, value: as_of_time(value),
    metavar="DATE",
    help="The cut-off future issues are judged against (default: now).",
)
@click.pass_obj
def check_command(state: State, slugs: tuple[str, ...], strict: bool, as_of: datetime) -> None:
    """Lint what subscribers and feed readers would suffer from.

    Each finding prints as file:line: rule: message. Exit status: 0 when there is
    nothing to report, 2 for warnings, 1 with --strict (findings are errors).

    \b
    Example:
      briefing check trump-xi-call
      briefing check --strict      # in CI, before send
    """
    from briefing.build import load
    from briefing.check import Finding, allowed, check
    from briefing.check.calendar import calendar_findings

    publication = load(state.root)
    unknown = [s for s in slugs if publication.issue(s) is None]
    if unknown:
        raise ContentError(f"no issue with the slug '{unknown[0]}'")
    findings = check(publication, slugs, _subscriber_columns(publication.config))
    audience = _active_fields(publication.config)
    calendar = calendar_findings(publication, as_of, slugs, audience)
    findings = sorted(findings + [Finding(*found) for found in calendar])
    # Findings accepted in briefing.toml ([check] allow) pass --strict and the send gate.
    accepted = [f for f in findings if allowed(f, publication.config.check.allow)]
    findings = [f for f in findings if f not in accepted]
    if accepted:
        click.echo(f"{len(accepted)} finding(s) accepted by [check] allow.", err=True)
    level = "error" if strict else "warning"
    for finding in findings:
        click.echo(f"{finding} [{level}]")
    checked = len(slugs) or len(publication.issues)
    click.echo(
        f"Checked {checked} issue{'s' * (checked != 1)}: {len(findings)} finding"
        f"{'s' * (len(findings) != 1)}.",
        err=True,
    )
    _service_notes(publication.config)
    if findings:
        sys.exit(1 if strict else 2)


def _service_notes(config: Config) -> None:
    url, unsubscribe = config.service.url, config.email.unsubscribe_url
    if not url:
        click.echo(
            "note: no [service] url: the site has no sign-up form (see `briefing serve`)",
            err=True,
        )
    elif not unsubscribe.startswith(url + "u/"):
        click.echo(
            f"note: email.unsubscribe_url does not point at the service ({url}u/{{token}});"
            " one-click unsubscribes will not reach `briefing serve`",
            err=True,
        )


def _subscriber_columns(config: Config) -> set[str] | None:
    from briefing.audience.access import store_path
    from briefing.audience.store import Store

    if store_path(config).is_file():  # the audience store's merge fields
        with Store(store_path(config)) as store:
            return store.field_names() | {"email", "name"}
    path = config.root / config.send.subscribers
    if not path.is_file():
        return None
    import csv  # here: a build does not read the list

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {c.strip() for c in next(csv.reader(handle), [])}


def _active_fields(config: Config) -> list[dict[str, str]] | None:
    """Every active subscriber's fields (tags among them), for segment findings."""
    from briefing.audience.access import store_path
    from briefing.audience.store import ACTIVE, Store

    if not store_path(config).is_file():
        return None
    with Store(store_path(config)) as store:
        return [{**m.fields, "email": m.email, "name": m.name} for m in store.members([ACTIVE])]


def _reader_values(root: Path, address: str) -> dict[str, str]:
    """A subscriber's merge values from a copy of the audience store (`--as`)."""
    from briefing.send.service import SendRequest, SendService

    service = SendService.open(root)
    reader = service.reader(SendRequest("", as_reader=address))
    assert reader is not None
    # The unsubscribe link of a preview goes nowhere: it is not theirs to click.
    return {**reader.fields, "name": reader.name, "email": reader.email, "unsubscribe_url": "#"}


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
@click.option(
    "--as",
    "as_reader",
    metavar="ADDRESS",
    help="Show the emails filled with this subscriber's name and fields.",
)
@click.pass_obj
def preview_command(state: State, port: int, out: Path | None, as_reader: str | None) -> None:
    """Serve the site on 127.0.0.1, rebuild on every change, reload the browser.

    The page at / shows each issue's email at 600 and 375 px in light and dark
    mode, its plain text, web page, feed entry and check findings.

    \b
    Example:
      briefing preview --port 8000     # then open http://127.0.0.1:8000/
      briefing preview --as reader@example.org   # merge fields as that reader gets them
    """
    from briefing.preview import serve

    site = (out or state.root / "site").resolve()
    reader = _reader_values(state.root, as_reader) if as_reader else None
    try:
        server, preview = serve(
            state.root, site, port, lambda line: click.echo(line, err=True), reader
        )
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
