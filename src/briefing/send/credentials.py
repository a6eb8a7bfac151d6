"""Secrets a send needs, read from the environment here and nowhere else.

They never come from briefing.toml (which is committed) and are never logged:
the fields are left out of repr().
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from briefing.errors import SendError

SECRET_ENV = "BRIEFING_UNSUBSCRIBE_SECRET"
USER_ENV = "BRIEFING_SMTP_USER"
PASSWORD_ENV = "BRIEFING_SMTP_PASSWORD"
MIN_SECRET = 16


@dataclass(frozen=True)
class Credentials:
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    unsubscribe_secret: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if env is None else env
        return cls(
            smtp_user=env.get(USER_ENV, ""),
            smtp_password=env.get(PASSWORD_ENV, ""),
            unsubscribe_secret=env.get(SECRET_ENV, ""),
        )

    def secret(self) -> bytes:
        """The key that signs unsubscribe links; a SendError when it is missing or short."""
        if len(self.unsubscribe_secret) < MIN_SECRET:
            raise SendError(
                f"set {SECRET_ENV} to a random string of {MIN_SECRET}+ characters; it signs"
                " unsubscribe links, so keep it the same for every send"
            )
        return self.unsubscribe_secret.encode()
