"""The layered theme: the publication's templates/ in front of the packaged theme."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from lxml import html

from briefing.build import build, load
from briefing.cli import cli
from briefing.config import load_config
from briefing.errors import BriefingError, ConfigError
from briefing.render.context import views
from briefing.render.email import render_email
from briefing.render.templates import COMPILED
from briefing.render.text import render_text
from briefing.render.theme import PACKAGED, REQUIRED, Layer, Theme, packaged_names


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def bare(example: Path) -> Path:
    """The example publication with no overrides: the packaged theme alone."""
    shutil.rmtree(example / "templates")
    (example / "templates").mkdir()
    return example


def test_one_overridden_file_wins_and_the_rest_come_from_the_package(
    bare: Path, tmp_path: Path
) -> None:
    css = (PACKAGED / "email.css").read_text()
    (bare / "templates" / "email.css").write_text(css.replace("#b3261e", "#0b57d0"))
    out = tmp_path / "site"
    build(bare, out, jobs=1)
    email = html.fromstring((out / "issues/trump-xi-call/email.html").read_bytes())
    # The override's link colour is inlined ...
    assert "color: #0b57d0" in str(
        email.xpath("//td[contains(@class,'article-body')]//a")[0].get("style")
    )
    # ... into the packaged MJML template's structure, and the pages use the packaged files.
    assert email.xpath("//*[contains(@class,'keypoints')]")
    assert (out / "style.css").read_bytes() == (PACKAGED / "web/style.css").read_bytes()
    page = (out / "issues/trump-xi-call/index.html").read_text()
    assert '<footer class="site-footer">' in page
    layers = dict(Theme.load(load_config(bare)).files())
    assert layers["email.css"].name == "publication"
    assert {layers[name].name for name in REQUIRED if name != "email.css"} == {"packaged"}


def test_an_override_can_extend_the_packaged_template_and_change_one_block(
    example: Path, tmp_path: Path
) -> None:
    """The example's own override: web/base.html.j2 adds a footer line to the packaged page."""
    assert (example / "templates/web/base.html.j2").is_file()
    out = tmp_path / "site"
    build(example, out, jobs=1)
    footer = html.fromstring((out / "index.html").read_bytes()).xpath("//footer")[0]
    texts = [p.text_content() for p in footer.iter("p")]
    assert texts[0].startswith("Follow by RSS")  # the packaged block, through super()
    assert "example publication of briefing" in texts[1]
    assert (out / "style.css").read_bytes() == (PACKAGED / "web/style.css").read_bytes()


def test_emails_are_the_same_with_and_without_the_examples_override(example: Path) -> None:
    publication = load(example)
    theme = Theme.load(publication.config)
    plain = Theme([Layer("packaged", PACKAGED)], example)
    for view in views(publication):
        assert render_email(publication, view, theme) == render_email(publication, view, plain)


def test_a_file_missing_from_every_layer_is_an_error_naming_it(bare: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial-theme"
    shutil.copytree(PACKAGED, partial)
    (partial / "email.css").unlink()
    with pytest.raises(ConfigError) as caught:
        Theme.load(load_config(bare), packaged=partial)
    assert "email.css: theme file missing" in str(caught.value)
    assert "templates/email.css" in str(caught.value)
    # Present in the publication's folder, it is enough.
    shutil.copy(PACKAGED / "email.css", bare / "templates" / "email.css")
    assert Theme.load(load_config(bare), packaged=partial).find("email.css") == (
        bare / "templates" / "email.css"
    )


def test_a_blank_email_stylesheet_is_refused_not_shipped_unstyled(bare: Path) -> None:
    (bare / "templates" / "email.css").write_text("\n  \n")
    result = _run("--project", str(bare), "build")
    assert result.exit_code == 1
    assert "templates/email.css: is empty" in result.output
    assert not (bare / "site").exists()


def test_eject_copies_packaged_files_and_never_overwrites_without_force(bare: Path) -> None:
    result = _run("--project", str(bare), "theme", "eject", "email.css", "web/style.css")
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["templates/email.css", "templates/web/style.css"]
    target = bare / "templates" / "email.css"
    assert target.read_bytes() == (PACKAGED / "email.css").read_bytes()
    target.write_text("a { color: red; }\n")
    again = _run("--project", str(bare), "theme", "eject", "email.css")
    assert again.exit_code == 1
    assert "templates/email.css already exists" in again.output and "--force" in again.output
    assert target.read_text() == "a { color: red; }\n"
    forced = _run("--project", str(bare), "theme", "eject", "--force", "email.css")
    assert forced.exit_code == 0, forced.output
    assert target.read_bytes() == (PACKAGED / "email.css").read_bytes()


def test_eject_without_names_copies_the_whole_theme(bare: Path) -> None:
    result = _run("--project", str(bare), "theme", "eject")
    assert result.exit_code == 0, result.output
    copied = sorted(
        p.relative_to(bare / "templates").as_posix()
        for p in (bare / "templates").rglob("*")
        if p.is_file()
    )
    assert copied == packaged_names()
    assert set(REQUIRED) <= set(copied)


def test_eject_of_an_unknown_file_names_it(bare: Path) -> None:
    result = _run("--project", str(bare), "theme", "eject", "email.scss")
    assert result.exit_code == 1
    assert "no packaged theme file 'email.scss'" in result.output
    assert not any((bare / "templates").iterdir())


def test_list_shows_each_file_and_its_layer(example: Path) -> None:
    (example / "templates" / "web" / "_extra.html.j2").write_text("<p>mine</p>\n")
    result = _run("--project", str(example), "theme", "list")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split(None, 1)[1] for line in result.output.splitlines()}
    assert rows["web/base.html.j2"] == "templates/"
    assert rows["web/_extra.html.j2"] == "templates/"
    assert rows["email.css"] == "briefing/theme/ (packaged)"
    assert set(REQUIRED) <= set(rows)
    assert "README.md" not in rows  # a note for people, not a theme file
    shutil.copy(PACKAGED / "email.css", example / "templates" / "email.css")
    again = _run("--project", str(example), "theme", "list").output
    rows = {line.split()[0]: line.split(None, 1)[1] for line in again.splitlines()}
    assert rows["email.css"] == "templates/ (same as packaged: can be deleted)"
    assert rows["web/base.html.j2"] == "templates/"


def test_init_writes_no_theme_unless_asked(tmp_path: Path) -> None:
    plain = _run("init", str(tmp_path / "plain"))
    assert plain.exit_code == 0, plain.output
    assert [p.name for p in (tmp_path / "plain" / "templates").iterdir()] == ["README.md"]
    full = _run("init", str(tmp_path / "full"), "--with-theme")
    assert full.exit_code == 0, full.output
    for name in REQUIRED:
        assert (tmp_path / "full" / "templates" / name).read_bytes() == (
            PACKAGED / name
        ).read_bytes()


def test_a_template_error_in_an_override_names_the_override(bare: Path) -> None:
    (bare / "templates" / "web").mkdir()
    (bare / "templates" / "web" / "index.html.j2").write_text(
        '{% extends "web/base.html.j2" %}\n{% block main %}\n{{ pub.nope }}\n{% endblock %}\n'
    )
    with pytest.raises(BriefingError, match=r"templates/web/index\.html\.j2:3: .*'nope'"):
        build(bare, bare / "site", jobs=1)


def test_an_edited_stylesheet_is_read_again_and_the_inliner_cache_stays_small(
    bare: Path,
) -> None:
    """A long-lived theme (preview) sees each CSS edit; its inliners do not pile up."""
    publication = load(bare)
    view = views(publication)[0]
    theme = Theme.load(publication.config)
    css = bare / "templates" / "email.css"
    base = (PACKAGED / "email.css").read_text()
    for n in range(10):
        # Each edit changes the size too: mtimes may tick coarser than these writes.
        css.write_text(base + f"\nh2 {{ letter-spacing: {n}px; }}\n" + " " * n)
        email = render_email(publication, view, theme)
        assert f"letter-spacing: {n}px" in email
    assert len(theme._objects.items) <= theme._objects.size < 10


def test_an_error_inside_a_packaged_template_names_the_packaged_file(bare: Path) -> None:
    (bare / "templates" / "web").mkdir()
    (bare / "templates" / "web" / "index.html.j2").write_text(
        '{% extends "web/base.html.j2" %}\n{% block main %}\n'
        '{% with issue_views = 5 %}{% include "web/_list.html.j2" %}{% endwith %}\n'
        "{% endblock %}\n"
    )
    line = next(
        n
        for n, text in enumerate((PACKAGED / "web/_list.html.j2").read_text().split("\n"), 1)
        if "issue_views" in text
    )
    with pytest.raises(BriefingError, match=rf"^briefing/theme/web/_list\.html\.j2:{line}: "):
        build(bare, bare / "site", jobs=1)


def test_compiled_templates_are_shared_between_themes_but_never_stale(bare: Path) -> None:
    """A rebuild's new theme reuses compiled templates, checked against their source."""
    publication = load(bare)
    view = views(publication)[0]
    template = bare / "templates" / "email.txt.j2"
    template.write_text("first {{ issue.number }}\n{{ unsubscribe_url }}\n")
    assert render_text(publication, view, Theme.load(publication.config)).startswith("first")
    assert COMPILED.entries
    template.write_text("again {{ issue.number }}\n{{ unsubscribe_url }}\n")  # same size
    assert render_text(publication, view, Theme.load(publication.config)).startswith("again")
    assert len(COMPILED.entries) <= COMPILED.MAX


@pytest.mark.parametrize("args", [["theme"], ["theme", "list"], ["theme", "eject"]])
def test_theme_commands_have_help_with_an_example(args: list[str]) -> None:
    result = _run(*args, "--help")
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output and "briefing theme" in result.output
