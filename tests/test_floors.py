"""No module imports from a floor above its own (README, "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "briefing"
# From the top: the CLI; the services; render, sources and the importer; the ground
# (model, configuration, site layout, errors, atomic writes and the like).
CLI = {"cli", "__main__"}
SERVICES = {"build", "check", "preview", "send", "serve", "inbox", "audience", "scaffold"}
SERVICES |= {"cache", "output"}  # the build's own parts
MIDDLE = {"render", "sources", "importer"}


def _floor(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    if top in CLI:
        return 3
    if top in SERVICES:
        return 2
    return 1 if top in MIDDLE else 0


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("briefing.")]


def test_no_import_runs_up_a_floor() -> None:
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(("briefing", *path.relative_to(SRC).with_suffix("").parts))
        for name in _imports(path):
            if _floor(name) > _floor(module):
                upward.append(f"{module} imports {name}")
    assert upward == []


def test_check_does_not_import_another_command() -> None:
    assert "briefing.build" not in _imports(SRC / "check" / "__init__.py")


def test_help_lists_every_command_without_loading_their_services() -> None:
    """`briefing --help` imports each command's module, not what the commands run."""
    import subprocess
    import sys

    script = (
        "import sys; from click.testing import CliRunner; from briefing.cli import cli;"
        " out = CliRunner().invoke(cli, ['--help']).output;"
        " print(' '.join(sorted(m for m in sys.modules if m.startswith('briefing.'))));"
        " print(out)"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    loaded, _, help_text = run.stdout.partition("\n")
    assert "send" in help_text and "audience" in help_text and "inbox" in help_text
    heavy = ("briefing.send.", "briefing.inbox", "briefing.audience.store", "briefing.build")
    heavy += ("briefing.render", "briefing.check", "briefing.serve", "briefing.importer")
    assert [m for m in loaded.split() if m.startswith(heavy)] == []
