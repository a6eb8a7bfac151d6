"""The Jinja2 environment for a theme folder, with template errors mapped to user errors."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from briefing.errors import BriefingError, Problem, RenderError, relative
from briefing.merge import placeholder


def _long_date(value: datetime) -> str:
    # Locale-independent on purpose: the same sources give the same bytes everywhere.
    return f"{value.strftime('%B')} {value.day}, {value.year}"


@cache
def environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
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


def render(folder: Path, name: str, project: Path, **context: Any) -> str:
    """Render a theme template; syntax and runtime errors name the template and line."""
    label = relative(folder / name, project)
    try:
        return environment(folder).get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        where = relative(Path(exc.filename), project) if exc.filename else label
        raise RenderError(
            Problem(where, f"template syntax error: {exc.message}", line=exc.lineno)
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise RenderError(
            Problem(label, f"template '{exc.name}' not found in {relative(folder, project)}/")
        ) from None
    except BriefingError:
        raise
    except Exception as exc:  # UndefinedError, or a filter given the wrong type
        file, line = _template_frame(exc, folder)
        message = exc.message if isinstance(exc, jinja2.UndefinedError) else f"{exc}"
        raise RenderError(
            Problem(
                relative(file, project) if file else label, f"template error: {message}", line=line
            )
        ) from exc


def _template_frame(exc: BaseException, folder: Path) -> tuple[Path | None, int | None]:
    """File and line of the innermost traceback frame that belongs to a template in folder
    (Jinja rewrites template frames to carry the template's own file and line)."""
    found: tuple[Path | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(str(folder)):
            found = (Path(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found
