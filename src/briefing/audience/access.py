"""Opening a publication's audience store: where it is, and moving the CSV files in once."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from briefing.audience.store import Store, utc_now
from briefing.audience.transfer import migrate
from briefing.config import Config
from briefing.errors import BriefingError, Problem, relative

log = logging.getLogger("briefing")


def store_path(config: Config) -> Path:
    return config.root / config.audience.store


def expire_sign_ups(store: Store, config: Config) -> int:
    """Delete the sign-ups still pending a day after their link expired (the token is
    issued a moment after the row is written, and clocks differ a little). The sign-up
    side does this (the service, the audience commands); a send or an inbox run never
    deletes anyone."""
    window = timedelta(hours=config.service.confirm_hours, days=1)
    expired = store.expire_pending(store.clock() - window)
    if expired:
        log.info("deleted %d sign-up(s) not confirmed within service.confirm_hours", expired)
    return expired


def open_store(config: Config, clock: Callable[[], datetime] = utc_now) -> Store:
    """The store, created on first use; the first opening imports the publication's
    subscribers and suppressions CSV files (send.subscribers, send.suppressions)."""
    path = store_path(config)
    label = relative(path, config.root)
    try:
        store = Store(path, clock)
    except (sqlite3.Error, OSError) as exc:
        raise BriefingError(Problem(label, f"cannot open the audience store: {exc}")) from None
    try:
        done = migrate(
            store,
            config.root / config.send.subscribers,
            config.root / config.send.suppressions,
            config.root,
        )
    except BaseException:
        store.close()
        raise
    if done:
        log.info("moved the audience into %s: %s", label, done)
    return store
