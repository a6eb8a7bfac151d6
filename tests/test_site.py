"""The site layout, what a build reports it rendered, preview's incremental check, the
loader's reuse callback."""

from __future__ import annotations

from pathlib import Path

import pytest

from briefing import site
from briefing.build import build
from briefing.check import Finding, check
from briefing.config import load_config
from briefing.model import Issue
from briefing.output import MANIFEST
from briefing.preview import Preview
from briefing.sources import load_publication

BASE = "https://news.example.org/weekly/"


def test_an_output_has_one_path_and_its_urls() -> None:
    assert site.ISSUE_PAGE.path(slug="a") == "issues/a/index.html"
    assert site.ISSUE_PAGE.url(slug="a") == "issues/a/"
    assert site.ISSUE_PAGE.absolute(BASE, slug="a") == BASE + "issues/a/"
    assert site.issue_folder("a") == "issues/a/"
    assert site.EMAIL_TEXT.url(slug="a") == "issues/a/email.txt"
    assert site.INDEX.url() == "" and site.INDEX.absolute(BASE) == BASE
    assert site.JSON_FEED.absolute(BASE) == BASE + "feed.json"
    # An image named like an index page is not a folder URL.
    assert site.ISSUE_ASSET.url(slug="a", name="myindex.html") == "issues/a/myindex.html"
    assert site.EMAIL_HTML.matches("issues/a/email.html")
    assert not site.EMAIL_HTML.matches("issues/a/b/email.html")


def test_page_urls_are_relative_to_the_page() -> None:
    on_issue = site.Urls.page(site.ISSUE_PAGE.path(slug="a"))
    assert on_issue.home == "../../"
    assert on_issue.tag("trade") == "../../tags/trade/"
    assert on_issue.issue("b") == "../../issues/b/"
    assert on_issue.stylesheet == "../../style.css"
    on_index = site.Urls.page(site.INDEX.path())
    assert (on_index.home, on_index.rss, on_index.issue("b")) == ("", "rss.xml", "issues/b/")
    absolute = site.Urls(BASE)
    assert (absolute.atom, absolute.tag("x")) == (BASE + "atom.xml", BASE + "tags/x/")


def test_every_file_a_build_writes_is_a_declared_output(example: Path, tmp_path: Path) -> None:
    declared = [v for v in vars(site).values() if isinstance(v, site.Output)]
    out = tmp_path / "site"
    build(example, out, jobs=1)
    written = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    undeclared = [p for p in written if p != MANIFEST and not any(o.matches(p) for o in declared)]
    assert written and undeclared == []


def test_build_reports_the_groups_it_rendered(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = build(example, out, jobs=1)
    assert first.rendered == set(first.groups)
    assert {"index", "feeds", "style", "issue:tariff-timeline"} <= first.rendered
    assert "issues/tariff-timeline/email.html" in first.groups["issue:tariff-timeline"]
    assert build(example, out, jobs=1).rendered == set()
    article = next((example / "issues").glob("2025-06-10-*/01-*.md"))
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    # The feeds hold the issue whole; the index and tag pages list nothing that changed.
    assert build(example, out, jobs=1).rendered == {"issue:tariff-timeline", "feeds"}


def _full_check(preview: Preview) -> list[Finding]:
    assert preview.state.publication is not None
    return check(preview.state.publication)


def test_preview_rechecks_only_what_the_build_rendered(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import briefing.preview as preview_module

    checked: list[set[str]] = []
    original = preview_module.check_built

    def spy(publication, out_dir, groups, names):  # type: ignore[no-untyped-def]
        checked.append(set(names))
        return original(publication, out_dir, groups, names)

    monkeypatch.setattr(preview_module, "check_built", spy)
    out = tmp_path / "site"
    build(example, out, jobs=1)  # a warm cache: the preview's first build renders nothing
    preview = Preview(example, out, lambda line: None)
    preview.rebuild()
    assert preview.state.errors == []
    assert len(checked[0]) > 5  # the first rebuild checks everything anyway
    assert preview.state.findings == _full_check(preview)

    article = next((example / "issues").glob("2025-06-10-*/01-*.md"))
    article.write_text(article.read_text() + "\nSee [the old page](http://example.com/x).\n")
    preview.rebuild()
    assert checked[1] == {"issue:tariff-timeline", "feeds"}
    assert any(f.rule == "http-url" and article.name in f.file for f in preview.state.findings)
    assert preview.state.findings == _full_check(preview)

    article.write_text(article.read_text().replace("http://", "https://"))
    preview.rebuild()
    assert not any(f.rule == "http-url" for f in preview.state.findings)
    assert preview.state.findings == _full_check(preview)


def test_the_loader_takes_what_reuse_returns_instead_of_reading(example: Path) -> None:
    config = load_config(example)
    before = load_publication(config)
    kept = {issue.folder.name: issue for issue in before.issues}
    asked: list[str] = []

    def reuse(folder: str) -> Issue | None:  # the folder's path, as text
        asked.append(Path(folder).name)
        return kept.get(Path(folder).name)

    # A folder reuse answers for is not read: breaking its issue.md changes nothing.
    issue_md = example / "issues/2025-06-10-tariff-timeline/issue.md"
    issue_md.write_text("not front matter\n")
    after = load_publication(config, reuse)
    assert sorted(asked) == sorted(kept)
    assert after.issues == before.issues


def test_feeds_render_again_only_the_entry_of_the_issue_edited(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import briefing.render.feeds as feeds

    out = tmp_path / "site"
    build(example, out, jobs=1)
    rendered: list[str] = []
    original = feeds._content

    def spy(publication, view, theme):  # type: ignore[no-untyped-def]
        rendered.append(view.issue.slug)
        return original(publication, view, theme)

    monkeypatch.setattr(feeds, "_content", spy)
    article = next((example / "issues").glob("2025-06-10-*/01-*.md"))
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    build(example, out, jobs=1)
    assert rendered == ["tariff-timeline"]
    build(example, tmp_path / "clean", jobs=1, clean=True)
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()
    assert b"One more sentence." in (out / "feed.json").read_bytes()


def test_a_kept_feed_entry_keeps_its_lead_image_until_the_image_changes(
    fixture_pub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feeds keep each entry's lead image with its content: an edit to the newest
    issue reads no other issue's articles back, and a lead image replaced (same name,
    other bytes) shows in the enclosure as a fresh build's does."""
    import briefing.cache.stored_issues as stored

    out = tmp_path / "site"
    build(fixture_pub, out, jobs=1)
    assert b'/issues/first-light/lamp.png" length="74"' in (out / "rss.xml").read_bytes()
    read_back: list[str] = []
    real = stored._read_body

    def spy(issue: stored.StoredIssue) -> tuple[object, ...]:
        read_back.append(issue.slug)
        return real(issue)

    monkeypatch.setattr(stored, "_read_body", spy)
    newest = fixture_pub / "issues/2025-01-14-second-wind/02-calm.md"
    newest.write_text(newest.read_text() + "\nOne more sentence.\n")
    result = build(fixture_pub, out, jobs=1)
    assert "feeds" in result.rendered and read_back == []
    lamp = fixture_pub / "issues/2025-01-07-first-light/lamp.png"
    lamp.write_bytes((lamp.parent / "tower.png").read_bytes())  # 73 bytes, not 74
    assert "feeds" in build(fixture_pub, out, jobs=1).rendered
    build(fixture_pub, tmp_path / "clean", jobs=1, clean=True)
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()
    assert b'lamp.png" length="73"' in (out / "rss.xml").read_bytes()
