"""The shipped ``talk`` and ``paper`` styles, figure creation and deterministic saving.

Figures are made with :class:`matplotlib.figure.Figure` directly (no pyplot global state)
unless the caller has already imported :mod:`matplotlib.pyplot` (a notebook), in which case
pyplot makes them so that Jupyter displays them. Nothing here calls ``plt.show``.

Examples
--------
>>> from bpfkit.plot.style import style, new_axes, savefig
>>> with style("paper"):
...     ax = new_axes()
...     _ = ax.plot([0, 1], [1, 0])
>>> float(ax.figure.get_figwidth())
3.5
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a function here is called: `bpfkit --help` imports this module
    from pathlib import Path

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "STYLES",
    "FORMATS",
    "HASH_SALT",
    "style_path",
    "use_style",
    "style",
    "new_figure",
    "new_axes",
    "savefig",
    "sanitize_filename",
]

#: The styles shipped in ``bpfkit/plot/styles``.
STYLES: tuple[str, ...] = ("talk", "paper")
#: The output formats :func:`savefig` writes deterministically.
FORMATS: tuple[str, ...] = ("svg", "pdf", "png")
#: The fixed salt for SVG element ids (``svg.hashsalt``), so ids do not change between runs.
HASH_SALT = "bpfkit"

# Metadata that would otherwise carry the date or the matplotlib version into the file.
_METADATA: dict[str, dict[str, Any]] = {
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
    "png": {"Software": None},
}
_DETERMINISTIC_RC: dict[Any, Any] = {
    "svg.hashsalt": HASH_SALT,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
}

#: The formats whose text is measured unhinted, which a layout at any resolution fits.
_VECTOR = frozenset({"svg", "pdf"})
#: No layout engine from the rc either (``Figure.set_layout_engine(None)`` reads these).
_NO_LAYOUT_RC: dict[Any, Any] = {"figure.constrained_layout.use": False, "figure.autolayout": False}


def style_path(name: str) -> Path:
    """Return the path of the shipped ``.mplstyle`` file called *name*.

    Raises
    ------
    ValueError
        If *name* is not one of :data:`STYLES`.

    Examples
    --------
    >>> style_path("talk").name
    'talk.mplstyle'
    """
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; expected one of {', '.join(STYLES)}")
    from importlib import resources
    from pathlib import Path

    ref = resources.files("bpfkit.plot") / "styles" / f"{name}.mplstyle"
    return Path(str(ref))


def use_style(name: str = "talk") -> None:
    """Apply the shipped style *name* (``"talk"`` or ``"paper"``) to matplotlib's rcParams.

    Examples
    --------
    >>> import matplotlib
    >>> with matplotlib.rc_context():
    ...     use_style("paper")
    ...     matplotlib.rcParams["font.family"]
    ['serif']
    """
    import matplotlib.style

    matplotlib.style.use(str(style_path(name)))


@contextlib.contextmanager
def style(name: str = "talk") -> Iterator[None]:
    """Apply the shipped style *name* inside a ``with`` block, restoring rcParams after it.

    Examples
    --------
    >>> import matplotlib
    >>> with style("talk"):
    ...     matplotlib.rcParams["font.size"]
    18.0
    """
    import matplotlib

    with matplotlib.rc_context(fname=str(style_path(name))):
        yield


def new_figure(**kwargs: Any) -> Figure:
    """Return a new Figure (through pyplot only if the caller already imported pyplot)."""
    if "matplotlib.pyplot" in sys.modules:
        plt = sys.modules["matplotlib.pyplot"]
        fig: Figure = plt.figure(**kwargs)
        return fig
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def new_axes(ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Return *ax*, or the single Axes of a new figure made with ``kwargs`` when it is None."""
    if ax is not None:
        return ax
    fig = new_figure(**kwargs)
    axes: Axes = fig.add_subplot()
    return axes


def savefig(
    fig: Figure,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    dpi: float | None = None,
) -> Path:
    """Write *fig* to *path* as SVG, PDF or PNG with deterministic bytes.

    Dates and software names are left out of the metadata, SVG ids use a fixed hash salt and
    fonts are embedded as TrueType, so the same figure gives the same bytes on every run.

    Parameters
    ----------
    fig : Figure
        The figure to write.
    path : path-like
        Where to write; the format comes from its suffix unless *format* is given.
    format : {"svg", "pdf", "png"}, optional
        Output format.
    dpi : float, optional
        Resolution for PNG (default: the style's ``savefig.dpi``).

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> fig = new_figure(figsize=(2, 1))
    >>> _ = fig.add_subplot().plot([0, 1])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a = savefig(fig, pathlib.Path(d) / "a.svg").read_bytes()
    ...     b = savefig(fig, pathlib.Path(d) / "b.svg").read_bytes()
    >>> a == b
    True
    """
    from pathlib import Path

    out = Path(path)
    fmt = (format or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot write {out}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib

    engine = fig.get_layout_engine()
    # a PNG is laid out at its own resolution: hinted glyphs are wider at a small one
    laid_out = engine is not None and fmt in _VECTOR and _laid_out(fig)
    with matplotlib.rc_context(_DETERMINISTIC_RC):
        if laid_out:  # laid out by tidy_ticks and unchanged since: no layout pass of its own
            with matplotlib.rc_context(_NO_LAYOUT_RC):
                fig.set_layout_engine(None)  # no engine: savefig draws once
        try:
            from bpfkit.plot.layout import remembered_ticks, reused_text_layouts

            # each axis locates and formats its ticks once, each text is laid out once
            with remembered_ticks(fig), reused_text_layouts():
                fig.savefig(out, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
        finally:
            if laid_out:
                fig.set_layout_engine(engine)
    return out


def _laid_out(fig: Figure) -> bool:
    """Whether *fig* was laid out by :func:`bpfkit.plot.layout.tidy_ticks` and nothing
    changed since (matplotlib marks a figure stale when any of its artists changes): then
    an SVG or PDF is written in that layout, the one the layout checks measured, without a
    layout pass of its own (a third of the time of a figure)."""
    return getattr(fig, "_bpfkit_drawn", None) is not None and not fig.stale


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def sanitize_filename(text: str, *, default: str = "program") -> str:
    """Return *text* as a safe file-name component (letters, digits, ``._+-``).

    Examples
    --------
    >>> sanitize_filename("tc/ingress prog:1")
    'tc_ingress_prog_1'
    >>> sanitize_filename("../..")
    'program'
    """
    name = _UNSAFE.sub("_", text).strip("._")
    return name[:100] or default
