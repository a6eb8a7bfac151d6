"""Build benchmark: cold build, no-op rebuild and one-article edit, against Pelican and Hugo.

    python bench/build_bench.py [--sizes 100,1000,5000] [--runs 3]

For each size N it generates a publication of N issues (bench/gen.py) and runs
`briefing --project DIR build` as a whole process (default --jobs): a cold build
(a fresh copy of the sources, no site/), a no-op rebuild, and a rebuild after
appending a sentence to the first article of the newest issue. Each figure is
the median of --runs runs: wall time, CPU time (user + sys of the process and
its pool workers) and peak memory (ru_maxrss: the largest single process; tree:
the largest sampled sum of PSS over all its processes).

At each size of --compare-at (1,000 and 5,000) the same issues are converted to
a Pelican project (one Markdown article per issue, web pages and feeds only) and
a Hugo site (bench/other_tools.py), and each is built from scratch right after
each of briefing's cold builds: ratios are the median of these pairs. Pelican is
installed from PyPI into bench/.venv-pelican the first time; Hugo is Debian's
`hugo`. A missing tool is reported as skipped, with how to install it, and the
rest goes on. The report ends with issue 15's targets, each MET, NOT MET or NOT
MEASURED (a size not run).
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (
    CpuSnapshot,
    Measurement,
    briefing_command,
    busy_note,
    check,
    machine,
    mb,
    measure,
    median_of,
    run_main,
    table,
    target,
    temp_dir,
)
from gen import write_publication
from other_tools import Tool, prepare_tools

STEPS = ("cold", "no-op", "edit")


@dataclass
class SizeResult:
    n: int
    steps: dict[str, Measurement]
    written: dict[str, str]  # step -> "written/unchanged" files, from briefing's summary line
    cold_runs: list[Measurement] = field(default_factory=list)  # briefing's cold builds, in order
    tools: dict[str, Tool] = field(default_factory=dict)  # Pelican, Hugo: built between them


# --- briefing --------------------------------------------------------------------------


def summary_counts(output: str) -> str:
    found = re.search(r"(\d+) written, (\d+) unchanged", output)
    return f"{found.group(1)}/{found.group(2)}" if found else "?"


def edit_one_article(project: Path, run: int) -> Path:
    """Append a sentence to the first article of the newest issue; return the file."""
    newest = sorted((project / "issues").iterdir())[-1]
    article = sorted(p for p in newest.glob("[0-9]*-*.md"))[0]
    with article.open("a", encoding="utf-8") as handle:
        handle.write(f"\nThe benchmark added this sentence in run {run + 1}.\n")
    return article


def bench_briefing(
    pristine: Path, work: Path, n: int, runs: int, tools: dict[str, Tool] | None = None
) -> SizeResult:
    cmd = [*briefing_command(), "--project", str(work), "build"]
    results: dict[str, list[Measurement]] = {step: [] for step in STEPS}
    for run in range(runs):
        # A fresh copy each run: no site/ and no cache from an earlier build, wherever kept.
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)
        results["cold"].append(check(measure(cmd), "briefing build (cold)"))
        for name, tool in (tools or {}).items():
            tool.run_once(name)
        results["no-op"].append(check(measure(cmd), "briefing build (no-op)"))
        edit_one_article(work, run)
        results["edit"].append(check(measure(cmd), "briefing build (edit)"))
    shutil.rmtree(work, ignore_errors=True)
    return SizeResult(
        n,
        {step: median_of(results[step]) for step in STEPS},
        {step: summary_counts(results[step][-1].output) for step in STEPS},
        results["cold"],
        tools or {},
    )


# --- report ------------------------------------------------------------------------------


def row(label: str, step: str, m: Measurement, written: str = "") -> list[object]:
    return [
        label,
        step,
        f"{m.wall:.2f}",
        f"{m.cpu:.2f}",
        f"{m.cpu / m.wall:.2f}" if m.wall else "-",
        f"{m.maxrss / 2**20:.0f}",
        f"{m.tree_peak / 2**20:.0f}",
        written,
    ]


HEADERS = ["what", "step", "wall s", "CPU s", "CPU/wall", "maxrss MB", "tree MB", "written/same"]


def growth_lines(results: list[SizeResult]) -> tuple[list[str], bool | None]:
    """Time ratios between consecutive sizes; linear if no step grows > 1.2x the size ratio."""
    lines, linear = [], None
    for small, big in itertools.pairwise(results):
        factor = big.n / small.n
        parts = []
        for step in STEPS:
            a, b = small.steps[step], big.steps[step]
            parts.append(f"{step} wall x{b.wall / a.wall:.1f} CPU x{b.cpu / a.cpu:.1f}")
        cold = big.steps["cold"].wall / small.steps["cold"].wall
        ok = cold <= 1.2 * factor
        linear = ok if linear is None else linear and ok
        lines.append(f"  {small.n} -> {big.n} issues (x{factor:g}): " + "; ".join(parts))
    return lines, linear


# Issue 15's limits, by size: no-op and one-article edit seconds; Hugo ratios at both.
NOOP_LIMIT = {1000: 0.3, 5000: 0.6}
EDIT_LIMIT = {1000: 0.5, 5000: 1.0}
HUGO_WALL, HUGO_CPU = 1.5, 2.0  # briefing's cold build at most this many times Hugo's


def paired(r: SizeResult, tool: Tool, attr: str) -> float:
    """Median over runs of briefing's cold figure over the tool's, each pair run back to
    back (steadier than a ratio of medians on a busy machine)."""
    ratios = [
        getattr(a, attr) / getattr(b, attr) for a, b in zip(r.cold_runs, tool.runs, strict=True)
    ]
    return statistics.median(ratios)


def print_comparison(r: SizeResult) -> None:
    print(f"\n== the same {r.n} issues with other tools, cold, median of paired runs ==")
    rows = [row(f"briefing {r.n}", "cold", r.steps["cold"])]
    rows += [row(t.label, "cold", median_of(t.runs)) for t in r.tools.values() if t.runs]
    print(table(HEADERS[:-1], [line[:-1] for line in rows]))
    for name, tool in r.tools.items():
        if not tool.runs:
            print(f"  {name}: skipped ({tool.label})")
            continue
        wall, cpu = paired(r, tool, "wall"), paired(r, tool, "cpu")
        print(
            f"  briefing / {name}: {wall:.2f}x its wall time, {cpu:.2f}x its CPU time"
            f" (median of {len(tool.runs)} paired runs)"
        )


def report(results: list[SizeResult]) -> None:
    print("\n== briefing build, median of runs ==")
    rows = [row(f"briefing {r.n}", s, r.steps[s], r.written[s]) for r in results for s in STEPS]
    print(table(HEADERS, rows))
    for r in results:
        cold = r.steps["cold"]
        print(f"  {r.n} issues: cold build {cold.wall / r.n * 1000:.1f} ms wall per issue")

    lines, linear = growth_lines(results)
    if lines:
        print("\n== growth between sizes (time ratio; linear means about the size ratio) ==")
        print("\n".join(lines))

    for r in results:
        if r.tools:
            print_comparison(r)

    by_n = {r.n: r for r in results}
    print("\n== targets (issue 15) ==")
    print("\n".join(targets(by_n)))
    print("\n== earlier targets (issue 5) ==")
    print("\n".join(earlier_targets(by_n, linear, bool(lines))))


def hugo_targets(by_n: dict[int, SizeResult]) -> list[str]:
    out = []
    sizes = sorted({*NOOP_LIMIT, *(n for n, r in by_n.items() if "Hugo" in r.tools)})
    for n in sizes:
        text = f"cold build of {n} issues within {HUGO_WALL:g}x Hugo's wall, {HUGO_CPU:g}x its CPU"
        r = by_n.get(n)
        hugo = r.tools.get("Hugo") if r else None
        if r is None or hugo is None or not hugo.runs:
            why = hugo.label if hugo else f"{n} not in --sizes and --compare-at"
            out.append(target(text, None, why))
            continue
        wall, cpu = paired(r, hugo, "wall"), paired(r, hugo, "cpu")
        mine, theirs = r.steps["cold"], median_of(hugo.runs)
        detail = (
            f"wall {wall:.2f}x ({mine.wall:.2f} s against {theirs.wall:.2f} s),"
            f" CPU {cpu:.2f}x ({mine.cpu:.2f} s against {theirs.cpu:.2f} s)"
        )
        if n not in NOOP_LIMIT:
            detail += " — the issue sets this at 1000 and 5000"
        out.append(target(text, wall <= HUGO_WALL and cpu <= HUGO_CPU, detail))
    return out


def targets(by_n: dict[int, SizeResult]) -> list[str]:
    out = hugo_targets(by_n)
    for step, name, limits in (
        ("no-op", "no-op rebuild", NOOP_LIMIT),
        ("edit", "one-article edit", EDIT_LIMIT),
    ):
        for n, limit in limits.items():
            text = f"{name} under {limit:g} s at {n} issues"
            r = by_n.get(n)
            if r:
                out.append(target(text, r.steps[step].wall < limit, f"{r.steps[step].wall:.2f} s"))
            else:
                out.append(target(text, None, f"{n} not in --sizes"))
    preview = "preview's refresh within 20% of the incremental build"
    out.append(target(preview, None, "measured by bench/preview_bench.py"))
    return out


def earlier_targets(by_n: dict[int, SizeResult], linear: bool | None, grew: bool) -> list[str]:
    out = []
    at = by_n.get(1000)
    pelican = at.tools.get("Pelican") if at else None
    text = "cold build of 1000 issues at least 5x faster than Pelican"
    if at and pelican and pelican.runs:
        speed = 1 / paired(at, pelican, "wall")
        out.append(target(text, speed >= 5, f"{speed:.2f}x (median of paired runs)"))
    else:
        out.append(target(text, None, "needs briefing and Pelican at 1000"))

    detail = "cold wall time grows at most 1.2x the size ratio" if grew else "needs two sizes"
    out.append(target("build time grows linearly with N", linear, detail))

    text = "peak memory under 500 MB at 5,000 issues"
    big = by_n.get(5000)
    if big:
        tree = max(m.tree_peak for m in big.steps.values())
        single = max(m.maxrss for m in big.steps.values())
        detail = f"all processes together {mb(tree)}, largest single process {mb(single)}"
        out.append(target(text, tree < 500 * 2**20, detail))
    else:
        out.append(target(text, None, "5,000 not in --sizes"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="issue counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument(
        "--compare-at", default="1000,5000", help="sizes also built by Pelican and Hugo"
    )
    parser.add_argument("--tools", default="hugo,pelican", help="tools to compare with")
    parser.add_argument("--no-compare", action="store_true", help="skip Pelican and Hugo")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    compare_at = {int(s) for s in args.compare_at.split(",") if s.strip()}
    tools = [] if args.no_compare else [t.strip().lower() for t in args.tools.split(",")]
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    cpu = CpuSnapshot.take()
    print(f"briefing: {' '.join(briefing_command())} build (default --jobs), runs={args.runs}")
    results: list[SizeResult] = []
    with temp_dir("build") as tmp:
        for n in sizes:
            pristine = tmp / f"pub-{n}"
            print(f"\ngenerating {n} issues ...", flush=True)
            write_publication(pristine, n)
            others = prepare_tools(pristine, tmp, tools) if n in compare_at else {}
            names = " and ".join(["briefing", *(k for k, t in others.items() if t.build)])
            print(f"building {n} issues with {names} ({args.runs} runs) ...", flush=True)
            result = bench_briefing(pristine, tmp / f"work-{n}", n, args.runs, others)
            results.append(result)
            rows = [row(f"briefing {n}", s, result.steps[s], result.written[s]) for s in STEPS]
            print(table(HEADERS, rows))
            shutil.rmtree(pristine, ignore_errors=True)
            for name in ("pelican", "hugo"):
                shutil.rmtree(tmp / name, ignore_errors=True)
    report(results)
    print(f"\n{cpu.others_note()}")


if __name__ == "__main__":
    run_main(main)
