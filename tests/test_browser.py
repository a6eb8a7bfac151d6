"""Pages and emails in a real headless Chromium (Debian's), driven with Playwright.

Skips, with the reason, where Chromium or Playwright is missing; .ci/run installs both.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from briefing.build import build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]


@pytest.fixture(scope="module")
def browser(offline_browser: object) -> object:
    """The shared chromium (conftest): file: and loopback URLs only, remote images refused."""
    return offline_browser


@pytest.fixture
def site(example: Path) -> Path:
    build(example, jobs=1)
    return example / "site"


def _open(browser, url: str, width: int, dark: bool = False):  # type: ignore[no-untyped-def]
    page = browser.new_page(
        viewport={"width": width, "height": 900}, color_scheme="dark" if dark else "light"
    )
    page.goto(url)
    return page


def test_email_has_no_horizontal_scroll_on_a_phone(browser, site: Path) -> None:  # type: ignore[no-untyped-def]
    for email in sorted(site.glob("issues/*/email.html")):
        page = _open(browser, email.as_uri(), 375)
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, f"{email}: {scroll}px of content in a {client}px screen"
        page.close()


def test_email_fills_600px_on_a_desktop(browser, site: Path) -> None:  # type: ignore[no-untyped-def]
    page = _open(browser, (site / "issues/trump-xi-call/email.html").as_uri(), 1200)
    widths = page.evaluate(
        "[...document.querySelectorAll('.card')].map(e => e.getBoundingClientRect().width)"
    )
    assert widths and all(w == 600 for w in widths), widths


def _contrast_color(page, selector: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The text colour of an element and the background colour behind it."""
    return page.evaluate(
        """(sel) => {
          const el = document.querySelector(sel);
          let bg = 'rgba(0, 0, 0, 0)', node = el;
          while (node && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
            bg = getComputedStyle(node).backgroundColor; node = node.parentElement;
          }
          return [getComputedStyle(el).color, bg];
        }""",
        selector,
    )


def _luminance(css: str) -> float:
    r, g, b = (int(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_text_and_images_stay_visible(browser, fixture_pub: Path, dark: bool) -> None:  # type: ignore[no-untyped-def]
    build(fixture_pub, jobs=1)
    email = fixture_pub / "site/issues/first-light/email.html"
    page = _open(browser, email.as_uri(), 600, dark=dark)
    # Body subheads are <h3> under the <h1> title and <h2> headlines (issue 14); the key
    # points title keeps its colour in dark mode.
    selectors = (".article-body p", ".article-body h3", ".keypoints li", ".headline h1")
    for selector in (*selectors, ".headline h2", ".kp-title div", ".quote td"):
        color, background = _contrast_color(page, selector)
        difference = abs(_luminance(color) - _luminance(background))
        assert difference > 100, f"{selector}: {color} on {background}"
        if dark:
            assert _luminance(background) < 80, f"{selector}: background {background} not dark"
    # Images are remote in an email (absolute URLs); check they are laid out and not hidden.
    boxes = page.evaluate(
        "[...document.images].map(i => [getComputedStyle(i).display,"
        " getComputedStyle(i).visibility, i.getBoundingClientRect().width])"
    )
    assert boxes and all(d != "none" and v == "visible" for d, v, _ in boxes)


def test_archive_and_issue_pages_render_with_their_styles(browser, site: Path) -> None:  # type: ignore[no-untyped-def]
    for path in ("index.html", "issues/trump-xi-call/index.html", "tags/trade/index.html"):
        for width in (375, 1200):
            page = _open(browser, (site / path).as_uri(), width)
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(244, 241, 234)", f"{path}: style.css not applied"
            main_width = page.evaluate(
                "document.querySelector('main').getBoundingClientRect().width"
            )
            assert main_width <= min(width, 42 * 18 + 1), (path, width, main_width)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} scrolls sideways at {width}px"
            page.close()
    page = _open(browser, (site / "issues/trump-xi-call/index.html").as_uri(), 1200)
    assert page.locator(".keypoints li").count() == 7 + 2  # both articles have key points
    feeds = page.evaluate("[...document.querySelectorAll('link[rel=alternate]')].map(l => l.type)")
    assert feeds == ["application/rss+xml", "application/atom+xml", "application/feed+json"]


def test_preview_reloads_after_a_source_changes(browser, example: Path) -> None:  # type: ignore[no-untyped-def]
    from briefing.preview import serve

    server, preview = serve(example, example / "site", 0, lambda line: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/?issue=trump-xi-call"
        page = _open(browser, url, 1400)
        assert page.locator("iframe.email").count() == 4
        assert "Trump pushes for a Xi call" in page.locator("h1").inner_text()
        assert preview.watching.wait(60)  # the watcher is up
        issue_md = example / "issues/2025-06-03-trump-xi-call/issue.md"
        issue_md.write_text(
            issue_md.read_text().replace(
                'title: "Trump pushes for a Xi call', 'title: "Live reload works: Trump pushes'
            )
        )
        page.wait_for_function(
            "document.querySelector('h1').innerText.startsWith('Live reload works')",
            timeout=15000,
        )
        # The site under /site/ is served; nothing outside it is.
        response = page.request.get(url.split("?")[0] + "site/..%2fbriefing.toml")
        assert response.status == 404
    finally:
        preview.stop.set()
        server.shutdown()
        server.server_close()
