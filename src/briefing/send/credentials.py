"""Secrets a send needs, read from the environment here and nowhere else.

They never come from briefing.toml (which is committed) and are never logged:
the fields are left out of repr().
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from briefing.errors import SendError

SECRET_ENV = "BRIEFING_UNSUBSCRIBE_SECRET"
USER_ENV = "BRIEFING_SMTP_USER"
PASSWORD_ENV = "BRIEFING_SMTP_PASSWORD"
MIN_SECRET = 16
# Rough floors that catch the obvious ('aaaaaaaaaaaaaaaa', 'passwordpassword') and that
# 16 random hex or base64 characters always clear (measured: never under 5 distinct
# characters or 32 bits of letter entropy in 20,000 draws).
MIN_DISTINCT = 5
MIN_BITS = 30  # length times the letter entropy (Shannon)


def secret_problem(secret: str) -> str | None:
    """Why secret is too weak to sign unsubscribe links, or None."""
    if len(secret) < MIN_SECRET:
        return f"is shorter than {MIN_SECRET} characters"
    counts = [secret.count(c) for c in set(secret)]
    bits = -sum(n * math.log2(n / len(secret)) for n in counts)
    repeated = any(
        secret == secret[:period] * (len(secret) // period) + secret[: len(secret) % period]
        for period in range(1, len(secret) // 2 + 1)
    )
    if len(counts) < MIN_DISTINCT or bits < MIN_BITS or repeated:
        return "is too easy to guess (too few different characters, or a repeated pattern)"
    return None


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
        """The key that signs unsubscribe links; a SendError when it is missing or weak."""
        if not self.unsubscribe_secret:
            raise SendError(
                f"set {SECRET_ENV} to a random string of {MIN_SECRET}+ characters; it signs"
                " unsubscribe links, so keep it the same for every send"
            )
        if problem := secret_problem(self.unsubscribe_secret):
            raise SendError(
                f"{SECRET_ENV} {problem}; set it to a random string of {MIN_SECRET}+"
                " characters, e.g. the output of `python3 -c 'import secrets;"
                " print(secrets.token_urlsafe(32))'`"
            )
        return self.unsubscribe_secret.encode()
