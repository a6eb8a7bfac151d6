"""Reading the text files editors write: UTF-8, with a located error when they are not."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from briefing.errors import Problem


def read_text(path: Path, label: str, problems: list[Problem]) -> str | None:
    data = path.read_bytes()
    try:
        return data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(
                label,
                f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
                line=line,
            )
        )
        return None


def read_theme_file(path: Path) -> str:
    """A theme file's text, cached until the file changes (preview rebuilds in one process)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ""
    return _read(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _read(path: Path, mtime_ns: int, size: int) -> str:
    return path.read_text(encoding="utf-8")
