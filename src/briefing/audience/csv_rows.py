"""The records of a CSV list with the line each starts on: one loop for every list
briefing reads (subscribers, suppressions, audience imports)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Protocol


class Reader(Protocol):
    """What csv.reader returns."""

    line_num: int

    def __next__(self) -> list[str]: ...


def records(reader: Reader) -> Iterator[tuple[int, list[str] | str]]:
    """Each non-blank record after the header with the line it starts on, or the CSV
    error (as text) where a record cannot be read, so every bad row is reported."""
    while True:
        line = reader.line_num + 1  # where the record starts; a quoted field may span lines
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, f"bad CSV: {exc}"
            continue
        if any(cell.strip() for cell in row):
            yield line, row
