"""From briefing.toml and the environment to what a run needs: the source, the
classifier's context and the options. Credentials come from the environment only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from briefing.audience.access import store_path
from briefing.audience.store import Store
from briefing.config import Config
from briefing.errors import BriefingError
from briefing.inbox.apply import Policy
from briefing.inbox.classify import Context
from briefing.inbox.imap import ImapSettings, ImapSource
from briefing.inbox.service import Options, ledger_index
from briefing.inbox.sources import MaildirSource, MboxSource, Source
from briefing.inbox.state import issue_counts
from briefing.send.credentials import MIN_SECRET, SECRET_ENV
from briefing.send.message import verify_unsubscribe_token

USER_ENV, PASSWORD_ENV = "BRIEFING_IMAP_USER", "BRIEFING_IMAP_PASSWORD"
KINDS = ("imap", "maildir", "mbox")


def configured_kind(config: Config) -> str | None:
    bounces = config.bounces
    for kind, value in zip(KINDS, (bounces.imap_host, bounces.maildir, bounces.mbox), strict=True):
        if value:
            return kind
    return None


def open_source(
    config: Config,
    kind: str | None,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Source:
    """kind and path from the command line, else from [bounces]."""
    env = os.environ if env is None else env
    bounces = config.bounces
    kind = kind or configured_kind(config)
    max_size = bounces.max_size * 1024 * 1024
    if kind is None:
        raise BriefingError(
            "no mailbox to read: pass --imap, --maildir DIR or --mbox FILE, or set"
            " bounces.imap_host, bounces.maildir or bounces.mbox in briefing.toml"
        )
    if kind == "maildir":
        return MaildirSource(path or config.root / bounces.maildir, max_size)
    if kind == "mbox":
        return MboxSource(path or config.root / bounces.mbox, max_size)
    if not bounces.imap_host:
        raise BriefingError("briefing.toml: bounces.imap_host: set it to read a mailbox by IMAP")
    user, password = env.get(USER_ENV, ""), env.get(PASSWORD_ENV, "")
    if not user or not password:
        raise BriefingError(f"set {USER_ENV} and {PASSWORD_ENV} to log in to the IMAP mailbox")
    settings = ImapSettings(
        host=bounces.imap_host,
        port=bounces.imap_port,
        security=bounces.imap_security,
        folder=bounces.imap_folder,
        username=user,
        password=password,
        ca_file=str(config.root / bounces.ca_file) if bounces.ca_file else "",
        timeout=bounces.timeout,
    )
    return ImapSource(settings, max_size)


def make_context(config: Config, env: Mapping[str, str] | None = None) -> tuple[Context, str]:
    """The classifier's context, and a warning ('' when none) when the secret that
    signs VERP and unsubscribe tokens is missing (tokens then name nobody)."""
    env = os.environ if env is None else env
    secret = env.get(SECRET_ENV, "")
    base = Context(config.bounces.address, config.domain, config.email.unsubscribe_url)
    if len(secret) < MIN_SECRET:
        warning = (
            f"{SECRET_ENV} is not set: VERP and unsubscribe tokens cannot be checked,"
            " so only the addresses reports name are used"
        )
        return base, warning
    key = secret.encode()
    list_id = config.email.list_id
    return (
        Context(
            config.bounces.address,
            config.domain,
            config.email.unsubscribe_url,
            ledger_index(key, config.root / config.send.ledger).resolve,
            lambda token: verify_unsubscribe_token(key, list_id, token),
        ),
        "",
    )


def options(config: Config, move_to: str | None, dry_run: bool = False) -> Options:
    bounces = config.bounces
    return Options(
        move_to=bounces.move_to if move_to is None else move_to,
        policy=Policy(bounces.soft_limit, bounces.soft_days),
        dry_run=dry_run,
    )


def mail_back(config: Config, slug: str) -> dict[str, int]:
    """For `briefing status`: per kind (bounced, soft-bounced, complained, unsubscribed),
    how many subscribers the inbox found an issue's mail came back for."""
    path = store_path(config)
    if not path.is_file():
        return {}
    store = Store(path)
    try:
        return issue_counts(store, slug)
    finally:
        store.close()
