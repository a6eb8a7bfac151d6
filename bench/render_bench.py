"""Email render benchmark: css-inline against premailer, and the whole render_email, per email.

    python bench/render_bench.py [--seconds 2]

For each issue of the example publication it captures what render_email hands
to mjml-python and to the inliner, then times, in this process and after a
warm-up, each step on its own and the whole render_email (with a fresh issue
view each call, so its Markdown is rendered each time too) with each inliner.
Each figure is the median of as many calls as fit in --seconds (at least 20).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchlib import REPO, busy_note, machine, run_main, table

import briefing.render.email as email
from briefing.build import load
from briefing.model import Publication
from briefing.render.context import IssueView
from briefing.render.theme import Theme

INLINERS = ("css-inline", "premailer")


def timed(call: Callable[[], object], seconds: float, at_least: int = 20) -> list[float]:
    """Durations in seconds of repeated calls, after three untimed warm-up calls."""
    for _ in range(3):
        call()
    durations: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(durations) < at_least or time.perf_counter() < deadline:
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


def ms(durations: list[float]) -> str:
    return f"{statistics.median(durations) * 1000:.2f}"


def capture(publication: Publication, view: IssueView) -> dict[str, Any]:
    """The MJML source and the HTML and CSS that render_email passes on, by wrapping the
    module's own mjml_to_html and inline_css for one call."""
    seen: dict[str, Any] = {}
    mjml_to_html, inline_css = email.mjml_to_html, email.inline_css

    def spy_mjml(source: str, *args: Any) -> str:
        seen["mjml"], seen["mjml_args"] = source, args
        return mjml_to_html(source, *args)

    def spy_inline(html: str, css: str, inliner: str, *args: Any) -> str:
        seen["html"], seen["css"] = html, css
        return inline_css(html, css, inliner, *args)

    email.mjml_to_html, email.inline_css = spy_mjml, spy_inline
    try:
        seen["email"] = email.render_email(publication, view, Theme.load(publication.config))
    finally:
        email.mjml_to_html, email.inline_css = mjml_to_html, inline_css
    return seen


def with_inliner(publication: Publication, inliner: str) -> Publication:
    config = publication.config
    changed = dataclasses.replace(config, email=dataclasses.replace(config.email, inliner=inliner))
    return dataclasses.replace(publication, config=changed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per figure")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    publication = load(REPO)
    base = publication.config.publication.base_url
    rows = []
    first: float | None = None
    for issue in publication.issues:
        print(f"timing {issue.slug} ...", flush=True)
        seen = capture(publication, IssueView(issue, base))
        html, css = seen["html"], seen["css"]
        row: list[object] = [issue.slug]
        source, label = seen["mjml"], seen["mjml_args"]
        row.append(ms(timed(lambda s=source, a=label: email.mjml_to_html(s, *a), args.seconds)))
        sizes = []
        if first is None:  # premailer's first call in this process: import, no caches yet
            started = time.perf_counter()
            email.inline_css(html, css, "premailer")
            first = (time.perf_counter() - started) * 1000
        for inliner in INLINERS:
            call = lambda h=html, c=css, i=inliner: email.inline_css(h, c, i)  # noqa: E731
            row.append(ms(timed(call, args.seconds)))
            sizes.append(f"{len(email.inline_css(html, css, inliner).encode()) / 1024:.0f}")
        for inliner in INLINERS:
            variant = with_inliner(publication, inliner)
            theme = Theme.load(variant.config)
            call = lambda p=variant, i=issue, t=theme: email.render_email(p, IssueView(i, base), t)  # noqa: E731
            row.append(ms(timed(call, args.seconds)))
        rows.append([*row, " / ".join(sizes)])

    headers = ["issue", "mjml ms", "css-inline ms", "premailer ms"]
    headers += ["render_email (css-inline)", "(premailer)", "KB out (css-inline / premailer)"]
    print("\n== per email, median (ms) ==")
    print(table(headers, rows))
    ratios = [float(r[3]) / float(r[2]) for r in rows]
    print(
        f"  premailer takes {min(ratios):.1f}x to {max(ratios):.1f}x css-inline's time;"
        " render_email includes Markdown, Jinja2, mjml-python and the inliner."
    )
    print(
        f"  premailer's first call in a process (importing it, parsing the CSS): {first:.0f} ms;"
        " later calls reuse its CSS cache, as a build's do"
    )


if __name__ == "__main__":
    run_main(main)
