"""Errors a user can act on.

Every error names where the problem is (file, line or field) and what to do.
They are plain exceptions: the CLI (briefing.cli.app) prints each problem as one
``error:`` line and exits with ``exit_code``, without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from briefing.headers import CONTROL


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the sources, located as precisely as we can."""

    file: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class BriefingError(Exception):
    """Base class: a user error, printed as one line per problem, exit code 1."""

    exit_code = 1

    def __init__(self, problems: Problem | str | Iterable[Problem]) -> None:
        if isinstance(problems, Problem | str):
            problems = [problems] if isinstance(problems, Problem) else [Problem("", problems)]
        self.problems: list[Problem] = list(problems)
        self.message = "\n".join(_line(p) for p in self.problems)
        super().__init__(self.message)

    def lines(self) -> list[str]:
        """What the CLI prints: one ``error:`` line per problem."""
        return [f"error: {line}" for line in self.message.split("\n")]


def _line(problem: Problem) -> str:
    return visible(problem.message if not problem.file else str(problem))


def visible(text: str) -> str:
    """Text shown escaped where it holds control characters: a message quotes what the
    user gave (an address, a slug, a file name), and a CR, LF or ESC there must neither
    split the one line a problem gets nor reach the terminal as a command."""
    if not CONTROL.search(text):
        return text
    return CONTROL.sub(lambda c: c.group().encode("unicode_escape").decode(), text)


class ConfigError(BriefingError):
    """briefing.toml is missing or invalid."""


class ContentError(BriefingError):
    """An issue or article source is invalid."""


class RenderError(BriefingError):
    """A template failed to render."""


class SendError(BriefingError):
    """Delivery could not start or continue."""


def relative(path: Path, root: Path) -> str:
    """A path as the user knows it: relative to the project when it is inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
