"""Dataclasses to JSON-ready data and back, guided by their type hints.

The build cache is stored this way, as data: reading it builds only the declared
dataclasses from strings, numbers and lists, checked against each field's type,
so a crafted file can at worst be refused, never run code (as a pickle can).
Supported field types: str, int, float, bool, None, Path, aware datetime, nested
dataclasses, tuple[X, ...], fixed tuples, dict[str, X] and unions of these.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

Json = Any


class DecodeError(ValueError):
    """The data does not have the shape the type declares."""


def to_data(value: object) -> Json:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {_key(k): to_data(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot store a {type(value).__name__}")


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"dictionary keys must be text, not {type(key).__name__}")
    return key


def from_data(kind: Any, data: Json) -> Any:
    """data read back as kind; DecodeError when it does not fit."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _union(args, data)
    if origin is tuple:
        return _tuple(args, _exactly(list, data))
    if origin is dict:
        items = _exactly(dict, data).items()
        return {_exactly(str, k): from_data(args[1], v) for k, v in items}
    if kind is Path:
        return Path(_exactly(str, data))
    if kind is datetime:
        return _datetime(_exactly(str, data))
    if kind in (str, int, bool, type(None)):
        return _exactly(kind, data)
    if kind is float:
        return float(data if type(data) is int else _exactly(float, data))
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(kind, _exactly(dict, data))
    raise DecodeError(f"no rule to read a {kind!r}")


def _exactly(kind: type, data: Json) -> Any:
    if type(data) is not kind:  # not isinstance: True is an int, and must not pass as one
        raise DecodeError(f"expected {kind.__name__}, found {type(data).__name__}")
    return data


def _union(args: tuple[Any, ...], data: Json) -> Any:
    for arg in args:
        try:
            return from_data(arg, data)
        except DecodeError:
            continue
    raise DecodeError(f"{type(data).__name__} fits none of {args}")


def _tuple(args: tuple[Any, ...], items: list[Json]) -> tuple[Any, ...]:
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(from_data(args[0], item) for item in items)
    if len(items) != len(args):
        raise DecodeError(f"expected {len(args)} items, found {len(items)}")
    return tuple(from_data(arg, item) for arg, item in zip(args, items, strict=True))


def _datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise DecodeError(str(exc)) from None


def _dataclass(kind: type, data: dict[str, Json]) -> Any:
    hints = _hints(kind)
    names = {f.name for f in dataclasses.fields(kind) if f.init}
    if set(data) != names:
        raise DecodeError(f"{kind.__name__}: fields {sorted(set(data) ^ names)} differ")
    return kind(**{name: from_data(hints[name], data[name]) for name in names})


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)
