"""The `briefing` command. Thin: parse options, call the library, print."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from briefing import __version__
from briefing.build import Progress, build

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
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    ctx.obj = State(project.resolve(), debug)


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


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) + "/"
    except ValueError:
        return str(path) + "/"


def main() -> None:
    """Console entry point: user errors are one line; anything else too, unless --debug."""
    debug = "--debug" in sys.argv[1:]
    try:
        code = cli.main(standalone_mode=False)
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
