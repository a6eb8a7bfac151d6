"""The control-character rule as one regular expression equals the Unicode categories it names."""

from __future__ import annotations

import sys
import unicodedata

from briefing.errors import visible
from briefing.headers import control_problem, is_control


def test_the_ranges_are_exactly_the_categories_cc_zl_zp_cs() -> None:
    by_category = {
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Zl", "Zp", "Cs")
    }
    by_rule = {code for code in range(sys.maxunicode + 1) if is_control(chr(code))}
    assert by_rule == by_category


def test_a_problem_names_the_first_control_character_anywhere_in_a_long_text() -> None:
    text = "plain words " * 10_000 + "\x0c" + " and a \x1b later"
    assert control_problem(text) == (
        "contains the control character U+000C (form feed), not allowed here; remove it"
    )
    assert control_problem("plain words " * 10_000) is None


def test_visible_escapes_each_control_character_and_keeps_the_rest() -> None:
    assert visible("a\r\nerror: forged\x1b[31m é\u2028") == (
        "a\\r\\nerror: forged\\x1b[31m é\\u2028"
    )
    assert visible("no controls, ünïcode") == "no controls, ünïcode"
