"""Every figure for every program of a log, written to files named ``<program>-<figure>.<ext>``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bpfkit.errors import BpfkitError
from bpfkit.plot import compare as C
from bpfkit.plot import data as D
from bpfkit.plot import figures as F
from bpfkit.plot.cfg import plot_cfg
from bpfkit.plot.style import sanitize_filename, savefig, style

__all__ = ["FIGURES", "WINDOWED", "NothingToDraw", "nothing_to_draw", "render_figure",
           "write_figures"]


def _ownership(log: Any, *, window: Any = None) -> Any:
    from bpfkit.plot.timeline import plot_ownership_timeline

    return plot_ownership_timeline(log, window=window)


def _flows(log: Any) -> Any:
    from bpfkit.plot.chain import plot_flow_chain

    return plot_flow_chain(log)


#: Figure name -> function drawing it for one log (returns an Axes or a Figure).
FIGURES: dict[str, Callable[..., Any]] = {
    "lanes": F.plot_register_lanes,
    "ranges": F.plot_ranges,
    "references": F.plot_references,
    "effort": F.plot_effort,
    "cfg": plot_cfg,
    "summary": C.plot_summary,
    "ownership": _ownership,
    "chain": _flows,
}


#: The figures drawn over steps, which take a ``window`` (see :mod:`bpfkit.plot.window`).
WINDOWED = frozenset({"lanes", "ranges", "references", "summary", "ownership"})


class NothingToDraw(BpfkitError, ValueError):
    """A figure of a log would have nothing to show (no reference for the references figure,
    no owned object for the ownership timeline, ...): it is not drawn. The message says why."""


def nothing_to_draw(log: Any, name: str, *, window: Any = None) -> str | None:
    """Why figure *name* of *log* would show nothing (in *window*), or None when it has
    something to show. A figure with nothing to show is not drawn, not written, and a panel
    with nothing to show is left out of the figures made of several (references, summary).

    Examples
    --------
    >>> from pathlib import Path
    >>> import bpfkit
    >>> from bpfkit.verifier import load_log
    >>> data = Path(bpfkit.__file__).parents[1] / "data/logs"
    >>> log = load_log(data / "loops/bucket_branches_ok.l2.log")[0]
    >>> nothing_to_draw(log, "ownership"), nothing_to_draw(log, "lanes")
    ('no owned object in the log', None)
    """
    from bpfkit.plot.window import choose_window

    if not len(getattr(log, "steps", ())):
        return "no instruction in the log"
    win = choose_window(log, window)
    where = "in the log" if win.whole else f"in {win.label() or 'the window'}"
    if name == "references":
        if not F.has_references(log, win) and not F.has_non_owning(log, win):
            return f"no reference held {where}"
    elif name == "ownership":
        from bpfkit.plot.timeline import ownership_timeline

        seg = ownership_timeline(log).segments
        if not win.whole:
            seg = seg[(seg["end_step"] >= win.start) & (seg["start_step"] < win.stop)]
        if not len(seg):
            return f"no owned object {where}"
    elif name == "chain":
        from bpfkit.plot.chain import flow_chain_frame

        if not len(flow_chain_frame(log)):
            return "no owned object in the log"
    elif name == "ranges" and not len(D.range_series(log, None)):
        return "no scalar register in the log"
    return None


def render_figure(
    log: Any,
    name: str,
    *,
    regs: list[int] | None = None,
    window: Any = None,
    tidy: bool = True,
) -> Any:
    """Draw figure *name* (a key of :data:`FIGURES`) for *log* and return its Figure;
    *regs* chooses the registers of the ``ranges`` figure, *window* the steps of the figures
    drawn over steps (a :class:`bpfkit.plot.window.Window` or a ``--window`` text; default:
    every step of a small log, the erroring or busiest window of a big one). With *tidy*
    (default), the figure is laid out once and tick labels that would collide are thinned
    (:func:`bpfkit.plot.layout.tidy_ticks`); without, nothing is drawn yet.

    Raises :class:`NothingToDraw` when the figure would have nothing to show
    (:func:`nothing_to_draw`)."""
    from bpfkit.plot.layout import tidy_ticks

    try:
        fn = FIGURES[name]
    except KeyError:
        raise ValueError(f"unknown figure {name!r}; expected one of {', '.join(FIGURES)}") from None
    why = nothing_to_draw(log, name, window=window if name in WINDOWED else None)
    if why is not None:
        raise NothingToDraw(f"{getattr(log, 'name', None) or 'program'}: no {name} figure: {why}")
    if name == "ranges":
        out = F.plot_ranges(log, regs, window=window)
    elif name in WINDOWED:
        out = fn(log, window=window)
    else:
        out = fn(log)
    fig = out if hasattr(out, "savefig") else out.figure
    if tidy:
        tidy_ticks(fig)
    return fig


def write_figures(
    logs: Iterable[Any],
    outdir: str | Path,
    *,
    style_name: str = "talk",
    fmt: str = "svg",
    figures: Iterable[str] | None = None,
    dpi: float | None = None,
    timings: dict[str, float] | None = None,
    regs: list[int] | None = None,
    window: Any = None,
    progress: bool = False,
    skipped: list[str] | None = None,
) -> list[Path]:
    """Write every figure (or those named in *figures*) for every log to *outdir*.

    File names are ``<program>-<figure>.<fmt>`` with the program name sanitized; a second
    program of the same name gets ``-2``, ``-3``, ... appended. Returns the paths written.
    If *timings* is a dict, the seconds spent on each file are stored in it by file name.
    *regs* chooses the registers of the ``ranges`` figure (default: the busiest scalars),
    *window* the steps of the figures drawn over steps; *progress* shows a tqdm bar on
    stderr. A figure with nothing to show is not written; if *skipped* is a list, why is
    appended to it (one sentence per figure).
    """
    out = Path(outdir)
    names = list(figures) if figures is not None else list(FIGURES)
    for n in names:
        if n not in FIGURES:
            raise ValueError(f"unknown figure {n!r}; expected one of {', '.join(FIGURES)}")
    written: list[Path] = []
    seen: dict[str, int] = {}
    logs = list(logs)
    bar: Any = None
    if progress:
        import sys

        from tqdm import tqdm

        bar = tqdm(total=len(logs) * len(names), desc="bpfkit plot", unit="figure", file=sys.stderr)
    for index, log in enumerate(logs):
        base = sanitize_filename(getattr(log, "name", None) or f"program{index}")
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            base = f"{base}-{seen[base]}"
        for name in names:
            start = time.perf_counter()
            with style(style_name):
                try:
                    fig = render_figure(log, name, regs=regs, window=window)
                except NothingToDraw as exc:
                    if skipped is not None:
                        skipped.append(str(exc))
                    if bar is not None:
                        bar.update()
                    continue
                path = savefig(fig, out / f"{base}-{name}.{fmt}", dpi=dpi)
            _close(fig)
            if bar is not None:
                bar.update()
            if timings is not None:
                timings[path.name] = time.perf_counter() - start
            written.append(path)
    if bar is not None:
        bar.close()
    return written


def _close(fig: Any) -> None:
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)
