"""The service's pages in Debian's chromium (Playwright): phone and desktop, light and
dark, JavaScript off, every request outside loopback refused.

Skips, with the reason, where Chromium or Playwright is missing; .ci/run installs both.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from briefing.audience.store import PENDING, Store
from briefing.send.message import unsubscribe_token
from briefing.serve.tokens import CONFIRM, make_token

from service_process import LIST_ID, SECRET, Service

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ARGS += ["--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def service(example: Path) -> Iterator[Service]:
    running = Service(example)
    yield running
    running.stop()


def _page(browser, width: int, dark: bool):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport={"width": width, "height": 800},
        color_scheme="dark" if dark else "light",
        java_script_enabled=False,  # the pages must work without it
    )
    outside: list[str] = []

    def route(route) -> None:  # type: ignore[no-untyped-def]
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.outside = outside  # requests refused, for the assertions
    return page


def _luminance(css: str) -> float:
    r, g, b = (int(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _check_layout(page, width: int, dark: bool) -> None:  # type: ignore[no-untyped-def]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} scrolls sideways at {width}px"
    body = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body == ("rgb(18, 18, 18)" if dark else "rgb(244, 241, 234)"), "style.css not applied"
    text = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
    assert abs(_luminance(text) - _luminance(body)) > 100, (text, body)
    button = page.locator("button").first
    if button.count():
        box = button.bounding_box()
        assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= width
        colour = page.evaluate("getComputedStyle(document.querySelector('button')).color")
        fill = page.evaluate("getComputedStyle(document.querySelector('button')).backgroundColor")
        assert abs(_luminance(colour) - _luminance(fill)) > 60, (colour, fill)


@pytest.mark.parametrize("width", [375, 1200], ids=["phone", "desktop"])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_service_pages_read_well(browser, service: Service, width: int, dark: bool) -> None:  # type: ignore[no-untyped-def]
    token = unsubscribe_token(SECRET.encode(), LIST_ID, "ada@example.com")
    confirm = make_token(SECRET.encode(), CONFIRM, LIST_ID, "ada@example.com", time.time(), 600)
    page = _page(browser, width, dark)
    for path in ("/subscribe", f"/u/{token}", f"/confirm/{confirm}", "/nothing-here"):
        page.goto(service.url(path))
        _check_layout(page, width, dark)
    # The honeypot is out of sight; the real fields are in view and labelled.
    page.goto(service.url("/subscribe"))
    assert not page.locator("input[name=website]").is_visible() or page.evaluate(
        "document.querySelector('input[name=website]').getBoundingClientRect().right < 0"
    )
    assert page.get_by_label("Email address").is_visible()
    assert page.outside == []  # nothing loaded from outside loopback
    page.context.close()


def test_sign_up_and_unsubscribe_by_pressing_buttons_without_javascript(  # type: ignore[no-untyped-def]
    browser, example: Path, service: Service
) -> None:
    page = _page(browser, 375, False)
    page.goto(service.url("/subscribe"))
    page.get_by_label("Email address").fill("phone.reader@example.org")
    page.get_by_role("button", name="Subscribe").click()
    assert page.locator("h1").inner_text() == "Check your email"
    with Store(example / ".briefing/audience.db") as store:
        assert store.get("phone.reader@example.org").status == PENDING  # type: ignore[union-attr]

    token = unsubscribe_token(SECRET.encode(), LIST_ID, "grace@example.com")
    page.goto(service.url(f"/u/{token}"))
    assert "g***e@example.com" in page.locator("main").inner_text()
    page.get_by_role("button", name="Unsubscribe").click()
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    page.get_by_role("button", name="Subscribe again").click()
    assert page.locator("h1").inner_text() == "Welcome back"
    with Store(example / ".briefing/audience.db") as store:
        sources = [e.source for e in store.history("grace@example.com")]
    assert sources == ["import", "page", "resubscribe"]
    page.context.close()
