"""Subscriber tags: a set of words in each subscriber's `tags` field.

Kept as a field (briefing.segment.TAGS_FIELD), so a CSV import with a `tags`
column, the export and the sign-up form's fields all carry them without a
column of their own; segments read them with briefing.segment.tag_set.
"""

from __future__ import annotations

from collections.abc import Iterable

from briefing.audience.store import Store
from briefing.segment import TAGS_FIELD, join_tags, tag_set


def retag(
    store: Store, addresses: Iterable[str], add: Iterable[str], remove: Iterable[str]
) -> list[str]:
    """Add and remove tags of each address, in one transaction; returns the addresses
    not in the store."""
    added = {t.lower() for t in add}
    removed = {t.lower() for t in remove}
    missing = []
    with store.write():
        for address in addresses:
            member = store.get(address)
            if member is None:
                missing.append(address)
                continue
            tags = (tag_set(member.fields.get(TAGS_FIELD, "")) | added) - removed
            fields = {k: v for k, v in member.fields.items() if k != TAGS_FIELD}
            if tags:
                fields[TAGS_FIELD] = join_tags(tags)
            if fields != member.fields:
                store.set_details(member.email, member.name, fields)
    return missing
