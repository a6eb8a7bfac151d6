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
from briefing.textfile import read_text

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
class SendConfig:
    subscribers: str = _doc("Subscribers CSV, relative to the project.", "subscribers.csv")
    suppressions: str = _doc(
        "Suppression list CSV (unsubscribed, bounced, complained); every send honours it.",
        "suppressions.csv",
    )
    ledger: str = _doc("SQLite delivery ledger, relative to the project.", ".briefing/ledger.db")
    outbox: str = _doc("Folder the outbox transport writes to.", "outbox")
    transport: str = _doc("Default transport: 'outbox' or 'smtp'.", "outbox")
    rate: float = _doc("Messages per second at most (0: as fast as the relay takes them).", 0.0)
    connections: int = _doc("Parallel SMTP sessions.", 1)
    max_attempts: int = _doc("Tries per message within one run on temporary (4xx) replies.", 5)


@dataclass(frozen=True)
class SmtpConfig:
    host: str = _doc("SMTP relay host.", "localhost")
    port: int = _doc("SMTP relay port (587 for starttls, 465 for ssl, 25 for none).", 587)
    security: str = _doc("'starttls', 'ssl' or 'none'.", "starttls")
    allow_insecure_auth: bool = _doc(
        "Allow sending the password over an unencrypted connection (a local relay only).", False
    )
    ca_file: str = _doc("Extra CA certificate (PEM) to trust, e.g. a relay's own.", "")
    timeout: float = _doc("Seconds to wait for the server.", 30.0)


@dataclass(frozen=True)
class DkimConfig:
    private_key: str = _doc("PEM private key file; DKIM signing is on when this is set.", "")
    selector: str = _doc("DKIM selector (the DNS record is <selector>._domainkey.<domain>).", "")
    domain: str = _doc("Signing domain (d=); default: the From address's domain.", "")


@dataclass(frozen=True)
class Config:
    """The whole of briefing.toml, validated."""

    root: Path
    publication: PublicationConfig
    email: EmailConfig
    feeds: FeedsConfig = FeedsConfig()
    theme: ThemeConfig = ThemeConfig()
    send: SendConfig = SendConfig()
    smtp: SmtpConfig = SmtpConfig()
    dkim: DkimConfig = DkimConfig()

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
    "send": SendConfig,
    "smtp": SmtpConfig,
    "dkim": DkimConfig,
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
    problems: list[Problem] = []
    text = read_text(path, CONFIG_NAME, problems)
    if text is None:
        raise ConfigError(problems)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # "Illegal character … (at line 6, column 22)" → briefing.toml:6: …
        message, _, where = str(exc).partition(" (at line ")
        line = int(where.split(",")[0]) if where[:1].isdigit() else None
        raise ConfigError(
            Problem(CONFIG_NAME, f"invalid TOML: {message}; check quotes and brackets", line=line)
        ) from None

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


_KINDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}


def _fits(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


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
        if not _fits(value, expected):
            problems.append(
                Problem(
                    CONFIG_NAME,
                    f"must be {_KINDS[expected]}, not {value!r}",
                    field=f"{name}.{key}",
                )
            )
            continue
        values[attr] = float(value) if expected is float else value
    missing = [a for a, spec in attrs.items() if a not in values and spec.default is MISSING]
    for attr in missing:
        problems.append(
            Problem(
                CONFIG_NAME,
                f"missing; add it under [{name}] ({attrs[attr].metadata['doc']})",
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
    if config.send.transport not in ("outbox", "smtp"):
        bad("send.transport", "must be 'outbox' or 'smtp'")
    if config.send.rate < 0:
        bad("send.rate", "must be 0 (no limit) or more")
    if config.send.connections < 1 or config.send.max_attempts < 1:
        bad(
            "send.connections" if config.send.connections < 1 else "send.max_attempts",
            "must be at least 1",
        )
    if config.smtp.security not in ("starttls", "ssl", "none"):
        bad("smtp.security", "must be 'starttls', 'ssl' or 'none'")
    if not 0 < config.smtp.port < 65536:
        bad("smtp.port", "must be a port number (1–65535)")
    if config.dkim.private_key and not config.dkim.selector:
        bad("dkim.selector", "is required when dkim.private_key is set")
    if config.email.list_id and not re.fullmatch(r"[ -~]*<[A-Za-z0-9.-]+>", config.email.list_id):
        bad("email.list_id", "must look like 'Name <list.example.com>' (RFC 2919), ASCII only")
    if not config.templates_dir.is_dir():
        bad("theme.templates", f"folder '{config.theme.templates}' does not exist")
