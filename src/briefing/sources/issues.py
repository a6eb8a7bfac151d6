"""Issue folders → model.

Layout: ``issues/<YYYY-MM-DD>-<slug>/issue.md`` plus one ``NN-<name>.md`` per
article and the images they use. Every problem in every file is collected
before anything is raised, so the editor sees them all at once.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from briefing.config import Config
from briefing.errors import ContentError, Problem, relative
from briefing.model import Article, Image, Issue, Markdown, Publication
from briefing.project_files import MAX_ASSET_BYTES, refusal

# The readers of front matter and Markdown (YAML, markdown-it) load with the first
# folder read: a rebuild that reuses every issue from the build cache needs none.

ISSUES_DIR = "issues"
_FOLDER = re.compile(r"^(\d{4}-\d{2}-\d{2})-(.+)$")
_ARTICLE = re.compile(r"^(\d{2,3})-([a-z0-9]+(?:-[a-z0-9]+)*)\.md$")


_SLUG_STOPWORDS = frozenset(
    {"a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "at", "by", "with", "as"}
    | {"is", "are", "was", "from"}
)


def slugify(text: str, fallback: str = "issue") -> str:
    """A slug from a title: at most six ASCII words, small words left out, joined by '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", re.sub(r"['’]", "", ascii_text.lower()))
    kept = [w for w in words if w not in _SLUG_STOPWORDS] or words
    return "-".join(kept[:6])[:60].strip("-") or fallback


# Given an issue folder's path, the Issue an earlier load made from it if it is still
# good. A string: at 5,000 folders the Path objects alone cost more than the lookups.
Reuse = Callable[[str], Issue | None]


# Below this many folders to read, a process pool costs more than it saves.
PARALLEL_LOAD = 16


def load_publication(config: Config, reuse: Reuse | None = None, jobs: int = 1) -> Publication:
    """Load and validate every issue; raise ContentError listing all problems."""
    return Publication(config, load_issues(config.root, reuse, jobs))


def load_issues(root: Path, reuse: Reuse | None = None, jobs: int = 1) -> tuple[Issue, ...]:
    """Every issue of the project at root, newest first; raise ContentError listing all
    problems. Only the project's folder is needed, not its briefing.toml.

    reuse (the build cache's) is asked for each folder first: what it returns is
    taken instead of reading the folder. The folders left are read on jobs
    processes when there are many (0: one per core); problems are listed in folder
    order whatever the number of processes.
    """
    folder = root / ISSUES_DIR
    if not folder.is_dir():
        raise ContentError(Problem(ISSUES_DIR, "folder not found; create it or run `briefing new`"))
    if message := refusal(folder, root):
        raise ContentError(Problem(ISSUES_DIR, message))
    # Each folder in order: what reuse() gave or a refusal, or its path still to read.
    slots: list[Loaded | Path] = []
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith((".", "_")) or not entry.is_dir():
            continue  # files beside the issue folders are never read
        # A link is followed only within issues/ (briefing.project_files); a folder
        # that is no link is inside, as issues/ itself was checked.
        if entry.is_symlink() and (message := refusal(folder / entry.name, folder)):
            slots.append((None, [Problem(relative(folder / entry.name, root), message)]))
        elif issue := reuse(entry.path) if reuse else None:
            slots.append((issue, []))
        else:
            slots.append(folder / entry.name)
    read = iter(_read_all([s for s in slots if isinstance(s, Path)], root, jobs))
    issues: list[Issue] = []
    problems: list[Problem] = []
    for slot in slots:
        issue, found = next(read) if isinstance(slot, Path) else slot
        problems += found
        if issue is not None:
            issues.append(issue)
    _check_unique(issues, root, problems)
    if problems:
        raise ContentError(problems)
    issues.sort(key=lambda i: (i.date, i.number), reverse=True)
    return tuple(issues)


Loaded = tuple[Issue | None, list[Problem]]


def _read_all(folders: list[Path], root: Path, jobs: int) -> list[Loaded]:
    jobs = jobs or os.cpu_count() or 1
    if jobs < 2 or len(folders) < PARALLEL_LOAD:
        return [_read_one(folder, root) for folder in folders]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs) as pool:
        chunk = max(1, min(32, len(folders) // (jobs * 8)))
        return list(pool.map(_read_one, folders, [root] * len(folders), chunksize=chunk))


def _read_one(folder: Path, root: Path) -> Loaded:
    problems: list[Problem] = []
    return _load_issue(folder, root, problems), problems


def reload_issue(folder: Path) -> Issue:
    """The issue in folder, read again (the build cache could not give all of it back)."""
    issue, problems = _read_one(folder, folder.parent.parent)
    if issue is None:
        raise ContentError(problems)
    return issue


def _check_unique(issues: list[Issue], root: Path, problems: list[Problem]) -> None:
    count = len(issues)
    if len({i.slug for i in issues}) == count and len({i.number for i in issues}) == count:
        return  # the usual case, in two set builds rather than 10,000 lookups at 5,000
    seen: dict[tuple[str, object], Issue] = {}
    for issue in issues:
        for what, value in (("slug", issue.slug), ("number", issue.number)):
            other = seen.setdefault((what, value), issue)
            if other is not issue:
                problems.append(
                    Problem(
                        relative(issue.folder / "issue.md", root),
                        f"'{value}' is also used by {relative(other.folder, root)};"
                        f" each issue needs its own {what}"
                        + ("; rename the folder or set 'slug:'" if what == "slug" else ""),
                        field=what,
                    )
                )


def _load_issue(folder: Path, root: Path, problems: list[Problem]) -> Issue | None:
    label = relative(folder, root)
    match = _FOLDER.match(folder.name)
    if not match:
        problems.append(
            Problem(label, "folder name must be YYYY-MM-DD-slug, e.g. 2025-06-03-trade")
        )
        return None
    count = len(problems)
    index = folder / "issue.md"
    header = _load_header(index, match, root, problems) if index.is_file() else None
    if not index.is_file():
        problems.append(Problem(label, "has no issue.md; every issue folder needs one"))
    # Articles are checked even when issue.md is broken, so every problem shows at once.
    assets: list[str] = []
    if header:
        assets += _check_markdown(header["note"], folder, relative(index, root), problems)
    articles = _load_articles(folder, root, problems, assets)
    if not articles and len(problems) == count:
        problems.append(Problem(label, "is empty: add at least one article file like 01-story.md"))
    if len(problems) > count or header is None:
        return None
    return Issue(
        folder=folder,
        articles=tuple(articles),
        assets=tuple(sorted(set(assets))),
        **header,
    )


def _load_header(
    index: Path, match: re.Match[str], root: Path, problems: list[Problem]
) -> dict[str, Any] | None:
    """The fields of issue.md and its note, or None when its front matter is unreadable."""
    from briefing.schema import ISSUE_FIELDS
    from briefing.sources import frontmatter as fm

    doc = fm.parse(index, relative(index, root), problems, root / ISSUES_DIR)
    if doc is None:
        return None
    read = fm.Fields(doc, ISSUE_FIELDS, problems)
    values = read.values()
    date = values.get("date")
    slug = values.get("slug") or match.group(2)
    if "slug" not in doc.fields and not fm.SLUG.match(slug):
        problems.append(
            Problem(
                relative(index.parent, root),
                f"'{slug}' after the date is not a slug: rename the folder using lowercase"
                " letters, digits and single hyphens, or set 'slug:' in issue.md",
            )
        )
    if date and date.date().isoformat() != match.group(1):
        read.error(
            "date",
            f"{date.date()} does not match the folder's date {match.group(1)};"
            " rename the folder or fix the date",
        )
    return values | {
        "slug": slug,
        "updated": values.get("updated") or date,
        "note": Markdown(doc.body, index, doc.body_line),
    }


def _load_articles(
    folder: Path, root: Path, problems: list[Problem], assets: list[str]
) -> list[Article]:
    articles: list[Article] = []
    for path in sorted(folder.iterdir()):
        if path.suffix != ".md" or path.name == "issue.md":
            continue
        name = _ARTICLE.match(path.name)
        if not name:
            problems.append(
                Problem(
                    relative(path, root),
                    "article files are named NN-slug.md, e.g. 01-trade-talks.md",
                )
            )
        elif article := _load_article(path, name.group(2), root, problems, assets):
            articles.append(article)
    return articles


def _load_article(
    path: Path, slug: str, root: Path, problems: list[Problem], assets: list[str]
) -> Article | None:
    from briefing.render.html_policy import refused_html
    from briefing.schema import ARTICLE_FIELDS
    from briefing.sources import frontmatter as fm

    count = len(problems)
    doc = fm.parse(path, relative(path, root), problems, root / ISSUES_DIR)
    if doc is None:
        return None
    read = fm.Fields(doc, ARTICLE_FIELDS, problems)
    values = read.values()
    # The dek and key points are inline Markdown too: the same raw-HTML rule applies.
    inline = [("dek", values.get("dek") or "")]
    inline += [("key_points", f"{p.label} {p.text}") for p in values.get("key_points") or ()]
    for key, text in inline:
        if reason := refused_html(text):
            read.error(
                key, f"{reason}; remove it (raw HTML that runs or embeds content is refused)"
            )
    body = Markdown(doc.body, path, doc.body_line)
    assets += _check_markdown(body, path.parent, doc.label, problems)
    image = values.get("image")
    if isinstance(image, Image):
        assets += _existing_images(
            [(image.src, doc.key_lines["image"])], path.parent, doc.label, problems
        )
    if len(problems) > count:
        return None
    return Article(slug=slug, path=path, body=body, **values)


def _check_markdown(
    markdown: Markdown, folder: Path, label: str, problems: list[Problem]
) -> list[str]:
    from briefing.render.scan import find_problems

    found, images = find_problems(markdown, label)
    problems += found
    return _existing_images(images, folder, label, problems)


def _existing_images(
    images: list[tuple[str, int]], folder: Path, label: str, problems: list[Problem]
) -> list[str]:
    """Image files that exist inside the issue folder; a problem for each that does not."""
    from briefing.render.html_policy import local_refusal

    found = []
    for src, line in images:
        name = src.removeprefix("./")
        target = folder / name
        if reason := local_refusal(src):
            problems.append(Problem(label, f"image '{src}' {reason}", line=line))
        elif "/" in name or "\\" in name or name in ("", ".", ".."):
            problems.append(
                Problem(
                    label,
                    f"image '{src}' must sit beside this file (no folders or '..')",
                    line=line,
                )
            )
        elif not (target.exists() or target.is_symlink()):
            problems.append(
                Problem(
                    label,
                    f"image '{src}' not found in {folder.name}/; add the file or fix the name",
                    line=line,
                )
            )
        elif message := _asset_refusal(target, folder.parent):
            problems.append(Problem(label, f"image '{src}' {message}", line=line))
        else:
            found.append(name)
    return found


def _asset_refusal(path: Path, tree: Path) -> str | None:
    """Why an image file is not copied into site/: a link out of issues/, not a file, too big."""
    if message := refusal(path, tree):
        return message
    if not path.is_file():
        return "is a folder, not an image file"
    size = path.stat().st_size
    if size > MAX_ASSET_BYTES:
        return (
            f"is {size // (1024 * 1024)} MB; images may have at most"
            f" {MAX_ASSET_BYTES // (1024 * 1024)} MB (an email image should weigh kilobytes)"
        )
    return None
