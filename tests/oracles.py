"""Adapters for the validators others wrote, which judge what briefing emits (issue 14).

One function per tool, each returning plain data, and a skip marker per tool that names
what is missing and how `.ci/run` installs it:

- the Nu HTML checker (`vnu.jar` from npm, run on the machine's Java),
- caniemail data through `doiuse-email` (npm, run on Node.js),
- axe-core (npm), injected into a page of Debian's chromium driven by Playwright,
- SpamAssassin (Debian) with its shipped rules and no network tests.

The npm packages live in tests/tools/ (`npm ci --ignore-scripts` there; vnu-jar's install
script would download a Java, which we neither need nor may fetch).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parent / "tools"
NODE_MODULES = TOOLS / "node_modules"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
DOIUSE_JS = TOOLS / "doiuse-email.mjs"
SPAMSCORE_PL = TOOLS / "spamscore.pl"
NPM_HINT = "cd tests/tools && npm ci --ignore-scripts"

JAVA = shutil.which("java")
NODE = shutil.which("node")
PERL = shutil.which("perl")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]


def _missing(*checks: tuple[bool, str]) -> str | None:
    return next((reason for ok, reason in checks if not ok), None)


VNU_MISSING = _missing(
    (JAVA is not None, "java is not installed (apt-get install default-jre-headless)"),
    (VNU_JAR.is_file(), f"vnu.jar is not installed ({NPM_HINT})"),
)
DOIUSE_MISSING = _missing(
    (NODE is not None, "node is not installed (apt-get install nodejs)"),
    ((NODE_MODULES / "doiuse-email").is_dir(), f"doiuse-email is not installed ({NPM_HINT})"),
)
AXE_MISSING = _missing(
    (CHROMIUM is not None, "Debian's chromium is not installed (apt-get install chromium)"),
    (AXE_JS.is_file(), f"axe-core is not installed ({NPM_HINT})"),
    (find_spec("playwright") is not None, "Playwright is not installed (pip install playwright)"),
)
SPAM_MISSING = _missing(
    (
        PERL is not None and shutil.which("spamassassin") is not None,
        "SpamAssassin is not installed (apt-get install spamassassin)",
    ),
)

needs_vnu = pytest.mark.skipif(VNU_MISSING is not None, reason=VNU_MISSING or "")
needs_doiuse = pytest.mark.skipif(DOIUSE_MISSING is not None, reason=DOIUSE_MISSING or "")
needs_axe = pytest.mark.skipif(AXE_MISSING is not None, reason=AXE_MISSING or "")
needs_spamassassin = pytest.mark.skipif(SPAM_MISSING is not None, reason=SPAM_MISSING or "")


# -- Nu HTML checker --------------------------------------------------------------------


@dataclass(frozen=True)
class VnuError:
    path: Path
    line: int
    message: str
    extract: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def vnu_errors(html_paths: Sequence[Path]) -> list[VnuError]:
    """Errors (not warnings) the Nu HTML checker reports on the files, in one Java run."""
    if not html_paths:
        return []
    command = [str(JAVA), "-jar", str(VNU_JAR), "--stdout", "--format", "json"]
    command += ["--errors-only", "--exit-zero-always", "--no-langdetect"]
    done = subprocess.run(
        [*command, *map(str, html_paths)], capture_output=True, text=True, check=True
    )
    by_uri = {p.resolve().as_uri().replace("file:///", "file:/"): p for p in html_paths}
    errors = []
    for message in json.loads(done.stdout)["messages"]:
        if message["type"] == "non-document-error":  # the checker could not read a file
            raise RuntimeError(f"vnu: {message['message']}")
        errors.append(
            VnuError(
                path=by_uri.get(message["url"], Path(message["url"])),
                line=message.get("lastLine", 0),
                message=message["message"],
                extract=message.get("extract", ""),
            )
        )
    return errors


# -- doiuse-email (caniemail) -----------------------------------------------------------

_FINDING = re.compile(
    r"^`(?P<feature>.+)` is (?P<level>not|only partially) supported by `(?P<client>[^`]+)`$"
)


@dataclass(frozen=True, order=True)
class EmailFeature:
    """One caniemail feature that a client does not (`unsupported`) or only partly supports."""

    client: str
    level: str  # "unsupported" | "partial"
    feature: str

    def __str__(self) -> str:
        return f"{self.client} | {self.level} | {self.feature}"


def doiuse_email(html: str, clients: Sequence[str]) -> set[EmailFeature]:
    """Features of the HTML that the clients (globs such as `gmail.*`) lack or half-support."""
    done = subprocess.run(
        [str(NODE), str(DOIUSE_JS), ",".join(clients)],
        input=html,
        capture_output=True,
        text=True,
        check=True,
        cwd=TOOLS,
    )
    result = json.loads(done.stdout)
    found = set()
    for line in [*result.get("errors", []), *result.get("warnings", [])]:
        match = _FINDING.match(line)
        if match is None:
            raise ValueError(f"doiuse-email: unexpected message {line!r}")
        level = "unsupported" if match["level"] == "not" else "partial"
        found.add(EmailFeature(match["client"], level, match["feature"]))
    return found


@dataclass(frozen=True)
class Allowed:
    """One reviewed line of an allow-list: `client-glob | level | feature | why`."""

    client: str
    level: str
    feature: str
    why: str

    def covers(self, found: EmailFeature) -> bool:
        return (
            fnmatch.fnmatchcase(found.client, self.client)
            and self.level == found.level
            and self.feature == found.feature
        )


def read_allow_list(path: Path) -> list[Allowed]:
    """Every entry must give a reason: the list is reviewed, not a dump of today's output."""
    entries = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 4 or not all(fields) or fields[1] not in ("unsupported", "partial"):
            raise ValueError(f"{path}:{number}: want 'client | level | feature | why'")
        entries.append(Allowed(*fields))
    return entries


# -- axe-core in chromium ---------------------------------------------------------------

IMPACTS = ("minor", "moderate", "serious", "critical")


@dataclass(frozen=True)
class AxeViolation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} at {', '.join(self.targets[:3])}"


def axe_violations(page: Any, disable: Iterable[str] = ()) -> list[AxeViolation]:
    """Run axe-core on a loaded Playwright page; `disable` turns rules off by id."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    options = {
        "resultTypes": ["violations"],
        "rules": {rule: {"enabled": False} for rule in disable},
    }
    result = page.evaluate("(options) => axe.run(document, options)", options)
    return [
        AxeViolation(
            rule=v["id"],
            impact=v["impact"] or "minor",
            help=v["help"],
            targets=tuple(" ".join(map(str, n["target"])) for n in v["nodes"]),
        )
        for v in result["violations"]
    ]


def at_least(violations: Iterable[AxeViolation], impact: str) -> list[AxeViolation]:
    floor = IMPACTS.index(impact)
    return [v for v in violations if IMPACTS.index(v.impact) >= floor]


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright, flags as in tests/test_browser.py."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline_context(browser: Any, width: int, dark: bool) -> Any:
    """A browser context at `width` px that loads file: and loopback URLs only."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme="dark" if dark else "light"
    )
    local = re.compile(r"^(file:|data:|about:|https?://(127\.0\.0\.1|localhost|\[::1\])[:/])")
    context.route(
        "**/*",
        lambda route: route.continue_() if local.match(route.request.url) else route.abort(),
    )
    return context


# -- SpamAssassin -----------------------------------------------------------------------


@dataclass(frozen=True)
class SpamReport:
    score: float
    rules: dict[str, float]

    def __str__(self) -> str:
        hits = ", ".join(f"{r} {s:+.1f}" for r, s in sorted(self.rules.items()) if abs(s) >= 0.05)
        return f"{self.score:.1f} ({hits or 'no scoring rule'})"


def spam_scores(eml_paths: Sequence[Path]) -> list[SpamReport]:
    """SpamAssassin's local rules (as `spamassassin -L`) on each message, rules compiled once."""
    if not eml_paths:
        return []
    with tempfile.TemporaryDirectory() as home:  # SpamAssassin wants a home for its state
        done = subprocess.run(
            [str(PERL), str(SPAMSCORE_PL), *map(str, eml_paths)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "SA_HOME": home},
        )
    reports = []
    for line in done.stdout.splitlines():
        score, _, hits = line.partition("\t")
        rules = {
            name: float(points)
            for name, _, points in (h.partition("=") for h in hits.split(",") if h)
        }
        reports.append(SpamReport(float(score), rules))
    return reports


def spam_score(eml_bytes: bytes) -> SpamReport:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "message.eml"
        path.write_bytes(eml_bytes)
        (report,) = spam_scores([path])
    return report
