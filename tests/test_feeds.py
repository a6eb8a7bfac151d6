"""Feeds: parsed with feedparser and lxml, checked against RSS 2.0, RFC 4287 and JSON Feed 1.1."""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree, html

from briefing.build import build

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import copy_example

    out = tmp_path_factory.mktemp("site")
    build(copy_example(tmp_path_factory.mktemp("project")), out, jobs=1)  # never the checkout
    return out


def _urls(fragment: str) -> list[str]:
    tree = html.fromstring(f"<div>{fragment}</div>")
    return [el.get(attr) for attr in ("href", "src") for el in tree.iter() if el.get(attr)]


def _dates(site: Path) -> list[datetime]:
    return [datetime.fromisoformat(i["date_published"]) for i in _json(site)["items"]]


def _json(site: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((site / "feed.json").read_text("utf-8"))


@pytest.mark.parametrize("name,version", [("rss.xml", "rss20"), ("atom.xml", "atom10")])
def test_feedparser_reads_the_feed_without_complaint(site: Path, name: str, version: str) -> None:
    parsed = feedparser.parse((site / name).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    assert len(parsed.entries) == 3
    assert [e.link for e in parsed.entries] == [
        "https://briefing.example.com/issues/critical-minerals-chips/",
        "https://briefing.example.com/issues/tariff-timeline/",
        "https://briefing.example.com/issues/trump-xi-call/",
    ]
    for entry in parsed.entries:
        assert entry.content[0].type == "text/html"
        assert entry.summary


def test_rss_follows_the_rss_2_spec(site: Path) -> None:
    channel = etree.parse(str(site / "rss.xml")).getroot().find("channel")
    assert channel is not None
    for required in ("title", "link", "description"):
        assert channel.findtext(required), f"channel <{required}> is required"
    self_link = channel.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == "https://briefing.example.com/rss.xml"
    parsedate_to_datetime(channel.findtext("lastBuildDate"))  # RFC 822 date
    guids = []
    for item in channel.findall("item"):
        assert item.findtext("title") and item.findtext("link")
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        guids.append(guid.text)
        published = parsedate_to_datetime(item.findtext("pubDate"))
        assert published.tzinfo is not None
        encoded = item.findtext(f"{CONTENT}encoded")
        assert encoded and "<p>" in encoded
        assert all(u.startswith("https://") for u in _urls(encoded))
    assert len(set(guids)) == len(guids) == 3


def test_atom_follows_rfc_4287(site: Path) -> None:
    feed = etree.parse(str(site / "atom.xml")).getroot()
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.findtext(f"{ATOM}{required}"), f"atom:feed needs atom:{required} (4.1.1)"
    assert RFC3339.match(feed.findtext(f"{ATOM}updated") or "")
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None, "4.1.1: feed or every entry"
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert (
        self_link is not None and self_link.get("href") == "https://briefing.example.com/atom.xml"
    )
    ids = []
    for entry in feed.findall(f"{ATOM}entry"):
        ids.append(entry.findtext(f"{ATOM}id"))
        assert entry.findtext(f"{ATOM}title")
        assert RFC3339.match(entry.findtext(f"{ATOM}updated") or "")
        assert RFC3339.match(entry.findtext(f"{ATOM}published") or "")
        # 4.2.7.2: a link without rel is rel="alternate".
        alternates = [
            link
            for link in entry.findall(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        assert alternates and alternates[0].get("href", "").startswith("https://")
        content = entry.find(f"{ATOM}content")
        assert content is not None and content.get("type") == "html"
        assert all(u.startswith("https://") for u in _urls(content.text or ""))
        assert entry.findtext(f"{ATOM}summary")
    assert len(set(ids)) == len(ids) == 3
    assert all(i.startswith("tag:briefing.example.com,2025-06-") for i in ids)


def test_json_feed_follows_version_1_1(site: Path) -> None:
    feed = _json(site)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "The Briefing"
    assert feed["feed_url"] == "https://briefing.example.com/feed.json"
    assert feed["home_page_url"] == "https://briefing.example.com/"
    assert isinstance(feed["authors"], list) and feed["authors"][0]["name"]
    ids = [item["id"] for item in feed["items"]]
    assert len(set(ids)) == len(ids) == 3
    for item in feed["items"]:
        assert isinstance(item["id"], str)
        assert item["content_html"] and item["url"].startswith("https://")
        assert RFC3339.match(item["date_published"]) and RFC3339.match(item["date_modified"])
        assert all(u.startswith("https://") for u in _urls(item["content_html"]))


def test_entries_are_newest_first(site: Path) -> None:
    dates = _dates(site)
    assert dates == sorted(dates, reverse=True)


def test_ids_do_not_depend_on_title_or_build(example: Path, tmp_path: Path) -> None:
    build(example, tmp_path / "one", jobs=1)
    issue_md = next((example / "issues").glob("2025-06-03-*/issue.md"))
    issue_md.write_text(re.sub(r"(?m)^title: .*$", 'title: "A new title"', issue_md.read_text()))
    build(example, tmp_path / "two", jobs=1)
    ids_one = [i["id"] for i in _json(tmp_path / "one")["items"]]
    two = _json(tmp_path / "two")
    assert [i["id"] for i in two["items"]] == ids_one
    assert two["items"][2]["title"] == "A new title"


def test_feeds_hold_only_the_newest_issues(example: Path, tmp_path: Path) -> None:
    toml = example / "briefing.toml"
    toml.write_text(toml.read_text().replace("max_items = 20", "max_items = 2"))
    build(example, tmp_path / "site", jobs=1)
    assert len(_json(tmp_path / "site")["items"]) == 2
    assert len(feedparser.parse((tmp_path / "site" / "rss.xml").read_bytes()).entries) == 2
    assert (tmp_path / "site" / "issues" / "trump-xi-call" / "index.html").exists()


def test_feed_updated_comes_from_the_sources(site: Path) -> None:
    feed = etree.parse(str(site / "atom.xml")).getroot()
    assert feed.findtext(f"{ATOM}updated") == "2025-06-17T07:00:00-04:00"


def test_feed_content_says_what_the_email_says(site: Path) -> None:
    """Every paragraph of every article in the email appears in the feed entry."""
    items = {item["url"]: item["content_html"] for item in _json(site)["items"]}
    for page_url, content in items.items():
        slug = page_url.rstrip("/").rsplit("/", 1)[1]
        email = html.fromstring((site / "issues" / slug / "email.html").read_bytes())
        feed = html.fromstring(f"<div>{content}</div>")
        email_paragraphs = [
            " ".join(p.text_content().split())
            for p in email.iter("p", "li", "h2")
            if "{{" not in p.text_content() and p.text_content().strip()
        ]
        feed_text = " ".join(feed.text_content().split())
        missing = [p for p in email_paragraphs if p not in feed_text]
        # The footer (reason, unsubscribe, address) is email-only.
        assert len(missing) <= 3, missing
        assert len(email_paragraphs) > 20
