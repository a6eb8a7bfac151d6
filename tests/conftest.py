"""Shared fixtures: copies of the example and fixture publications in a temporary folder,
a chromium that loads nothing from outside loopback; and a session-end check that the
suite wrote nothing into the checkout."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The `pause` fixture (tests/pausing.py) for every test that holds a process mid-way.
pytest_plugins = ["pausing"]

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "publication"

# Hypothesis keeps its example database and constants beside the tests unless told.
try:
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(tempfile.mkdtemp(prefix="briefing-hypothesis-"))
except ImportError:
    pass


# --- the suite writes nothing into the checkout ----------------------------------------

# Tool caches are the tools' business; everything else git does not track is watched.
_CACHES = re.compile(r"(^|/)(__pycache__|\.\w+_cache|node_modules|\.venv[^/]*|[^/]+\.egg-info)/")


def _untracked() -> dict[str, tuple[int, int]] | None:
    """Files of the checkout git does not track (ignored ones with size and mtime, other
    untracked ones by name); None when the tests do not run from a git checkout."""
    found: dict[str, tuple[int, int]] = {}
    for ignored in (True, False):
        try:
            listing = subprocess.run(
                ["git", "-C", str(REPO), "ls-files", "-z", "--others", "--exclude-standard"]
                + (["--ignored"] if ignored else [])
                + ["--", ".", ":(exclude)tests/tools/node_modules"],
                capture_output=True,
                check=True,
            ).stdout.decode()
        except (OSError, subprocess.CalledProcessError):
            return None
        for name in filter(None, listing.split("\0")):
            if _CACHES.search(name) or not (REPO / name).is_file():
                continue
            stat = (REPO / name).stat()
            # Untracked sources may be someone's work in progress: only new ones count.
            found[name] = (stat.st_size, stat.st_mtime_ns) if ignored else (0, 0)
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = _untracked()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before, after = session.config.stash.get(_BEFORE, None), _untracked()
    if before is None or after is None:
        return
    written = sorted(name for name, stamp in after.items() if before.get(name) != stamp)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "the tests wrote into the checkout: " + ", ".join(written[:20])
        if reporter:
            reporter.ensure_newline()
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_BEFORE = pytest.StashKey[dict[str, tuple[int, int]] | None]()


# --- one chromium for every browser test, offline --------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    # Defence in depth: no name but localhost resolves, whatever a page asks for.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
_LOCAL = re.compile(
    r"^(file:|data:|about:|blob:|https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$))"
)


class OfflineBrowser:
    """Chromium whose pages load file:, data: and loopback URLs only; every other
    request is refused and listed in .refused."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.refused: list[str] = []

    def new_context(self, **options: Any) -> Any:
        context = self.browser.new_context(**options)
        context.route("**/*", self._route)
        return context

    def new_page(self, **options: Any) -> Any:
        context = self.new_context(**options)
        page = context.new_page()
        page.on("close", lambda _page: context.close())
        return page

    def _route(self, route: Any) -> None:
        if _LOCAL.match(route.request.url):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort("blockedbyclient")


@pytest.fixture(scope="module")
def offline_browser() -> Iterator[OfflineBrowser]:
    """Debian's chromium under Playwright (skips with the reason where either is missing)."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    with api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield OfflineBrowser(instance)
        instance.close()


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A writable copy of the repository's example publication."""
    return copy_example(tmp_path)


def copy_example(tmp_path: Path) -> Path:
    """A copy of the repository's example publication in tmp_path/example."""
    root = tmp_path / "example"
    root.mkdir()
    shutil.copy(REPO / "briefing.toml", root)
    shutil.copy(REPO / "subscribers.csv", root)
    shutil.copytree(REPO / "issues", root / "issues")
    shutil.copytree(REPO / "templates", root / "templates")
    return root


@pytest.fixture
def fixture_pub(tmp_path: Path) -> Path:
    """A writable copy of tests/fixtures/publication on the packaged theme alone."""
    root = tmp_path / "fixture"
    shutil.copytree(FIXTURE, root)
    (root / "templates").mkdir()  # no overrides: the golden files show the packaged theme
    toml = root / "briefing.toml"
    toml.write_text(toml.read_text().replace('"../../../templates"', '"templates"'))
    return root
