"""Reading a Markdown body without rendering it: where it points, and what it may not hold.

`references` lists links and images for `check`; `find_problems` is the loader's
one pass over a body: raw HTML the policy refuses, and the local images to find.
"""

from __future__ import annotations

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
    if not any(mark in markdown.text for mark in _MAY_LINK):
        return problems, images  # no raw HTML, link or image: nothing to parse for
    for token, line in walk(parse(markdown), markdown.first_line):
        if reason := token_refusal(token):
            problems.append(Problem(label, f"{reason}; {REFUSED_HINT}", line=line))
        elif token.type == "image":
            src = str(token.attrGet("src") or "")
            if not urlsplit(src).scheme and not src.startswith("/"):
                images.append((src, line))
    return problems, images


# Raw HTML and autolinks start with '<', inline links with '](', reference definitions
# have ']:'; a body with none of them has nothing the policy could refuse.
_MAY_LINK = ("<", "](", "]:")
