"""briefing.toml: its sections, each key declared once, and loading.

Each section is a frozen dataclass whose keys are declared with ``option(...)``
(help text, default, choices and value check beside the key; see
`briefing.options`). The README's configuration reference mirrors these
declarations and a test holds it to them; the CLI takes its choices from here.
Validation collects every problem and reports it as
``briefing.toml: section.key: message``.

A new section is a dataclass of options plus one line in Config.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from briefing.errors import ConfigError, Problem, visible
from briefing.options import (
    Key,
    Section,
    address,
    at_least,
    from_header,
    header,
    keys,
    language_tag,
    list_id,
    not_negative,
    option,
    port_number,
    site_url,
    suggest,
    time_zone,
    unsubscribe_template,
)
from briefing.project_files import read_text

CONFIG_NAME = "briefing.toml"


@dataclass(frozen=True)
class PublicationConfig(Section):
    title: str = option("Publication name, shown in the masthead, pages and feeds.", check=header())
    base_url: str = option(
        "Absolute http(s) URL where site/ is published, ending in '/'.", check=site_url
    )
    description: str = option("One sentence about the publication (feeds, archive).", "")
    language: str = option(
        "BCP 47 language tag for email, pages and feeds.", "en", check=language_tag
    )
    timezone: str = option("IANA zone used by `briefing new` for dates.", "UTC", check=time_zone)
    author: str = option("Author name for feeds.", "")
    author_email: str = option("Author address for feeds (optional).", "")


@dataclass(frozen=True)
class EmailConfig(Section):
    sender: str = option(
        "From header, e.g. 'The Briefing <news@example.com>'.",
        toml="from",
        check=header(from_header),
    )
    postal_address: str = option("Sender's postal address, shown in every email footer.")
    unsubscribe_url: str = option(
        "https URL template for one-click unsubscribe; must contain {token}.",
        check=header(unsubscribe_template),
    )
    reply_to: str = option("Reply-To address (optional).", "", check=address("editor@example.com"))
    list_id: str = option(
        "List-Id (RFC 2919), e.g. 'The Briefing <briefing.example.com>'.",
        "",
        check=header(list_id),
    )
    unsubscribe_mailto: str = option(
        "Address for mailto unsubscribe (RFC 2369).",
        "",
        check=address("unsubscribe@example.com"),
    )
    reason: str = option(
        "Footer line saying why the reader gets this email.",
        "You are receiving this because you subscribed to {title}.",
    )
    inliner: str = option(
        "CSS inliner: 'css-inline' (fast, default) or 'premailer'.",
        "css-inline",
        choices=("css-inline", "premailer"),
    )


@dataclass(frozen=True)
class FeedsConfig(Section):
    max_items: int = option("How many of the newest issues the feeds hold.", 20, check=at_least(1))


def _icon_file(value: str) -> str | None:
    if value and not value.lower().endswith((".ico", ".png", ".svg", ".jpg", ".jpeg", ".gif")):
        return "must be an .ico, .png, .svg, .jpg or .gif file in the project"
    if value.startswith("/") or ".." in value.split("/"):
        return "must be a path inside the project"
    return None


@dataclass(frozen=True)
class SiteConfig(Section):
    per_page: int = option(
        "Issues on each page of the archive index; older ones go on page/2/, page/3/, …",
        50,
        check=at_least(1),
    )
    favicon: str = option("Icon file in the project, linked from every page.", "", check=_icon_file)
    feed_icon: str = option("Square image in the project: the feeds' icon.", "", check=_icon_file)
    robots: str = option(
        "'allow': crawlers welcome (robots.txt names the sitemap); 'deny': keep them out.",
        "allow",
        choices=("allow", "deny"),
    )


# Rules of `check` that the pre-send gate refuses a send on (send/gate.py): what would
# embarrass the publisher or break the law. They cannot be allowed.
GATE_RULES = (
    "unsubscribe",
    "scaffold",
    "article-number",
    "placeholder-address",
    "placeholder-from",
    "broken-link",
    "merge-column",
    "merge-missing",
)


def _allowed(value: tuple[str, ...]) -> str | None:
    for entry in value:
        rule = entry.partition(":")[0].strip()
        if rule in GATE_RULES:
            return f"'{rule}' guards every send and cannot be allowed; fix it instead"
        if not rule or not all(part.isalnum() for part in rule.split("-")):
            return f"'{entry}' is not a rule name like 'image-width' (or 'rule:FILE')"
    return None


@dataclass(frozen=True)
class CheckConfig(Section):
    allow: tuple[str, ...] = option(
        "Findings accepted: rule names, or 'rule:FILE' for one file; `check --strict` and"
        " `send` then pass them.",
        (),
        check=_allowed,
    )


@dataclass(frozen=True)
class ThemeConfig(Section):
    templates: str = option("Folder of templates, relative to the project.", "templates")


@dataclass(frozen=True)
class SendConfig(Section):
    subscribers: str = option(
        "Subscribers CSV, moved into the audience store when the store is first opened.",
        "subscribers.csv",
    )
    suppressions: str = option(
        "Suppression list CSV, moved into the audience store with the subscribers.",
        "suppressions.csv",
    )
    ledger: str = option("SQLite delivery ledger, relative to the project.", ".briefing/ledger.db")
    outbox: str = option("Folder the outbox transport writes to.", "outbox")
    transport: str = option(
        "Default transport: 'outbox' or 'smtp'.", "outbox", choices=("outbox", "smtp")
    )
    rate: float = option(
        "Messages per second at most (0: as fast as the relay takes them).",
        0.0,
        check=not_negative,
    )
    connections: int = option("Parallel SMTP sessions.", 1, check=at_least(1))
    max_attempts: int = option(
        "Tries per message within one run on temporary (4xx) replies.", 5, check=at_least(1)
    )


@dataclass(frozen=True)
class SmtpConfig(Section):
    host: str = option("SMTP relay host.", "localhost")
    port: int = option(
        "SMTP relay port (587 for starttls, 465 for ssl, 25 for none).", 587, check=port_number
    )
    security: str = option(
        "'starttls', 'ssl' or 'none'.", "starttls", choices=("starttls", "ssl", "none")
    )
    allow_insecure_auth: bool = option(
        "Allow sending the password over an unencrypted connection (a local relay only).", False
    )
    ca_file: str = option("Extra CA certificate (PEM) to trust, e.g. a relay's own.", "")
    timeout: float = option("Seconds to wait for the server.", 30.0)
    deadline: float = option(
        "Seconds one message may take in all, however slowly the server answers"
        " (0: no limit); past it the message is deferred, or unknown once it went out.",
        300.0,
        check=not_negative,
    )


@dataclass(frozen=True)
class DkimConfig(Section):
    private_key: str = option("PEM private key file; DKIM signing is on when this is set.", "")
    selector: str = option("DKIM selector (the DNS record is <selector>._domainkey.<domain>).", "")
    domain: str = option("Signing domain (d=); default: the From address's domain.", "")

    def cross_check(self) -> Iterator[tuple[str, str]]:
        if self.private_key and not self.selector:
            yield "selector", "is required when dkim.private_key is set"


@dataclass(frozen=True)
class AudienceConfig(Section):
    store: str = option(
        "SQLite audience store (subscribers, statuses, history), relative to the project.",
        ".briefing/audience.db",
    )


def _service_url(value: str) -> str | None:
    try:
        url = urlsplit(value)
    except ValueError:  # a '[' or ']' outside an IPv6 host
        url = urlsplit("")
    if value and (url.scheme not in ("https", "http") or not url.hostname or value[-1] != "/"):
        return "must be an absolute URL ending in '/', e.g. https://list.example.com/"
    return None


def is_host_port(value: str, any_port: bool = False) -> bool:
    """HOST:PORT with a port number that exists (0, "any free one", only with any_port)."""
    host, _, port = value.rpartition(":")
    return bool(host) and port.isdigit() and (0 if any_port else 1) <= int(port) < 65536


def _bind(value: str) -> str | None:
    return None if is_host_port(value) else "must be host:port, e.g. 127.0.0.1:8025"


@dataclass(frozen=True)
class ServiceConfig(Section):
    url: str = option(
        "Public URL of `briefing serve`, ending in '/'; empty: no sign-up form.",
        "",
        check=_service_url,
    )
    bind: str = option(
        "host:port the service listens on (loopback by default).", "127.0.0.1:8025", check=_bind
    )
    trusted_proxies: tuple[str, ...] = option(
        "Addresses of reverse proxies whose X-Forwarded-For names the real client.", ()
    )
    fields: tuple[str, ...] = option(
        "Merge fields the sign-up form asks for besides email and name.", ()
    )
    signups_per_address: int = option(
        "Sign-ups (confirmation emails) per address per hour.", 3, check=at_least(1)
    )
    requests_per_client: int = option(
        "Form posts per client address per minute.", 20, check=at_least(1)
    )
    confirm_hours: int = option("Hours a confirmation link stays valid.", 72, check=at_least(1))
    resubscribe_hours: int = option(
        "Hours the resubscribe button stays valid after unsubscribing.", 48, check=at_least(1)
    )
    threads: int = option("Worker threads of the built-in server.", 8, check=at_least(1))

    def cross_check(self) -> Iterator[tuple[str, str]]:
        for name in self.fields:
            if name in ("email", "name", "website") or not name.isidentifier():
                yield "fields", f"'{name}' cannot be a form field (reserved or not a plain name)"


@dataclass(frozen=True)
class BouncesConfig(Section):
    address: str = option(
        "Return path: each message is sent from <local>+<token>@<domain> (VERP); empty: From.",
        "",
        check=address("bounces@example.com"),
    )
    imap_host: str = option("IMAP server of the mailbox `briefing inbox` reads.", "")
    imap_port: int = option("IMAP port (993 for ssl, 143 for starttls).", 993, check=port_number)
    imap_security: str = option(
        "'ssl' or 'starttls': IMAP is never read unencrypted.", "ssl", choices=("ssl", "starttls")
    )
    imap_folder: str = option("IMAP folder to read.", "INBOX")
    ca_file: str = option("Extra CA certificate (PEM) to trust for the IMAP server.", "")
    maildir: str = option("Or a Maildir folder to read, relative to the project.", "")
    mbox: str = option("Or an mbox file to read, relative to the project.", "")
    move_to: str = option("Folder for messages acted on; empty: leave them in place.", "")
    soft_limit: int = option(
        "Soft bounces (4.x.x, 5.2.2, 5.7.x) that make an address bounced…", 3, check=at_least(1)
    )
    soft_days: int = option("…within this many days.", 30, check=at_least(1))
    max_size: int = option(
        "Messages larger than this many MB are not read (a report is small).", 10, check=at_least(1)
    )
    timeout: float = option("Seconds to wait for the IMAP server.", 30.0)

    def cross_check(self) -> Iterator[tuple[str, str]]:
        if sum(map(bool, (self.imap_host, self.maildir, self.mbox))) > 1:
            yield "imap_host", "set only one of imap_host, maildir and mbox"


@dataclass(frozen=True)
class Config:
    """The whole of briefing.toml, validated."""

    root: Path
    publication: PublicationConfig
    email: EmailConfig
    feeds: FeedsConfig = FeedsConfig()
    site: SiteConfig = SiteConfig()
    theme: ThemeConfig = ThemeConfig()
    check: CheckConfig = CheckConfig()
    send: SendConfig = SendConfig()
    smtp: SmtpConfig = SmtpConfig()
    dkim: DkimConfig = DkimConfig()
    audience: AudienceConfig = AudienceConfig()
    service: ServiceConfig = ServiceConfig()
    bounces: BouncesConfig = BouncesConfig()

    @property
    def templates_dir(self) -> Path:
        return self.root / self.theme.templates

    @property
    def domain(self) -> str:
        return urlsplit(self.publication.base_url).hostname or ""


# Section name → its class, in file order: every field of Config but the root.
SECTIONS: dict[str, type[Section]] = {
    name: kind for name, kind in get_type_hints(Config).items() if name != "root"
}


def key(dotted: str) -> Key:
    """The declaration of a key such as 'smtp.security', for the CLI's options."""
    section, _, name = dotted.partition(".")
    return next(k for k in keys(SECTIONS[section]) if k.name == name)


def choices(dotted: str) -> tuple[str, ...]:
    """The allowed values of a key such as 'smtp.security'."""
    return key(dotted).option.choices


def load_config(root: Path) -> Config:
    """Read and validate ``root/briefing.toml``; raise ConfigError listing every problem."""
    try:
        return _read_config(root)
    except ConfigError as exc:
        # A message may quote a value or a key, which TOML's escapes can fill with a
        # line feed or another control character: shown escaped, one line a problem.
        shown = [
            dataclasses.replace(p, message=visible(p.message), field=p.field and visible(p.field))
            for p in exc.problems
        ]
        raise ConfigError(shown) from None


def _read_config(root: Path) -> Config:
    path = root / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            Problem(CONFIG_NAME, f"not found in {root}; run `briefing init` or pass --project DIR")
        )
    problems: list[Problem] = []
    text = read_text(path, root, CONFIG_NAME, problems)
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
        tail = suggest(unknown, list(SECTIONS), prefix="")
        problems.append(Problem(CONFIG_NAME, f"unknown key{tail}", field=unknown))
    sections = {
        name: _section(name, cls, raw.get(name, {}), problems) for name, cls in SECTIONS.items()
    }
    if problems:
        raise ConfigError(problems)
    config = Config(root=root, **sections)
    if not config.templates_dir.is_dir():
        problems.append(
            Problem(
                CONFIG_NAME,
                f"folder '{config.theme.templates}' does not exist",
                field="theme.templates",
            )
        )
    if problems:
        raise ConfigError(problems)
    return config


def _section(name: str, cls: type[Section], table: Any, problems: list[Problem]) -> Any:
    """The section read from its TOML table, or None with the problems added."""
    if not isinstance(table, dict):
        problems.append(Problem(CONFIG_NAME, "must be a table, e.g. [" + name + "]", field=name))
        return None
    declared = {key.name: key for key in keys(cls)}
    values: dict[str, Any] = {}
    count = len(problems)
    for written, value in table.items():
        key = declared.get(written)
        if key is None:
            tail = suggest(written, list(declared), prefix=f"{name}.")
            problems.append(Problem(CONFIG_NAME, f"unknown key{tail}", field=f"{name}.{written}"))
            continue
        values[key.attr], message = key.read(value)
        if message:
            problems.append(Problem(CONFIG_NAME, message, field=f"{name}.{written}"))
    for key in declared.values():
        if key.required and key.attr not in values:
            problems.append(
                Problem(
                    CONFIG_NAME,
                    f"missing; add it under [{name}] ({key.option.help})",
                    field=f"{name}.{key.name}",
                )
            )
    if len(problems) > count:
        return None
    section = cls(**values)
    for attr, message in section.cross_check():
        problems.append(Problem(CONFIG_NAME, message, field=f"{name}.{attr}"))
    return section
