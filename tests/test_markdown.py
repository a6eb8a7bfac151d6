"""Markdown rendering: absolute URLs in HTML, and the plain-text renderer."""

from __future__ import annotations

from pathlib import Path

from briefing.model import Markdown
from briefing.render.html_policy import refused_html, url_allowed
from briefing.render.markdown import base_free, parse, render_tokens, to_html
from briefing.render.plaintext import TextRenderer
from briefing.render.scan import find_problems


def test_relative_links_and_images_become_absolute() -> None:
    html = to_html("[a](../x/) [b](https://other.net/) ![c](pic.png)", "https://e.com/issues/s/")
    assert 'href="https://e.com/issues/x/"' in html
    assert 'href="https://other.net/"' in html
    assert 'src="https://e.com/issues/s/pic.png"' in html


def test_markdown_links_with_script_urls_are_not_links() -> None:
    assert "href" not in to_html("[x](javascript:alert(1))")


def test_refused_html_is_found_with_its_line() -> None:
    source = Markdown(
        'Fine <sup>1</sup>.\n\n<div onclick="x()">no</div>\n\nok <script>', Path("a.md"), 10
    )
    problems, images = find_problems(source, "a.md")
    assert [(p.line, p.message.split(";")[0]) for p in problems] == [
        (12, "raw HTML with an on*= event handler"),
        (14, "raw <script> element"),
    ]
    assert images == []


def test_local_images_are_listed_with_lines() -> None:
    source = Markdown("text\n\n![a](one.png)\n\n![b](https://x.org/two.png)", Path("a.md"), 5)
    assert find_problems(source, "a.md")[1] == [("one.png", 7)]


def test_text_renderer_wraps_quotes_lists_and_numbers_links() -> None:
    renderer = TextRenderer(30, "https://e.com/i/")
    text = renderer.render(
        "## Title\n\nA [link](a/) and [again](a/) and [other](https://o.org).\n\n"
        "> A quote long enough to wrap twice over.\n\n- item one is long enough to wrap\n- two\n"
    )
    assert text == (
        "Title\n=====\n\n"
        "A link [1] and again [1] and\nother [2].\n\n"
        "> A quote long enough to wrap\n> twice over.\n\n"
        "- item one is long enough to\n  wrap\n- two"
    )
    assert renderer.links == ["https://e.com/i/a/", "https://o.org"]


def test_url_policy_refuses_script_and_file_urls_but_not_inline_images() -> None:
    assert url_allowed("https://e.com/a") and url_allowed("../x/") and url_allowed("mailto:a@b.c")
    assert url_allowed("data:image/png;base64,AAAA")
    for url in ("javascript:alert(1)", " JavaScript:x", "vbscript:x", "file:///etc/passwd"):
        assert not url_allowed(url), url
    assert not url_allowed("data:text/html,<script>")
    # The parser asks the policy: a refused URL leaves the text, not a link or image.
    html = to_html("[f](file:///etc/passwd) ![i](data:text/html,x) [ok](https://e.com/)")
    assert html.count("href=") == 1 and "<img" not in html


def test_refused_html_in_one_line_fields() -> None:
    assert refused_html("A <sup>1</sup> dek") is None
    assert refused_html("see <iframe src=x>") == "raw <iframe> element"
    assert refused_html("<b onmouseover=x>hi</b>") == "raw HTML with an on*= event handler"
    assert (
        refused_html('<a href="javascript:go()">x</a>')
        == "raw HTML with a script URL ('javascript:')"
    )
    other = refused_html('<a href="file:///etc/passwd">x</a>')
    assert other and other.startswith("raw HTML with a 'file:' URL")


class _CountedUrl(str):
    """A URL that counts how often it is compared: numbering must not scan the list."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _CountedUrl.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_link_numbering_is_linear_in_the_number_of_links() -> None:
    renderer = TextRenderer()
    urls = [_CountedUrl(f"https://e.com/{n}") for n in range(4000)]
    _CountedUrl.compared = 0
    numbers = [renderer.link_number(u) for u in urls + urls[::-1]]
    assert numbers == list(range(1, 4001)) + list(range(4000, 0, -1))
    assert _CountedUrl.compared < 10 * len(urls)  # a list scan makes it ~8 million


def test_forty_thousand_links_are_numbered_in_order_with_repeats() -> None:
    renderer = TextRenderer(72, "https://e.com/i/")
    hrefs = [h for n in range(20000) for h in (f"x/{n}/", f"https://o.org/{n}")]
    numbers = [renderer.link_number(h) for h in [*hrefs, "../i/x/7/", "https://o.org/0"]]
    assert numbers == [*range(1, 40001), 15, 2]
    assert renderer.links[:3] == ["https://e.com/i/x/0/", "https://o.org/0", "https://e.com/i/x/1/"]
    assert renderer.inline("[a](x/3/) and [b](https://new.org/)") == "a [7] and b [40001]"


def test_script_links_are_found_without_raw_html_or_images() -> None:
    source = Markdown(
        "[a](https://e.com/) [b](mailto:x@e.com)\n\n[c]( javascript:go())\n\n"
        "[d][ref]\n\n[ref]: &#106;avascript:go()\n",
        Path("a.md"),
        1,
    )
    problems, _ = find_problems(source, "a.md")
    assert [(p.line, p.message.split(";")[0]) for p in problems] == [
        (3, "a link with a script URL ('javascript:')"),
        (5, "a link with a script URL ('javascript:')"),
    ]
    plain = Markdown("Only [safe](https://e.com/) and [mail](MAILTO:x@e.com).", Path("a.md"), 1)
    assert find_problems(plain, "a.md") == ([], [])


def test_base_free_bodies_are_those_the_base_url_leaves_alone() -> None:
    base = "https://example.com/issues/x/"
    free = parse("[a](https://example.org/a) and [m](mailto:x@example.org) [js](javascript:x)")
    assert base_free(free, base)
    assert render_tokens(free, base) == render_tokens(free)
    for body in ("[a](../b/)", "![i](https://example.org/i.png)", "[a](#top)"):
        assert not base_free(parse(body), base), body
