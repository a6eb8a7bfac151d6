"""The editor's commands: init, new, check, and --help everywhere (CliRunner and subprocess)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from briefing.build import build, load
from briefing.cli import cli
from briefing.config import load_config
from briefing.render.theme import eject

BRIEFING = [sys.executable, "-m", "briefing"]


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_init_creates_a_publication_that_builds_at_once(tmp_path: Path) -> None:
    target = tmp_path / "letter"
    done = subprocess.run(
        [
            *BRIEFING,
            "init",
            str(target),
            "--title",
            "The Weekly",
            "--base-url",
            "https://weekly.example.org",
            "--timezone",
            "Europe/Paris",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in (
        "briefing.toml",
        "templates/README.md",
        "subscribers.csv",
        "outbox/.gitkeep",
        ".gitignore",
    ):
        assert (target / name).is_file(), name
    # No theme files: the packaged theme serves them until one is ejected.
    assert [p.name for p in (target / "templates").iterdir()] == ["README.md"]
    assert "/site/" in (target / ".gitignore").read_text()
    toml = (target / "briefing.toml").read_text()
    assert 'title = "The Weekly"' in toml and "# " in toml  # commented
    assert 'base_url = "https://weekly.example.org/"' in toml
    built = subprocess.run(
        [*BRIEFING, "--project", str(target), "build"], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    publication = load(target)
    assert publication.issues[0].date.utcoffset() is not None
    assert (target / "site" / "issues" / "welcome" / "email.html").is_file()
    checked = subprocess.run(
        [*BRIEFING, "--project", str(target), "check", "--strict"],
        capture_output=True,
        text=True,
        check=False,
    )
    # Clean but for the starter's placeholder postal address, which no send may carry.
    findings = checked.stdout.strip().splitlines()
    assert len(findings) == 1 and "placeholder-address" in findings[0], checked.stdout
    assert checked.returncode == 1


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "briefing.toml").write_text("# mine\n")
    result = _run("init", str(tmp_path))
    assert result.exit_code == 1
    assert "already has briefing.toml" in result.output
    assert (tmp_path / "briefing.toml").read_text() == "# mine\n"
    assert not (tmp_path / "templates").exists()


def test_new_scaffolds_the_next_issue(example: Path) -> None:
    result = _run(
        "--project", str(example), "new", "Tariffs: one month on!", "--date", "2025-07-01"
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "issues/2025-07-01-tariffs-one-month/"
    issue_md = example / "issues/2025-07-01-tariffs-one-month/issue.md"
    text = issue_md.read_text()
    assert 'title: "Tariffs: one month on!"' in text
    assert "number: 4" in text
    assert "date: 2025-07-01T08:00:00-04:00" in text  # America/New_York in July
    issue = load(example).issue("tariffs-one-month")
    assert issue is not None and issue.number == 4 and len(issue.articles) == 1
    build(example, jobs=1)


def test_new_takes_today_in_the_configured_zone_and_copies_an_issue(example: Path) -> None:
    result = _run(
        "--project", str(example), "new", "Next week", "--from-issue", "critical-minerals-chips"
    )
    assert result.exit_code == 0, result.output
    folder = example / result.output.strip()
    today = datetime.now(ZoneInfo("America/New_York")).date().isoformat()
    assert folder.name == f"{today}-next-week"
    issue = load(example).issue("next-week")
    assert issue is not None
    assert issue.tags == (
        "trade",
        "china",
        "explainer",
        "critical-minerals",
        "rare-earths",
        "semiconductors",
        "export-controls",
        "fentanyl",
    )
    assert [a.path.name for a in issue.articles] == [
        "01-critical-minerals.md",
        "02-chips-and-fentanyl.md",
    ]
    assert issue.articles[0].source == "The Briefing"
    again = _run("--project", str(example), "new", "Next week")
    assert again.exit_code == 1 and "exists" in again.output


def test_check_is_clean_on_the_example(example: Path) -> None:
    result = _run("--project", str(example), "check", "--strict")
    assert result.exit_code == 0, result.output


def _finding(output: str, rule: str) -> str:
    found = [line for line in output.splitlines() if f": {rule}: " in line]
    assert found, f"no {rule} finding in:\n{output}"
    assert re.match(r"^[\w./-]+:\d+: [a-z-]+: .+ \[(warning|error)\]$", found[0]), found[0]
    return found[0]


def test_check_finds_what_readers_would_suffer_from(example: Path) -> None:
    xi = example / "issues/2025-06-03-trump-xi-call"
    issue_md = xi / "issue.md"
    text = issue_md.read_text()
    text = re.sub(r"(?m)^preheader: .*$", 'preheader: "Too short"', text)
    text = re.sub(r"(?m)^title: .*$", 'title: "' + "A very long subject line " * 4 + '"', text)
    issue_md.write_text(
        text + "\nHi {{ town }}. See [the report](http://example.com/r) and"
        " [this report](http://example.com/r).\n"
    )
    article = xi / "02-by-the-numbers.md"
    article.write_text(
        article.read_text() + "\n![](chart.png)\n\n![A chart](https://example.com/c.png)\n"
    )
    Image.new("RGB", (40, 20)).save(xi / "chart.png")
    result = _run("--project", str(example), "check")
    assert result.exit_code == 2  # warnings
    assert _finding(result.output, "preheader").startswith(
        "issues/2025-06-03-trump-xi-call/issue.md:6: preheader: 9 characters"
    )
    assert ":2: subject: the subject is 99 characters" in _finding(result.output, "subject")
    assert "{{ town }} has no fallback" in _finding(result.output, "merge-fallback")
    assert "'town' is not a column" in _finding(result.output, "merge-field")
    assert "http://example.com/r is not https" in _finding(result.output, "http-url")
    assert "'the report', 'this report'" in _finding(result.output, "link-text")
    assert "02-by-the-numbers.md:" in _finding(result.output, "image-alt")
    # A local image is measured; a remote one's size is unknown.
    assert "'https://example.com/c.png' is not a file" in _finding(result.output, "image-width")
    strict = _run("--project", str(example), "check", "--strict", "trump-xi-call")
    assert strict.exit_code == 1 and "[error]" in strict.output


def test_check_flags_a_missing_unsubscribe_link_and_size(example: Path) -> None:
    (template,) = eject(load_config(example), ["email.mjml.j2"])
    template.write_text(
        template.read_text().replace(
            "<a href=\"{{ merge('unsubscribe_url') }}\">Unsubscribe</a>", "Unsubscribe"
        )
    )
    article = next((example / "issues").glob("2025-06-10-*/01-*.md"))
    article.write_text(article.read_text() + ("\nFiller paragraph. " * 4000))
    result = _run("--project", str(example), "check", "tariff-timeline")
    assert "the email has no unsubscribe link" in _finding(result.output, "unsubscribe")
    assert "Gmail's 102 KB clipping limit" in _finding(result.output, "email-size")


def test_check_finds_broken_internal_links(example: Path) -> None:
    (template,) = eject(load_config(example), ["web/issue.html.j2"])
    template.write_text(
        template.read_text().replace(
            '<a href="{{ urls.home }}">All issues</a>',
            '<a href="{{ urls.home }}archive/">All issues</a>',
        )
    )
    result = _run("--project", str(example), "check")
    assert "links to ../../archive/" in _finding(result.output, "broken-link")


@pytest.mark.parametrize(
    "command", ["init", "new", "import", "build", "check", "preview", "send", "status", "suppress"]
)
def test_every_command_has_help_with_an_example(command: str) -> None:
    done = subprocess.run(
        [*BRIEFING, command, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Example:" in done.stdout
    assert "briefing " + command in done.stdout
