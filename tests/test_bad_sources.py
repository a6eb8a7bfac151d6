"""Every way a source file can be wrong is a located problem, never an internal error.

Each case below escaped as an unlocated exception (TypeError, ValueError, ReaderError,
IsADirectoryError) or was loaded wrong before the loader was hardened (issue 9).
The loader is called directly (fast); one case per kind also runs `briefing build`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from briefing.build import load
from briefing.cli import cli
from briefing.config import load_config
from briefing.errors import BriefingError, ConfigError
from briefing.headers import MAX_HEADER_OCTETS
from briefing.project_files import MAX_TEXT_BYTES
from briefing.scaffold import init_project, new_issue

ISSUE = "issues/2025-01-07-first-light"
NOTE = f"{ISSUE}/issue.md"
LAMP = f"{ISSUE}/01-the-lamp.md"

Edit = Callable[[Path], None]


def replace(rel: str, old: str, new: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / rel
        text = path.read_text("utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), "utf-8")

    return edit


def rewrite(rel: str, change: Callable[[bytes], bytes]) -> Edit:
    def edit(root: Path) -> None:
        path = root / rel
        path.write_bytes(change(path.read_bytes()))

    return edit


def problems(root: Path) -> list[str]:
    """The located problems loading root raises (it must raise a BriefingError)."""
    with pytest.raises(BriefingError) as caught:
        load(root)
    return [str(p) for p in caught.value.problems]


REFUSED = [
    pytest.param(
        replace(NOTE, "number: 1", "number: ²"),
        rf"^{NOTE}:4: number: must be a whole number, not '²'$",
        id="superscript-number",
    ),
    pytest.param(
        replace(NOTE, "edition: Weekly", "edition: We\x01ekly"),
        rf"^{NOTE}:5: contains the control character U\+0001 .*; remove it$",
        id="raw-control-character",
    ),
    pytest.param(
        replace(NOTE, "edition: Weekly", "edition: We\x7fekly"),
        rf"^{NOTE}:5: invalid YAML front matter: the character U\+007F \(delete\)",
        id="raw-delete",
    ),
    pytest.param(
        replace(NOTE, 'title: "First light', 'title: "First\\rlight'),
        rf"^{NOTE}:2: title: contains the control character U\+000D \(carriage return\)",
        id="escaped-cr-in-title",
    ),
    pytest.param(
        replace(NOTE, 'title: "First light', 'title: "First\\u2028light'),
        rf"^{NOTE}:2: title: contains the control character U\+2028 \(line separator\)",
        id="line-separator-in-title",
    ),
    pytest.param(
        replace(LAMP, "https://wire.example.net/lamp", "https://wire.example.net]/lamp"),
        rf"^{LAMP}:4: source_url: 'https://wire.example.net\]/lamp' is not a valid URL",
        id="bracket-in-url-host",
    ),
    pytest.param(
        lambda root: (root / ISSUE / "03-x.md").mkdir(),
        rf"^{ISSUE}/03-x.md: is a folder, not a file$",
        id="folder-named-like-an-article",
    ),
    pytest.param(
        rewrite(NOTE, lambda data: data + b"\n\xff\xfe\n"),
        rf"^{NOTE}:\d+: is not UTF-8 text \(byte 0xff\); save it as UTF-8$",
        id="undecodable-bytes",
    ),
    pytest.param(
        rewrite(LAMP, lambda data: b""),
        rf"^{LAMP}: is empty; it must start with '---' front matter$",
        id="empty-file",
    ),
    pytest.param(
        rewrite(LAMP, lambda data: data + b"word " * (MAX_TEXT_BYTES // 5)),
        rf"^{LAMP}: is larger than 2 MB, the limit for this kind of file",
        id="huge-file",
    ),
    pytest.param(
        replace(NOTE, "tags: [fixtures, testing]", "tags: " + "[" * 50_000 + "]" * 50_000),
        rf"^{NOTE}:7: nested more than \d+ levels deep",
        id="deeply-nested-yaml",  # libyaml's composer crashes the process (SIGSEGV) on this
    ),
    pytest.param(
        replace(NOTE, 'title: "First light', 'title: "' + "x" * MAX_HEADER_OCTETS),
        rf"^{NOTE}:2: title: is \d+ bytes long \(UTF-8\); a header value may have at most 900",
        id="title-over-header-limit",
    ),
    pytest.param(
        replace(NOTE, "date: 2025-01-07T08:00:00+00:00", "date: 0001-01-01T00:00:00+01:00"),
        rf"^{NOTE}:3: date: '0001-01-01T00:00:00\+01:00' is out of range$",
        id="date-before-year-one-in-utc",
    ),
    pytest.param(
        replace(LAMP, "  src: lamp.png\n", "  src: lamp.png\n  src: tower.png\n"),
        rf"^{LAMP}:\d+: image: 'src' appears twice$",
        id="nested-key-twice",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), REFUSED)
def test_bad_source_is_a_located_problem(fixture_pub: Path, edit: Edit, expected: str) -> None:
    edit(fixture_pub)
    found = problems(fixture_pub)
    assert any(re.match(expected, line) for line in found), found


@pytest.mark.parametrize(("edit", "expected"), REFUSED[:7])
def test_build_reports_it_in_one_line_and_exits_1(
    fixture_pub: Path, edit: Edit, expected: str
) -> None:
    edit(fixture_pub)
    result = CliRunner().invoke(cli, ["--project", str(fixture_pub), "build"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert any(re.match(expected.replace("^", "^error: ", 1), line) for line in lines), lines


def test_image_without_alt_loads_with_empty_alt_for_check_to_report(fixture_pub: Path) -> None:
    """Was TypeError: Image.__init__() missing 'alt'. `briefing check` warns about it."""
    replace(LAMP, '  alt: "The lighthouse lamp at dusk"\n', "")(fixture_pub)
    issue = load(fixture_pub).issue("first-light")
    assert issue is not None and issue.articles[0].image is not None
    assert issue.articles[0].image.alt == ""
    result = CliRunner().invoke(cli, ["--project", str(fixture_pub), "check"])
    assert "image 'lamp.png' has no alt text" in result.output


def test_byte_order_mark_is_accepted(fixture_pub: Path) -> None:
    rewrite(NOTE, lambda data: b"\xef\xbb\xbf" + data)(fixture_pub)
    issue = load(fixture_pub).issue("first-light")
    assert issue is not None and issue.title == "First light: a fixture issue"


def test_lone_cr_line_ends_are_line_ends(fixture_pub: Path) -> None:
    """Old Mac line ends: lines count as YAML counts them, and no CR reaches a value."""
    rewrite(NOTE, lambda data: data.replace(b"\n", b"\r"))(fixture_pub)
    rewrite(LAMP, lambda data: data.replace(b"\n", b"\r\n"))(fixture_pub)
    issue = load(fixture_pub).issue("first-light")
    assert issue is not None and issue.title == "First light: a fixture issue"
    assert "\r" not in issue.note.text and "\r" not in issue.articles[0].body.text


def test_lone_cr_inside_a_title_is_refused_or_folded(fixture_pub: Path) -> None:
    """A raw CR in a quoted title folds like a line break; unquoted, the rest is a new key."""
    rewrite(NOTE, lambda data: data.replace(b"First light:", b"First\rlight:"))(fixture_pub)
    issue = load(fixture_pub).issue("first-light")
    assert issue is not None and issue.title == "First light: a fixture issue"
    rewrite(NOTE, lambda data: data.replace(b'"First\rlight: a fixture issue"', b"A\rB"))(
        fixture_pub
    )
    assert problems(fixture_pub)[0].startswith(f"{NOTE}:4: invalid YAML front matter: ")


# --- configuration keys that become headers ------------------------------------------

HEADER_KEYS = [
    ("publication", "title", "The Briefing"),
    ("email", "from", "The Briefing <news@briefing.example.com>"),
    ("email", "reply_to", "editor@briefing.example.com"),
    ("email", "list_id", "The Briefing <news.briefing.example.com>"),
    ("email", "unsubscribe_url", "https://briefing.example.com/u/{token}"),
    ("email", "unsubscribe_mailto", "unsubscribe@briefing.example.com"),
]


def _set(root: Path, section: str, name: str, value: str) -> None:
    toml = root / "briefing.toml"
    text = toml.read_text("utf-8")
    # TOML basic-string escapes: the control character reaches the value, not the file.
    encoded = "".join(
        f"\\u{ord(c):04X}" if (c.isspace() and c != " ") or ord(c) < 32 else c
        for c in value.replace("\\", "\\\\")
    )
    line = f'{name} = "{encoded}"'
    text, n = re.subn(rf"(?m)^{name} = .*$", lambda _: line, text, count=1)
    if not n:
        text = text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)
    toml.write_text(text, "utf-8")


@pytest.mark.parametrize(("section", "name", "good"), HEADER_KEYS)
@pytest.mark.parametrize("bad", ["\r\nBcc: all@example.com", "\x0c", "\x1e", "\u2028"])
def test_control_character_in_a_header_key_is_refused(
    fixture_pub: Path, section: str, name: str, good: str, bad: str
) -> None:
    """Was: a CRLF in email.unsubscribe_url added headers to every message."""
    head, at, tail = good.partition("@")
    _set(fixture_pub, section, name, f"{head}{bad}{at}{tail}")
    with pytest.raises(ConfigError) as caught:
        load_config(fixture_pub)
    assert [p.field for p in caught.value.problems] == [f"{section}.{name}"]


def test_header_key_over_the_line_limit_is_refused(fixture_pub: Path) -> None:
    _set(fixture_pub, "publication", "title", "T" * (MAX_HEADER_OCTETS + 1))
    with pytest.raises(ConfigError) as caught:
        load_config(fixture_pub)
    assert "a header value may have at most 900" in str(caught.value)


# --- init and new write files that load ------------------------------------------------


def test_init_with_quotes_and_specials_in_the_title_writes_files_that_load(
    tmp_path: Path,
) -> None:
    title = 'The "Q" <Weekly>, café: \\ ü'
    init_project(tmp_path / "q", title, "https://news.example.com", "UTC", date(2025, 1, 6))
    publication = load(tmp_path / "q")
    assert publication.config.publication.title == title
    assert publication.config.email.sender == (
        '"The \\"Q\\" Weekly, café: \\\\ ü" <news@news.example.com>'
    )
    assert publication.issues[0].title == f"Welcome to {title}"


@pytest.mark.parametrize(
    ("flag", "args", "message"),
    [
        ("--title", ("A\x01B", "https://x.example/", "UTC"), "control character U+0001"),
        ("--base-url", ("T", 'https://x"y/', "UTC"), "is not a domain name"),
        ("--timezone", ("T", "https://x.example/", 'Mars/"Base'), "unknown time zone"),
    ],
)
def test_init_refuses_what_would_not_load(
    tmp_path: Path, flag: str, args: tuple[str, str, str], message: str
) -> None:
    with pytest.raises(BriefingError) as caught:
        init_project(tmp_path / "p", *args, date(2025, 1, 6))
    assert str(caught.value).startswith(f"{flag}: ") and message in str(caught.value)
    assert not (tmp_path / "p").exists()


def test_new_with_line_breaks_in_the_title_writes_an_issue_that_loads(fixture_pub: Path) -> None:
    folder = new_issue(fixture_pub, "a\n---\nb", date(2025, 2, 3))
    issue = next(i for i in load(fixture_pub).issues if i.folder == folder)
    assert issue.title == "a --- b"
