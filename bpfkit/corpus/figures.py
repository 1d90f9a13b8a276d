"""Figures of a corpus comparison (the data of each first, tested on its own).

:func:`scatter_data` / :func:`plot_scatter`: a stat of every program in A against B on log
axes, verdict changes marked; :func:`change_distribution` / :func:`plot_change_distribution`:
how many programs changed by how much; :func:`top_regressions` /
:func:`plot_top_regressions`: the programs that grew most; :func:`most_changed` and
:func:`plot_state_evolution`: the state-evolution comparison of one program
(:func:`bpfkit.plot.compare.plot_compare`, visits per instruction and the stats table) for the
programs that changed most. :func:`write_compare_figures` writes them all.

Drawing goes through :mod:`bpfkit.plot` (styles, deterministic SVG/PDF, no pyplot state).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# matplotlib is bpfkit.plot's alone (tests/test_package.py): its types are named, not imported
Axes = Any
Figure = Any

__all__ = [
    "scatter_data",
    "change_distribution",
    "top_regressions",
    "most_changed",
    "plot_scatter",
    "plot_change_distribution",
    "plot_top_regressions",
    "plot_state_evolution",
    "write_compare_figures",
    "CHANGE_BINS",
]

#: Bin edges (percent) of the change distribution: symmetric, wider far from zero.
CHANGE_BINS: tuple[float, ...] = (
    -100,
    -50,
    -25,
    -10,
    -5,
    -1,
    -1e-9,
    1e-9,
    1,
    5,
    10,
    25,
    50,
    100,
    200,
    float("inf"),
)


def _both(cmp: pd.DataFrame, stat: str) -> pd.DataFrame:
    df = cmp[cmp["side"] == "both"]
    return df[df[f"{stat}_a"].notna() & df[f"{stat}_b"].notna()]


def scatter_data(cmp: pd.DataFrame, stat: str = "insns_processed") -> pd.DataFrame:
    """[object, program, a, b, category] for the programs of both runs with the stat on both
    sides; ``category`` is ``same accept``, ``same reject``, ``verdict changed`` or ``other``.
    Values below 1 are raised to 1 for the log axes (``clipped`` says which)."""
    import numpy as np
    import pandas as pd

    df = _both(cmp, stat)
    a = df[f"{stat}_a"].astype("float64").to_numpy()
    b = df[f"{stat}_b"].astype("float64").to_numpy()
    cat = np.where(
        df["verdict_changed"].to_numpy(dtype=bool),
        "verdict changed",
        np.where(
            (df["verdict_a"] == "accept").to_numpy(dtype=bool),
            "same accept",
            np.where((df["verdict_a"] == "reject").to_numpy(dtype=bool), "same reject", "other"),
        ),
    )
    return pd.DataFrame(
        {
            "object": df["object"].to_numpy(),
            "program": df["program"].to_numpy(),
            "a": np.maximum(a, 1.0),
            "b": np.maximum(b, 1.0),
            "clipped": (a < 1) | (b < 1),
            "category": cat,
        }
    )


def change_distribution(cmp: pd.DataFrame, stat: str = "insns_processed") -> pd.DataFrame:
    """Programs per bin of percent change of *stat* (:data:`CHANGE_BINS`): [bin, low, high,
    programs]; ``0`` is its own bin (no change), and A = 0 < B goes to the last bin."""
    import numpy as np
    import pandas as pd

    df = _both(cmp, stat)
    a = df[f"{stat}_a"].astype("float64").to_numpy()
    b = df[f"{stat}_b"].astype("float64").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(a == 0, np.where(b == 0, 0.0, np.inf), 100.0 * (b - a) / a)
    edges = np.array(CHANGE_BINS)
    idx = np.clip(np.searchsorted(edges, pct, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(idx, minlength=len(edges) - 1)
    labels = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if lo == -1e-9:
            labels.append("0")
        elif hi == float("inf"):
            labels.append(f"≥ +{lo:g}%")
        elif hi == -1e-9:
            labels.append(f"{lo:g}…0%")
        elif lo == 1e-9:
            labels.append(f"0…+{hi:g}%")
        else:
            labels.append(f"{lo:+g}…{hi:+g}%")
    return pd.DataFrame({"bin": labels, "low": edges[:-1], "high": edges[1:], "programs": counts})


def top_regressions(
    cmp: pd.DataFrame, stat: str = "insns_processed", n: int = 15, *, improvements: bool = False
) -> pd.DataFrame:
    """The *n* programs whose *stat* grew most from A to B (largest ``_diff`` > 0), with
    their ``_a``, ``_b``, ``_diff``, ``_pct``; verdict changes to ``reject`` first.
    ``improvements=True`` gives the largest decreases instead (verdict changes to
    ``accept`` first)."""
    df = _both(cmp, stat)
    df = df[df[f"{stat}_diff"] < 0] if improvements else df[df[f"{stat}_diff"] > 0]
    worse = "accept" if improvements else "reject"
    df = df.assign(
        _first=(df["verdict_changed"] & (df["verdict_b"] == worse)),
        _size=df[f"{stat}_diff"].abs(),
    )
    df = df.sort_values(["_first", "_size"], ascending=[False, False], kind="stable")
    cols = [
        "object",
        "program",
        "verdict_a",
        "verdict_b",
        *(f"{stat}_{s}" for s in ("a", "b", "diff", "pct")),
    ]
    return df[cols].head(n).reset_index(drop=True)


def most_changed(cmp: pd.DataFrame, stat: str = "insns_processed", n: int = 3) -> pd.DataFrame:
    """The *n* programs of both runs that changed most: verdict changes first, then by
    ``|<stat>_pct|`` (``|<stat>_diff|`` to break ties)."""
    df = _both(cmp, stat)
    df = df.assign(
        _p=df[f"{stat}_pct"]
        .astype("Float64")
        .abs()
        .fillna(float("inf"))
        .where(df[f"{stat}_diff"] != 0, 0.0),
        _d=df[f"{stat}_diff"].astype("Float64").abs(),
    )
    df = df.sort_values(["verdict_changed", "_p", "_d"], ascending=False, kind="stable")
    df = df[(df["verdict_changed"]) | (df["_d"] > 0)]
    return df.drop(columns=["_p", "_d"]).head(n).reset_index(drop=True)


_MARKERS = {
    "same accept": ("o", "bluish_green"),
    "same reject": ("x", "blue"),
    "verdict changed": ("^", "vermillion"),
    "other": ("s", "orange"),
}


def _note(ax: Axes, text: str) -> None:
    """Say on the figure what it leaves out (lower right, inside the panel)."""
    ax.text(
        0.995,
        0.015,
        text,
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize="x-small",
        style="italic",
        color="#333333",
    )


def _close(fig: Any) -> None:
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


def _okabe() -> Any:
    from bpfkit.plot.palette import OKABE_ITO

    return OKABE_ITO


def plot_scatter(
    cmp: pd.DataFrame,
    stat: str = "insns_processed",
    ax: Axes | None = None,
    *,
    labels: tuple[str, str] = ("A", "B"),
) -> Axes:
    """Draw *stat* in A (x) against B (y) on log axes, one marker per program, the diagonal
    ``B = A`` and the verdict changes as red triangles."""
    from bpfkit.plot.figures import figure_size
    from bpfkit.plot.style import new_axes

    data = scatter_data(cmp, stat)
    ax = new_axes(ax, figsize=figure_size("single"))
    pal = _okabe()
    for cat, (marker, color) in _MARKERS.items():
        d = data[data["category"] == cat]
        if len(d):
            ax.scatter(
                d["a"],
                d["b"],
                marker=marker,
                color=pal[color],
                s=22,
                label=f"{cat} ({len(d)})",
                zorder=3,
                linewidths=1.0,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo = float(min(data["a"].min(), data["b"].min())) if len(data) else 1.0
    hi = float(max(data["a"].max(), data["b"].max())) if len(data) else 10.0
    lo, hi = lo / 1.6, hi * 1.6
    ax.plot(
        [lo, hi],
        [lo, hi],
        color="#555555",
        linewidth=0.8,
        linestyle="--",
        zorder=1,
        label=f"{labels[1]} = {labels[0]}",
    )
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel(f"{stat} — {labels[0]}")
    ax.set_ylabel(f"{stat} — {labels[1]}")
    ax.set_title(f"{stat}: {labels[1]} against {labels[0]}", loc="left")
    ax.legend(loc="upper left", fontsize="x-small")
    if len(data) == 0:
        ax.text(0.5, 0.5, "no program in both runs", transform=ax.transAxes, ha="center")
    elif data["clipped"].any():
        _note(ax, f"{int(data['clipped'].sum())} values of 0 drawn at 1")
    return ax


def plot_change_distribution(
    cmp: pd.DataFrame, stat: str = "insns_processed", ax: Axes | None = None
) -> Axes:
    """Draw how many programs changed *stat* by how much (bins of percent change; fewer in
    blue with hatching, more in orange, unchanged in grey)."""
    from bpfkit.plot.figures import figure_size
    from bpfkit.plot.style import new_axes

    d = change_distribution(cmp, stat)
    ax = new_axes(ax, figsize=figure_size("wide"))
    pal = _okabe()
    x = list(range(len(d)))
    colors, hatches = [], []
    for lo, hi in zip(d["low"], d["high"], strict=True):
        if hi <= -1e-9:
            colors.append(pal["sky_blue"])
            hatches.append("///")
        elif lo >= 1e-9:
            colors.append(pal["orange"])
            hatches.append("")
        else:
            colors.append("#999999")
            hatches.append("..")
    bars = ax.bar(x, d["programs"], color=colors, edgecolor="#333333", linewidth=0.5)
    for bar, h in zip(bars, hatches, strict=True):
        bar.set_hatch(h)
    for xi, v in zip(x, d["programs"], strict=True):
        if v:
            ax.text(xi, v, str(int(v)), ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks(x, list(d["bin"]), rotation=45, ha="right", fontsize="x-small")
    ax.set_ylabel("programs")
    ax.set_xlabel(f"change of {stat}, B against A")
    ax.set_title(f"distribution of changes: {stat}", loc="left")
    ax.set_ylim(0, max(1, int(d["programs"].max())) * 1.15)
    return ax


def plot_top_regressions(
    cmp: pd.DataFrame, stat: str = "insns_processed", n: int = 15, ax: Axes | None = None
) -> Axes:
    """Draw the *n* largest increases of *stat* as horizontal bars labelled
    ``object/program`` with B − A and the percent (verdict changes to reject hatched)."""
    from bpfkit.plot.figures import figure_size
    from bpfkit.plot.style import new_axes

    d = top_regressions(cmp, stat, n)
    what = "regressions"
    if d.empty:  # nothing grew: show what shrank most, and say so
        d = top_regressions(cmp, stat, n, improvements=True)
        what = "improvements (no regression)"
    ax = new_axes(ax, figsize=figure_size("wide"))
    pal = _okabe()
    if d.empty:
        ax.text(0.5, 0.5, f"no program changed {stat}", transform=ax.transAxes, ha="center")
        ax.set_axis_off()
        ax.set_title(f"top changes: {stat}", loc="left")
        return ax
    y = list(range(len(d)))[::-1]
    diff = d[f"{stat}_diff"].astype("float64").abs()
    changed = (d["verdict_a"] != d["verdict_b"]).to_numpy()
    base = pal["sky_blue"] if what.startswith("improvements") else pal["orange"]
    bars = ax.barh(
        y,
        diff,
        color=[pal["vermillion"] if c else base for c in changed],
        edgecolor="#333333",
        linewidth=0.5,
    )
    for bar, c in zip(bars, changed, strict=True):
        if c:
            bar.set_hatch("xx")
    names = [
        f"{o}/{p}" if len(f"{o}/{p}") <= 48 else f"…{(o + '/' + p)[-47:]}"
        for o, p in zip(d["object"], d["program"], strict=True)
    ]
    ax.set_yticks(y, names, fontsize="x-small")
    for yi, dv, pv in zip(y, diff, d[f"{stat}_pct"], strict=True):
        sign = "−" if what.startswith("improvements") else "+"
        label = f" {sign}{int(dv):,}" + ("" if pv is None or pv != pv else f" ({float(pv):+.1f}%)")
        ax.text(dv, yi, label, va="center", fontsize="x-small")
    ax.set_xlim(0, float(diff.max()) * 1.35)
    ax.set_xlabel(f"{stat}: |B − A|")
    ax.set_title(f"top {len(d)} {what}: {stat}", loc="left")
    if changed.any():
        _note(ax, "hatched: verdict changed")
    return ax


def plot_state_evolution(
    run_a: Any, run_b: Any, object: str, program: str, *, labels: tuple[str, str] = ("A", "B")
) -> Figure | None:
    """The state-evolution comparison of one program in two runs (visits per instruction,
    or per C line when the code differs, and the stats table:
    :func:`bpfkit.plot.compare.plot_compare`); None when either run has no log for it."""
    from bpfkit.plot.compare import plot_compare

    la = run_a.log(object, program)
    lb = run_b.log(object, program)
    if la is None or lb is None:
        return None
    fig = plot_compare(la, lb, labels=(f"{labels[0]}", f"{labels[1]}"))
    fig.suptitle(f"{object} / {program}: {labels[1]} against {labels[0]}", fontsize="small")
    return fig


def write_compare_figures(
    run_a: Any,
    run_b: Any,
    cmp: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    stat: str = "insns_processed",
    evolution: int = 3,
    top: int = 15,
    labels: tuple[str, str] = ("A", "B"),
    style_name: str = "paper",
    fmt: str = "svg",
) -> list[Path]:
    """Write the scatter, the distribution, the top regressions and the state-evolution
    figures of the *evolution* most changed programs to *out*; return the paths."""
    from bpfkit.plot.style import sanitize_filename, savefig, style

    outp = Path(out)
    written: list[Path] = []
    with style(style_name):
        axes: list[tuple[str, Any]] = [
            ("scatter", plot_scatter(cmp, stat, labels=labels)),
            ("changes", plot_change_distribution(cmp, stat)),
            ("regressions", plot_top_regressions(cmp, stat, top)),
        ]
        for name, ax in axes:
            fig: Any = ax.figure
            written.append(savefig(fig, outp / f"{name}-{stat}.{fmt}"))
            _close(fig)
        changed = most_changed(cmp, stat, evolution)
        for obj, prog in zip(changed["object"], changed["program"], strict=True):
            evo = plot_state_evolution(run_a, run_b, str(obj), str(prog), labels=labels)
            if evo is None:
                continue
            base = sanitize_filename(f"{obj}-{prog}")
            written.append(savefig(evo, outp / f"evolution-{base}.{fmt}"))
            _close(evo)
    return written
