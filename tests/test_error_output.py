"""What a user typed comes back in error messages escaped: a CR/LF cannot split the one
line a problem gets (or forge a second `error:` line), and an ESC sequence never reaches
the terminal as a command."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from briefing.errors import BriefingError, Problem, visible


def _briefing(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BRIEFING_UNSUBSCRIBE_SECRET": secrets.token_hex(16), "CI": "1"}
    return subprocess.run(
        [sys.executable, "-m", "briefing", "--project", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("send", "trump-xi-call", "--to", "me@example.com\r\nBcc: x@evil.example", "--yes"),
        ("suppress", "a\x1b[31m@example.com"),
        ("status", "\x1b[2Jgone"),
    ],
    ids=["crlf-in-to", "escape-in-suppress", "escape-in-status"],
)
def test_control_characters_in_arguments_come_back_escaped(
    example: Path, args: tuple[str, ...]
) -> None:
    result = _briefing(example, *args)
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert all(line.startswith("error: ") for line in result.stderr.splitlines())
    assert "Traceback" not in result.stderr


def test_each_problem_is_one_escaped_line() -> None:
    error = BriefingError([Problem("list.csv", "bad 'a\nb\x1b[0m'", line=3), Problem("", "x")])
    assert error.lines() == ["error: list.csv:3: bad 'a\\nb\\x1b[0m'", "error: x"]
    assert visible("a tab\there") == "a tab\\there" and visible("plain") == "plain"
