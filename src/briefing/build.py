"""Orchestration: load and validate everything, render what changed, then write.

Nothing in the site changes until every issue has loaded and rendered (rendered
files wait in a staging folder), so a failed build leaves the previous site as
it was. The result says which groups of outputs were rendered, so `preview`
re-checks only those.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from briefing.cache import (
    CACHE_FILE,
    BuildCache,
    digest,
    digest_lines,
    file_signature,
    signature,
)
from briefing.config import CONFIG_NAME, Config, load_config
from briefing.errors import BriefingError, ConfigError, ContentError, Problem, relative
from briefing.model import Issue, Publication
from briefing.out_folder import (
    MANIFEST,
    is_marked,
    mark_if_new,
    pause_point,
    refuse_unsafe,
    site_lock,
)
from briefing.output import Staged, Staging, WriteReport, stage
from briefing.render.theme import Theme
from briefing.sources import load_issues, load_publication
from briefing.sources.issues import ISSUES_DIR

# The renderers load on first use: a rebuild with nothing to render imports none.
if TYPE_CHECKING:
    from briefing.render.context import IssueView
    from briefing.render.site_files import SharedGroup

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
    groups: dict[str, tuple[str, ...]]  # every group of outputs → the site paths it wrote
    rendered: frozenset[str]  # the groups rendered by this build (the rest were fresh)
    as_of: datetime | None = None  # the cut-off: issues dated after it were held back
    held_back: tuple[Issue, ...] = ()  # drafts and future issues left out of the site


def load(root: Path) -> Publication:
    return load_publication(project_config(root))


def project_config(root: Path) -> Config:
    """load_config; when briefing.toml has problems, the issues' problems are listed with
    them (the loader needs only the project's folder), so one run shows every fix."""
    try:
        return load_config(root)
    except ConfigError as exc:
        if not (root / CONFIG_NAME).is_file():
            raise  # no project here: its issues/ would only add noise
        try:
            load_issues(root)
        except ContentError as content:
            raise ConfigError([*exc.problems, *content.problems]) from None
        raise


@dataclass
class _Renderer:
    """What rendering a task needs, in the build's process or in a pool worker."""

    publication: Publication
    views: list[IssueView]
    theme: Theme
    out_dir: Path
    groups: dict[str, SharedGroup] = field(default_factory=dict)

    def stage(self, task: Task) -> Staged:
        """Render one task's files and write them to the staging folder."""
        if isinstance(task, str):
            return stage(self.out_dir, self.group(task).render())
        from briefing.render.review import site_copies
        from briefing.render.site_files import render_issue_files

        files = render_issue_files(self.publication, self.views, task, self.theme)
        # The email's review copy, valid to publish (render/review.py).
        return stage(self.out_dir, site_copies(files, self.publication.config.publication.base_url))

    def group(self, name: str) -> SharedGroup:
        if not self.groups:  # a worker makes its own (a group's render is a closure)
            from briefing.render.site_files import shared_groups

            made = shared_groups(self.publication, self.views, self.theme)
            self.groups = {group.name: group for group in made}
        return self.groups[name]


# An issue's index in the views, or the name of a shared group.
Task = int | str

# The pool worker's renderer: set once per worker, not pickled per task.
_worker: _Renderer | None = None


def _init_worker(publication: Publication, out_dir: Path) -> None:
    from briefing.render.context import views

    global _worker
    # A theme of the worker's own: a Jinja environment does not cross processes.
    theme = Theme.load(publication.config)
    _worker = _Renderer(publication, views(publication), theme, out_dir)
    gc.freeze()  # what the worker inherited is never garbage: the collector skips it


def _stage_in_worker(task: Task) -> Staged:
    assert _worker is not None
    return _worker.stage(task)


def _stage_all(
    renderer: _Renderer, todo: list[Task], jobs: int, progress: Progress | None
) -> Iterator[tuple[Task, Staged]]:
    """Stage the files of every task, yielding each as it is done (in order), on all
    cores when there are many."""
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(todo) >= PARALLEL_THRESHOLD:
        from concurrent.futures import ProcessPoolExecutor

        args = (renderer.publication, renderer.out_dir)
        with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=args) as pool:
            chunk = max(1, min(16, len(todo) // (jobs * 8)))
            results = pool.map(_stage_in_worker, todo, chunksize=chunk)
            for done, (task, staged) in enumerate(zip(todo, results, strict=True), 1):
                yield task, staged
                if progress:
                    progress(done, len(todo))
    else:
        for done, task in enumerate(todo, 1):
            yield task, renderer.stage(task)
            if progress:
                progress(done, len(todo))


@dataclass
class _Plan:
    """What a build renders (stale issues by index, shared groups) and keeps."""

    stale: dict[int, str]  # index in all_views → the key of its files
    shared: list[tuple[SharedGroup, str]]
    kept: set[str]  # site paths left as they are
    names: list[str]  # every group's name


def _plan(
    cache: BuildCache, all_views: list[IssueView], groups: list[SharedGroup], target: Path
) -> _Plan:
    """Each key digests exactly what its outputs show, so an edit re-renders only the
    groups it shows up in: an issue's files show its folder and its neighbours' titles;
    a listing shows a few fields of each issue; the feeds hold the newest issues whole
    (their folders' signatures stand for their content)."""
    from briefing.render.site_files import issue_group, neighbours

    plan = _Plan({}, [], set(), [])
    for index, view in enumerate(all_views):
        name = issue_group(view.issue.slug)
        key = digest(cache.stamp(view.issue), neighbours(all_views, index))
        _fresh_or_stale(plan, cache, name, key, target, index)
    # Each issue's listing digested once (by the object: every group lists the same
    # Issue objects), looked up by the groups: at 5,000 issues they list 35,000 times.
    shown = {
        id(v.issue): cache.listing(v.issue, partial(_listed_digest, v.issue)) for v in all_views
    }
    for group in groups:
        stamps = [cache.stamp(i) for i in group.whole]
        key = digest(digest_lines([shown[id(i)] for i in group.lists]), stamps, group.shows)
        _fresh_or_stale(plan, cache, group.name, key, target, group)
    return plan


def _listed_digest(issue: Issue) -> str:
    from briefing.render.site_files import listed

    return digest(listed(issue))


def _unchanged(cache: BuildCache, site: str, target: Path) -> _Plan | None:
    """The plan when the site shows what the last build's showed: every output kept, if
    every file is still in place. Nothing is digested, no renderer loaded."""
    if site != cache.site:
        return None
    plan = _Plan({}, [], set(), [])
    for name, cached in cache.outputs.items():
        if not cache.fresh(name, cached.key, target):
            return None
        plan.kept.update(cached.sizes)
        plan.names.append(name)
    return plan


def _icons(publication: Publication) -> list[object]:
    """The icon files the site copies (not issues, not the environment: by their stamps)."""
    config = publication.config
    paths = [config.root / n for n in (config.site.favicon, config.site.feed_icon) if n]
    return [file_signature(p) if p.exists() else str(p) for p in paths]


def _fresh_or_stale(
    plan: _Plan, cache: BuildCache, name: str, key: str, target: Path, job: int | SharedGroup
) -> None:
    plan.names.append(name)
    if fresh := cache.fresh(name, key, target):
        plan.kept.update(fresh.sizes)
    elif isinstance(job, int):
        plan.stale[job] = key
    else:
        plan.shared.append((job, key))


def build(
    root: Path,
    out_dir: Path | None = None,
    jobs: int = 0,
    clean: bool = False,
    progress: Progress | None = None,
    as_of: datetime | None = None,
    drafts: bool = False,
) -> BuildResult:
    """Load, render what changed since the last build (everything with clean), write.

    The site holds the issues published at as_of: no drafts, none dated after it
    (None: no date cut-off). The caller passes the clock's time (the CLI does);
    rendering never reads it. drafts (preview): every issue, drafts and future ones too."""
    config = project_config(root)
    theme = Theme.load(config)
    target = (out_dir or root / "site").resolve()
    shown = relative(target, root) + "/"
    kept_apart = (ISSUES_DIR, config.templates_dir, CACHE_FILE.parent, config.send.outbox)
    refuse_unsafe(target, root, [root / p for p in kept_apart], shown)
    if clean and target.exists() and not is_marked(target):
        raise BriefingError(
            f"--clean empties only a folder briefing created, and {shown} was not"
            f" (its {MANIFEST} does not say so): remove it yourself, or build without --clean"
        )
    lock = root / CACHE_FILE.parent / f"build-{digest(str(target))[:16]}.lock"
    with site_lock(lock, shown):
        pause_point("locked")
        environment = _environment(root, config.templates_dir, target)
        try:
            with _collector_paused():
                cache = BuildCache(environment) if clean else BuildCache.load(root, environment)
                loaded = load_publication(config, cache.reuse, jobs)
                cache.record(loaded.issues)
            cache.cut_off(as_of.isoformat() if as_of else "")
            publication = loaded if drafts else loaded.published(as_of)
            mark_if_new(target)
            result = _render_and_write(
                root, publication, theme, cache, target, jobs, clean, progress
            )
            in_site = {i.slug for i in publication.issues}
            held = tuple(i for i in loaded.issues if i.slug not in in_site)
            return dataclasses.replace(result, as_of=as_of, held_back=held)
        except OSError as exc:  # a full disk or a lost permission: which file, in one line
            if exc.filename is None:
                raise
            name = relative(Path(exc.filename), root)
            raise BriefingError(Problem(name, exc.strerror or str(exc))) from exc
        except RuntimeError as exc:  # a worker killed from outside: the OOM killer, kill -9
            from concurrent.futures import BrokenExecutor  # loaded by the pool that raised it

            if not isinstance(exc, BrokenExecutor):
                raise
            raise BriefingError(
                f"a build process was stopped from outside (killed, or out of memory);"
                f" {shown} is as it was: run the build again, with --jobs 1 if memory is short"
            ) from exc
        finally:
            gc.unfreeze()  # collectable again, as the oldest generation (preview runs on)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cycle collection while the cache and the issues load: they allocate a hundred
    thousand objects and free none, and each collection rescans the young ones (a sixth
    of a no-op's work at 1,000 issues). Then they are set aside (gc.freeze) until the
    build ends (build() unfreezes), so the rendering's collections do not scan them
    again either. Collection resumes for the rendering."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()


def _environment(root: Path, templates: Path, target: Path) -> str:
    """What every output depends on: a change here renders everything."""
    return digest(
        str(root),
        str(target),
        file_signature(root / CONFIG_NAME),
        signature(templates, recursive=True, hash_recent=False) if templates.is_dir() else (),
        signature(PACKAGE, recursive=True, hash_recent=False),
    )


def _render_and_write(
    root: Path,
    publication: Publication,
    theme: Theme,
    cache: BuildCache,
    target: Path,
    jobs: int,
    clean: bool,
    progress: Progress | None,
) -> BuildResult:
    site = cache.site_key(publication.issues, _icons(publication))
    all_views: list[IssueView] = []
    plan = _unchanged(cache, site, target)
    if plan is None:
        from briefing.render.context import views
        from briefing.render.site_files import shared_groups

        all_views = views(publication)
        shared = shared_groups(publication, all_views, theme, cache.feed_entry)
        plan = _plan(cache, all_views, shared, target)
    if plan.stale:
        from briefing.render.site_files import issue_group

    # Each issue's files go to the staging folder as soon as they are rendered, so
    # memory holds a few issues, not the site; nothing is in place before commit().
    staging = Staging(target)
    rendered: set[str] = set()
    # The feeds keep their entries in the cache (its memo): rendered here. Listings
    # go first, the longest tasks: at 5,000 issues a tag page lists hundreds.
    keys: dict[Task, tuple[str, str]] = {g.name: (g.name, k) for g, k in plan.shared}
    keys |= {i: (issue_group(all_views[i].issue.slug), k) for i, k in plan.stale.items()}
    here = {g.name: g for g, _ in plan.shared if g.whole}
    todo: list[Task] = [g.name for g, _ in plan.shared if not g.whole]
    todo += list(plan.stale)
    renderer = _Renderer(publication, all_views, theme, target, {g.name: g for g, _ in plan.shared})
    try:
        for task, staged in _stage_all(renderer, todo, jobs, progress):
            name, key = keys[task]
            cache.remember(name, key, staged.sizes)
            staging.record(staged)
            rendered.add(name)
        for name, group in here.items():
            staged = stage(target, group.render())
            cache.remember(name, keys[name][1], staged.sizes)
            staging.record(staged)
            rendered.add(name)
        if rendered:  # a build killed among the moves must not leave a cache vouching for them
            cache.forget_on_disk(root)
        report = staging.commit(clean, plan.kept)
    except BaseException:
        staging.discard()
        raise
    cache.settle(site, plan.names)
    cache.save(root)
    log.debug("wrote %d files, %d unchanged", report.written, report.unchanged)
    groups = {name: tuple(cache.outputs[name].sizes) for name in plan.names}
    return BuildResult(publication, target, report, groups, frozenset(rendered))
