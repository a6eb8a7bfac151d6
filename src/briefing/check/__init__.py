"""`briefing check`: what subscribers and feed readers would suffer from, as file:line findings.

Checks run on the model and on the outputs rendered in memory, so `check` needs
no build first and stays fast: only the issues asked for are rendered.
`check_built` checks groups of outputs a build just wrote, so `preview` re-checks
only what its rebuild rendered.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html

from briefing.check.email import email_rules, page_rules, unitless_zeros
from briefing.check.gate import issue_rules, sender_rules
from briefing.errors import relative
from briefing.merge import PLACEHOLDER, names, personal_without_web, placeholder
from briefing.model import Issue, Markdown, Publication
from briefing.render.context import IssueView, views
from briefing.render.email import TEMPLATE as EMAIL_TEMPLATE
from briefing.render.images import WARN_BYTES
from briefing.render.review import delivered_bytes
from briefing.render.scan import references
from briefing.render.site_files import group_issue, render_issue_files, render_shared
from briefing.render.theme import Theme
from briefing.site import EMAIL_HTML, EMAIL_TEXT, ISSUE_PAGE, JSON_FEED, Outputs, issue_folder

PREHEADER_RANGE = (40, 140)
SUBJECT_MAX = 70
GMAIL_CLIP = 102 * 1024  # Gmail shows "[Message clipped]" past this many bytes of HTML
CLIP_MARGIN = 90 * 1024
# Always known for every recipient, so they need no fallback.
ALWAYS_FILLED = {"unsubscribe_url", "email"}
UNSUBSCRIBE = placeholder("unsubscribe_url")
# Pages and feeds leave out a block with a field that has no web fallback: fine for a
# greeting, worth a word when the paragraph says more than that.
WEB_DROP_MAX = 60


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


def check(
    publication: Publication, slugs: Iterable[str] = (), columns: set[str] | None = None
) -> list[Finding]:
    """Findings for the issues named (all when none), sorted by file and line.

    columns: the subscriber CSV's columns, to flag merge fields nobody can fill.
    """
    all_views = views(publication)
    theme = Theme.load(publication.config)
    wanted = set(slugs)
    findings: list[Finding] = []
    outputs = Outputs()
    for index, view in enumerate(all_views):
        if wanted and view.issue.slug not in wanted:
            continue
        files = render_issue_files(publication, all_views, index, theme)
        outputs.update(files)
        findings += _issue(publication, view, files, columns, theme)
    findings += [Finding(*found) for found in sender_rules(publication.config)]
    if wanted:
        judged = tuple(issue_folder(slug) for slug in wanted)
    else:
        judged = ("",)
        outputs.update(render_shared(publication, all_views, theme))
        findings += _feeds(outputs.files[JSON_FEED.path()].decode("utf-8"))
    # Links are judged only where every file was rendered: a check of a few issues
    # cannot tell whether a link to another issue is broken.
    findings += _internal_links(outputs, lambda t: not t.startswith(judged) or t in outputs.files)
    return sorted(set(findings))


def check_built(
    publication: Publication,
    out_dir: Path,
    groups: Mapping[str, Sequence[str]],
    names: Iterable[str],
) -> dict[str, list[Finding]]:
    """Findings for the groups of outputs named, read back from out_dir, where a build
    just wrote them (groups: every group of the build and its paths; links are judged
    against all of them)."""
    theme = Theme.load(publication.config)
    site = {path for paths in groups.values() for path in paths}
    base_url = publication.config.publication.base_url
    found: dict[str, list[Finding]] = {}
    for name in names:
        files = Outputs()
        for path in groups[name]:
            data = delivered_bytes(path, (out_dir / path).read_bytes(), base_url)
            files.add(path, data, name)
        findings = list(_internal_links(files, site.__contains__))
        slug = group_issue(name)
        issue = publication.issue(slug) if slug else None
        if issue is not None:
            findings += _issue(publication, IssueView(issue, base_url), files, None, theme)
        if JSON_FEED.path() in files.files:
            findings += _feeds(files.files[JSON_FEED.path()].decode("utf-8"))
        found[name] = findings
    return found


def _issue(
    publication: Publication,
    view: IssueView,
    files: Outputs,
    columns: set[str] | None,
    theme: Theme,
) -> Iterator[Finding]:
    issue = view.issue
    root = publication.config.root
    label = relative(issue.folder / "issue.md", root)
    yield from _header(issue, label)
    yield from (Finding(*found) for found in issue_rules(issue, root))
    yield from _emails(issue, files, label, root, theme)
    sources: list[tuple[str, Markdown]] = [(label, issue.note)]
    sources += [(relative(a.path, root), a.body) for a in issue.articles]
    yield from _markdown(sources, columns)
    yield from _articles(issue, root, theme)
    yield from _clients(view, files, label, theme)


def _clients(view: IssueView, files: Outputs, label: str, theme: Theme) -> Iterator[Finding]:
    """Email-client and reader rules (check.email), on this issue's email and page.
    Findings about the markup name the theme file; image sizes name the issue."""
    issue = view.issue
    template = theme.label(theme.path(EMAIL_TEMPLATE))
    for rule, message, line in unitless_zeros(theme.read(EMAIL_TEMPLATE)):
        yield Finding(template, line, rule, message)
    email = files.files[EMAIL_HTML.path(slug=issue.slug)].decode("utf-8")
    for rule, message, line in email_rules(email, issue.preheader, view.url, UNSUBSCRIBE):
        yield Finding(label if rule == "image-size" else template, line, rule, message)
    page = files.files[ISSUE_PAGE.path(slug=issue.slug)].decode("utf-8")
    for rule, message, line in page_rules(page):
        where = label if rule == "image-size" else theme.label(theme.path("web/issue.html.j2"))
        yield Finding(where, line, rule, message)
    for name in issue.assets:
        size = (issue.folder / name).stat().st_size
        if size > WARN_BYTES:
            yield Finding(
                relative(issue.folder / name, view.issue.folder.parent.parent),
                1,
                "image-file",
                f"{size / 1024 / 1024:.1f} MB: web pages load the original whole;"
                " save it smaller (emails get a copy sized for them)",
            )


def _header(issue: Issue, label: str) -> Iterator[Finding]:
    """What inboxes show before the email is opened: the subject and the preheader."""
    index = issue.folder / "issue.md"

    def at(key: str) -> int:
        return _key_line(index, key)

    low, high = PREHEADER_RANGE
    if not issue.preheader:
        yield Finding(
            label,
            1,
            "preheader",
            "no preheader: inboxes show the first body text"
            f" instead; add one of {low}–{high} characters",
        )
    elif not low <= len(issue.preheader) <= high:
        yield Finding(
            label,
            at("preheader"),
            "preheader",
            f"{len(issue.preheader)} characters; {low}–{high} read best in inboxes",
        )
    if len(issue.title) > SUBJECT_MAX:
        yield Finding(
            label,
            at("title"),
            "subject",
            f"the subject is {len(issue.title)}"
            f" characters; inboxes cut it after about {SUBJECT_MAX}",
        )


def _emails(
    issue: Issue, files: Outputs, label: str, root: Path, theme: Theme
) -> Iterator[Finding]:
    email = files.files[EMAIL_HTML.path(slug=issue.slug)]
    size = len(email)
    if size > CLIP_MARGIN:
        state = "over" if size > GMAIL_CLIP else "close to"
        yield Finding(
            label,
            1,
            "email-size",
            f"the email HTML is {size / 1024:.0f} KB, {state}"
            " Gmail's 102 KB clipping limit; shorten the issue",
        )

    yield from _email_html(issue, email.decode("utf-8"), root)
    text = files.files[EMAIL_TEXT.path(slug=issue.slug)].decode("utf-8")
    if UNSUBSCRIBE not in text:
        yield Finding(
            theme.label(theme.path("email.txt.j2")),
            1,
            "unsubscribe",
            "the text part has no {{ unsubscribe_url }}",
        )


def _articles(issue: Issue, root: Path, theme: Theme) -> Iterator[Finding]:
    template = theme.read(EMAIL_TEMPLATE)
    for article in issue.articles:
        name = relative(article.path, root)
        if not article.body.text.strip():
            yield Finding(name, article.body.first_line, "empty-article", "the article has no body")
        if not article.key_points and "key_points" in template:
            yield Finding(
                name,
                1,
                "key-points",
                "no key points: the template shows a key"
                " points box for articles that have them; add 2–7",
            )
        if article.image and not article.image.alt:
            yield Finding(
                name,
                _key_line(article.path, "image"),
                "image-alt",
                f"image '{article.image.src}' has no alt text; describe it",
            )


def _markdown(sources: list[tuple[str, Markdown]], columns: set[str] | None) -> Iterator[Finding]:
    texts: dict[str, set[str]] = defaultdict(set)
    first: dict[str, tuple[str, int]] = {}
    for label, markdown in sources:
        for ref in references(markdown):
            if ref.kind == "image":
                if not ref.text.strip():
                    yield Finding(
                        label,
                        ref.line,
                        "image-alt",
                        f"image '{ref.url}' has no alt text; describe it",
                    )
                if urlsplit(ref.url).scheme or ref.url.startswith("/"):
                    yield Finding(  # a local image is measured, and gets its size
                        label,
                        ref.line,
                        "image-width",
                        f"image '{ref.url}' is not a file beside the Markdown, so its size"
                        " is unknown and Outlook shows it at full size; save it beside"
                        " the issue's files",
                    )
            else:
                texts[ref.url].add(ref.text)
                first.setdefault(ref.url, (label, ref.line))
            if urlsplit(ref.url).scheme == "http":
                yield Finding(
                    label,
                    ref.line,
                    "http-url",
                    f"{ref.url} is not https; mail clients warn about it",
                )
        for offset, line in enumerate(markdown.text.split("\n")):
            where = markdown.first_line + offset
            if personal_without_web(line) and len(PLACEHOLDER.sub("", line)) > WEB_DROP_MAX:
                yield Finding(
                    label,
                    where,
                    "merge-web",
                    "pages and feeds leave this paragraph out (a merge field in it has no"
                    " web fallback); write {{ field | fallback | web: text }} to keep it",
                )
            for field, fallback in names(line):
                if fallback is None and field not in ALWAYS_FILLED:
                    yield Finding(
                        label,
                        where,
                        "merge-fallback",
                        f"{{{{ {field} }}}} has no fallback; write"
                        f" {{{{ {field} | fallback text }}}}",
                    )
                if columns is not None and field not in columns | ALWAYS_FILLED | {"name"}:
                    yield Finding(
                        label,
                        where,
                        "merge-field",
                        f"'{field}' is not a column of"
                        " the subscribers file; every reader gets the fallback",
                    )
    for url, link_texts in texts.items():
        if len(link_texts) > 1:
            label, where = first[url]
            shown = ", ".join(f"'{t}'" for t in sorted(link_texts))
            yield Finding(
                label,
                where,
                "link-text",
                f"{url} is linked with different texts ({shown}); readers expect one"
                " destination per wording",
            )


def _email_html(issue: Issue, source: str, root: Path) -> Iterator[Finding]:
    tree = lxml_html.fromstring(source)
    label = relative(issue.folder / "issue.md", root)
    for img in tree.iter("img"):
        if img.get("alt") is None:
            yield Finding(label, 1, "image-alt", f"an <img> ({img.get('src')}) has no alt")
    for element in tree.iter():
        for attr in ("href", "src"):
            url = element.get(attr)
            if url is None or url.startswith(("mailto:", "{{")):
                continue
            if not urlsplit(url).scheme:
                yield Finding(
                    label,
                    1,
                    "relative-url",
                    f"'{url}' is relative: it cannot work in an email; use an absolute https URL",
                )
    unsubscribe = [a for a in tree.iter("a") if a.get("href") == UNSUBSCRIBE]
    if not unsubscribe:
        yield Finding(
            label,
            1,
            "unsubscribe",
            "the email has no unsubscribe link; the template must link {{ unsubscribe_url }}",
        )


def _feeds(feed: str) -> Iterator[Finding]:
    ids = re.findall(r'"id": "([^"]+)"', feed)
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        yield Finding(JSON_FEED.path(), 1, "feed-id", f"two entries share the id {duplicate}")
    if feed.count('"date_published"') != len(ids):
        yield Finding(JSON_FEED.path(), 1, "feed-date", "an entry has no date")


def _internal_links(outputs: Outputs, exists: Callable[[str], bool]) -> Iterator[Finding]:
    """Relative links in pages that point at no file the build writes (exists says)."""
    for path, data in outputs.files.items():
        if not path.endswith(".html") or EMAIL_HTML.matches(path):
            continue
        # Relative URLs only: no scheme, not protocol-relative; query and fragment cut.
        for url in re.findall(rb'(?:href|src)="(?![a-zA-Z][a-zA-Z0-9+.-]*:|//)([^"#?]+)', data):
            target = urljoin("/" + path, url.decode()).lstrip("/")
            if not target or target.endswith("/"):
                target += "index.html"
            if not exists(target):
                yield Finding(
                    f"site/{path}",
                    1,
                    "broken-link",
                    f"links to {url.decode()}, which the build does not write",
                )


def allowed(finding: Finding, allow: Iterable[str]) -> bool:
    """Whether briefing.toml's [check] allow accepts a finding: its rule, or 'rule:FILE'."""
    return any(
        entry == finding.rule or entry == f"{finding.rule}:{finding.file}" for entry in allow
    )


def _key_line(path: Path, key: str) -> int:
    for number, line in enumerate(path.read_text("utf-8").split("\n"), start=1):
        if line.startswith(f"{key}:"):
            return number
    return 1
