"""Importing raw articles: plain text in the sample's shape and HTML pages → article files."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from html import unescape
from pathlib import Path

import lxml.html
import pytest
from markdown_it import MarkdownIt

from briefing.build import build, load
from briefing.errors import ContentError
from briefing.importer import (
    FRONT_MATTER_KEYS,
    ImportedArticle,
    article_markdown,
    article_slug,
    import_article,
    write_article,
)
from briefing.model import Article, KeyPoint, Markdown
from briefing.render.markdown import to_html
from briefing.render.scan import find_problems
from briefing.schema import ARTICLE_FIELDS, names

ARTICLES = Path(__file__).resolve().parent / "fixtures" / "articles"
SECOND_WIND = Path("issues") / "2025-01-14-second-wind"
FIXTURES = [
    "council-flood-barrier.txt",
    "science-bees-no-header.txt",
    "transit-night-buses.html",
    "library-minimal.html",
    "hostile-park-cleanup.html",
]


# --- helpers --------------------------------------------------------------------------------


def _words(text: str) -> str:
    """Text compared by its words only: Markdown and YAML punctuation and case ignored."""
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    return " " + re.sub(r"[\W_]+", " ", text.casefold()).strip() + " "


def assert_no_text_lost(pieces: list[str], article: ImportedArticle) -> None:
    """Every sentence of every piece of the input appears in the written article file."""
    written = _words(article_markdown(article))
    missing = [
        sentence
        for piece in pieces
        for sentence in re.split(r"(?<=[.!?])\s+", piece)
        if _words(sentence).strip() and _words(sentence) not in written
    ]
    assert not missing, f"lost from the output: {missing}"


def text_pieces(path: Path, debris_lines: set[int]) -> list[str]:
    """The input's text, minus the declared debris: header fields and key points split up."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    pieces: list[str] = []
    for number, line in enumerate(lines, start=1):
        if number in debris_lines or not line.strip():
            continue
        if number == 1 and line.count("/ ") >= 4:
            pieces += line.split("/ ", 5)
        elif line.startswith("- ") and ": " in line:
            pieces += line[2:].split(": ", 1)
        else:
            pieces.append(line)
    return pieces


def html_pieces(path: Path, region: str, debris: list[str]) -> list[str]:
    """The text of the page's body region (read by lxml), minus the declared debris."""
    tree = lxml.html.document_fromstring(path.read_text(encoding="utf-8"))
    (root,) = tree.xpath(region)
    for xpath in debris:
        for element in root.xpath(xpath):
            element.drop_tree()
    blocks = root.xpath(".//p | .//li | .//h2 | .//h3 | .//blockquote[not(p)]")
    return [" ".join(b.text_content().split()) for b in blocks]


def headings(body: str) -> list[str]:
    return re.findall(r"^## (.+)$", body, re.MULTILINE)


def quotes(body: str) -> list[str]:
    return [q for q in re.findall(r"^> (.+)$", body, re.MULTILINE)]


def links(body: str) -> list[str]:
    return re.findall(r"\]\(([^)]*)\)", body)


def loaded(root: Path, written: Path) -> Article:
    issue = load(root).issue("second-wind")
    assert issue is not None
    return next(a for a in issue.articles if a.path == written)


def import_fixture(name: str) -> ImportedArticle:
    return import_article(ARTICLES / name, name)


# --- (a) plain text in the sample's shape ----------------------------------------------------


def test_text_article_in_the_sample_shape() -> None:
    path = ARTICLES / "council-flood-barrier.txt"
    article = import_article(path, "council-flood-barrier.txt")
    assert article.headline == "Riverton Council Approves Flood Barrier After Late-Night Vote"
    assert article.source == "The Riverton Ledger"
    assert article.dateline == "RIVERTON"
    assert article.byline == "A. Okafor"
    assert article.edition == "Evening Edition"
    # Only the first five '/ ' split: the dek keeps its own slashes.
    assert article.dek.startswith("The council voted 7–2")
    assert "the plan/ paid for by a sewer surcharge/ leaves" in article.dek
    assert article.key_points_title == "Flood Barrier Vote: Quick Looks"
    assert [p.label for p in article.key_points] == [
        "Late Vote",
        "Who Pays",
        "East Bank Worries",
        "Next Steps",
    ]
    assert article.key_points[1].text.startswith("A monthly sewer surcharge of $4.50")
    assert headings(article.body) == [
        "Council Backs River Wall as Residents Split",
        "Who Pays for the Wall",
        "East Bank Left Waiting",
        "Is the East Bank Next?",
        "Conclusion: A Wall, a Fee and an Open Question",
    ]
    found = quotes(article.body)
    assert len(found) == 3
    assert found[0].startswith("“We have flooded three times")
    assert found[1].startswith('"It is a fair price')
    assert article.body.split("\n\n")[1].startswith("RIVERTON — After four hours")
    assert article.published is None
    assert article.notes == (
        "line 8: dropped the repeated headline",
        "line 9: dropped the section label 'Deep Look'",
        "line 26: dropped debris: 'You must Register or Login to post a comment.'",
    )
    assert "Register" not in article.body and "Deep Look" not in article.body
    assert article.body.count("Riverton Council Approves") == 0
    assert_no_text_lost(text_pieces(path, debris_lines={8, 9, 26}), article)


# --- (b) plain text without header or key points ----------------------------------------------


def test_text_article_without_header_or_key_points(tmp_path: Path) -> None:
    path = ARTICLES / "science-bees-no-header.txt"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the fixture is BOM + CRLF
    article = import_article(path, "science-bees-no-header.txt")
    assert article.headline == "Bees Tell Apart Groups of Up to Six Dots"
    assert (article.source, article.byline, article.dateline, article.edition) == ("",) * 4
    assert article.dek == "" and article.key_points == () and article.key_points_title == ""
    assert headings(article.body) == ["How the Test Worked", "What It Does Not Show"]
    assert quotes(article.body)[0].startswith("“They were far better")
    assert re.findall(r"^- (.+)$", article.body, re.MULTILINE) == [
        "Group A compared two dots with four dots.",
        "Group B compared four dots with six dots.",
        "Group C saw new numbers it had never been trained on.",
    ]
    # Stray '<' and '*' are text, not HTML or emphasis.
    html = to_html(article.body)
    assert "roughly &lt;3:1 against chance, with *some* bees" in html
    assert article.notes == ("line 14: dropped debris: 'Share this article'",)
    assert "\r" not in article_markdown(article) and "\ufeff" not in article_markdown(article)
    assert_no_text_lost(text_pieces(path, debris_lines={14}), article)
    # The same text with LF endings and no BOM imports identically.
    plain = tmp_path / "plain.txt"
    plain.write_bytes(raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n"))
    assert import_article(plain, "science-bees-no-header.txt") == article


# --- (c) HTML with JSON-LD ------------------------------------------------------------------


def test_html_article_with_json_ld() -> None:
    path = ARTICLES / "transit-night-buses.html"
    article = import_article(path, "transit-night-buses.html")
    assert article.headline == "Harbor City Adds Four Night Bus Routes"
    assert article.source == "Harbor Daily"
    assert article.source_url == "https://harbordaily.example/news/2025/03/night-buses/"
    assert article.byline == "Ana Ruiz and Tom Berg"
    assert article.dateline == "HARBOR CITY"
    assert article.dek == (
        "Four overnight routes start in April after a council vote; unions welcome the change."
    )
    assert article.published == datetime(2025, 3, 4, 18, 30, tzinfo=timezone(timedelta(hours=1)))
    assert article.key_points == () and article.edition == ""
    assert headings(article.body) == ["Who rides at night", "What it costs"]
    assert quotes(article.body) == [
        "“Nurses, bakers and cleaners keep this city running after midnight,” said council"
        " member Joan Pike.",
        "“They deserve a bus that comes more than once an hour.”",
    ]
    assert "- N3 and N4: two loops through the *northern estates*, every 30 minutes" in (
        article.body
    )
    assert "**€2.1 million**" in article.body
    # Relative links resolved against the canonical URL.
    assert links(article.body) == [
        "https://harbordaily.example/transit/plan.pdf",
        "https://harbordaily.example/news/2025/council/",
    ]
    body = article.body
    assert "Harbor City Adds" not in body  # the <h1> is the headline
    assert "Photo" not in body and "Tram extension" not in body and "Sport" not in body
    assert "rights reserved" not in body
    notes = "\n".join(article.notes)
    assert "line 27: <h1> is the headline" in notes
    assert "line 28: byline 'By Ana Ruiz and Tom Berg · 4 March 2025' not kept" in notes
    assert "line 48: dropped <figure> (image and caption): 'A night bus at the Quayside" in notes
    assert "line 53: dropped <aside>: 'Related Tram extension delayed again'" in notes
    pieces = html_pieces(
        path, "//article", ["//figure", "//aside", "//header/h1", "//p[@class='byline']"]
    )
    assert len(pieces) >= 10
    assert_no_text_lost(pieces, article)


# --- (d) HTML with missing fields ------------------------------------------------------------


def test_html_article_with_missing_fields() -> None:
    path = ARTICLES / "library-minimal.html"
    article = import_article(path, "library-minimal.html")
    assert article.headline == "Library Extends Weekend Hours"  # " | Town Notes" stripped
    assert (article.source, article.source_url, article.byline, article.dateline) == ("",) * 4
    assert article.dek == "" and article.published is None and article.key_points == ()
    assert headings(article.body) == [] and quotes(article.body) == []
    assert len(article.body.split("\n\n")) == 4
    # No page URL: a relative link cannot be resolved, so only its text stays.
    assert links(article.body) == []
    assert "on the library survey until" in article.body
    assert article.notes == (
        "line 2: dropped ' | Town Notes' from the <title> (the site's name?)",
        "line 6: removed the relative link '/library/survey' (the page's URL is unknown);"
        " kept its text 'library survey'",
    )
    assert_no_text_lost(html_pieces(path, "//body", []), article)


# --- (e) hostile HTML -----------------------------------------------------------------------

FORBIDDEN = ("javascript", "<script", "script>", "onclick", "onerror", "onload", "onmouseover")
FORBIDDEN += ("iframe", "<form", "<style", "<svg", "<img", "evil.example", "alert(", "data:")


def test_hostile_html_is_defused() -> None:
    path = ARTICLES / "hostile-park-cleanup.html"
    article = import_article(path, "hostile-park-cleanup.html")
    assert article.headline == "Park Cleanup Draws 300 Volunteers"
    assert article.source == "Eastside Bulletin"
    assert article.source_url == ""  # og:url was a javascript: URL
    written = article_markdown(article)
    rendered = to_html(article.body)
    for output in (written, rendered):
        lowered = output.lower()
        assert not [bad for bad in FORBIDDEN if bad in lowered], output
    assert "<" not in written
    assert links(article.body) == ["https://eastside.example/parks"]
    assert re.findall(r'href="([^"]*)"', rendered) == ["https://eastside.example/parks"]
    # The text of defused links stays; debris and embedded things are gone.
    for kept in ("youth football league", "local shops", "sign-up sheet", "20 new bins"):
        assert kept in article.body
    for gone in ("Share this", "Post it", "newsletter", "Join now", "vector text", "Subscribe"):
        assert gone not in article.body
    assert quotes(article.body) == [
        "“We will be back in the autumn with twice as many gloves,” said organiser Dee Mensah."
    ]
    notes = "\n".join(article.notes)
    for expected in (
        "line 12: removed onclick= from <h1>",
        "line 14: dropped <script>",
        "line 15: removed a javascript: link; kept its text 'youth football league'",
        "line 16: removed a javascript: link; kept its text 'local shops'",
        "line 17: removed a data: link; kept its text 'sign-up sheet'",
        "line 19: dropped <img src='x.png'> (images are not imported) with onerror=",
        "line 20: dropped <iframe>",
        "line 21: dropped <form>: 'Join now'",
        "line 22: dropped <style>",
        "line 23: dropped <div class='share-buttons'>: 'Share this Post it'",
        "line 24: dropped <div class='newsletter-signup'>: 'Sign up for our newsletter'",
        "line 27: dropped <svg> with onload=: 'vector text'",
        "line 28: dropped debris: 'Subscribe to the Eastside Bulletin for $1 a week.'",
        "line 29: dropped debris: 'You must Register or Login to post a comment.'",
        "og:url 'javascript:alert(document.domain)' is not an http(s) URL",
    ):
        assert expected in notes
    debris = ["//script", "//style", "//iframe", "//form", "//svg", "//h1"]
    debris += ["//div[contains(@class, 'share')]", "//div[contains(@class, 'newsletter')]"]
    debris += ["//p[starts-with(., 'Subscribe')]", "//p[starts-with(., 'You must')]"]
    assert_no_text_lost(html_pieces(path, "//main", debris), article)


# --- every fixture: the written file loads through the real loader ---------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_written_article_loads_with_the_same_fields(fixture_pub: Path, name: str) -> None:
    imported = import_fixture(name)
    written = write_article(imported, fixture_pub / SECOND_WIND)
    assert written.name == f"03-{article_slug(imported.headline)}.md"
    article = loaded(fixture_pub, written)
    for key in FRONT_MATTER_KEYS:
        assert getattr(article, key) == getattr(imported, key), key
    assert article.body.text == imported.body + "\n"
    assert article.image is None


def test_written_keys_are_article_keys() -> None:
    assert set(FRONT_MATTER_KEYS) <= set(names(ARTICLE_FIELDS))
    for name in FIXTURES:
        front = article_markdown(import_fixture(name)).split("\n---\n")[0]
        keys = re.findall(r"^([a-z_]+):", front, re.MULTILINE)
        assert set(keys) <= set(FRONT_MATTER_KEYS)
        assert keys[0] == "headline"


def test_the_importer_writes_every_article_field_but_the_image() -> None:
    # A field added to the schema fails here until the importer fills it (or skips it here).
    assert tuple(k for k in names(ARTICLE_FIELDS) if k != "image") == FRONT_MATTER_KEYS
    assert set(FRONT_MATTER_KEYS) <= {f.name for f in dataclasses.fields(ImportedArticle)}


def test_hostile_article_builds_into_clean_pages(fixture_pub: Path, tmp_path: Path) -> None:
    write_article(import_fixture("hostile-park-cleanup.html"), fixture_pub / SECOND_WIND)
    out = tmp_path / "site"
    build(fixture_pub, out, jobs=1)
    for page in ("index.html", "email.html", "email.txt"):
        built = (out / "issues" / "second-wind" / page).read_text().lower()
        assert "youth football league" in built
        for bad in ("javascript:", "alert(", "evil.example", "onerror", "onclick", "<iframe"):
            assert bad not in built, (page, bad)


@pytest.mark.parametrize(
    "values",
    [
        {"headline": "No", "edition": "1.10", "dateline": "yes"},
        {"headline": 'He said "no": #1 — ok', "dek": "a: b # c", "source": "- dash"},
        {"headline": "---", "byline": "@handle", "key_points_title": "[not a list]"},
        {"headline": "'single' & {braces}", "dek": "Tab\\ and \\\\ backslash"},
    ],
)
def test_front_matter_values_survive_yaml(fixture_pub: Path, values: dict[str, str]) -> None:
    imported = ImportedArticle(
        **values, key_points=(KeyPoint("Yes", "No: 1.10"),), body="Body text."
    )
    written = write_article(imported, fixture_pub / SECOND_WIND)
    article = loaded(fixture_pub, written)
    for key, value in values.items():
        assert getattr(article, key) == value
    assert article.key_points == (KeyPoint("Yes", "No: 1.10"),)


# --- hostile or awkward text -----------------------------------------------------------------

NASTY_LINES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)> is an image tag",
    "[click](javascript:alert(1)) and ![pic](javascript:alert(2))",
    "<!-- a comment --> and <?php echo 1; ?> and <![CDATA[x]]>",
    "&lt;b&gt;entity&lt;/b&gt; and &#60;script&#62;",
    "<https://example.com/autolink> and <mailto:someone@example.com>",
    "`code` and ``more`` and ~~struck~~ and *em* and __strong__",
    "# not a heading",
    "> not a quote either",
    "1. not a list",
    "2025) not a list",
    "+ not a list",
    "=== not a rule",
    "    not code",
    "<div onclick='x()'>block html</div>",
    "Trailing backslash \\",
]


def test_awkward_text_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "awkward.txt"
    path.write_text("Awkward Characters in Imported Text\n" + "\n".join(NASTY_LINES) + "\n")
    article = import_article(path, "awkward.txt")
    tokens = MarkdownIt("commonmark", {"html": True}).parse(article.body)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or ()}
    assert kinds <= {
        "paragraph_open",
        "paragraph_close",
        "inline",
        "text",
        "softbreak",
        "blockquote_open",
        "blockquote_close",
    }, kinds
    problems, images = find_problems(Markdown(article.body, path, 1), "awkward.txt")
    assert problems == [] and images == []
    html = to_html(article.body)
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "<h1" not in html and "<ol" not in html and "<ul" not in html and "<pre" not in html
    # Every line reads back exactly as written.
    text = unescape(re.sub(r"<[^>]+>", "", html))
    for line in NASTY_LINES:
        assert line.strip() in text


def test_merge_field_lookalikes_are_noted(tmp_path: Path) -> None:
    path = tmp_path / "merge.txt"
    path.write_text("Templates Explained\nThe syntax {{ name }} fills in a value.\n")
    article = import_article(path, "merge.txt")
    assert article.notes == ("line 2: '{{ name }}' will be read as a merge field; reword it",)


# --- text shape details ----------------------------------------------------------------------


def _text(tmp_path: Path, text: str) -> ImportedArticle:
    path = tmp_path / "article.txt"
    path.write_text(text, encoding="utf-8")
    return import_article(path, "article.txt")


def test_header_without_dek_and_key_point_without_label(tmp_path: Path) -> None:
    article = _text(
        tmp_path,
        "A Title/ The Source/ OSLO/ By Kari Nordmann/ Weekend\n"
        "Harbour: Quick Looks\n"
        "- Ferries: More departures from May.\n"
        "- no label in this one.\n"
        "OSLO — The harbour gets more ferries.\n",
    )
    assert (article.headline, article.source, article.dateline) == ("A Title", "The Source", "OSLO")
    assert article.byline == "Kari Nordmann" and article.edition == "Weekend"
    assert article.dek == ""
    assert article.key_points == (KeyPoint("Ferries", "More departures from May."),)
    assert article.body.startswith("- no label in this one.\n\nOSLO — The harbour")
    assert article.notes == (
        "line 4: key point without a 'Label:'; kept at the top of the body as a list",
    )


def test_quick_looks_without_points_stays_in_the_body(tmp_path: Path) -> None:
    article = _text(tmp_path, "Plain Title\nTown Hall: Quick Looks\nThe hall reopens.\n")
    assert article.key_points == () and article.key_points_title == ""
    assert "Town Hall: Quick Looks" in article.body


def test_subheadings_are_detected_conservatively(tmp_path: Path) -> None:
    lines = [
        "What Comes Next",  # heading
        "The vote was close.",  # sentence
        "“Not yet,” she said",  # quote, not a heading
        "Meanwhile",  # one word: a paragraph
        "residents were not told",  # lowercase start: a paragraph
        "Why it matters?",  # sentence-case question: a paragraph
        "Budget Talks Resume in May",  # heading
        "This line is long enough to be a paragraph even without a full stop at the end of it",
        "Final Word",  # last line: nothing follows, so a paragraph
    ]
    article = _text(tmp_path, "Some Title\nFirst paragraph here.\n" + "\n".join(lines) + "\n")
    assert headings(article.body) == ["What Comes Next", "Budget Talks Resume in May"]
    assert quotes(article.body) == ["“Not yet,” she said"]


def test_missing_header_with_dateline_in_the_body(tmp_path: Path) -> None:
    article = _text(tmp_path, "Quiet Night\nNEW YORK (AP) — Nothing happened.\n")
    assert article.headline == "Quiet Night" and article.dateline == "NEW YORK"


# --- HTML details ----------------------------------------------------------------------------


def _html(tmp_path: Path, text: str, name: str = "page.html") -> ImportedArticle:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return import_article(path, name)


def test_html_quick_looks_become_key_points(tmp_path: Path) -> None:
    article = _html(
        tmp_path,
        "<html><head><meta property='og:title' content='Pier Reopens | Coast News'>"
        "<meta property='article:published_time' content='2025-05-01T08:00:00Z'>"
        "<meta name='author' content='By Lee Park'></head><body><article>"
        "<p><strong>Pier Repairs: Quick Looks</strong></p>"
        "<ul><li><strong>Open Again:</strong> The pier reopens on Friday.</li>"
        "<li><strong>Cost:</strong> Repairs cost $2 million.</li></ul>"
        "<p>The pier closed after the winter storms.</p></article></body></html>",
        name="page.htm",
    )
    assert article.headline == "Pier Reopens" and article.byline == "Lee Park"
    assert article.published == datetime(2025, 5, 1, 8, tzinfo=UTC)
    assert article.key_points_title == "Pier Repairs: Quick Looks"
    assert article.key_points == (
        KeyPoint("Open Again", "The pier reopens on Friday."),
        KeyPoint("Cost", "Repairs cost $2 million."),
    )
    assert article.body == "The pier closed after the winter storms."


def test_html_without_time_zone_or_json(tmp_path: Path) -> None:
    article = _html(
        tmp_path,
        "<!doctype html><title>Fair Opens</title>"
        '<script type="application/ld+json">{not json</script>'
        "<body><h1>Fair Opens</h1><time datetime='2025-05-01T08:00'>May 1</time>"
        "<p>The fair opens.</p></body>",
        name="page.txt",  # HTML by content, whatever the suffix
    )
    assert article.headline == "Fair Opens" and article.published is None
    assert "line 1: JSON-LD that is not valid JSON was ignored" in article.notes
    assert any("'2025-05-01T08:00' has no time zone" in n for n in article.notes)
    assert "May 1" in article.body and "The fair opens." in article.body


def test_html_in_a_declared_legacy_charset(tmp_path: Path) -> None:
    path = tmp_path / "latin.html"
    path.write_bytes(
        b'<html><head><meta charset="iso-8859-1"><title>Caf\xe9 Closes</title></head>'
        b"<body><p>The caf\xe9 on the square closes.</p></body></html>"
    )
    article = import_article(path, "latin.html")
    assert article.headline == "Café Closes" and "The café on the square" in article.body


def test_html_nested_lists_code_and_breaks(tmp_path: Path) -> None:
    article = _html(
        tmp_path,
        "<title>Lists</title><body><ol><li>One<ul><li>Inner</li></ul></li><li>Two</li></ol>"
        "<pre>x = 1 &lt; 2</pre><p>Line one<br>Line two</p><p><a href='https://a.example/'>"
        "<img src='i.png'></a></p></body>",
    )
    assert "1. One\n   - Inner\n2. Two" in article.body
    assert "```\nx = 1 < 2\n```" in article.body
    assert "Line one\\\nLine two" in article.body
    assert any("images are not imported" in n for n in article.notes)


# --- unreadable input ------------------------------------------------------------------------


def test_unreadable_input_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match=r"^missing\.txt: cannot be read"):
        import_article(tmp_path / "missing.txt", "missing.txt")
    with pytest.raises(ContentError, match=r"^folder: cannot be read"):
        import_article(tmp_path, "folder")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"Title\nfine line\ncaf\xe9\n")
    with pytest.raises(ContentError, match=r"^latin\.txt:3: is not UTF-8 text \(byte 0xe9\)"):
        import_article(latin, "latin.txt")
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ContentError, match=r"^image\.png: is a binary file"):
        import_article(binary, "image.png")
    empty = tmp_path / "empty.txt"
    empty.write_text("\ufeff \n\n")
    with pytest.raises(ContentError, match=r"^empty\.txt:1: is empty"):
        import_article(empty, "empty.txt")
    with pytest.raises(ContentError, match=r"^bare\.html: no headline found"):
        _html(tmp_path, "<html><body><p>Text without any title.</p></body></html>", "bare.html")


def test_article_slug() -> None:
    assert article_slug("Trump Fixates on China’s Xi Call Amid Faltering Trade Talks") == (
        "trump-fixates-chinas-xi-call-amid"
    )
    assert article_slug("Café: naïve résumé!") == "cafe-naive-resume"
    assert article_slug("The A") == "the-a"
    assert article_slug("東京 ★") == "article"


def test_html_furniture_heuristics(tmp_path: Path) -> None:
    story = " ".join(f"Sentence {n} of the story is here." for n in range(40))
    article = _html(
        tmp_path,
        "<title>Wrapped Story</title><body>"
        "<article><h2>A teaser</h2><p>Short teaser text.</p></article>"
        "<article><div class='meta'><span class='byline'>By Mo Said</span></div>"
        f"<div class='story-body social-ready'><p>{story}</p>"
        "<p>More from the council meeting will follow on Friday.</p>"
        "<p>Ad</p><p>Implied<p>closing<ul><li>first<li>second</ul></div></article></body>",
    )
    assert article.byline == "Mo Said"
    assert "Sentence 39 of the story is here." in article.body  # the big wrapper is kept
    assert "More from the council meeting will follow on Friday." in article.body
    assert "Short teaser" not in article.body  # the larger <article> is the story
    assert "Implied\n\nclosing\n\n- first\n- second" in article.body
    assert "\nAd\n" not in article.body
    notes = "\n".join(article.notes)
    assert "kept <div class='story-body social-ready'> although its name suggests" in notes
    assert "dropped debris: 'Ad'" in notes


def test_deeply_nested_html_keeps_its_text(tmp_path: Path) -> None:
    depth = 3000
    article = _html(
        tmp_path,
        "<title>Deep</title><body>"
        + "<div><span>" * depth
        + "deep text"
        + "</span></div>" * depth
        + "<p>After.</p></body>",
    )
    assert article.body == "deep text\n\nAfter."


def test_page_without_body_text_still_loads(fixture_pub: Path, tmp_path: Path) -> None:
    article = _html(tmp_path, "<html><head><title>Only a Title</title></head></html>")
    assert article.body == ""
    assert article.notes == ("no body text found; the article has only its front matter",)
    written = write_article(article, fixture_pub / SECOND_WIND)
    assert loaded(fixture_pub, written).headline == "Only a Title"
