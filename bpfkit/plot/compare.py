"""Two logs side by side (two kernels, two builds of one program) and the one-page summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bpfkit.plot import data as D
from bpfkit.plot import figures as F
from bpfkit.plot.cfg import plot_cfg
from bpfkit.plot.palette import OKABE_ITO
from bpfkit.plot.style import new_axes, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_visit_difference", "plot_stats_table", "plot_compare", "plot_summary"]

_O = OKABE_ITO


def _label(log: Any, default: str) -> str:
    return str(getattr(log, "name", None) or default)


def plot_visit_difference(
    a: Any,
    b: Any,
    ax: Axes | None = None,
    *,
    labels: tuple[str, str] | None = None,
    by: str = "auto",
) -> Axes:
    """Draw visits of *b* minus *a* (bars up: *b* visits more; hatched down: fewer) per
    instruction (``by="insn"``) or per C source line (``by="line"``, for two builds whose
    instruction indices differ); ``"auto"`` compares by line when the two logs show different
    instructions and both have line info."""
    la, lb = labels or (_label(a, "A"), _label(b, "B"))
    by_insn = D.compare_logs(a, b)
    same_code = (by_insn["asm_a"].fillna("") == by_insn["asm_b"].fillna("")).all()
    if by == "auto":
        has_lines = by_insn["src_line"].notna().any()
        by = "line" if not same_code and has_lines else "insn"
    ax = new_axes(ax, figsize=F.figure_size("wide"))
    if by == "line":
        df = D.compare_lines(a, b)
        df = df[df["src_line"] >= 0].reset_index(drop=True)
        x = np.arange(len(df))
        xlabel = "C source line"
    else:
        df = by_insn
        x = df["insn_idx"].to_numpy()
        xlabel = "instruction index"
    d = df["diff"].to_numpy()
    more = d > 0
    less = d < 0
    ax.bar(x[more], d[more], width=0.9, color=_O["orange"], label=f"more in {lb}")
    ax.bar(
        x[less],
        d[less],
        width=0.9,
        color=_O["sky_blue"],
        hatch="///",
        edgecolor="#333333",
        linewidth=0,
        label=f"more in {la}",
    )
    ax.axhline(0, color="black", linewidth=0.6)
    if len(d) and np.abs(d).max() > 1000:
        ax.set_yscale("symlog", linthresh=10)
    if by == "line" and len(df):
        step = max(1, -(-len(df) // 30))
        ticks = x[::step]
        ax.set_xticks(
            ticks,
            [f"L{int(v)}" for v in df["src_line"].to_numpy()[::step]],
            rotation=90,
            fontsize="x-small",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"visits {lb} − {la}")
    if not more.any() and not less.any():
        ax.text(
            0.5, 0.5, "same visits everywhere", transform=ax.transAxes, ha="center", va="center"
        )
    ax.legend(loc="upper left", fontsize="x-small")
    ax.set_title(
        f"visits per {'C line' if by == 'line' else 'instruction'}: {lb} vs {la}", loc="left"
    )
    if not same_code and by == "insn":
        F._note(ax, "the logs differ in some instructions")
    return ax


def plot_stats_table(
    a: Any, b: Any, ax: Axes | None = None, *, labels: tuple[str, str] | None = None
) -> Axes:
    """Draw a ``veristat -C``-like table of the verdicts and kernel stats of two logs."""
    la, lb = labels or (_label(a, "A"), _label(b, "B"))
    df = D.compare_stats(a, b)
    ax = new_axes(ax, figsize=F.figure_size("single"))
    ax.set_axis_off()

    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "—"
        if isinstance(v, float):
            return f"{v:+.1f}%"
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        return str(v)

    cells = [
        [str(r.metric), fmt(r.a), fmt(r.b), fmt(r.diff) if r.diff is not None else "—", fmt(r.pct)]
        for r in df.itertuples(index=False)
    ]
    table = ax.table(
        cellText=cells,
        colLabels=["metric", f"{la} (A)", f"{lb} (B)", "B − A", "%"],
        loc="center",
        cellLoc="right",
        colLoc="right",
    )
    table.auto_set_font_size(False)
    import matplotlib

    table.set_fontsize(float(matplotlib.rcParams["font.size"]) * 0.7)
    table.scale(1.0, 1.3)
    ax.set_title("stats (as veristat -C)", loc="left")
    return ax


def plot_compare(a: Any, b: Any, *, labels: tuple[str, str] | None = None) -> Figure:
    """Draw two logs side by side: per-instruction visit differences and the stats table."""
    fig = new_figure(figsize=F.figure_size("page") if F.figure_size()[0] < 6 else F.figure_size())
    axes = fig.subplots(2, 1, height_ratios=(3, 2))
    plot_visit_difference(a, b, ax=axes[0], labels=labels)
    plot_stats_table(a, b, ax=axes[1], labels=labels)
    return fig


#: Type sizes of the one-page summary (points): slides (16:9) and a paper page.
_SUMMARY_RC: dict[str, dict[Any, float]] = {
    "talk": {
        "axes.titlesize": 12.0,
        "axes.labelsize": 10.5,
        "xtick.labelsize": 9.5,
        "ytick.labelsize": 9.5,
        "legend.fontsize": 9.0,
        "font.size": 10.5,
        "lines.markersize": 4.0,
        "lines.linewidth": 1.5,
    },
    "paper": {
        "axes.titlesize": 7.5,
        "axes.labelsize": 7.0,
        "xtick.labelsize": 6.5,
        "ytick.labelsize": 6.5,
        "legend.fontsize": 6.5,
        "font.size": 7.0,
        "lines.markersize": 2.5,
        "lines.linewidth": 1.0,
    },
}


def plot_summary(log: Any, *, window: Any = None) -> Figure:
    """Draw a one-page summary of one program: verdict and stats, register lanes,
    reference lifetimes and count, visits heat strip, effort over steps, explored paths and
    the control-flow graph; a slide (16:9) in the talk style, a page in the paper style.
    Big logs show a window of steps (see :mod:`bpfkit.plot.window`)."""
    import matplotlib

    slides = F.figure_size()[0] >= 6
    kind = "talk" if slides else "paper"
    size = (16.0, 9.0) if slides else F.figure_size("page")
    with matplotlib.rc_context(_SUMMARY_RC[kind]):
        fig = new_figure(figsize=size, layout="constrained")
        _summary(fig, log, window=window, slides=slides)
    return fig


def _header_lines(log: Any, width_in: float, size_pt: float) -> list[tuple[str, dict[str, Any]]]:
    import textwrap

    stats = getattr(log, "stats", None)
    parts = [f"verdict: {log.verdict}"]
    if stats is not None:
        for name in ("insns_processed", "total_states", "peak_states", "verification_time_usec"):
            v = getattr(stats, name, None)
            if v is not None:
                parts.append(f"{name}={v:,}")
    parts.append(f"steps in log: {len(log.steps):,}")
    if getattr(log, "truncated", False):
        parts.append("log truncated")
    chars = max(30, int(width_in * 72 / (0.62 * size_pt)))
    lines: list[tuple[str, dict[str, Any]]] = [
        (_label(log, "program"), {"fontweight": "bold", "fontsize": size_pt * 1.35})
    ]
    cur = ""
    for part in parts:  # wrap between the parts, never inside one
        if cur and len(cur) + 3 + len(part) > chars:
            lines.append((cur, {}))
            cur = part
        else:
            cur = f"{cur}   {part}" if cur else part
    if cur:
        lines.append((cur, {}))
    if log.error:
        err = " | ".join(x.strip() for x in str(log.error).splitlines() if x.strip())
        wrapped = textwrap.wrap(f"error at insn {log.error_insn}: {err}", chars)
        if len(wrapped) > 2:
            wrapped = wrapped[:2]
            wrapped[1] = wrapped[1][: max(0, chars - 3)] + "..."
        for ln in wrapped:
            lines.append((ln, {"color": _O["vermillion"]}))
    return lines


def _below_ticks() -> float:
    """Inches from an x axis to below its tick labels, in the current style."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    rc = matplotlib.rcParams
    size = FontProperties(size=rc["xtick.labelsize"]).get_size_in_points()
    return float(rc["xtick.major.size"] + rc["xtick.major.pad"] + 1.3 * size) / 72.0


def _wrap_row_labels(ax: Axes) -> None:
    """Put where each reference was acquired (``@insn 5 · L58``) on a line of its own under
    its name when the rows have room for two lines: the longest row label sets the left
    margin of every panel of the column."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    if not any(" @" in x for x in labels) or F.rows_that_fit(ax, spacing=2.6) < len(labels):
        return
    ax.set_yticks(ax.get_yticks(), [x.replace(" @", "\n@", 1) for x in labels])


def _summary(fig: Figure, log: Any, *, window: Any, slides: bool) -> None:
    import matplotlib
    from matplotlib.transforms import ScaledTranslation

    size_pt = float(matplotlib.rcParams["font.size"])
    w_in, h_in = fig.get_size_inches()
    lines = _header_lines(log, w_in - 0.4, size_pt)
    heights = [size_pt * (1.35 if i == 0 else 1.0) * 1.3 for i in range(len(lines))]
    head_h = (sum(heights) + size_pt) / 72.0
    subs: Any = fig.subfigures(2, 1, height_ratios=(head_h, h_in - head_h))
    head, body = subs
    y = 0.0
    for (text, kw), hh in zip(lines, heights, strict=True):
        y += hh
        off = ScaledTranslation(0.15, -(y - hh * 0.1) / 72.0, fig.dpi_scale_trans)
        head.text(0, 1, text, va="baseline", ha="left", transform=head.transSubfigure + off, **kw)
    cols: Any = body.subfigures(1, 2, width_ratios=(3.0, 1.0) if slides else (2.6, 1.0))
    left, right = cols
    from bpfkit.plot.window import choose_window

    # no reference held: no panels of references (the lanes and the rest get their room)
    refs = F.has_references(log, choose_window(log, window))
    ratios: tuple[float, ...]
    if slides:
        ratios = (3.2, 1.7, 0.8, 0.8, 1.6) if refs else (3.6, 0.9, 2.0)
        grid = left.add_gridspec(len(ratios), 2, height_ratios=ratios)
        effort_at, paths_at = grid[-1, 0], grid[-1, 1]
    else:  # a page column is too narrow for two panels with their legends side by side
        ratios = (2.4, 1.6, 0.8, 0.8, 1.2, 1.3) if refs else (2.8, 0.9, 1.5, 1.6)
        grid = left.add_gridspec(len(ratios), 2, height_ratios=ratios)
        effort_at, paths_at = grid[-2, :], grid[-1, :]
    lanes_ax = left.add_subplot(grid[0, :])
    F.plot_register_lanes(log, ax=lanes_ax, window=window)
    # every lane keeps its label: one size down where eleven lanes share a short panel
    lanes_ax.tick_params(axis="y", labelsize=0.85 * float(matplotlib.rcParams["ytick.labelsize"]))
    stacked = [lanes_ax]
    if refs:
        refs_ax = left.add_subplot(grid[1, :], sharex=lanes_ax)
        F.plot_reference_lifetimes(log, ax=refs_ax, window=window)
        _wrap_row_labels(refs_ax)
        count_ax = left.add_subplot(grid[2, :], sharex=lanes_ax)
        F.plot_reference_counts(log, ax=count_ax, window=window)
        stacked += [refs_ax, count_ax]
    F.plot_visits(log, ax=left.add_subplot(grid[3 if refs else 1, :]),
                  max_labels=20 if slides else 12)  # fmt: skip
    effort_ax = left.add_subplot(effort_at)
    F.plot_effort_series(log, ax=effort_ax)
    leg = effort_ax.get_legend()
    if leg is not None:  # the kernel's figures are in the header already
        leg.set_title("")
    F.plot_path_tree(log, ax=left.add_subplot(paths_at), max_labels=12 if slides else 8)
    plot_cfg(log, ax=right.add_subplot(), max_labels=30 if slides else 16)
    for ax in stacked[:-1]:
        F.set_xlabel(ax, "")
    F._stack_notes(stacked)
    notes: list[str] = []
    if not refs:  # the legend goes where the x label was: the notes head the legend
        notes = list(getattr(lanes_ax, "_bpfkit_notes", []))
        lanes_ax._bpfkit_notes = []  # type: ignore[attr-defined]
        F.set_xlabel(lanes_ax, "")
    leg = lanes_ax.get_legend()
    if leg is not None:  # under the lanes, several columns: the page has no room beside them
        lanes_ax.legend(
            handles=list(leg.legend_handles),
            labels=[t.get_text() for t in leg.get_texts()],
            loc="upper center",
            # under the tick labels of the steps, not over them
            bbox_to_anchor=(0.5, 0.0),
            bbox_transform=lanes_ax.transAxes
            + ScaledTranslation(0, -_below_ticks(), fig.dpi_scale_trans),
            ncols=6 if slides else 3,
            borderaxespad=0,
            title="\n".join(f"[{n}]" for n in notes) or None,
            title_fontsize=matplotlib.rcParams["legend.fontsize"],
        )
    elif notes:
        F.set_xlabel(lanes_ax, "")
        for n in notes:
            F._note(lanes_ax, n)
    for sub in (left, right):
        for ax in sub.axes:
            F.short_title(ax)
            center = ax.get_title()
            if center:  # "control flow of NAME: 8 blocks" -> "control flow (8 blocks)"
                head, _, tail = center.partition(": ")
                ax.set_title(head.split(" of ")[0] + (f" ({tail})" if tail else ""))
