"""Build benchmark: cold build, no-op rebuild and one-article edit, against Pelican and Hugo.

    python bench/build_bench.py [--sizes 100,1000,5000] [--runs 3]

For each size N it generates a publication of N issues (bench/gen.py) and runs
`briefing --project DIR build` as a whole process (default --jobs): a cold build
(a fresh copy of the sources, no site/), a no-op rebuild, and a rebuild after
appending a sentence to the first article of the newest issue. Each figure is
the median of --runs runs: wall time, CPU time (user + sys of the process and
its pool workers) and peak memory (ru_maxrss: the largest single process; tree:
the largest sampled sum of PSS over all its processes).

At N = --compare-at (1,000) the same issues are converted to a Pelican project
(one Markdown article per issue, web pages and feeds only) and a Hugo site, and
each is built --runs times from scratch. Pelican is installed from PyPI into
bench/.venv-pelican the first time; Hugo is Debian's `hugo`. A missing tool is
reported as skipped, with the reason, and the rest goes on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from benchlib import (
    BENCH,
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

PELICAN = "pelican[markdown]==4.12.0"
VENV = BENCH / ".venv-pelican"
STEPS = ("cold", "no-op", "edit")


@dataclass
class SizeResult:
    n: int
    steps: dict[str, Measurement]
    written: dict[str, str]  # step -> "written/unchanged" files, from briefing's summary line


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


def bench_briefing(pristine: Path, work: Path, n: int, runs: int) -> SizeResult:
    cmd = [*briefing_command(), "--project", str(work), "build"]
    results: dict[str, list[Measurement]] = {step: [] for step in STEPS}
    for run in range(runs):
        # A fresh copy each run: no site/ and no cache from an earlier build, wherever kept.
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)
        results["cold"].append(check(measure(cmd), "briefing build (cold)"))
        results["no-op"].append(check(measure(cmd), "briefing build (no-op)"))
        edit_one_article(work, run)
        results["edit"].append(check(measure(cmd), "briefing build (edit)"))
    shutil.rmtree(work, ignore_errors=True)
    return SizeResult(
        n,
        {step: median_of(results[step]) for step in STEPS},
        {step: summary_counts(results[step][-1].output) for step in STEPS},
    )


# --- the same issues for Pelican and Hugo ------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One issue as a single Markdown page: the note, then every article."""

    title: str
    date: str
    slug: str
    tags: list[str]
    summary: str
    body: str


def _split(path: Path) -> tuple[dict[str, object], str]:
    text = path.read_text(encoding="utf-8")
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def _merge_fallbacks(text: str) -> str:
    """Pages have no recipient: show each merge field's fallback, as briefing's web pages do."""
    return re.sub(r"\{\{\s*\w+\s*(?:\|\s*([^}]*?))?\s*\}\}", lambda m: m.group(1) or "", text)


def issue_pages(project: Path) -> list[Page]:
    pages = []
    for folder in sorted((project / "issues").iterdir()):
        meta, note = _split(folder / "issue.md")
        parts = [_merge_fallbacks(note).strip()]
        for path in sorted(folder.glob("[0-9]*-*.md")):
            article, body = _split(path)
            parts.append(f"## {article['headline']}")
            if article.get("dek"):
                parts.append(f"*{article['dek']}*")
            points = article.get("key_points") or []
            if points:
                parts.append(f"**{article.get('key_points_title', 'Key points')}**")
                parts.append("\n".join(f"- **{p['label']}**: {p['text']}" for p in points))
            parts.append(re.sub(r"(?m)^## ", "### ", body.strip()))
            if article.get("source_url"):
                parts.append(f"Source: [{article['source']}]({article['source_url']})")
        date = meta["date"]
        pages.append(
            Page(
                title=str(meta["title"]),
                date=date.isoformat() if hasattr(date, "isoformat") else str(date),
                slug=folder.name[11:],
                tags=[str(t) for t in meta.get("tags", [])],
                summary=str(meta.get("preheader", "")),
                body="\n\n".join(parts) + "\n",
            )
        )
    return pages


PELICAN_CONF = """\
# Web pages and feeds only, laid out like briefing's site: issue pages, tag pages,
# an index, and RSS and Atom feeds of the 20 newest issues with full content.
AUTHOR = "The Briefing desk"
SITENAME = "The Briefing"
SITEURL = "https://bench.example.com"
PATH = "content"
TIMEZONE = "America/New_York"
DEFAULT_LANG = "en"
DEFAULT_PAGINATION = False
RELATIVE_URLS = False
FEED_DOMAIN = SITEURL
FEED_ALL_RSS = "rss.xml"
FEED_ALL_ATOM = "atom.xml"
FEED_MAX_ITEMS = 20
RSS_FEED_SUMMARY_ONLY = False
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
ARTICLE_URL = "issues/{slug}/"
ARTICLE_SAVE_AS = "issues/{slug}/index.html"
TAG_URL = "tags/{slug}/"
TAG_SAVE_AS = "tags/{slug}/index.html"
AUTHOR_SAVE_AS = AUTHORS_SAVE_AS = CATEGORY_SAVE_AS = CATEGORIES_SAVE_AS = ""
ARCHIVES_SAVE_AS = TAGS_SAVE_AS = ""
"""


def write_pelican(pages: list[Page], root: Path) -> None:
    content = root / "content"
    content.mkdir(parents=True)
    (root / "pelicanconf.py").write_text(PELICAN_CONF, encoding="utf-8")
    for page in pages:
        head = [
            f"Title: {page.title}",
            f"Date: {page.date}",
            f"Tags: {', '.join(page.tags)}",
            f"Slug: {page.slug}",
            "Category: issues",
            f"Summary: {page.summary}",
        ]
        (content / f"{page.slug}.md").write_text(
            "\n".join(head) + "\n\n" + page.body, encoding="utf-8"
        )


HUGO_CONFIG = """\
baseURL = "https://bench.example.com/"
title = "The Briefing"
languageCode = "en"
rssLimit = 20
disableKinds = ["sitemap", "robotsTXT", "404"]
[taxonomies]
tag = "tags"
"""
HUGO_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} · {{ .Site.Title }}</title>
{{ range .AlternativeOutputFormats }}<link rel="{{ .Rel }}" type="{{ .MediaType.Type }}" \
href="{{ .Permalink }}">{{ end }}</head><body>
"""
HUGO_SINGLE = (
    HUGO_HEAD
    + """<h1>{{ .Title }}</h1><p>{{ .Date.Format "January 2, 2006" }}</p>
{{ .Content }}
<ul>{{ range .Params.tags }}<li><a href="{{ printf "tags/%s/" (urlize .) | absURL }}">\
{{ . }}</a></li>{{ end }}</ul>
</body></html>
"""
)
HUGO_LIST = (
    HUGO_HEAD
    + """<h1>{{ .Title }}</h1><ol>
{{ range (cond .IsHome .Site.RegularPages .Pages) }}<li><a href="{{ .RelPermalink }}">\
{{ .Title }}</a> {{ .Date.Format "2006-01-02" }}<p>{{ .Summary }}</p></li>
{{ end }}</ol></body></html>
"""
)


def write_hugo(pages: list[Page], root: Path) -> None:
    content = root / "content" / "issues"
    content.mkdir(parents=True)
    layouts = root / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (root / "config.toml").write_text(HUGO_CONFIG, encoding="utf-8")
    (layouts / "single.html").write_text(HUGO_SINGLE, encoding="utf-8")
    (layouts / "list.html").write_text(HUGO_LIST, encoding="utf-8")
    for page in pages:
        front = {
            "title": page.title,
            "date": page.date,
            "slug": page.slug,
            "tags": page.tags,
            "summary": page.summary,
        }
        # JSON is YAML: every string comes out quoted, whatever it holds.
        lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in front.items())]
        (content / f"{page.slug}.md").write_text(
            "\n".join([*lines, "---", page.body]), encoding="utf-8"
        )


def pelican_command() -> tuple[list[str] | None, str]:
    """The pelican program in its own virtual environment, installing it the first time."""
    program = VENV / "bin" / "pelican"
    if not program.is_file():
        print(f"installing {PELICAN} into {VENV.relative_to(BENCH.parent)} (once) ...", flush=True)
        log = BENCH / ".venv-pelican.log"
        try:
            with log.open("w") as out:
                subprocess.run(
                    [sys.executable, "-m", "venv", "--clear", str(VENV)],
                    check=True,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                subprocess.run(
                    [str(VENV / "bin" / "pip"), "install", "--quiet", PELICAN],
                    check=True,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
        except (OSError, subprocess.CalledProcessError) as exc:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            return None, f"could not install Pelican ({exc}; {' '.join(tail)})"
        log.unlink(missing_ok=True)
    version = subprocess.run(
        [str(program), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [str(program)], f"Pelican {version}"


def hugo_command() -> tuple[list[str] | None, str]:
    program = shutil.which("hugo")
    if not program:
        return None, "hugo is not installed (apt-get install -y hugo)"
    version = subprocess.run([program, "version"], capture_output=True, text=True, check=False)
    words = version.stdout.split()
    return [program], f"Hugo {words[1] if len(words) > 1 else '?'}"


def time_tool(name: str, build: list[str], out: Path, runs: int) -> list[Measurement]:
    """Build from scratch runs times; out (and any cache inside it) is removed before each."""
    found = []
    for _ in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        found.append(check(measure(build), f"{name} build"))
    return found


def compare(pristine: Path, tmp: Path, runs: int) -> dict[str, tuple[str, Measurement | None]]:
    """Pelican's and Hugo's median cold builds of the same issues; None with a reason if skipped."""
    pages = issue_pages(pristine)
    found: dict[str, tuple[str, Measurement | None]] = {}

    command, label = pelican_command()
    if command is None:
        print(f"skipped Pelican: {label}")
        found["Pelican"] = (label, None)
    else:
        root = tmp / "pelican"
        write_pelican(pages, root)
        out = root / "output"
        build = [*command, str(root / "content"), "-s", str(root / "pelicanconf.py")]
        build += ["-o", str(out), "-q"]
        print(f"building {len(pages)} issues with {label} ...", flush=True)
        found["Pelican"] = (label, median_of(time_tool("pelican", build, out, runs)))
        shutil.rmtree(root, ignore_errors=True)

    command, label = hugo_command()
    if command is None:
        print(f"skipped Hugo: {label}")
        found["Hugo"] = (label, None)
    else:
        root = tmp / "hugo"
        write_hugo(pages, root)
        out = root / "out"
        build = [*command, "--source", str(root), "--destination", str(out / "public")]
        build += ["--cacheDir", str(out / "cache"), "--quiet"]
        print(f"building {len(pages)} issues with {label} ...", flush=True)
        found["Hugo"] = (label, median_of(time_tool("hugo", build, out, runs)))
        shutil.rmtree(root, ignore_errors=True)
    return found


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


def report(
    results: list[SizeResult],
    compared: dict[str, tuple[str, Measurement | None]],
    compare_at: int,
) -> None:
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

    by_n = {r.n: r for r in results}
    at = by_n.get(compare_at)
    if compared:
        print(f"\n== the same {compare_at} issues with other tools, cold, median of runs ==")
        rows = [row(f"briefing {compare_at}", "cold", at.steps["cold"])] if at else []
        rows += [row(label, "cold", m) for label, m in compared.values() if m]
        print(table(HEADERS[:-1], [r[:-1] for r in rows]))
        for name, (label, m) in compared.items():
            if m is None:
                print(f"  {name}: skipped ({label})")
            elif at:
                ours = at.steps["cold"].wall
                print(
                    f"  briefing / {name}: {ours / m.wall:.2f} of {label}'s time"
                    f" ({m.wall / ours:.2f}x as fast)"
                )

    print("\n== targets (issue 5) ==")
    for line in targets(at, by_n.get(5000), compared, compare_at, linear, bool(lines)):
        print(line)


def targets(
    at: SizeResult | None,
    big: SizeResult | None,
    compared: dict[str, tuple[str, Measurement | None]],
    compare_at: int,
    linear: bool | None,
    grew: bool,
) -> list[str]:
    out = []
    cold = at.steps["cold"].wall if at else None
    pelican = compared.get("Pelican", ("", None))[1]
    hugo = compared.get("Hugo", ("", None))[1]

    text = f"cold build of {compare_at} issues at least 5x faster than Pelican"
    if cold and pelican:
        speed = pelican.wall / cold
        detail = f"{speed:.2f}x ({cold:.2f} s against {pelican.wall:.2f} s)"
        out.append(target(text, speed >= 5, detail))
    else:
        out.append(target(text, None, "needs briefing and Pelican at that size"))

    text = "cold build aims at Hugo's time"
    if cold and hugo:
        detail = f"{cold / hugo.wall:.2f}x Hugo's time ({cold:.2f} s against {hugo.wall:.2f} s)"
        out.append(target(text, cold <= hugo.wall, detail))
    else:
        out.append(target(text, None, "needs briefing and Hugo at that size"))

    for step, name, limit in (("no-op", "no-op rebuild", 0.5), ("edit", "one-article edit", 1.0)):
        text = f"{name} under {limit:g} s at {compare_at} issues"
        if at:
            out.append(target(text, at.steps[step].wall < limit, f"{at.steps[step].wall:.2f} s"))
        else:
            out.append(target(text, None, "not measured at that size"))

    detail = "cold wall time grows at most 1.2x the size ratio" if grew else "needs two sizes"
    out.append(target("build time grows linearly with N", linear, detail))

    text = "peak memory under 500 MB at 5,000 issues"
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
    parser.add_argument("--compare-at", type=int, default=1000, help="size built by Pelican/Hugo")
    parser.add_argument("--no-compare", action="store_true", help="skip Pelican and Hugo")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    cpu = CpuSnapshot.take()
    print(f"briefing: {' '.join(briefing_command())} build (default --jobs), runs={args.runs}")
    results: list[SizeResult] = []
    compared: dict[str, tuple[str, Measurement | None]] = {}
    with temp_dir("build") as tmp:
        for n in sizes:
            pristine = tmp / f"pub-{n}"
            print(f"\ngenerating {n} issues ...", flush=True)
            write_publication(pristine, n)
            print(f"building {n} issues with briefing ({args.runs} runs) ...", flush=True)
            result = bench_briefing(pristine, tmp / f"work-{n}", n, args.runs)
            results.append(result)
            rows = [row(f"briefing {n}", s, result.steps[s], result.written[s]) for s in STEPS]
            print(table(HEADERS, rows))
            if n == args.compare_at and not args.no_compare:
                compared = compare(pristine, tmp, args.runs)
            shutil.rmtree(pristine, ignore_errors=True)
    report(results, compared, args.compare_at)
    print(f"\n{cpu.others_note()}")


if __name__ == "__main__":
    run_main(main)
