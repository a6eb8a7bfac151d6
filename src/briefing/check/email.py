"""`check`'s rules for email clients and readers (issue 14), on the rendered HTML and the
theme's MJML, so a publisher's own theme gets the same protection as the default one.

Each rule yields (rule, message, line); check.py names the file. Figures behind them:
Outlook for Windows (Word's engine) takes widths from the MSO-only markup and pads only
table cells; Outlook.com recolours dark mode through [data-ogsc]/[data-ogsb]; a hidden
preheader without filler runs on into the body in the inbox preview; hidden text in a
low-contrast colour scores with SpamAssassin (HTML_FONT_LOW_CONTRAST).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from lxml import html as lxml_html
from lxml.html import HtmlElement

Found = tuple[str, str, int]  # rule, message, line (1 when the line is not known)

_MSO = re.compile(r"<!--\[if mso \| IE\]>(.*?)<!\[endif\]-->", re.DOTALL)
_PX = re.compile(r"^\s*(\d+(?:\.\d+)?)(?:px)?\s*$")
_UNITLESS_ZERO = re.compile(r'\bpadding="([^"]*)"')
FILLER = ("\u034f", "\u200c")  # combining grapheme joiner, zero-width non-joiner
FILLER_MIN = 20
TOUCH_MIN = 24  # px, WCAG 2.5.8 (AA); 44 is the comfortable size (2.5.5)
_LIGHT = re.compile(r"color:\s*(#fff\b|#ffffff\b|white\b)", re.IGNORECASE)


def style_of(element: HtmlElement) -> Mapping[str, str]:
    return _style(element.get("style") or "")


@functools.lru_cache(maxsize=1024)
def _style(text: str) -> Mapping[str, str]:
    """A style attribute's declarations, parsed once per distinct text: an inlined email
    repeats a few dozen of them over a thousand elements (preview checks each save)."""
    rules = (part.partition(":") for part in text.split(";"))
    found = {name.strip().lower(): value.strip() for name, _, value in rules if value.strip()}
    return MappingProxyType(found)  # shared by every caller: read-only


def _px(value: str | None) -> float | None:
    match = _PX.match(value or "")
    return float(match.group(1)) if match else None


def _sides(padding: str) -> tuple[float, float, float, float]:
    """A padding shorthand as (top, right, bottom, left) pixels (non-px values count 0)."""
    v = [_px(value) or 0.0 for value in padding.split()] or [0.0]
    top = v[0]
    right = v[1] if len(v) > 1 else top
    bottom = v[2] if len(v) > 2 else top
    left = v[3] if len(v) > 3 else right
    return top, right, bottom, left


def unitless_zeros(template: str) -> Iterator[Found]:
    """MJML paddings with a bare 0: mjml-python then sizes Outlook's markup as if there
    were no padding (a 600 px box inside a 544 px column)."""
    for number, line in enumerate(template.split("\n"), start=1):
        for match in _UNITLESS_ZERO.finditer(line):
            if "0" in match.group(1).split():
                yield (
                    "outlook-width",
                    f'padding="{match.group(1)}" has a unitless 0: mjml-python then'
                    " miscounts Outlook's widths; write 0px",
                    number,
                )


def outlook_widths(source: str) -> Iterator[Found]:
    """Every pixel width in the markup Outlook for Windows sees (MSO conditionals
    opened) that is wider than the content box of the element holding it."""
    opened = _MSO.sub(lambda m: m.group(1), source)
    tree = lxml_html.fromstring(opened)
    seen: set[str] = set()
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        width = _width(element)
        parent = element.getparent()
        if width is None or parent is None:
            continue
        box = _content_box(parent)
        if box is not None and width > box + 0.5:
            what = f"<{element.tag}> {width:.0f} px wide in a {box:.0f} px box"
            if what not in seen:
                seen.add(what)
                yield (
                    "outlook-width",
                    f"{what}: Outlook for Windows shows it sticking out of the column",
                    1,
                )


def _width(element: HtmlElement) -> float | None:
    from_style = _px(style_of(element).get("width"))
    return from_style if from_style is not None else _px(element.get("width"))


def _content_box(element: HtmlElement | None) -> float | None:
    """The width an element's children may fill: its own width (or its parent's box),
    less its horizontal padding."""
    if element is None:
        return None
    own = _width(element)
    box = own if own is not None else _content_box(element.getparent())
    if box is None:
        return None
    _, right, _, left = _sides(style_of(element).get("padding", "0"))
    return box - left - right


def images(tree: HtmlElement) -> Iterator[Found]:
    for img in tree.iter("img"):
        width, height = img.get("width"), img.get("height")
        if not (width and height and width.isdigit() and height.isdigit()):
            yield (
                "image-size",
                f"<img src='{img.get('src')}'> needs pixel width and height attributes"
                f" (has width={width!r} height={height!r}): Outlook shows it at its own"
                " size, pages jump as it loads",
                1,
            )


def headings(tree: HtmlElement) -> Iterator[Found]:
    count = sum(1 for _ in tree.iter("h1"))
    if count != 1:
        yield (
            "headings",
            f"{count} <h1> elements: the issue title should be the one <h1>,"
            " headlines <h2>, body headings below them",
            1,
        )


def outlook_indents(tree: HtmlElement) -> Iterator[Found]:
    for element in tree.iter("ul", "ol", "blockquote"):
        style = style_of(element)
        padding = _sides(style.get("padding", "0"))[3] + (_px(style.get("padding-left")) or 0)
        if padding > 0:
            yield (
                "outlook-indent",
                f"<{element.tag}> is indented with padding, which Outlook for Windows"
                " ignores; indent lists with margin and quotes with a table cell",
                1,
            )
            return


def dark_mode(source: str) -> Iterator[Found]:
    if "prefers-color-scheme" in source and not (
        "[data-ogsc]" in source and "[data-ogsb]" in source
    ):
        yield (
            "dark-mode",
            "dark-mode rules for prefers-color-scheme only: add [data-ogsc] (text) and"
            " [data-ogsb] (background) rules for Outlook.com and the Outlook apps",
            1,
        )


def preheader(tree: HtmlElement, text: str) -> Iterator[Found]:
    """The hidden preheader: present, followed by filler, in no colour of its own."""
    hidden = [
        e
        for e in tree.iter()
        if isinstance(e.tag, str) and style_of(e).get("display", "").startswith("none")
    ]
    for element in hidden:
        if _LIGHT.search(element.get("style") or ""):
            yield (
                "hidden-text",
                "hidden text in a light colour: spam filters score it"
                " (SpamAssassin HTML_FONT_LOW_CONTRAST); give it no colour",
                1,
            )
            break
    if not text:
        return
    holder = next((e for e in hidden if text in e.text_content()), None)
    if holder is None:
        yield ("preheader", "the preheader is not in the email as hidden text", 1)
    elif sum(holder.text_content().count(c) for c in FILLER) < FILLER_MIN:
        yield (
            "preheader",
            "no filler after the preheader: the inbox preview runs on into the body;"
            " follow it with &#847;&zwnj;&nbsp; repeated (the default theme's"
            " {{ preheader_filler }})",
            1,
        )


def touch_targets(tree: HtmlElement, unsubscribe: str) -> Iterator[Found]:
    """The unsubscribe link at least TOUCH_MIN px tall: inline-block with padding."""
    for link in tree.iter("a"):
        if link.get("href") != unsubscribe:
            continue
        style = style_of(link)
        height = _px(style.get("line-height")) or 16.0
        if style.get("display") in ("inline-block", "block"):
            top, _, bottom, _ = _sides(style.get("padding", "0"))
            height += top + bottom
        else:
            height = min(height, 16.0)  # an inline link is as tall as its text
        if height < TOUCH_MIN:
            yield (
                "touch-target",
                f"the unsubscribe link is about {height:.0f} px tall; make it at least"
                f" {TOUCH_MIN} (display:inline-block with padding, 44 px is comfortable)",
                1,
            )


def view_in_browser(tree: HtmlElement, url: str) -> Iterator[Found]:
    first = next(iter(tree.iter("a")), None)
    if first is None or first.get("href") != url:
        yield (
            "view-in-browser",
            "the email does not open with a link to its web page"
            " (readers whose client mangles it need one)",
            1,
        )
    elif "underline" not in style_of(first).get("text-decoration", "underline"):
        yield ("view-in-browser", "the link to the web page is not underlined", 1)


def email_rules(source: str, preheader_text: str, page_url: str, unsubscribe: str) -> list[Found]:
    """Every rule on one rendered email."""
    tree = lxml_html.fromstring(source)
    found = [*outlook_widths(source), *images(tree), *headings(tree), *outlook_indents(tree)]
    found += [*dark_mode(source), *preheader(tree, preheader_text)]
    found += [*touch_targets(tree, unsubscribe), *view_in_browser(tree, page_url)]
    return found


def page_rules(source: str) -> list[Found]:
    """The rules a web page must pass too: image sizes and one <h1>."""
    tree = lxml_html.fromstring(source)
    return [*images(tree), *headings(tree)]
