"""Hostile content: script URLs however spelled, MJML tags in content, huge articles.

The spellings are written from the OWASP XSS filter-evasion cheat sheet: entities
with and without semicolons, padded and hex, tabs and newlines inside the scheme,
control characters in front, mixed case, and merge fields splitting the word.
"""

from __future__ import annotations

import html
import quopri
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from briefing.build import build
from briefing.errors import ContentError
from briefing.importer import import_article, write_article
from briefing.render.html_policy import refusal, refused_html, url_allowed, url_refusal
from briefing.render.markdown import inline_html, to_html
from briefing.send.message import EncodedBody

ARTICLE = "issues/2025-01-07-first-light/01-the-lamp.md"
NOTE = "issues/2025-01-07-first-light/issue.md"


def _entities(text: str, form: str) -> str:
    return "".join(form.format(ord(c)) for c in text)


# Each runs alert(1) in some browser if it reaches an href or src unchanged.
HOSTILE = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "javascript&colon;alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript:alert(1)",
    _entities("javascript:", "&#{};") + "alert(1)",
    _entities("javascript:", "&#{}") + "alert(1)",  # no semicolons
    _entities("javascript:", "&#0000{}") + "alert(1)",  # zero-padded
    "".join(f"&#x{ord(c):x}" for c in "javascript") + ":alert(1)",  # hex, no semicolons
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "jav&#x0A;ascript:alert(1)",
    "jav&#x0D;ascript:alert(1)",
    "java&Tab;script:alert(1)",
    "java&NewLine;script:alert(1)",
    "&#14; javascript:alert(1)",
    "&#1;javascript:alert(1)",
    "javascript&#58;alert(1)",
    "javascript&#x3a;alert(1)",
    "javascript&#X3A;alert(1)",
    "javascript&#0058alert(1)",
    "&#x6a;ava&#x73;cript&colon;alert(1)",
    "vbscript:msgbox(1)",
    "VBScript&colon;msgbox(1)",
    "livescript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;",
    "DaTa&colon;text/html,x",
    "java{{ x }}script:alert(1)",
    "javascript{{x}}:alert(1)",
    "{{ link | javascript:alert(1) }}",
    "{{ link }}",
]

# Other attributes and shapes the same payload hides in.
HOSTILE_TAGS = [
    '<img src="x" srcset="javascript&colon;alert(1) 2x">',
    "<button formaction=javascript:alert(1)>go</button>",
    "<img/onerror=alert(1) src=x>",
    '<a title="x"onclick="alert(1)">x</a>',
    '<div style="background:url(&#106;avascript:alert(1))">x</div>',
    '<div style="width: expr&#x65;ssion(alert(1))">x</div>',
    "<a href=javascript&colon;alert(1)>unquoted</a>",
    "<a href='java&#x09;script:alert(1)'>single</a>",
    "<SVG onload=alert(1)>",
    "<table background=javascript:alert(1)>",
]

BENIGN = [
    "https://example.net/a?b=1&amp;c=2",
    "http://example.net",
    "mailto:editor@example.net",
    "tel:+15551234",
    "/archive/",
    "../x/",
    "#section",
    "?q=javascript:alert(1)",
    "page.html#javascript:alert(1)",
    "https://example.net/?u={{ email }}",
    "/u/{{ id | me }}",
    "data:image/png;base64,AAAA",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_refused_in_raw_html(url: str) -> None:
    attribute = url.replace('"', "&quot;")
    assert url_refusal(url), url
    assert refusal(f'<a href="{attribute}">x</a>'), url
    assert refusal(f'<img src="{attribute}" alt="">'), url
    assert refused_html(f'A dek with <a href="{attribute}">a link</a>.'), url


@pytest.mark.parametrize("tag", HOSTILE_TAGS)
def test_hostile_attributes_are_refused(tag: str) -> None:
    assert refusal(tag), tag


@pytest.mark.parametrize("url", BENIGN)
def test_ordinary_urls_stay_allowed(url: str) -> None:
    assert url_allowed(url), url
    assert refusal(f'<a href="{url}">x</a>') is None


def _script_href(rendered: str) -> bool:
    """Whether any href or src would run script, read as a browser reads it."""
    for value in re.findall(r'(?:href|src)="([^"]*)"', rendered):
        plain = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
        if re.match(r"(javascript|vbscript|livescript|data):", plain):
            return True
    return False


# A Markdown link destination in <…> may not hold a line break, '<' or '>'.
MARKDOWN_SPELLINGS = [u for u in HOSTILE if not re.search(r"[\n\r<>]", u)]


@pytest.mark.parametrize("url", MARKDOWN_SPELLINGS)
def test_markdown_links_and_images_with_hostile_urls_are_never_script_links(url: str) -> None:
    for source in (f"[x](<{url}>)", f"![x](<{url}>)", f"[x]: <{url}>\n\n[x]"):
        assert not _script_href(to_html(source)), source
        assert not _script_href(inline_html(source)), source


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _problems(root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        build(root, jobs=1)
    assert not (root / "site").exists()
    return [str(p) for p in caught.value.problems]


def test_script_links_are_refused_at_load_with_file_and_line(fixture_pub: Path) -> None:
    article, note = fixture_pub / ARTICLE, fixture_pub / NOTE
    _replace(
        article, '"A lighthouse keeper,', '"A <a href=\\"javascript&colon;alert(1)\\">keeper</a>,'
    )
    _replace(article, "text: The bulb has burned", 'text: <a href="&#106;avascript:x()">The</a>')
    _replace(article, "Nothing changed", '<a href="java{{ x }}script:alert(1)">Nothing</a>')
    _replace(note, "Hello {{ name", '<a href="java\tscript:alert(1)">Hi</a> {{ name')
    problems = _problems(fixture_pub)
    assert f"{ARTICLE}:8: dek: raw HTML with a script URL ('javascript:')" in problems[1]
    assert any(p.startswith(f"{ARTICLE}:10: key_points: raw HTML with a script") for p in problems)
    assert any(p.startswith(f"{ARTICLE}:36: raw HTML with a merge field") for p in problems)
    assert any(p.startswith(f"{NOTE}:9: raw HTML with a script URL") for p in problems)


def test_markdown_links_and_images_with_script_urls_are_refused_at_load(
    fixture_pub: Path,
) -> None:
    article = fixture_pub / ARTICLE
    lines = [f"- [x](<{u}>) and ![i](<{u}>)" for u in MARKDOWN_SPELLINGS]
    _replace(article, "Nothing changed, and", "\n".join(lines) + "\n\nNothing changed, and")
    refused = {p.split(":")[1] for p in _problems(fixture_pub) if "a link with" in p}
    refused_images = {p.split(":")[1] for p in _problems(fixture_pub) if "an image with" in p}
    # Those whose URL, as the parser decodes it, is a script URL (the rest: %09, %7B…).
    loads = [not refused_html(f"[x](<{u}>)") for u in MARKDOWN_SPELLINGS]
    expected = {str(36 + n) for n, ok in enumerate(loads) if not ok}
    assert refused == refused_images == expected
    assert len(expected) >= 20


MJML_BUTTON = (
    '</mj-text></mj-column></mj-section><mj-button href="https://evil.example/">'
    "Verify account</mj-button><mj-section><mj-column><mj-text>"
)


def test_content_cannot_close_or_open_mjml_elements(fixture_pub: Path) -> None:
    article = fixture_pub / ARTICLE
    _replace(article, "Nothing changed, and", f"{MJML_BUTTON}Nothing changed, and")
    _replace(article, "text: The bulb has burned", "text: </mj-text><mj-raw>x</mj-raw> The bulb")
    problems = _problems(fixture_pub)
    assert any(p.startswith(f"{ARTICLE}:36: an MJML tag (<mj-…>) in content") for p in problems)
    assert any(p.startswith(f"{ARTICLE}:10: key_points: an MJML tag") for p in problems)


def test_mjml_tags_written_as_text_stay_text(fixture_pub: Path) -> None:
    article = fixture_pub / ARTICLE
    shown = "`</mj-text><mj-button>Verify account</mj-button>` and \\<mj-button>"
    _replace(article, "Nothing changed, and", f"{shown} Nothing changed, and")
    build(fixture_pub, jobs=1)
    email = (fixture_pub / "site/issues/first-light/email.html").read_text()
    assert "&lt;/mj-text&gt;&lt;mj-button&gt;Verify account" in email
    assert "<mj-" not in email and email.count("Verify account") == 1


def test_an_unclosed_comment_cannot_swallow_the_email_footer(fixture_pub: Path) -> None:
    article = fixture_pub / ARTICLE
    _replace(
        article, "Nothing changed, and", "<!-- hide the unsubscribe link\n\nNothing changed, and"
    )
    problems = _problems(fixture_pub)
    assert any(p.startswith(f"{ARTICLE}:36: an unclosed HTML comment") for p in problems)


# --- In a real browser: clicking every link the build made runs no script -------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    with api.sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        yield instance
        instance.close()


def _loopback_only(route: Any) -> None:
    host = urlsplit(route.request.url).hostname
    if route.request.url.startswith(("file:", "about:", "data:")) or host in LOOPBACK:
        route.continue_()
    else:
        route.abort()


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _dismiss(dialog: Any, seen: list[str]) -> None:
    seen.append(dialog.message)
    dialog.dismiss()


def _clicks(browser: Any, url: str, selector: str, event: str) -> tuple[int, list[str]]:
    """Click each element matching selector on a fresh page, waiting for the event each
    click must cause ("framenavigated" for a link, "dialog" for script); the dialogs."""
    dialogs: list[str] = []
    index = 0
    while True:
        page = browser.new_page()
        page.route("**/*", _loopback_only)
        page.on("dialog", lambda d: _dismiss(d, dialogs))
        page.goto(url)
        links = page.locator(selector)
        if index >= links.count():
            page.close()
            return index, dialogs
        with page.expect_event(event, timeout=10_000):
            links.nth(index).click()
        page.close()
        index += 1


def test_clicking_the_built_links_runs_no_script(browser: Any, fixture_pub: Path) -> None:
    # The spellings a Markdown link may load with (percent-encoded: %09, %7B…).
    spellings = [u for u in MARKDOWN_SPELLINGS if not refused_html(f"[x](<{u}>)")]
    assert len(spellings) >= 10
    links = "\n".join(f"- [hostile {i}](<{u}>)" for i, u in enumerate(spellings))
    article = fixture_pub / ARTICLE
    article.write_text(article.read_text() + f"\n\n{links}\n")
    build(fixture_pub, jobs=1)
    site = fixture_pub / "site/issues/first-light"
    email = (site / "email.html").read_text()
    assert all(f"hostile {i}" in email for i in range(len(spellings)))
    for output in ("email.html", "index.html"):
        # Each click navigates (to a harmless relative URL) and opens no dialog.
        clicked, dialogs = _clicks(browser, (site / output).as_uri(), "li a", "framenavigated")
        assert dialogs == [], f"{output}: script ran: {dialogs}"
        assert clicked >= 2, output  # the spellings that stay links (%09, %7B) were clicked
    # The detector works: the same spelling written straight into an href does run.
    control = fixture_pub / "control.html"
    control.write_text('<a href="java&#x09;script:alert(&quot;ran&quot;)">x</a>')
    assert _clicks(browser, control.as_uri(), "a", "dialog") == (1, ["ran"])


# --- Merge fields: fallbacks escaped once; {{ word }} in code is text -------------------


def _sent(root: Path, values: dict[str, str]) -> tuple[str, str]:
    """The HTML and text parts as send fills them for one recipient (decoded)."""
    site = root / "site/issues/first-light"
    html_part = EncodedBody((site / "email.html").read_text(), escape=True).fill(values)
    text_part = EncodedBody((site / "email.txt").read_text(), escape=False, wrap=72).fill(values)
    return quopri.decodestring(html_part).decode(), quopri.decodestring(text_part).decode()


def test_a_fallback_is_html_escaped_once(fixture_pub: Path) -> None:
    note = fixture_pub / NOTE
    _replace(note, "{{ name | reader | web: there }}", "{{ name | Tom & Jerry | web: T & J }}")
    build(fixture_pub, jobs=1)
    html_part, text_part = _sent(fixture_pub, {})
    assert "Hello Tom &amp; Jerry," in html_part and "&amp;amp;" not in html_part
    assert "Hello Tom & Jerry," in text_part
    html_part, text_part = _sent(fixture_pub, {"name": "<Ann & Bob>"})
    assert "Hello &lt;Ann &amp; Bob&gt;," in html_part
    assert "Hello <Ann & Bob>," in text_part
    page = (fixture_pub / "site/issues/first-light/index.html").read_text()
    assert "Hello T &amp; J," in page


def test_a_merge_field_in_code_is_literal_text(fixture_pub: Path) -> None:
    article = fixture_pub / ARTICLE
    code = "Write `{{ name }}` for the name.\n\n```\nHi {{ name | you }}!\n```\n\n"
    _replace(article, "Nothing changed, and", code + "Nothing changed, and")
    build(fixture_pub, jobs=1)
    html_part, text_part = _sent(fixture_pub, {"name": "Ann"})
    shown = html.unescape(re.sub(r"<[^>]+>", "", html_part))
    assert "Write {{ name }} for the name." in shown and "Hi {{ name | you }}!" in shown
    assert "Write {{ name }} for the name." in text_part.replace("\u2060", "")
    assert "Hi {{ name | you }}!" in text_part.replace("\u2060", "")
    page = (fixture_pub / "site/issues/first-light/index.html").read_text()
    # Pages keep the paragraph: a field in code is no per-recipient field.
    assert "<code>{<span></span>{ name }}</code> for the name." in page


# --- The importer's output always loads -----------------------------------------------

ARTICLES = Path(__file__).resolve().parent / "fixtures" / "articles"
# Text that looks like markup once unescaped: the importer escapes it, the build keeps it.
MARKUP_LOOKALIKES = """<html><head>
<meta property="og:title" content="Why &lt;script&gt; tags &amp; javascript: links matter">
<meta property="og:description" content="On &lt;iframe src=x&gt;, onclick= handlers,
 &lt;/mj-text&gt;&lt;mj-button&gt;, javascript&amp;colon;alert(1) and &lt;!-- comments">
</head><body><article><h1>Why script tags matter</h1>
<p>Body with &lt;b onclick="x"&gt; and <a href="javascript:alert(1)">a bad link</a>.</p>
<ul><li><strong>Old:</strong> &lt;img src=x onerror=alert(1)&gt;</li></ul>
<p>More about &lt;!-- comments and &lt;?php tags, and `{{ name }}` in text.</p>
</article></body></html>"""


def test_every_imported_article_builds(fixture_pub: Path, tmp_path: Path) -> None:
    crafted = tmp_path / "lookalikes.html"
    crafted.write_text(MARKUP_LOOKALIKES)
    sources = [*sorted(ARTICLES.iterdir()), crafted]
    issue = fixture_pub / "issues/2025-01-14-second-wind"
    written = [write_article(import_article(path, path.name), issue) for path in sources]
    assert len(set(written)) == len(sources)
    build(fixture_pub, jobs=1)  # raises ContentError if any written file is refused
    email = (fixture_pub / "site/issues/second-wind/email.html").read_text()
    assert "On &lt;iframe src=x&gt;, onclick= handlers," in email
    assert "&lt;/mj-text&gt;&lt;mj-button&gt;" in email and "<mj-" not in email
    assert not _script_href(email)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "javascript&colon;alert(1)",
        "&#106;avascript:alert(1)",
        "java\\tscript:alert(1)",
        "\\u0001javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,x",
        "//evil.example/",
        "https{{ x }}://x",
    ],
)
def test_a_source_url_must_be_http(fixture_pub: Path, url: str) -> None:
    _replace(fixture_pub / ARTICLE, "https://wire.example.net/lamp", f'"{url}"')
    problems = _problems(fixture_pub)
    assert [p.split(": ", 1)[0] for p in problems] == [f"{ARTICLE}:4"]
    assert "source_url" in problems[0]


@pytest.mark.parametrize("src", ["javascript:alert(1)", "JavaScript&colon;alert(1)", "data:x"])
def test_a_lead_image_src_is_a_file_name_not_a_url(fixture_pub: Path, src: str) -> None:
    # Even when a file of that name sits in the folder, the page would read it as a URL.
    folder = (fixture_pub / ARTICLE).parent
    (folder / src).write_bytes((folder / "lamp.png").read_bytes())
    _replace(fixture_pub / ARTICLE, "  src: lamp.png", f'  src: "{src}"')
    problems = _problems(fixture_pub)
    assert problems == [
        f"{ARTICLE}:15: image '{src}' is a URL, not the name of a file beside this file"
    ]
