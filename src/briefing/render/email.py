"""Email HTML: Jinja2 → MJML → mjml-python → inline our CSS.

Adapters for mjml-python, css-inline and premailer live here so their quirks
stay in one place (see DESIGN.md, "Library notes").
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

import css_inline
import mjml
from markupsafe import Markup

from briefing.errors import Problem, RenderError
from briefing.model import Publication
from briefing.render.context import IssueView
from briefing.render.theme import Theme, digest

TEMPLATE = "email.mjml.j2"
STYLESHEET = "email.css"
# After the preheader: invisible characters (combining grapheme joiner, zero-width
# non-joiner, no-break space) that fill the inbox preview, so it does not run on into
# the first words of the body. Templates write {{ preheader_filler }}.
PREHEADER_FILLER = Markup("&#847;&zwnj;&nbsp;" * 90)


def render_email(publication: Publication, view: IssueView, theme: Theme) -> str:
    config = publication.config
    source = theme.render(
        TEMPLATE,
        pub=config.publication,
        issue=view.issue,
        view=view,
        reason=config.email.reason.format(title=config.publication.title),
        postal_address=config.email.postal_address,
        preheader_filler=PREHEADER_FILLER,
    )
    html = mjml_to_html(source, theme.label(theme.path(TEMPLATE)), theme.read(TEMPLATE))
    html = inline_css(html, theme.read(STYLESHEET), config.email.inliner, theme)
    return main_landmark(html)


_PAGE = re.compile(r'(<div class="page".*</div>)(\s*</body>)', re.DOTALL)


def main_landmark(html: str) -> str:
    """Put the email (MJML's <div class="page" role="article">) in <div role="main">:
    MJML has no way to give it one, and screen readers (and axe) look for one main
    landmark holding the content."""
    return _PAGE.sub(r'<div role="main">\1</div>\2', html, count=1)


_POSITION = re.compile(r"at position (\d+)")
_LEFTOVER = re.compile(r"<(mj-[a-z-]+)")


def mjml_to_html(source: str, label: str, template: str = "") -> str:
    """Run mjml-python. Its errors are byte offsets in the rendered MJML; we name the
    line of the template (its text, when given) that produced the offending text."""
    try:
        # fonts={}: otherwise MRML links Google Fonts into every email.
        html: str = mjml.mjml2html(source, fonts={})
    except ValueError as exc:
        match = _POSITION.search(str(exc))
        if not match:
            # MRML gives no position for a stream that ends early (an element left open).
            message, line = _unclosed(source, template) or (
                f"{exc}; check that every <mj-…> element is closed and nested correctly",
                None,
            )
            raise RenderError(Problem(label, f"MJML error: {message}", line=line)) from None
        offset = int(match.group(1))
        rendered_line = source.encode("utf-8")[:offset].count(b"\n") + 1
        text = source.split("\n")[rendered_line - 1].strip()
        line = _template_line(template, text)
        where = "" if line else f" (line {rendered_line} of the rendered MJML: '{text[:60]}')"
        raise RenderError(Problem(label, f"MJML error{where}: {exc}", line=line)) from None
    # Unknown mj-* tags pass through MRML silently; a client would show them as junk.
    if leftover := _LEFTOVER.search(html):
        element = leftover.group(1)
        raise RenderError(
            Problem(
                label,
                f"MJML error: unknown element <{element}>; see the"
                " MJML documentation for the element names",
                line=_template_line(template, f"<{element}"),
            )
        )
    return html


# MJML's own tags; comments first, so a tag inside one is not counted.
_MJML_TAG = re.compile(r"<!--.*?-->|<(/?)(mjml|mj-[a-z-]+)\b[^>]*?(/?)>", re.DOTALL)


def _unclosed(source: str, template: str) -> tuple[str, int | None] | None:
    """The innermost MJML element left open in source, said as a problem message, and the
    template line where its closing tag belongs (that of the tag met instead of it, when
    the template has that line once)."""
    open_tags: list[tuple[str, int]] = []  # (name, offset)
    for tag in _MJML_TAG.finditer(source):
        closing, name, self_closing = tag.group(1), tag.group(2), tag.group(3)
        if name is None or self_closing:
            continue  # a comment, or <mj-… />
        if not closing:
            open_tags.append((name, tag.start()))
        elif open_tags and open_tags[-1][0] == name:
            open_tags.pop()
        elif any(opened == name for opened, _ in open_tags):
            left, at = open_tags[-1]
            where = _rendered_line(source, at)
            text = source[: tag.end()].rsplit("\n", 1)[-1].strip()
            return (
                f"<{left}> opened on line {where} of the rendered MJML is not closed"
                f" before </{name}>; add </{left}>",
                _template_line(template, text, only=True),
            )
    if open_tags:
        left, at = open_tags[-1]
        text = source[at:].split("\n", 1)[0].strip()
        return (
            f"<{left}> opened on line {_rendered_line(source, at)} of the rendered MJML"
            f" is never closed; add </{left}>",
            _template_line(template, text, only=True),
        )
    return None


def _rendered_line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _template_line(template: str, text: str, only: bool = False) -> int | None:
    """The first template line containing text; with only, that line if no other has
    it (a closing tag written many times, as </mj-section>, would name the wrong one)."""
    if not text:
        return None
    found = (n for n, line in enumerate(template.split("\n"), start=1) if text in line)
    first = next(found, None)
    return None if only and next(found, None) is not None else first


def inline_css(html: str, css: str, inliner: str, theme: Theme | None = None) -> str:
    """Inline css into html; a css-inline inliner is kept in theme's bounded cache."""
    if inliner == "premailer":
        return _premailer(html, css)
    if theme is None:
        engine = _css_inliner(css)
    else:
        engine = theme.cached(("css-inline", digest(css)), lambda: _css_inliner(css))
    result: str = engine.inline(html)
    return result


def _css_inliner(css: str) -> css_inline.CSSInliner:
    # Inline only our stylesheet; keep MJML's <style> blocks (responsive columns,
    # dark mode) as they are, and never fetch anything.
    return css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        keep_link_tags=True,
        load_remote_stylesheets=False,
        extra_css=css,
    )


_STYLE_TAG = re.compile(r"<style(?=[\s>])")
_ENCODED_FIELD = re.compile(r'="\{\{([^"{}]*)\}\}"')


def _premailer(html: str, css: str) -> str:
    from premailer import Premailer  # imported on demand: slow to import, rarely chosen

    # Mark MJML's own <style> blocks so premailer leaves them alone (it deletes the mark).
    marked = _STYLE_TAG.sub('<style data-premailer="ignore"', html)
    result: str = Premailer(
        marked,
        css_text=css,
        keep_style_tags=True,
        strip_important=False,
        allow_network=False,
        disable_validation=True,
        disable_link_rewrites=True,
        cssutils_logging_level=logging.CRITICAL,
        remove_unset_properties=False,
    ).transform()
    # lxml percent-encodes the spaces of {{ unsubscribe_url }} in href (premailer's own
    # preserve_handlebar_syntax only undoes %7B%7B); marks inside MSO conditional
    # comments are invisible to premailer. Undo both.
    result = _ENCODED_FIELD.sub(lambda m: '="{{' + unquote(m.group(1)) + '}}"', result)
    result = result.replace('<style data-premailer="ignore"', "<style")
    # lxml drops the doctype; without it clients render in quirks mode.
    return result if result.lstrip().lower().startswith("<!doctype") else "<!DOCTYPE html>" + result
