"""VERP return paths: an envelope sender that names the issue and the recipient.

Each message goes out with ``MAIL FROM:<bounces+TOKEN@domain>``, so a bounce comes
back addressed to the token even when its report is mangled or the failed
address is a forwarding target we never mailed. The token is the first 80 bits
of HMAC-SHA256(secret, "verp" issue address) in base32: 16 lowercase
characters, so the local part stays far under the 64 octets of RFC 5321
4.5.3.1.1 whatever the address, survives MTAs that lowercase local parts, and
cannot be forged without the secret. It carries no address: the inbox maps it
back through the delivery ledger, which holds every (issue, recipient) sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

TOKEN_LENGTH = 16


def verp_token(secret: bytes, issue: str, recipient: str) -> str:
    """recipient is the normalised key the ledger stores (domain lowercased)."""
    mac = hmac.digest(secret, f"verp\0{issue}\0{recipient}".encode(), hashlib.sha256)
    return base64.b32encode(mac[:10]).decode().lower()


def verp_address(bounce_address: str, token: str) -> str:
    """bounces@example.com + token → bounces+token@example.com."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{token}@{domain}"


def find_tokens(text: str, bounce_address: str) -> list[str]:
    """Tokens in addresses made from bounce_address, in order of appearance, once each."""
    local, _, domain = bounce_address.rpartition("@")
    pattern = re.compile(
        rf"{re.escape(local)}\+([a-z2-7]{{{TOKEN_LENGTH}}})@{re.escape(domain)}\b",
        re.IGNORECASE,
    )
    return list(dict.fromkeys(m.group(1).lower() for m in pattern.finditer(text)))


class VerpIndex:
    """Token → (issue, recipient), built once from the deliveries the ledger knows.

    One HMAC per delivery (about a microsecond each), and only when a run meets
    a token, so the ledger needs no extra column.
    """

    def __init__(self, secret: bytes, deliveries: Iterable[tuple[str, str]]) -> None:
        self._map = {
            verp_token(secret, issue, recipient): (issue, recipient)
            for issue, recipient in deliveries
        }

    def resolve(self, token: str) -> tuple[str, str] | None:
        return self._map.get(token.lower())

    def __len__(self) -> int:
        return len(self._map)
