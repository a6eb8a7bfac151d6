"""The Markdown work of a cold build, alone, and the parsers under it (issue 15).

    python bench/markdown_bench.py [--issues 1000] [--runs 3]

Writes a publication of N generated issues (bench/gen.py), loads it once, then
times, as CPU seconds (best of --runs, each run on fresh views):

- the Markdown work a build does per issue without templates: bodies parsed, the
  HTML of page, feeds and email, deks and key points, the text part's Markdown;
- parsing the bodies with markdown-it-py against `markdown.parse` (pyromark's
  events turned into markdown-it tokens where `render/pulldown.py` answers), and
  how many bodies take the compiled path.

One-line fields are parsed once per string for the whole process (a cache), so
every run after the first finds them parsed, as the build's second output does.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import busy_note, machine, run_main, table, temp_dir
from gen import write_publication

from briefing.config import load_config
from briefing.model import Publication
from briefing.render import pulldown
from briefing.render.context import views
from briefing.render.markdown import _parser, parse
from briefing.render.plaintext import TextRenderer


def markdown_work(publication: Publication) -> int:
    """Everything Markdown a build renders per issue; returns the characters written."""
    size = 0
    for view in views(publication):
        size += len(view.web_note_html) + len(view.note_html) + len(view.email_note_html)
        for group in (view.web_articles, view.articles):
            for article in group:
                size += len(article.body_html) + len(article.dek_html)
                size += sum(len(label) + len(text) for label, text in article.key_points)
        size += sum(len(article.email_body_html) for article in view.articles)
        text = TextRenderer(72, view.url)
        size += len(text.render(view.note_tokens))
        for source, tokens in zip(view.issue.articles, view.article_tokens, strict=True):
            size += len(text.inline(source.dek)) + len(text.render(tokens))
            size += sum(len(text.inline(p.label) + text.inline(p.text)) for p in source.key_points)
    return size


def each(parse_one: Callable[[str], object], bodies: list[str]) -> None:
    """Parse every body, keeping none (a build drops an issue's tokens after it)."""
    for body in bodies:
        parse_one(body)


def best(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    print(busy_note())
    with temp_dir("markdown") as root:
        write_publication(root, args.issues)
        from briefing.sources import load_publication

        publication = load_publication(load_config(Path(root)))
    bodies = [i.note.text for i in publication.issues]
    bodies += [a.body.text for i in publication.issues for a in i.articles]
    md, link = _parser(), _parser().normalizeLink
    compiled = sum(pulldown.tokens(b, link) is not None for b in bodies)
    rows = [
        [
            "Markdown work of the build",
            f"{best(args.runs, lambda: markdown_work(publication)):.2f}",
        ],
        [
            "parse bodies: markdown-it-py",
            f"{best(args.runs, lambda: each(md.parse, bodies)):.2f}",
        ],
        [
            "parse bodies: markdown.parse",
            f"{best(args.runs, lambda: each(parse, bodies)):.2f}",
        ],
    ]
    print(f"{args.issues:,} issues, {len(bodies):,} bodies, {compiled:,} on the compiled path")
    print(table(["CPU seconds, best of " + str(args.runs), "s"], rows))
    print(busy_note())


if __name__ == "__main__":
    run_main(main)
