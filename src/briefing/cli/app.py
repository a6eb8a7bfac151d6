"""The `briefing` command group: shared options, progress, the console entry point."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from briefing import __version__
from briefing.errors import BriefingError

if TYPE_CHECKING:
    from briefing.build import Progress

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


class UserError(click.ClickException):
    """A BriefingError carried through click: shown as its ``error:`` lines, no traceback."""

    def __init__(self, error: BriefingError) -> None:
        super().__init__(error.message)
        self.error = error
        self.exit_code = error.exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo("\n".join(self.error.lines()), err=True)


# Which module defines each command: a command's module (and the services it
# imports) loads only when that command runs or --help lists them all.
COMMANDS = {
    "audience": "audience",
    "build": "site",
    "check": "site",
    "import": "site",
    "inbox": "inbox",
    "init": "site",
    "new": "site",
    "preview": "site",
    "schedule": "schedule",
    "send": "send",
    "serve": "serve",
    "status": "send",
    "suppress": "send",
    "theme": "theme",
}


class Group(click.Group):
    """The command group: a user error from any command leaves as a UserError.

    Mapping here rather than only in main() keeps click's CliRunner (which tests
    use) seeing what a user sees: the same lines and exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import_module(f"briefing.cli.{COMMANDS[cmd_name]}")  # registers on `cli`
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BriefingError as exc:
            raise UserError(exc) from exc


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
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


def checked_as(
    dotted: str, fix: Callable[[str], str] = str
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """An option callback checking a value by the rule of the briefing.toml key it becomes."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        from briefing.config import key

        value = fix(value)
        _, message = key(dotted).read(value)
        if message:
            raise click.BadParameter(message)
        return value

    return callback


def shown_path(path: Path, root: Path) -> str:
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
    except BriefingError as exc:  # raised outside a command, e.g. by a result callback
        click.echo("\n".join(exc.lines()), err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""  # a failed write() names no file
        click.echo(f"error: {where}{exc.strerror or exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(1)
