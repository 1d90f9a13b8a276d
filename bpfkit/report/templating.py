"""The report's Jinja2 environment: templates in ``bpfkit/report/templates``.

Every page and section of the report is a template (``base.html``, ``program.html``,
``index.html``, ``object.html``, ``context.html``; shared macros in ``macros.html``) rendered
with autoescaping on, so values are escaped unless a template marks them safe. jinja2 is
imported on first render, not when the ``bpfkit`` command starts.

Examples
--------
>>> print(render_string('{% import "macros.html" as m %}{{ m.table(["a"], [["<x>"]]) }}'))
<table class="bpfkit-table"><thead><tr><th>a</th></tr></thead><tbody><tr><td>&lt;x&gt;</td></tr></tbody></table>
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["environment", "render", "render_string", "stylesheet"]

_VERDICT_COLORS = {"accept": "#1b7a3d", "reject": "#b3261e", "unknown": "#6b6b6b"}


def _is_nan(value: object) -> bool:
    """NaN floats and pandas' NA/NaT (without importing pandas) are empty cells."""
    if isinstance(value, float):
        return value != value
    return type(value).__name__ in ("NAType", "NaTType")


def _last_line(text: str | None) -> str:
    """The last non-blank line of *text* (the kernel's own error line)."""
    if not text:
        return ""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


@functools.cache
def environment() -> Any:
    """The shared :class:`jinja2.Environment` (autoescape on, undefined names are errors)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bpfkit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.tests["nan"] = _is_nan
    env.filters["last_line"] = _last_line
    env.globals["verdict_colors"] = _VERDICT_COLORS
    return env


@functools.cache
def stylesheet() -> str:
    """The report's stylesheet (inlined into every page)."""
    from importlib import resources

    return resources.files("bpfkit.report").joinpath("report.css").read_text("utf-8")


def render(name: str, /, **context: Any) -> str:
    """Render the template *name* with *context*."""
    return str(environment().get_template(name).render(**context))


def render_string(source: str, /, **context: Any) -> str:
    """Render a template given as text (it may import the package's templates)."""
    return str(environment().from_string(source).render(**context))
