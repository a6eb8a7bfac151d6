"""Print what each oracle says about a built site and sent messages, with timings.

    python3 tests/tools/report.py SITE_DIR [MESSAGE.eml ...]

For working on issue 14 without pytest: the Nu HTML checker on every page and email,
doiuse-email (Outlook for Windows, Gmail) on the emails, beyond the allow-list, axe-core
(impact moderate or worse) at 375/600 px, light and dark, and SpamAssassin on the messages.
"""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import oracles


def _timed(label: str, started: float) -> None:
    print(f"  [{label}: {time.perf_counter() - started:.1f} s]")


def vnu(files: list[Path]) -> None:
    started = time.perf_counter()
    errors = oracles.vnu_errors(files)
    counts = collections.Counter((e.path.name, e.message) for e in errors)
    for (name, message), n in sorted(counts.items()):
        print(f"  {n:3d} x {name}: {message}")
    _timed(f"vnu, {len(files)} files", started)


def doiuse(emails: list[Path]) -> None:
    started = time.perf_counter()
    allowed = oracles.read_allow_list(oracles.TOOLS / "doiuse-email-allow.txt")
    for path in emails:
        found = oracles.doiuse_email(
            path.read_text(encoding="utf-8"), ["outlook.windows", "gmail.*"]
        )
        new = sorted(f for f in found if not any(a.covers(f) for a in allowed))
        print(f"  {path}: {len(found)} features, not allowed: {[str(f) for f in new]}")
    _timed(f"doiuse-email, {len(emails)} emails", started)


def axe(documents: list[Path]) -> None:
    started = time.perf_counter()
    sizes = [(w, d) for w in (375, 600) for d in (False, True)]
    with oracles.chromium() as browser:
        context = oracles.offline_context(browser, 375, False)
        for path in documents:
            page = context.new_page()
            page.goto(path.as_uri())
            seen: dict[str, list[str]] = collections.defaultdict(list)
            for width, dark in sizes:
                page.set_viewport_size({"width": width, "height": 900})
                page.emulate_media(color_scheme="dark" if dark else "light")
                for v in oracles.at_least(oracles.axe_violations(page), "moderate"):
                    seen[str(v)].append(f"{width}{'-dark' if dark else ''}")
            page.close()
            for violation, where in sorted(seen.items()):
                print(f"  {path}: {violation} [{' '.join(where)}]")
    _timed(f"axe, {len(documents)} documents x {len(sizes)}", started)


def main(site: Path, messages: list[Path]) -> None:
    emails = sorted(site.glob("issues/*/email.html"))
    pages = sorted(site.rglob("index.html"))
    print("== Nu HTML checker (errors)")
    vnu([*pages, *emails])
    print("== doiuse-email")
    doiuse(emails)
    print("== axe-core (moderate or worse)")
    axe([*pages, *emails])
    if messages:
        print("== SpamAssassin")
        started = time.perf_counter()
        for path, report in zip(messages, oracles.spam_scores(messages), strict=True):
            print(f"  {path}: {report}")
        _timed(f"SpamAssassin, {len(messages)} messages", started)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]])
