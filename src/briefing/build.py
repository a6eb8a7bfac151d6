"""Orchestration: load and validate everything, render what changed, then write.

Nothing in the site changes until every issue has loaded and rendered (rendered
files wait in a staging folder), so a failed build leaves the previous site as
it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from briefing.cache import BuildCache, digest, file_signature, signature
from briefing.config import CONFIG_NAME, load_config
from briefing.errors import relative
from briefing.model import Publication
from briefing.output import Outputs, Staging, WriteReport
from briefing.render.context import IssueView, issue_path, tag_path, views
from briefing.sources import load_publication

log = logging.getLogger("briefing")

PACKAGE = Path(__file__).resolve().parent  # briefing's own code: a change rebuilds all
# Below this many issues a process pool costs more than it saves.
PARALLEL_THRESHOLD = 8

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BuildResult:
    publication: Publication
    out_dir: Path
    report: WriteReport


def load(root: Path) -> Publication:
    return load_publication(load_config(root))


def render_issue_files(publication: Publication, all_views: list[IssueView], index: int) -> Outputs:
    """Every file of one issue: web page, email HTML, plain text, images."""
    # Renderers are imported on first use: a rebuild with nothing to do needs none.
    from briefing.render.email import render_email
    from briefing.render.text import render_text
    from briefing.render.web import render_issue

    # A view of its own: the HTML it caches is dropped with it, not kept in all_views.
    view = IssueView(all_views[index].issue, all_views[index].base_url)
    newer = all_views[index - 1] if index > 0 else None
    older = all_views[index + 1] if index + 1 < len(all_views) else None
    issue = view.issue
    origin = relative(issue.folder, publication.config.root)
    base = issue_path(issue.slug)
    outputs = Outputs()
    outputs.add(base + "index.html", render_issue(publication, view, newer, older), origin)
    outputs.add(base + "email.html", render_email(publication, view), origin)
    outputs.add(base + "email.txt", render_text(publication, view), origin)
    for name in issue.assets:
        outputs.add(base + name, (issue.folder / name).read_bytes(), origin)
    return outputs


# Worker state for the process pool: set once per worker, not pickled per task.
_worker: tuple[Publication, list[IssueView]] | None = None


def _init_worker(publication: Publication) -> None:
    global _worker
    _worker = (publication, views(publication))


def _render_in_worker(index: int) -> Outputs:
    assert _worker is not None
    return render_issue_files(_worker[0], _worker[1], index)


def _render_issues(
    publication: Publication,
    all_views: list[IssueView],
    todo: list[int],
    jobs: int,
    progress: Progress | None,
) -> Iterator[tuple[int, Outputs]]:
    """The files of the issues at indexes todo, as each is done, on all cores when there
    are many."""
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(todo) >= PARALLEL_THRESHOLD:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(publication,)) as pool:
            chunk = max(1, min(16, len(todo) // (jobs * 8)))
            results = pool.map(_render_in_worker, todo, chunksize=chunk)
            for done, (index, files) in enumerate(zip(todo, results, strict=True), 1):
                yield index, files
                if progress:
                    progress(done, len(todo))
    else:
        for done, index in enumerate(todo, 1):
            yield index, render_issue_files(publication, all_views, index)
            if progress:
                progress(done, len(todo))


def render_shared(publication: Publication, all_views: list[IssueView]) -> Outputs:
    """The archive index, tag pages, stylesheet and feeds."""
    outputs = Outputs()
    for _, _, render in _shared_groups(publication, all_views, None):
        outputs.update(render())
    return outputs


SharedGroup = tuple[str, str, Callable[[], Outputs]]


def _shared_groups(
    publication: Publication, all_views: list[IssueView], cache: BuildCache | None
) -> list[SharedGroup]:
    """(cache name, key, render) for each group of outputs that lists several issues.

    Each key digests exactly what its pages show, so an edit re-renders only the
    groups it shows up in: the index and tag pages list issues; the feeds hold
    the newest ones whole (their folders' signatures stand for their content).
    """
    from briefing.render.feeds import render_feeds
    from briefing.render.web import STYLESHEET, render_index, render_tag

    config = publication.config
    origin = relative(config.templates_dir, config.root)

    def one(path: str, render: Callable[[], str | bytes]) -> Callable[[], Outputs]:
        def make() -> Outputs:
            outputs = Outputs()
            outputs.add(path, render(), origin)
            return outputs

        return make

    def feeds() -> Outputs:
        outputs = Outputs()
        for name, data in render_feeds(publication, all_views).items():
            outputs.add(name, data, origin)
        return outputs

    issues = [v.issue for v in all_views]
    # What a listing shows of each issue, digested once and shared by every group.
    shown = {
        i.slug: digest(i.slug, i.title, i.number, i.date, i.tags, i.summary, i.edition)
        for i in issues
    }
    newest = issues[: config.feeds.max_items]
    stamps = [cache.issues[i.folder.name][0] for i in newest] if cache else []
    groups: list[SharedGroup] = [
        (
            "index",
            digest(list(shown.values())),
            one("index.html", partial(render_index, publication, all_views)),
        ),
        (
            "feeds",
            digest([shown[i.slug] for i in newest], [i.updated for i in newest], stamps),
            feeds,
        ),
    ]
    for tag in publication.tags:
        render = one(tag_path(tag) + "index.html", partial(render_tag, publication, tag, all_views))
        groups.append(
            ("tag:" + tag, digest([shown[i.slug] for i in issues if tag in i.tags]), render)
        )
    stylesheet = config.templates_dir / STYLESHEET
    if stylesheet.is_file():
        groups.append(("style", "", one("style.css", stylesheet.read_bytes)))
    return groups


def build(
    root: Path,
    out_dir: Path | None = None,
    jobs: int = 0,
    clean: bool = False,
    progress: Progress | None = None,
) -> BuildResult:
    """Load, render what changed since the last build (everything with clean), write."""
    config = load_config(root)
    target = (out_dir or root / "site").resolve()
    environment = digest(
        str(root),
        str(target),
        file_signature(root / CONFIG_NAME),
        signature(config.templates_dir, recursive=True),
        signature(PACKAGE, recursive=True),
    )
    cache = BuildCache(environment) if clean else BuildCache.load(root, environment)
    signatures = {name: stamp for name, (stamp, _) in cache.issues.items()}
    publication = load_publication(config, cache.issues)
    cache.changed |= signatures != {name: stamp for name, (stamp, _) in cache.issues.items()}
    all_views = views(publication)

    kept: set[str] = set()
    stale: dict[int, str] = {}
    for index, view in enumerate(all_views):
        key = _issue_key(cache, all_views, index)
        if fresh := cache.fresh("issue:" + view.issue.slug, key, target):
            kept.update(fresh.sizes)
        else:
            stale[index] = key
    groups = _shared_groups(publication, all_views, cache)
    shared: list[SharedGroup] = []
    for name, key, render in groups:
        if fresh := cache.fresh(name, key, target):
            kept.update(fresh.sizes)
        else:
            shared.append((name, key, render))

    # Each issue's files go to the staging folder as soon as they are rendered, so
    # memory holds a few issues, not the site; nothing is in place before commit().
    staging = Staging(target)
    try:
        for index, files in _render_issues(publication, all_views, list(stale), jobs, progress):
            cache.remember(
                "issue:" + all_views[index].issue.slug, stale[index], files.files.items()
            )
            staging.put(files)
        for name, key, render in shared:
            files = render()
            cache.remember(name, key, files.files.items())
            staging.put(files)
        report = staging.commit(clean, kept)
    except BaseException:
        staging.discard()
        raise
    live = {"issue:" + v.issue.slug for v in all_views}
    live |= {name for name, _, _ in groups}
    if set(cache.outputs) - live:  # issues that are gone
        cache.outputs = {name: files for name, files in cache.outputs.items() if name in live}
        cache.changed = True
    cache.save(root)
    log.debug("wrote %d files, %d unchanged", report.written, report.unchanged)
    return BuildResult(publication, target, report)


def _issue_key(cache: BuildCache, all_views: list[IssueView], index: int) -> str:
    """An issue's files depend on its folder and on its neighbours' titles (page links)."""
    neighbours = [all_views[i].issue for i in (index - 1, index + 1) if 0 <= i < len(all_views)]
    issue = all_views[index].issue
    return digest(cache.issues[issue.folder.name][0], [(n.slug, n.title) for n in neighbours])
