"""Drafts and future issues: what a build publishes at a given cut-off (never the clock),
what preview shows, what send and check say; and the files a static host expects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from lxml import etree

from briefing.build import build, load
from briefing.cache import CACHE_FILE
from briefing.check.calendar import calendar_findings
from briefing.cli import cli
from briefing.errors import SendError
from briefing.send.prepare import prepare_issue

SCHEMA = Path(__file__).resolve().parent / "fixtures" / "schemas" / "sitemap-0.9.xsd"
DRAFT = "tariff-timeline"
FUTURE = "critical-minerals-chips"  # dated 2025-06-17T07:00:00-04:00
BEFORE_IT = datetime(2025, 6, 17, 10, 59, tzinfo=UTC)
AT_IT = datetime(2025, 6, 17, 11, 0, tzinfo=UTC)


def _set(root: Path, slug: str, line: str) -> None:
    """Add a front matter line to the issue.md of the issue slug."""
    index = next((root / "issues").glob(f"*-{slug}/issue.md"))
    index.write_text(index.read_text(encoding="utf-8").replace("---\n", f"---\n{line}\n", 1))


def _files(site: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(site)): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_a_draft_is_in_no_published_output_and_in_preview(example: Path, tmp_path: Path) -> None:
    _set(example, DRAFT, "draft: true")
    site = tmp_path / "site"
    result = build(example, site, jobs=1)
    assert [i.slug for i in result.held_back] == [DRAFT]
    files = _files(site)
    assert not any(DRAFT in path for path in files)
    title = load(example).issue(DRAFT).title  # type: ignore[union-attr]
    for path, data in files.items():
        assert DRAFT.encode() not in data, path
        assert title.encode() not in data, path
    # Preview builds it, marked, with the others.
    shown = tmp_path / "preview"
    preview = build(example, shown, jobs=1, drafts=True)
    assert DRAFT in [i.slug for i in preview.publication.issues]
    page = (shown / "issues" / DRAFT / "index.html").read_text(encoding="utf-8")
    assert 'class="draft-mark"' in page
    # Published once, a draft again: the next build takes its files away.
    _set(example, "trump-xi-call", "draft: true")
    build(example, site, jobs=1)
    assert not (site / "issues" / "trump-xi-call").exists()


def test_send_refuses_a_draft_and_check_reports_it(example: Path, tmp_path: Path) -> None:
    build(example, example / "site", jobs=1)  # built while still published
    _set(example, DRAFT, "draft: true")
    publication = load(example)
    with pytest.raises(SendError, match="is a draft"):
        prepare_issue(publication, DRAFT, example / "site")
    findings = calendar_findings(publication, BEFORE_IT)
    rules = {(rule, file.split("/")[1]) for file, _, rule, _ in findings}
    assert ("draft", f"2025-06-10-{DRAFT}") in rules
    assert ("future", f"2025-06-17-{FUTURE}") in rules
    draft = next(f for f in findings if f[2] == "draft")
    assert draft[1] == 2  # the line we added
    assert not any(f[2] == "future" for f in calendar_findings(publication, AT_IT))


def test_the_cut_off_decides_and_the_same_cut_off_gives_the_same_site(
    example: Path, tmp_path: Path
) -> None:
    early = build(example, tmp_path / "a", jobs=1, as_of=BEFORE_IT)
    assert [i.slug for i in early.held_back] == [FUTURE]
    assert not (tmp_path / "a" / "issues" / FUTURE).exists()
    feed = feedparser.parse((tmp_path / "a" / "rss.xml").read_bytes())
    assert FUTURE not in " ".join(e.link for e in feed.entries)
    recorded = json.loads((example / CACHE_FILE).read_text())
    assert recorded["as_of"] == BEFORE_IT.isoformat()

    on_time = build(example, tmp_path / "b", jobs=1, as_of=AT_IT)
    assert on_time.held_back == () and (tmp_path / "b" / "issues" / FUTURE).is_dir()
    again = build(example, tmp_path / "c", jobs=1, clean=True, as_of=BEFORE_IT)
    assert again.held_back == early.held_back
    assert _files(tmp_path / "a") == _files(tmp_path / "c")  # byte for byte


def test_build_cli_prints_the_cut_off(example: Path) -> None:
    result = CliRunner().invoke(cli, ["--project", str(example), "build", "--as-of", "2025-06-10"])
    assert result.exit_code == 0, result.output
    assert "Cut-off 2025-06-10T23:59:59+00:00" in result.output
    assert f"held back (next: {FUTURE}" in result.output
    bad = CliRunner().invoke(cli, ["--project", str(example), "build", "--as-of", "soon"])
    assert bad.exit_code != 0 and "is not an ISO 8601 date" in bad.output


def test_sitemap_validates_against_the_sitemaps_schema(fixture_pub: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build(fixture_pub, site, jobs=1)
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    sitemap = etree.parse(str(site / "sitemap.xml"))
    assert schema.validate(sitemap), schema.error_log
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = sitemap.xpath("//s:loc/text()", namespaces=ns)
    base = "https://news.example.org/weekly/"
    assert base in locs and base + "tags/" in locs and base + "issues/first-light/" in locs
    assert not any(loc.endswith(("email.html", "email.txt")) for loc in locs)
    # The schema is a real check: a relative loc and a zone-less lastmod fail it.
    bad = etree.fromstring(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>issues/x/</loc>'
        b"<lastmod>2025-01-01T10:00:00</lastmod></url></urlset>"
    )
    assert not schema.validate(bad)


def test_robots_404_tags_index_and_pages(fixture_pub: Path, tmp_path: Path) -> None:
    toml = fixture_pub / "briefing.toml"
    toml.write_text(toml.read_text() + '\n[site]\nper_page = 1\nfavicon = "icon.png"\n')
    (fixture_pub / "icon.png").write_bytes(
        next((fixture_pub / "issues").glob("*/lamp.png")).read_bytes()
    )
    site = tmp_path / "site"
    build(fixture_pub, site, jobs=1)
    robots = (site / "robots.txt").read_text()
    assert "Sitemap: https://news.example.org/weekly/sitemap.xml" in robots
    assert "Disallow: /weekly/issues/*/email.html" in robots
    missing = (site / "404.html").read_text()
    assert 'href="/weekly/style.css"' in missing and 'href="/weekly/"' in missing
    tags = (site / "tags" / "index.html").read_text()
    assert 'href="../tags/fixtures/"' in tags and "(2 issues)" in tags
    first, second = (site / "index.html").read_text(), (site / "page/2/index.html").read_text()
    assert 'rel="next" href="page/2/"' in first and 'rel="prev" href="../../"' in second
    assert "Page 2 of 2" in second
    assert 'rel="icon" href="favicon.png"' in first and (site / "favicon.png").is_file()


def test_an_icon_changed_in_place_is_copied_again(fixture_pub: Path, tmp_path: Path) -> None:
    # The same name, new bytes: the site must not keep serving the old icon.
    toml = fixture_pub / "briefing.toml"
    toml.write_text(toml.read_text() + '\n[site]\nfavicon = "icon.png"\nfeed_icon = "feed.png"\n')
    lamp = next((fixture_pub / "issues").glob("*/lamp.png")).read_bytes()
    (fixture_pub / "icon.png").write_bytes(lamp)
    (fixture_pub / "feed.png").write_bytes(lamp)
    site = tmp_path / "site"
    build(fixture_pub, site, jobs=1)
    assert (site / "favicon.png").read_bytes() == lamp
    (fixture_pub / "icon.png").write_bytes(lamp + b"new")
    result = build(fixture_pub, site, jobs=1)
    assert (site / "favicon.png").read_bytes() == lamp + b"new"
    assert (site / "feed-icon.png").read_bytes() == lamp
    assert result.report.written == 1  # the icon, nothing else


def test_feeds_carry_the_lead_image_and_the_pages_a_card(fixture_pub: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build(fixture_pub, site, jobs=1)
    lamp = "https://news.example.org/weekly/issues/first-light/lamp.png"
    rss = feedparser.parse((site / "rss.xml").read_bytes())
    assert not rss.bozo
    entry = next(e for e in rss.entries if "first-light" in e.link)
    assert [(x.href, x.type) for x in entry.enclosures] == [(lamp, "image/png")]
    atom = feedparser.parse((site / "atom.xml").read_bytes())
    assert not atom.bozo
    items = json.loads((site / "feed.json").read_text())["items"]
    assert next(i for i in items if "first-light" in i["url"])["image"] == lamp
    page = (site / "issues/first-light/index.html").read_text()
    assert f'<meta property="og:image" content="{lamp}">' in page
    assert '<meta name="twitter:card" content="summary_large_image">' in page


def test_the_sites_email_copy_is_valid_unlisted_and_what_send_delivers(
    example: Path, tmp_path: Path
) -> None:
    from lxml import html as lxml_html

    from briefing.render.context import views
    from briefing.render.email import render_email
    from briefing.render.review import delivered_html
    from briefing.render.theme import Theme

    site = tmp_path / "site"
    build(example, site, jobs=1)
    publication = load(example)
    theme = Theme.load(publication.config)
    base = publication.config.publication.base_url
    for view in views(publication):
        copy = (site / "issues" / view.issue.slug / "email.html").read_text(encoding="utf-8")
        hrefs = [a.get("href") for a in lxml_html.fromstring(copy).iter("a")]
        assert hrefs and all(h.startswith(("https://", "mailto:")) for h in hrefs), hrefs
        assert "{{ unsubscribe_url }}" not in copy
        # Byte for byte what send fills, once the one link is put back.
        assert delivered_html(copy, base) == render_email(publication, view, theme)
    sitemap = (site / "sitemap.xml").read_text()
    assert "email.html" not in sitemap and "email.txt" not in sitemap
    pages = [p for p in site.rglob("*.html") if p.name != "email.html"]
    assert not any("email.html" in p.read_text(encoding="utf-8") for p in pages)


def test_preview_shows_drafts_and_future_issues_marked(example: Path, tmp_path: Path) -> None:
    from briefing.preview import Preview, dashboard

    _set(example, DRAFT, "draft: true")
    preview = Preview(example, tmp_path / "preview", lambda line: None)
    preview.rebuild()
    assert preview.state.errors == []
    shown = [i.slug for i in preview.state.publication.issues]  # type: ignore[union-attr]
    assert DRAFT in shown and FUTURE in shown
    page = dashboard(preview, DRAFT)
    assert "(draft)" in page
    assert (tmp_path / "preview" / "issues" / DRAFT / "index.html").is_file()


def test_an_icon_must_be_a_file_inside_the_project(fixture_pub: Path, tmp_path: Path) -> None:
    from briefing.errors import BriefingError

    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG")
    (fixture_pub / "icon.png").symlink_to(outside)
    toml = fixture_pub / "briefing.toml"
    toml.write_text(toml.read_text() + '\n[site]\nfeed_icon = "icon.png"\n')
    with pytest.raises(BriefingError, match=r"site\.feed_icon: icon\.png"):
        build(fixture_pub, tmp_path / "site", jobs=1)
    toml.write_text(toml.read_text().replace('"icon.png"', '"../icon.png"'))
    result = CliRunner().invoke(cli, ["--project", str(fixture_pub), "build"])
    assert result.exit_code == 1 and "site.feed_icon: must be a path inside the project" in (
        result.output
    )
