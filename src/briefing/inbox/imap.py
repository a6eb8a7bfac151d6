"""An IMAP mailbox over TLS (RFC 9051 / 3501), read by UID.

Implicit TLS (port 993) or STARTTLS (143), the certificate always verified.
Messages are fetched with BODY.PEEK[] so reading marks nothing \\Seen; an
acted-on message is moved with UID MOVE (RFC 6851), or COPY + \\Deleted +
UID EXPUNGE (RFC 4315) on servers without MOVE.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from briefing.inbox.sources import InboxError, Known, Mail, header_of, never_seen

_SIZE = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)")


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str  # 'ssl' or 'starttls'
    folder: str
    username: str
    password: str
    ca_file: str = ""
    timeout: float = 30.0


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapSource:
    def __init__(self, settings: ImapSettings, max_size: int) -> None:
        self.settings, self.max_size = settings, max_size
        scheme = "imaps" if settings.security == "ssl" else "imap"  # RFC 5092; STARTTLS on imap
        self.label = f"{scheme}://{settings.host}:{settings.port}/{settings.folder}"
        context = ssl.create_default_context(cafile=settings.ca_file or None)
        self._imap: imaplib.IMAP4
        try:
            if settings.security == "ssl":
                self._imap = imaplib.IMAP4_SSL(
                    settings.host, settings.port, ssl_context=context, timeout=settings.timeout
                )
            else:
                self._imap = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
                self._imap.starttls(ssl_context=context)
            self._imap.login(settings.username, settings.password)
            self._check(self._imap.select(_quote(settings.folder)), f"select {settings.folder}")
            _, caps = self._imap.capability()
        except (OSError, imaplib.IMAP4.error) as exc:
            raise InboxError(f"{self.label}: {exc}") from None
        words = b" ".join(c for c in caps if isinstance(c, bytes)).upper().split()
        self.can_move, self.uidplus = b"MOVE" in words, b"UIDPLUS" in words
        self._created: set[str] = set()

    @staticmethod
    def _check(reply: tuple[str, list[Any]], what: str) -> list[Any]:
        status, data = reply
        if status != "OK":
            detail = data[0].decode(errors="replace") if data and isinstance(data[0], bytes) else ""
            raise InboxError(f"IMAP {what} failed: {detail}")
        return data

    def _sizes(self) -> list[tuple[str, int]]:
        data = self._check(self._imap.uid("FETCH", "1:*", "(RFC822.SIZE)"), "FETCH sizes")
        found = []
        for line in data:
            text = line[0] if isinstance(line, tuple) else line
            if not isinstance(text, bytes):
                continue
            uid = size = None
            for match in _SIZE.finditer(text):
                uid = match.group(1) or uid
                size = match.group(2) or size
            if uid and size:
                found.append((uid.decode(), int(size)))
        return sorted(found, key=lambda pair: int(pair[0]))

    def messages(self, known: Known = never_seen) -> Iterator[Mail]:
        try:
            yield from self._messages(known)
        except (OSError, imaplib.IMAP4.error) as exc:  # the connection dropped
            raise InboxError(f"{self.label}: {exc}") from None

    def _messages(self, known: Known) -> Iterator[Mail]:
        if self._imap.select(_quote(self.settings.folder))[1] == [b"0"]:
            return
        # A UID names a message for as long as the folder's UIDVALIDITY stays the same
        # (RFC 9051 2.3.1.1).
        _, validity = self._imap.response("UIDVALIDITY")
        epoch = validity[0].decode() if validity and isinstance(validity[0], bytes) else "?"
        for uid, size in self._sizes():
            stable = f"{epoch}/{uid}"
            if known(stable):
                yield Mail(uid, b"", 0, stable, known=True)
                continue
            part = "BODY.PEEK[]" if size <= self.max_size else "BODY.PEEK[HEADER]"
            data = self._check(self._imap.uid("FETCH", uid, f"({part})"), f"FETCH {uid}")
            body = next((d[1] for d in data if isinstance(d, tuple) and len(d) == 2), None)
            if isinstance(body, bytes):
                whole = body if size <= self.max_size else header_of(body)
                yield Mail(uid, whole, size, stable)

    def move(self, ref: str, folder: str) -> None:
        try:
            self._move(ref, folder)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise InboxError(f"{self.label}: moving a message to {folder}: {exc}") from None

    def _move(self, ref: str, folder: str) -> None:
        if folder not in self._created:
            # CREATE of an existing folder fails harmlessly (RFC 9051 6.3.4).
            self._imap.create(_quote(folder))
            self._created.add(folder)
        if self.can_move:
            self._check(self._imap.uid("MOVE", ref, _quote(folder)), f"MOVE {ref}")
            return
        self._check(self._imap.uid("COPY", ref, _quote(folder)), f"COPY {ref}")
        self._check(self._imap.uid("STORE", ref, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        if self.uidplus:
            self._check(self._imap.uid("EXPUNGE", ref), f"UID EXPUNGE {ref}")
        else:
            self._check(self._imap.expunge(), "EXPUNGE")

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self._imap.logout()
