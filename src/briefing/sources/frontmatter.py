"""Front matter: a YAML block between '---' lines at the top of a Markdown file.

We compose YAML into nodes and read each field by its declared kind instead of
letting PyYAML guess types: PyYAML is YAML 1.1, where `no` is False and `1.10`
is 1.1, so a title "No" or an edition "1.10" would silently change. Reading the
scalar's text keeps what the editor wrote, and every node knows its line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from briefing.errors import Problem
from briefing.headers import control_problem, describe, header_value_problem
from briefing.model import Image, KeyPoint
from briefing.project_files import read_text
from briefing.schema import IMAGE_FIELDS, KEY_POINT_FIELDS, Field, Kind


@dataclass(frozen=True)
class Document:
    """A source file split into its front matter nodes and its Markdown body."""

    path: Path
    label: str  # the path as shown in messages
    fields: dict[str, yaml.Node]
    key_lines: dict[str, int]
    body: str
    body_line: int  # 1-based file line where the body starts


def parse(
    path: Path, label: str, problems: list[Problem], tree: Path | None = None
) -> Document | None:
    """Read path (through the guarded reader, links kept within tree: by default its
    folder) and split it; None with the problems added when it cannot be read."""
    text = read_text(path, tree or path.parent, label, problems)
    if text is None:
        return None
    if not text.strip():
        problems.append(Problem(label, "is empty; it must start with '---' front matter"))
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
    node = _compose(lines[1:end], label, problems)
    if node is None:
        return None
    fields: dict[str, yaml.Node] = {}
    key_lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 2
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(Problem(label, "each key must be a plain name", line=line))
            continue
        key = str(key_node.value)
        if key in fields:
            problems.append(Problem(label, "appears twice", line=line, field=key))
        fields[key] = value_node
        key_lines[key] = line
    return Document(path, label, fields, key_lines, "\n".join(lines[end + 1 :]), end + 2)


# Front matter nests three deep (key_points → item → key); libyaml's composer
# recurses per level and crashes the process (SIGSEGV) somewhere between 20,000
# and 50,000 levels. Each level takes at least one character, so a source shorter
# than SHALLOW_CHARS is composed at once and its depth counted on the nodes; a
# longer one has its depth counted on the event stream first, which does not recurse.
MAX_DEPTH = 8
SHALLOW_CHARS = 4096


def _compose(lines: list[str], label: str, problems: list[Problem]) -> yaml.MappingNode | None:
    """The front matter's top mapping, or None with a located problem."""
    source = "\n".join(lines)
    try:
        deep = _too_deep_events(source) if len(source) > SHALLOW_CHARS else None
        node = None if deep else yaml.compose(source, Loader=_LOADER)
        if deep := deep or _too_deep_nodes(node):
            message = f"nested more than {MAX_DEPTH} levels deep; front matter needs 3"
            problems.append(Problem(label, message, line=deep[0] + 2))
            return None
    except yaml.MarkedYAMLError as exc:
        line, message = _explain(exc, lines)
        problems.append(Problem(label, f"invalid YAML front matter: {message}", line=line))
        return None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow raw
        where = getattr(exc, "position", None)
        line = source.count("\n", 0, where) + 2 if isinstance(where, int) else 2
        reason = str(getattr(exc, "reason", "")) or "unreadable"
        character = getattr(exc, "character", None)  # an int from libyaml, a str from PyYAML
        if isinstance(character, str) and len(character) == 1:
            character = ord(character)
        if isinstance(character, int):
            reason = f"the character {describe(chr(character))} is not allowed; remove it"
        problems.append(Problem(label, f"invalid YAML front matter: {reason}", line=line))
        return None
    if node is None:
        return yaml.MappingNode("tag:yaml.org,2002:map", [])
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(label, "front matter must be 'key: value' lines", line=2))
        return None
    return node


def _too_deep_events(source: str) -> tuple[int, int] | None:
    """Where (line, column from 0) the first collection nested deeper than MAX_DEPTH
    starts, from the events."""
    depth = 0
    for event in yaml.parse(source, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return _where(event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def _too_deep_nodes(node: yaml.Node | None) -> tuple[int, int] | None:
    """The same, on a composed (shallow enough) tree, in document order."""
    stack = [(node, 0)] if isinstance(node, yaml.CollectionNode) else []
    while stack:
        node, depth = stack.pop()
        if depth + 1 > MAX_DEPTH:
            return _where(node.start_mark)
        children: list[yaml.Node] = []
        for item in reversed(node.value):
            children += reversed(item) if isinstance(item, tuple) else [item]
        stack += [(c, depth + 1) for c in children if isinstance(c, yaml.CollectionNode)]
    return None


def _where(mark: Any) -> tuple[int, int]:
    return (mark.line, mark.column) if mark else (0, 0)


# libyaml's parser is about 10x faster than PyYAML's pure Python one and keeps line
# marks; the Base loader skips type resolution, which we do ourselves per field.
_LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_QUOTED_VALUE = re.compile(r"""^\s*(?:-\s+)?[\w-]+:\s*(["'])(.*)$""")
_HINTS = {
    "mapping values are not allowed": "check the indentation; a value containing ': '"
    " must be in quotes",
    "found character '\\t'": "indent with spaces, not tabs",
    "expected <block end>": "check the indentation, or a quote left open above",
    "did not find expected key": "check the indentation, or a quote left open above",
    "did not find expected '-' indicator": "check the indentation of the list",
    "could not find expected ':'": "each line needs 'key: value'; check quotes and indentation",
}


def _explain(exc: yaml.MarkedYAMLError, lines: list[str]) -> tuple[int, str]:
    """A file line and an editor's wording for a YAML error.

    An unclosed quote swallows the lines after it, so PyYAML complains further
    down; the line that opened the quote is the one to fix.
    """
    for number, text in enumerate(lines, start=2):
        match = _QUOTED_VALUE.match(text)
        if match and not _closes(match.group(2), match.group(1)):
            return number, f"the quote ({match.group(1)}) opened on this line is not closed"
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 2 if mark else 1
    problem = str(exc.problem or exc)
    hint = next((h for key, h in _HINTS.items() if key in problem), "")
    return line, f"{problem}; {hint}" if hint else problem


def _closes(rest: str, quote: str) -> bool:
    """Whether a quoted value closes on its line (escapes: \\" in "…", '' in '…')."""
    escapes = ("\\\\", '\\"') if quote == '"' else ("''",)
    for escape in escapes:
        rest = rest.replace(escape, "")
    return quote in rest


Reader = Callable[[yaml.Node], Any]


class FieldError(ValueError):
    """A field's value is of the wrong shape; the message says what is expected.

    node, when given, is the part of the value at fault (a nested key), for its line.
    """

    def __init__(self, message: str, node: yaml.Node | None = None) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 2 if node is not None else None


class Fields:
    """Reads a Document's front matter by its declared fields, collecting problems with lines."""

    def __init__(self, doc: Document, declared: tuple[Field, ...], problems: list[Problem]):
        self.doc, self.problems = doc, problems
        self.declared = {f.name: f for f in declared}
        self.suggested: set[str] = set()  # keys a typo was taken for: not also "required"
        for key in doc.fields:
            if key not in self.declared:
                hint = difflib.get_close_matches(key, list(self.declared), n=1)
                self.suggested.update(hint)
                tip = (
                    f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(self.declared)}"
                )
                self.error(key, f"unknown key; {tip}")

    def error(self, key: str, message: str, line: int | None = None) -> None:
        line = line or self.doc.key_lines.get(key, 2)
        self.problems.append(Problem(self.doc.label, message, line=line, field=key))

    def get(self, key: str) -> Any:
        """The field's value, or None when it is absent, empty or wrong (with a problem)."""
        field = self.declared[key]
        node = self.doc.fields.get(key)
        if node is None or (isinstance(node, yaml.ScalarNode) and node.value.strip() == ""):
            if field.required and key not in self.suggested:
                self.problems.append(
                    Problem(self.doc.label, f"is required; add a '{key}:' line", line=1, field=key)
                )
            return None
        try:
            value = READERS[field.kind](node)
            if field.header and (message := header_value_problem(value)):
                raise FieldError(message)
            return value
        except FieldError as exc:
            self.error(key, str(exc), line=exc.line or node.start_mark.line + 2)
            return None

    def values(self) -> dict[str, Any]:
        """Every declared field that has a good value, in declaration order."""
        read = {key: self.get(key) for key in self.declared}
        return {key: value for key, value in read.items() if value is not None}


def text(node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise FieldError("must be text on one line")
    value = str(node.value).strip()
    if "\n" in value:
        raise FieldError("must be on one line")
    # One rule for every one-line value: no control characters (briefing.headers).
    if message := control_problem(value):
        raise FieldError(message, node)
    return value


def integer(node: yaml.Node) -> int:
    value = text(node)
    # isdigit() alone accepts '²' and other digits int() refuses; 18 digits is plenty.
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
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
    try:  # 0001-01-01T00:00+01:00 is before the first moment a datetime can hold in UTC
        parsed.astimezone(UTC)
    except OverflowError:
        raise FieldError(f"'{value}' is out of range") from None
    return parsed


def url(node: yaml.Node) -> str:
    value = text(node)
    try:
        parts = urlsplit(value)
    except ValueError:  # a '[' or ']' outside an IPv6 host, a bad port
        raise FieldError(f"'{value}' is not a valid URL; check its host part") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FieldError(f"'{value}' is not an absolute http(s) URL")
    return value


def text_list(node: yaml.Node) -> tuple[str, ...]:
    if isinstance(node, yaml.ScalarNode):
        return tuple(t.strip() for t in text(node).split(",") if t.strip())
    if not isinstance(node, yaml.SequenceNode):
        raise FieldError("must be a list like [trade, china]")
    return tuple(text(item) for item in node.value)


def mapping(node: yaml.Node, declared: tuple[Field, ...]) -> dict[str, Any]:
    """A nested mapping such as an image, read by its declared fields."""
    keys = {f.name: f for f in declared}
    if not isinstance(node, yaml.MappingNode):
        raise FieldError(f"must have the keys {', '.join(keys)}", node)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in keys:
            hint = difflib.get_close_matches(key, list(keys), n=1)
            tip = f"; did you mean '{hint[0]}'?" if hint else ""
            raise FieldError(f"unknown key '{key}'{tip}", key_node)
        if key in out:
            raise FieldError(f"'{key}' appears twice", key_node)
        out[key] = READERS[keys[key].kind](value_node)
    for field in declared:
        if field.required and not out.get(field.name):
            raise FieldError(f"'{field.name}' is required", node)
        out.setdefault(field.name, "")  # an optional text left out: empty (check warns)
    return out


SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slug(node: yaml.Node) -> str:
    value = text(node)
    if not SLUG.match(value):
        raise FieldError(
            f"'{value}' is not a slug: use lowercase letters, digits and single hyphens"
        )
    return value


def tags(node: yaml.Node) -> tuple[str, ...]:
    found = text_list(node)
    for tag in found:
        if not SLUG.match(tag):
            raise FieldError(f"tag '{tag}' may only hold lowercase letters, digits and hyphens")
    return found


def key_points(node: yaml.Node) -> tuple[KeyPoint, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise FieldError("must be a list of '- label: …' / 'text: …' items")
    return tuple(KeyPoint(**mapping(item, KEY_POINT_FIELDS)) for item in node.value)


def image(node: yaml.Node) -> Image:
    return Image(**mapping(node, IMAGE_FIELDS))


def boolean(node: yaml.Node) -> bool:
    # Only the two YAML 1.2 spellings: `no`/`off` are YAML 1.1's and read as text elsewhere.
    value = text(node).lower()
    if value not in ("true", "false"):
        raise FieldError(f"must be true or false, not '{value}'")
    return value == "true"


def _audience(node: yaml.Node) -> Any:
    from briefing.sources.audience_field import audience  # it builds on this module's readers

    return audience(node)


READERS: dict[Kind, Reader] = {
    Kind.TEXT: text,
    Kind.INTEGER: integer,
    Kind.TIMESTAMP: timestamp,
    Kind.URL: url,
    Kind.SLUG: slug,
    Kind.TAGS: tags,
    Kind.KEY_POINTS: key_points,
    Kind.IMAGE: image,
    Kind.BOOLEAN: boolean,
    Kind.AUDIENCE: _audience,
}
