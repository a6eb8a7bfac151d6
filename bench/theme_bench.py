"""Theme benchmark: what a new Theme (one per build, so one per preview rebuild) costs.

    python bench/theme_bench.py [--runs 15]

Renders the example's newest issue (email, text part, page) three ways, median of
--runs: on a theme already used (templates compiled), on a new theme that finds
the compiled templates in the process's shared, checksum-checked cache (what a
rebuild gets), and on a new theme after clearing that cache (compiling all).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from benchlib import REPO, busy_note, machine, run_main, table

from briefing.build import load
from briefing.render import templates
from briefing.render.context import IssueView
from briefing.render.email import render_email
from briefing.render.text import render_text
from briefing.render.theme import Theme
from briefing.render.web import render_issue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    publication = load(REPO)
    issue, base = publication.issues[0], publication.config.publication.base_url

    def render(theme: Theme) -> None:
        view = IssueView(issue, base)
        render_email(publication, view, theme)
        render_text(publication, view, theme)
        render_issue(publication, view, None, None, theme)

    def fresh() -> Theme:
        return Theme.load(publication.config)

    def cold() -> Theme:
        templates.COMPILED.entries.clear()
        return fresh()

    used = fresh()
    render(used)
    ways: list[tuple[str, Callable[[], Theme]]] = [
        ("same theme, templates compiled", lambda: used),
        ("new theme, compiled templates shared (a rebuild)", fresh),
        ("new theme, compiling every template", cold),
    ]
    rows = []
    for label, make in ways:
        durations = []
        for _ in range(args.runs):
            started = time.perf_counter()
            render(make())
            durations.append(time.perf_counter() - started)
        rows.append([label, f"{statistics.median(durations) * 1000:.1f}"])
    print("\n== one issue: email, text part and page, median (ms) ==")
    print(table(["theme", "ms"], rows))


if __name__ == "__main__":
    run_main(main)
