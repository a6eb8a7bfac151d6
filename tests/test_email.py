"""Email HTML (both inliners) and the plain-text twin, checked on the example issues."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import html

from briefing.build import load
from briefing.config import load_config
from briefing.errors import RenderError
from briefing.render.context import views
from briefing.render.email import inline_css, mjml_to_html, render_email
from briefing.render.text import render_text
from briefing.render.theme import Theme
from briefing.sources import load_publication


def _emails(root: Path, inliner: str | None = None) -> dict[str, str]:
    publication = load(root)
    if inliner:
        toml = root / "briefing.toml"
        toml.write_text(
            toml.read_text().replace('inliner = "css-inline"', f'inliner = "{inliner}"')
        )
        publication = load_publication(load_config(root))
        assert publication.config.email.inliner == inliner
    theme = Theme.load(publication.config)
    return {v.issue.slug: render_email(publication, v, theme) for v in views(publication)}


@pytest.fixture(params=["css-inline", "premailer"])
def emails(request: pytest.FixtureRequest, example: Path) -> dict[str, str]:
    return _emails(example, request.param)


def _style(doc: html.HtmlElement, xpath: str) -> str:
    found = doc.xpath(xpath)
    assert found, xpath
    return str(found[0].get("style") or "")


def test_our_css_is_inlined(emails: dict[str, str]) -> None:
    for source in emails.values():
        doc = html.fromstring(source)
        # Quotes sit in a table cell: Outlook for Windows pads cells, not <blockquote>.
        quote = "//table[contains(@class,'quote')]//td"
        assert "border-left:" in _style(doc, quote).replace(" ", "")
        # (premailer writes a zero without its unit: harmless in CSS, unlike in MJML)
        assert re.search(r"padding:4px0(px)?4px16px", _style(doc, quote).replace(" ", ""))
        assert "font-size:30px" in _style(doc, "//h1").replace(" ", "")
        assert "font-size:28px" in _style(doc, "//h2").replace(" ", "")
        assert "font-size:22px" in _style(doc, "//h3").replace(" ", "")
        margin = _style(doc, "//td[contains(@class,'article-body')]//p").replace(" ", "")
        assert re.search(r"margin:0(px)?0(px)?16px", margin)
        # Lists indent with margin (Outlook ignores their padding).
        ul = _style(doc, "//td[contains(@class,'article-body')]//ul").replace(" ", "")
        assert re.search(r"margin:0(px)?0(px)?16px24px", ul)


def test_responsive_and_dark_mode_styles_survive_inlining(emails: dict[str, str]) -> None:
    for source in emails.values():
        doc = html.fromstring(source)
        styles = "\n".join(s.text_content() for s in doc.iter("style"))
        assert "@media only screen and (min-width:480px)" in styles  # MJML's columns
        assert "prefers-color-scheme: dark" in styles
        assert "background-color: #1e1e1e !important" in styles  # premailer must not strip it
        metas = {m.get("name"): m.get("content") for m in doc.iter("meta")}
        assert metas["color-scheme"] == "light dark"
        assert metas["viewport"] == "width=device-width, initial-scale=1"
        assert "fonts.googleapis" not in source
        assert "data-premailer" not in source


def test_preheader_is_the_first_thing_in_body(emails: dict[str, str], example: Path) -> None:
    publication = load(example)
    for slug, source in emails.items():
        issue = publication.issue(slug)
        assert issue is not None
        body = html.fromstring(source).find("body")
        assert body is not None
        assert body.text_content().strip().startswith(issue.preheader)
        (first,) = body.find_class("preheader")
        assert first.text_content().startswith(issue.preheader)
        assert "display:none" in (first.get("style") or "").replace(" ", "")
        # Filler after it, so the inbox preview stops there; no colour of its own.
        assert first.text_content().count("\u034f\u200c\u00a0") >= 50
        assert "color" not in (first.get("style") or "")


def test_lang_alt_and_absolute_urls(emails: dict[str, str]) -> None:
    for source in emails.values():
        doc = html.fromstring(source)
        assert doc.get("lang") == "en"
        for img in doc.iter("img"):
            assert img.get("alt") is not None
        for element in doc.iter():
            for attr in ("href", "src"):
                url = element.get(attr)
                if url is None or url == "{{ unsubscribe_url }}":
                    continue
                assert url.startswith(("https://", "mailto:")), url


def test_size_and_width(emails: dict[str, str]) -> None:
    for slug, source in emails.items():
        assert len(source.encode()) < 100_000, slug
        assert source.startswith("<!DOCTYPE html>")
        assert "max-width:600px" in source


def test_personal_fields_are_left_as_placeholders(emails: dict[str, str]) -> None:
    for source in emails.values():
        assert 'href="{{ unsubscribe_url }}"' in source
        assert "{{ name | reader }}" in source


def test_fixture_email_has_images_with_alt_and_absolute_src(fixture_pub: Path) -> None:
    source = _emails(fixture_pub)["first-light"]
    images = {img.get("src"): img.get("alt") for img in html.fromstring(source).iter("img")}
    base = "https://news.example.org/weekly/issues/first-light/"
    assert images == {
        base + "lamp.png": "The lighthouse lamp at dusk",
        base + "tower.png": "A sketch of the tower",
    }
    assert html.fromstring(source).get("lang") == "en-GB"


def test_mjml_adapter_reports_unknown_elements() -> None:
    from briefing.errors import RenderError

    with pytest.raises(RenderError, match="unknown element <mj-colum>"):
        mjml_to_html(
            "<mjml><mj-body><mj-section><mj-colum></mj-colum></mj-section></mj-body></mjml>", "t"
        )


def test_inliners_agree_on_what_they_inline() -> None:
    page = "<html><head><style>.x{color:red}</style></head><body><p class='a'>t</p></body></html>"
    for inliner in ("css-inline", "premailer"):
        result = html.fromstring(inline_css(page, ".a { color: blue; }", inliner))
        assert "blue" in (result.find(".//p").get("style") or ""), inliner
        assert ".x" in result.find(".//style").text_content(), inliner


# --- plain text ------------------------------------------------------------------------------


@pytest.fixture
def texts(example: Path) -> dict[str, str]:
    publication = load(example)
    theme = Theme.load(publication.config)
    return {v.issue.slug: render_text(publication, v, theme) for v in views(publication)}


def test_text_is_wrapped_at_72_columns(texts: dict[str, str]) -> None:
    for text in texts.values():
        long_lines = [ln for ln in text.split("\n") if len(ln) > 72 and "https://" not in ln]
        assert long_lines == []


def test_text_lists_links_and_the_unsubscribe_url(texts: dict[str, str]) -> None:
    text = texts["trump-xi-call"]
    assert "\nLinks\n[1] https://" in text
    assert "Unsubscribe: {{ unsubscribe_url }}" in text
    assert "Read on the web: https://briefing.example.com/issues/trump-xi-call/" in text
    assert "<" not in text.replace("<-", "")  # no HTML tags


def test_text_carries_every_part_of_the_article(texts: dict[str, str], example: Path) -> None:
    publication = load(example)
    issue = publication.issue("trump-xi-call")
    assert issue is not None
    text = " ".join(texts["trump-xi-call"].split())
    article = issue.articles[0]
    assert article.headline.upper() in text
    assert article.byline in text and article.dateline in text
    for point in article.key_points:
        assert f"{point.label}: {point.text}" in text
    assert "Conclusion:" in text
    assert "> “" in texts["trump-xi-call"]  # quotes stay quotes


@pytest.mark.parametrize(
    ("source", "line", "said"),
    [
        # A closing tag left out: named where it belongs (the tag met instead, written once).
        (
            "<mjml>\n<mj-body>\n<!-- <mj-section> -->\n<mj-section>\n<mj-column>\n"
            "<mj-divider />\n</mj-section>\n</mj-body>\n</mjml>\n",
            7,
            "<mj-column> opened on line 5 of the rendered MJML is not closed before"
            " </mj-section>; add </mj-column>",
        ),
        # The same, but </mj-section> is written twice: no line rather than a wrong one.
        (
            "<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-divider />\n</mj-column>\n"
            "</mj-section>\n<mj-section>\n<mj-column>\n</mj-section>\n</mj-body>\n</mjml>\n",
            None,
            "<mj-column> opened on line 9 of the rendered MJML is not closed before </mj-section>",
        ),
        # The document's end reached with an element open.
        (
            "<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-divider />\n</mj-column>\n"
            "</mj-section>\n</mj-body>\n",
            1,
            "<mjml> opened on line 1 of the rendered MJML is never closed; add </mjml>",
        ),
    ],
)
def test_an_element_left_open_is_named_though_mrml_gives_no_position(
    source: str, line: int | None, said: str
) -> None:
    with pytest.raises(RenderError) as caught:
        mjml_to_html(source, "email.mjml.j2", source)
    (problem,) = caught.value.problems
    assert problem.line == line and said in problem.message, problem
