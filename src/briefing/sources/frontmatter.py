"""Front matter: a YAML block between '---' lines at the top of a Markdown file.

We compose YAML into nodes and read each field by its declared kind instead of
letting PyYAML guess types: PyYAML is YAML 1.1, where `no` is False and `1.10`
is 1.1, so a title "No" or an edition "1.10" would silently change. Reading the
scalar's text keeps what the editor wrote, and every node knows its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from briefing.errors import Problem


@dataclass(frozen=True)
class Document:
    """A source file split into its front matter nodes and its Markdown body."""

    path: Path
    label: str  # the path as shown in messages
    fields: dict[str, yaml.Node]
    key_lines: dict[str, int]
    body: str
    body_line: int  # 1-based file line where the body starts


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


def parse(path: Path, label: str, problems: list[Problem]) -> Document | None:
    text = read_text(path, label, problems)
    if text is None:
        return None
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        problems.append(
            Problem(label, "must start with a '---' line opening the front matter", line=1)
        )
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        problems.append(Problem(label, "front matter is not closed by a '---' line", line=1))
        return None
    try:
        node = yaml.compose("\n".join(lines[1:end]), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark else 1
        problems.append(
            Problem(label, f"invalid YAML front matter: {exc.problem or exc}", line=line)
        )
        return None
    if node is None:
        node = yaml.MappingNode("tag:yaml.org,2002:map", [])
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(label, "front matter must be 'key: value' lines", line=2))
        return None
    fields: dict[str, yaml.Node] = {}
    key_lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 2
        if key in fields:
            problems.append(Problem(label, "appears twice", line=line, field=key))
        fields[key] = value_node
        key_lines[key] = line
    return Document(path, label, fields, key_lines, "\n".join(lines[end + 1 :]), end + 2)


Reader = Callable[[yaml.Node], Any]


class FieldError(ValueError):
    """A field's value is of the wrong shape; the message says what is expected."""


class Fields:
    """Reads declared fields from a Document, collecting problems with their lines."""

    def __init__(self, doc: Document, schema: dict[str, Reader], problems: list[Problem]):
        self.doc, self.schema, self.problems = doc, schema, problems
        for key in doc.fields:
            if key not in schema:
                hint = difflib.get_close_matches(key, list(schema), n=1)
                tip = f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(schema)}"
                self.error(key, f"unknown key; {tip}")

    def error(self, key: str, message: str, line: int | None = None) -> None:
        line = line or self.doc.key_lines.get(key, 2)
        self.problems.append(Problem(self.doc.label, message, line=line, field=key))

    def get(self, key: str, default: Any = None, required: bool = False) -> Any:
        node = self.doc.fields.get(key)
        if node is None or (
            isinstance(node, yaml.ScalarNode) and node.value == "" and node.style is None
        ):
            if required:
                self.problems.append(Problem(self.doc.label, "is required", line=1, field=key))
            return default
        try:
            return self.schema[key](node)
        except FieldError as exc:
            self.error(key, str(exc), line=node.start_mark.line + 2)
            return default


def text(node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise FieldError("must be text on one line")
    value = str(node.value).strip()
    if "\n" in value:
        raise FieldError("must be on one line")
    return value


def integer(node: yaml.Node) -> int:
    value = text(node)
    if not value.isdigit():
        raise FieldError(f"must be a whole number, not '{value}'")
    return int(value)


def timestamp(node: yaml.Node) -> datetime:
    value = text(node)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(
            f"'{value}' is not an ISO 8601 date-time like 2025-06-03T07:00:00-04:00"
        ) from None
    if parsed.tzinfo is None:
        raise FieldError(f"'{value}' has no time zone; add an offset like -04:00 or Z")
    return parsed


def url(node: yaml.Node) -> str:
    value = text(node)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FieldError(f"'{value}' is not an absolute http(s) URL")
    return value


def text_list(node: yaml.Node) -> tuple[str, ...]:
    if isinstance(node, yaml.ScalarNode):
        return tuple(t.strip() for t in text(node).split(",") if t.strip())
    if not isinstance(node, yaml.SequenceNode):
        raise FieldError("must be a list like [trade, china]")
    return tuple(text(item) for item in node.value)


def mapping(
    node: yaml.Node, keys: Mapping[str, Reader], required: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise FieldError(f"must have the keys {', '.join(keys)}")
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in keys:
            hint = difflib.get_close_matches(key, list(keys), n=1)
            tip = f"; did you mean '{hint[0]}'?" if hint else ""
            raise FieldError(f"unknown key '{key}'{tip}")
        out[key] = keys[key](value_node)
    for key in required:
        if not out.get(key):
            raise FieldError(f"'{key}' is required")
    return out
