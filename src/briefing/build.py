"""Orchestration: load and validate everything, render every output, then write.

Nothing touches the site folder until every issue has loaded and rendered, so a
failed build leaves the previous site as it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from briefing.config import load_config
from briefing.errors import relative
from briefing.model import Publication
from briefing.output import Outputs, WriteReport, write_site
from briefing.render.context import IssueView, issue_path, tag_path, views
from briefing.render.email import render_email
from briefing.render.feeds import render_feeds
from briefing.render.text import render_text
from briefing.render.web import STYLESHEET, render_index, render_issue, render_tag
from briefing.sources import load_publication

log = logging.getLogger("briefing")

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
    view = all_views[index]
    issue = view.issue
    origin = relative(issue.folder, publication.config.root)
    base = issue_path(issue.slug)
    outputs = Outputs()
    outputs.add(base + "index.html", render_issue(publication, all_views, index), origin)
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


def render_all(
    publication: Publication, jobs: int = 0, progress: Progress | None = None
) -> Outputs:
    config = publication.config
    all_views = views(publication)
    total = len(all_views)
    outputs = Outputs()
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and total >= PARALLEL_THRESHOLD:
        with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(publication,)) as pool:
            chunk = max(1, total // (jobs * 8))
            for done, result in enumerate(
                pool.map(_render_in_worker, range(total), chunksize=chunk), 1
            ):
                outputs.update(result)
                if progress:
                    progress(done, total)
    else:
        for index in range(total):
            outputs.update(render_issue_files(publication, all_views, index))
            if progress:
                progress(index + 1, total)

    origin = relative(config.templates_dir, config.root)
    outputs.add("index.html", render_index(publication, all_views), origin)
    for tag in publication.tags:
        outputs.add(tag_path(tag) + "index.html", render_tag(publication, tag, all_views), origin)
    stylesheet = config.templates_dir / STYLESHEET
    if stylesheet.is_file():
        outputs.add("style.css", stylesheet.read_bytes(), origin)
    for name, data in render_feeds(publication, all_views).items():
        outputs.add(name, data, origin)
    return outputs


def build(
    root: Path,
    out_dir: Path | None = None,
    jobs: int = 0,
    clean: bool = False,
    progress: Progress | None = None,
) -> BuildResult:
    publication = load(root)
    outputs = render_all(publication, jobs, progress)
    target = out_dir or root / "site"
    report = write_site(outputs, target, clean=clean)
    log.debug("wrote %d files, %d unchanged", report.written, report.unchanged)
    return BuildResult(publication, target, report)
