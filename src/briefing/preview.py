"""`briefing preview`: serve the site on 127.0.0.1, rebuild on change, reload the browser.

The dashboard at / shows one issue as subscribers and readers will meet it: the
email at desktop (600 px) and phone (375 px) width, light and dark, the plain
text, the web page, the feed entry, and what `check` finds. Pages reload by
themselves (server-sent events) after each rebuild. Only files inside the site
folder are ever served, only to requests naming 127.0.0.1 or localhost as their
Host (a page on another name that resolves to 127.0.0.1 — DNS rebinding — gets 403).
A rebuild that fails, however it fails, shows in the page; the server goes on.
"""

from __future__ import annotations

import html
import json
import logging
import mimetypes
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from briefing.build import BuildResult, build, load
from briefing.check import Finding, check_built
from briefing.config import CONFIG_NAME
from briefing.errors import BriefingError, relative
from briefing.merge import fill
from briefing.model import Publication
from briefing.out_folder import refuse_unsafe
from briefing.site import EMAIL_HTML, EMAIL_TEXT, ISSUE_PAGE, JSON_FEED
from briefing.sources.issues import ISSUES_DIR

log = logging.getLogger("briefing")

EVENTS = "/__events"
SITE = "/site/"
DARK = "/dark/"  # the same files with the email's dark-mode rules always on
_DARK_QUERY = b"@media (prefers-color-scheme: dark)"
MAX_EVENT_CLIENTS = 32  # open pages listening for reloads; each holds a thread
LOCAL_HOSTS = ("127.0.0.1", "localhost")


@dataclass
class State:
    """What the server shows; replaced as a whole after every rebuild."""

    version: int = 0
    publication: Publication | None = None
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)


class Preview:
    def __init__(
        self,
        root: Path,
        site: Path,
        announce: Callable[[str], None],
        reader: dict[str, str] | None = None,
    ) -> None:
        """reader: a subscriber's merge values (`preview --as`): the email and its text
        are shown filled with them, as that subscriber would get them."""
        self.root, self.site, self.announce = root, site, announce
        self.reader = reader
        self.state = State()
        self.stop = threading.Event()
        self.watching = threading.Event()  # set once the watcher sees changes
        self.checked: dict[str, list[Finding]] = {}  # findings by group of outputs

    def rebuild(self) -> None:
        publication: Publication | None
        try:
            # Drafts and future issues too (marked): the editor previews what is coming.
            result = build(self.root, self.site, drafts=True)
            publication = result.publication
            findings = self._check(result)
            errors: list[str] = []
            report = result.report
            self.announce(
                f"Built {len(publication.issues)} issues: {report.written} written,"
                f" {len(findings)} check findings"
            )
        except Exception as exc:  # any failure shows in the page; the next save tries again
            publication = self.state.publication
            findings = self.state.findings
            errors = _error_lines(exc)
            self.announce("Build failed:\n  " + "\n  ".join(errors))
        with self.state.changed:
            self.state.publication, self.state.findings = publication, findings
            self.state.errors = errors
            self.state.version += 1
            self.state.changed.notify_all()

    def _check(self, result: BuildResult) -> list[Finding]:
        """Check the groups of outputs the build rendered (every group, the first time):
        the findings of the others still hold, as nothing they come from changed."""
        todo = [n for n in result.groups if n in result.rendered or n not in self.checked]
        fresh = check_built(result.publication, result.out_dir, result.groups, todo)
        self.checked = {n: fresh[n] if n in fresh else self.checked[n] for n in result.groups}
        return sorted({f for found in self.checked.values() for f in found})

    def watch(self) -> None:
        from watchfiles import watch

        paths = [p for p in (self.root / ISSUES_DIR, self.root / CONFIG_NAME) if p.exists()]
        if theme := self._templates():
            paths.append(theme)
        # yield_on_timeout: the first (empty) yield says the watcher is running.
        changes = watch(
            *paths, stop_event=self.stop, debounce=200, rust_timeout=500, yield_on_timeout=True
        )
        for changed in changes:
            self.watching.set()
            if changed:
                self.rebuild()

    def _templates(self) -> Path | None:
        try:
            return load(self.root).config.templates_dir
        except Exception:  # the page shows what is wrong; watch the usual folder meanwhile
            return self.root / "templates" if (self.root / "templates").is_dir() else None

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self.state.changed:
            self.state.changed.wait_for(
                lambda: self.state.version != seen or self.stop.is_set(), timeout
            )
            return self.state.version

    def site_file(self, path: str) -> Path | None:
        """The file a URL path names, if it is inside the site folder."""
        try:  # a NUL (%00) or an over-long name is no file of the site
            target = (self.site / unquote(path, errors="strict").lstrip("/")).resolve()
            if target.is_dir():
                target = target / "index.html"
            site = self.site.resolve()
            if not target.is_relative_to(site) or not target.is_file():
                return None
        except (ValueError, OSError):
            return None
        return target


def _error_lines(exc: Exception) -> list[str]:
    if isinstance(exc, BriefingError):
        return [str(p) for p in exc.problems]
    log.debug("preview: the rebuild failed", exc_info=exc)
    return [f"{type(exc).__name__}: {exc} (briefing --debug preview shows the traceback)"]


def local_host(header: str | None, port: int) -> bool:
    """Whether a Host header names this server as 127.0.0.1 or localhost (RFC 9110
    section 7.2), so a page served under another name cannot read the preview."""
    if not header:
        return False
    host, _, given = header.rpartition(":") if ":" in header else (header, "", "")
    return host.lower() in LOCAL_HOSTS and given in ("", str(port))


def make_server(preview: Preview, port: int) -> ThreadingHTTPServer:
    listeners = threading.BoundedSemaphore(MAX_EVENT_CLIENTS)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            log.debug("preview: " + format, *args)

        def do_GET(self) -> None:
            if not local_host(self.headers.get("Host"), server.server_address[1]):
                self.send_error(HTTPStatus.FORBIDDEN, "Host must be 127.0.0.1 or localhost")
                return
            try:
                self._get()
            except (BrokenPipeError, ConnectionResetError):
                pass
            except Exception:  # one bad request must not cost the server
                log.debug("preview: request %r failed", self.path, exc_info=True)
                self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)

        def _get(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/":
                slug = parse_qs(url.query).get("issue", [""])[0]
                self._send(dashboard(preview, slug).encode(), "text/html; charset=utf-8")
            elif url.path == EVENTS:
                if not listeners.acquire(blocking=False):
                    self.send_error(HTTPStatus.SERVICE_UNAVAILABLE, "Too many open pages")
                    return
                try:
                    self._events()
                finally:
                    listeners.release()
            elif url.path.startswith((SITE, DARK + "site/")):
                self._site_file(url.path)
            else:
                self.send_error(HTTPStatus.NOT_FOUND)

        def _site_file(self, path: str) -> None:
            dark = path.startswith(DARK)
            relative_path = path[len(DARK + "site/") :] if dark else path[len(SITE) :]
            target = preview.site_file(relative_path)
            if target is None:
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            data = target.read_bytes()
            if preview.reader is not None and EMAIL_HTML.matches(relative_path):
                data = fill(data.decode("utf-8"), preview.reader, escape=True).encode()
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if kind == "text/html":
                prefix = DARK + "site/" if dark else SITE
                data = local_urls(data, preview.state.publication, prefix)
                if dark:
                    data = data.replace(_DARK_QUERY, b"@media all")
                data = inject_reload(data, preview.state.version)
                kind += "; charset=utf-8"
            self._send(data, kind)

        def _send(self, data: bytes, kind: str) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _events(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = -1
            try:
                while not preview.stop.is_set():
                    version = preview.wait_for_change(seen, timeout=15)
                    message = f"data: {version}\n\n" if version != seen else ": keep-alive\n\n"
                    self.wfile.write(message.encode())
                    self.wfile.flush()
                    seen = version
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


_RELOAD = """<script>
if (window.top === window) {
  const built = "%d";
  new EventSource("%s").onmessage = (e) => { if (e.data !== built) location.reload(); };
}
</script>"""


def local_urls(page: bytes, publication: Publication | None, prefix: str) -> bytes:
    """The email's absolute URLs (images, links) pointed at this server, so its images
    show before the site is live."""
    base = publication.config.publication.base_url if publication else ""
    return page.replace(base.encode(), prefix.encode()) if base else page


def inject_reload(page: bytes, version: int) -> bytes:
    script = (_RELOAD % (version, EVENTS)).encode()
    head, found, tail = page.rpartition(b"</body>")
    return head + script + found + tail if found else page + script


def dashboard(preview: Preview, slug: str) -> str:
    state = preview.state
    publication = state.publication
    parts = [_DASHBOARD_HEAD]
    if state.errors:
        parts.append('<section class="errors"><h2>The last build failed</h2><ul>')
        parts += [f"<li>{html.escape(e)}</li>" for e in state.errors]
        parts.append("</ul><p>Showing the previous build.</p></section>")
    if publication is None or not publication.issues:
        parts.append("<p>Nothing built yet.</p>")
    else:
        issue = publication.issue(slug) or publication.issues[0]
        parts.append(_issue_nav(publication, issue.slug))
        parts += list(_issue_panels(preview, publication, issue.slug, state.findings))
    parts.append(inject_reload(b"", state.version).decode())
    parts.append("</body></html>")
    return "\n".join(parts)


def _issue_nav(publication: Publication, current: str) -> str:
    links = [
        f'<a href="/?issue={i.slug}"{" aria-current=page" if i.slug == current else ""}>'
        f"No. {i.number}: {html.escape(i.title)}{' (draft)' * i.draft}</a>"
        for i in publication.issues
    ]
    return f'<nav class="issues">{" ".join(links)} <a href="{SITE}">Site ↗</a></nav>'


def _issue_panels(
    preview: Preview, publication: Publication, slug: str, findings: list[Finding]
) -> Iterator[str]:
    issue = publication.issue(slug)
    assert issue is not None
    yield f"<h1>{html.escape(issue.title)}</h1>"
    mine = [f for f in findings if f"/{issue.folder.name}/" in f"/{f.file}" or slug in f.file]
    yield '<section class="findings"><h2>Check</h2>'
    if mine:
        yield "<ul>" + "".join(f"<li><code>{html.escape(str(f))}</code></li>" for f in mine)
        yield "</ul>"
    else:
        yield "<p>No findings.</p>"
    yield "</section>"
    yield '<section class="emails"><h2>Email</h2><div class="row">'
    for label, prefix in (("Light", SITE), ("Dark", DARK + "site/")):
        for width in (600, 375):
            yield (
                f"<figure><figcaption>{label}, {width} px</figcaption>"
                f'<iframe class="email" data-mode="{label.lower()}" width="{width}"'
                f' src="{prefix}{EMAIL_HTML.path(slug=slug)}" title="Email, {label}, {width} px">'
                "</iframe></figure>"
            )
    yield "</div></section>"
    text_file = preview.site_file(EMAIL_TEXT.path(slug=slug))
    text = text_file.read_text("utf-8") if text_file else ""
    if preview.reader is not None:
        text = fill(text, preview.reader, escape=False)
    yield f'<section><h2>Plain text</h2><pre class="text">{html.escape(text)}</pre></section>'
    yield (
        f'<section><h2>Web page</h2><iframe class="page" src="{SITE}{ISSUE_PAGE.url(slug=slug)}"'
        ' title="Web page"></iframe></section>'
    )
    yield f"<section><h2>Feed entry</h2>{_feed_entry(preview, slug)}</section>"


def _feed_entry(preview: Preview, slug: str) -> str:
    feed_file = preview.site_file(JSON_FEED.path())
    if feed_file is None:
        return "<p>No feed built.</p>"
    items = json.loads(feed_file.read_text("utf-8")).get("items", [])
    item = next((i for i in items if i["url"].rstrip("/").endswith(slug)), None)
    if item is None:
        return "<p>This issue is not among the newest the feeds hold.</p>"
    meta = f"<p><code>{html.escape(item['id'])}</code> · {html.escape(item['date_published'])}</p>"
    return (
        f'{meta}<iframe class="feed" sandbox title="Feed entry" srcdoc="'
        f'{html.escape(item["content_html"])}"></iframe>'
    )


_DASHBOARD_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>briefing preview</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 1.5rem 3rem; background: #f6f6f4; }
nav.issues { display: flex; flex-wrap: wrap; gap: .75rem; padding: .75rem 0;
             border-bottom: 1px solid #ddd; }
nav a[aria-current] { font-weight: 700; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; }
iframe { border: 1px solid #ccc; background: #fff; height: 900px; }
iframe.page { width: 100%; }
iframe.feed { width: 100%; height: 500px; }
pre.text { background: #fff; border: 1px solid #ccc; padding: 1rem; max-height: 600px;
           overflow: auto; width: fit-content; }
.errors { background: #fde8e8; border: 1px solid #e0a0a0; padding: .5rem 1rem; }
.findings code { white-space: pre-wrap; }
</style></head><body>"""


def serve(
    root: Path,
    site: Path,
    port: int,
    announce: Callable[[str], None],
    reader: dict[str, str] | None = None,
) -> tuple[ThreadingHTTPServer, Preview]:
    """Listen, build once, start the watcher, and return the server (not yet serving).
    The socket comes first: a port in use is the only error this raises; a build that
    fails shows in the page."""
    # The folder served must not be the project (briefing.toml, subscribers, .git...).
    sources = [root / name for name in (ISSUES_DIR, "templates", ".briefing", "outbox")]
    refuse_unsafe(site, root, sources, relative(site, root) + "/")
    preview = Preview(root, site, announce, reader)
    server = make_server(preview, port)
    preview.rebuild()
    threading.Thread(target=preview.watch, name="preview-watch", daemon=True).start()
    return server, preview
