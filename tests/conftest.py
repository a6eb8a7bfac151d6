"""Shared fixtures: copies of the example and fixture publications in a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "publication"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A writable copy of the repository's example publication."""
    root = tmp_path / "example"
    root.mkdir()
    shutil.copy(REPO / "briefing.toml", root)
    shutil.copy(REPO / "subscribers.csv", root)
    shutil.copytree(REPO / "issues", root / "issues")
    shutil.copytree(REPO / "templates", root / "templates")
    return root


@pytest.fixture
def fixture_pub(tmp_path: Path) -> Path:
    """A writable copy of tests/fixtures/publication on the packaged theme alone."""
    root = tmp_path / "fixture"
    shutil.copytree(FIXTURE, root)
    (root / "templates").mkdir()  # no overrides: the golden files show the packaged theme
    toml = root / "briefing.toml"
    toml.write_text(toml.read_text().replace('"../../../templates"', '"templates"'))
    return root
