"""Markdown → HTML for email, pages and feeds.

One markdown-it-py parser (CommonMark plus strikethrough) serves all outputs:
bodies are parsed once (`parse`) and the tokens rendered as often as needed,
relative for pages and absolute for email and feeds (`render_tokens`). Which raw
HTML and URLs are allowed is `html_policy`'s decision; the plain-text rendering is
in `plaintext`, and reading a body's links and problems in `scan`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from urllib.parse import urljoin

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from briefing.model import Markdown
from briefing.render.html_policy import url_allowed


class _Parser(MarkdownIt):
    """markdown-it asks validateLink whether a link or image URL may become one."""

    def validateLink(self, url: str) -> bool:
        return url_allowed(url)


@cache
def _parser() -> MarkdownIt:
    md = _Parser("commonmark", {"html": True})
    md.enable("strikethrough")
    md.add_render_rule("link_open", _absolute_link)
    md.add_render_rule("image", _absolute_image)
    return md


def _absolute(tokens: Sequence[Token], idx: int, attr: str, env: EnvType) -> Sequence[Token]:
    """The tokens with tokens[idx]'s URL made absolute, on a copy: parsed tokens are
    rendered more than once (relative for pages, absolute for email and feeds)."""
    value = tokens[idx].attrGet(attr)
    if not (isinstance(value, str) and env.get("base")):
        return tokens
    copy = tokens[idx].copy()
    copy.attrSet(attr, urljoin(env["base"], value))
    return [*tokens[:idx], copy, *tokens[idx + 1 :]]


def _absolute_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return self.renderToken(_absolute(tokens, idx, "href", env), idx, options, env)


def _absolute_image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return self.image(_absolute(tokens, idx, "src", env), idx, options, env)


def parse(markdown: Markdown | str) -> list[Token]:
    """Tokens to render as often as needed with `render_tokens` and `TextRenderer`."""
    text = markdown.text if isinstance(markdown, Markdown) else markdown
    tokens: list[Token] = _parser().parse(text)
    return tokens


def parse_inline(text: str) -> list[Token]:
    """One line of inline Markdown (a dek, a key point): its inline tokens."""
    tokens = _parser().parseInline(text)
    return (tokens[0].children or []) if tokens else []


def render_tokens(tokens: list[Token], base_url: str = "") -> str:
    """HTML; relative links and images resolve against base_url when it is given."""
    md = _parser()
    html: str = md.renderer.render(tokens, md.options, {"base": base_url})
    return html


def to_html(markdown: Markdown | str, base_url: str = "") -> str:
    """Render to HTML; relative links and images resolve against base_url."""
    return render_tokens(parse(markdown), base_url)


def inline_html(text: str) -> str:
    """Render one line of Markdown (a key point, a dek) without the <p> wrapper."""
    html: str = _parser().renderInline(text)
    return html


def walk(tokens: list[Token], first_line: int) -> Iterator[tuple[Token, int]]:
    """Every token with its file line; inline tokens count the line breaks before them."""
    for token in tokens:
        line = first_line + token.map[0] if token.map else first_line
        yield token, line
        for child in token.children or ():
            yield child, line
            if child.type in ("softbreak", "hardbreak"):
                line += 1
