"""The theme: the publication's `templates/` in front of the theme packaged with briefing.

A file found in the publication's folder wins; every other file comes from the
package, so a publication owns only what it changes and a theme fix in a new
release reaches it. One `Theme` is made per build (as in MkDocs): it owns its
Jinja environment and its caches, which are bounded and die with it.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from briefing.config import Config
from briefing.errors import BriefingError, ConfigError, Problem, RenderError, relative
from briefing.project_files import MAX_TEXT_BYTES, Refused, read_bytes, refused_in_tree

if TYPE_CHECKING:
    import jinja2

PACKAGED = Path(__file__).resolve().parent.parent / "theme"
PACKAGED_LABEL = "briefing/theme"  # how messages name the packaged layer
# Every file the renderers and `briefing serve` use. The package has them all; a
# publication may override any.
REQUIRED = (
    "email.mjml.j2",
    "email.css",
    "email.txt.j2",
    "web/base.html.j2",
    "web/index.html.j2",
    "web/issue.html.j2",
    "web/tag.html.j2",
    "web/_content.html.j2",
    "web/_list.html.j2",
    "web/style.css",
    "web/_signup.html.j2",
    "service/page.html.j2",
    "service/confirm.html.j2",
    "service/confirm.txt.j2",
)
# A blank stylesheet would ship every email (or page) unstyled without a word.
NOT_BLANK = ("email.css", "web/style.css")
# Files in a publication's folder that are notes for people, not theme files.
NOT_THEME = ("README.md",)

T = TypeVar("T")


@dataclass(frozen=True)
class Layer:
    name: str  # "publication" or "packaged"
    folder: Path


class _Lru:
    """A small least-recently-used map: preview renders for hours in one process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        if key in self.items:
            self.items.move_to_end(key)
            return cast(T, self.items[key])
        value = make()
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


class Theme:
    """Theme files looked up layer by layer, rendered with one Jinja environment."""

    def __init__(self, layers: list[Layer], project: Path) -> None:
        self.layers = layers
        self.project = project
        self._texts = _Lru(32)  # file text by (path, mtime, size)
        self._objects = _Lru(4)  # e.g. a CSS inliner by its stylesheet's digest

    @classmethod
    def load(cls, config: Config, packaged: Path = PACKAGED) -> Theme:
        """The publication's theme folder (when it exists) over the packaged theme,
        checked: a required file missing from every layer is an error naming it."""
        layers = [Layer("packaged", packaged)]
        if config.templates_dir.is_dir():
            layers.insert(0, Layer("publication", config.templates_dir))
        theme = cls(layers, config.root)
        theme.check()
        return theme

    def check(self) -> None:
        # First, links out of the publication's theme folder and FIFOs or devices
        # (briefing.project_files): reading one below could leak a file or hang.
        problems = [
            Problem(self.label(path), message)
            for layer in self.layers[:-1]
            for path, message in refused_in_tree(layer.folder)
        ]
        if problems:
            raise ConfigError(problems)
        for name in REQUIRED:
            path = self.find(name)
            if path is None:
                shown = " and ".join(self.label(layer.folder / name) for layer in self.layers)
                problems.append(
                    Problem(name, f"theme file missing: looked for {shown}; reinstall briefing")
                )
            elif name in NOT_BLANK and not self.read_bytes(name).strip():
                problems.append(
                    Problem(
                        self.label(path),
                        "is empty, so the output would be unstyled; delete it to use"
                        " the packaged stylesheet, or give it rules",
                    )
                )
        if problems:
            raise ConfigError(problems)

    def find(self, name: str) -> Path | None:
        """The file that serves name: the first layer that has it."""
        for layer in self.layers:
            path = layer.folder / name
            # Anything there but a folder serves: a FIFO or a broken link is then refused
            # when read, instead of the next layer's file being used without a word.
            if os.path.lexists(path) and not path.is_dir():
                return path
        return None

    def path(self, name: str) -> Path:
        path = self.find(name)
        if path is None:
            raise RenderError(Problem(name, "theme file not found in any theme layer"))
        return path

    def label(self, path: Path) -> str:
        """A theme file as the user knows it: relative to the project, or in the package."""
        packaged = self.layers[-1].folder
        if path.is_relative_to(packaged):
            return PACKAGED_LABEL + str(path)[len(str(packaged)) :]
        return relative(path, self.project)

    def read(self, name: str) -> str:
        """A theme file's text, read again only when it changes."""
        path = self.path(name)
        stat = path.stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
        return self._texts.get(key, lambda: self.decode(path, self.guarded_bytes(path)))

    def read_bytes(self, name: str) -> bytes:
        """A theme file's bytes, read through the guarded path."""
        return self.guarded_bytes(self.path(name))

    def guarded_bytes(self, path: Path) -> bytes:
        """The bytes of a file in one of the layers, read as briefing.project_files allows:
        a file swapped for a link out of its layer, or for a FIFO, after the check that
        `load` made is refused here, at the read, with its name."""
        tree = next((f.folder for f in self.layers if path.is_relative_to(f.folder)), path.parent)
        try:
            return read_bytes(path, tree, MAX_TEXT_BYTES)
        except Refused as exc:
            raise RenderError(Problem(self.label(path), str(exc))) from None

    def decode(self, path: Path, data: bytes) -> str:
        """A theme file's text with '\\n' line ends; RenderError naming file and line."""
        try:
            return data.decode("utf-8").replace("\r\n", "\n")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise RenderError(
                Problem(self.label(path), "is not UTF-8 text; save it as UTF-8", line=line)
            ) from None

    def same_as_packaged(self, name: str) -> bool:
        """Whether the file serving name has the packaged file's exact bytes."""
        packaged = self.layers[-1].folder / name
        path = self.find(name)
        if path is None or not packaged.is_file():
            return False
        return self.guarded_bytes(path) == self.guarded_bytes(packaged)

    def cached(self, key: Hashable, make: Callable[[], T]) -> T:
        """An object built from theme content (key it by a digest of that content)."""
        return self._objects.get(key, make)

    def files(self) -> list[tuple[str, Layer]]:
        """Every theme file name with the layer it is served from, sorted by name."""
        names: dict[str, Layer] = {}
        for layer in reversed(self.layers):
            for path in sorted(layer.folder.rglob("*")):
                name = path.relative_to(layer.folder).as_posix()
                if path.is_file() and name not in NOT_THEME and not name.startswith("."):
                    names[name] = layer
        return sorted(names.items())

    @cached_property
    def environment(self) -> jinja2.Environment:
        # Imported on first render: a rebuild with nothing to render needs no Jinja.
        from briefing.render import templates

        folders = [layer.folder for layer in self.layers]
        return templates.environment(folders, packaged=folders[-1], read=self.read_template)

    def read_template(self, path: Path) -> str:
        """Jinja's loader reads each template through here (render/templates.py)."""
        return self.decode(path, self.guarded_bytes(path))

    def render(self, name: str, **context: Any) -> str:
        """Render a template; errors name the template file and line."""
        from briefing.render import templates

        folders = [layer.folder for layer in self.layers]
        return templates.render(self.environment, name, self.label, folders, context)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def packaged_names(packaged: Path = PACKAGED) -> list[str]:
    """Every file of the packaged theme, as a theme file name ("web/style.css")."""
    return sorted(p.relative_to(packaged).as_posix() for p in packaged.rglob("*") if p.is_file())


def eject(
    config: Config, names: Sequence[str] = (), force: bool = False, packaged: Path = PACKAGED
) -> list[Path]:
    """Copy packaged theme files (all when names is empty) into the publication's theme
    folder, to be edited there. Refuses to overwrite a file unless force."""
    known = packaged_names(packaged)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BriefingError(
            f"no packaged theme file '{unknown[0]}'; `briefing theme list` shows them all"
        )
    folder = config.templates_dir
    targets = {folder / name: packaged / name for name in (names or known)}
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        shown = ", ".join(relative(path, config.root) for path in existing[:3])
        raise BriefingError(
            f"{shown}{' …' if len(existing) > 3 else ''} already exists;"
            " eject never overwrites your files: add --force to replace them"
        )
    for target, source in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    return list(targets)
