"""Signed, single-purpose, expiring tokens for the service's links.

    <purpose>.<base64url(address)>.<issued>.<expires>.<mac>

issued and expires are Unix seconds in base 36; mac is the first 128 bits of
HMAC-SHA256 under a key derived for the purpose alone, over the list, the
address and both times. A confirm token cannot be used to resubscribe, neither
can be used as an unsubscribe token (whose format, made by `briefing send`, is
older and stays valid: see briefing.send.message), and none verifies after its
expiry or under another secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from briefing.audience.address import normalize

CONFIRM, RESUBSCRIBE = "c", "r"
PURPOSES = (CONFIRM, RESUBSCRIBE)


@dataclass(frozen=True)
class Claim:
    address: str
    issued: int  # Unix seconds
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, list_id: str, body: str) -> str:
    key = hmac.new(secret, f"briefing token/{purpose}".encode(), hashlib.sha256).digest()
    return _b64(hmac.new(key, f"{list_id}\0{body}".encode(), hashlib.sha256).digest()[:16])


def make_token(
    secret: bytes, purpose: str, list_id: str, address: str, now: float, lifetime: float
) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    issued, expires = int(now), int(now + lifetime)
    body = f"{_b64(normalize(address).encode())}.{_base36(issued)}.{_base36(expires)}"
    return f"{purpose}.{body}.{_mac(secret, purpose, list_id, body)}"


def read_token(secret: bytes, purpose: str, list_id: str, token: str, now: float) -> Claim | None:
    """The claim of a token made for purpose with this secret and still valid, else None."""
    claim = _genuine(secret, purpose, list_id, token)
    # A minute of leeway for clocks of two machines sharing the secret.
    return claim if claim and claim.issued <= now + 60 and now < claim.expires else None


def is_expired(secret: bytes, purpose: str, list_id: str, token: str, now: float) -> bool:
    """Whether token is genuine but past its expiry (to say so, not just "invalid")."""
    claim = _genuine(secret, purpose, list_id, token)
    return claim is not None and now >= claim.expires


def _genuine(secret: bytes, purpose: str, list_id: str, token: str) -> Claim | None:
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != purpose:
        return None
    body = ".".join(parts[1:4])
    if not hmac.compare_digest(_mac(secret, purpose, list_id, body), parts[4]):
        return None
    try:
        return Claim(_unb64(parts[1]).decode(), int(parts[2], 36), int(parts[3], 36))
    except (ValueError, UnicodeDecodeError):
        return None


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
