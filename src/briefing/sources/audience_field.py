"""The `audience:` field of issue.md, read into a briefing.segment.Segment.

audience:
  tags_any: [trade, china]     # at least one of
  tags_all: [paid]             # every one of
  tags_none: [paused]          # not one of
  fields:
    country: DE                # equals
    plan: [pro, team]          # one of
"""

from __future__ import annotations

import difflib

import yaml

from briefing.segment import FieldRule, Segment
from briefing.sources.frontmatter import FieldError, tags, text

_TAG_KEYS = ("tags_any", "tags_all", "tags_none")
_KEYS = (*_TAG_KEYS, "fields")


def audience(node: yaml.Node) -> Segment:
    if not isinstance(node, yaml.MappingNode):
        raise FieldError(f"must be a mapping with the keys {', '.join(_KEYS)}", node)
    found: dict[str, tuple[str, ...]] = {}
    rules: tuple[FieldRule, ...] = ()
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in _KEYS:
            hint = difflib.get_close_matches(key, _KEYS, n=1)
            tip = f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(_KEYS)}"
            raise FieldError(f"unknown key '{key}'; {tip}", key_node)
        if key == "fields":
            rules = _fields(value_node)
        else:
            found[key] = tags(value_node)
    segment = Segment(**found, fields=rules)
    if segment == Segment():
        raise FieldError("names no rule; remove it to send to everyone", node)
    return segment


def _fields(node: yaml.Node) -> tuple[FieldRule, ...]:
    if not isinstance(node, yaml.MappingNode):
        raise FieldError("fields must be 'name: value' or 'name: [values]' lines", node)
    rules = []
    for key_node, value_node in node.value:
        name = str(key_node.value)
        if not name.isidentifier():
            raise FieldError(f"'{name}' is not a field name", key_node)
        if isinstance(value_node, yaml.SequenceNode):
            values = tuple(text(item) for item in value_node.value)
        else:
            values = (text(value_node),)
        if not values or not all(values):
            raise FieldError(f"field '{name}' needs a value", key_node)
        rules.append(FieldRule(name, values))
    return tuple(rules)
