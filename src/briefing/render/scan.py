"""Reading a Markdown body without rendering it: where it points, and what it may not hold.

`references` lists links and images for `check`; `find_problems` is the loader's
one pass over a body: raw HTML the policy refuses, and the local images to find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from briefing.errors import Problem
from briefing.model import Markdown
from briefing.render.html_policy import REFUSED_HINT, token_refusal
from briefing.render.markdown import parse, walk


@dataclass(frozen=True)
class Reference:
    """A link or image in Markdown, with its text (or alt) and file line."""

    kind: str  # "link" or "image"
    url: str
    text: str
    line: int


def references(markdown: Markdown) -> list[Reference]:
    found: list[Reference] = []
    open_links: list[tuple[str, int, list[str]]] = []
    for token, line in walk(parse(markdown), markdown.first_line):
        if token.type == "image":
            found.append(Reference("image", str(token.attrGet("src") or ""), token.content, line))
        elif token.type == "link_open":
            open_links.append((str(token.attrGet("href") or ""), line, []))
        elif token.type in ("text", "code_inline") and open_links:
            open_links[-1][2].append(token.content)
        elif token.type == "link_close" and open_links:
            url, start, parts = open_links.pop()
            found.append(Reference("link", url, "".join(parts).strip(), start))
    return found


def find_problems(markdown: Markdown, label: str) -> tuple[list[Problem], list[tuple[str, int]]]:
    """Refused raw HTML and link URLs, and the local images used (src, file line)."""
    problems: list[Problem] = []
    images: list[tuple[str, int]] = []
    if not _MAY_REFUSE.search(markdown.text):
        return problems, images  # nothing the policy could refuse: spare the parse
    for token, line in walk(parse(markdown), markdown.first_line):
        if reason := token_refusal(token):
            problems.append(Problem(label, f"{reason}; {REFUSED_HINT}", line=line))
        elif token.type == "image":
            src = str(token.attrGet("src") or "")
            if not urlsplit(src).scheme and not src.startswith("/"):
                images.append((src, line))
    return problems, images


# What could hold something to refuse: raw HTML or an autolink ('<'), an image, or
# a link or reference definition whose URL does not plainly start http(s):// or
# mailto: (the common case, so most bodies are parsed once, for rendering, not twice).
_MAY_REFUSE = re.compile(r"<|!\[|\][(:]\s*+(?!https?://|mailto:)", re.IGNORECASE)
