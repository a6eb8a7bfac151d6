"""One rule for text that becomes an email header, or any one-line value.

A title becomes the Subject; publication.title, email.from, email.reply_to,
email.list_id and email.unsubscribe_url become From, Reply-To, List-Id and
List-Unsubscribe. A CR or LF in any of them would end the header and start
another (header injection); a form feed, vertical tab or FS/GS/RS makes Python's
header parser fail in the middle of a send. So every control character is refused
where the value is read, with the file and line or key, and never repaired later.

Subscriber names (To:) follow the same rule: call header_value_problem there too.
"""

from __future__ import annotations

import re
import unicodedata

# RFC 5322 §2.1.1: a header line is at most 998 octets. A value that cannot be
# folded (an address, a URL, a word without spaces) must fit on one line with its
# header name ("List-Unsubscribe: " and the like), so values get 900 at most.
MAX_HEADER_OCTETS = 900

_NAMES = {
    0x00: "NUL",
    0x09: "tab",
    0x0A: "line feed",
    0x0B: "vertical tab",
    0x0C: "form feed",
    0x0D: "carriage return",
    0x1B: "escape",
    0x1C: "file separator",
    0x1D: "group separator",
    0x1E: "record separator",
    0x1F: "unit separator",
    0x7F: "delete",
    0x85: "next line",
    0x2028: "line separator",
    0x2029: "paragraph separator",
}


# C0, DEL, C1 (category Cc), U+2028/2029 (Zl, Zp) and lone surrogates (Cs): every
# character of these categories, spelled as ranges (Unicode's stability policy
# freezes Cc and Cs; tests/test_headers_rule.py checks the ranges against
# unicodedata). One regular expression scans a whole article at C speed.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def is_control(char: str) -> bool:
    """C0, DEL, C1 (category Cc), U+2028/2029 (Zl, Zp) and lone surrogates (Cs)."""
    return CONTROL.match(char) is not None


def describe(char: str) -> str:
    """'U+000C (form feed)': how messages name a character the editor cannot see."""
    code = ord(char)
    name = _NAMES.get(code, "control character")
    if unicodedata.category(char) == "Cs":
        name = "a lone surrogate, not a character"
    return f"U+{code:04X} ({name})"


def control_problem(text: str) -> str | None:
    """A message when text holds a control character, else None."""
    found = CONTROL.search(text)
    if found is None:
        return None
    return f"contains the control character {describe(found.group())}, not allowed here; remove it"


def header_value_problem(text: str, limit: int = MAX_HEADER_OCTETS) -> str | None:
    """Why text cannot be an email header value, or None when it can.

    The message completes "file:line: field: …" (or "briefing.toml: key: …").
    """
    if message := control_problem(text):
        return message
    size = len(text.encode("utf-8"))
    if size > limit:
        return (
            f"is {size} bytes long (UTF-8); a header value may have at most {limit}"
            " (RFC 5322 §2.1.1 allows 998 per line); shorten it"
        )
    return None
