"""The same issues for Pelican and Hugo: their projects, their programs, their builds.

build_bench.py builds each right after each of briefing's cold builds. Each issue
becomes *one* page (its note, then every article's headline, dek, key points and
body), since an issue is the unit briefing publishes. Pelican comes from PyPI into
bench/.venv-pelican (installed on first use); Hugo is Debian's `hugo`. A tool that
cannot be found or installed is kept with the reason, and named how to install it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from benchlib import BENCH, Measurement, check, measure

PELICAN = "pelican[markdown]==4.12.0"
VENV = BENCH / ".venv-pelican"
INSTALL = "bash bench/install_tools.sh"  # Hugo, Postfix's test programs, Pelican, parsers


@dataclass
class Tool:
    """Another generator built from scratch right after each of briefing's cold builds, so
    that each pair of runs shares the machine's mood (ratios are the median of pairs)."""

    label: str  # name and version, or why it was skipped
    build: list[str] | None  # None: skipped
    out: Path | None = None  # removed before each build
    runs: list[Measurement] = field(default_factory=list)

    def run_once(self, name: str) -> None:
        if self.build is not None and self.out is not None:
            shutil.rmtree(self.out, ignore_errors=True)
            self.runs.append(check(measure(self.build), f"{name} build"))


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
            return None, f"could not install Pelican ({exc}; {' '.join(tail)}); see {INSTALL}"
        log.unlink(missing_ok=True)
    version = subprocess.run(
        [str(program), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return [str(program)], f"Pelican {version}"


def hugo_command() -> tuple[list[str] | None, str]:
    program = shutil.which("hugo")
    if not program:
        return None, f"hugo is not installed: apt-get install -y hugo (or {INSTALL})"
    version = subprocess.run([program, "version"], capture_output=True, text=True, check=False)
    words = version.stdout.split()
    return [program], f"Hugo {words[1] if len(words) > 1 else '?'}"


def prepare_tools(pristine: Path, tmp: Path, names: list[str]) -> dict[str, Tool]:
    """Pelican and Hugo projects of the same issues, ready to build; a tool that cannot be
    found or installed is kept with the reason it is skipped."""
    pages = issue_pages(pristine)
    found: dict[str, Tool] = {}
    if "pelican" in names:
        command, label = pelican_command()
        root = tmp / "pelican"
        if command is not None:
            shutil.rmtree(root, ignore_errors=True)
            write_pelican(pages, root)
            command = [*command, str(root / "content"), "-s", str(root / "pelicanconf.py")]
            command += ["-o", str(root / "output"), "-q"]
        found["Pelican"] = Tool(label, command, root / "output")
    if "hugo" in names:
        command, label = hugo_command()
        root = tmp / "hugo"
        if command is not None:
            shutil.rmtree(root, ignore_errors=True)
            write_hugo(pages, root)
            out = root / "out"
            command = [*command, "--source", str(root), "--destination", str(out / "public")]
            command += ["--cacheDir", str(out / "cache"), "--quiet"]
        found["Hugo"] = Tool(label, command, root / "out")
    for name, tool in found.items():
        print(f"  {name}: {tool.label}" + ("" if tool.build else " — SKIPPED"))
    return found
