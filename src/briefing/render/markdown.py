"""Markdown → HTML for email, pages and feeds.

One markdown-it-py parser (CommonMark plus strikethrough) serves all outputs:
bodies are parsed once (`parse`; most through `pulldown`, which builds the same
tokens from a compiled parser) and the tokens rendered as often as needed,
relative for pages and absolute for email and feeds (`render_tokens`). Which raw
HTML and URLs are allowed is `html_policy`'s decision; the plain-text rendering is
in `plaintext`, and reading a body's links and problems in `scan`.

Rendering options travel in markdown-it's env: `base` (absolute URLs), `images`
(the size each local image is shown at, from `images`), `shift` (headings move down
below the issue title and the headlines) and `email` (quotes as table cells, which
Outlook for Windows pads; it ignores padding on <blockquote>).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from functools import cache, lru_cache
from urllib.parse import urljoin

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from briefing.merge import literal
from briefing.model import Markdown
from briefing.render import pulldown
from briefing.render.html_policy import url_allowed
from briefing.render.images import Shown

# Given an image's src as written, how an output shows it (None: not a local image).
ImageSizer = Callable[[str], Shown | None]


class _Parser(MarkdownIt):
    """Every link and image is parsed as one, whatever its URL, so that the loader
    refuses an unsafe one with its line (`scan`); rendering drops an unsafe URL."""

    def validateLink(self, url: str) -> bool:
        return True

    def normalizeLink(self, url: str) -> str:
        # A plain http(s) URL comes out of markdown-it's normalisation (parse, punycode,
        # percent-encode, format) as it went in: skip that, a tenth of parsing time.
        return url if _PLAIN_URL.match(url) else super().normalizeLink(url)


# Lower-case ASCII host, then only characters that percent-encoding keeps (no %, no @).
_PLAIN_URL = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:[/?#][\w/.~!$&'()*+,;=?#-]*)?\Z", re.ASCII
)


@cache
def _parser() -> MarkdownIt:
    md = _Parser("commonmark", {"html": True})
    md.enable("strikethrough")
    md.add_render_rule("link_open", _absolute_link)
    md.add_render_rule("image", _image)
    for rule in ("heading_open", "heading_close"):
        md.add_render_rule(rule, _heading)
    md.add_render_rule("blockquote_open", _quote_open)
    md.add_render_rule("blockquote_close", _quote_close)
    for rule in ("code_inline", "code_block", "fence"):
        md.add_render_rule(rule, _code)
    return md


def _code(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Code as markdown-it writes it, its {{ word }} literal: not a merge field."""
    default = getattr(RendererHTML, tokens[idx].type)
    return literal(default(self, tokens, idx, options, env), in_html=True)


def _absolute(tokens: Sequence[Token], idx: int, attr: str, env: EnvType) -> Sequence[Token]:
    """The tokens with tokens[idx]'s URL made absolute, on a copy: parsed tokens are
    rendered more than once (relative for pages, absolute for email and feeds)."""
    value = tokens[idx].attrGet(attr)
    safe = not isinstance(value, str) or url_allowed(value)
    if safe and not (isinstance(value, str) and env.get("base")):
        return tokens
    copy = tokens[idx].copy(attrs=dict(tokens[idx].attrs))  # copy() shares attrs
    if not safe:  # the loader refuses it; anything else rendering it gets no URL
        copy.attrs.pop(attr, None)
    else:
        copy.attrSet(attr, _join(env["base"], str(value)))
    return [*tokens[:idx], copy, *tokens[idx + 1 :]]


def _absolute_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """<a> with its URL made absolute, or without it when unsafe; written here rather
    than through a copied token (copying was a third of rendering a body)."""
    token = tokens[idx]
    href = token.attrGet("href")
    if not isinstance(href, str) or (url_allowed(href) and not env.get("base")):
        return self.renderToken(tokens, idx, options, env)
    attrs = dict(token.attrs)
    if not url_allowed(href):  # the loader refuses it; anything else rendering it gets no URL
        del attrs["href"]
    else:
        attrs["href"] = _join(env["base"], href)
    # As renderToken writes an inline opening tag.
    written = (f' {escapeHtml(k)}="{escapeHtml(str(v))}"' for k, v in attrs.items())
    return "<a" + "".join(written) + ">"


# Each link is made absolute for the email and again for the feeds.
_join = lru_cache(maxsize=4096)(urljoin)


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """A local image with its width and height, and the src its output shows."""
    src = str(tokens[idx].attrGet("src") or "")
    if not url_allowed(src):
        return escapeHtml(tokens[idx].content)  # its alt text, as the text part shows it
    sizer = env.get("images")
    shown = sizer(src) if sizer else None
    if shown is None:
        return self.image(_absolute(tokens, idx, "src", env), idx, options, env)
    copy = tokens[idx].copy(attrs=dict(tokens[idx].attrs))
    copy.attrSet("src", shown.src)
    copy.attrSet("width", str(shown.width))
    copy.attrSet("height", str(shown.height))
    return self.image([*tokens[:idx], copy, *tokens[idx + 1 :]], idx, options, env)


def _heading(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    shift = int(env.get("shift", 0))
    if not shift:
        return self.renderToken(tokens, idx, options, env)
    level = min(6, int(tokens[idx].tag[1]) + shift)
    # The tag name is the first thing renderToken writes (after "\n", "<" or "</").
    return self.renderToken(tokens, idx, options, env).replace(tokens[idx].tag, f"h{level}", 1)


def _quote_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tag = self.renderToken(tokens, idx, options, env)
    if not env.get("email"):
        return tag
    return (
        '<table role="presentation" class="quote" cellpadding="0" cellspacing="0" border="0">'
        "<tr><td>" + tag
    )


def _quote_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tag = self.renderToken(tokens, idx, options, env)
    return tag + "</td></tr></table>\n" if env.get("email") else tag


def base_free(tokens: list[Token], base_url: str) -> bool:
    """Whether tokens render the same against base_url as relative, at any image size:
    no image, and every link's URL already absolute (or refused, so dropped in both)."""
    for token in tokens:
        for child in token.children or ():
            if child.type == "image":
                return False
            if child.type == "link_open":
                href = child.attrGet("href")
                if isinstance(href, str) and url_allowed(href) and _join(base_url, href) != href:
                    return False
    return True


def heading_shift(tokens: list[Token], top: int) -> int:
    """How far to move headings down so the highest one becomes <h{top}>."""
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    return max(0, top - min(levels)) if levels else 0


def parse(markdown: Markdown | str) -> list[Token]:
    """Tokens to render as often as needed with `render_tokens` and `TextRenderer`."""
    text = markdown.text if isinstance(markdown, Markdown) else markdown
    md = _parser()
    fast = pulldown.tokens(text, md.normalizeLink)
    if fast is not None:
        return fast
    tokens: list[Token] = md.parse(text)
    return tokens


# What can start inline Markdown (backslash escapes, code, strikethrough, emphasis,
# links, images, autolinks, raw HTML, entities, line breaks) or be normalised (CR,
# NUL). A line without any is one text token: most deks and key points are.
_INLINE_SYNTAX = re.compile(r"[\\`~*_\[<&\n\r\0]|!\[")


# Each one-line field is read by the loader's policy, by the page's, email's and
# feeds' HTML and by the text part: parse it once (the tokens are only read).
@lru_cache(maxsize=4096)
def _inline_tokens(text: str) -> tuple[Token, ...]:
    if not _INLINE_SYNTAX.search(text):
        return (Token("text", "", 0, content=text),) if text else ()
    tokens = _parser().parseInline(text)
    return tuple(tokens[0].children or []) if tokens else ()


def parse_inline(text: str) -> list[Token]:
    """One line of inline Markdown (a dek, a key point): its inline tokens."""
    return list(_inline_tokens(text))


def render_tokens(
    tokens: list[Token],
    base_url: str = "",
    *,
    images: ImageSizer | None = None,
    shift: int = 0,
    email: bool = False,
) -> str:
    """HTML; relative links and images resolve against base_url when it is given;
    images says the src and size of each local image; headings move down by shift."""
    md = _parser()
    env = {"base": base_url, "images": images, "shift": shift, "email": email}
    html: str = md.renderer.render(tokens, md.options, env)
    return html


def to_html(markdown: Markdown | str, base_url: str = "") -> str:
    """Render to HTML; relative links and images resolve against base_url."""
    return render_tokens(parse(markdown), base_url)


@lru_cache(maxsize=4096)
def inline_html(text: str) -> str:
    """Render one line of Markdown (a key point, a dek) without the <p> wrapper."""
    md = _parser()
    line = Token("inline", "", 0, children=parse_inline(text))  # as renderInline(text) parses
    html: str = md.renderer.render([line], md.options, {})
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


_DROPPABLE = ("paragraph_open", "heading_open", "list_item_open")


def without_blocks(tokens: list[Token], drop: Callable[[str], bool]) -> list[Token]:
    """The tokens less every paragraph, heading and list item whose text drop() refuses
    (pages and feeds leave out blocks with per-recipient merge fields)."""
    kept: list[Token] = []
    i = 0
    while i < len(tokens):
        if tokens[i].type in _DROPPABLE:
            close = matching_close(tokens, i)
            inline = (_text(t) for t in tokens[i:close] if t.type == "inline")
            if any(drop(text) for text in inline):
                i = close + 1
                continue
        kept.append(tokens[i])
        i += 1
    return kept


def _text(inline: Token) -> str:
    """An inline token's text, less its code spans (whose {{ word }} is literal)."""
    return "".join(c.content for c in inline.children or () if c.type != "code_inline")


def matching_close(tokens: list[Token], open_index: int) -> int:
    """The index of the token closing the one at open_index (nesting counted)."""
    depth = 0
    for j in range(open_index, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1
