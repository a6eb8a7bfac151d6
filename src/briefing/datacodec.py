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
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

Json = Any


class DecodeError(ValueError):
    """The data does not have the shape the type declares."""


def to_data(value: Any) -> Json:
    kind: Any = type(value)
    if kind in _PLAIN:  # most values: tested first, by exact type
        return value
    if kind is tuple or kind is list:
        return [to_data(v) for v in value]
    if kind is dict:
        return {_key(k): to_data(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_data(getattr(value, name)) for name in _field_names(kind)}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot store a {kind.__name__}")


_PLAIN = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _field_names(kind: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"dictionary keys must be text, not {type(key).__name__}")
    return key


def from_data(kind: Any, data: Json) -> Any:
    """data read back as kind; DecodeError when it does not fit."""
    return _decoder(kind)(data)


Decoder = Callable[[Json], Any]


def decoder(kind: Any) -> Decoder:
    """from_data for one kind, looked up once (for a loop over many values)."""
    return _decoder(kind)


@functools.cache
def _decoder(kind: Any) -> Decoder:
    """A function reading data as kind, made once per type (the cache holds thousands
    of issues: dispatching on the type for every value would cost more than the JSON)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return functools.partial(_union, tuple(_decoder(a) for a in args))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return functools.partial(_many, _decoder(args[0]))
    if origin is tuple:
        return functools.partial(_fixed, tuple(_decoder(a) for a in args))
    if origin is dict:
        return functools.partial(_mapping, _decoder(args[1]))
    if kind is Path:
        return lambda data: Path(_exactly(str, data))
    if kind is datetime:
        return _datetime
    if kind in (str, int, bool, type(None)):
        return functools.partial(_exactly, kind)
    if kind is float:
        return lambda data: float(data if type(data) is int else _exactly(float, data))
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass_decoder(kind)
    raise DecodeError(f"no rule to read a {kind!r}")


def _exactly(kind: type, data: Json) -> Any:
    if type(data) is not kind:  # not isinstance: True is an int, and must not pass as one
        raise DecodeError(f"expected {kind.__name__}, found {type(data).__name__}")
    return data


def _union(options: tuple[Decoder, ...], data: Json) -> Any:
    for option in options:
        try:
            return option(data)
        except DecodeError:
            continue
    raise DecodeError(f"a {type(data).__name__} fits none of the types allowed")


def _many(item: Decoder, data: Json) -> tuple[Any, ...]:
    return tuple(map(item, _exactly(list, data)))


def _fixed(items: tuple[Decoder, ...], data: Json) -> tuple[Any, ...]:
    values = _exactly(list, data)
    if len(values) != len(items):
        raise DecodeError(f"expected {len(items)} items, found {len(values)}")
    return tuple(decode(value) for decode, value in zip(items, values, strict=True))


def _mapping(value: Decoder, data: Json) -> dict[str, Any]:
    return {_exactly(str, k): value(v) for k, v in _exactly(dict, data).items()}


def _datetime(data: Json) -> datetime:
    try:
        return datetime.fromisoformat(_exactly(str, data))
    except ValueError as exc:
        raise DecodeError(str(exc)) from None


def _dataclass_decoder(kind: type) -> Decoder:
    hints = typing.get_type_hints(kind)
    names = frozenset(f.name for f in dataclasses.fields(kind) if f.init)
    fields: list[tuple[str, Decoder]] = []

    def decode(data: Json) -> Any:
        found = _exactly(dict, data)
        if found.keys() != names:
            raise DecodeError(f"{kind.__name__}: fields {sorted(found.keys() ^ names)} differ")
        if not fields:  # filled on first use: a dataclass may refer to itself
            fields.extend((name, _decoder(hints[name])) for name in names)
        values = {name: field(found[name]) for name, field in fields}
        if not direct:
            return kind(**values)
        # A frozen dataclass's __init__ sets each field through object.__setattr__,
        # and the cache holds tens of thousands of them: filled directly, the no-op
        # build's decode takes about half the time. Only where __init__ does no more.
        made: Any = new(kind)
        made.__dict__.update(values)
        return made

    new = object.__new__
    direct = (
        not hasattr(kind, "__post_init__")
        and "__slots__" not in vars(kind)
        and all(f.init for f in dataclasses.fields(kind))
        and vars(kind)["__dataclass_params__"].init  # no __init__ of its own
    )
    return decode
