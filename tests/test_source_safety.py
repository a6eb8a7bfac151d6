"""Reading sources safely: links out of issues/ and templates/, FIFOs and devices are refused.

Each attack is run through a real `briefing build` process with a secret marker in its
environment or in a file outside the project; the test asserts the build fails with a
located one-line error and that the marker is nowhere under site/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ISSUE = "issues/2025-01-07-first-light"
NOTE = f"{ISSUE}/issue.md"
PROC_ENVIRON = Path("/proc/self/environ")


def build(root: Path, marker: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["BRIEFING_TEST_SECRET"] = marker
    return subprocess.run(
        [sys.executable, "-m", "briefing", "--project", str(root), "build"],
        capture_output=True,
        text=True,
        timeout=60,  # a FIFO read would block for ever: the timeout turns that into a failure
        env=env,
    )


def site_holds(root: Path, marker: str) -> list[str]:
    """The files under site/ whose bytes contain marker."""
    site = root / "site"
    needle = marker.encode()
    return [str(p) for p in site.rglob("*") if p.is_file() and needle in p.read_bytes()]


def refused(run: subprocess.CompletedProcess[str], start: str) -> str:
    """Assert a located one-line refusal starting with `error: start`; return it."""
    output = f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert run.returncode == 1, output
    assert "Traceback" not in run.stderr, output
    lines = [line for line in run.stderr.splitlines() if line.startswith(f"error: {start}")]
    assert lines, output
    return lines[0]


def use_image(root: Path, name: str) -> None:
    note = root / NOTE
    note.write_text(note.read_text("utf-8") + f"\n![A chart]({name})\n", "utf-8")


@pytest.mark.skipif(not PROC_ENVIRON.exists(), reason="no /proc/self/environ here")
def test_link_to_proc_environ_publishes_no_environment(fixture_pub: Path) -> None:
    marker = f"secret-{uuid.uuid4().hex}"
    (fixture_pub / ISSUE / "chart.png").symlink_to(PROC_ENVIRON)
    use_image(fixture_pub, "chart.png")
    line = refused(build(fixture_pub, marker), f"{NOTE}:")
    assert "image 'chart.png' is a symbolic link to /proc/" in line
    assert "outside issues/" in line
    assert site_holds(fixture_pub, marker) == []


def test_link_within_issues_is_followed(fixture_pub: Path) -> None:
    (fixture_pub / ISSUE / "chart.png").symlink_to("lamp.png")
    use_image(fixture_pub, "chart.png")
    run = build(fixture_pub)
    assert run.returncode == 0, run.stderr
    copied = fixture_pub / "site/issues/first-light/chart.png"
    assert copied.read_bytes() == (fixture_pub / ISSUE / "lamp.png").read_bytes()


def _outside_article(tmp_path: Path, marker: str) -> Path:
    """A valid article outside the project: it would be published if the link were followed."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    article = outside / "03-stolen.md"
    article.write_text(f'---\nheadline: "Stolen"\n---\n{marker}\n', "utf-8")
    return article


def test_linked_article_outside_is_refused(fixture_pub: Path, tmp_path: Path) -> None:
    marker = f"secret-{uuid.uuid4().hex}"
    (fixture_pub / ISSUE / "03-stolen.md").symlink_to(_outside_article(tmp_path, marker))
    line = refused(build(fixture_pub), f"{ISSUE}/03-stolen.md: is a symbolic link to ")
    assert "briefing follows links only within issues/" in line
    assert site_holds(fixture_pub, marker) == []


def test_linked_issue_folder_outside_is_refused(fixture_pub: Path, tmp_path: Path) -> None:
    marker = f"secret-{uuid.uuid4().hex}"
    folder = tmp_path / "outside-issue"
    folder.mkdir()
    (folder / "issue.md").write_text(
        '---\ntitle: "Stolen"\ndate: 2025-03-01T08:00:00+00:00\nnumber: 9\n---\nNote.\n', "utf-8"
    )
    (folder / "01-stolen.md").write_bytes(_outside_article(tmp_path, marker).read_bytes())
    (fixture_pub / "issues/2025-03-01-stolen").symlink_to(folder, target_is_directory=True)
    refused(build(fixture_pub), "issues/2025-03-01-stolen: is a symbolic link to ")
    assert site_holds(fixture_pub, marker) == []


def test_link_out_of_the_theme_folder_is_refused(fixture_pub: Path, tmp_path: Path) -> None:
    marker = f"secret-{uuid.uuid4().hex}"
    outside = tmp_path / "outside.css"
    outside.write_text(f"/* {marker} */ body {{ color: red }}\n", "utf-8")
    (fixture_pub / "templates/web").mkdir(parents=True)
    (fixture_pub / "templates/web/style.css").symlink_to(outside)
    refused(build(fixture_pub), "templates/web/style.css: is a symbolic link to ")
    assert not (fixture_pub / "site").exists() or site_holds(fixture_pub, marker) == []


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("03-pipe.md", f"{ISSUE}/03-pipe.md: is a named pipe (FIFO)"),
        ("chart.png", f"{NOTE}:"),
    ],
    ids=["article", "image"],
)
def test_fifo_is_refused_without_hanging(fixture_pub: Path, name: str, start: str) -> None:
    os.mkfifo(fixture_pub / ISSUE / name)
    if name == "chart.png":
        use_image(fixture_pub, name)
    line = refused(build(fixture_pub), start)
    assert "named pipe (FIFO), not a regular file" in line


def test_fifo_in_the_theme_folder_is_refused_without_hanging(fixture_pub: Path) -> None:
    (fixture_pub / "templates/web").mkdir(parents=True)
    os.mkfifo(fixture_pub / "templates/web/style.css")
    refused(build(fixture_pub), "templates/web/style.css: is a named pipe (FIFO)")


def test_a_link_loop_is_refused(fixture_pub: Path) -> None:
    folder = fixture_pub / ISSUE
    (folder / "03-a.md").symlink_to("03-b.md")
    (folder / "03-b.md").symlink_to("03-a.md")
    line = refused(build(fixture_pub), f"{ISSUE}/03-a.md: ")
    assert "cannot be read: too many levels of symbolic links" in line
