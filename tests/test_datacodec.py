"""The cache codec: dataclasses back from data, filled directly only where __init__ adds nothing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from briefing.datacodec import DecodeError, from_data, to_data


@dataclass(frozen=True)
class Plain:
    name: str
    where: Path
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checked:
    count: int

    def __post_init__(self) -> None:
        if self.count < 0:
            raise DecodeError("a count below zero")


def test_a_frozen_dataclass_comes_back_equal_hashable_and_still_frozen() -> None:
    value = Plain("a", Path("/x/y"), ("t",))
    back = from_data(Plain, to_data(value))
    assert back == value and hash(back) == hash(value) and type(back) is Plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.name = "b"  # type: ignore[misc]


def test_a_post_init_still_runs_on_decoding() -> None:
    assert from_data(Checked, {"count": 2}) == Checked(2)
    with pytest.raises(DecodeError, match="below zero"):
        from_data(Checked, {"count": -1})


def test_a_missing_or_mistyped_field_is_refused() -> None:
    with pytest.raises(DecodeError):
        from_data(Plain, {"name": "a", "where": "/x"})
    with pytest.raises(DecodeError):
        from_data(Plain, {"name": 1, "where": "/x", "tags": []})
