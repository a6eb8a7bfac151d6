"""Where the mail is read from: a Maildir folder or an mbox file (IMAP: inbox.imap).

Every source lists its messages with a reference it can find them by again,
gives their bytes (only the header when a message is larger than max_size: a
bounce report is small, and a 20 MB attachment is not worth reading), and
moves a message into a named folder once it has been acted on.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from briefing.errors import BriefingError


class InboxError(BriefingError):
    """The mailbox cannot be read: not found, refused, unreachable."""


@dataclass(frozen=True)
class Mail:
    ref: str  # UID, file name or mbox key
    data: bytes  # the whole message, or its header only when larger than max_size
    size: int
    # Names this message in this mailbox on every run (IMAP UIDVALIDITY/UID, a Maildir
    # file's unique name); '' where there is none (mbox keys are positions).
    stable: str = ""
    known: bool = False  # its stable name was processed before: data was not fetched

    @property
    def header_only(self) -> bool:
        return len(self.data) < self.size


# Whether a stable name was processed before (the message is then not read again).
Known = Callable[[str], bool]


def never_seen(stable: str) -> bool:
    return False


class Source(Protocol):
    label: str  # how the user names it: a path or imaps://host/folder

    def messages(self, known: Known = never_seen) -> Iterator[Mail]: ...

    def move(self, ref: str, folder: str) -> None: ...

    def close(self) -> None: ...


def header_of(data: bytes, limit: int = 256 * 1024) -> bytes:
    """The header block of a message (up to the first empty line)."""
    head = data[:limit]
    for separator in (b"\r\n\r\n", b"\n\n"):
        at = head.find(separator)
        if at >= 0:
            return head[: at + len(separator)]
    return head


def _read_header(path: Path, limit: int = 256 * 1024) -> bytes:
    with path.open("rb") as handle:
        return header_of(handle.read(limit))


class MaildirSource:
    """A Maildir (new/ and cur/); acted-on messages go to the Maildir++ subfolder
    '.<folder>', by rename(2): atomic, so a crash leaves each message in one place."""

    def __init__(self, path: Path, max_size: int) -> None:
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise InboxError(f"{path}: not a Maildir (no cur/ and new/ folders)")
        # Absolute: the label also keys where processed messages sit (state.inbox_places).
        self.path, self.max_size, self.label = path, max_size, str(path.resolve())

    def messages(self, known: Known = never_seen) -> Iterator[Mail]:
        names = [
            f"{sub}/{entry.name}"
            for sub in ("new", "cur")
            for entry in os.scandir(self.path / sub)
            if entry.is_file() and not entry.name.startswith(".")
        ]
        for ref in sorted(names, key=lambda r: r.split("/", 1)[1]):
            # The unique part of the name; a client changes only the ':2,…' flags.
            stable = ref.split("/", 1)[1].split(":2,", 1)[0]
            if known(stable):
                yield Mail(ref, b"", 0, stable, known=True)
                continue
            path = self.path / ref
            try:
                size = path.stat().st_size
                data = path.read_bytes() if size <= self.max_size else _read_header(path)
            except FileNotFoundError:
                continue  # another reader (a mail client) moved it meanwhile
            yield Mail(ref, data, size, stable)

    def move(self, ref: str, folder: str) -> None:
        target = self.path / f".{folder}"
        for sub in ("cur", "new", "tmp"):
            (target / sub).mkdir(parents=True, exist_ok=True)
        (target / "maildirfolder").touch()
        name = ref.split("/", 1)[1]
        if ":2," not in name:
            name += ":2,S"  # cur/ names carry the info suffix; S = seen
        # A mail client may have moved it meanwhile; it is recorded, wherever it is.
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path / ref, target / "cur" / name)

    def close(self) -> None:
        pass


class MboxSource:
    """An mbox file, locked (fcntl and dot-lock, as MTAs do) for the whole run so no
    delivery changes it under us. Moves are batched: at close() the messages are
    appended to the mbox '<folder>' beside it, then removed from this one."""

    def __init__(self, path: Path, max_size: int) -> None:
        if not path.is_file():
            raise InboxError(f"{path}: no such mbox file")
        self.path, self.max_size, self.label = path, max_size, str(path)
        self._box = mailbox.mbox(path, create=False)
        try:
            self._box.lock()
        except mailbox.ExternalClashError:
            self._box.close()
            raise InboxError(f"{path}: locked by another program; try again") from None
        self._moves: dict[str, list[str]] = {}
        self._keys: dict[str, str] = {}

    def messages(self, known: Known = never_seen) -> Iterator[Mail]:
        for key in list(self._box.keys()):
            self._keys[str(key)] = key
            data = self._box.get_bytes(key)
            size = len(data)
            yield Mail(str(key), data if size <= self.max_size else header_of(data), size)

    def move(self, ref: str, folder: str) -> None:
        self._moves.setdefault(folder, []).append(ref)

    def close(self) -> None:
        try:
            for folder, refs in self._moves.items():
                target = mailbox.mbox(self.path.parent / folder, create=True)
                target.lock()
                try:
                    for ref in refs:
                        target.add(self._box.get_message(self._keys[ref]))
                    target.flush()
                finally:
                    target.unlock()
                    target.close()
                for ref in refs:
                    self._box.remove(self._keys[ref])
            if self._moves:
                self._box.flush()
        finally:
            self._box.unlock()
            self._box.close()
            self._moves = {}
