"""Ownership flows as chains: allocation site -> collection or field -> take-out -> end.

Where :func:`bpfkit.plot.ownership.plot_flow_sankey` joins sites to sinks, this diagram
follows an object through the collections it passes: ``bpf_obj_new @4 (struct job)`` ->
``list q_jobs`` -> ``bpf_list_pop_front @21`` -> ``drop @34``. The verifier gives an object
a new reference id when it comes back out of a collection, so the chain joins them through
the collection, named from the C source of the push and the pop (``&q_jobs``): what goes into
``q_jobs`` is what can come out of it.

Four columns, left to right: where objects are made (``acquire``), the collections and kptr
fields they are handed to (``collection``), where they are taken back out (``take_out``), and
how their references end (``end``: release, drop, leak, NULL branch, held when the path
ended). An edge's ``count`` is the number of (path, reference) lifetimes that took it.

Examples
--------
>>> from pathlib import Path
>>> import bpfkit
>>> from bpfkit.verifier import load_log
>>> log = load_log(Path(bpfkit.__file__).parents[1] / "data/logs/list/list_push_pop_ok.l2.log")[0]
>>> [(e.source, e.target) for e in flow_chain_frame(log).itertuples()]
... # doctest: +NORMALIZE_WHITESPACE
[('bpf_obj_new @4 (job)', 'list q_jobs'),
 ('list q_jobs', 'bpf_list_pop_front @21'),
 ('bpf_list_pop_front @21', 'drop @34')]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpfkit.plot.palette import OKABE_ITO
from bpfkit.plot.style import new_axes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["COLUMNS", "flow_chain_frame", "plot_flow_chain"]

#: The columns of the diagram, left to right.
COLUMNS = ("acquire", "collection", "take_out", "end")
_O = OKABE_ITO
_COLORS = {
    "acquire": "#555555",
    "list": _O["vermillion"],
    "rbtree": _O["orange"],
    "kptr": _O["reddish_purple"],
    "take_out": _O["sky_blue"],
    "drop": _O["bluish_green"],
    "release": _O["bluish_green"],
    "exit_leak": _O["vermillion"],
    "null": "#bbbbbb",
    "held_at_end": "#888888",
}


def _records(df: Any) -> list[Any]:
    """The rows of *df* as attribute records (typed loosely for drawing)."""
    from types import SimpleNamespace

    return [SimpleNamespace(**d) for d in df.to_dict("records")]


def _short(call: str | None) -> str:
    name = str(call or "?").split("#", 1)[0].removesuffix("_impl")
    return name


def flow_chain_frame(log: Any) -> pd.DataFrame:
    """The edges of the chain diagram: ``source, source_col, target, target_col, count,
    kind`` (kind of the target: ``list``, ``rbtree``, ``kptr``, ``take_out``, or how the
    reference ended)."""
    import pandas as pd

    from bpfkit.ownership.dynamic import ref_events
    from bpfkit.plot.timeline import _TAKE_OUT, _TRANSFER_KIND, _collection_name, _insn_info

    events = ref_events(log)
    _asm, src, _line = _insn_info(log)
    node_of: dict[int, tuple[str, str]] = {}  # rid -> (node, column) where it came from
    types: dict[int, str] = {}
    counts: dict[tuple[str, str, str, str, str], int] = {}
    handed: set[tuple[int, int]] = set()  # (path, rid) given to a collection: it owns it now

    def edge(a: tuple[str, str], b: tuple[str, str], kind: str) -> None:
        k = (a[0], a[1], b[0], b[1], kind)
        counts[k] = counts.get(k, 0) + 1

    for ev in events:
        if ev.btf_type:
            types.setdefault(ev.ref_obj_id, ev.btf_type)
        if ev.event == "acquire":
            call = _short(ev.detail)
            if str(ev.detail or "").startswith(_TAKE_OUT):
                node = (f"{call} @{ev.insn_idx}", "take_out")
                coll = _collection_name(src.get(ev.insn_idx), ev.detail)
                if str(ev.detail).startswith("bpf_kptr_xchg"):
                    kind = "kptr"
                elif "rbtree" in call:
                    kind = "rbtree"
                else:
                    kind = "list"
                if coll:
                    edge((f"{kind} {coll}", "collection"), node, "take_out")
                node_of[ev.ref_obj_id] = node
            else:
                t = types.get(ev.ref_obj_id)
                node_of[ev.ref_obj_id] = (
                    f"{call} @{ev.insn_idx}" + (f" ({t})" if t else ""),
                    "acquire",
                )
        elif ev.event == "inherited":
            node_of.setdefault(ev.ref_obj_id, (f"held @{ev.insn_idx}", "acquire"))
        elif ev.event == "transfer":
            kind = _TRANSFER_KIND.get(str(ev.sink), "list")
            coll = _collection_name(src.get(ev.insn_idx), ev.detail) or "?"
            start = node_of.get(ev.ref_obj_id, (f"? @{ev.insn_idx}", "acquire"))
            edge(start, (f"{kind} {coll}", "collection"), kind)
            handed.add((ev.path, ev.ref_obj_id))
        elif ev.event in ("release", "null", "unreleased", "held_at_end"):
            if (ev.path, ev.ref_obj_id) in handed:
                continue
            sink = str(ev.sink or ev.event)
            start = node_of.get(ev.ref_obj_id, (f"? @{ev.insn_idx}", "acquire"))
            label = "leak" if sink == "exit_leak" else sink.replace("_", " ")
            edge(start, (f"{label} @{ev.insn_idx}", "end"), sink)
    rows = [(a, ac, b, bc, n, kind) for (a, ac, b, bc, kind), n in counts.items()]
    order = {c: i for i, c in enumerate(COLUMNS)}
    rows.sort(key=lambda r: (order[r[1]], r[0], order[r[3]], r[2]))
    cols = ["source", "source_col", "target", "target_col", "count", "kind"]
    return pd.DataFrame.from_records(rows, columns=cols)


def _bend(
    a: tuple[float, float], b: tuple[float, float], others: list[tuple[float, float]],
    k: float = 1.0,
) -> float:
    """The ``arc3`` bend of an arrow from *a* to *b* that keeps farthest from the other boxes
    it would pass (straight when none is in its way). *k* is the display size of a y unit
    over that of an x unit: ``arc3`` bends in display space."""
    (x1, y1), (x2, y2) = a, b
    lo, hi = sorted((x1, x2))
    between = [p for p in others if lo < p[0] < hi]
    best, best_d = 0.0, -1.0
    for rad in (0.0, 0.15, -0.15, 0.3, -0.3, 0.45, -0.45):
        cx, cy = (x1 + x2) / 2 + rad * k * (y2 - y1), (y1 + y2) / 2 - rad * (x2 - x1) / k
        pts = [((1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t * t * x2,
                (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t * t * y2)
               for t in (0.25, 0.4, 0.5, 0.6, 0.75)]  # fmt: skip
        d = min((min(abs(px - ox) * 2.5 + abs(py - oy) for px, py in pts)
                 for ox, oy in between), default=9.0)  # fmt: skip
        # straighter wins unless clearly farther from the boxes, or the straighter crosses one
        if d > best_d + 0.35 or (best_d < 0.9 and d > best_d):
            best, best_d = rad, d
    return best


def _merge_crowded(df: Any, ax: Any) -> Any:
    """In a column with more boxes than the panel's height holds, the boxes of one kind
    (``held at end @100``, ``held at end @13``, ...) become one (``held at end (5 sites)``)."""
    from matplotlib.font_manager import FontProperties

    root = ax.get_figure(root=True)
    h_in = float(root.get_figheight()) if root is not None else 4.0
    size = FontProperties(size="small").get_size_in_points()
    fit = max(2, int(0.7 * h_in * 72 / (3.4 * size)))
    df = df.copy()
    for col in COLUMNS:
        names = sorted(set(df.loc[df["source_col"] == col, "source"])
                       | set(df.loc[df["target_col"] == col, "target"]))  # fmt: skip
        if len(names) <= fit:
            continue
        head = {n: n.split(" @")[0] for n in names}
        many = {h: sum(1 for x in head.values() if x == h) for h in set(head.values())}
        new = {n: f"{head[n]} ({many[head[n]]} sites)" if many[head[n]] > 1 else n for n in names}
        for end in ("source", "target"):
            sel = df[f"{end}_col"] == col
            df.loc[sel, end] = df.loc[sel, end].map(new)
    keys = ["source", "source_col", "target", "target_col", "kind"]
    return df.groupby(keys, sort=False, as_index=False)["count"].sum()[df.columns.tolist()]


def plot_flow_chain(log: Any, ax: Axes | None = None, *, max_nodes: int = 12) -> Axes:
    """Draw :func:`flow_chain_frame`: boxes in four columns, arrows as wide as their counts,
    each box labelled with the site, collection or end it is."""
    from matplotlib.patches import FancyArrowPatch

    from bpfkit.plot import figures as F

    ax = new_axes(ax, figsize=F.figure_size("single"))
    df = flow_chain_frame(log)
    F._title(ax, "ownership flows", log)
    ax.set_axis_off()
    if not len(df):
        ax.text(0.5, 0.5, "no owned objects in the log", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
        return ax
    df = _merge_crowded(df, ax)
    nodes: dict[str, list[str]] = {c: [] for c in COLUMNS}
    weight: dict[str, int] = {}
    for r in _records(df):
        for n, c in ((r.source, r.source_col), (r.target, r.target_col)):
            if n not in nodes[c]:
                nodes[c].append(n)
        weight[r.target] = weight.get(r.target, 0) + int(r.count)
        weight[r.source] = max(weight.get(r.source, 0), 1)
    dropped = 0
    for c in COLUMNS:  # the busiest nodes of a column, the rest summarised in the note
        if len(nodes[c]) > max_nodes:
            keep = sorted(nodes[c], key=lambda n: -weight.get(n, 0))[:max_nodes]
            dropped += len(nodes[c]) - len(keep)
            nodes[c] = [n for n in nodes[c] if n in keep]
    used = [c for c in COLUMNS if nodes[c]]
    xs = {c: float(i) for i, c in enumerate(used)}
    pos: dict[str, tuple[float, float]] = {}
    for c in used:
        k = len(nodes[c])
        for i, n in enumerate(nodes[c]):
            pos[n] = (xs[c], (k - 1) / 2.0 - i)
    kinds = {r.target: r.kind for r in _records(df)}
    top = max((abs(p[1]) for p in pos.values()), default=0.0)
    total = max(int(df["count"].max()), 1)
    y_lo: float = -top
    y_hi: float = top
    # display size of a y unit over an x unit, as the panel will be laid out (about)
    root = ax.get_figure(root=True)
    size_in = root.get_size_inches() if root is not None else (6.0, 4.0)
    w_in, h_in = float(size_in[0]), float(size_in[1])
    aspect = (0.75 * h_in / (2 * top + 1.2)) / (0.9 * w_in / max(len(used), 1))
    boxes: dict[str, Any] = {}
    for n, (x, y) in pos.items():
        col = next(c for c in used if n in nodes[c])
        kind = kinds.get(n, "acquire") if col != "acquire" else "acquire"
        color = _COLORS.get(str(kind), "#dddddd")
        label = n.replace(" @", "\n@", 1).replace(" (", "\n(", 1)
        t = ax.text(x, y, label, ha="center", va="center", zorder=3, fontsize="small",
                    color="white" if kind in ("acquire", "list", "kptr") else "black",
                    bbox={"boxstyle": "round,pad=0.35", "facecolor": color,
                          "edgecolor": "black", "linewidth": 0.6})  # fmt: skip
        boxes[n] = t
    for r in _records(df):
        if r.source not in pos or r.target not in pos:
            continue
        color = _COLORS.get(str(r.kind), "#777777")
        rad = _bend(pos[r.source], pos[r.target], [p for n, p in pos.items()
                                                     if n not in (r.source, r.target)], aspect)  # fmt: skip
        (x1, y1), (x2, y2) = pos[r.source], pos[r.target]
        mid_y = (y1 + y2) / 2 - rad * (x2 - x1) / aspect / 2  # the arc's middle: half way to control
        y_lo, y_hi = min(y_lo, mid_y), max(y_hi, mid_y)
        ax.add_patch(
            FancyArrowPatch(pos[r.source], pos[r.target], arrowstyle="-|>", mutation_scale=12,
                            connectionstyle=f"arc3,rad={rad}",
                            color=color, alpha=0.85, linewidth=1.0 + 4.0 * int(r.count) / total,
                            patchA=boxes[r.source].get_bbox_patch(),
                            patchB=boxes[r.target].get_bbox_patch(), shrinkA=2, shrinkB=2,
                            zorder=2, label="_flow")
        )  # fmt: skip
    ax.set_xlim(-0.5, len(used) - 0.5)
    ax.set_ylim(y_lo - 0.6, y_hi + 0.6)
    ax.set_axis_on()
    ax.set_yticks([])
    ax.set_xticks([xs[c] for c in used], [c.replace("_", " ") for c in used])
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.tick_params(axis="x", length=0)
    F.set_xlabel(ax, "each object passes left to right; arrow width = paths taken")
    if dropped:
        F._note(ax, f"{dropped} smaller nodes left out")
    return ax
