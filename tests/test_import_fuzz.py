"""Fuzzing the importer: whatever a page or text file holds, only located BriefingErrors
escape, and whatever is written then loads and builds.

Hypothesis writes HTML pages from a small grammar (nested elements, links with broken
hosts and ports, JSON-LD that is invalid, deep or oddly typed, meta tags, entities,
control characters, Markdown and MJML lookalikes) and plain-text exports (header
lines, key points, bullets, debris), plus the hand-made hostile files (a FIFO, JSON-LD
10,000 deep, a page over the size limit) as plain tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from briefing.build import build
from briefing.errors import BriefingError
from briefing.importer import import_article, write_article
from briefing.importer.reader import MAX_IMPORT_BYTES

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "publication"
ISSUE = "issues/2025-01-14-second-wind"

# --- the grammar --------------------------------------------------------------------------

WORDS = [
    "Riverton", "council", "—", "“quoted”", "RIVERTON —", "Quick Looks:", "Label: text",
    "Related", "Share this", "Subscribe", "{{ name }}", "{{ x | y }}", "*", "_", "`", "#",
    "> q", "- item", "1.", "[a](b)", "\\", "<", "&", "&amp;", "&lt;script&gt;", "&#0;",
    "&#x1;", "&#xD800;", "&colon;", "&bogus;", "</mj-text>", "<mj-button>", "\x00", "\x0b",
    "\x1f", "\x7f", "\x85", "\u2028", "\ufeff", "\ufffe", "\u200b", "\t", "\r", " ", "\n",
    "é", "日本", "🙂", "a" * 200, "javascript:alert(1)", "http://[bad", "http://x:99999/",
]  # fmt: skip
HREFS = [
    "http://[bad", "http://x:99999/", "http://x:port/", "https://[::1]/", "http://]/",
    "https://example.com/a?b=c&d=e#f", "/relative", "relative", "#top", "", "mailto:a@b",
    "javascript:alert(1)", "java\tscript:x", "&#106;avascript:x", "data:text/html,x",
    "//evil.example/", "http://exa mple.com/", "http://x/\x00", "https://x/{{ name }}",
    "https://x/(a)", "https://x/<b>", "http:", "http://", "https://user:pw@host/",
]  # fmt: skip
TAGS = [
    "p", "div", "span", "a", "em", "strong", "b", "i", "code", "pre", "blockquote", "ul",
    "ol", "li", "h1", "h2", "h3", "table", "tr", "td", "th", "dl", "dt", "dd", "br", "hr",
    "img", "script", "style", "iframe", "svg", "figure", "nav", "aside", "section",
    "article", "main", "header", "time", "mj-text", "form", "template", "noscript",
]  # fmt: skip
CLASSES = ["", "byline", "dek", "share", "related", "caption", "author", "story", "ad"]

text = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=6).map(" ".join)
hrefs = st.one_of(st.sampled_from(HREFS), st.sampled_from(HREFS[5:8]), st.text(max_size=20))


def _attrs(href: str, cls: str, line_break: bool) -> str:
    quoted = href.replace('"', "&quot;")
    return f' href="{quoted}"' + (f' class="{cls}"' if cls else "") + ("\n" if line_break else "")


attrs = st.builds(_attrs, hrefs, st.sampled_from(CLASSES), st.booleans())
html = st.recursive(
    text.map(lambda t: t.replace("<", "&lt;")),
    lambda inner: st.builds(
        lambda tag, attr, children, closed: (
            f"<{tag}{attr}>{''.join(children)}" + (f"</{tag}>" if closed else "")
        ),
        st.sampled_from(TAGS),
        attrs,
        st.lists(inner, max_size=4),
        st.booleans(),
    ),
    max_leaves=25,
)
json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.sampled_from(HREFS)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["@type", "headline", "author", "name", "url", "@graph", "@id"]),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=10,
)


def _ld(value: object, kind: str, broken: bool) -> str:
    data = {"@type": kind, "headline": value, "author": value, "url": value, "@graph": value}
    source = json.dumps(data) if not broken else json.dumps(data)[:-3]
    return f'<script type="application/ld+json">{source}</script>'


json_ld = st.builds(_ld, json_values, st.sampled_from(["NewsArticle", "Thing", ""]), st.booleans())
metas = st.builds(
    lambda name, value: f'<meta property="{name}" content="{value.replace(chr(34), "")}">',
    st.sampled_from(["og:title", "og:url", "og:site_name", "description", "author"]),
    st.one_of(text, hrefs),
)
canonical = st.one_of(hrefs, st.just("https://example.com/news/")).map(
    lambda h: f'<link rel="canonical" href="{h.replace(chr(34), "")}">'
)
pages = st.builds(
    lambda title, head, body: (
        f"<!doctype html><html><head><title>{title}</title>{''.join(head)}</head>"
        f"<body>{''.join(body)}</body></html>"
    ),
    text.map(lambda t: t.replace("<", "&lt;")),
    st.lists(st.one_of(json_ld, metas, canonical), max_size=4),
    st.lists(html, max_size=4),
)
text_lines = st.one_of(
    text,
    st.builds(lambda parts: "/ ".join(parts), st.lists(text, min_size=4, max_size=7)),
    text.map(lambda t: "- " + t),
    st.sampled_from(["Key Points: Quick Looks", "- Label: a point", "Leave a comment", ""]),
)
texts = st.lists(text_lines, max_size=10).map("\n".join)


# --- the round trip -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def publication(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("import-fuzz") / "publication"
    shutil.copytree(FIXTURE, root)
    (root / "templates").mkdir()
    toml = root / "briefing.toml"
    toml.write_text(toml.read_text().replace('"../../../templates"', '"templates"'))
    build(root, jobs=1)  # later builds render only the issue that changed
    return root


def _imports_and_builds(root: Path, name: str, data: bytes) -> None:
    """Import the file: a located one-line error, or an article that loads and builds."""
    source = root.parent / name
    source.write_bytes(data)
    try:
        article = import_article(source, name)
    except BriefingError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == name, problem
            assert "\n" not in str(problem), problem
        return
    written = write_article(article, root / ISSUE)
    try:
        build(root, jobs=1)  # raises a BriefingError if the written file is refused
    finally:
        written.unlink()


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(page=pages)
def test_random_pages_import_and_build(publication: Path, page: str) -> None:
    _imports_and_builds(publication, "page.html", page.encode("utf-8", "surrogatepass"))


@FUZZ
@given(export=texts)
def test_random_text_exports_import_and_build(publication: Path, export: str) -> None:
    _imports_and_builds(publication, "story.txt", export.encode("utf-8", "surrogatepass"))


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".txt", ".html"]))
def test_random_bytes_import_or_give_a_located_error(
    publication: Path, data: bytes, suffix: str
) -> None:
    _imports_and_builds(publication, "raw" + suffix, data)


# --- hand-made hostile files ------------------------------------------------------------


def _page(head: str = "", body: str = "<p>Text.</p>") -> str:
    head = f"<head><title>A title</title>{head}</head>"
    return f"<html>{head}<body><article>{body}</article></body></html>"


@pytest.mark.parametrize(
    "page",
    [
        _page(body='<p><a href="http://[bad">a link</a> to nowhere.</p>'),
        _page(body='<p><a href="http://x:99999/">a link</a> to nowhere.</p>'),
        _page('<link rel="canonical" href="http://[bad">', '<p><a href="/x">relative</a></p>'),
        _page('<meta property="og:url" content="http://x:99999/">', '<p><a href="/x">r</a></p>'),
        _page('<script type="application/ld+json">' + "[" * 10_000 + "]" * 10_000 + "</script>"),
        _page('<script type="application/ld+json">' + '{"a":' * 10_000 + "1" + "}" * 10_000 + "</"),
        _page('<script type="application/ld+json">' + '{"@graph":[' * 500 + "]}" * 500),
        _page('<script type="application/ld+json">{"@type": "Article", "headline": </script>'),
        _page(body="<div>" * 5_000 + "deep text" + "</div>" * 5_000),
    ],
    ids=[
        "ipv6",
        "port",
        "canonical",
        "og-url",
        "ld-list",
        "ld-object",
        "ld-graph",
        "ld-bad",
        "div",
    ],
)
def test_hostile_pages_import_and_build(publication: Path, page: str) -> None:
    _imports_and_builds(publication, "hostile.html", page.encode())


def test_a_malformed_link_is_dropped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(_page(body='<p><a href="http://[bad">a link</a> and text.</p>'))
    article = import_article(path, "page.html")
    assert "a link and text." in article.body and "](" not in article.body
    assert any("invalid link 'http://[bad'" in note for note in article.notes)


def test_deep_json_ld_is_ignored_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        _page('<script type="application/ld+json">' + "[" * 10_000 + "]" * 10_000 + "</script>")
    )
    assert any("JSON-LD nested too deeply" in n for n in import_article(path, "p.html").notes)


def _refused(path: Path) -> str:
    with pytest.raises(BriefingError) as caught:
        import_article(path, path.name)
    (problem,) = caught.value.problems
    assert problem.file == path.name
    return problem.message


def test_unreadable_files_are_one_located_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.html").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "latin.txt").write_bytes(b"Title\ncaf\xe9")
    (tmp_path / "huge.html").write_bytes(b"<p>" + b"x" * MAX_IMPORT_BYTES + b"</p>")
    os.mkfifo(tmp_path / "pipe.html")
    assert "is empty" in _refused(tmp_path / "empty.txt")
    assert "binary" in _refused(tmp_path / "binary.html")
    assert "not UTF-8" in _refused(tmp_path / "latin.txt")
    assert "larger than 8 MB" in _refused(tmp_path / "huge.html")
    assert "not a regular file" in _refused(tmp_path / "pipe.html")  # and does not hang


def test_a_named_symlink_is_followed(tmp_path: Path) -> None:
    """The importer reads what the user names; a link the user names is followed."""
    (tmp_path / "story.txt").write_text("A headline\nA paragraph.\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "story.txt")
    assert import_article(tmp_path / "link.txt").headline == "A headline"


def test_the_command_reports_one_line_and_exits_1(fixture_pub: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.html")
    (tmp_path / "deep.html").write_text(
        _page('<script type="application/ld+json">' + "[" * 10_000 + "]" * 10_000 + "</script>")
    )
    (tmp_path / "bad.html").write_bytes(b"\xff\xfe\x00\xd8broken")
    for name in ("pipe.html", "bad.html"):
        done = subprocess.run(
            [sys.executable, "-m", "briefing", "--project", str(fixture_pub), "import",
             str(tmp_path / name)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1, done
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith(f"error: {tmp_path / name}"), done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "briefing", "--project", str(fixture_pub), "import",
         "--into", "second-wind", str(tmp_path / "deep.html")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "JSON-LD nested too deeply" in done.stderr
