"""Configuration options that validate themselves, in the manner of MkDocs' config options.

A section of briefing.toml is a frozen dataclass whose fields are declared with
``option(...)``: help text, default (or required), choices and a value check sit
beside the key. `briefing.config` reads a TOML table through these declarations;
the CLI takes its choices from them; a test holds the README's table to them.

A check is a function of the (type-checked) value that returns a message when the
value is wrong, or None; the message completes "briefing.toml: section.key: …".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, field, fields
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from briefing.headers import describe, header_value_problem

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Option:
    """What one key means and accepts; its type is the dataclass field's annotation."""

    help: str
    choices: tuple[str, ...] = ()
    check: Check | None = None
    toml: str = ""  # the key in the file, when it differs from the attribute


def option(
    help: str,
    default: Any = MISSING,
    *,
    choices: tuple[str, ...] = (),
    check: Check | None = None,
    toml: str = "",
) -> Any:
    """Declare a key: a dataclass field carrying its Option; no default means required."""
    meta = {"option": Option(help, choices, check, toml)}
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


class Section:
    """Base of every section: a place for rules that tie keys of one section together."""

    def cross_check(self) -> Iterator[tuple[str, str]]:
        """(key, message) for each rule between keys that the values break."""
        return iter(())


@dataclass(frozen=True)
class Key:
    """One declared key of a section, as read from its dataclass."""

    attr: str
    name: str  # as written in briefing.toml
    kind: Any  # str, int, float, bool or tuple[str, ...]
    option: Option
    default: Any  # MISSING when required

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def read(self, value: Any) -> tuple[Any, str | None]:
        """The value as the model holds it, or a message saying what is wrong."""
        if not _fits(value, self.kind):
            return None, f"must be {_KINDS[self.kind]}, not {value!r}"
        if self.kind is float:
            value = float(value)
        elif self.kind == tuple[str, ...]:
            value = tuple(value)
        if message := _control_problem(value):
            return None, message
        if self.option.choices and value not in self.option.choices:
            return None, f"must be {one_of(self.option.choices)}"
        if self.option.check and (message := self.option.check(value)):
            return None, message
        return value, None


_KEYS: dict[type, tuple[Key, ...]] = {}


def keys(cls: type) -> tuple[Key, ...]:
    """The declared keys of a section class, in declaration order."""
    if cls not in _KEYS:
        _KEYS[cls] = _read_keys(cls)
    return _KEYS[cls]


def _read_keys(cls: type) -> tuple[Key, ...]:
    hints = get_type_hints(cls)
    found = []
    for spec in fields(cls):
        kind = hints[spec.name]
        if get_origin(kind) is UnionType:
            kind = get_args(kind)[0]
        opt: Option = spec.metadata["option"]
        found.append(Key(spec.name, opt.toml or spec.name, kind, opt, spec.default))
    return tuple(found)


def suggest(key: str, known: list[str], prefix: str) -> str:
    """The tail of an "unknown key" message: the closest known key, or all of them."""
    import difflib  # only for a mistake: every build loads this module

    hint = difflib.get_close_matches(key, known, n=1)
    return f"; did you mean '{prefix}{hint[0]}'?" if hint else f"; known keys: {', '.join(known)}"


def one_of(choices: tuple[str, ...]) -> str:
    """'a', 'b' or 'c'."""
    quoted = [f"'{c}'" for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


_KINDS: dict[Any, str] = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    tuple[str, ...]: "a list of strings",
}


# Every string of briefing.toml, header or not, ends up in XML feeds, pages or email:
# C0 controls but tab and line feed are not allowed in XML 1.0 (§2.2 Char), nor CR
# (parsers turn it into LF, so the feed would no longer match the email), DEL and C1
# controls are invisible, U+FFFE/U+FFFF are not characters. TOML's escapes ("\\f",
# "\\u000c") are the only way to write them, so the rule is one check here.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")


def _control_problem(value: Any) -> str | None:
    """Why a string (or list of strings) read from briefing.toml is refused, or None."""
    for text in value if isinstance(value, tuple) else (value,):
        if isinstance(text, str) and (found := _CONTROL.search(text)):
            return (
                f"contains the control character {describe(found.group())}, which feeds"
                " and email cannot carry; remove it"
            )
    return None


def _fits(value: Any, kind: Any) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == tuple[str, ...]:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


# --- checks ---------------------------------------------------------------------------

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_FROM = re.compile(r"^(?:[^<>]*<)?([^<>\s]+)>?$")


def header(check: Check | None = None) -> Check:
    """A value that becomes an email header: no control characters (a CRLF would add
    headers of its own), a length that fits a line (briefing.headers), then check."""

    def checked(value: str) -> str | None:
        return header_value_problem(value) or (check(value) if check else None)

    return checked


def site_url(value: str) -> str | None:
    try:
        url = urlsplit(value)
        good = url.scheme in ("https", "http") and url.hostname and value.endswith("/")
    except ValueError:  # a '[' or ']' outside an IPv6 host
        good = False
    if good:
        return None
    return "must be an absolute URL ending in '/', e.g. https://example.com/"


def time_zone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone '{value}'; use an IANA name"
    return None


def language_tag(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
        return None
    return f"'{value}' is not a language tag like 'en' or 'en-GB'"


def from_header(value: str) -> str | None:
    match = _FROM.match(value.strip())
    if match and _ADDRESS.match(match.group(1)):
        return None
    return "must be an address, optionally with a name: 'Name <news@example.com>'"


def address(example: str) -> Check:
    """A plain address, or empty (the key is optional)."""

    def check(value: str) -> str | None:
        if not value or (_ADDRESS.match(value) and not header_value_problem(value)):
            return None
        return f"must be a plain address like {example}"

    return check


def unsubscribe_template(value: str) -> str | None:
    if "{token}" in value and value.startswith("https://"):
        return None
    return "must be an https URL containing {token} (RFC 8058)"


def list_id(value: str) -> str | None:
    # RFC 2919 §2: a phrase, then the list's identifier in angle brackets.
    if not value or re.fullmatch(r"[ -~]*<[A-Za-z0-9.-]+>", value):
        return None
    return "must look like 'Name <list.example.com>' (RFC 2919), ASCII only"


def at_least(low: int) -> Check:
    def check(value: float) -> str | None:
        return f"must be at least {low}" if value < low else None

    return check


def not_negative(value: float) -> str | None:
    return "must be 0 (no limit) or more" if value < 0 else None


def port_number(value: int) -> str | None:
    return None if 0 < value < 65536 else "must be a port number (1–65535)"
