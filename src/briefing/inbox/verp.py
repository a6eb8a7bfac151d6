"""VERP return paths: an envelope sender that names the issue and the recipient.

Each message goes out with ``MAIL FROM:<bounces+TOKEN@domain>``, so a bounce comes
back addressed to the token even when its report is mangled or the failed
address is a forwarding target we never mailed. The token is 20 lowercase
base32 characters: 4 tagging the issue (a hash of its slug) and the first 80
bits of HMAC-SHA256(secret, "verp" issue recipient). So the local part stays
far under the 64 octets of RFC 5321 4.5.3.1.1 whatever the address, survives
MTAs that lowercase local parts, and cannot be forged without the secret. It
carries no address: the inbox maps it back through the delivery ledger, hashing
only the recipients of the issues whose tag matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable

TAG_LENGTH, MAC_LENGTH = 4, 16
TOKEN_LENGTH = TAG_LENGTH + MAC_LENGTH


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().lower()


def issue_tag(issue: str) -> str:
    return _b32(hashlib.sha256(issue.encode()).digest()[:5])[:TAG_LENGTH]


def verp_token(secret: bytes, issue: str, recipient: str) -> str:
    """recipient is the normalised key the ledger stores (domain lowercased)."""
    mac = hmac.digest(secret, f"verp\0{issue}\0{recipient}".encode(), hashlib.sha256)
    return issue_tag(issue) + _b32(mac[:10])


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
    """Token → (issue, recipient). issues() lists the issues sent; recipients(issue)
    whom one went to. An issue's tokens are computed (one HMAC per recipient, about
    a microsecond each) the first time a token carries its tag, then kept."""

    def __init__(
        self,
        secret: bytes,
        issues: Callable[[], Iterable[str]],
        recipients: Callable[[str], Iterable[str]],
    ) -> None:
        self.secret, self._issues, self._recipients = secret, issues, recipients
        self._by_tag: dict[str, list[str]] | None = None
        self._tokens: dict[str, tuple[str, str]] = {}
        self._done: set[str] = set()

    @classmethod
    def of(cls, secret: bytes, deliveries: Iterable[tuple[str, str]]) -> VerpIndex:
        """An index over a list of (issue, recipient)."""
        sent: dict[str, list[str]] = {}
        for issue, recipient in deliveries:
            sent.setdefault(issue, []).append(recipient)
        return cls(secret, lambda: list(sent), lambda issue: sent.get(issue, []))

    def resolve(self, token: str) -> tuple[str, str] | None:
        token = token.lower()
        if self._by_tag is None:
            self._by_tag = {}
            for issue in self._issues():
                self._by_tag.setdefault(issue_tag(issue), []).append(issue)
        for issue in self._by_tag.get(token[:TAG_LENGTH], []):
            if issue not in self._done:
                self._done.add(issue)
                for recipient in self._recipients(issue):
                    self._tokens[verp_token(self.secret, issue, recipient)] = (issue, recipient)
        return self._tokens.get(token)
