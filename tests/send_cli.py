"""What the `briefing send` fault and hardening tests share: a built project with the
send secret set, a subscriber list, the command lines, and the ledger read back."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from briefing.cli import cli

SLUG = "trump-xi-call"
SECRET = "send-tests-unsubscribe-secret"
BRIEFING = [sys.executable, "-m", "briefing"]


def built_project(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example publication, built, with the send secret set and no SMTP login."""
    monkeypatch.setenv("BRIEFING_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.setenv("CI", "1")
    monkeypatch.delenv("BRIEFING_SMTP_USER", raising=False)
    monkeypatch.delenv("BRIEFING_SMTP_PASSWORD", raising=False)
    result = CliRunner().invoke(cli, ["--project", str(example), "build", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    return example


def write_subscribers(root: Path, count: int) -> tuple[Path, list[str]]:
    addresses = [f"user{n:03d}@example.com" for n in range(count)]
    path = root / f"subscribers-{count}.csv"
    rows = "".join(f"{a},User {n:03d}\n" for n, a in enumerate(addresses))
    path.write_text("email,name\n" + rows, encoding="utf-8")
    return path, addresses


def smtp_args(
    root: Path, port: int, subscribers: Path, security: str = "none", *extra: str
) -> list[str]:
    return [
        *("--project", str(root), "send", SLUG, "--transport", "smtp"),
        *("--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-security", security),
        *("--subscribers", str(subscribers), *extra),
    ]


def outbox_args(root: Path, subscribers: Path, *extra: str) -> list[str]:
    return [
        *("--project", str(root), "send", SLUG, "--transport", "outbox"),
        *("--subscribers", str(subscribers), *extra),
    ]


def start(args: list[str], command: list[str] = BRIEFING, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BRIEFING, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ledger_states(root: Path) -> dict[str, str]:
    """Recipient → delivery state of the issue in the project's ledger ({} before any send)."""
    path = root / ".briefing" / "ledger.db"
    if not path.exists():
        return {}
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT recipient, state FROM deliveries WHERE issue=?", (SLUG,))
        return dict(rows.fetchall())
    finally:
        db.close()
