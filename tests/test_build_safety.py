"""The build cannot destroy: where a site may go, what --clean removes, one build at a
time per site (real processes), a kill among the final moves, a full disk, a cache
that is data and never code."""

from __future__ import annotations

import dataclasses
import errno
import gc
import json
import logging
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

import briefing.cache
from briefing.build import build, load
from briefing.cache import CACHE_FILE
from briefing.cli import cli
from briefing.errors import BriefingError
from briefing.output import MANIFEST, OWN, STAGING
from pausing import reached


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root with its size and modification time."""
    found = {}
    for path in sorted(root.rglob("*")):
        stat = path.lstat()
        found[str(path.relative_to(root))] = (
            stat.st_size if path.is_file() else -1,
            stat.st_mtime_ns,
        )
    return found


def _site(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in OWN
    }


def _briefing(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "briefing", "--project", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=root,  # --out is relative to the working folder, as for a user in the project
    )


# --- where a site may go ----------------------------------------------------------------


def test_out_dot_clean_refuses_and_deletes_nothing(example: Path) -> None:
    """The attack: `briefing build --out . --clean` deleted the whole project."""
    if shutil.which("git"):  # a .git to lose, as in the attack
        subprocess.run(["git", "init", "-q", str(example)], check=True)
    before = _tree(example)
    done = _briefing(example, "build", "--out", ".", "--clean")
    _, err = done.communicate(timeout=120)
    assert done.returncode == 1
    assert err.startswith("error: refusing to build into ./: it is the project folder"), err
    assert len(err.strip().splitlines()) == 1
    assert _tree(example) == before


@pytest.mark.parametrize(
    ("out", "why"),
    [
        ("..", "holds the project folder"),
        ("issues", "holds sources"),
        ("issues/2025-06-03-trump-xi-call/site", "holds sources"),
        ("templates/web", "holds sources"),
        (".briefing/site", "holds sources"),
        ("outbox/site", "holds sources"),
    ],
)
def test_a_site_never_goes_where_the_project_is(
    example: Path, out: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example)
    before = _tree(example)
    for clean in ([], ["--clean"]):
        result = CliRunner().invoke(cli, ["--project", str(example), "build", "--out", out, *clean])
        assert result.exit_code == 1, result.output
        assert "refusing to build into" in result.output and why in result.output
    assert _tree(example) == before


def test_a_folder_holding_another_project_is_refused(example: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "briefing.toml").write_text("")
    with pytest.raises(BriefingError, match=r"holds a briefing\.toml"):
        build(example, other, jobs=1)


# --- what --clean and stale-file removal may remove -------------------------------------


def test_clean_keeps_hidden_files_and_folders_it_did_not_make(
    example: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    (out / ".well-known" / "acme-challenge").mkdir(parents=True)
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n")
    (out / "stray.html").write_text("not briefing's")
    (out / "empty-folder").mkdir()
    # A removed issue: its files are stale, and its folders go once empty.
    shutil.rmtree(next((example / "issues").glob("2025-06-17-*")))
    report = build(example, out, jobs=1, clean=True).report
    assert report.removed > 3
    assert not (out / "stray.html").exists()
    assert not (out / "issues" / "critical-minerals-chips").exists()
    assert (out / ".well-known" / "acme-challenge").is_dir()
    assert (out / ".git" / "HEAD").is_file()
    assert (out / "empty-folder").is_dir()


def test_clean_refuses_a_folder_briefing_did_not_create(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "www"
    out.mkdir()
    (out / "mine.html").write_text("the user's")
    build(example, out, jobs=1)  # without --clean it only adds its own files
    with pytest.raises(BriefingError, match=r"--clean empties only a folder briefing created"):
        build(example, out, jobs=1, clean=True)
    assert (out / "mine.html").read_text() == "the user's"


def test_a_crafted_manifest_cannot_aim_a_removal_outside(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "outside").mkdir()
    (out / "linked").symlink_to(tmp_path / "outside")
    (tmp_path / "outside" / "x.txt").write_text("keep me too")
    manifest = out / MANIFEST
    manifest.write_text(manifest.read_text() + "../victim.txt\n/etc/hostname\nlinked/x.txt\n")
    build(example, out, jobs=1)
    assert victim.read_text() == "keep me"
    assert (tmp_path / "outside" / "x.txt").read_text() == "keep me too"


# --- one build at a time, and a kill among the moves -------------------------------------


def test_a_second_build_reports_the_first_and_leaves_it_alone(
    example: Path, tmp_path: Path, pause: Path
) -> None:
    out = tmp_path / "site"
    first = _briefing(
        example, "build", "--out", str(out), env={"BRIEFING_PAUSE_AT": f"locked:{pause}"}
    )
    pid = reached(pause)
    second = _briefing(example, "build", "--out", str(out))
    _, err = second.communicate(timeout=120)
    assert second.returncode == 1
    assert err.startswith(f"error: {out}/ is being built by process {pid} since "), err
    with open(pause / "go", "w") as go:
        go.write("go\n")
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    build(example, tmp_path / "reference", jobs=1)
    assert _site(out) == _site(tmp_path / "reference")
    assert not (out / STAGING).exists()


def test_two_builds_started_together_leave_a_whole_site(example: Path, tmp_path: Path) -> None:
    """The attack: two builds at once deleted each other's staging folder and left 9 of
    946 files. Now each either builds or names the other; the site is whole after."""
    out = tmp_path / "site"
    runs = [_briefing(example, "build", "--out", str(out), "--jobs", "1") for _ in range(2)]
    results = [(run.wait(timeout=180), run.stderr.read() if run.stderr else "") for run in runs]
    assert any(code == 0 for code, _ in results), results
    for code, err in results:
        # The holder's name is written just after its lock is taken: in between, the
        # other run can only say "another process".
        assert code == 0 or re.search(r"is being built by (process \d+|another process)", err), err
    build(example, tmp_path / "reference", jobs=1)
    assert _site(out) == _site(tmp_path / "reference")


def test_a_build_killed_among_the_moves_is_repaired_by_the_next(
    example: Path, tmp_path: Path, pause: Path
) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    (out / "tags" / "old-tag").mkdir()  # a stale page the killed build meant to remove
    (out / "tags" / "old-tag" / "index.html").write_text("stale")
    manifest = out / MANIFEST
    manifest.write_text(manifest.read_text() + "tags/old-tag/index.html\n")
    # A new issue whose files the killed build moves in first (issues/aaa-new/ sorts early),
    # deleted before the next build: only the manifest written before the moves knows them.
    new = _copy_issue(example, "2025-05-01-aaa-new")
    base = example / "templates" / "web" / "base.html.j2"  # and every page changes
    base.write_text(base.read_text().replace("</head>", "<!-- edited --></head>"))
    killed = _briefing(
        example, "build", "--out", str(out), env={"BRIEFING_PAUSE_AT": f"moving:{pause}"}
    )
    reached(pause)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=60)
    assert (out / STAGING).exists()  # half moved: the situation to repair
    assert (out / "issues" / "aaa-new" / "index.html").exists()
    shutil.rmtree(new)
    build(example, out, jobs=1)
    assert not (out / "issues" / "aaa-new").exists()
    assert not (out / STAGING).exists()
    assert not (out / "tags" / "old-tag").exists()
    build(example, tmp_path / "reference", jobs=1, clean=True)
    assert _site(out) == _site(tmp_path / "reference")


def _copy_issue(example: Path, name: str) -> Path:
    source = example / "issues" / "2025-06-03-trump-xi-call"
    copy = example / "issues" / name
    shutil.copytree(source, copy)
    issue_md = copy / "issue.md"
    text = re.sub(r"(?m)^date: .*$", f"date: {name[:10]}T07:00:00Z", issue_md.read_text())
    issue_md.write_text(re.sub(r"(?m)^number: .*$", "number: 999", text))
    return copy


def test_a_full_disk_names_the_file(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if self.name == "email.html":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    result = CliRunner().invoke(cli, ["--project", str(example), "build", "--jobs", "1"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: site/issues/") and lines[0].endswith(
        "/email.html: No space left on device"
    ), lines


# --- the cache is data -------------------------------------------------------------------


class _Boom:
    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.flag, "code ran"))


@pytest.mark.parametrize("name", ["build-cache.pickle", "build-cache.json"])
def test_a_crafted_cache_runs_no_code(example: Path, tmp_path: Path, name: str) -> None:
    flag = tmp_path / "pwned"
    (example / ".briefing").mkdir()
    (example / ".briefing" / name).write_bytes(pickle.dumps((3, _Boom(flag))))
    report = build(example, tmp_path / "site", jobs=1).report
    assert report.written > 20
    assert not flag.exists()


def test_a_corrupt_cache_is_ignored_with_a_debug_line(
    example: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    cache = example / CACHE_FILE
    for damage in (b"{not json", b'{"format": 4, "environment": 1}', cache.read_bytes()[:-9]):
        cache.write_bytes(damage)
        (out / "index.html").unlink()
        with caplog.at_level(logging.DEBUG, logger="briefing"):
            result = build(example, out, jobs=1)
        assert result.rendered == frozenset(result.groups)  # everything, from scratch
        assert (out / "index.html").is_file()
    assert any("ignoring the build cache" in r.message for r in caplog.records)


def _same_size_edit(article: Path) -> None:
    """Edit article keeping its size and setting its modification time back."""
    stat = article.stat()
    text = article.read_text()
    article.write_text(text.replace("Geneva", "Zurich", 1))
    assert article.stat().st_size == stat.st_size
    os.utime(article, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("racy", [True, False], ids=["recent-hashed", "by-ctime-alone"])
def test_an_edit_with_the_same_size_and_mtime_is_seen(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, racy: bool
) -> None:
    if not racy:  # no content hashes: the change time alone must tell
        monkeypatch.setattr(briefing.cache, "RACY_NS", -(10**18))
    out = tmp_path / "site"
    build(example, out, jobs=1)
    article = next((example / "issues").glob("2025-06-10-*/01-*.md"))
    assert "Geneva" in article.read_text()
    _same_size_edit(article)
    build(example, out, jobs=1)
    assert "Zurich" in (out / "issues" / "tariff-timeline" / "index.html").read_text()


def test_files_read_while_recent_are_hashed_once(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build right after a copy hashes every file (racy); once their times are
    out of the window, the cache keeps stamps alone: the next build reads no source."""
    out = tmp_path / "site"
    save = briefing.cache.BuildCache.save

    def later(cache: briefing.cache.BuildCache, root: Path) -> None:  # the window passed
        monkeypatch.setattr(briefing.cache, "RACY_NS", -(10**18))
        save(cache, root)
        monkeypatch.setattr(briefing.cache, "RACY_NS", 2_000_000_000)

    with monkeypatch.context() as patched:
        patched.setattr(briefing.cache.BuildCache, "save", later)
        build(example, out, jobs=1)
    stamps = [
        s for v in json.loads((example / CACHE_FILE).read_text())["issues"].values() for s in v[0]
    ]
    assert stamps and not any(s[5] for s in stamps)

    def unread(path: Path) -> str:
        raise AssertionError(f"{path} read: its stamp should have told")

    monkeypatch.setattr(briefing.cache, "RACY_NS", -(10**18))  # later still
    monkeypatch.setattr(briefing.cache, "_content_hash", unread)
    before = (example / CACHE_FILE).stat().st_mtime_ns
    assert build(example, out, jobs=1).rendered == frozenset()
    assert (example / CACHE_FILE).stat().st_mtime_ns == before


def test_the_cache_reads_back_what_it_saved(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = build(example, out, jobs=1)
    second = build(example, out, jobs=1)
    assert second.rendered == frozenset()  # every issue and group came from the cache
    assert second.publication == first.publication
    # Field by field, as the renderers read them (defaults included: preheader, tags, …).
    for stored, loaded in zip(second.publication.issues, first.publication.issues, strict=True):
        assert type(stored).__name__ == "StoredIssue"
        for name in (f.name for f in dataclasses.fields(loaded)):
            assert getattr(stored, name) == getattr(loaded, name), name
        assert stored.summary == loaded.summary


def _edit_and_rebuild(example: Path, out: Path) -> Path:
    article = next((example / "issues").glob("2025-06-10-*/01-*.md"))
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    build(example, out, jobs=1)
    return article


@pytest.mark.parametrize("damage", ["flipped", "truncated", "gone"])
def test_a_damaged_issue_store_is_read_from_the_folders_again(
    example: Path, tmp_path: Path, damage: str
) -> None:
    """The issues' bodies are read from the store only when used, each checked against
    its hash: a damaged one is read from its folder, and the site is as a clean build's."""
    out = tmp_path / "site"
    build(example, out, jobs=1)
    store = example / briefing.cache.STORE_FILE
    data = store.read_bytes()
    if damage == "flipped":  # same size, other bytes: only the hash can tell
        store.write_bytes(data.replace(b"Geneva", b"Genevo"))
        assert store.read_bytes() != data
    elif damage == "truncated":
        store.write_bytes(data[: len(data) // 2])
    else:
        store.unlink()
    page = out / "issues" / "tariff-timeline" / "index.html"
    page.unlink()  # rendered again from the stored body
    assert build(example, out, jobs=1).rendered == {"issue:tariff-timeline"}
    assert "Geneva" in page.read_text() and "Genevo" not in page.read_text()
    build(example, tmp_path / "clean", jobs=1, clean=True)
    assert _site(out) == _site(tmp_path / "clean")


def test_the_issue_store_is_compacted_when_mostly_replaced(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    store = example / briefing.cache.STORE_FILE
    first = store.stat().st_size
    for _ in range(6):  # each edit appends one issue's body
        _edit_and_rebuild(example, out)
    assert store.stat().st_size < 3 * first + (1 << 20)
    monkeypatch.setattr(briefing.cache, "_COMPACT_SLACK", 0)
    _edit_and_rebuild(example, out)
    assert store.stat().st_size < 2 * first

    def unused(folder: Path) -> None:
        raise AssertionError(f"{folder} read again: the compacted store did not serve it")

    monkeypatch.setattr("briefing.sources.issues.reload_issue", unused)
    again = build(example, out, jobs=1)  # the compacted store reads back
    assert again.rendered == frozenset()
    assert again.publication.issues == load(example).issues  # every body read from the store
    monkeypatch.undo()
    build(example, tmp_path / "clean", jobs=1, clean=True)
    assert _site(out) == _site(tmp_path / "clean")


def test_malformed_stamps_in_the_cache_reload_the_issue(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    path = example / CACHE_FILE
    stored = json.loads(path.read_text())
    for entry in stored["issues"].values():
        entry[0] = [["issue.md", 1]]  # a stamp of two fields, not six
    path.write_text(json.dumps(stored))
    result = build(example, out, jobs=1)
    assert result.report.written == 0 and not result.rendered - {"sitemap"}
    assert result.publication == build(example, tmp_path / "b", jobs=1).publication


def test_a_stored_field_of_the_wrong_type_reloads_the_issue(example: Path, tmp_path: Path) -> None:
    """Fields are decoded on first use: one that does not decode is read from its folder."""
    out = tmp_path / "site"
    build(example, out, jobs=1)
    path = example / CACHE_FILE
    stored = json.loads(path.read_text())
    for entry in stored["issues"].values():
        entry[2]["title"] = 5
    path.write_text(json.dumps(stored))
    (out / "index.html").unlink()  # the index lists every title
    result = build(example, out, jobs=1)
    assert result.rendered == {"index"}
    assert "The Geneva truce, explained" in (out / "index.html").read_text()
    assert result.publication == load(example)


def test_a_build_leaves_the_garbage_collector_as_it_found_it(example: Path, tmp_path: Path) -> None:
    """Collection pauses while the issues load; after any build it runs, nothing frozen."""
    assert gc.isenabled() and gc.get_freeze_count() == 0
    build(example, tmp_path / "site", jobs=1)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    issue_md = next((example / "issues").glob("2025-06-10-*/issue.md"))
    issue_md.write_text("---\ntitle: [unclosed\n---\n")
    with pytest.raises(BriefingError):
        build(example, tmp_path / "site", jobs=1)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _build_showing_modules(
    project: Path, packages: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    """`briefing build` in a fresh process; its output ends with the modules of packages
    it loaded."""
    script = (
        "import sys\n"
        "from briefing.cli.app import main\n"
        f"sys.argv = ['briefing', '--project', {str(project)!r}, 'build']\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        f"    print(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def test_a_no_op_build_loads_no_renderer(example: Path) -> None:
    """Nothing to render: no Markdown parser, template engine or email compiler loaded."""
    for _ in range(2):
        result = CliRunner().invoke(cli, ["--project", str(example), "build", "--jobs", "1"])
        assert result.exit_code == 0, result.output
    heavy = ("jinja2", "markdown_it", "mrml", "css_inline", "yaml", "PIL", "feedgen")
    done = _build_showing_modules(example, heavy)
    assert "0 written" in done.stdout, done.stdout + done.stderr
    assert done.stdout.strip().endswith("[]"), done.stdout


def test_an_edit_the_feeds_do_not_show_loads_no_feed_writer(example: Path) -> None:
    """The feeds hold only the newest issue: an edit to the oldest re-renders its page,
    not the feeds, and feedgen is not even imported; the bytes are a full build's."""
    toml = example / "briefing.toml"
    toml.write_text(toml.read_text().replace("max_items = 20", "max_items = 1"))
    result = CliRunner().invoke(cli, ["--project", str(example), "build", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    oldest = example / "issues" / "2025-06-03-trump-xi-call" / "02-by-the-numbers.md"
    with oldest.open("a", encoding="utf-8") as handle:
        handle.write("\nOne more sentence, in the oldest issue only.\n")
    done = _build_showing_modules(example, ("feedgen", "lxml"))
    assert " 0 removed" in done.stdout and " 0 written" not in done.stdout, done.stdout
    assert done.stdout.strip().endswith("[]"), done.stdout + done.stderr
    page = example / "site" / "issues" / "trump-xi-call" / "index.html"
    assert "One more sentence" in page.read_text()
    fresh = build(example, example.parent / "fresh", jobs=1)
    assert _site(fresh.out_dir) == _site(example / "site")


def test_preview_thread_and_build_share_the_lock(example: Path, tmp_path: Path) -> None:
    """A build in this process while another holds the site: the same clear error."""
    from briefing.cache import digest
    from briefing.out_folder import site_lock

    out = (tmp_path / "site").resolve()
    lock = example / ".briefing" / f"build-{digest(str(out))[:16]}.lock"
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with site_lock(lock, "site/"):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(60)
    try:
        with pytest.raises(BriefingError, match=rf"is being built by process {os.getpid()} "):
            build(example, out, jobs=1)
    finally:
        release.set()
        holder.join()
    build(example, out, jobs=1)


def test_a_no_op_build_does_not_rewrite_the_cache(example: Path) -> None:
    """The cache is saved only when something in it changed (the clock's cut-off is not)."""
    for _ in range(2):
        result = CliRunner().invoke(cli, ["--project", str(example), "build", "--jobs", "1"])
        assert result.exit_code == 0, result.output
    before = (example / CACHE_FILE).stat()
    result = CliRunner().invoke(cli, ["--project", str(example), "build", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    after = (example / CACHE_FILE).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_new_cut_off_alone_is_no_reason_to_save() -> None:
    from briefing.cache import BuildCache

    cache = BuildCache("environment")
    cache.cut_off("2026-01-01T00:00:00+00:00")
    assert cache.as_of == "2026-01-01T00:00:00+00:00" and not cache.changed


def test_an_os_error_naming_no_file_is_one_clean_line(
    example: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack: `error: : No space left on device` (an empty file name)."""
    import briefing.build as build_service
    from briefing.cli.app import main

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(build_service, "build", full)  # the command imports it when it runs
    monkeypatch.setattr(sys, "argv", ["briefing", "--project", str(example), "build"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == "error: No space left on device\n"
