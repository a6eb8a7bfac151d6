"""Email addresses: what is deliverable, and when two spellings are one person."""

from __future__ import annotations

import re
from collections.abc import Mapping

from briefing.headers import CONTROL, MAX_HEADER_OCTETS, header_value_problem

# RFC 5322 dot-atom addr-spec, ASCII only (SMTPUTF8 is not assumed of relays). Used with
# fullmatch: `$` would also match before a final line feed ("ada@example.com\n").
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# The whole rule as one expression, for the common case: an address it matches (with
# the two lengths) is one the rules below accept, and no other (tests/test_audience.py
# compares them); a list of 100,000 is checked in a third of the time.
_ADDRESS = re.compile(rf"{_LOCAL.pattern}@(?:{_LABEL.pattern}\.)+{_LABEL.pattern}")


def address_problem(address: str) -> str | None:
    """Why address is not a deliverable addr-spec, or None when it is."""
    # The local part holds no @, so the only @ ends it.
    if len(address) <= 254 and _ADDRESS.fullmatch(address) and address.index("@") <= 64:
        return None
    return _address_rules(address)


def _address_rules(address: str) -> str | None:
    """address_problem, rule by rule: what to say about an address the expression refused."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return f"'{address}' is not an email address"
    if len(address) > 254 or len(local) > 64:
        return f"'{address}' is too long for an email address"
    if not _LOCAL.fullmatch(local):
        return f"'{address}' has characters not allowed before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"'{address}' has an invalid domain"
    return None


def fields_problem(values: Mapping[str, str]) -> str | None:
    """The one rule for a subscriber's fields (name and merge fields), wherever they are
    read: each may land in To: or Subject:, so each follows the header-value rule (no
    control character: a form feed or RS makes Python's header parser fail halfway
    through a send; a CR or LF would inject headers) and its length limit."""
    # The common case at once: no control character in any value, and all of them so
    # short that no UTF-8 spelling (4 bytes a character at most) could pass the limit.
    joined = "".join(values.values())
    if 4 * len(joined) <= MAX_HEADER_OCTETS and CONTROL.search(joined) is None:
        return None
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
