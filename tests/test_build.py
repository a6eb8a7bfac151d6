"""The whole build: golden files, determinism, write-if-changed, stale files, collisions."""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path

import pytest

from briefing.build import PARALLEL_THRESHOLD, build
from briefing.config import load_config
from briefing.errors import BriefingError, ContentError
from briefing.output import MANIFEST, OWN, Outputs, write_site
from briefing.render.theme import eject
from briefing.sources.issues import PARALLEL_LOAD

GOLDEN = Path(__file__).resolve().parent / "golden"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in OWN  # briefing's bookkeeping: manifest, lock, marker
    }


def _pretty(path: str, data: bytes) -> bytes:
    """Email HTML with a line break between adjacent tags: MJML writes long lines, and a
    theme change should read as a diff of a few lines (in git and in the failure)."""
    if not path.endswith("email.html"):
        return data
    return re.sub(rb">(?=<)", b">\n", data)


def test_fixture_build_matches_golden_files(fixture_pub: Path, tmp_path: Path) -> None:
    """Set BRIEFING_UPDATE_GOLDEN=1 to rewrite tests/golden/ (then review the diff by eye).

    The fixture builds on the packaged theme alone; its emails are kept pretty-printed."""
    out = tmp_path / "site"
    build(fixture_pub, out, jobs=1)
    produced = {path: _pretty(path, data) for path, data in _files(out).items()}
    if os.environ.get("BRIEFING_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for path, data in produced.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_bytes(data)
    expected = _files(GOLDEN)
    assert sorted(produced) == sorted(expected)
    for path, data in expected.items():
        if produced[path] != data:
            diff = difflib.unified_diff(
                data.decode("utf-8", "replace").splitlines(),
                produced[path].decode("utf-8", "replace").splitlines(),
                f"tests/golden/{path}",
                "built",
                lineterm="",
            )
            pytest.fail(f"{path} differs from tests/golden/{path}:\n" + "\n".join(list(diff)[:60]))


def test_two_builds_are_byte_identical_and_the_second_writes_nothing(
    example: Path, tmp_path: Path
) -> None:
    first = build(example, tmp_path / "a", jobs=1)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "a").rglob("*.*")}
    second = build(example, tmp_path / "a", jobs=1)
    assert first.report.written > 20
    assert second.report.written == 0
    assert second.report.unchanged == first.report.written
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "a").rglob("*.*")}
    assert after == before
    # A fresh folder, a parallel build: the same bytes.
    build(example, tmp_path / "b", jobs=2)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def _copies(example: Path, count: int) -> list[Path]:
    """count copies of an example issue, each with its own date and number."""
    source = next((example / "issues").iterdir())
    copies = []
    for n in range(count):
        copy = example / "issues" / f"2030-01-{n + 1:02d}-copy-{n}"
        shutil.copytree(source, copy)
        issue_md = copy / "issue.md"
        text = re.sub(
            r"(?m)^date: .*$", f"date: 2030-01-{n + 1:02d}T07:00:00Z", issue_md.read_text()
        )
        issue_md.write_text(re.sub(r"(?m)^number: .*$", f"number: {100 + n}", text))
        copies.append(copy)
    return copies


def test_parallel_build_matches_serial_build(example: Path, tmp_path: Path) -> None:
    # Enough issues to go past the thresholds of parallel loading and rendering.
    assert len(_copies(example, 16)) >= max(PARALLEL_LOAD, PARALLEL_THRESHOLD)
    build(example, tmp_path / "serial", jobs=1)
    build(example, tmp_path / "parallel", jobs=2)
    assert _files(tmp_path / "serial") == _files(tmp_path / "parallel")


def test_parallel_loading_lists_problems_in_folder_order(example: Path, tmp_path: Path) -> None:
    copies = _copies(example, 20)
    for n in (2, 9, 17):  # articles named against the rule, in three folders
        article = next(copies[n].glob("0*.md"))
        article.rename(article.with_name("story.md"))
    (copies[5] / "issue.md").write_text("no front matter\n")
    messages = []
    for jobs in (1, 2):
        with pytest.raises(ContentError) as caught:
            build(example, tmp_path / f"site-{jobs}", jobs=jobs)
        messages.append(caught.value.message)
    assert messages[0] == messages[1]
    named = [line.split("/")[1] for line in messages[0].split("\n")]
    assert named == sorted(named) and len(named) == 4, messages[0]


def test_only_changed_files_are_rewritten(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    article = next((example / "issues").glob("2025-06-10-*/01-*.md"))
    article.write_text(article.read_text().replace("Geneva", "Lausanne", 1))
    report = build(example, out, jobs=1).report
    # The issue's page, email, text and the three feeds change; nothing else.
    assert report.written == 6
    assert report.removed == 0


def test_removed_issue_disappears_and_unknown_files_survive_without_clean(
    example: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    (out / "CNAME").write_text("briefing.example.com\n")
    shutil.rmtree(next((example / "issues").glob("2025-06-17-*")))
    report = build(example, out, jobs=1).report
    assert not (out / "issues" / "critical-minerals-chips").exists()
    assert not (out / "tags" / "rare-earths").exists()
    assert report.removed > 3
    assert (out / "CNAME").exists()
    build(example, out, jobs=1, clean=True)
    assert not (out / "CNAME").exists()


def test_outputs_refuse_two_writers_on_one_path() -> None:
    outputs = Outputs()
    outputs.add("issues/a/index.html", "one", "issues/2025-01-01-a")
    with pytest.raises(BriefingError, match=r"issues/2025-01-02-a.*already writes"):
        outputs.add("issues/a/index.html", "two", "issues/2025-01-02-a")
    with pytest.raises(BriefingError, match="leaves the site folder"):
        outputs.add("../escape.html", "x", "theme")


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    outputs = Outputs()
    outputs.add("a/b.txt", "hello", "test")
    write_site(outputs, tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == [MANIFEST, "a", "b.txt"]


def test_failed_build_leaves_the_previous_site(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    before = _files(out)
    (example / "templates" / "email.txt.j2").write_text("{{ issue.nope }}\n")
    with pytest.raises(BriefingError, match=r"email\.txt\.j2"):
        build(example, out, jobs=1)
    assert _files(out) == before


# --- the build cache ---------------------------------------------------------------------


def _rendered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Slugs whose emails get rendered from now on."""
    import briefing.render.email as email

    seen: list[str] = []
    original = email.render_email

    def spy(publication, view, theme):  # type: ignore[no-untyped-def]
        seen.append(view.issue.slug)
        return original(publication, view, theme)

    monkeypatch.setattr(email, "render_email", spy)
    return seen


def test_a_rebuild_renders_only_what_an_edit_touched(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    rendered = _rendered(monkeypatch)
    assert build(example, out, jobs=1).report.written == 0
    assert rendered == []
    article = next((example / "issues").glob("2025-06-10-*/01-*.md"))
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    import briefing.render.site_files as site_files

    listed: list[str] = []  # issues whose listing the plan digests: the edited one alone
    original = site_files.listed
    monkeypatch.setattr(site_files, "listed", lambda i: listed.append(i.slug) or original(i))
    build(example, out, jobs=1)
    assert rendered == ["tariff-timeline"]
    assert listed == ["tariff-timeline"]
    # The incremental result is exactly what a clean build gives.
    build(example, tmp_path / "clean", jobs=1, clean=True)
    assert _files(out) == _files(tmp_path / "clean")


def test_a_new_title_updates_the_neighbours_pages(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    rendered = _rendered(monkeypatch)
    issue_md = example / "issues/2025-06-10-tariff-timeline/issue.md"
    issue_md.write_text(re.sub(r"(?m)^title: .*$", 'title: "Renamed"', issue_md.read_text()))
    build(example, out, jobs=1)
    assert sorted(rendered) == ["critical-minerals-chips", "tariff-timeline", "trump-xi-call"]
    assert "Newer: Renamed" in (out / "issues/trump-xi-call/index.html").read_text()
    assert "Renamed" in (out / "index.html").read_text()


def test_theme_changes_and_lost_files_are_rebuilt(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    rendered = _rendered(monkeypatch)
    (out / "issues/trump-xi-call/email.txt").unlink()
    build(example, out, jobs=1)
    assert rendered == ["trump-xi-call"]
    assert (out / "issues/trump-xi-call/email.txt").is_file()
    (css,) = eject(load_config(example), ["email.css"])
    css.write_text(css.read_text() + "\nh3 { color: #111111; }\n")
    build(example, out, jobs=1)
    assert sorted(rendered[1:]) == ["critical-minerals-chips", "tariff-timeline", "trump-xi-call"]


def test_a_damaged_cache_means_a_full_build(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(example, out, jobs=1)
    (example / ".briefing" / "build-cache.json").write_bytes(b"not json")
    report = build(example, out, jobs=1).report
    assert report.written == 0 and report.unchanged > 20  # rendered again, same bytes


def test_new_folders_move_in_whole_and_give_the_same_site(example: Path, tmp_path: Path) -> None:
    """A first build moves each folder the site lacks in one rename; a site whose
    folders already exist (empty) gets file by file the same files and counts."""
    whole = build(example, tmp_path / "whole", jobs=1)
    by_file = tmp_path / "by-file"
    for folder in {Path(p).parent for p in _files(tmp_path / "whole")}:
        (by_file / folder).mkdir(parents=True, exist_ok=True)
    filewise = build(example, by_file, jobs=1)
    assert _files(tmp_path / "whole") == _files(by_file)
    assert whole.report == filewise.report
    assert whole.report.written == len(_files(tmp_path / "whole"))
    assert not (tmp_path / "whole" / ".briefing-staging").exists()


def _killed(*args: object) -> None:
    os._exit(9)  # the pool's worker dies as if killed (the pool pickles this by name)


@pytest.mark.parametrize(
    "where", ["briefing.sources.issues._read_one", "briefing.build._stage_in_worker"]
)
def test_a_worker_killed_from_outside_is_one_error_and_the_site_stays(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The OOM killer or kill -9 on a pool worker, while loading or rendering."""
    out = tmp_path / "site"
    build(example, out, jobs=1)
    before = _files(out)
    _copies(example, 16)  # enough issues for both pools

    monkeypatch.setattr(where, _killed)
    with pytest.raises(BriefingError, match=r"stopped from outside .* run the build again"):
        build(example, out, jobs=2)
    assert _files(out) == before
    assert not (out / ".briefing-staging").exists()


def test_hostile_files_are_refused_by_the_loading_workers_too(
    example: Path, tmp_path: Path
) -> None:
    """A FIFO (would hang a read), a link out of issues/ and an escape sequence, in
    folders the pool's workers load: each refused with its file, in folder order."""
    copies = _copies(example, 20)
    os.mkfifo(copies[4] / "02-pipe.md")
    (copies[9] / "03-link.md").symlink_to(tmp_path / "secret.md")
    (tmp_path / "secret.md").write_text("---\nheadline: secret\n---\n")
    with (copies[14] / "issue.md").open("a") as issue_md:
        issue_md.write("x\x1b[31mred\n")
    with pytest.raises(ContentError) as caught:
        build(example, tmp_path / "site", jobs=2)
    lines = caught.value.message.split("\n")
    assert [line.split(":")[0].split("/")[1] for line in lines] == [
        copies[n].name for n in (4, 9, 14)
    ]
    assert "named pipe" in lines[0] and "outside issues/" in lines[1] and "U+001B" in lines[2]
