"""Email addresses: what is deliverable, and when two spellings are one person."""

from __future__ import annotations

import re
from collections.abc import Mapping

from briefing.headers import header_value_problem

# RFC 5322 dot-atom addr-spec, ASCII only (SMTPUTF8 is not assumed of relays).
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def address_problem(address: str) -> str | None:
    """Why address is not a deliverable addr-spec, or None when it is."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return f"'{address}' is not an email address"
    if len(address) > 254 or len(local) > 64:
        return f"'{address}' is too long for an email address"
    if not _LOCAL.match(local):
        return f"'{address}' has characters not allowed before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return f"'{address}' has an invalid domain"
    return None


def fields_problem(values: Mapping[str, str]) -> str | None:
    """The one rule for a subscriber's fields (name and merge fields), wherever they are
    read: each may land in To: or Subject:, so each follows the header-value rule (no
    control character: a form feed or RS makes Python's header parser fail halfway
    through a send; a CR or LF would inject headers) and its length limit."""
    for column, value in values.items():
        if problem := header_value_problem(value):
            return f"the '{column}' field {problem}"
    return None


def normalize(address: str) -> str:
    """The key that makes two spellings one subscriber: the domain is case-insensitive
    (RFC 5321 2.4); the local part is left as written."""
    local, _, domain = address.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def suppression_key(address: str) -> str:
    """Suppression ignores case entirely: erring towards not mailing someone who left."""
    return address.strip().lower()


def mask(address: str) -> str:
    """Enough of an address for its owner to recognise it, little for anyone else:
    'ada.lovelace@example.com' → 'a***e@example.com'."""
    local, _, domain = address.rpartition("@")
    shown = local[0] + "***" + local[-1] if len(local) > 2 else local[:1] + "***"
    return f"{shown}@{domain}"
