"""The cold build's floor: what the fixed parts alone cost, against Hugo's whole build.

    python bench/floor_bench.py [--issues 1000] [--runs 3]

Issue 15 asks for a cold build within 2× Hugo's CPU. Part of briefing's cost is
fixed by the design card and the output contract, whatever the Python around it
does: every issue's email goes through MRML (mjml-python) and css-inline, and
every issue gets three files (its page, email.html and email.txt). This runs one
cold build in this process with --jobs 1, timing those parts as the build calls
them (process CPU time around `mjml_to_html`, `inline_css` and the staging of
each issue's files), and builds the same issues with Hugo between runs. It
prints each part per issue, their sum (the floor), and that floor against Hugo's
whole build: a floor above 2× Hugo's CPU means the target cannot be met by
making the rest faster.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import check, machine, run_main, table, temp_dir
from gen import write_publication
from other_tools import prepare_tools

import briefing.build
import briefing.render.email
from briefing.build import build

PARTS = {
    "MRML": (briefing.render.email, "mjml_to_html"),
    "css-inline": (briefing.render.email, "inline_css"),
    "files": (briefing.build, "stage"),
}
AS_OF = datetime(2100, 1, 1, tzinfo=UTC)


def timed(spent: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - started

    return wrapper


def one_build(project: Path) -> dict[str, float]:
    """CPU seconds of each fixed part, and of the whole build, in one cold build."""
    spent: dict[str, float] = defaultdict(float)
    originals = {name: getattr(module, attr) for name, (module, attr) in PARTS.items()}
    for name, (module, attr) in PARTS.items():
        setattr(module, attr, timed(spent, name, originals[name]))
    shutil.rmtree(project / "site", ignore_errors=True)
    shutil.rmtree(project / ".briefing", ignore_errors=True)
    started = time.process_time()
    try:
        build(project, jobs=1, as_of=AS_OF)
    finally:
        for name, (module, attr) in PARTS.items():
            setattr(module, attr, originals[name])
    spent["whole build"] = time.process_time() - started
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=1000, help="issues in the publication")
    parser.add_argument("--runs", type=int, default=3, help="runs (median)")
    args = parser.parse_args()
    n = args.issues
    print(f"machine: {machine()}")
    with temp_dir("floor") as tmp:
        project = tmp / "pub"
        print(f"generating {n} issues ...", flush=True)
        write_publication(project, n)
        hugo = prepare_tools(project, tmp, ["hugo"])["Hugo"]
        runs: list[dict[str, float]] = []
        for run in range(args.runs):
            print(f"run {run + 1}: briefing (in process, --jobs 1), then Hugo", flush=True)
            runs.append(one_build(project))
            hugo.run_once("Hugo")
        # The build itself is checked by the test suite; here only that it wrote every issue.
        written = len(list((project / "site" / "issues").glob("*/email.txt")))
        if written != n:
            raise SystemExit(f"the build wrote {written} email.txt files, not {n}")
    median = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
    floor = sum(median[name] for name in PARTS)
    rows: list[list[object]] = [
        [name, f"{median[name]:.2f}", f"{1000 * median[name] / n:.2f}"]
        for name in [*PARTS, "whole build"]
    ]
    rows.insert(len(PARTS), ["floor (sum of the above)", f"{floor:.2f}", f"{1000 * floor / n:.2f}"])
    print(table(["part (CPU)", f"s for {n}", "ms / issue"], rows))
    if not hugo.runs:
        print(f"Hugo: {hugo.label} — no comparison")
        return
    hugo_cpu = statistics.median(check(m, "Hugo").cpu for m in hugo.runs)
    print(f"Hugo ({hugo.label}), whole build: {hugo_cpu:.2f} s CPU; 2× = {2 * hugo_cpu:.2f} s")
    whole = median["whole build"]
    print(
        f"floor = {floor / hugo_cpu:.2f}× Hugo's CPU, the whole build {whole / hugo_cpu:.2f}×:"
        f" the fixed parts alone take {100 * floor / (2 * hugo_cpu):.0f}% of the 2× budget"
    )


if __name__ == "__main__":
    run_main(main)
