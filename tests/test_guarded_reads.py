"""Reads after the loader's check go through the guarded path too (briefing.project_files).

The loader checks every image and theme file, but rendering reads them again later: a
file swapped for a link to a secret, or for a FIFO, between the check and the read
must be refused at the read. Each test swaps a file after `load` (and after
`Theme.load`), renders, and asserts a located refusal and that the secret marker is in
no output.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from briefing.build import build, load
from briefing.errors import BriefingError, RenderError
from briefing.render.context import IssueView, views
from briefing.render.site_files import render_issue_files, render_shared
from briefing.render.theme import PACKAGED, Theme
from briefing.site import Outputs

ISSUE = "issues/2025-01-07-first-light"


def secret_png(folder: Path, marker: str) -> Path:
    """A valid PNG outside the project whose bytes hold marker (a tEXt chunk)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("secret", marker)
    path = folder / "secret.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    return path


def secret_text(folder: Path, marker: str) -> Path:
    path = folder / "secret.txt"
    path.write_text(f"{marker}\n")
    return path


def swap(path: Path, target: Path | None) -> None:
    """Replace path by a symbolic link to target, or by a FIFO when target is None."""
    path.unlink()
    if target is None:
        os.mkfifo(path)
    else:
        path.symlink_to(target)


def holds(outputs: Outputs, marker: str) -> list[str]:
    return [name for name, data in outputs.files.items() if marker.encode() in data]


def _issue_index(all_views: list[IssueView], slug: str) -> int:
    return next(i for i, v in enumerate(all_views) if v.issue.slug == slug)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_an_image_swapped_after_load_is_refused(
    fixture_pub: Path, outside: Path, kind: str
) -> None:
    marker = f"secret-{uuid.uuid4().hex}"
    publication = load(fixture_pub)
    theme = Theme.load(publication.config)
    all_views = views(publication)
    swap(fixture_pub / ISSUE / "tower.png", secret_png(outside, marker) if kind == "link" else None)
    with pytest.raises(RenderError) as caught:  # and no hang on the FIFO
        render_issue_files(publication, all_views, _issue_index(all_views, "first-light"), theme)
    (problem,) = caught.value.problems
    assert problem.file == f"{ISSUE}/tower.png"
    assert ("outside issues/" if kind == "link" else "FIFO") in problem.message


def test_a_build_never_publishes_an_image_swapped_after_load(
    fixture_pub: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the whole build: the swap happens between loading and rendering."""
    marker = f"secret-{uuid.uuid4().hex}"
    secret = secret_png(outside, marker)
    original = render_issue_files

    def swapped_first(*args: object) -> object:
        tower = fixture_pub / ISSUE / "tower.png"
        if not tower.is_symlink():
            swap(tower, secret)
        return original(*args)  # type: ignore[arg-type]

    # The build imports the renderer when it renders: patched where it is defined.
    monkeypatch.setattr("briefing.render.site_files.render_issue_files", swapped_first)
    with pytest.raises(BriefingError) as caught:
        build(fixture_pub, jobs=1)
    assert any(p.file == f"{ISSUE}/tower.png" for p in caught.value.problems)
    site = fixture_pub / "site"
    leaked = [p for p in site.rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]
    assert not leaked


@pytest.mark.parametrize("kind", ["link", "fifo"])
@pytest.mark.parametrize("name", ["email.txt.j2", "web/_list.html.j2", "web/style.css"])
def test_a_theme_file_swapped_after_the_check_is_refused(
    fixture_pub: Path, outside: Path, name: str, kind: str
) -> None:
    """An override present at Theme.load (checked), then swapped for a link out of
    templates/ or a FIFO: the template loader and the stylesheet read refuse it."""
    marker = f"secret-{uuid.uuid4().hex}"
    override = fixture_pub / "templates" / name
    override.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGED / name, override)
    publication = load(fixture_pub)
    theme = Theme.load(publication.config)
    all_views = views(publication)
    swap(override, secret_text(outside, marker) if kind == "link" else None)
    outputs = Outputs()
    with pytest.raises(RenderError) as caught:
        for index in range(len(all_views)):
            outputs.update(render_issue_files(publication, all_views, index, theme))
        outputs.update(render_shared(publication, all_views, theme))
    assert any(p.file == f"templates/{name}" for p in caught.value.problems), caught.value
    assert not holds(outputs, marker)


def test_a_template_added_as_a_link_after_the_check_is_refused(
    fixture_pub: Path, outside: Path
) -> None:
    """A file that was not there at the check: Jinja must not open it on its own."""
    marker = f"secret-{uuid.uuid4().hex}"
    publication = load(fixture_pub)
    theme = Theme.load(publication.config)
    (fixture_pub / "templates/email.txt.j2").symlink_to(secret_text(outside, marker))
    all_views = views(publication)
    with pytest.raises(RenderError) as caught:
        render_issue_files(publication, all_views, 0, theme)
    (problem,) = caught.value.problems
    assert problem.file == "templates/email.txt.j2" and "outside templates/" in problem.message


def test_a_link_within_the_theme_is_still_followed(fixture_pub: Path) -> None:
    """Links inside templates/ are allowed (project_files' rule): same output."""
    shared = fixture_pub / "templates/shared.txt.j2"
    shutil.copyfile(PACKAGED / "email.txt.j2", shared)
    (fixture_pub / "templates/email.txt.j2").symlink_to(shared)
    build(fixture_pub, jobs=1)
    text = (fixture_pub / "site/issues/first-light/email.txt").read_text()
    assert text.strip()
