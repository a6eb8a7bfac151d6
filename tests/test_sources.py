"""Config and issue loading: the model the renderers get."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from briefing.build import load
from briefing.config import load_config
from briefing.headers import MAX_HEADER_OCTETS, header_value_problem
from briefing.merge import fill, names, with_fallbacks
from briefing.model import KeyPoint
from briefing.project_files import Refused, read_bytes, refusal


def test_example_config_loads_with_defaults(example: Path) -> None:
    config = load_config(example)
    assert config.publication.title == "The Briefing"
    assert config.email.sender == "The Briefing <news@briefing.example.com>"
    assert config.feeds.max_items == 20
    assert config.domain == "briefing.example.com"
    assert config.templates_dir == example / "templates"


def test_example_publication_is_newest_first_with_all_parts(example: Path) -> None:
    publication = load(example)
    assert [i.number for i in publication.issues] == [3, 2, 1]
    first = publication.issues[-1]
    assert first.slug == "trump-xi-call"
    assert first.date == datetime(2025, 6, 3, 7, tzinfo=timezone(timedelta(hours=-4)))
    assert first.updated == first.date
    article = first.articles[0]
    assert article.source == "Newslooks" and article.source_url.startswith("https://newslooks")
    assert article.byline == "J. Mansour" and article.dateline == "WASHINGTON"
    assert len(article.key_points) == 7 and article.key_points[0].label == "High-Stakes Call"
    assert "## Conclusion" in article.body.text
    assert article.body.file == article.path
    # The body starts on the line after the closing '---'.
    lines = article.path.read_text().split("\n")
    assert lines[article.body.first_line - 2] == "---"
    assert "trade" in publication.tags


def test_values_keep_the_text_the_editor_wrote(fixture_pub: Path) -> None:
    """PyYAML's YAML 1.1 would turn `no` into False and `1.10` into 1.1."""
    issue_md = fixture_pub / "issues" / "2025-01-14-second-wind" / "issue.md"
    text = issue_md.read_text().replace('title: "Second wind"', "title: No")
    issue_md.write_text(text.replace("number: 2", "number: 2\nedition: 1.10"))
    issue = load(fixture_pub).issue("second-wind")
    assert issue is not None
    assert issue.title == "No"
    assert issue.edition == "1.10"
    assert issue.updated.isoformat() == "2025-01-15T09:30:00+00:00"


def test_key_points_images_and_assets(fixture_pub: Path) -> None:
    issue = load(fixture_pub).issue("first-light")
    assert issue is not None
    article = issue.articles[0]
    assert article.key_points[1] == KeyPoint(
        "Storm Damage", "Winds reached 90 km/h: the tower held."
    )
    assert article.image is not None and article.image.alt == "The lighthouse lamp at dusk"
    assert issue.assets == ("lamp.png", "tower.png")


def test_merge_fields() -> None:
    text = "Hi {{ name | reader }}, {{name}}! {{ city|somewhere nice }}"
    assert names(text) == [("name", "reader"), ("name", None), ("city", "somewhere nice")]
    # Pages and feeds show a field's web fallback, or nothing (issue 14).
    assert with_fallbacks(text) == "Hi , ! "
    assert with_fallbacks("Hi {{ name | reader | web: all }}") == "Hi all"
    assert (
        fill(text, {"name": "<Ann>"}, escape=True) == "Hi &lt;Ann&gt;, &lt;Ann&gt;! somewhere nice"
    )
    assert fill(text, {"name": "<Ann>"}, escape=False) == "Hi <Ann>, <Ann>! somewhere nice"


def test_raw_html_in_dek_and_key_points_is_refused(fixture_pub: Path) -> None:
    from briefing.errors import ContentError

    article = fixture_pub / "issues/2025-01-07-first-light/01-the-lamp.md"
    text = article.read_text().replace(
        'dek: "A lighthouse keeper, a storm and a *very* old bulb."',
        'dek: "A keeper <script>alert(1)</script>"',
    )
    article.write_text(text.replace("text: The bulb has burned", 'text: <b onclick="x()">The'))
    try:
        load(fixture_pub)
    except ContentError as exc:
        lines = [str(p) for p in exc.problems]
    else:
        raise AssertionError("loaded")
    label = "issues/2025-01-07-first-light/01-the-lamp.md"
    assert f"{label}:8: dek: raw <script> element; remove it" in lines[0]
    assert any(line.startswith(f"{label}:10: key_points: raw HTML with an on*=") for line in lines)


def test_a_typo_of_a_required_key_is_one_problem_not_two(fixture_pub: Path) -> None:
    """'titel' is reported with its "did you mean"; 'title' is not also reported missing."""
    from briefing.errors import ContentError

    issue_md = fixture_pub / "issues" / "2025-01-14-second-wind" / "issue.md"
    issue_md.write_text(issue_md.read_text().replace("title:", "titel:", 1))
    try:
        load(fixture_pub)
    except ContentError as exc:
        lines = [str(p) for p in exc.problems]
    else:
        raise AssertionError("loaded")
    assert lines == [
        "issues/2025-01-14-second-wind/issue.md:2: titel: unknown key; did you mean 'title'?"
    ]


def test_each_value_is_read_by_its_kind(fixture_pub: Path) -> None:
    """number is a whole number, source_url an absolute URL, key points need both keys."""
    from briefing.errors import ContentError

    folder = fixture_pub / "issues" / "2025-01-07-first-light"
    issue_md = folder / "issue.md"
    issue_md.write_text(issue_md.read_text().replace("number: 1", "number: one", 1))
    article = folder / "01-the-lamp.md"
    text = article.read_text().replace("  - label: Storm Damage\n", "  - lable: Storm Damage\n")
    article.write_text(text.replace("source_url: https://", "source_url: ftp://", 1))
    try:
        load(fixture_pub)
    except ContentError as exc:
        lines = [str(p) for p in exc.problems]
    else:
        raise AssertionError("loaded")
    assert any(": number: must be a whole number, not 'one'" in line for line in lines), lines
    assert any(": source_url: 'ftp://" in line for line in lines), lines
    assert any(": key_points: unknown key 'lable'; did you mean 'label'?" in line for line in lines)


# --- the ground-floor helpers the loader reads through ---------------------------------


@pytest.mark.parametrize(
    "char",
    [*"\r\n\t\x00\x0b\x0c\x1c\x1d\x1e\x7f\x85\x9b\u2028\u2029", "\ud800"],
)
def test_every_control_character_is_refused_in_a_header_value(char: str) -> None:
    message = header_value_problem(f"Weekly{char}Bcc: x@example.com")
    assert message is not None and f"U+{ord(char):04X}" in message


def test_header_value_limit_counts_utf8_bytes() -> None:
    assert header_value_problem("é" * (MAX_HEADER_OCTETS // 2)) is None
    message = header_value_problem("é" * (MAX_HEADER_OCTETS // 2 + 1))
    assert message is not None and f"is {MAX_HEADER_OCTETS + 2} bytes long" in message
    assert header_value_problem("Tom & Jerry’s “Weekly” — №1 🎉") is None


def test_refusal_follows_links_only_within_the_tree(tmp_path: Path) -> None:
    tree = tmp_path / "issues"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "lamp.png").write_bytes(b"png")
    (tmp_path / "secret.env").write_text("KEY=1")
    (tree / "a" / "inside.png").symlink_to("lamp.png")
    (tree / "a" / "outside.png").symlink_to(tmp_path / "secret.env")
    (tree / "a" / "broken.png").symlink_to("nothing.png")
    assert refusal(tree / "a" / "inside.png", tree) is None
    assert read_bytes(tree / "a" / "inside.png", tree, 10) == b"png"
    assert "outside issues/" in (refusal(tree / "a" / "outside.png", tree) or "")
    assert "broken link" in (refusal(tree / "a" / "broken.png", tree) or "")
    with pytest.raises(Refused, match="larger than"):
        read_bytes(tree / "a" / "lamp.png", tree, 2)
