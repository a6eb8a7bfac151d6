"""Reading the text files editors write: UTF-8, with a located error when they are not."""

from __future__ import annotations

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
