"""The 404 page and the tags index in Chromium, held to the archive pages' checks.

The 404 page is served the way static hosts serve it (GitHub Pages, Netlify): for a
missing path at any depth, with status 404, so its root-relative links are tried
for real. Skips where Chromium or Playwright is missing (conftest.offline_browser).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from briefing.build import build


class _StaticHost(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        if code != 404:
            super().send_error(code, message, explain)
            return
        body = (Path(self.directory) / "404.html").read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def host(example: Path) -> Iterator[str]:
    site = example / "site"
    build(example, site, jobs=1)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_StaticHost, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_404_and_tags_index_render_like_the_archive(offline_browser, host: str) -> None:  # type: ignore[no-untyped-def]
    pages = {
        "tags/": "Tags",
        "issues/no-such-issue/deep/": "Page not found",
        "no-such-page.html": "Page not found",
    }
    for path, heading in pages.items():
        for width in (375, 1200):
            page = offline_browser.new_page(viewport={"width": width, "height": 900})
            response = page.goto(host + path)
            assert response.status == (200 if path == "tags/" else 404), path
            assert page.locator("h1").inner_text() == heading
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(244, 241, 234)", f"{path}: style.css not applied"
            main = page.evaluate("document.querySelector('main').getBoundingClientRect().width")
            assert main <= min(width, 42 * 18 + 1), (path, width, main)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} scrolls sideways at {width}px"
            page.close()
    # Every link of the 404 page leads somewhere real, from any depth.
    page = offline_browser.new_page()
    page.goto(host + "issues/no-such-issue/deep/")
    for href in page.evaluate("[...document.querySelectorAll('main a')].map(a => a.href)"):
        assert page.request.get(href).status == 200, href
    page.close()
    assert offline_browser.refused == []
