"""Compiled Markdown parsers against briefing's markdown-it-py, on the corpus and the fixtures.

    bash bench/install_tools.sh        # once: the candidates, into bench/.venv-md
    bench/.venv-md/bin/python bench/markdown_candidates.py [--issues 1000] [--edge 1500]

Not a test and not a switch: it measures what issue 15's switch would face. For
each candidate (markdown-it-pyrs, cmarkgfm, pyromark), configured as close to
briefing's parser as it allows (CommonMark, raw HTML kept, ~~strikethrough~~), it
prints per part of the corpus (bench/md_corpus.py: generated issues, hostile
CommonMark; and every Markdown body of tests/fixtures, issues/ and the starter):

- how many documents give byte-identical HTML to markdown-it-py with the same
  configuration and briefing's link policy (every URL parsed as a link), and to
  briefing's own `to_html` (its render rules: script URLs dropped, code's {{ kept
  literal);
- the most frequent differences (the first differing stretch of each document);
- parse + HTML time for the generated bodies, and parse-only time (tokens, tree or
  events: what a text renderer and the link checks would walk), as a ratio to
  markdown-it-py.

A candidate that is not installed is skipped with how to install it.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchlib import REPO, busy_note, machine, run_main, table
from md_corpus import Doc, corpus
from other_tools import INSTALL

from briefing.render.markdown import _parser, to_html

Render = Callable[[str], str]


@dataclass
class Candidate:
    name: str
    html: Render | None  # None: not installed
    parse: Callable[[str], object] | None  # tokens, tree or events, fully materialised
    note: str  # version, or why it is skipped
    walk: Callable[[str], int] | None = None  # parse, then visit every node in Python


def _walk_tokens(text: str) -> int:
    """markdown-it-py: parse, then read every token's and child's type and content (what
    TextRenderer and scan do at the least)."""
    seen = 0
    for token in _parser().parse(text):
        seen += len(token.type) + len(token.content)
        for child in token.children or ():
            seen += len(child.type) + len(child.content)
    return seen


def _walk_tree(tree: Any) -> int:
    """markdown-it-pyrs: every node's name and meta, depth first."""
    return sum(len(node.name) + len(node.meta) for node in tree.walk())


def _walk_events(events: list[Any]) -> int:
    """pyromark: every event, as a renderer would dispatch on it."""
    seen = 0
    for event in events:
        if isinstance(event, dict):
            for kind, value in event.items():
                seen += len(kind) + (len(value) if isinstance(value, str | dict) else 1)
        else:
            seen += 1
    return seen


def _core(validate_links: bool) -> Render:
    """markdown-it-py configured as briefing's parser, without briefing's render rules."""
    from markdown_it import MarkdownIt

    class Parser(MarkdownIt):
        def validateLink(self, url: str) -> bool:
            return True if validate_links else super().validateLink(url)

    md = Parser("commonmark", {"html": True}).enable("strikethrough")
    return md.render


def _version(module: str) -> str:
    from importlib.metadata import version

    return version(module)


def candidates() -> list[Candidate]:
    found = []
    try:
        pyrs = importlib.import_module("markdown_it_pyrs")
        md = pyrs.MarkdownIt("commonmark").enable("strikethrough")
        found.append(
            Candidate(
                "markdown-it-pyrs",
                md.render,
                md.tree,
                _version("markdown-it-pyrs"),
                lambda text: _walk_tree(md.tree(text)),
            )
        )
    except ImportError:
        found.append(Candidate("markdown-it-pyrs", None, None, f"not installed: {INSTALL}"))
    try:
        cmark = importlib.import_module("cmarkgfm")
        opts = cmark.Options.CMARK_OPT_UNSAFE | cmark.Options.CMARK_OPT_STRIKETHROUGH_DOUBLE_TILDE

        def cmark_html(text: str) -> str:
            html: str = cmark.markdown_to_html_with_extensions(text, opts, ["strikethrough"])
            return html

        # cmarkgfm's Python API has no tree: only the C node API through cffi.
        found.append(Candidate("cmarkgfm", cmark_html, None, _version("cmarkgfm")))
    except ImportError:
        found.append(Candidate("cmarkgfm", None, None, f"not installed: {INSTALL}"))
    try:
        pyro = importlib.import_module("pyromark")
        strike = pyro.Options.ENABLE_STRIKETHROUGH

        def pyro_html(text: str) -> str:
            html: str = pyro.html(text, options=strike)
            return html

        def pyro_events(text: str) -> list[Any]:
            return list(pyro.events_with_range(text, options=strike))

        def pyro_walk(text: str) -> int:
            return _walk_events(list(pyro.events(text, options=strike)))

        found.append(Candidate("pyromark", pyro_html, pyro_events, _version("pyromark"), pyro_walk))
    except ImportError:
        found.append(Candidate("pyromark", None, None, f"not installed: {INSTALL}"))
    return found


def fixture_docs() -> list[Doc]:
    """Every Markdown body the tests and the example use, front matter cut off."""
    docs = []
    for folder in ("tests/fixtures", "issues", "src/briefing/starter", "templates"):
        for path in sorted((REPO / folder).rglob("*.md")):
            text = path.read_text(encoding="utf-8")
            if text.startswith("---\n") and text.count("---\n") >= 2:
                text = text.split("---\n", 2)[2]
            docs.append(Doc(str(path.relative_to(REPO)), text))
    return docs


def first_difference(a: str, b: str) -> tuple[str, str]:
    """The first stretch where b differs from a, with a little context."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            return a[max(0, i1 - 12) : i2 + 12][:160], b[max(0, j1 - 12) : j2 + 12][:160]
    return "", ""


def compare(
    cand: Candidate, parts: dict[str, list[Doc]], refs: dict[str, dict[str, list[str]]]
) -> tuple[list[list[object]], Counter[tuple[str, str]]]:
    assert cand.html is not None
    rows: list[list[object]] = []
    diffs: Counter[tuple[str, str]] = Counter()
    for part, docs in parts.items():
        mine = [cand.html(d.text) for d in docs]
        same = {k: sum(a == b for a, b in zip(mine, v, strict=True)) for k, v in refs[part].items()}
        rows.append([cand.name, part, len(docs), *(f"{same[k] / len(docs):.1%}" for k in same)])
        for ours, theirs in zip(refs[part]["core"], mine, strict=True):
            if ours != theirs:
                diffs[first_difference(ours, theirs)] += 1
    return rows, diffs


def print_inline(found: list[Candidate], docs: list[Doc]) -> None:
    """One-line fields: none of the candidates parses inline Markdown alone, so each
    renders the line as a document and loses its <p>; a line that starts like a block
    (a heading, a list item, a quote) comes out differently."""
    md = _parser()
    want = [md.renderInline(d.text) for d in docs]
    print(f"\n== one-line fields ({len(docs)} deks, key points and flattened fragments) ==")
    for cand in (c for c in found if c.html):
        assert cand.html is not None
        got = [_unwrap(cand.html(d.text)) for d in docs]
        same = sum(a == b for a, b in zip(want, got, strict=True))
        real = [i for i, d in enumerate(docs) if d.name.startswith("real/")]
        same_real = sum(want[i] == got[i] for i in real)
        print(
            f"  {cand.name}: {same / len(docs):.1%} identical to renderInline"
            f" ({same_real / max(1, len(real)):.1%} of the generated issues' fields)"
        )


def _unwrap(html: str) -> str:
    html = html.removesuffix("\n")
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html


Job = Callable[[str], object]


def best_times(jobs: dict[str, Job], texts: list[str], rounds: int) -> dict[str, float]:
    """The best pass over texts of each job, the jobs taking turns in every round so that
    each meets the same load on a busy machine."""
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(rounds):
        for name, job in jobs.items():
            started = time.perf_counter()
            for text in texts:
                job(text)
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def print_speed(found: list[Candidate], texts: list[str], rounds: int) -> None:
    megabytes = sum(len(t.encode()) for t in texts) / 2**20
    print(f"\n== speed on {len(texts)} generated bodies ({megabytes:.1f} MB), best of {rounds} ==")
    jobs: dict[str, Job] = {
        "markdown-it-py html": _core(True),
        "markdown-it-py parse": _parser().parse,
        "markdown-it-py walk": _walk_tokens,
        "briefing to_html html": to_html,
    }
    for cand in found:
        for kind, job in (("html", cand.html), ("parse", cand.parse), ("walk", cand.walk)):
            if job is not None:
                jobs[f"{cand.name} {kind}"] = job
    best = best_times(jobs, texts, rounds)
    rows = []
    for name in ("markdown-it-py", "briefing to_html", *(c.name for c in found if c.html)):
        row: list[object] = [name]
        for kind in ("html", "parse", "walk"):
            mine, base = best.get(f"{name} {kind}"), best[f"markdown-it-py {kind}"]
            row += [f"{mine:.3f}", f"{base / mine:.1f}x"] if mine else ["-", "-"]
        rows.append(row)
    headers = ["parser", "parse+HTML s", "speed-up", "parse only s", "speed-up"]
    print(table([*headers, "parse+walk s", "speed-up"], rows))
    print("  parse only: tokens, tree or events (with source ranges) built, not visited;")
    print("  parse+walk: then every token/node/event visited once in Python, the floor of")
    print("  a Python HTML writer, text renderer or link scan over that parser's output")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=1000, help="generated issues")
    parser.add_argument("--edge", type=int, default=1500, help="mixed edge-case documents")
    parser.add_argument("--show", type=int, default=12, help="differences shown per candidate")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes (best of)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    docs = [d for d in corpus(args.issues, args.edge) if not d.inline]
    parts = {
        "generated": [d for d in docs if d.name.startswith("real/")],
        "edge": [d for d in docs if d.name.startswith("edge/")],
        "fixtures": fixture_docs(),
    }
    core, core_default = _core(True), _core(False)
    refs = {
        part: {
            "core": [core(d.text) for d in part_docs],
            "default links": [core_default(d.text) for d in part_docs],
            "briefing": [to_html(d.text) for d in part_docs],
        }
        for part, part_docs in parts.items()
    }
    found = candidates()
    print("\n== candidates ==")
    for cand in found:
        print(f"  {cand.name}: {cand.note}")

    headers = ["parser", "corpus", "docs", "= core", "= default links", "= briefing"]
    rows: list[list[object]] = []
    for part, part_docs in parts.items():
        same = sum(a == b for a, b in zip(refs[part]["core"], refs[part]["briefing"], strict=True))
        share = f"{same / len(part_docs):.1%}"
        rows.append(["briefing's to_html", part, len(part_docs), share, "-", "100%"])
    all_diffs = {}
    for cand in (c for c in found if c.html):
        cand_rows, all_diffs[cand.name] = compare(cand, parts, refs)
        rows += cand_rows
    print("\n== byte-identical HTML (share of documents) ==")
    print("  core: markdown-it-py, CommonMark + html + strikethrough, every URL a link")
    print("  default links: the same with markdown-it's own link validation (no script URLs)")
    print("  briefing: render.markdown.to_html (script URLs dropped, code's {{ kept literal)")
    print(table(headers, rows))
    print_inline(found, [d for d in corpus(args.issues, args.edge) if d.inline])

    for name, diffs in all_diffs.items():
        print(f"\n== {name}: most frequent differences from core (core -> {name}) ==")
        for (ours, theirs), count in diffs.most_common(args.show):
            print(f"  {count:5d}  {ours!r}\n         {theirs!r}")

    print_speed(found, [d.text for d in parts["generated"]], args.rounds)


if __name__ == "__main__":
    run_main(main)
