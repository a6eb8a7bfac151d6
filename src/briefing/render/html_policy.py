"""What a Markdown source may hold: the raw-HTML and URL safety policy, in one place.

Raw HTML is allowed for small things (<sup>, <br>) but anything that runs or
embeds content is refused at load time, with the file and line (`refusal`).
Markdown links and images whose URL could run script are not made links at
all (`url_allowed`, which the parser consults for every link and image).
Every rule about which URLs are safe belongs here.
"""

from __future__ import annotations

import re

_DANGEROUS_TAG = re.compile(
    # Opening tags only: the closing tag of the same element is one problem, not two.
    r"<\s*(script|iframe|object|embed|frame|frameset|style|form|base|meta|link|svg|math)\b",
    re.IGNORECASE,
)
_EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
_SCRIPT_URL = re.compile(r"(?:java|vb)script\s*:|data\s*:\s*text/html", re.IGNORECASE)
# Markdown link and image URLs: the same rule as markdown-it's default validator.
_BAD_SCHEME = re.compile(r"^(vbscript|javascript|file|data):")
_IMAGE_DATA = re.compile(r"^data:image\/(gif|png|jpeg|webp);")

REFUSED_HINT = "remove it (raw HTML that runs or embeds content is refused)"


def url_allowed(url: str) -> bool:
    """May this (normalised, entity-decoded) link or image URL become a link in the output?"""
    url = url.strip().lower()
    return bool(_IMAGE_DATA.search(url)) if _BAD_SCHEME.search(url) else True


def refusal(html: str) -> str | None:
    """Why a piece of raw HTML is refused, or None when it may stay."""
    if match := _DANGEROUS_TAG.search(html):
        return f"raw <{match.group(1).lower()}> element"
    if _EVENT_HANDLER.search(html):
        return "raw HTML with an on*= event handler"
    if _SCRIPT_URL.search(html):
        return "raw HTML with a script URL"
    return None


def refused_html(text: str) -> str | None:
    """Why one line of inline Markdown (a dek, a key point) is refused, or None."""
    return refusal(text) if "<" in text or ":" in text else None
