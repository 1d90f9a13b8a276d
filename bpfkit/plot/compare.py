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


_SUMMARY_RC: dict[Any, float] = {
    "axes.titlesize": 9.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 6.5,
    "font.size": 8.0,
    "lines.markersize": 3.0,
    "lines.linewidth": 1.2,
}


def plot_summary(log: Any) -> Figure:
    """Draw a one-page summary of one program: verdict and stats, register lanes,
    reference lifetimes and count, visits heat strip, effort over steps, explored paths and
    the control-flow graph (type sizes capped so that seven panels fit on a page)."""
    import matplotlib

    rc: dict[Any, Any] = {k: min(float(matplotlib.rcParams[k]), v) for k, v in _SUMMARY_RC.items()}
    size = (16.0, 10.0) if F.figure_size()[0] >= 6 else F.figure_size("page")
    with matplotlib.rc_context(rc):
        # A fixed grid: constrained layout gives up on seven panels with outside legends.
        fig = new_figure(figsize=size, layout="none")
        _summary(fig, log)
    return fig


def _summary(fig: Figure, log: Any) -> None:
    grid = fig.add_gridspec(
        6,
        3,
        height_ratios=(0.45, 3, 1.7, 0.8, 0.8, 1.8),
        width_ratios=(1, 1, 0.75),
        left=0.09,
        right=0.93,
        top=0.97,
        bottom=0.05,
        hspace=0.75,
        wspace=0.45,
    )
    head = fig.add_subplot(grid[0, :])
    head.set_axis_off()
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
    head.text(
        0,
        1,
        _label(log, "program"),
        fontsize=12,
        fontweight="bold",
        va="top",
        transform=head.transAxes,
    )
    head.text(0, 0.5, "   ".join(parts), va="top", transform=head.transAxes)
    if log.error:
        err = str(log.error).replace("\n", " | ")
        if len(err) > 160:
            err = err[:157] + "..."
        head.text(
            0,
            0.05,
            f"error at insn {log.error_insn}: {err}",
            color=_O["vermillion"],
            va="top",
            transform=head.transAxes,
        )
    lanes_ax = fig.add_subplot(grid[1, :2])
    F.plot_register_lanes(log, ax=lanes_ax)
    refs_ax = fig.add_subplot(grid[2, :2], sharex=lanes_ax)
    F.plot_reference_lifetimes(log, ax=refs_ax, max_labels=12)
    count_ax = fig.add_subplot(grid[3, :2], sharex=lanes_ax)
    F.plot_reference_counts(log, ax=count_ax)
    F.plot_visits(log, ax=fig.add_subplot(grid[4, :2]), max_labels=20)
    F.plot_effort_series(log, ax=fig.add_subplot(grid[5, 0]))
    F.plot_path_tree(log, ax=fig.add_subplot(grid[5, 1]), max_labels=12)
    plot_cfg(log, ax=fig.add_subplot(grid[1:, 2]), max_labels=30)
    for ax in (lanes_ax, refs_ax):
        ax.set_xlabel("")
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        # Inside the panel (or under the lanes): the page has no room beside them.
        where: dict[str, Any] = {"loc": "upper right"}
        if ax is lanes_ax:
            where = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.08), "ncols": 6}
        ax.legend(
            handles=list(leg.legend_handles),
            labels=[t.get_text() for t in leg.get_texts()],
            fontsize=5.5,
            framealpha=0.8,
            frameon=True,
            **where,
        )
    for ax in fig.axes:
        if ax is head:
            continue
        left = ax.get_title(loc="left").split(" — ")[0]
        if left:
            ax.set_title(left, loc="left")
        center = ax.get_title()
        if center:
            ax.set_title(center.split(" of ")[0].split(":")[0])
