"""Plain-text part benchmark: link numbering and big articles (issue 9).

    python bench/text_bench.py [--links 10000,40000] [--megabytes 2]

Parses (markdown-it, shared with the HTML) and renders with the email's
TextRenderer a body of N distinct links (each numbered into the shared list), and
an article of about M MB of paragraphs, lists and links
(M defaults to the loader's size limit for a source file, so the largest article a
build can meet). Each is rendered in a child process, so its peak memory (max RSS,
Markdown parse included) is its own. Linear means: 4x the links, about 4x the time.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

from benchlib import busy_note, machine, mb, run_main, table

PARAGRAPH = (
    "The council met on [Tuesday](https://example.org/{n}) and voted **seven to two** to"
    " extend the *night buses*, said the chair, citing [the survey](../survey/{n}/).\n\n"
    "- one point, with [a source](https://example.net/a/{n})\n- and another\n\n"
)


def body(kind: str, size: int) -> str:
    if kind == "links":
        return "\n".join(f"See [link {n}](https://example.org/{n})." for n in range(size))
    blocks, length, n = [], 0, 0
    while length < size * 1024 * 1024:
        block = PARAGRAPH.format(n=n)
        blocks.append(block)
        length, n = length + len(block), n + 1
    return "".join(blocks)


def child(kind: str, size: int) -> None:
    from briefing.render.markdown import parse
    from briefing.render.plaintext import TextRenderer

    source = body(kind, size)
    started = time.perf_counter()
    tokens = parse(source)
    parsed = time.perf_counter()
    renderer = TextRenderer(72, "https://example.com/issues/x/")
    text = renderer.render(tokens)
    rendered = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(parsed - started, rendered - parsed, peak, len(renderer.links), len(source), len(text))


def run(kind: str, size: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(size)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    parse, render = float(out[0]), float(out[1])
    peak, links, source = int(out[2]), int(out[3]), int(out[4])
    markdown = f"{source / 1e6:.1f} MB"
    return [kind, markdown, f"{links:,}", f"{parse:.2f} s", f"{render:.2f} s", mb(peak)]


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", default="10000,40000")
    parser.add_argument("--megabytes", default="2")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"now: {busy_note()}")
    rows = [run("links", int(n)) for n in args.links.split(",")]
    rows += [run("article", int(n)) for n in args.megabytes.split(",")]
    print(table(["body", "Markdown", "links", "parse", "text render", "peak RSS"], rows))


if __name__ == "__main__":
    run_main(main)
