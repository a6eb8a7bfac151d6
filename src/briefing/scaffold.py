"""`briefing init` and `briefing new`: a publication that builds at once, and the next issue."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time
from pathlib import Path
from string import Template
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from briefing.config import CONFIG_NAME, key, load_config
from briefing.errors import BriefingError, ContentError, Problem, relative
from briefing.headers import header_value_problem
from briefing.model import Article, Issue
from briefing.placeholders import CARRIED_BODY, NOTE_SKELETON, STORY_SKELETON
from briefing.render.theme import PACKAGED
from briefing.schema import ARTICLE_FIELDS, ISSUE_FIELDS, Field, front_matter, quote
from briefing.sources import load_publication
from briefing.sources.issues import ISSUES_DIR, slugify

PACKAGE = Path(__file__).resolve().parent
STARTER = PACKAGE / "starter"


def init_project(
    target: Path, title: str, base_url: str, timezone: str, today: date, theme: bool = False
) -> list[Path]:
    """Create a publication in target; refuse to overwrite anything. Returns the files made.

    Its templates/ holds a README only: the packaged theme serves every file until one
    is ejected (theme=True copies them all)."""
    title = one_line(title)
    if not base_url.endswith("/"):
        base_url += "/"
    values = starter_values(title, base_url, timezone, today)
    folder = values["folder"]
    planned: dict[Path, bytes] = {
        target / CONFIG_NAME: _fill("briefing.toml", values),
        target / "subscribers.csv": (STARTER / "subscribers.csv").read_bytes(),
        target / ".gitignore": (STARTER / "gitignore").read_bytes(),
        target / "outbox" / ".gitkeep": b"",
        target / ISSUES_DIR / folder / "issue.md": _fill("issue.md", values),
        target / ISSUES_DIR / folder / "01-welcome.md": _fill("01-welcome.md", values),
    }
    planned[target / "templates" / "README.md"] = (STARTER / "templates-README.md").read_bytes()
    for source in sorted(PACKAGED.rglob("*")) if theme else ():
        if source.is_file():
            planned[target / "templates" / source.relative_to(PACKAGED)] = source.read_bytes()
    existing = [p for p in planned if p.exists()]
    if existing:
        shown = ", ".join(relative(p, target) for p in existing[:3])
        raise BriefingError(
            f"{target} already has {shown}{' …' if len(existing) > 3 else ''};"
            " init never overwrites: choose an empty folder"
        )
    for path, data in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return list(planned)


def one_line(text: str) -> str:
    """A title from the command line on one line: line breaks and tabs become spaces."""
    return " ".join(text.split())


def starter_values(title: str, base_url: str, timezone: str, today: date) -> dict[str, str]:
    """The starter files' placeholders, each quoted for where it goes (TOML string,
    YAML scalar, RFC 5322 phrase), so any title writes files that load."""
    for flag, dotted, value in (
        ("--title", "publication.title", title),
        ("--base-url", "publication.base_url", base_url),
        ("--timezone", "publication.timezone", timezone),
    ):
        message = key(dotted).read(value)[1] or header_value_problem(value)
        if message:
            raise BriefingError(f"{flag}: {message}")
    welcome = f"Welcome to {title}"
    if message := header_value_problem(welcome):
        raise BriefingError(f"--title: 'Welcome to' and the title {message.removeprefix('is ')}")
    domain = _domain(base_url)
    return {
        "title": title,  # in a TOML comment: any one-line text
        "title_toml": quote(title),  # JSON string syntax is valid TOML basic-string syntax
        "base_url_toml": quote(base_url),
        "timezone_toml": quote(timezone),
        "from_toml": quote(f"{_phrase(title)} <news@{domain}>"),
        "list_id_toml": quote(f"{_phrase(_ascii(title)) or 'News'} <news.{domain}>"),
        "title_yaml": quote(title),
        "welcome_yaml": quote(welcome),
        "domain": domain,
        "folder": f"{today.isoformat()}-welcome",
        "date": f"{today.isoformat()}T08:00:00{_offset(timezone, today)}",
    }


def _domain(base_url: str) -> str:
    host = urlsplit(base_url).hostname or "example.com"
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    if not re.fullmatch(r"[a-z0-9]+(?:[.-][a-z0-9]+)*", ascii_host.lower()):
        raise BriefingError(f"--base-url: '{host}' is not a domain name like example.com")
    return ascii_host.lower()


def _phrase(name: str) -> str:
    """A display name for From or List-Id: quoted (RFC 5322 §3.2.4) when it holds specials."""
    name = " ".join(re.sub("[<>]", "", name).split())
    if re.search(r'[()\[\]:;@\\,."]', name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def _ascii(text: str) -> str:
    """List-Id is ASCII only (RFC 2919): accents dropped, other letters left out."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _fill(name: str, values: dict[str, str]) -> bytes:
    return Template((STARTER / name).read_text(encoding="utf-8")).substitute(values).encode()


def _offset(timezone: str, day: date) -> str:
    moment = datetime.combine(day, time(8), ZoneInfo(timezone))
    offset = moment.strftime("%z")
    return f"{offset[:3]}:{offset[3:]}"


def new_issue(
    root: Path,
    title: str,
    day: date | None,
    from_issue: str | None = None,
    with_story: bool = True,
) -> Path:
    """Scaffold the next issue: next number, slug from the title, date in the configured zone.

    with_story=False leaves the articles to the caller (`briefing import`)."""
    config = load_config(root)
    publication = load_publication(config)
    title = one_line(title)
    if message := header_value_problem(title):
        raise BriefingError(f"title: {message}")
    zone = ZoneInfo(config.publication.timezone)
    moment = datetime.combine(day, time(8), zone) if day else datetime.now(zone)
    moment = moment.astimezone(zone).replace(microsecond=0)
    slug = slugify(title)
    if publication.issue(slug):
        raise ContentError(
            Problem(ISSUES_DIR, f"an issue with the slug '{slug}' exists; choose another title")
        )
    folder = root / ISSUES_DIR / f"{moment.date().isoformat()}-{slug}"
    if folder.exists():
        raise BriefingError(f"{relative(folder, root)} already exists")
    number = max((i.number for i in publication.issues), default=0) + 1
    template = publication.issue(from_issue) if from_issue else None
    if from_issue and template is None:
        raise BriefingError(f"--from-issue: no issue with the slug '{from_issue}'")
    values = {"title": title, "date": moment, "number": number} | _carried(ISSUE_FIELDS, template)
    header = front_matter(ISSUE_FIELDS, values, skeleton=True)
    header += [NOTE_SKELETON, ""]
    folder.mkdir(parents=True)
    _write(folder / "issue.md", header)
    if template:
        for article in template.articles:
            lasting = front_matter(ARTICLE_FIELDS, _carried(ARTICLE_FIELDS, article), True)
            _write(folder / article.path.name, [*lasting, CARRIED_BODY, ""])
    elif with_story:
        story = front_matter(ARTICLE_FIELDS, {}, skeleton=True)
        _write(folder / "01-story.md", [*story, STORY_SKELETON, ""])
    return folder


def _carried(fields: tuple[Field, ...], earlier: Issue | Article | None) -> dict[str, object]:
    """The lasting values (edition, tags, source, byline…) of an earlier issue or article."""
    if earlier is None:
        return {}
    return {f.name: getattr(earlier, f.name) for f in fields if f.carried}


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines), encoding="utf-8")
