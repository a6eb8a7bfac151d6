"""What a Markdown source may hold: the raw-HTML and URL safety policy, in one place.

Raw HTML is allowed for small things (<sup>, <br>, <a href>) but anything that
runs or embeds content, and any MJML tag (content sits inside the email's
<mj-text>), is refused at load time with the file and line (`refusal`); so are
Markdown links and images whose URL could run script (`token_refusal`, for
bodies, the note, deks and key points). Rendering drops such a URL too
(`url_allowed`), for callers that render what the loader never saw.

URLs are judged as a browser reads them (`url_refusal`): entities decoded, tabs,
newlines and control characters dropped, then the scheme taken from an allow-list.
A merge field may not stand where the scheme is decided (`java{{ x }}script:`),
since `send` and the pages fill it in after this check.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from markdown_it.token import Token

from briefing.merge import PLACEHOLDER

_DANGEROUS = frozenset(
    {"script", "iframe", "object", "embed", "frame", "frameset", "style", "form", "base"}
    | {"meta", "link", "svg", "math", "applet", "template", "noscript", "portal"}
)
_DANGEROUS_TAG = re.compile(
    # Opening tags only: the closing tag of the same element is one problem, not two.
    r"<\s*(" + "|".join(sorted(_DANGEROUS)) + r")\b",
    re.IGNORECASE,
)
# Browsers separate attributes by whitespace, '/' or a closing quote: <img/onerror=…>.
_EVENT_HANDLER = re.compile(r"[\s/\"']on[a-z]+\s*=", re.IGNORECASE)
# Content is HTML inside <mj-text>: an MJML tag in it would close or open elements of
# the email's template (an injected button, a hidden footer).
_MJML_TAG = re.compile(r"<\s*/?\s*mj(?:ml\b|-)", re.IGNORECASE)
# Attributes a browser follows or loads as a URL (HTML, SVG, legacy IE).
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "cite", "longdesc"}
    | {"lowsrc", "dynsrc", "data", "codebase", "xlink:href", "ping", "manifest", "icon"}
    | {"profile", "usemap", "archive", "classid"}
)
_STYLE_SCRIPT = re.compile(r"expression\(|javascript:|vbscript:|-moz-binding|behavior:")
# WHATWG URL parsing drops tab and newline anywhere and C0 controls and spaces at the
# ends; we drop every control character and whitespace, so no spelling hides a scheme.
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060\ufeff]")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")
_SCHEMES = frozenset({"http", "https", "mailto", "tel", "sms", "ftp"})
_SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "livescript", "data"})
_IMAGE_DATA = re.compile(r"^data:image/(gif|png|jpeg|webp);")

REFUSED_HINT = "remove it (raw HTML that runs or embeds content is refused)"


def url_refusal(url: str) -> str | None:
    """Why a link or image URL (as written in HTML, entities and all) is refused, or None."""
    plain = _INVISIBLE.sub("", html.unescape(url)).lower()
    field = PLACEHOLDER.search(plain)
    if field and not _settled(plain[: field.start()]):
        return f"a merge field in the scheme of the URL '{url[:60]}'"
    match = _SCHEME.match(plain)
    if match is None or match.group(1) in _SCHEMES or _IMAGE_DATA.match(plain):
        return None
    scheme = match.group(1)
    if scheme in _SCRIPT_SCHEMES:
        return f"a script URL ('{scheme}:')"
    return f"a '{scheme}:' URL (links may be {', '.join(sorted(_SCHEMES))} or relative)"


def local_refusal(src: str) -> str | None:
    """Why an image src that must name a file beside the Markdown file is refused: one
    that a browser would read as a URL with a scheme (`javascript:x`, even if a file
    of that name exists), or None."""
    plain = _INVISIBLE.sub("", html.unescape(src)).lower()
    if _SCHEME.match(plain) or PLACEHOLDER.search(plain):
        return "is a URL, not the name of a file beside this file"
    return None


def _settled(prefix: str) -> bool:
    """Whether the start of a URL fixes its scheme, whatever follows (RFC 3986 3.1):
    a scheme and ':' are written, or a '/', '?' or '#' comes first (a relative URL)."""
    end = min((prefix.find(c) for c in ":/?#" if c in prefix), default=-1)
    return end >= 0 and (prefix[end] != ":" or _SCHEME.match(prefix) is not None)


def url_allowed(url: str) -> bool:
    """May this (normalised, entity-decoded) link or image URL become a link in the output?"""
    return url_refusal(url) is None


class _Tags(HTMLParser):
    """Every tag and attribute of a piece of HTML, attribute values entity-decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def refusal(fragment: str) -> str | None:
    """Why a piece of raw HTML is refused, or None when it may stay."""
    if match := _DANGEROUS_TAG.search(fragment):
        return f"raw <{match.group(1).lower()}> element"
    if _MJML_TAG.search(fragment):
        return "an MJML tag (<mj-…>) in content; write \\<mj-… to show it as text"
    if _unclosed(fragment):
        return "an unclosed HTML comment, or a <!…> or <?…> declaration"
    if _EVENT_HANDLER.search(fragment):
        return "raw HTML with an on*= event handler"
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    for tag, attrs in parser.tags:
        if tag in _DANGEROUS or tag == "mjml" or tag.startswith("mj-"):
            return f"raw <{tag}> element"
        for name, value in attrs:
            reason = _attribute_refusal(name, value or "")
            if reason:
                return f"raw HTML with {reason}"
    return None


def _attribute_refusal(name: str, value: str) -> str | None:
    if name.startswith("on"):
        return "an on*= event handler"
    if name == "srcset":
        for candidate in value.split(","):
            if reason := url_refusal(candidate.strip().split(" ")[0]):
                return reason
    elif name in _URL_ATTRIBUTES:
        return url_refusal(value)
    elif name == "style" and _STYLE_SCRIPT.search(_INVISIBLE.sub("", value).lower()):
        return "script in a style attribute"
    return None


def _unclosed(fragment: str) -> bool:
    """An open <!--, <![CDATA[, <!…> or <?…> would swallow the email template after the
    content; complete comments are the only ones allowed."""
    rest = _COMMENT.sub("", fragment)
    return "<!" in rest or "<?" in rest


def token_refusal(token: Token) -> str | None:
    """Why a parsed Markdown token is refused: raw HTML, or a link or image whose URL
    (entities already decoded by the parser) could run script."""
    if token.type in ("html_block", "html_inline"):
        return refusal(token.content)
    what = {"link_open": ("a link", "href"), "image": ("an image", "src")}.get(token.type)
    if what is None:
        return None
    reason = url_refusal(str(token.attrGet(what[1]) or ""))
    return f"{what[0]} with {reason}" if reason else None


def refused_html(text: str) -> str | None:
    """Why one line of inline Markdown (a dek, a key point) is refused, or None."""
    from briefing.render.markdown import parse_inline  # markdown imports this module

    if "<" not in text and "](" not in text:
        return None
    return next(filter(None, map(token_refusal, parse_inline(text))), None)
