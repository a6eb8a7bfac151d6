"""The Jinja2 adapter: an environment over theme layers, with template errors mapped to
user errors that name the template file and line."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache

from briefing.errors import BriefingError, Problem, RenderError
from briefing.merge import placeholder

# `{% extends "default/web/base.html.j2" %}` reaches the packaged file even when the
# publication overrides that very name, so an override can change one block only.
DEFAULT_PREFIX = "default"


def _long_date(value: datetime) -> str:
    # Locale-independent on purpose: the same sources give the same bytes everywhere.
    return f"{value.strftime('%B')} {value.day}, {value.year}"


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates shared by the themes of one process, so a rebuild in preview
    does not compile every template again (~0.1 s). Safe to share: Jinja checks each
    entry against a checksum of the template's source. Bounded: one entry per template
    file, the least recently used dropped past MAX."""

    MAX = 64

    def __init__(self) -> None:
        self.entries: OrderedDict[str, bytes] = OrderedDict()

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if (data := self.entries.get(bucket.key)) is not None:
            self.entries.move_to_end(bucket.key)
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.entries[bucket.key] = bucket.bytecode_to_string()
        self.entries.move_to_end(bucket.key)
        while len(self.entries) > self.MAX:
            self.entries.popitem(last=False)


COMPILED = _CompiledTemplates()


class _GuardedLoader(jinja2.BaseLoader):
    """Templates of one folder, each read by `read` (the theme's guarded read,
    briefing.project_files) rather than opened by Jinja: a template swapped for a link
    out of the theme or for a FIFO after the theme was checked is refused, not read."""

    def __init__(self, folder: Path, read: Callable[[Path], str]) -> None:
        self.folder, self.read = folder, read

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        # split_template_path refuses '..' (TemplateNotFound), as FileSystemLoader does.
        path = self.folder.joinpath(*jinja2.loaders.split_template_path(template))
        if not os.path.lexists(path):  # a link to nothing is read, so it is refused
            raise jinja2.TemplateNotFound(template)
        source = self.read(path)
        stamp = _stamp(path)
        return source, str(path), lambda: _stamp(path) == stamp

    def list_templates(self) -> list[str]:
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*.j2"))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def environment(
    folders: Sequence[Path], packaged: Path, read: Callable[[Path], str]
) -> jinja2.Environment:
    """Templates are looked up in folders in order (the publication's first), each
    read by read(path)."""
    loader = jinja2.ChoiceLoader(
        [
            *(_GuardedLoader(folder, read) for folder in folders),
            jinja2.PrefixLoader({DEFAULT_PREFIX: _GuardedLoader(packaged, read)}),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        bytecode_cache=COMPILED,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "mjml", "xml", "html.j2", "mjml.j2"),
            default_for_string=True,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["long_date"] = _long_date
    env.globals["merge"] = placeholder
    return env


def render(
    env: jinja2.Environment,
    name: str,
    label: Callable[[Path], str],
    folders: Sequence[Path],
    context: dict[str, Any],
) -> str:
    """Render a template; syntax and runtime errors name the template file and line.

    label shows a theme file as the user knows it; folders are the theme's layers."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        where = label(Path(exc.filename)) if exc.filename else name
        raise RenderError(
            Problem(where, f"template syntax error: {exc.message}", line=exc.lineno)
        ) from None
    except jinja2.TemplateNotFound as exc:
        shown = ", ".join(label(folder) + "/" for folder in folders)
        raise RenderError(
            Problem(name, f"template '{exc.name}' not found in the theme ({shown})")
        ) from None
    except BriefingError:
        raise
    except Exception as exc:  # UndefinedError, or a filter given the wrong type
        file, line = _template_frame(exc, folders)
        message = exc.message if isinstance(exc, jinja2.UndefinedError) else f"{exc}"
        raise RenderError(
            Problem(label(file) if file else name, f"template error: {message}", line=line)
        ) from exc


def _template_frame(exc: BaseException, folders: Sequence[Path]) -> tuple[Path | None, int | None]:
    """File and line of the innermost traceback frame that belongs to a theme template
    (Jinja rewrites template frames to carry the template's own file and line)."""
    found: tuple[Path | None, int | None] = (None, None)
    prefixes = tuple(str(folder) for folder in folders)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(prefixes):
            found = (Path(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found
