"""Figures of verifier state evolution, one function per figure, each drawing what a
:mod:`bpfkit.plot.data` function returns.

Each ``plot_*`` takes a :class:`bpfkit.verifier.Log` and ``ax=None`` and returns the Axes it
drew on (a new figure when *ax* is None); the multi-panel figures return the Figure. Logs of
more steps than a mark per step can show are binned (the figure says so in a note).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from bpfkit.plot import data as D
from bpfkit.plot.palette import CATEGORIES, END_MARKERS, OKABE_ITO, TYPE_STYLES
from bpfkit.plot.style import new_axes, new_figure
from bpfkit.plot.window import MAX_REF_ROWS, choose_window

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "RANGES_REGS",
    "MAX_COLUMNS",
    "figure_size",
    "plot_register_lanes",
    "plot_range",
    "plot_ranges",
    "plot_reference_lifetimes",
    "plot_reference_counts",
    "plot_non_owning",
    "plot_references",
    "has_references",
    "has_non_owning",
    "plot_visits",
    "plot_effort_series",
    "plot_path_tree",
    "plot_effort",
    "count_norm",
    "integer_colorbar",
    "set_xlabel",
    "short_title",
    "side_legend",
    "rows_that_fit",
    "legends_below_if_narrow",
]

#: Above this many steps, per-step marks are binned (most frequent value, or envelope).
MAX_COLUMNS = 1500
_O = OKABE_ITO


def figure_size(kind: str = "single") -> tuple[float, float]:
    """Return a figure size for *kind* (``single``, ``tall``, ``wide``, ``page``) in the
    current style: slides keep the style's 16:9 size, papers get column or page width.

    Examples
    --------
    >>> from bpfkit.plot.style import style
    >>> with style("paper"):
    ...     figure_size("page")
    (7.16, 9.0)
    """
    import matplotlib

    w, h = matplotlib.rcParams["figure.figsize"]
    if w >= 6:  # slides
        return {"page": (w, h * 1.25), "tall": (w, h)}.get(kind, (float(w), float(h)))
    return {
        "single": (3.5, 2.4),
        "tall": (3.5, 3.8),
        "wide": (7.16, 3.2),
        "page": (7.16, 9.0),
    }.get(kind, (float(w), float(h)))


def _note(ax: Axes, text: str) -> None:
    """Say on the figure how it was aggregated or windowed: a line under the x-axis label
    (laid out with the panel, never over its data); notes add up."""
    notes = [n for n in getattr(ax, "_bpfkit_notes", []) if n != text] + [text]
    ax._bpfkit_notes = notes  # type: ignore[attr-defined]
    _relabel(ax)


def _relabel(ax: Axes, xlabel: str | None = None) -> None:
    """Set the x label of *ax* to *xlabel* (default: the current one without notes) followed
    by the notes of the panel, one per line."""
    import textwrap

    import matplotlib
    from matplotlib.font_manager import FontProperties

    base = xlabel if xlabel is not None else getattr(ax, "_bpfkit_xlabel", ax.get_xlabel())
    ax._bpfkit_xlabel = base  # type: ignore[attr-defined]
    size = FontProperties(size=matplotlib.rcParams["axes.labelsize"]).get_size_in_points()
    chars = max(20, int(_text_width_pt(ax) / (0.58 * size)))
    lines = [base] if base else []
    for n in getattr(ax, "_bpfkit_notes", []):
        lines.extend(textwrap.wrap(f"[{n.replace(chr(10), ' ')}]", chars))
    ax.set_xlabel("\n".join(lines))


def short_title(ax: Axes, **kwargs: Any) -> None:
    """Title a panel of a multi-panel figure with what it shows, without the program name."""
    what = getattr(ax, "_bpfkit_what", None)
    if what is None:
        what = ax.get_title(loc="left").split(" — ")[0].split("\n")[0]
    if what:
        ax.set_title(what, loc="left", **kwargs)


def set_xlabel(ax: Axes, text: str) -> None:
    """Set the x label of a panel, keeping its notes (see :func:`_note`)."""
    _relabel(ax, text)


def _window_note(ax: Axes, win: Any) -> None:
    label = win.label()
    if label:
        _note(ax, label)


def side_legend(ax: Axes, own_figure: bool, **kwargs: Any) -> Any:
    """The legend of a panel, beside it on the right; under the figure instead when the panel
    is alone in a narrow (paper column) figure, where beside it would squeeze the data."""
    fig = ax.get_figure(root=True)
    if own_figure and fig is not None and fig.get_figwidth() < 5:
        handles = kwargs.pop("handles", None)
        if handles is None:
            handles, labels = ax.get_legend_handles_labels()
        else:
            labels = [h.get_label() for h in handles]
        if not handles:
            return None
        kwargs.pop("bbox_to_anchor", None)
        kwargs.pop("loc", None)
        return fig.legend(
            handles=handles,
            labels=labels,
            loc="outside lower center",
            ncols=2 if len(handles) > 1 else 1,
            **kwargs,
        )
    kwargs.setdefault("loc", "upper left")
    kwargs.setdefault("bbox_to_anchor", (1.01, 1.0))
    kwargs.setdefault("borderaxespad", 0)
    return ax.legend(**kwargs)


def _series(label: str) -> str:
    """The series a legend label names: the register of ``R1 min/max``, else the label."""
    head = label.split(" ")[0]
    return head if head[:1] == "R" and head[1:].isdigit() else label


def legends_below_if_narrow(fig: Figure, axes: Any) -> None:
    """In a narrow (paper column) figure, gather the legends of *axes* into one under the
    figure, so the panels keep the full width."""
    if fig.get_figwidth() >= 5:
        return
    handles: list[Any] = []
    labels: list[str] = []
    for ax in axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        for h, t in zip(leg.legend_handles, leg.get_texts(), strict=False):
            # one entry per series: "R1 min/max" (bounds) and "R1" (bits) are one register
            if _series(t.get_text()) not in {_series(x) for x in labels}:
                handles.append(h)
                labels.append(t.get_text())
        leg.remove()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=2)


def _msize(scale: float = 1.0) -> float:
    """Scatter marker area that follows the style's ``lines.markersize``."""
    import matplotlib

    return float(matplotlib.rcParams["lines.markersize"] * scale) ** 2


def _bars(ax: Axes, x0: Any, x1: Any, y0: Any, y1: Any, **kwargs: Any) -> Any:
    """Rectangles from *x0* to *x1* and *y0* to *y1* (arrays, or numbers for all) as one
    PolyCollection, drawn and listed in a legend as ``ax.bar`` / ``ax.barh`` draw theirs
    (``color`` is the face colour, as for bars), without a Rectangle artist per bar: a
    panel of a few hundred bars was a tenth of its figure's time in ``barh`` alone. The
    rectangles are added to the data limits; returns the collection."""
    from matplotlib.collections import PolyCollection

    x0, x1, y0, y1 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x0, x1, y0, y1)))
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]  # a Rectangle's order
    verts = np.stack([np.column_stack(c) for c in corners], axis=1)
    if "color" in kwargs:
        kwargs["facecolor"] = kwargs.pop("color")
    bars = PolyCollection(list(verts), **kwargs)
    ax.add_collection(bars, autolim=True)
    return bars


def count_norm(vmax: float) -> Any:
    """A color norm for counts from 1 to *vmax*: logarithmic when they span decades."""
    from matplotlib.colors import LogNorm, Normalize

    return LogNorm(vmin=1, vmax=vmax) if vmax > 20 else Normalize(vmin=0, vmax=max(vmax, 1))


def _count_colorbar(ax: Axes, mappable: Any, label: str) -> None:
    """A colorbar attached to the right edge of *ax*, as tall as it (an inset of the panel,
    so the layout keeps it beside the strip it explains, whatever the other panels do)."""
    import matplotlib

    fig = ax.get_figure(root=True)
    width_in = float(fig.get_figwidth()) if fig is not None else 6.0
    # ~0.12 in wide, 0.08 in from the panel (as fractions of a panel ~80% of the figure)
    frac = 0.12 / (0.8 * width_in)
    cax = ax.inset_axes((1.0 + 0.08 / (0.8 * width_in), 0.0, frac, 1.0))
    cb = ax.figure.colorbar(mappable, cax=cax)
    size = float(matplotlib.rcParams["ytick.labelsize"]) if isinstance(
        matplotlib.rcParams["ytick.labelsize"], (int, float)) else None  # fmt: skip
    cb.set_label(label, fontsize="small", labelpad=2)
    if size is not None:
        cb.ax.tick_params(labelsize=0.85 * size)
    integer_colorbar(cb, nbins=3)
    # a bar too short for three tick labels with air between them: its two ends only
    tick_pt = 0.85 * (size if size is not None else 10.0)
    height_pt = ax.get_position().height * (float(fig.get_figheight()) if fig else 4.0) * 72
    if height_pt < 6 * tick_pt:
        from matplotlib.ticker import FixedLocator

        lo, hi = mappable.norm.vmin, mappable.norm.vmax
        cb.ax.yaxis.set_major_locator(FixedLocator([lo, hi]))


def integer_colorbar(cb: Any, *, nbins: int = 4) -> None:
    """Label a count colorbar with whole numbers."""
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if not isinstance(cb.norm, LogNorm):
        cb.ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=nbins))
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    cb.ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def _title(ax: Axes, what: str, log: Any) -> None:
    """Title a panel "what — program", the program on a line of its own when the panel is
    too narrow for both."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    name = getattr(log, "name", None)
    ax._bpfkit_what = what  # type: ignore[attr-defined]
    if not name:
        ax.set_title(what, loc="left")
        return
    size = FontProperties(size=matplotlib.rcParams["axes.titlesize"]).get_size_in_points()
    text = f"{what} — {name}"
    ax.set_title(
        text if len(text) * 0.6 * size < _text_width_pt(ax) else f"{what}\n{name}", loc="left"
    )


def _text_width_pt(ax: Axes) -> float:
    """Room for a line of text that starts at the left edge of *ax*: the figure's width less
    the y-axis labels' margin (the panel itself shrinks once legends are laid out)."""
    fig = ax.get_figure(root=True)
    if fig is None:
        return 300.0
    w = float(fig.get_figwidth()) * 72
    x0 = float(ax.get_position().x0) * w
    return max(w - min(x0, 0.12 * w) - 30.0, 60.0)


def _path_starts(steps: pd.DataFrame) -> np.ndarray:
    path = steps.sort_values("step")["path"].to_numpy()
    return np.nonzero(np.diff(path))[0] + 1 if len(path) > 1 else np.zeros(0, dtype=np.int64)


def _mark_failure(ax: Axes, log: Any, x: float | None) -> None:
    if x is None or getattr(log, "verdict", None) != "reject":
        return
    ax.axvline(x, color=_O["vermillion"], linewidth=1.5, linestyle=(0, (4, 2)), label="error")


def _runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encode a 1-D array: (starts, lengths, values)."""
    n = len(row)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), row[:0]
    change = np.nonzero(row[1:] != row[:-1])[0] + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [n])))
    return starts, lengths, row[starts]


def plot_register_lanes(
    log: Any,
    ax: Axes | None = None,
    *,
    max_columns: int = MAX_COLUMNS,
    legend: bool = True,
    window: Any = None,
) -> Axes:
    """Draw register lanes: steps on x, R0-R10 (per frame) on y, each cell colored (and
    hatched) by the register's type category; ``_w`` (written) and ``P`` (precise) marks on
    the cells the log printed; explored paths separated by thin lines; the error marked.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    st = D.lane_state(log)
    own = ax is None
    fig_w, fig_h = figure_size("single")
    if fig_w < 6:  # a paper column: room for every lane label and the legend under the figure
        fig_h = max(fig_h, 0.13 * len(st.lanes) + 1.5)
    ax = new_axes(ax, figsize=(fig_w, fig_h))
    n = len(st.steps)
    codes = np.where(
        st.rows >= 0, st.codes[np.maximum(st.rows, 0)] if len(st.codes) else 0, st.rows
    )
    codes = np.where(codes == -1, CATEGORIES.index("not_init"), codes)
    win = choose_window(log, window)
    off = win.start
    codes = codes[win.start : win.stop]
    binned, width = D.bin_codes(codes, max_columns)
    nl = len(st.lanes)
    runs: dict[int, list[tuple[np.ndarray, np.ndarray, int]]] = {}  # code -> its runs by lane
    for j in range(nl):
        starts, lengths, vals = _runs(binned[:, j])
        for code in np.unique(vals):
            if code >= 0:  # below: frame not active
                sel = vals == code
                runs.setdefault(int(code), []).append((starts[sel], lengths[sel], j))
    used = set(runs)
    for code, parts in runs.items():  # one collection per type: every lane's runs of it
        ts = TYPE_STYLES[CATEGORIES[code]]
        x0 = np.concatenate([s for s, _n, _j in parts]) * width + off
        x1 = x0 + np.concatenate([n for _s, n, _j in parts]) * width
        y = np.concatenate([np.full(len(s), j, dtype=float) for s, _n, j in parts])
        _bars(
            ax,
            x0,
            x1,
            y - 0.42,
            y + 0.42,
            color=ts.color,
            edgecolor="#333333" if ts.hatch else ts.color,
            linewidth=0.0,
            hatch=ts.hatch or None,
        )
    if width == 1 and n:
        marks = D.register_marks(st)
        lane_index = {D.lane_name(f, r): j for j, (f, r) in enumerate(st.lanes)}
        pos = np.searchsorted(st.steps, marks["step"].to_numpy())
        inside = (pos >= win.start) & (pos < win.stop)
        ys = marks["lane"].map(lane_index).to_numpy(dtype=float)
        w = marks["written"].to_numpy(dtype=bool) & inside
        p = marks["precise"].to_numpy(dtype=bool) & inside
        if w.any():
            ax.scatter(
                pos[w] + 0.5,
                ys[w] - 0.22,
                marker="v",
                s=_msize(0.5),
                color="black",
                linewidths=0,
                zorder=3,
            )
        if p.any():
            ax.scatter(
                pos[p] + 0.5,
                ys[p] + 0.22,
                marker="*",
                s=_msize(0.7),
                color="black",
                linewidths=0,
                zorder=3,
            )
    starts_p = _path_starts(log.steps) if n else np.zeros(0)
    starts_p = starts_p[(starts_p >= win.start) & (starts_p < win.stop)]
    if 0 < len(starts_p) <= 300:
        ax.vlines(starts_p, -0.5, nl - 0.5, colors="#555555", linewidth=0.4, linestyles="dotted")
    _mark_failure(ax, log, float(n) if n and win.stop >= n else None)
    frames = sorted({f for f, _ in st.lanes})
    for f in frames[1:]:
        j = next(k for k, (ff, _) in enumerate(st.lanes) if ff == f)
        ax.axhline(j - 0.5, color="black", linewidth=1.0)
    ax.set_yticks(range(nl), [D.lane_name(f, r) for f, r in st.lanes])
    ax.set_ylim(nl - 0.5, -0.5)
    ax.set_xlim(off, max(off + len(codes), off + 1))
    set_xlabel(ax, "step (verification order)")
    ax.grid(False)
    _title(ax, "register types", log)
    _window_note(ax, win)
    if width > 1:
        _note(ax, f"binned: 1 column = {width} steps (most frequent type; no marks)")
    if legend:
        handles: list[Any] = [
            Patch(
                facecolor=TYPE_STYLES[c].color,
                hatch=TYPE_STYLES[c].hatch or None,
                edgecolor="#333333",
                linewidth=0.3,
                label=TYPE_STYLES[c].label,
            )
            for c in CATEGORIES
            if CATEGORIES.index(c) in used
        ]
        if width == 1:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="v",
                    linestyle="none",
                    color="black",
                    markersize=4,
                    label="written (_w)",
                )
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="*",
                    linestyle="none",
                    color="black",
                    markersize=5,
                    label="precise (P)",
                )
            )
        side_legend(ax, own, handles=handles)
    return ax


_SIGNED = ("smin", "smax", "signed [smin, smax]")
_UNSIGNED = ("umin", "umax", "unsigned [umin, umax]")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_range(
    log: Any,
    regs: list[int] | tuple[int, ...] | None = None,
    *,
    kind: str = "signed",
    frame: int = 0,
    ax: Axes | None = None,
    series: pd.DataFrame | None = None,
    max_points: int = MAX_COLUMNS,
    window: Any = None,
) -> Axes:
    """Draw the [min, max] bounds of scalar registers over steps (``kind`` ``"signed"``,
    ``"unsigned"`` or ``"bits"`` for the bits var_off knows); symlog scale where values are
    large; ▼ where a bound narrows, ▲ where it widens; big logs as a window of steps
    (:func:`bpfkit.plot.window.choose_window`).
    """
    df = series if series is not None else D.range_series(log, regs, frame=frame)
    win = choose_window(log, window)
    if len(df) and not win.whole:
        df = df[(df["step"] >= win.start) & (df["step"] < win.stop)]
    own = ax is None
    ax = new_axes(ax, figsize=figure_size("single"))
    import matplotlib

    colors = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", ["#000000"])
    width = 1
    big = False
    for k, (reg, sub) in enumerate(df.groupby("reg", sort=True)):
        x = sub["step"].to_numpy(dtype=float)
        color = colors[k % len(colors)]
        if kind == "bits":
            lo = hi = sub["known_bits"].to_numpy(dtype=float)
        else:
            lo_col, hi_col, _ = _SIGNED if kind == "signed" else _UNSIGNED
            lo = sub[lo_col].to_numpy(dtype=float)
            hi = sub[hi_col].to_numpy(dtype=float)
        change = sub["change"].to_numpy() if "change" in sub else np.array([""] * len(sub))
        if len(x) > max_points:
            width = -(-len(x) // max_points)
            nb = -(-len(x) // width)
            pad = nb * width - len(x)
            lo_b = np.pad(lo, (0, pad), constant_values=np.nan).reshape(nb, width)
            hi_b = np.pad(hi, (0, pad), constant_values=np.nan).reshape(nb, width)
            with np.errstate(all="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    lo = np.nanmin(lo_b, axis=1)
                    hi = np.nanmax(hi_b, axis=1)
            x = x[0] + np.arange(nb, dtype=float) * width
            change = np.array([""] * nb)
        finite = np.isfinite(np.concatenate((lo, hi)))
        if finite.any() and np.nanmax(np.abs(np.concatenate((lo, hi))[finite])) > 1e4:
            big = True
        label = f"R{reg}"
        if kind == "bits":
            ax.step(
                x,
                lo,
                where="post",
                color=color,
                marker=_MARKERS[k % len(_MARKERS)],
                markevery=max(1, len(x) // 25),
                label=label,
            )
        else:
            ax.fill_between(x, lo, hi, step="post", color=color, alpha=0.25, linewidth=0)
            ax.step(
                x,
                lo,
                where="post",
                color=color,
                linewidth=1.0,
                marker=_MARKERS[k % len(_MARKERS)],
                markevery=max(1, len(x) // 25),
                label=f"{label} min/max",
            )
            ax.step(x, hi, where="post", color=color, linewidth=1.0, linestyle="--")
            nar = change == "narrow"
            wid = change == "widen"
            if int(nar.sum() + wid.sum()) > 60:  # a mark per change would be a smear
                nar = wid = np.zeros(len(change), dtype=bool)
            if nar.any():
                ax.scatter(
                    x[nar],
                    hi[nar],
                    marker="v",
                    color=color,
                    edgecolors="black",
                    linewidths=0.4,
                    zorder=3,
                    s=_msize(0.6),
                )
            if wid.any():
                ax.scatter(
                    x[wid],
                    hi[wid],
                    marker="^",
                    color=color,
                    edgecolors="black",
                    linewidths=0.4,
                    zorder=3,
                    s=_msize(0.6),
                )
    if big and kind != "bits":
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("symlog", linthresh=1.0)
        # Ticks at the bounds the verifier thinks in (powers of two: u8, u16, u32, s64/u64),
        # as plain text: mathtext for every label is slow and adds nothing here.
        lo_lim, hi_lim = ax.get_ylim()
        ticks = [t for t in _POW2_TICKS if lo_lim <= t <= hi_lim]
        if kind == "signed" and 2.0**64 in ticks:  # beyond any s64
            ticks.remove(2.0**64)
        if 2.0**64 in ticks:  # 2^63 and 2^64 would print on top of each other
            ticks.remove(2.0**63)
        ax.set_yticks(ticks)
        ax.yaxis.set_major_formatter(FuncFormatter(_sym_tick))
        from matplotlib.ticker import NullLocator

        ax.yaxis.set_minor_locator(NullLocator())  # unlabelled minor ticks by the hundred
    what = {"signed": _SIGNED[2], "unsigned": _UNSIGNED[2], "bits": "known bits (var_off)"}[kind]
    ax.set_ylabel({"signed": "signed", "unsigned": "unsigned", "bits": "known bits"}[kind])
    set_xlabel(ax, "step")
    if kind == "bits":
        ax.set_ylim(-2, 66)
    if len(df):
        side_legend(ax, own)
    else:
        ax.text(
            0.5,
            0.5,
            "no scalar registers in the log",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    _title(ax, what, log)
    if len(df):
        ax.set_xlim(win.start, win.stop)
    _window_note(ax, win)
    if width > 1:
        _note(ax, f"binned: 1 point = {width} steps (envelope of the bounds)")
    return ax


_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_POW2_TICKS = sorted(
    {0.0}
    | {float(s * 2**e) for e in (8, 16, 32, 63, 64) for s in (1, -1) if not (s < 0 and e == 64)}
)


def _sym_tick(v: float, _pos: Any = None) -> str:
    """Tick label for a symlog axis: ``0``, ``2⁸``, ``-2⁶³``, else the number.

    Examples
    --------
    >>> _sym_tick(2.0**32), _sym_tick(-(2.0**63)), _sym_tick(0), _sym_tick(12)
    ('2³²', '-2⁶³', '0', '12')
    """
    if v == 0:
        return "0"
    e = math.log2(abs(v))
    if e == int(e) and e >= 8:
        return ("-" if v < 0 else "") + "2" + str(int(e)).translate(_SUP)
    return f"{v:.0e}" if abs(v) >= 1e4 else f"{v:g}"


#: Registers the ranges figure draws unless told which (the busiest scalars).
RANGES_REGS = 2


def plot_ranges(
    log: Any,
    regs: list[int] | tuple[int, ...] | None = None,
    *,
    frame: int = 0,
    window: Any = None,
) -> Figure:
    """Draw signed bounds, unsigned bounds and known bits of scalar registers, one panel each."""
    fig = new_figure(figsize=figure_size("tall"))
    axes = fig.subplots(3, 1, sharex=True)
    df = D.range_series(log, regs, frame=frame)
    busiest = list(dict.fromkeys(df["reg"])) if len(df) else []  # busiest first
    if regs is None and len(busiest) > RANGES_REGS:
        # more bands and bounds on top of each other are no longer readable on a slide
        df = df[df["reg"].isin(busiest[:RANGES_REGS])]
    for ax, kind in zip(axes, ("signed", "unsigned", "bits"), strict=True):
        plot_range(log, kind=kind, ax=ax, series=df, window=window)
        short_title(ax, fontsize="small")
    for ax in axes[:-1]:
        set_xlabel(ax, "")
    if regs is None and len(busiest) > RANGES_REGS:
        shown = ", ".join(f"R{r}" for r in sorted(busiest[:RANGES_REGS]))
        rest = ", ".join(f"R{r}" for r in sorted(busiest[RANGES_REGS:]))
        _note(axes[-1], f"{shown}: the busiest scalars; also {rest} (--regs)")
    _stack_notes(axes)
    legends_below_if_narrow(fig, axes)
    return fig


def _stack_notes(axes: Any) -> None:
    """Move the notes of stacked panels (shared x) to the bottom one, each once."""
    axes = list(axes)
    notes: list[str] = []
    for ax in axes:
        for n in getattr(ax, "_bpfkit_notes", []):
            if n not in notes:
                notes.append(n)
        ax._bpfkit_notes = []
        _relabel(ax)
    axes[-1]._bpfkit_notes = notes
    _relabel(axes[-1])


_END_COLORS = {
    "release": _O["bluish_green"],
    "transfer": _O["sky_blue"],
    "leak": _O["vermillion"],
    "path_end": "#999999",
    "open": _O["orange"],
}
_END_HATCHES = {
    "release": None,
    "transfer": "\\\\",
    "leak": "////",
    "path_end": "....",
    "open": "xx",
}


def rows_that_fit(ax: Axes, *, spacing: float = 1.25) -> int:
    """How many tick labels fit on the y axis of *ax* at the current tick label size."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    size = FontProperties(size=matplotlib.rcParams["ytick.labelsize"]).get_size_in_points()
    h_in = ax.get_position().height * ax.get_figure(root=True).get_figheight()  # type: ignore[union-attr]
    return max(1, int(h_in * 72 / (size * spacing)))


def plot_reference_lifetimes(
    log: Any,
    ax: Axes | None = None,
    *,
    lifetimes: pd.DataFrame | None = None,
    max_labels: int = 24,
    window: Any = None,
    max_rows: int = MAX_REF_ROWS,
) -> Axes:
    """Draw one bar per reference (ref_obj_id) per path from acquire to its end: released,
    transferred into a collection or map field (push, add, xchg), leaked, or the path's end.

    The y labels name each reference, its object and where it was acquired (instruction,
    C line). Above *max_rows* references (or more than the panel's height can label), the
    rows are allocation sites instead: every lifetime from one site is a thin bar in its row
    and the label counts them. Big logs show a window of steps (see :mod:`bpfkit.plot.window`).
    """
    df = lifetimes if lifetimes is not None else D.reference_lifetimes(log)
    own = ax is None
    ax = new_axes(ax, figsize=figure_size("single"))
    win = choose_window(log, window)
    if len(df) and not win.whole:
        df = df[(df["end_step"] >= win.start) & (df["start_step"] < win.stop)]
    if not len(df):
        ax.text(
            0.5,
            0.5,
            "no references held (no refs= in the log)"
            if win.whole
            else "no references held in this window",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
        ax.set_yticks([])
        _title(ax, "reference lifetimes", log)
        _window_note(ax, win)
        return ax
    df = df.copy()
    ends = D.reference_end_kinds(log, df)
    df["end_kind"] = ends
    objects = df.drop_duplicates("ref_obj_id").set_index("ref_obj_id")["object"]
    ids = sorted(df["ref_obj_id"].unique().tolist())
    fit = rows_that_fit(ax)
    by_site = len(ids) > min(max_rows, fit)
    if by_site:
        site = df["start_insn"].where(df["start_kind"] == "acquire")
        first_site = site.groupby(df["ref_obj_id"]).transform("first")
        df["row_key"] = first_site.fillna(-1).astype(int)
        keys = sorted(df["row_key"].unique().tolist())
        if len(keys) > fit:  # even the sites do not fit: the busiest ones, the rest merged
            top = df["row_key"].value_counts().index[: max(fit - 1, 1)].tolist()
            df["row_key"] = df["row_key"].where(df["row_key"].isin(top), -2)
            keys = sorted(df["row_key"].unique().tolist())
    else:
        df["row_key"] = df["ref_obj_id"]
        keys = ids
    row = {k: i for i, k in enumerate(keys)}
    y = df["row_key"].map(row).to_numpy()
    start = df["start_step"].to_numpy(dtype=float)
    end = df["end_step"].to_numpy(dtype=float) + 1
    height = 0.5 if not by_site else 0.7
    if not by_site:
        acq = (df["start_kind"] == "acquire").to_numpy()
        ax.scatter(
            start[acq],
            y[acq],
            marker=END_MARKERS["acquire"],
            color="black",
            s=_msize(0.6),
            zorder=3,
            label="acquire",
            clip_on=False,  # an acquire at step 0 sits on the left edge
        )
    for kind in ("release", "transfer", "leak"):
        sel = (df["end_kind"] == kind).to_numpy()
        if sel.any() and (not by_site or kind == "leak"):
            ax.scatter(
                end[sel],
                y[sel],
                marker=END_MARKERS.get(kind, "D"),
                color="black",
                s=_msize(0.8),
                zorder=3,
                label=kind,
                clip_on=False,  # a leak at the last step sits on the axes' right edge
            )
    for kind in ("release", "transfer", "leak", "path_end", "open"):  # under the marks,
        sel = (df["end_kind"] == kind).to_numpy()  # after them in the legend
        if sel.any():
            _bars(
                ax,
                start[sel],
                end[sel],
                y[sel] - height / 2,
                y[sel] + height / 2,
                color=_END_COLORS[kind],
                hatch=_END_HATCHES[kind] if not by_site else None,
                edgecolor="#333333" if not by_site else _END_COLORS[kind],
                linewidth=0.4 if not by_site else 0.0,
                alpha=1.0 if not by_site else 0.55,
                label=f"ends: {kind.replace('_', ' ')}",
            )
    src = D.src_lines(log)
    calls = D.call_names(log) if by_site else {}
    labels = []
    for k in keys:
        if by_site:
            n = int(df.loc[df["row_key"] == k, "ref_obj_id"].nunique())
            if k == -2:
                labels.append(f"other sites ({n:,} refs)")
            elif k == -1:
                labels.append(f"inherited ({n:,} refs)")
            else:
                call = calls.get(k, "").removesuffix("_impl")
                where = _where(k, src.get(k))
                where = f"{call} @{where.removeprefix('insn ')}" if call else where
                labels.append(f"{where} ({n:,} ref{'s' if n != 1 else ''})")
        else:
            obj = objects.get(k, "")
            sub = df[df["ref_obj_id"] == k]
            acq_rows = sub[sub["start_kind"] == "acquire"]
            where = (
                f" @{_where(acq_rows['start_insn'].iloc[0], acq_rows['start_src_line'].iloc[0])}"
                if len(acq_rows)
                else ""
            )
            labels.append(f"id={k}" + (f" {obj}" if obj else "") + where)
    ax.set_yticks(range(len(keys)), labels)
    if by_site:
        _note(ax, f"{len(ids):,} references: one row per allocation site")
    ax.set_ylim(len(keys) - 0.5, -0.7)
    ax.set_xlim(win.start, max(win.stop, win.start + 1))
    set_xlabel(ax, "step")
    side_legend(ax, own)
    _title(ax, "reference lifetimes", log)
    _window_note(ax, win)
    return ax


def _where(insn: Any, line: Any) -> str:
    try:
        has_line = (
            line is not None
            and not (isinstance(line, float) and math.isnan(line))
            and str(line) != "<NA>"
        )
    except TypeError:  # pragma: no cover
        has_line = False
    return f"insn {insn}" + (f" · L{line}" if has_line else "")


def plot_reference_counts(
    log: Any, ax: Axes | None = None, *, max_points: int = MAX_COLUMNS, window: Any = None
) -> Axes:
    """Draw the number of references held (``refs=``) after every step."""
    df = D.reference_counts(log)
    win = choose_window(log, window)
    if not win.whole:
        df = df[(df["step"] >= win.start) & (df["step"] < win.stop)]
    ax = new_axes(ax, figsize=figure_size("single"))
    x = df["step"].to_numpy(dtype=float)
    y = df["refs"].to_numpy(dtype=float)
    width = 1
    if len(x) > max_points:
        width = -(-len(x) // max_points)
        nb = -(-len(x) // width)
        y = np.pad(y, (0, nb * width - len(y)), constant_values=0).reshape(nb, width).max(axis=1)
        x = x[0] + np.arange(nb, dtype=float) * width
    x = np.append(x, x[-1] + width if len(x) else 0.0)
    y = np.append(y, y[-1] if len(y) else 0.0)
    ax.step(x, y, where="post", color=_O["blue"], label="refs held")
    ax.fill_between(x, 0, y, step="post", color=_O["blue"], alpha=0.2, hatch="///", linewidth=0)
    _mark_failure(ax, log, float(win.total) if len(df) and win.stop >= win.total else None)
    ax.set_xlim(win.start, max(win.stop, win.start + 1))
    ax.set_ylabel("refs held")
    set_xlabel(ax, "step")
    ax.set_ylim(0, max(1.0, float(y.max()) if len(y) else 1.0) + 0.5)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _title(ax, "references held (refs=)", log)
    _window_note(ax, win)
    if width > 1:
        _note(ax, f"binned: 1 point = {width} steps (max)")
    return ax


def plot_non_owning(log: Any, ax: Axes | None = None, *, window: Any = None) -> Axes:
    """Draw where registers hold non-owning references (into a list or rbtree), by register."""
    df = D.non_owning_refs(log)
    win = choose_window(log, window)
    if len(df) and not win.whole:
        df = df[(df["end_step"] >= win.start) & (df["start_step"] < win.stop)]
    ax = new_axes(ax, figsize=figure_size("single"))
    ts = TYPE_STYLES["non_own_ref"]
    if not len(df):
        ax.text(
            0.5,
            0.5,
            "no non-owning references",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize="small",
        )
        ax.set_yticks([])
    else:
        lanes = sorted(df["lane"].unique().tolist(), key=lambda s: (s.count("."), s))
        row = {lane: i for i, lane in enumerate(lanes)}
        y = df["lane"].map(row).to_numpy()
        start = df["start_step"].to_numpy(dtype=float)
        _bars(
            ax,
            start,
            df["end_step"].to_numpy(dtype=float) + 1,
            y - 0.25,
            y + 0.25,
            color=ts.color,
            hatch=ts.hatch,
            edgecolor="#333333",
            linewidth=0.4,
            label="non-owning ref",
        )
        labels = []
        for lane in lanes:
            t = df.loc[df["lane"] == lane, "btf_type"].dropna()
            labels.append(f"{lane} ({t.iloc[0]})" if len(t) else lane)
        ax.set_yticks(range(len(lanes)), labels)
        ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_xlim(win.start, max(win.stop, win.start + 1))
    set_xlabel(ax, "step")
    _title(ax, "non-owning references", log)
    _window_note(ax, win)
    return ax


def has_references(log: Any, win: Any) -> bool:
    """Whether *log* holds a reference (``refs=``) in window *win*."""
    life = D.reference_lifetimes(log)
    if len(life) and not win.whole:
        life = life[(life["end_step"] >= win.start) & (life["start_step"] < win.stop)]
    return bool(len(life))


def has_non_owning(log: Any, win: Any) -> bool:
    """Whether a register of *log* holds a non-owning reference in window *win*."""
    df = D.non_owning_refs(log)
    if len(df) and not win.whole:
        df = df[(df["end_step"] >= win.start) & (df["start_step"] < win.stop)]
    return bool(len(df))


def plot_references(log: Any, *, window: Any = None) -> Figure:
    """Draw reference lifetimes, the ``refs=`` count and non-owning references, stacked;
    a panel with nothing to show is left out (no reference held: no lifetimes and count; no
    non-owning reference: no panel of them)."""
    win = choose_window(log, window)
    refs, non_owning = has_references(log, win), has_non_owning(log, win)
    ratios = ((3.0, 1.2) if refs else ()) + ((1.2,) if non_owning else ())
    if not ratios:
        from bpfkit.plot.output import NothingToDraw

        raise NothingToDraw(f"{getattr(log, 'name', None) or 'program'}: no reference held")
    fig = new_figure(figsize=figure_size("tall") if len(ratios) > 1 else figure_size("single"))
    axes = list(np.atleast_1d(fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios)))
    todo = list(axes)
    if refs:
        plot_reference_lifetimes(log, ax=todo.pop(0), window=window)
        plot_reference_counts(log, ax=todo.pop(0), window=window)
    if non_owning:
        plot_non_owning(log, ax=todo.pop(0), window=window)
    for ax in axes[:-1]:
        set_xlabel(ax, "")
    _stack_notes(axes)
    legends_below_if_narrow(fig, axes)
    for ax in axes[1:]:
        short_title(ax, fontsize="small")
    return fig


def plot_visits(log: Any, ax: Axes | None = None, *, max_labels: int = 30) -> Axes:
    """Draw visits per instruction as a heat strip over the instruction index, with the C
    source line where each new line starts, and the failing instruction marked."""
    vc = D.visit_counts(log)
    ax = new_axes(ax, figsize=figure_size("wide"))
    if not len(vc):
        ax.text(
            0.5, 0.5, "no instructions in the log", transform=ax.transAxes, ha="center", va="center"
        )
        return ax
    hi = int(vc["insn_idx"].max()) + 1
    strip = np.full(hi, np.nan)
    strip[vc["insn_idx"].to_numpy()] = vc["visits"].to_numpy(dtype=float)
    strip[strip == 0] = np.nan
    vmax = max(2.0, float(np.nanmax(strip)) if np.isfinite(strip).any() else 2.0)
    im = ax.imshow(
        strip[None, :],
        aspect="auto",
        cmap="cividis",
        norm=count_norm(vmax),
        interpolation="nearest",
        extent=(-0.5, hi - 0.5, 0, 1),
    )
    _count_colorbar(ax, im, "visits")
    # Unvisited instructions the log shows: hatched.
    unvisited = vc.loc[vc["visits"] == 0, "insn_idx"].to_numpy()
    if len(unvisited):
        _bars(
            ax,
            unvisited - 0.5,
            unvisited + 0.5,
            0,
            1,
            color="white",
            hatch="////",
            edgecolor="#999999",
            linewidth=0,
        )
        _note(ax, "hatched: never visited")
    err = getattr(log, "error_insn", None)
    what = "visits per instruction"
    if err is not None and getattr(log, "verdict", None) == "reject":
        ax.axvline(err, color=_O["vermillion"], linewidth=2.0, linestyle=(0, (4, 2)))
        what += f" (error at insn {err}: dashed line)"
    src = vc.dropna(subset=["src_line"])
    if len(src):
        first = src[src["src_line"].ne(src["src_line"].shift())]
        if len(first) > max_labels:
            first = first.iloc[:: -(-len(first) // max_labels)]
        ax.set_xticks(
            first["insn_idx"].to_numpy(),
            [f"L{int(s)}" for s in first["src_line"]],
            rotation=90,
            fontsize="x-small",
        )
        top = ax.secondary_xaxis("top")
        top.set_xlabel("instruction index", fontsize="small")
        set_xlabel(ax, "C source line where it starts")
    else:
        set_xlabel(ax, "instruction index")
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.grid(False)
    _title(ax, what, log)
    return ax


def plot_effort_series(log: Any, ax: Axes | None = None, *, max_points: int = MAX_COLUMNS) -> Axes:
    """Draw, over steps, the explored paths, prunes (``safe``) and full states printed so far."""
    import matplotlib

    df = D.effort_series(log)
    ax = new_axes(ax, figsize=figure_size("single"))
    x = df["step"].to_numpy(dtype=float)
    every = max(1, len(x) // max_points)
    for col, label, marker in (
        ("paths", "paths explored", "o"),
        ("prunes", "prunes (safe)", "s"),
        ("states", "full states printed", "^"),
    ):
        y = df[col].to_numpy(dtype=float)
        ax.step(
            x[::every],
            y[::every],
            where="post",
            marker=marker,
            markevery=max(1, len(x[::every]) // 12),
            label=label,
        )
    stats = getattr(log, "stats", None)
    extra = []
    if stats is not None:
        for name in ("total_states", "peak_states", "insns_processed"):
            v = getattr(stats, name, None)
            if v is not None:
                extra.append(f"{name}={v:,}")
    set_xlabel(ax, "step")
    ax.set_ylabel("count so far")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.25 of a path
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0,
        title=("kernel:\n" + "\n".join(extra)) if extra else None,
        title_fontsize=matplotlib.rcParams["legend.fontsize"],
        alignment="left",
    )
    _title(ax, "verifier effort", log)
    if every > 1:
        _note(ax, f"1 point per {every} steps")
    return ax


def plot_path_tree(log: Any, ax: Axes | None = None, *, max_labels: int = 40) -> Axes:
    """Draw the explored paths as a tree over steps: each path a bar from its first to last
    step, joined to the step of its parent that pushed it (dotted while it waited)."""
    from matplotlib.collections import LineCollection

    g = D.path_tree(log)
    own = ax is None
    ax = new_axes(ax, figsize=figure_size("single"))
    nodes = sorted(g.nodes)
    if not nodes:
        ax.text(0.5, 0.5, "no steps in the log", transform=ax.transAxes, ha="center", va="center")
        return ax
    y = {p: i for i, p in enumerate(nodes)}
    explored = []
    waiting = []
    links = []
    for p in nodes:
        d = g.nodes[p]
        explored.append([(d["start_step"], y[p]), (d["end_step"] + 1, y[p])])
        for parent in g.predecessors(p):
            b = d["branch_step"]
            links.append([(b, y[parent]), (b, y[p])])
            waiting.append([(b, y[p]), (d["start_step"], y[p])])
    many = len(nodes) > 300
    if not many:
        ax.add_collection(
            LineCollection(
                waiting,
                colors="#888888",
                linewidths=0.6,
                linestyles="dotted",
                label="waiting on the stack",
            )
        )
        ax.add_collection(LineCollection(links, colors="#888888", linewidths=0.6))
    else:
        _note(ax, f"{len(nodes):,} paths:\nno links to parents")
    ax.add_collection(
        LineCollection(
            explored,
            colors=_O["blue"],
            linewidths=2.5 if len(nodes) < 100 else 1.0,
            label="explored",
        )
    )
    ends: dict[str, list[tuple[float, float]]] = {}
    for p in nodes:
        d = g.nodes[p]
        ends.setdefault(d["end"], []).append((d["end_step"] + 1, y[p]))
    end_style = {
        "exit": ("|", "black"),
        "prune": ("o", _O["bluish_green"]),
        "error": ("X", _O["vermillion"]),
        "other": (">", "#666666"),
    }
    for kind, pts in sorted(ends.items()):
        m, c = end_style.get(kind, (">", "#666666"))
        arr = np.array(pts)
        if many and kind == "prune" and len(arr) > 300:
            arr = arr[:: -(-len(arr) // 300)]  # a mark for every k-th pruned path is enough
        ax.scatter(
            arr[:, 0], arr[:, 1], marker=m, color=c, s=_msize(0.8), zorder=3, label=f"ends: {kind}"
        )
    if len(nodes) <= max_labels:
        labels = []
        for p in nodes:
            d = g.nodes[p]
            labels.append(
                f"{d['from_insn']}→{d['to_insn']}" if d["from_insn"] is not None else "start"
            )
        ax.set_yticks(range(len(nodes)), labels)
    else:
        ax.set_ylabel("path #")
    ax.set_ylim(len(nodes) - 0.5, -0.7)
    ax.set_xlim(0, max(len(log.steps), 1) + 1)
    set_xlabel(ax, "step")
    side_legend(ax, own)
    _title(ax, f"explored paths ({len(nodes)})", log)
    return ax


def plot_effort(log: Any) -> Figure:
    """Draw where the verifier spends its effort: visits heat strip, counts over steps and
    the explored-paths tree."""
    fig = new_figure(figsize=figure_size("page") if figure_size()[0] < 6 else figure_size())
    axes = fig.subplots(3, 1, height_ratios=(1, 2, 3))
    plot_visits(log, ax=axes[0])
    plot_effort_series(log, ax=axes[1])
    plot_path_tree(log, ax=axes[2])
    for ax in axes[1:]:
        short_title(ax, fontsize="small")
    return fig
