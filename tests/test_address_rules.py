"""The address and field rules' fast paths give the verdicts the rules give one by one.

address_problem accepts the common address with one regular expression and
fields_problem all of a row's values with one scan; anything they do not accept
goes through the rules one by one, which say what is wrong. Hypothesis writes
addresses and rows from pieces near every edge of the rules (dots, hyphens, label
and local-part lengths, several @, control characters, non-ASCII, long values).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from briefing.audience import address as rules
from briefing.audience.address import address_problem, fields_problem
from briefing.headers import MAX_HEADER_OCTETS, header_value_problem

PIECES = [
    "a", "Z", "0", "9", "-", ".", "..", "@", "_", "+", "'", "!", "#", "$", "%", "&", "*",
    "/", "=", "?", "^", "`", "{", "|", "}", "~", " ", "\t", "\n", "\r", "\x00", "\x7f",
    "\x85", "\u2028", "\ud800", "é", "ß", "日本", "🙂", '"', "(", ")", ",", ":", ";", "<",
    ">", "[", "]", "\\", "ada", "example", "com", "x" * 61, "y" * 62, "z" * 63, "w" * 64,
    "xn--bcher-kva", "a-b", "-a", "a-", "1.2.3.4",
]  # fmt: skip

pieces = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
label = st.text("ab9-", min_size=0, max_size=65)
domain = st.lists(label, min_size=0, max_size=5).map(".".join)
local = st.one_of(pieces, st.text("ab.+_-'", min_size=0, max_size=70))
addresses = st.one_of(
    st.tuples(local, st.sampled_from(["@", "@@", "", "@a@"]), domain).map("".join),
    st.tuples(pieces, pieces).map("@".join),
    st.text(max_size=80),
    # Near the two lengths: 64 before the @, 254 in all.
    st.tuples(st.integers(60, 68), st.text("b.", min_size=1, max_size=250)).map(
        lambda parts: f"{'a' * parts[0]}@{parts[1]}.com"
    ),
    st.tuples(st.integers(58, 68), st.integers(248, 258)).map(
        lambda n: f"{'a' * n[0]}@{'b' * 63}.{'c' * 63}.{'d' * (n[1] - 133 - n[0])}.com"
    ),
)


def full_fields_problem(values: dict[str, str]) -> str | None:
    """fields_problem without its fast path: each value through the header-value rule."""
    for column, value in values.items():
        if problem := header_value_problem(value):
            return f"the '{column}' field {problem}"
    return None


@settings(max_examples=1000, deadline=None)
@given(addresses)
def test_the_one_expression_accepts_exactly_what_the_rules_accept(address: str) -> None:
    assert address_problem(address) == rules._address_rules(address)


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com\n",  # `$` matched before a final line feed: a header injection
        "ada\n@example.com",
        "ada@example\n.com",
        "a" * 65 + "@example.com",
        "a@" + "b." * 125 + "com",
        "a@b",
        "a@-b.com",
        "a..b@example.com",
        ".a@example.com",
        "a@b@example.com",
    ],
)
def test_refused_addresses_are_refused_with_a_reason(address: str) -> None:
    problem = address_problem(address)
    assert problem is not None and repr(address)[1:-1] in repr(problem)


@pytest.mark.parametrize(
    "address", ["ada@example.com", "a" * 64 + "@example.com", "a@" + "b." * 124 + "co"]
)
def test_edge_addresses_that_are_fine(address: str) -> None:
    assert len(address) <= 254
    assert address_problem(address) is None and rules._address_rules(address) is None


values = st.dictionaries(
    st.sampled_from(["email", "name", "city", "tier"]),
    st.one_of(
        pieces,
        st.text(max_size=40),
        st.text(min_size=200, max_size=950),
        st.text("aé日🙂", min_size=200, max_size=950),  # 1 to 4 bytes a character
    ),
    max_size=4,
)


@settings(max_examples=800, deadline=None)
@given(values)
def test_the_one_scan_of_a_row_gives_the_rules_verdict(row: dict[str, str]) -> None:
    assert fields_problem(row) == full_fields_problem(row)


def test_a_long_value_is_judged_in_bytes() -> None:
    limit = MAX_HEADER_OCTETS
    assert fields_problem({"name": "a" * limit}) is None
    assert "bytes long" in (fields_problem({"name": "é" * (limit // 2 + 1)}) or "")
    assert fields_problem({"name": "é" * (limit // 2), "city": "b" * limit}) is None
    assert "903 bytes" in (fields_problem({"name": "日" * (limit // 3 + 1)}) or "")
