"""Bad input: every mistake an editor or theme author can make is reported, and nothing is written.

The rule under test: a bad input gives one ``error:`` line per problem, naming the file
(relative to the project) and the line or field, with a hint of what to do; the process
exits 1 without a traceback (unless --debug is given); and a previously built site/
stays byte for byte as it was.

Each test builds a copy of the example publication once, snapshots every path under
site/ (bytes and mtime_ns), breaks one source, builds again, and checks the message,
the exit code and the snapshot. Expected line numbers are computed from the edited file,
so the tests do not depend on the exact text of the example issues.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from briefing.cli import cli
from briefing.render.theme import PACKAGED

XI = "issues/2025-06-03-trump-xi-call"
TARIFF = "issues/2025-06-10-tariff-timeline"
MINERALS = "issues/2025-06-17-critical-minerals-chips"
XI_NOTE = f"{XI}/issue.md"
XI_LEAD = f"{XI}/01-trump-xi-call.md"
XI_ARTICLE = f"{XI}/02-by-the-numbers.md"
EMAIL = "templates/email.mjml.j2"
CONTENT = "templates/web/_content.html.j2"
TOML = "briefing.toml"

Snapshot = dict[str, tuple[bytes, int] | None]


def snapshot(site: Path) -> Snapshot:
    """Every path under site/: a file's bytes and mtime_ns, None for a folder."""
    return {
        p.relative_to(site).as_posix(): (
            None if p.is_dir() else (p.read_bytes(), p.stat().st_mtime_ns)
        )
        for p in sorted(site.rglob("*"))
    }


# --- running the CLI --------------------------------------------------------------------


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def run_in_process(root: Path, *args: str) -> Run:
    """Through click's CliRunner, with the group option --project."""
    result = CliRunner().invoke(cli, ["--project", str(root), *args])
    return Run(result.exit_code, result.stdout, result.stderr, result.exception)


def _command() -> list[str]:
    # The console script installed beside this interpreter (a `shutil.which` hit may be
    # a pyenv shim for another Python); failing that, the same entry point through -c.
    script = Path(sys.executable).with_name("briefing")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from briefing.cli import main; main()"]


def run_process(root: Path, *args: str, prelude: str = "") -> Run:
    """As a real process in the project folder; `prelude` is Python run before main()."""
    command = (
        [sys.executable, "-c", f"{prelude}\nfrom briefing.cli import main\nmain()"]
        if prelude
        else _command()
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run(
        [*command, *args], cwd=root, capture_output=True, text=True, timeout=60, env=env
    )
    return Run(done.returncode, done.stdout, done.stderr)


# --- the project under test -------------------------------------------------------------


@dataclass
class Project:
    root: Path
    before: Snapshot

    @property
    def site(self) -> Path:
        return self.root / "site"

    def read(self, rel: str) -> str:
        path = self.root / rel
        if rel.startswith("templates/") and not path.exists():
            # A theme file the example takes from the package: edit a copy, as
            # `briefing theme eject` makes one.
            path = PACKAGED / rel.removeprefix("templates/")
        return path.read_text(encoding="utf-8")

    def write(self, rel: str, data: str | bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        path.write_bytes(data)
        # Jinja's loader cache compares mtimes: make sure an edit is seen as one.
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    def sub(self, rel: str, pattern: str, repl: str) -> None:
        """Replace the first match of a multi-line regex; the pattern must match."""
        text, n = re.subn(pattern, repl, self.read(rel), count=1, flags=re.MULTILINE)
        assert n == 1, f"{pattern!r} not found in {rel}"
        self.write(rel, text)

    def insert_after(self, rel: str, key: str, line: str) -> None:
        """Insert a literal line after the front-matter line of key."""
        text, n = re.subn(
            rf"^{key}:.*$",
            lambda m: f"{m.group(0)}\n{line}",
            self.read(rel),
            count=1,
            flags=re.MULTILINE,
        )
        assert n == 1, f"no '{key}:' line in {rel}"
        self.write(rel, text)

    def replace(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert old in text, f"{old!r} not found in {rel}"
        self.write(rel, text.replace(old, new, 1))

    def append(self, rel: str, text: str) -> None:
        self.write(rel, self.read(rel).rstrip("\n") + "\n" + text)

    def line_of(self, rel: str, needle: str) -> int:
        """1-based number of the one line of rel that contains needle."""
        lines = (self.root / rel).read_bytes().decode("utf-8", "replace").split("\n")
        found = [n for n, line in enumerate(lines, 1) if needle in line]
        assert len(found) == 1, f"{needle!r} is on lines {found} of {rel}"
        return found[0]

    def refused(self, *group_args: str, via: str = "runner", prelude: str = "") -> str:
        """Build again; assert exit 1, no traceback, site unchanged. Returns stderr."""
        if via == "runner":
            run = run_in_process(self.root, *group_args, "build")
            # A user error arrives as a ClickException (shown, then SystemExit(1)),
            # not as an unexpected exception that CliRunner caught for us.
            assert isinstance(run.exception, SystemExit), repr(run.exception)
        else:
            run = run_process(self.root, *group_args, "build", prelude=prelude)
        output = f"exit {run.code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
        assert run.code == 1, output
        assert "Traceback" not in run.stderr, output
        assert not run.stdout.startswith("Built"), output
        if "--debug" not in group_args:
            lines = run.stderr.strip().split("\n")
            assert all(line.startswith("error: ") for line in lines), output
        assert snapshot(self.site) == self.before, "a failed build changed site/"
        return run.stderr


@pytest.fixture
def project(example: Path) -> Project:
    """The example publication, built once; its site/ snapshot taken."""
    first = run_in_process(example, "build")
    assert first.code == 0, first.stderr
    before = snapshot(example / "site")
    assert any(path.endswith("email.html") for path in before)
    return Project(example, before)


def error_line(
    stderr: str, file: str, *, line: int | str | None = None, field: str | None = None
) -> str:
    """The error line for file (at line, about field); line may be a regex like r'\\d+'."""
    where = re.escape(file) + (rf":(?:{line})" if line is not None else r"(?::\d+)?")
    head = rf"^error: {where}: " + (re.escape(field) + ": " if field else "")
    found = [text for text in stderr.split("\n") if re.match(head, text)]
    assert found, f"no error for {file} (line {line}, field {field}) in:\n{stderr}"
    return found[0]


def xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(reason=reason, strict=True)


# --- 1. malformed YAML front matter -----------------------------------------------------

Breaker = Callable[[Project], int]  # breaks the project, returns the line to report


def _bad_indentation(p: Project) -> int:
    p.sub(XI_NOTE, r"^number:", "  number:")
    return p.line_of(XI_NOTE, "  number:")


def _tab_indentation(p: Project) -> int:
    p.sub(XI_NOTE, r"^number:", "\tnumber:")
    return p.line_of(XI_NOTE, "\tnumber:")


def _unclosed_quote_at_end(p: Project) -> int:
    # The last front-matter line: the scanner runs into the end of the block.
    p.sub(XI_NOTE, r"^tags: .*$", 'tags: "trade, china')
    return p.line_of(XI_NOTE, 'tags: "trade')


def _unclosed_quote_before_another(p: Project) -> int:
    # A later quoted value closes the runaway string; the parser fails further down.
    p.sub(XI_NOTE, r"^title: .*$", 'title: "The truce frays')
    p.sub(XI_NOTE, r"^preheader: .*$", 'preheader: "Beijing is wary."')
    return p.line_of(XI_NOTE, "title:")


YAML_CASES = [
    pytest.param(_bad_indentation, id="bad-indentation"),
    pytest.param(_tab_indentation, id="tab-indentation"),
    pytest.param(_unclosed_quote_at_end, id="unclosed-quote-at-end"),
    pytest.param(_unclosed_quote_before_another, id="unclosed-quote-before-another"),
]


@pytest.mark.parametrize("via", ["runner", "process"])
@pytest.mark.parametrize("breaker", YAML_CASES)
def test_malformed_yaml_is_refused_naming_the_file(
    project: Project, breaker: Breaker, via: str
) -> None:
    breaker(project)
    stderr = project.refused(via=via)
    assert "invalid YAML front matter" in error_line(stderr, XI_NOTE, line=r"\d+")


@pytest.mark.parametrize(
    "breaker",
    [
        YAML_CASES[0],
        YAML_CASES[1],
        YAML_CASES[2],
        pytest.param(_unclosed_quote_before_another, id="unclosed-quote-before-another"),
    ],
)
def test_malformed_yaml_names_the_line_of_the_problem(project: Project, breaker: Breaker) -> None:
    line = breaker(project)
    error_line(project.refused(), XI_NOTE, line=line)


@pytest.mark.parametrize(
    ("breaker", "hint"),
    [
        pytest.param(_bad_indentation, "indent", id="bad-indentation"),
        pytest.param(_unclosed_quote_at_end, "quote", id="unclosed-quote"),
    ],
)
def test_malformed_yaml_says_what_to_fix(project: Project, breaker: Breaker, hint: str) -> None:
    breaker(project)
    assert hint in error_line(project.refused(), XI_NOTE).lower()


# --- 2. missing required fields ---------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "key"),
    [(XI_NOTE, "title"), (XI_NOTE, "date"), (XI_NOTE, "number"), (XI_ARTICLE, "headline")],
)
def test_missing_required_field_is_named(project: Project, file: str, key: str) -> None:
    project.sub(file, rf"^{key}:.*\n", "")
    assert f"is required; add a '{key}:' line" in error_line(project.refused(), file, field=key)


# --- 3. a date without a time zone ------------------------------------------------------


def test_date_without_time_zone_is_refused(project: Project) -> None:
    project.sub(XI_NOTE, r"^(date: \S+?)(?:Z|[+-]\d\d:\d\d)$", r"\1")
    line = project.line_of(XI_NOTE, "date:")
    message = error_line(project.refused(), XI_NOTE, line=line, field="date")
    assert "time zone" in message
    assert "add an offset" in message


def test_updated_without_time_zone_is_refused(project: Project) -> None:
    project.insert_after(XI_NOTE, "number", "updated: 2025-06-03T09:30:00")
    line = project.line_of(XI_NOTE, "updated:")
    message = error_line(project.refused(), XI_NOTE, line=line, field="updated")
    assert "time zone" in message


# --- 4. unknown keys, with "did you mean" -----------------------------------------------


@pytest.mark.parametrize(
    ("file", "key", "typo"),
    [(XI_NOTE, "title", "titel"), (XI_NOTE, "preheader", "preheadr"), (XI_LEAD, "dek", "deck")],
)
def test_unknown_key_suggests_the_known_one(
    project: Project, file: str, key: str, typo: str
) -> None:
    project.sub(file, rf"^{key}:", f"{typo}:")
    line = project.line_of(file, f"{typo}:")
    message = error_line(project.refused(), file, line=line, field=typo)
    assert f"did you mean '{key}'?" in message


def _typo_in_second_key_point(p: Project) -> None:
    p.sub(
        XI_ARTICLE,
        r"^key_points:\n(?:  .*\n)*",
        "key_points:\n  - label: One\n    text: First.\n  - lable: Two\n    text: Second.\n",
    )


def _typo_in_image(p: Project) -> None:
    p.sub(XI_ARTICLE, r"^(dek: .*)$", r"\1\nimage:\n  src: chart.png\n  captoin: A chart")


@pytest.mark.parametrize(
    ("edit", "typo", "field", "hint"),
    [
        pytest.param(
            _typo_in_second_key_point,
            "lable:",
            "key_points",
            "did you mean 'label'?",
            id="second-key-point",
        ),
        pytest.param(
            _typo_in_image,
            "captoin:",
            "image",
            "did you mean 'caption'?",
            id="image-caption",
        ),
    ],
)
def test_unknown_nested_key_names_its_own_line(
    project: Project, edit: Callable[[Project], None], typo: str, field: str, hint: str
) -> None:
    edit(project)
    line = project.line_of(XI_ARTICLE, typo)
    assert hint in error_line(project.refused(), XI_ARTICLE, line=line, field=field)


# --- 5. two issues with one slug, or one number -----------------------------------------


def test_two_issues_with_one_slug_are_refused(project: Project) -> None:
    twin = "issues/2025-05-27-trump-xi-call"
    shutil.copytree(project.root / XI, project.root / twin)
    project.sub(f"{twin}/issue.md", r"^date: 2025-06-03", "date: 2025-05-27")
    project.sub(f"{twin}/issue.md", r"^number: .*$", "number: 990")
    stderr = project.refused()
    found = [
        line
        for line in stderr.split("\n")
        if re.match(rf"^error: ({re.escape(XI)}|{re.escape(twin)})/issue\.md: slug: ", line)
    ]
    assert len(found) == 1, stderr
    assert "'trump-xi-call'" in found[0]
    assert XI in found[0] and twin in found[0]  # names both folders
    assert "needs its own slug" in found[0]


def test_two_issues_with_one_number_are_refused(project: Project) -> None:
    number = re.search(r"^number: (\d+)$", project.read(XI_NOTE), re.MULTILINE)
    assert number
    project.sub(f"{TARIFF}/issue.md", r"^number: .*$", f"number: {number.group(1)}")
    stderr = project.refused()
    message = error_line(stderr, f"{TARIFF}/issue.md", field="number")
    assert XI in message
    assert "needs its own number" in message


# --- 6. slugs with path characters ------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("../evil", "../evil"),
        ("a/b", "a/b"),
        ('"Bad Slug"', "Bad Slug"),
        ("..", ".."),
        ("/etc/passwd", "/etc/passwd"),
        ("a\\b", "a\\b"),
    ],
)
def test_slug_with_path_characters_is_refused(project: Project, written: str, value: str) -> None:
    project.insert_after(XI_NOTE, "number", f"slug: {written}")
    line = project.line_of(XI_NOTE, "slug:")
    message = error_line(project.refused(), XI_NOTE, line=line, field="slug")
    assert f"'{value}' is not a slug" in message
    assert "use lowercase letters, digits and single hyphens" in message
    assert not (project.root / "evil").exists()


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("issues/2025-06-03-Trump_Xi", "'Trump_Xi' after the date is not a slug"),
        ("issues/2025-06-03-a..b", "'a..b' after the date is not a slug"),
        ("issues/trump-xi-call", "folder name must be YYYY-MM-DD-slug"),
    ],
)
def test_folder_whose_name_is_not_date_and_slug_is_refused(
    project: Project, folder: str, expected: str
) -> None:
    (project.root / XI).rename(project.root / folder)
    message = error_line(project.refused(), folder)
    assert expected in message


# --- 7. an empty issue ------------------------------------------------------------------


EMPTY = "issues/2025-07-01-empty-issue"


def test_issue_with_only_issue_md_is_refused(project: Project) -> None:
    project.write(
        f"{EMPTY}/issue.md",
        "---\ntitle: Nothing yet\ndate: 2025-07-01T08:00:00Z\nnumber: 99\n---\nHello.\n",
    )
    message = error_line(project.refused(), EMPTY)
    assert "is empty" in message
    assert "add at least one article file" in message


def test_issue_folder_without_issue_md_is_refused(project: Project) -> None:
    (project.root / EMPTY).mkdir()
    message = error_line(project.refused(), EMPTY)
    assert "has no issue.md" in message


# --- 8. files that are not UTF-8 --------------------------------------------------------


def _latin1(project: Project, rel: str, pattern: str, repl: str) -> int:
    """Put a latin-1 'é' (byte 0xE9) where MARK lands; return that line."""
    project.sub(rel, pattern, repl)
    line = project.line_of(rel, "MARK")
    data = (project.root / rel).read_bytes().replace(b"MARK", "Caf\u00e9".encode("latin-1"))
    project.write(rel, data)
    return line


@pytest.mark.parametrize(
    ("rel", "pattern", "repl"),
    [
        pytest.param(XI_ARTICLE, r"\Z", "\nMARK au lait.\n", id="article-body"),
        pytest.param(XI_ARTICLE, r"^headline: ", "headline: MARK ", id="article-front-matter"),
        pytest.param(XI_NOTE, r"\Z", "\nMARK au lait.\n", id="issue-note"),
    ],
)
def test_file_that_is_not_utf8_names_the_line(
    project: Project, rel: str, pattern: str, repl: str
) -> None:
    line = _latin1(project, rel, pattern, repl)
    message = error_line(project.refused(), rel, line=line)
    assert "not UTF-8" in message
    assert "0xe9" in message
    assert "save it as UTF-8" in message


def test_briefing_toml_that_is_not_utf8_names_the_line(project: Project) -> None:
    line = _latin1(project, TOML, r"\Z", "\n# MARK\n")
    message = error_line(project.refused(), TOML, line=line)
    assert "save it as UTF-8" in message


# --- 9. raw HTML that runs or embeds content --------------------------------------------


@pytest.mark.parametrize("rel", [XI_ARTICLE, XI_NOTE])
@pytest.mark.parametrize(
    ("snippet", "reason"),
    [
        pytest.param("<script>alert(1)</script>", "raw <script> element", id="script"),
        pytest.param(
            'A map <iframe src="https://example.com/map"></iframe> here.',
            "raw <iframe> element",
            id="iframe",
        ),
        pytest.param('<div onclick="steal()">Hi</div>', "event handler", id="onclick"),
        pytest.param(
            'See <a href="javascript:alert(1)">this</a>.', "script URL", id="javascript-url"
        ),
    ],
)
def test_dangerous_raw_html_is_refused(
    project: Project, rel: str, snippet: str, reason: str
) -> None:
    project.append(rel, f"\n{snippet}\n")
    line = project.line_of(rel, snippet)
    message = error_line(project.refused(), rel, line=line)
    assert reason in message
    assert "refused" in message
    assert "remove it" in message


def test_dangerous_html_deep_in_a_paragraph_names_its_own_line(project: Project) -> None:
    snippet = 'third line with <iframe src="https://example.com/"></iframe> in it.'
    project.append(XI_ARTICLE, f"\nFirst line of a paragraph,\nsecond line,\n{snippet}\n")
    line = project.line_of(XI_ARTICLE, snippet)
    error_line(project.refused(), XI_ARTICLE, line=line)


def test_inline_element_is_reported_once(project: Project) -> None:
    project.append(XI_ARTICLE, '\nA map <iframe src="https://example.com/"></iframe> here.\n')
    stderr = project.refused()
    assert len([line for line in stderr.split("\n") if "<iframe>" in line]) == 1, stderr


# --- 10. Jinja errors in templates ------------------------------------------------------


def test_jinja_syntax_error_names_template_and_line(project: Project) -> None:
    project.replace(EMAIL, "{% if issue.edition %}", "{% if %}")
    line = project.line_of(EMAIL, "{% if %}")
    message = error_line(project.refused(), EMAIL, line=line)
    assert "template syntax error" in message


def test_jinja_syntax_error_in_included_template_names_that_template(project: Project) -> None:
    project.sub(CONTENT, r"\{% if [^%]+%\}", "{% if %}")
    line = project.line_of(CONTENT, "{% if %}")
    message = error_line(project.refused(), CONTENT, line=line)
    assert "template syntax error" in message


def test_undefined_attribute_names_template_and_line(project: Project) -> None:
    project.replace(EMAIL, ">{{ pub.title }}<", ">{{ pub.titel }}<")
    line = project.line_of(EMAIL, "pub.titel")
    message = error_line(project.refused(), EMAIL, line=line)
    assert "has no attribute 'titel'" in message


def test_undefined_attribute_in_included_template_names_that_template(project: Project) -> None:
    project.replace(CONTENT, "{{ a.headline }}", "{{ a.headlin }}")
    line = project.line_of(CONTENT, "a.headlin")
    message = error_line(project.refused(), CONTENT, line=line)
    assert "has no attribute 'headlin'" in message


def test_template_runtime_error_names_template_and_line(project: Project) -> None:
    project.replace(EMAIL, "issue.date | long_date", "issue.title | long_date")
    line = project.line_of(EMAIL, "issue.title | long_date")
    error_line(project.refused(), EMAIL, line=line)


# --- 11. MJML errors --------------------------------------------------------------------


def _unclosed_section(p: Project) -> str:
    # Drop the last section's closing tag, just before </mj-body>.
    p.sub(EMAIL, r"^[ \t]*</mj-section>\n(?=\s*</mj-body>)", "")
    return str(p.line_of(EMAIL, "</mj-body>"))  # where its closing tag belongs


def _unknown_in_body(p: Project) -> str:
    p.sub(EMAIL, r"^(\s*<mj-column>\n)", r"\1        <mj-foo>x</mj-foo>\n")
    return str(p.line_of(EMAIL, "<mj-foo>"))


def _unknown_in_head(p: Project) -> str:
    p.sub(EMAIL, r"^(\s*<mj-head>\n)", r"\1    <mj-foo />\n")
    return str(p.line_of(EMAIL, "<mj-foo"))


MJML_CASES = [
    pytest.param(_unclosed_section, id="unclosed-mj-section"),
    pytest.param(_unknown_in_body, id="unknown-element-in-body"),
    pytest.param(_unknown_in_head, id="unknown-element-in-head"),
]


@pytest.mark.parametrize("breaker", MJML_CASES)
def test_mjml_error_is_refused_naming_the_template(
    project: Project, breaker: Callable[[Project], str]
) -> None:
    breaker(project)
    assert "MJML error" in error_line(project.refused(), EMAIL)


@pytest.mark.parametrize(
    "breaker",
    [
        pytest.param(
            _unclosed_section,
            id="unclosed-mj-section",
        ),
        pytest.param(
            _unknown_in_body,
            id="unknown-element-in-body",
        ),
        pytest.param(
            _unknown_in_head,
            id="unknown-element-in-head",
        ),
    ],
)
def test_mjml_error_names_the_template_line(
    project: Project, breaker: Callable[[Project], str]
) -> None:
    line = breaker(project)
    error_line(project.refused(), EMAIL, line=line)


# --- 12. missing images -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "edit", "needle", "expected"),
    [
        pytest.param(
            XI_ARTICLE,
            lambda p: p.append(XI_ARTICLE, "\n![A chart](missing.png)\n"),
            "missing.png",
            "image 'missing.png' not found",
            id="markdown-image-in-article",
        ),
        pytest.param(
            XI_NOTE,
            lambda p: p.append(XI_NOTE, "\n![A chart](missing.png)\n"),
            "missing.png",
            "image 'missing.png' not found",
            id="markdown-image-in-note",
        ),
        pytest.param(
            XI_ARTICLE,
            lambda p: p.sub(XI_ARTICLE, r"^(dek: .*)$", r"\1\nimage: {src: missing.png, alt: x}"),
            "missing.png",
            "image 'missing.png' not found",
            id="front-matter-image",
        ),
        pytest.param(
            XI_ARTICLE,
            lambda p: p.append(XI_ARTICLE, "\n![A chart](../secret.png)\n"),
            "secret.png",
            "image '../secret.png' must sit beside this file",
            id="image-outside-folder",
        ),
        pytest.param(
            XI_ARTICLE,
            lambda p: p.append(XI_ARTICLE, "\nOne line,\nanother,\nthen ![x](missing.png).\n"),
            "missing.png",
            "image 'missing.png' not found",
            id="image-deep-in-a-paragraph",
        ),
    ],
)
def test_missing_image_names_file_line_and_image(
    project: Project, rel: str, edit: Callable[[Project], None], needle: str, expected: str
) -> None:
    edit(project)
    line = project.line_of(rel, needle)
    message = error_line(project.refused(), rel, line=line)
    assert expected in message
    if "not found" in expected:
        assert "add the file or fix the name" in message


# --- 13. briefing.toml ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "repl", "field", "expected"),  # expected: a regex
    [
        pytest.param(
            r"^title = ",
            "titel = ",
            "publication.titel",
            r"did you mean 'publication\.title'\?",
            id="unknown-key",
        ),
        pytest.param(
            r"^\[theme\]", "[themes]", "themes", r"did you mean 'theme'\?", id="unknown-section"
        ),
        pytest.param(
            r"^base_url = .*\n",
            "",
            "publication.base_url",
            r"missing; add it under \[publication\]",
            id="missing-key",
        ),
        pytest.param(
            r"^max_items = .*$",
            'max_items = "ten"',
            "feeds.max_items",
            r"must be (?:an integer|a whole number)",
            id="wrong-type",
        ),
        pytest.param(
            r"^base_url = .*$",
            'base_url = "briefing.example.com"',
            "publication.base_url",
            "must be an absolute URL ending in '/'",
            id="bad-base-url",
        ),
        pytest.param(
            r"^base_url = .*$",
            'base_url = "https://briefing.example.com"',
            "publication.base_url",
            "ending in '/'",
            id="base-url-without-slash",
        ),
    ],
)
def test_config_error_names_section_and_key(
    project: Project, pattern: str, repl: str, field: str, expected: str
) -> None:
    project.sub(TOML, pattern, repl)
    message = error_line(project.refused(), TOML, field=field)
    assert re.search(expected, message), message


def test_invalid_toml_names_the_line(project: Project) -> None:
    project.sub(TOML, r'^(title = "[^"]*)"$', r"\1")
    line = project.line_of(TOML, "title = ")
    message = error_line(project.refused(), TOML)
    assert "invalid TOML" in message
    # Accepted either as file:line or as tomllib's own "(at line N, column M)".
    assert re.match(rf"^error: briefing\.toml:{line}: ", message) or f"at line {line}," in message


# --- 14. every problem in one run -------------------------------------------------------


@pytest.mark.parametrize("via", ["runner", "process"])
def test_problems_in_several_files_are_all_reported(project: Project, via: str) -> None:
    project.sub(f"{TARIFF}/issue.md", r"^title:.*\n", "")
    project.sub(f"{MINERALS}/issue.md", r"^title:", "titel:")
    project.append(XI_ARTICLE, "\n<script>alert(1)</script>\n")
    project.append(XI_LEAD, "\n![A chart](missing.png)\n")
    stderr = project.refused(via=via)
    error_line(stderr, f"{TARIFF}/issue.md", field="title")
    error_line(stderr, f"{MINERALS}/issue.md", field="titel")
    error_line(stderr, XI_ARTICLE, line=project.line_of(XI_ARTICLE, "<script>"))
    error_line(stderr, XI_LEAD, line=project.line_of(XI_LEAD, "missing.png"))


def test_broken_issue_md_does_not_hide_problems_in_its_articles(project: Project) -> None:
    project.sub(XI_NOTE, r"^number:", "  number:")
    project.append(XI_ARTICLE, "\n<script>alert(1)</script>\n")
    stderr = project.refused()
    error_line(stderr, XI_NOTE, line=project.line_of(XI_NOTE, "  number:"))
    error_line(stderr, XI_ARTICLE, line=project.line_of(XI_ARTICLE, "<script>"))


def test_config_problem_does_not_hide_problems_in_issues(project: Project) -> None:
    project.sub(TOML, r"^title = ", "titel = ")
    project.sub(f"{TARIFF}/issue.md", r"^title:.*\n", "")
    stderr = project.refused()
    error_line(stderr, TOML, field="publication.titel")
    error_line(stderr, f"{TARIFF}/issue.md", field="title")


# --- 15. --debug and unexpected errors --------------------------------------------------

# A stand-in for a bug in briefing itself: the email renderer raises. Run in a real
# process, so main()'s own handling (not CliRunner's) is what is tested. The build
# cache is bypassed: nothing changed, so otherwise nothing would be rendered.
EXPLODE = (
    "import briefing.render.email, briefing.cache\n"
    "def _explode(*args, **kwargs):\n"
    "    raise RuntimeError('renderer exploded')\n"
    "briefing.render.email.render_email = _explode\n"
    "briefing.cache.BuildCache.fresh = lambda *args: None"
)


def test_internal_error_without_debug_is_one_line(project: Project) -> None:
    stderr = project.refused(via="process", prelude=EXPLODE)
    lines = stderr.strip().split("\n")
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "renderer exploded" in lines[0]
    assert "--debug" in lines[0]  # says how to see more


def test_internal_error_with_debug_shows_the_traceback(project: Project) -> None:
    run = run_process(project.root, "--debug", "build", prelude=EXPLODE)
    assert run.code == 1, run.stderr
    assert "Traceback (most recent call last)" in run.stderr
    assert "RuntimeError: renderer exploded" in run.stderr
    assert snapshot(project.site) == project.before


def test_user_error_with_debug_still_exits_1_with_the_message(project: Project) -> None:
    line = _bad_indentation(project)
    run = run_process(project.root, "--debug", "build")
    assert run.code == 1, run.stderr
    error_line(run.stderr, XI_NOTE, line=line)
    assert snapshot(project.site) == project.before


def test_debug_output_is_not_buried_in_library_logs(project: Project) -> None:
    _bad_indentation(project)
    run = run_process(project.root, "--debug", "build")
    assert run.code == 1
    assert "DEBUG: entering" not in run.stderr
