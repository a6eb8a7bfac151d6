"""The compiled parse (render/pulldown.py) builds exactly the tokens markdown-it would.

Wherever the adapter answers (not None), its tokens must render to the same page
HTML, email HTML, web HTML (personal blocks left out), plain text, link list and
lines of links and images as markdown-it's own tokens for the same text. Checked on
the Markdown corpus and on seeded random documents made of the characters and line
starts where the two parsers could disagree; tests/test_markdown_corpus.py pins the
output itself.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from markdown_it.token import Token

from briefing.merge import personal_without_web
from briefing.render import pulldown
from briefing.render.markdown import (
    _parser,
    heading_shift,
    parse,
    render_tokens,
    walk,
    without_blocks,
)
from briefing.render.plaintext import TextRenderer

BASE = "https://example.com/issues/x/"
REPO = Path(__file__).resolve().parent.parent


def _outputs(tokens: list[Token]) -> list[str]:
    text = TextRenderer(72, BASE)
    lines = [
        (t.type, line, t.content if t.type in ("text", "image", "code_inline") else "", t.attrs)
        for t, line in walk(tokens, 1)
        if t.type != "inline" and not (t.type == "text" and not t.content)
    ]
    return [
        render_tokens(tokens),
        render_tokens(tokens, BASE, shift=heading_shift(tokens, 3), email=True),
        render_tokens(without_blocks(tokens, personal_without_web), BASE),
        text.render(tokens),
        repr(text.links),
        repr(lines),
    ]


def _differing(texts: list[str]) -> tuple[int, list[str]]:
    """How many texts the adapter parsed, and those whose outputs differ."""
    md, fast, differ = _parser(), 0, []
    for source in texts:
        tokens = pulldown.tokens(source, md.normalizeLink)
        if tokens is None:
            continue
        fast += 1
        if _outputs(tokens) != _outputs(md.parse(source)):
            differ.append(source)
    return fast, differ


def _corpus() -> list[str]:
    bench = str(REPO / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import md_corpus

    return [d.text for d in md_corpus.corpus(150, 1200) if not d.inline]


def test_the_corpus_parses_alike() -> None:
    fast, differ = _differing(_corpus())
    assert fast > 700
    assert differ == []


_PIECES = [
    *("a", "b c", " ", " ", "\n", "\n\n", "*", "**", "_", "__", "`", "[", "]", "(", ")"),
    *("![", "](", "](http://x.org/é", "](p.png", ' "t")', "#", "# ", "> ", "- ", "1. "),
    *("2) ", "+ ", "    ", "  ", "“", "”", "—", ".", "!", "'", '"', "{{ name }}", "日本"),
    *(
        "%",
        "---",
        "***",
        ":",
        "-",
        "\u00a0",
        "\t",
        "€",
        "、",
        "_a_",
        "*b*",
        "~",
        "&amp;",
        "&",
        "Q&A",
        "&#1;",
    ),
    *("<b>", "\\", "]: /u", "\r\n", "](http://x.org/?a=1&b=2"),
]
_STARTS = ["", "", " ", "   ", "    ", "> ", "> > ", "- ", "1. ", "10) ", "  - ", "# ", "***"]
_LINES = ["a", "*em* x", "**s**", "[l](http://a.org/)", "![i](p.png)", "`c`", "", "x  "]


@pytest.mark.parametrize("seed", [1, 2])
def test_random_documents_parse_alike(seed: int) -> None:
    rng = random.Random(seed)
    texts = ["".join(rng.choices(_PIECES, k=rng.randint(1, 40))) for _ in range(3000)]
    texts += [
        "\n".join(rng.choice(_STARTS) + rng.choice(_LINES) for _ in range(rng.randint(1, 10)))
        for _ in range(3000)
    ]
    fast, differ = _differing(texts)
    assert fast > 1500
    assert differ == []


def test_what_the_parsers_differ_on_goes_to_markdown_it() -> None:
    md = _parser()
    for source in [
        "<b>raw</b>",
        "a &amp; b",
        "a \\* b",
        "~one~",
        "[a]: /u\n\n[a]",
        "- a\n\n      code",
        "> > b\n    1. z",
        "a\u00a0\n",
        "[**a**!*](u)",
        "`a\nb`",
        "-\n\n\n- a",
    ]:
        assert pulldown.tokens(source, md.normalizeLink) is None, source
        assert parse(source) == md.parse(source)


def test_a_generated_body_takes_the_compiled_path() -> None:
    body = (
        "Read [the report](https://news.example.org/t/1) for the *full* figures.\n\n"
        "## Heading\n\n> “Quoted,” said an official.\n\n- **79%**: a point\n- two\n"
    )
    assert pulldown.tokens(body, _parser().normalizeLink) is not None


def test_a_script_link_is_still_a_link_for_the_loader() -> None:
    tokens = pulldown.tokens("[x](javascript:alert(1))", _parser().normalizeLink)
    assert tokens is not None
    links = [c for c in tokens[1].children or [] if c.type == "link_open"]
    assert [c.attrGet("href") for c in links] == ["javascript:alert(1)"]
