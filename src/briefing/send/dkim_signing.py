"""DKIM signing (RFC 6376) through dkimpy, when a key is configured.

The signature covers the list headers too (RFC 8058 section 4 asks that
List-Unsubscribe and List-Unsubscribe-Post be signed), so a relay cannot
rewrite the unsubscribe target unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parseaddr

from briefing.config import Config
from briefing.errors import ConfigError, Problem

SIGNED_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
]

Signer = Callable[[bytes], bytes]


def make_signer(config: Config) -> Signer | None:
    settings = config.dkim
    if not settings.private_key:
        return None
    import dkim  # dkimpy; imported only when signing is on

    key_path = config.root / settings.private_key
    try:
        key = key_path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            Problem(
                "briefing.toml", f"cannot read {key_path}: {exc.strerror}", field="dkim.private_key"
            )
        ) from None
    domain = settings.domain or parseaddr(config.email.sender)[1].rpartition("@")[2]
    selector = settings.selector.encode()

    def sign(message: bytes) -> bytes:
        signature: bytes = dkim.sign(
            message,
            selector,
            domain.encode(),
            key,
            include_headers=SIGNED_HEADERS,
            linesep=b"\r\n",
        )
        return signature + message

    return sign
