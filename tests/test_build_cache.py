"""The build cache's shortcuts (issue 15, round two): an issue folder's own stamp lets a
rebuild stat the files it knows without listing the folder, and a save keeps the lines
of the metadata that did not change. Each must still see every edit."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

import briefing.cache
import briefing.cache.build_cache
from briefing.build import build, load
from briefing.cache import CACHE_FILE
from briefing.cache.signatures import Signature

TARIFF = "2025-06-10-tariff-timeline"


@pytest.fixture
def settled(example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example built once with every file and folder out of the racy window (as a
    project is minutes after its last edit): the cache holds each folder's own stamp."""
    monkeypatch.setattr(briefing.cache, "RACY_NS", -(10**18))
    build(example, tmp_path / "site", jobs=1)
    return example


def _entries(root: Path) -> dict[str, list[Any]]:
    entries: dict[str, list[Any]] = json.loads((root / CACHE_FILE).read_text())["issues"]
    return entries


def _no_listing(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every issue folder the cache lists (signature() reads the whole folder)."""
    listed: list[Path] = []
    real = briefing.cache.build_cache.signature

    def spy(folder: Path, *args: bool) -> Signature:
        listed.append(folder)
        return real(folder, *args)

    monkeypatch.setattr(briefing.cache.build_cache, "signature", spy)
    return listed


def test_a_settled_rebuild_lists_no_issue_folder(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert all(entry[5] for entry in _entries(settled).values())  # every folder stamped
    listed = _no_listing(monkeypatch)
    result = build(settled, tmp_path / "site", jobs=1)
    assert result.rendered == frozenset() and listed == []


@pytest.mark.parametrize("change", ["added", "removed", "same-size-and-mtime", "renamed-over"])
def test_every_change_in_a_stamped_folder_is_seen(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    folder = settled / "issues" / TARIFF
    second = folder / "02-truce-timeline.md"
    first = folder / "01-geneva-truce-explained.md"
    if change == "added":  # a third article: the folder's times move, its files are listed
        (folder / "03-more.md").write_text(second.read_text())
    elif change == "removed":
        second.unlink()
    elif change == "same-size-and-mtime":  # the folder's times stay: the file's ctime tells
        stat = first.stat()
        first.write_text(first.read_text().replace("Geneva", "Zurich", 1))
        os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert first.stat().st_size == stat.st_size
    else:  # an editor's save: a new file renamed over the old one
        fresh = folder / ".01.swp"
        fresh.write_text(first.read_text().replace("Geneva", "Zurich", 1))
        fresh.replace(first)
    listed = _no_listing(monkeypatch)
    result = build(settled, tmp_path / "site", jobs=1)
    assert "issue:tariff-timeline" in result.rendered
    assert result.publication == load(settled)  # what the folders hold now
    if change == "same-size-and-mtime":
        assert listed == [folder]  # its stat told; the folder was listed to record it whole
    clean = build(settled, tmp_path / "clean", jobs=1, clean=True)
    assert clean.publication == result.publication


def test_a_recent_folder_is_listed_until_its_stamp_settles(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder changed in the racy window could change again within its timestamp's
    tick unseen: no folder stamp is kept for it, and the next build lists it."""
    monkeypatch.setattr(briefing.cache, "RACY_NS", 10**15)  # everything is recent
    build(example, tmp_path / "site", jobs=1)
    assert not any(entry[5] for entry in _entries(example).values())
    listed = _no_listing(monkeypatch)
    build(example, tmp_path / "site", jobs=1)
    assert len(listed) == len(list((example / "issues").iterdir()))


@pytest.mark.parametrize("stamp", [[1, 2], ["a", 2, 3], [1, 2, 3, 4], {"m": 1}])
def test_a_malformed_folder_stamp_rebuilds_all_with_a_debug_line(
    settled: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, stamp: object
) -> None:
    path = settled / CACHE_FILE
    stored = json.loads(path.read_text())
    next(iter(stored["issues"].values()))[5] = stamp
    path.write_text(json.dumps(stored))
    (tmp_path / "site" / "index.html").unlink()
    with caplog.at_level(logging.DEBUG, logger="briefing"):
        result = build(settled, tmp_path / "site", jobs=1)
    assert result.rendered == frozenset(result.groups)  # a full build, from the folders
    assert any("ignoring the build cache" in r.message for r in caplog.records)


def test_a_stored_name_that_is_not_a_plain_one_lists_the_folder(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crafted stamp naming a file outside the folder is not stat()ed: the folder is
    listed and loaded again."""
    path = settled / CACHE_FILE
    stored = json.loads(path.read_text())
    entry = stored["issues"][TARIFF]
    entry[0][0][0] = "../../briefing.toml"
    path.write_text(json.dumps(stored))
    listed = _no_listing(monkeypatch)
    result = build(settled, tmp_path / "site", jobs=1)
    assert listed == [settled / "issues" / TARIFF]
    assert result.publication == load(settled)


def test_an_edit_rewrites_only_its_lines_and_reads_back_whole(
    settled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an edit the metadata keeps the other issues' lines as they were: what it
    reads back is what the folders hold (a no-op next, the same issues as a fresh load)."""
    before = (settled / CACHE_FILE).read_bytes().split(b"\n")
    untouched = [line for line in before if line.startswith(b'"2025-06-03-')]
    assert untouched  # one issue a line
    encoded: list[str] = []
    real = briefing.cache.build_cache._line

    def spy(name: str, value: object) -> bytes:
        encoded.append(name)
        return real(name, value)

    monkeypatch.setattr(briefing.cache.build_cache, "_line", spy)
    article = settled / "issues" / TARIFF / "01-geneva-truce-explained.md"
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    build(settled, tmp_path / "site", jobs=1)
    assert TARIFF in encoded and not any(n.startswith("2025-06-03-") for n in encoded)
    after = (settled / CACHE_FILE).read_bytes().split(b"\n")
    assert all(line in after for line in untouched)
    stamps = {s[0]: s[1] for s in _entries(settled)[TARIFF][0]}
    assert stamps[article.name] == article.stat().st_size
    again = build(settled, tmp_path / "site", jobs=1)
    assert again.rendered == frozenset()
    assert again.publication == load(settled)


def test_a_cache_laid_out_otherwise_is_encoded_whole(settled: Path, tmp_path: Path) -> None:
    """A metadata file on one line (rewritten by hand or by another tool) reads back, and
    the next save writes the one-entry-a-line layout with the same content."""
    path = settled / CACHE_FILE
    stored = json.loads(path.read_text())
    path.write_text(json.dumps(stored))
    article = settled / "issues" / TARIFF / "01-geneva-truce-explained.md"
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    build(settled, tmp_path / "site", jobs=1)
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == len(stored["issues"]) + len(stored["outputs"]) + 3
    again = json.loads(path.read_text())
    assert again["outputs"].keys() == stored["outputs"].keys()
    assert build(settled, tmp_path / "site", jobs=1).rendered == frozenset()


def test_a_no_op_still_removes_what_the_manifest_lists_beyond_its_files(
    example: Path, tmp_path: Path
) -> None:
    """A build that renders nothing skips the manifest only when it lists exactly the
    files kept; a file listed beyond them (left by a build killed among its moves) goes."""
    from briefing.out_folder import MANIFEST

    out = tmp_path / "site"
    build(example, out, jobs=1)
    manifest = out / MANIFEST
    listing = manifest.read_bytes()
    assert build(example, out, jobs=1).rendered == frozenset()
    assert manifest.read_bytes() == listing
    (out / "left-over.html").write_text("old")
    manifest.write_bytes(listing + b"left-over.html\n")
    result = build(example, out, jobs=1)
    assert result.rendered == frozenset() and result.report.removed == 1
    assert not (out / "left-over.html").exists() and manifest.read_bytes() == listing


def test_an_edit_still_removes_what_the_manifest_lists_beyond_its_files(
    example: Path, tmp_path: Path
) -> None:
    """An edit skips parsing the manifest only when it lists exactly the site's files;
    a file listed beyond them (left by a build killed among its moves) still goes."""
    from briefing.out_folder import MANIFEST

    out = tmp_path / "site"
    build(example, out, jobs=1)
    manifest = out / MANIFEST
    listing = manifest.read_bytes()
    (out / "left-over.html").write_text("old")
    manifest.write_bytes(listing + b"left-over.html\n")
    article = example / "issues" / TARIFF / "01-geneva-truce-explained.md"
    article.write_text(article.read_text() + "\nOne more sentence.\n")
    result = build(example, out, jobs=1)
    assert "issue:tariff-timeline" in result.rendered and result.report.removed == 1
    assert not (out / "left-over.html").exists() and manifest.read_bytes() == listing
    article.write_text(article.read_text() + "\nAnd another.\n")
    again = build(example, out, jobs=1)  # the manifest as it should be: kept as it is
    assert again.report.removed == 0 and manifest.read_bytes() == listing


def test_a_reused_issue_is_in_the_folder_it_was_found_in_not_the_stored_one(
    settled: Path, tmp_path: Path
) -> None:
    """A rebuild takes an unchanged issue from the cache without making its folder's
    Path; its folder is still where the loader found it, whatever the cache says."""
    path = settled / CACHE_FILE
    stored = json.loads(path.read_text())
    decoy = tmp_path / "elsewhere" / TARIFF
    stored["issues"][TARIFF][2]["folder"] = str(decoy)
    path.write_text(json.dumps(stored))
    result = build(settled, tmp_path / "site", jobs=1)
    assert result.rendered == frozenset()  # taken from the cache
    (issue,) = [i for i in result.publication.issues if i.folder.name == TARIFF]
    assert issue.folder == settled / "issues" / TARIFF
    assert result.publication == load(settled)
