"""Preview benchmark: what one save costs `briefing preview`, against the incremental build.

    python bench/preview_bench.py [--issues 300] [--runs 5]

Generates a publication of --issues issues (bench/gen.py), starts a preview on
it in this process (its first rebuild builds and checks everything), then, for
each run, appends a sentence to the first article of the newest issue and
times, each after an edit of its own:

- build: `build()` alone, the incremental build (what `briefing build` does);
- preview: `Preview.rebuild()`, what preview does on a save: the incremental
  build, then `check` of only the groups of outputs the build rendered;
- full check: the incremental build, then `check()` of the whole site (what
  preview did before the build reported what it rendered), run after all the
  build/preview pairs.

Each figure is the median of --runs runs, wall time in this process. Saves in
preview also wait for the watcher's 200 ms debounce, which is not counted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import CpuSnapshot, busy_note, machine, run_main, table, target, temp_dir
from build_bench import edit_one_article
from gen import write_publication

from briefing.build import build
from briefing.check import check
from briefing.preview import Preview

STEPS = ("build", "preview", "full check")


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def bench(project: Path, runs: int) -> tuple[float, dict[str, list[float]], int]:
    """(first rebuild's seconds, seconds per step and run, findings after the last run)."""
    site = project / "site"
    messages: list[str] = []
    preview = Preview(project, site, messages.append)
    first = timed(preview.rebuild)
    if preview.state.errors:
        raise RuntimeError("the preview build failed:\n" + "\n".join(preview.state.errors))

    def full_check() -> None:
        check(build(project, site).publication)

    steps: dict[str, Callable[[], object]] = {
        "build": lambda: build(project, site),
        "preview": preview.rebuild,
        "full check": full_check,
    }
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    edit = 0
    # Build and preview alternate, so each pair shares the machine's mood; the full
    # checks come after them: each allocates for seconds and would leave the
    # collector's and the page cache's state to whichever step came next.
    for order in [STEPS[:2]] * runs + [STEPS[2:]] * runs:
        for step in order:
            edit_one_article(project, edit)
            edit += 1
            times[step].append(timed(steps[step]))
    # The incremental findings must be the full check's: anything else is a bug.
    full = check(build(project, site).publication)
    if preview.state.findings != full:
        raise RuntimeError(
            f"preview holds {len(preview.state.findings)} findings, a full check {len(full)}"
        )
    return first, times, len(full)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=300, help="issues in the publication")
    parser.add_argument("--runs", type=int, default=5, help="edits per step (median)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    cpu = CpuSnapshot.take()
    with temp_dir("preview") as tmp:
        project = tmp / "pub"
        print(f"generating {args.issues} issues ...", flush=True)
        write_publication(project, args.issues)
        print(f"preview: first rebuild, then {args.runs} edits per step ...", flush=True)
        first, times, findings = bench(project, args.runs)
    medians = {step: statistics.median(times[step]) for step in STEPS}
    print(f"\n== one-article edit at {args.issues} issues, median of {args.runs} ==")
    rows = [[step, f"{medians[step]:.3f}", f"{min(times[step]):.3f}"] for step in STEPS]
    rows.append(["preview start (build + check all)", f"{first:.3f}", "-"])
    print(table(["what", "wall s", "best s"], rows))
    print(f"  {findings} check findings, the same from preview and from a full check")
    build_s, preview_s = medians["build"], medians["preview"]
    print("\n== target (issue 15) ==")
    print(
        target(
            "preview's refresh after an edit within 20% of the incremental build",
            preview_s <= 1.2 * build_s,
            f"{preview_s:.3f} s against {build_s:.3f} s;"
            f" a full re-check took {medians['full check']:.3f} s",
        )
    )
    print(f"\n{cpu.others_note()}")


if __name__ == "__main__":
    run_main(main)
