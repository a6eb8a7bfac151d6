"""briefing.toml's schema: the README table, the starter file, the CLI's choices and each
key's own rule, held against the one declaration in briefing.config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from dataclasses import MISSING
from datetime import date
from pathlib import Path
from string import Template

import click
import pytest

from briefing.cli import cli
from briefing.config import SECTIONS, choices, key, load_config
from briefing.errors import BriefingError, ConfigError
from briefing.options import keys
from briefing.scaffold import STARTER, starter_values

REPO = Path(__file__).resolve().parent.parent


def _readme_tables() -> dict[str, dict[str, str]]:
    """section → key → the README's default column, from 'Configuration reference'."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, dict[str, str]] = {}
    current = ""
    for line in section.split("\n"):
        if heading := re.match(r"^\*\*\[(\w+)\]\*\*", line):
            current = heading.group(1)
            tables[current] = {}
        elif row := re.match(r"^\| `(\w+)` \| (.*?) \| .* \|$", line):
            tables[current][row.group(1)] = row.group(2)
    return tables


def test_readme_documents_every_section_and_key() -> None:
    tables = _readme_tables()
    assert list(tables) == list(SECTIONS)
    for name, cls in SECTIONS.items():
        assert list(tables[name]) == [k.name for k in keys(cls)], name


def test_readme_defaults_match_the_schema() -> None:
    tables = _readme_tables()
    for name, cls in SECTIONS.items():
        for k in keys(cls):
            written = tables[name][k.name]
            if k.default is MISSING:
                assert written == "required", f"{name}.{k.name}"
            else:  # TOML spelling: "text", 20, 0, false, []
                value = json.loads(written)
                value = tuple(value) if isinstance(value, list) else value
                assert value == k.default, f"{name}.{k.name}"


def test_starter_briefing_toml_uses_declared_keys_only() -> None:
    values = starter_values("T", "https://x.example/", "UTC", date(2025, 1, 1))
    text = Template((STARTER / "briefing.toml").read_text(encoding="utf-8")).substitute(values)
    for section, table in tomllib.loads(text).items():
        declared = {k.name for k in keys(SECTIONS[section])}
        assert set(table) <= declared, section
        assert {k.name for k in keys(SECTIONS[section]) if k.required} <= set(table)


def _option(command: str, flag: str) -> click.Option:
    group = cli
    assert isinstance(group, click.Group)
    found_command = group.get_command(click.Context(group), command)  # loads its module
    assert found_command is not None, command
    found = [p for p in found_command.params if flag in getattr(p, "opts", ())]
    assert found and isinstance(found[0], click.Option), flag
    return found[0]


def test_cli_choices_come_from_the_schema() -> None:
    security = _option("send", "--smtp-security").type
    assert isinstance(security, click.Choice)
    assert tuple(security.choices) == choices("smtp.security") == ("starttls", "ssl", "none")
    assert _option("init", "--base-url").help == key("publication.base_url").option.help


def test_base_url_help_says_what_validation_accepts(example: Path) -> None:
    """http is accepted (a local preview host), and the help says so."""
    assert "http(s)" in key("publication.base_url").option.help
    toml = example / "briefing.toml"
    toml.write_text(
        re.sub(
            r"^base_url = .*$",
            'base_url = "http://localhost:8000/"',
            toml.read_text(),
            count=1,
            flags=re.M,
        )
    )
    assert load_config(example).publication.base_url == "http://localhost:8000/"


BAD_VALUES = [
    ("publication", "language", '"english!"', "is not a language tag"),
    ("publication", "timezone", '"Mars/Olympus"', "unknown time zone"),
    ("email", "reply_to", '"nobody"', "must be a plain address"),
    ("email", "list_id", '"Näme <x.y>"', "RFC 2919"),
    ("email", "inliner", '"fast"', "must be 'css-inline' or 'premailer'"),
    ("email", "unsubscribe_url", '"http://x.example/u"', "must be an https URL containing"),
    ("feeds", "max_items", "0", "must be at least 1"),
    ("send", "transport", '"pigeon"', "must be 'outbox' or 'smtp'"),
    ("send", "rate", "-1", "must be 0 (no limit) or more"),
    ("smtp", "port", "70000", "must be a port number"),
    ("smtp", "timeout", '"slow"', "must be a number, not 'slow'"),
    ("smtp", "allow_insecure_auth", '"yes"', "must be true or false"),
]


def _set(toml: Path, section: str, line: str) -> None:
    text = toml.read_text(encoding="utf-8")
    if f"[{section}]" not in text:
        text += f"\n[{section}]\n"
    toml.write_text(text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1))


@pytest.mark.parametrize(("section", "name", "value", "expected"), BAD_VALUES)
def test_each_key_checks_its_own_value(
    example: Path, section: str, name: str, value: str, expected: str
) -> None:
    toml = example / "briefing.toml"
    # A key written twice is a TOML error: drop an existing line first.
    toml.write_text(re.sub(rf"^{name} = .*\n", "", toml.read_text(), flags=re.M))
    _set(toml, section, f"{name} = {value}")
    with pytest.raises(ConfigError) as caught:
        load_config(example)
    lines = [str(p) for p in caught.value.problems]
    assert any(
        line.startswith(f"briefing.toml: {section}.{name}: ") and expected in line for line in lines
    ), lines


def test_every_broken_key_is_reported_at_once(example: Path) -> None:
    toml = example / "briefing.toml"
    _set(toml, "send", "connections = 0\nmax_attempts = 0")
    _set(toml, "dkim", 'private_key = "dkim.pem"')
    with pytest.raises(ConfigError) as caught:
        load_config(example)
    assert [str(p) for p in caught.value.problems] == [
        "briefing.toml: send.connections: must be at least 1",
        "briefing.toml: send.max_attempts: must be at least 1",
        "briefing.toml: dkim.selector: is required when dkim.private_key is set",
    ]


def test_briefing_error_is_a_plain_exception_and_the_ground_needs_no_click() -> None:
    assert not issubclass(BriefingError, click.ClickException)
    code = "import sys, briefing.errors, briefing.config, briefing.schema\n"
    code += "print('click' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_user_error_through_the_group_is_one_line_and_exit_1(tmp_path: Path) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["--project", str(tmp_path), "build"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr == (
        f"error: briefing.toml: not found in {tmp_path};"
        " run `briefing init` or pass --project DIR\n"
    )
