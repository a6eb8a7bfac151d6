"""The two FIFOs of briefing.out_folder.pause_point: a test holds a real process at a
named moment (BRIEFING_PAUSE_AT=moment:folder), waits for it there, then kills or
releases it. Waiting on a FIFO is waiting on the event itself, never on a sleep."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def pause(tmp_path: Path) -> Path:
    """A folder with the FIFOs `reached` (the process writes its id) and `go`."""
    folder = tmp_path / "pause"
    folder.mkdir()
    os.mkfifo(folder / "reached")
    os.mkfifo(folder / "go")
    return folder


def reached(pause: Path) -> int:
    """Block until the paused process says it is there; its process id."""
    with open(pause / "reached") as fifo:
        return int(fifo.readline())
