"""briefing.toml: schema, defaults and validation.

Each section is a frozen dataclass; a field's metadata holds its help text, which
the README's configuration reference mirrors. Validation collects every problem
and reports it as ``briefing.toml: section.key: message``.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from briefing.errors import ConfigError, Problem

CONFIG_NAME = "briefing.toml"


def _doc(text: str, default: Any = MISSING) -> Any:
    if default is MISSING:
        return field(metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


@dataclass(frozen=True)
class PublicationConfig:
    title: str = _doc("Publication name, shown in the masthead, pages and feeds.")
    base_url: str = _doc("Absolute https URL where site/ is published, ending in '/'.")
    description: str = _doc("One sentence about the publication (feeds, archive).", "")
    language: str = _doc("BCP 47 language tag for email, pages and feeds.", "en")
    timezone: str = _doc("IANA zone used by `briefing new` for dates.", "UTC")
    author: str = _doc("Author name for feeds.", "")
    author_email: str = _doc("Author address for feeds (optional).", "")


@dataclass(frozen=True)
class EmailConfig:
    sender: str = _doc("From header, e.g. 'The Briefing <news@example.com>' (TOML key: from).")
    postal_address: str = _doc("Sender's postal address, shown in every email footer.")
    unsubscribe_url: str = _doc(
        "https URL template for one-click unsubscribe; must contain {token}."
    )
    reply_to: str = _doc("Reply-To address (optional).", "")
    list_id: str = _doc("List-Id (RFC 2919), e.g. 'The Briefing <briefing.example.com>'.", "")
    unsubscribe_mailto: str = _doc("Address for mailto unsubscribe (RFC 2369).", "")
    reason: str = _doc(
        "Footer line saying why the reader gets this email.",
        "You are receiving this because you subscribed to {title}.",
    )
    inliner: str = _doc("CSS inliner: 'css-inline' (fast, default) or 'premailer'.", "css-inline")


@dataclass(frozen=True)
class FeedsConfig:
    max_items: int = _doc("How many of the newest issues the feeds hold.", 20)


@dataclass(frozen=True)
class ThemeConfig:
    templates: str = _doc("Folder of templates, relative to the project.", "templates")


@dataclass(frozen=True)
class Config:
    """The whole of briefing.toml, validated."""

    root: Path
    publication: PublicationConfig
    email: EmailConfig
    feeds: FeedsConfig = FeedsConfig()
    theme: ThemeConfig = ThemeConfig()

    @property
    def templates_dir(self) -> Path:
        return self.root / self.theme.templates

    @property
    def domain(self) -> str:
        return urlsplit(self.publication.base_url).hostname or ""


SECTIONS: dict[str, type] = {
    "publication": PublicationConfig,
    "email": EmailConfig,
    "feeds": FeedsConfig,
    "theme": ThemeConfig,
}
# TOML names that are Python keywords.
_RENAMED = {"from": "sender"}
_INLINERS = ("css-inline", "premailer")


def load_config(root: Path) -> Config:
    """Read and validate ``root/briefing.toml``; raise ConfigError listing every problem."""
    path = root / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            Problem(CONFIG_NAME, f"not found in {root}; run `briefing init` or pass --project DIR")
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(Problem(CONFIG_NAME, "is not UTF-8 text; save it as UTF-8")) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(Problem(CONFIG_NAME, f"invalid TOML: {exc}")) from None

    problems: list[Problem] = []
    for unknown in sorted(set(raw) - set(SECTIONS)):
        problems.append(_unknown(unknown, SECTIONS, prefix=""))
    sections = {
        name: _section(name, cls, raw.get(name, {}), problems) for name, cls in SECTIONS.items()
    }
    if problems:
        raise ConfigError(problems)
    config = Config(root=root, **sections)
    _check_values(config, problems)
    if problems:
        raise ConfigError(problems)
    return config


def _unknown(key: str, known: Any, prefix: str) -> Problem:
    names = [_toml_name(k) for k in known]
    hint = difflib.get_close_matches(key, names, n=1)
    suggestion = (
        f"; did you mean '{prefix}{hint[0]}'?" if hint else f"; known keys: {', '.join(names)}"
    )
    return Problem(CONFIG_NAME, f"unknown key{suggestion}", field=f"{prefix}{key}")


def _toml_name(attr: str) -> str:
    return next((toml for toml, py in _RENAMED.items() if py == attr), attr)


def _section(name: str, cls: type, table: Any, problems: list[Problem]) -> Any:
    if not isinstance(table, dict):
        problems.append(Problem(CONFIG_NAME, "must be a table, e.g. [" + name + "]", field=name))
        return None
    hints = get_type_hints(cls)
    attrs = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        attr = _RENAMED.get(key, key)
        if attr not in attrs:
            problems.append(_unknown(key, attrs, prefix=f"{name}."))
            continue
        expected = hints[attr]
        if get_origin(expected) is UnionType:
            expected = get_args(expected)[0]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append(
                Problem(
                    CONFIG_NAME,
                    f"must be {'a string' if expected is str else 'an integer'},"
                    f" not {type(value).__name__}",
                    field=f"{name}.{key}",
                )
            )
            continue
        values[attr] = value
    missing = [a for a, spec in attrs.items() if a not in values and spec.default is MISSING]
    for attr in missing:
        problems.append(
            Problem(
                CONFIG_NAME,
                f"is required: {attrs[attr].metadata['doc']}",
                field=f"{name}.{_toml_name(attr)}",
            )
        )
    # With a problem the caller raises before using the section.
    return None if missing else cls(**values)


_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_FROM = re.compile(r"^(?:[^<>]*<)?([^<>\s]+)>?$")


def _check_values(config: Config, problems: list[Problem]) -> None:
    def bad(field_name: str, message: str) -> None:
        problems.append(Problem(CONFIG_NAME, message, field=field_name))

    pub, email = config.publication, config.email
    url = urlsplit(pub.base_url)
    if url.scheme not in ("https", "http") or not url.hostname or not pub.base_url.endswith("/"):
        bad(
            "publication.base_url",
            "must be an absolute URL ending in '/', e.g. https://example.com/",
        )
    try:
        ZoneInfo(pub.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        bad("publication.timezone", f"unknown time zone '{pub.timezone}'; use an IANA name")
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", pub.language):
        bad("publication.language", f"'{pub.language}' is not a language tag like 'en' or 'en-GB'")
    match = _FROM.match(email.sender.strip())
    if not match or not _ADDRESS.match(match.group(1)):
        bad("email.from", "must be an address, optionally with a name: 'Name <news@example.com>'")
    if email.reply_to and not _ADDRESS.match(email.reply_to):
        bad("email.reply_to", "must be a plain address like editor@example.com")
    if email.unsubscribe_mailto and not _ADDRESS.match(email.unsubscribe_mailto):
        bad("email.unsubscribe_mailto", "must be a plain address like unsubscribe@example.com")
    if "{token}" not in email.unsubscribe_url or not email.unsubscribe_url.startswith("https://"):
        bad("email.unsubscribe_url", "must be an https URL containing {token} (RFC 8058)")
    if email.inliner not in _INLINERS:
        bad("email.inliner", f"must be one of {', '.join(_INLINERS)}")
    if config.feeds.max_items < 1:
        bad("feeds.max_items", "must be at least 1")
    if not config.templates_dir.is_dir():
        bad("theme.templates", f"folder '{config.theme.templates}' does not exist")
