"""Per-recipient RFC 5322 messages, assembled from parts encoded once per issue.

Building each message with `email.message.EmailMessage` costs 6–10 ms (its
quoted-printable encoder is pure Python). Instead the issue's HTML and text are
split at their merge fields and each static piece is quoted-printable encoded
once (RFC 2045 6.7, with the C encoder in binascii). Every piece ends with a
soft line break, so pieces and per-recipient values concatenate into valid
quoted-printable whatever their lengths. Per recipient only the headers and the
few field values are encoded.

Every piece also begins a line, so SMTP's dot-stuffing (RFC 5321 4.5.2) can be done
piece by piece: the static pieces are stuffed once per issue too (data_for).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote

from briefing.inbox.verp import verp_address, verp_token
from briefing.merge import PLACEHOLDER, email_fallback, field_value, fill
from briefing.render.plaintext import rewrap
from briefing.send.audience import Subscriber, normalize

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"


def dot_stuffed(message: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with '.' gets one more. Our messages end in CRLF.
    (bytes.replace, where smtplib runs a regex over the whole message.)"""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def _qp(data: str) -> bytes:
    """Quoted-printable with CRLF line ends and lines of at most 76 characters.

    b2a_qp takes the line-end style from the first line break it meets, so a piece
    without one gets bare-LF soft breaks: encode with LF, then make every end CRLF
    (quoted-printable output holds no other CR or LF).
    """
    encoded = binascii.b2a_qp(data.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


def _piece(data: str) -> bytes:
    encoded = _qp(data)
    return encoded if not encoded or encoded.endswith(CRLF) else encoded + SOFT_BREAK


@dataclass(frozen=True)
class Field:
    name: str
    fallback: str
    line: str = ""  # text part: the whole line, filled then wrapped (a value's length varies)


class EncodedBody:
    """A body split at its merge fields: static pieces encoded once, fields per recipient.

    With wrap (the text part), the unit filled per recipient is each line holding a
    field, wrapped at that width once filled: the renderer left those lines whole.
    Each piece begins a line (the one before ends in CRLF), so `stuffed` holds the
    pieces dot-stuffed for SMTP, and fill(stuffed=True) gives the body stuffed."""

    def __init__(self, source: str, escape: bool, wrap: int = 0) -> None:
        self.escape, self.wrap = escape, wrap
        self.pieces: list[bytes] = []
        self.fields: list[Field] = []
        last = 0
        for match in (_LINE_WITH_FIELD if wrap else PLACEHOLDER).finditer(source):
            self.pieces.append(_piece(source[last : match.start()]))
            if wrap:
                self.fields.append(Field("", "", match.group(0)))
            else:
                self.fields.append(Field(match.group(1), email_fallback(match.group(2))))
            last = match.end()
        self.pieces.append(_piece(source[last:]))
        self.stuffed = [dot_stuffed(piece) for piece in self.pieces]

    def fill(self, values: dict[str, str], stuffed: bool = False) -> bytes:
        return b"".join(self.parts(values, stuffed))

    def parts(
        self, values: dict[str, str], stuffed: bool = False, out: list[bytes] | None = None
    ) -> list[bytes]:
        """fill() unjoined, appended to out: the static pieces themselves, not copies."""
        pieces = self.stuffed if stuffed else self.pieces
        out = [] if out is None else out
        out.append(pieces[0])
        for field, piece in zip(self.fields, pieces[1:], strict=True):
            if field.line:
                value = rewrap(fill(field.line, values, escape=self.escape), self.wrap)
            else:
                value = field_value(values, field.name, field.fallback, escape=self.escape)
            out.append(dot_stuffed(_piece(value)) if stuffed else _piece(value))
            out.append(piece)
        return out


# A line of the text part that holds a merge field (without its line break).
_LINE_WITH_FIELD = re.compile(r"^[^\n]*" + PLACEHOLDER.pattern + r"[^\n]*$", re.MULTILINE)
TEXT_WIDTH = 72  # as render.text wraps the rest


def unsubscribe_token(secret: bytes, list_id: str, address: str) -> str:
    """A short token naming the recipient, signed for this list so it cannot be forged:
    base64url(address) '.' the first 96 bits of HMAC-SHA256(secret, list '\\0' address)."""
    key = normalize(address)
    who = base64.urlsafe_b64encode(key.encode()).rstrip(b"=").decode()
    mac = hmac.digest(secret, f"{list_id}\0{key}".encode(), "sha256")[:12]  # one C call
    return f"{who}.{base64.urlsafe_b64encode(mac).decode()}"


def verify_unsubscribe_token(secret: bytes, list_id: str, token: str) -> str | None:
    """The address a token was made for, or None when it was not made with this secret."""
    if not token.isascii():  # a token is base64url and '.': compare_digest takes only ASCII
        return None
    who, _, _ = token.partition(".")
    try:
        address = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    expected = unsubscribe_token(secret, list_id, address)
    return address if hmac.compare_digest(expected, token) else None


def message_id(slug: str, address: str, domain: str) -> str:
    """Unique per issue and recipient, and the same on every run (a resend is recognisable)."""
    digest = hashlib.sha256(f"{slug}\0{normalize(address)}".encode()).hexdigest()[:32]
    return f"<{digest}.{slug}@{domain}>"


def _unsubscribe_header(targets: list[str]) -> bytes:
    """RFC 2369 3.2 / RFC 8058: written raw (an encoded-word here is ignored by Gmail),
    folded after the comma between targets and, when the first is too long to share a
    line with the name, after the colon (RFC 5322 2.2.3: folding where white space may
    stand); a URL itself is never broken."""
    name = "List-Unsubscribe:"
    first = " " if len(name) + 1 + len(targets[0]) + 1 <= 78 else "\r\n "
    return (name + first + ",\r\n ".join(targets)).encode() + CRLF


def _header(name: str, value: str) -> bytes:
    """One header, RFC 2047-encoded only when it is not plain ASCII.

    Long ASCII values with spaces are folded at 78 columns (RFC 5322 2.1.1); a
    long value without spaces (a Message-ID) stays on one line, under the 998 limit.
    """
    if value.isascii() and (len(name) + len(value) + 2 <= 78 or " " not in value):
        return f"{name}: {value}".encode() + CRLF
    encoded = Header(
        value, "utf-8" if not value.isascii() else "us-ascii", header_name=name
    ).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode() + CRLF


@functools.lru_cache(maxsize=2)
def _date_header(seconds: int) -> bytes:
    """Date: for a whole second (what it shows), made once per second of a send.
    A numeric zone: "GMT" is obsolete syntax (RFC 5322 3.3, 4.3)."""
    return _header("Date", format_datetime(datetime.fromtimestamp(seconds, UTC)))


def _address(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8")


# An RFC 2047 encoded-word is at most 75 characters: "=?utf-8?b?" + base64 + "?=".
# 45 bytes of UTF-8 are 60 of base64, so each word is at most 72 and fits a line
# after "To: " (RFC 5322 2.1.1: 78 characters a line).
_WORD_BYTES = 45
_LINE = 78


def _encoded_words(text: str) -> list[str]:
    """text as B encoded-words (RFC 2047 4.1), never splitting a character's bytes
    across words (RFC 2047 5: each word must decode on its own)."""
    chunks, chunk = [], b""
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            chunks.append(chunk)
            chunk = b""
        chunk += data
    chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks if c]


def _fold(name: str, words: list[str]) -> bytes:
    """A header of words joined by single spaces, folded before a word that would pass
    78 characters (RFC 5322 2.2.3: a fold is CRLF before white space; unfolding gives
    the value back). A single word longer than a line keeps a line of its own."""
    lines, line = [], f"{name}:"
    for word in words:
        if len(line) + 1 + len(word) > _LINE and line != f"{name}:":
            lines.append(line)
            line = " " + word
        else:
            line += " " + word
    lines.append(line)
    return "\r\n".join(lines).encode("ascii") + CRLF


def _to_header(name: str, address: str) -> bytes:
    """To: for one recipient. An ASCII name is a phrase (quoted as needed) folded at its
    spaces; a non-ASCII name, or one with a word too long for a line, is a run of
    encoded-words (RFC 2047 5(3): allowed in a phrase; white space between adjacent
    encoded-words is dropped when decoded, RFC 2047 6.2)."""
    name = " ".join(name.split())  # runs of white space would fold into blank lines
    phrase = formataddr((name, address)) if name.isascii() else ""
    if phrase and len(phrase) <= _LINE - len("To: "):  # one line: what _fold would give
        return f"To: {phrase}".encode() + CRLF
    words = phrase.split(" ") if phrase else []
    if not words or any(len(word) > _LINE - len("To: ") for word in words[:-1]):
        words = [*_encoded_words(name), f"<{address}>"] if name else [address]
    return _fold("To", words)


@dataclass(frozen=True)
class Sender:
    """What the publication's settings put in every message."""

    from_header: str  # as configured, e.g. 'The Briefing <news@example.com>'
    reply_to: str
    list_id: str
    unsubscribe_url: str  # with {token}
    unsubscribe_mailto: str
    domain: str
    bounce_address: str = ""  # [bounces] address: the base of VERP return paths

    @property
    def envelope_from(self) -> str:
        return parseaddr(self.from_header)[1]


class MessageTemplate:
    """One issue, ready to be personalised: render_for() costs a few dozen microseconds."""

    def __init__(
        self,
        slug: str,
        subject: str,
        html_body: str,
        text_body: str,
        sender: Sender,
        secret: bytes,
        test: bool = False,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.slug, self.sender, self.secret, self.test = slug, sender, secret, test
        self.sign = sign
        self.subject = ("[TEST] " if test else "") + subject
        # Made once when no merge field makes it personal.
        self._subject_header = (
            None if PLACEHOLDER.search(self.subject) else _header("Subject", self.subject)
        )
        self.html = EncodedBody(html_body, escape=True)
        self.text = EncodedBody(text_body, escape=False, wrap=TEXT_WIDTH)
        boundary_seed = hashlib.sha256((html_body + text_body).encode()).hexdigest()[:24]
        # '=_' cannot occur in quoted-printable text, so the boundary never collides.
        self.boundary = f"=_briefing_{boundary_seed}"
        name, address = parseaddr(sender.from_header)
        self._envelope_from = address  # parsed once: parseaddr costs ~50 µs a call
        fixed = [_header("From", _address(name, address))]
        if sender.reply_to:
            fixed.append(_header("Reply-To", sender.reply_to))
        if sender.list_id:
            fixed.append(_header("List-Id", sender.list_id))
        fixed.append(b"MIME-Version: 1.0" + CRLF)
        fixed.append(  # folded before the parameter: the line would be 80 characters
            f'Content-Type: multipart/alternative;\r\n boundary="{self.boundary}"'.encode() + CRLF
        )
        if test:
            fixed.append(b"X-Briefing-Test: yes" + CRLF)
        self.fixed_headers = b"".join(fixed)
        part = (
            '--{b}\r\nContent-Type: {t}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        self.text_head = part.format(b=self.boundary, t="text/plain").encode()
        self.html_head = CRLF + part.format(b=self.boundary, t="text/html").encode()
        self.closing = f"\r\n--{self.boundary}--\r\n".encode()
        # Each begins a line: dot-stuffed on their own, they are stuffed in the message.
        parts = (self.text_head, self.html_head, self.closing)
        self._stuffed_parts = tuple(dot_stuffed(part) for part in parts)

    def envelope_from(self, subscriber: Subscriber) -> str:
        """The SMTP envelope sender (MAIL FROM, where bounces go) for this recipient:
        its VERP return path when [bounces] is set, else the From address."""
        return self.return_path(subscriber) or self._envelope_from

    def return_path(self, subscriber: Subscriber) -> str:
        """bounces+<token>@domain naming issue and recipient (briefing.inbox.verp), or ''
        without a [bounces] address. Test copies bounce to the plain bounce address."""
        bounces = self.sender.bounce_address
        if not bounces or self.test:
            return bounces
        return verp_address(bounces, verp_token(self.secret, self.slug, subscriber.key))

    def render_for(self, subscriber: Subscriber, date: float | None = None) -> bytes:
        message = self._assemble(subscriber, date, stuffed=False)
        return self.sign(message) if self.sign else message

    def data_for(self, subscriber: Subscriber, date: float | None = None) -> bytes:
        """The message as SMTP's DATA carries it: dot_stuffed(render_for(...)), made of
        parts stuffed once per issue instead of stuffing 60 KB per recipient."""
        return b"".join(self.data_parts(subscriber, date))

    def data_parts(self, subscriber: Subscriber, date: float | None = None) -> list[bytes]:
        """data_for() unjoined: the issue's stuffed pieces themselves and the recipient's
        few, for a socket to gather (sendmsg) without copying ~60 KB into one string."""
        if self.sign:  # the signature covers the message as it is before stuffing
            return [dot_stuffed(self.render_for(subscriber, date))]
        return self._assemble_parts(subscriber, date, stuffed=True)

    def _assemble(self, subscriber: Subscriber, date: float | None, stuffed: bool) -> bytes:
        return b"".join(self._assemble_parts(subscriber, date, stuffed))

    def _assemble_parts(
        self, subscriber: Subscriber, date: float | None, stuffed: bool
    ) -> list[bytes]:
        # A test copy gets a fresh Message-ID each time: a mailbox that saw an earlier
        # copy would otherwise hide it as a duplicate. Its seed is a number: the id's
        # left part is a dot-atom (RFC 5322 3.6.4), no spaces or commas.
        when = time.time() if date is None else date
        id_seed = f"{self.slug}-test-{when:.0f}" if self.test else self.slug
        token = quote(unsubscribe_token(self.secret, self.sender.list_id, subscriber.email), ".-_")
        unsubscribe = self.sender.unsubscribe_url.replace("{token}", token)
        values = {
            **subscriber.fields,
            "name": subscriber.name,
            "email": subscriber.email,
            "unsubscribe_url": unsubscribe,
        }
        subject = self._subject_header or _header(
            "Subject", fill(self.subject, values, escape=False)
        )
        # RFC 2369 3.2 / RFC 8058: the https URL first, one-click POST for it.
        targets = [f"<{unsubscribe}>"]
        if self.sender.unsubscribe_mailto:
            # The token in the subject (RFC 6068: the space as %20), so the request names
            # the recipient by signature, not by a From anyone can write (inbox/replies.py).
            mailto = f"mailto:{self.sender.unsubscribe_mailto}?subject=unsubscribe%20{token}"
            targets.append(f"<{mailto}>")
        headers = [
            _to_header(subscriber.name, subscriber.email),
            subject,
            _date_header(math.floor(when)),
            _header("Message-ID", message_id(id_seed, subscriber.email, self.sender.domain)),
            self.fixed_headers,
            _unsubscribe_header(targets),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" + CRLF,
        ]
        head = b"".join([*headers, CRLF])
        text_head, html_head, closing = (
            self._stuffed_parts if stuffed else (self.text_head, self.html_head, self.closing)
        )
        parts = [dot_stuffed(head) if stuffed else head, text_head]
        self.text.parts(values, stuffed, parts)
        parts.append(html_head)
        self.html.parts(values, stuffed, parts)
        parts.append(closing)
        return parts
