"""A deterministic Markdown corpus for checking a Markdown parser switch.

    python bench/md_corpus.py --out DIR [--issues 300] [--edge 1500]

Two parts, both seeded (the same call gives the same documents on every machine):

- real: the bodies (editor's note, articles) and the one-line fields (deks, key
  points) of the first --issues issues that bench/gen.py writes, as the build
  sees them: front matter cut off;
- edge: hostile and corner-case CommonMark (nested and lazy lists, raw HTML
  blocks and inline tags, entities, code with merge fields, GFM tables and task
  lists that briefing does not support, autolinks, reference links, script URLs,
  emphasis puzzles, tabs, CRLF, Unicode), each fragment once on its own, then
  --edge documents mixing 2–5 fragments, some nested in list items or quotes,
  and each fragment flattened to one line as a one-line field.

tests/test_markdown_corpus.py pins briefing's output on this corpus and checks
invariants that must survive a parser switch; bench/markdown_candidates.py runs
other parsers over it. Changing a fragment or the mixing changes the corpus, and
so the pinned digests: regenerate them (see the test) in the same commit.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from gen import issue_files


@dataclass(frozen=True)
class Doc:
    name: str
    text: str
    inline: bool = False  # a one-line field (dek, key point): inline Markdown only


# fmt: off
FRAGMENTS: list[str] = [
    # lists: nesting, looseness, lazy lines, starts, empty items, code and quotes inside
    "- a\n- b\n  - c\n    - d\n- e",
    "1. one\n2. two\n   1. two-a\n   2. two-b\n3. three",
    "- loose\n\n- list\n\n  with a second paragraph",
    "3) start at three\n4) four",
    "- [ ] task box\n- [x] done",
    "* star\n+ plus\n- dash",
    "- a\n continued lazily\n- b",
    "1. item\n\n   > quote in item\n\n   ```\n   code in item\n   ```",
    "-\n  empty first line item",
    "- \n- empty items\n-",
    "10. ten\n11. eleven",
    "- a\n\n\n- b after two blank lines",
    "2. not one\n\n- then bullets",
    "- nested\n\n      indented code in item",
    "- one\n    - four-space nested\n        - eight",
    "1.no space is not a list\n-also not",
    "Paragraph\n- list interrupting it\n2. ordered cannot interrupt unless 1",
    # headings
    "# H1\n## H2 ##\n### H3 #not closing\n#### H4\n##### H5\n###### H6\n####### not a heading",
    "Setext one\n===\n\nSetext two\n---",
    "#hashtag is not a heading\n\n#\tTab after hash",
    "## Heading with *emphasis*, `code` and [a link](https://example.org/h)",
    "   ### indented three\n\n    #### indented four is code",
    # quotes
    "> quote\n> > nested quote\n> back",
    "> lazy\ncontinuation",
    "> - list in quote\n> - two\n>\n> para",
    ">\n> empty first line",
    "> # heading in quote\n> ```\n> code in quote\n> ```",
    # code
    "```python\nprint('{{ name }}')\n```",
    "~~~\ntilde fence with ``` inside\n~~~",
    "    indented code\n    {{ field | x }}\n\n    after blank",
    "Inline `code with {{ merge }}` and ``double `tick` code``",
    "```\nunclosed fence\n\nruns to end",
    "`` ` `` and `  spaced  ` and `unclosed",
    "````md\n```\nnested fence\n```\n````",
    "```js title=\"x\" {1}\nconst a = 1 < 2 && 3 > 2;\n```",
    # raw HTML, blocks and inline
    "<div>\n*not emphasised in a block*\n</div>",
    "<div>\n\n*emphasised after a blank line*\n\n</div>",
    'Text with <sup>2</sup>, <span class="x">a span</span> and <br> a break.',
    "<!-- a comment -->\n\nAfter the comment",
    "<table><tr><td>raw table</td></tr></table>",
    '<a href="https://example.org/raw">raw link</a> inline',
    "<p>unclosed paragraph tag",
    "<details><summary>More</summary>\n\nHidden *text*\n\n</details>",
    "a <b>bold <i>nested</i></b> c <b>unclosed",
    "<?php echo 1; ?>\n\n<!DOCTYPE html>\n\n<![CDATA[ x < y ]]>",
    "<del>*foo*</del> and <ins>**bar**</ins>",
    "Not a tag: a < b and c > d, 1 <2 and <3, <-arrow->",
    "<https://example.org/autolink> <mailto:x@example.org> <x@example.org> <not an autolink>",
    "<script>alert(1)</script>\n\ninline <script>alert(2)</script> script",
    "<pre>\n  pre *block*\n</pre>",
    '<img src="raw.png" alt="raw image"> and <center>old tag</center>',
    "  <div>indented block</div>",
    "<custom-element attr>custom</custom-element>",
    # entities and escapes
    "&amp; &copy; &nbsp; &#169; &#xA9; &#0; &#x110000; &bogus; &amp &; &ThisIsNotDefined;",
    "AT&T, 5 < 6 & 7 > 3, \"double\" and 'single' quotes",
    '[a link with &amp; entity](https://example.org/?a=1&amp;b=2 "title &quot;q&quot;")',
    "&lt;not a tag&gt; and &#60;b&#62; and \\<b\\>",
    "\\*escaped\\* \\# \\[x\\] \\\\ \\` \\~ \\| backslash at the end\\",
    # links and images
    '[inline](https://example.org/a "Title") [empty]() [angle](<https://example.org/with space>)'
    " [rel](../up/) [frag](#x) [query](?q=1)",
    '[ref link][r1], [collapsed][] and [shortcut]\n\n[r1]: https://example.org/r1 "Ref title"\n'
    "[collapsed]: /c\n[shortcut]: <https://example.org/s>",
    "[unicode](https://例え.jp/パス?q=ü) and [spaces](https://example.org/a%20b) [paren](a(b)c)",
    "[js](javascript:alert(1)) [data](data:text/html,x) [file](file:///etc/passwd)"
    " [JS](JaVaScRiPt:x) [ok](https://example.org/ok)",
    '![image](pic.png "t") ![alt *em*](https://example.org/i.png) ![](empty-alt.png)',
    "[![image in link](i.png)](https://example.org/) ![js image](javascript:x)",
    "[nested [brackets]](https://example.org/n) [not a link] [also](not closed",
    "www.example.org and https://example.org/bare stay text",
    "[link](https://example.org/a_b_c) with _under_scores_ and <https://example.org/*x*>",
    "[mail](mailto:desk@example.org) [tel](tel:+15551234) [ftp](ftp://example.org/f)",
    "[case][CASE] and [Ünïcode][]\n\n[case]: /case\n[ünïcode]: /u",
    '[title styles](/a \'single\') [x](/b (paren)) [y](/c "a \\" quote")',
    "[x]\n\n[x]: /first\n[x]: /second",
    # emphasis and strikethrough
    "*a **b** c* __d__ _e_ ***f*** **g*h*i** *j**k*",
    "foo*bar*baz foo_bar_baz **unclosed *mixed _under* over_",
    "~~strike~~ ~single~ ~~~triple~~~ ~~ spaced ~~",
    "snake_case_word and 2*3*4 and * lone star",
    "**bold with `code` and [link](https://example.org/b)** after",
    # breaks and rules
    "hard  \nbreak and\\\nbackslash break",
    "line one\nline two\nline three",
    "trailing spaces   \n\nlast line   ",
    "---\n***\n___\n- - -\n* * *",
    "Para\n---\nbecomes a setext heading",
    # GFM tables (not supported: paragraphs with pipes)
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "a | b\n--|--\n1 | 2",
    "| one column |\n| :-: |\n| `code \\| pipe` |",
    # whitespace, encodings, Unicode
    "Tabs\there\tand\u00a0nbsp, zero\u200bwidth, emoji 🎉 and RTL \u200fשלום",
    "\tindented by a tab",
    "Windows\r\nline\r\nendings\r\n\r\n- item\r\n- item",
    "  two-space indented paragraph",
    "Ünïcödé **ßtrong** _émphasis_ — “quotes” ‘single’ … ½ ™",
    "NUL \x00 character and \ufeff BOM inside",
    "x" * 120 + " and https://example.org/" + "long/" * 20,
    # merge fields (briefing fills them at send time)
    "{{ name | reader }} merge field and [link {{ name }}](https://example.org/{{ id }})",
    "Good morning, {{ name | reader | web: everyone }}.",
    "`{{ in_code }}` and\n\n```\n{{ in_fence }}\n```",
    # nothing at all
    "",
    "   \n\n  \n",
]
# fmt: on


def real(issues: int, seed: int = 1) -> Iterator[Doc]:
    """The bodies and one-line fields of bench/gen.py's first `issues` issues."""
    for index in range(issues):
        folder, files = issue_files(index, seed)
        for name, text in files.items():
            _, front, body = text.split("---\n", 2)
            yield Doc(f"real/{folder}/{name}", body)
            meta = yaml.load(front, Loader=yaml.CSafeLoader) or {}
            if meta.get("dek"):
                yield Doc(f"real/{folder}/{name}#dek", str(meta["dek"]), inline=True)
            for n, point in enumerate(meta.get("key_points") or []):
                for key in ("label", "text"):
                    yield Doc(f"real/{folder}/{name}#kp{n}.{key}", str(point[key]), inline=True)


def _nest(rng: random.Random, text: str) -> str:
    """The fragment inside a list item or a quote, indented as CommonMark wants."""
    kind = rng.choice(("bullet", "ordered", "quote"))
    lines = text.split("\n")
    if kind == "quote":
        return "\n".join("> " + line if line else ">" for line in lines)
    marker, pad = ("- ", "  ") if kind == "bullet" else ("1. ", "   ")
    return "\n".join((marker if i == 0 else pad) + line for i, line in enumerate(lines))


def edge(mixed: int, seed: int = 1) -> Iterator[Doc]:
    """Each fragment alone, each flattened to one line (a one-line field), then `mixed`
    documents of 2–5 fragments, joined by one, two or three line breaks, some nested."""
    for i, text in enumerate(FRAGMENTS):
        yield Doc(f"edge/fragment-{i:03d}", text)
    for i, text in enumerate(FRAGMENTS):
        yield Doc(f"edge/inline-{i:03d}", " ".join(text.split("\n")), inline=True)
    rng = random.Random(f"{seed}-markdown-edge")
    for i in range(mixed):
        parts = rng.sample(FRAGMENTS, rng.randint(2, 5))
        parts = [_nest(rng, p) if rng.random() < 0.3 else p for p in parts]
        text = parts[0]
        for part in parts[1:]:
            text += rng.choice(("\n", "\n\n", "\n\n", "\n\n\n")) + part
        yield Doc(f"edge/mixed-{i:04d}", text)


def corpus(issues: int = 300, mixed: int = 1500, seed: int = 1) -> list[Doc]:
    return [*real(issues, seed), *edge(mixed, seed)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write .md files to")
    parser.add_argument("--issues", type=int, default=300)
    parser.add_argument("--edge", type=int, default=1500, help="mixed edge-case documents")
    args = parser.parse_args()
    docs = corpus(args.issues, args.edge)
    for doc in docs:
        name = doc.name.replace("#", "@").removesuffix(".md")
        path = args.out / (name + (".inline.md" if doc.inline else ".md"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc.text, encoding="utf-8", newline="")
    print(f"wrote {len(docs)} documents to {args.out}")


if __name__ == "__main__":
    main()
