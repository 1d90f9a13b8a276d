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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from bpfkit.plot.palette import OKABE_ITO
from bpfkit.plot.style import new_axes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["COLUMNS", "flow_chain_frame", "order_columns", "plot_flow_chain"]

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


#: An item of a column, top to bottom: ``("box", name)`` for a node, ``("lane", i)`` where
#: edge *i* passes a column between its two ends.
Item = tuple[str, Any]


def order_columns(
    columns: Sequence[Sequence[str]], edges: Sequence[tuple[str, str]], *, sweeps: int = 4
) -> list[list[Item]]:
    """The items of each column, top to bottom. An edge between columns that are not
    neighbours passes the columns between them in a lane of its own (an item as tall as the
    arrow is wide), so that it never crosses a box; boxes and lanes are ordered by the
    barycentre heuristic of layered graph drawing (each item moved to the mean position of
    its neighbours in the column before, then in the column after, *sweeps* times), which
    keeps arrows from crossing each other.

    Examples
    --------
    >>> cols = [["a"], ["b", "c"], ["d"]]
    >>> order_columns(cols, [("a", "c"), ("c", "d"), ("a", "d")])
    [[('box', 'a')], [('box', 'b'), ('box', 'c'), ('lane', 2)], [('box', 'd')]]
    """
    col_of = {n: k for k, names in enumerate(columns) for n in names}
    cols: list[list[Item]] = [[("box", n) for n in names] for names in columns]
    near: dict[tuple[int, Item], list[tuple[int, Item]]] = {}
    for i, (a, b) in enumerate(edges):
        ka, kb = col_of[a], col_of[b]
        step = 1 if kb >= ka else -1
        chain: list[tuple[int, Item]] = [(ka, ("box", a))]
        for k in range(ka + step, kb, step):
            cols[k].append(("lane", i))
            chain.append((k, ("lane", i)))
        if kb != ka:
            chain.append((kb, ("box", b)))
        for x, y in zip(chain, chain[1:], strict=False):
            near.setdefault(x, []).append(y)
            near.setdefault(y, []).append(x)
    n = len(cols)
    for _ in range(sweeps):
        for ks, side in ((range(1, n), -1), (range(n - 2, -1, -1), 1)):
            for k in ks:
                other = cols[k + side]
                pos = {it: (j + 0.5) / len(other) for j, it in enumerate(other)}
                keyed = []
                for j, it in enumerate(cols[k]):
                    ns = [pos[y] for kk, y in near.get((k, it), []) if kk == k + side]
                    keyed.append((sum(ns) / len(ns) if ns else (j + 0.5) / len(cols[k]), j, it))
                cols[k] = [it for _b, _j, it in sorted(keyed)]
    return cols


def _wrap(label: str) -> str | None:
    """*label* with its longest line broken at the underscore nearest its middle
    (``bpf_list_pop_front`` -> ``bpf_list_`` / ``pop_front``), or None if it has none."""
    lines = label.split("\n")
    i = max(range(len(lines)), key=lambda j: len(lines[j]))
    line = lines[i]
    cuts = [j + 1 for j, ch in enumerate(line) if ch == "_" and 3 <= j + 1 <= len(line) - 3]
    if not cuts:
        return None
    cut = min(cuts, key=lambda j: abs(2 * j - len(line)))
    lines[i : i + 1] = [line[:cut], line[cut:]]
    return "\n".join(lines)


class _Route:
    """The connection style of a chain arrow: the path the layout routed for it (display
    coordinates), a straight line before the first layout."""

    def __init__(self) -> None:
        self.path: Any = None

    def __call__(self, posA: Any, posB: Any, **_kw: Any) -> Any:  # noqa: N803 - matplotlib's
        from matplotlib.path import Path

        return self.path if self.path is not None else Path([posA, posB])


class _Chain:
    """What the layout needs: the columns' items, the boxes, the arrows and their routes."""

    def __init__(self, cols: list[list[Item]], boxes: dict[str, Any], labels: dict[str, str],
                 edges: list[tuple[str, str]], arrows: list[Any], size: float,
                 tick_labels: list[str]) -> None:  # fmt: skip
        self.cols, self.boxes, self.labels = cols, boxes, labels
        self.edges, self.arrows, self.size = edges, arrows, size
        self.tick_labels = tick_labels


def _lay_out(chain: _Chain, ax: Any, renderer: Any) -> None:
    """Place the boxes and route the arrows of *chain* in the panel as it is being drawn
    (display space: boxes keep their size in points whatever the panel's size).

    Columns sit side by side with equal gaps, each column's items stacked with equal gaps
    and centred. Labels too wide for the panel are broken at an underscore, then all box
    text made smaller (down to 70 %) if it still does not fit. An arrow leaves its box at
    the side facing its target (ports spread along the side, ordered by where their arrows
    go), runs level to the edge of its column, crosses each gap between columns as an S
    curve and each column between its ends in its lane, and comes into its target level:
    it meets no box but its own two."""
    import numpy as np
    from matplotlib.path import Path

    ab = ax.get_window_extent(renderer)
    px = float(renderer.points_to_pixels(1.0))
    margin = 0.25 * chain.size * px
    avail_w, avail_h = ab.width - 2 * margin, ab.height - 2 * margin
    widths = [a.get_linewidth() * px for a in chain.arrows]
    labels = dict(chain.labels)
    scale = 1.0
    ext: dict[str, Any] = {}
    for _ in range(10):  # fit: break the widest labels, then make the type smaller
        fs = chain.size * scale * px
        for name, t in chain.boxes.items():
            t.set_text(labels[name])
            t.set_fontsize(chain.size * scale)
            t.update_bbox_position_size(renderer)
            ext[name] = t.get_bbox_patch().get_window_extent(renderer)
        col_w = [max((ext[n].width for kind, n in c if kind == "box"), default=0.0)
                 for c in chain.cols]  # fmt: skip
        need_w = sum(col_w) + 2.2 * fs * (len(chain.cols) - 1)
        need_h = max(
            sum(ext[v].height if kind == "box" else widths[v] + 0.3 * fs for kind, v in c)
            + 0.5 * fs * (len(c) + 1)
            for c in chain.cols
        )
        over = max(need_w / max(avail_w, 1.0), need_h / max(avail_h, 1.0))
        if over <= 1.0:
            break
        if need_w > avail_w:
            k = max(range(len(col_w)), key=lambda j: col_w[j])
            wide = sorted((n for kind, n in chain.cols[k] if kind == "box"),
                          key=lambda n: -ext[n].width)  # fmt: skip
            new = next((w for w in map(lambda n: (n, _wrap(labels[n])), wide[:1]) if w[1]), None)
            if new is not None and need_h * 1.15 <= avail_h:
                labels[new[0]] = str(new[1])
                continue
        if scale <= 0.7:
            break
        scale = max(0.7, scale / over)
    fs = chain.size * scale * px
    # columns: x extent of each
    n = len(chain.cols)
    gap = (avail_w - sum(col_w)) / (n - 1) if n > 1 else 0.0
    x = ab.x0 + margin + (avail_w - sum(col_w)) / 2 if n == 1 else ab.x0 + margin
    span: list[tuple[float, float]] = []
    for w in col_w:
        span.append((x, x + w))
        x += w + gap
    # items: y centre of each, stacked in each column
    ymid = ab.y0 + ab.height / 2
    at: dict[tuple[int, Item], float] = {}
    for k, c in enumerate(chain.cols):
        hs = [ext[v].height if kind == "box" else widths[v] + 0.3 * fs for kind, v in c]
        box_h = [h for (kind, _v), h in zip(c, hs, strict=True) if kind == "box"]
        g = (avail_h - sum(hs)) / (len(c) + 1)
        g = max(min(g, 1.2 * max(box_h, default=fs)), 0.5 * fs)
        y = ymid + (sum(hs) + g * (len(c) - 1)) / 2
        for it, h in zip(c, hs, strict=True):
            at[(k, it)] = y - h / 2
            y -= h + g
    inv = ax.transData.inverted()
    col_of: dict[str, int] = {}
    for k, c in enumerate(chain.cols):
        for kind, v in c:
            if kind == "box":
                col_of[v] = k
                cx = (span[k][0] + span[k][1]) / 2
                t = chain.boxes[v]
                xy = inv.transform((cx, at[(k, (kind, v))]))
                if not np.allclose(t.get_position(), xy, atol=1e-9):
                    t.set_position((float(xy[0]), float(xy[1])))
                t.update_bbox_position_size(renderer)
                ext[v] = t.get_bbox_patch().get_window_extent(renderer)
    ticks = [float(inv.transform(((a + b) / 2, ymid))[0]) for a, b in span]
    old = ax.get_xticks()
    if len(old) != len(ticks) or not np.allclose(old, ticks, atol=1e-9):
        ax.set_xticks(ticks, chain.tick_labels)
    # ports: where each arrow leaves or enters its box, spread along the side it uses
    chains: list[list[tuple[int, Item]]] = []
    sides: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for i, (a, b) in enumerate(chain.edges):
        ka, kb = col_of[a], col_of[b]
        step = 1 if kb > ka else -1 if kb < ka else (1 if ka < n - 1 else -1)
        path = [(ka, ("box", a))] + [(k, ("lane", i)) for k in range(ka + step, kb, step)]
        path.append((kb, ("box", b)))
        chains.append(path)
        out_side, in_side = ("R", "L") if kb > ka else ("L", "R") if kb < ka else ("R", "R") \
            if step > 0 else ("L", "L")  # fmt: skip
        sides.setdefault((a, out_side), []).append((at[path[1]], i, 0))
        sides.setdefault((b, in_side), []).append((at[path[-2]], i, 1))
    port: dict[tuple[int, int], float] = {}
    for (name, _side), uses in sides.items():
        uses.sort(key=lambda u: (-u[0], u[1], u[2]))
        e = ext[name]
        step_y = min(0.6 * e.height / max(len(uses) - 1, 1), 1.2 * fs)
        mid = (e.y0 + e.y1) / 2
        for j, (_y, i, end) in enumerate(uses):
            port[(i, end)] = mid + ((len(uses) - 1) / 2 - j) * step_y
    for i, path in enumerate(chains):
        ka, kb = path[0][0], path[-1][0]
        fwd = kb > ka or (kb == ka and ka < n - 1)
        ea, eb = ext[str(path[0][1][1])], ext[str(path[-1][1][1])]
        # level runs: (x where it starts, x where it ends, y), one per column passed
        if kb == ka:
            runs = [(ea.x1, span[ka][1], port[(i, 0)]), (span[kb][1], eb.x1, port[(i, 1)])] \
                if fwd else [(ea.x0, span[ka][0], port[(i, 0)]),
                             (span[kb][0], eb.x0, port[(i, 1)])]  # fmt: skip
        elif fwd:
            runs = [(ea.x1, span[ka][1], port[(i, 0)])]
            runs += [(span[k][0], span[k][1], at[(k, it)]) for k, it in path[1:-1]]
            runs.append((span[kb][0], eb.x0, port[(i, 1)]))
        else:
            runs = [(ea.x0, span[ka][0], port[(i, 0)])]
            runs += [(span[k][1], span[k][0], at[(k, it)]) for k, it in path[1:-1]]
            runs.append((span[kb][1], eb.x1, port[(i, 1)]))
        verts: list[tuple[float, float]] = [(runs[0][0], runs[0][2])]
        codes = [Path.MOVETO]
        head = 0.4 * chain.arrows[i].get_mutation_scale() * px  # "-|>": head 0.4 x scale
        for j, (x0, x1, y) in enumerate(runs):
            if j:
                px0, py0 = verts[-1]
                if kb == ka:  # out of the column and back: a loop beside it
                    d = (gap if fwd else -gap) * 0.35 if n > 1 else 3 * fs
                    verts += [(px0 + d, py0), (x0 + d, y), (x0, y)]
                    codes += [Path.CURVE4] * 3
                else:  # level out of one column, an S across the gap, level into the next
                    run = min(head, 0.2 * abs(x0 - px0)) * (1 if x0 >= px0 else -1)
                    a, b = px0 + run, x0 - run
                    verts += [(a, py0), ((a + b) / 2, py0), ((a + b) / 2, y), (b, y), (x0, y)]
                    codes += [Path.LINETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO]
            if abs(x1 - x0) > 0.5 * px:
                verts.append((x1, y))
                codes.append(Path.LINETO)
        chain.arrows[i].get_connectionstyle().path = Path(verts, codes)


def _layout_artist(chain: _Chain) -> Any:
    """An artist drawn first in its panel (lowest zorder) that lays *chain* out for the
    size the panel has when drawn (:func:`_lay_out`)."""
    from matplotlib.artist import Artist

    class ChainLayout(Artist):
        def draw(self, renderer: Any) -> None:
            if self.get_visible() and self.axes is not None:
                _lay_out(chain, self.axes, renderer)
            self.stale = False

    art = ChainLayout()
    art.set_zorder(-10)
    art.set_in_layout(False)
    art.set_label("_chain_layout")
    return art


def plot_flow_chain(log: Any, ax: Axes | None = None, *, max_nodes: int = 12) -> Axes:
    """Draw :func:`flow_chain_frame`: boxes in four columns, arrows as wide as their counts,
    each box labelled with the site, collection or end it is. The boxes are placed and the
    arrows routed when the figure is drawn, for the size the panel has then (see
    :func:`_lay_out`): an arrow never crosses a box other than its two ends."""
    from matplotlib.font_manager import FontProperties
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
    kept = {n for c in used for n in nodes[c]}
    rows = [r for r in _records(df) if r.source in kept and r.target in kept]
    edges = [(str(r.source), str(r.target)) for r in rows]
    cols = order_columns([nodes[c] for c in used], edges)
    kinds = {r.target: r.kind for r in rows}
    size = FontProperties(size="small").get_size_in_points()
    boxes: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for k, c in enumerate(used):
        for n in nodes[c]:
            kind = kinds.get(n, "acquire") if c != "acquire" else "acquire"
            if c == "collection":  # also one nothing came into (popped from a map's list)
                kind = n.split(" ", 1)[0]
            color = _COLORS.get(str(kind), "#dddddd")
            labels[n] = n.replace(" @", "\n@", 1).replace(" (", "\n(", 1)
            boxes[n] = ax.text((k + 0.5) / len(used), 0.5, labels[n], ha="center", va="center",
                               zorder=3, fontsize=size,
                               color="white" if kind in ("acquire", "list", "kptr") else "black",
                               bbox={"boxstyle": "round,pad=0.35", "facecolor": color,
                                     "edgecolor": "black", "linewidth": 0.6})  # fmt: skip
            boxes[n].set_in_layout(False)
    total = max((int(r.count) for r in rows), default=1)
    arrows = []
    thick = max(0.6, min(1.25, size / 12.0))  # arrows in proportion to the type
    head = 8.0 * thick
    for r in rows:
        lw = (0.8 + 3.2 * int(r.count) / total) * thick
        a = FancyArrowPatch(boxes[r.source].get_position(), boxes[r.target].get_position(),
                            arrowstyle="-|>", mutation_scale=head + 2 * lw,
                            connectionstyle=cast(Any, _Route()),
                            color=_COLORS.get(str(r.kind), "#777777"), alpha=0.85,
                            linewidth=lw,
                            patchA=boxes[r.source].get_bbox_patch(),
                            patchB=boxes[r.target].get_bbox_patch(), shrinkA=0, shrinkB=0,
                            zorder=2, label="_flow")  # fmt: skip
        a.set_in_layout(False)
        ax.add_patch(a)
        arrows.append(a)
    ticks = [c.replace("_", " ") for c in used]
    ax.add_artist(_layout_artist(_Chain(cols, boxes, labels, edges, arrows, size, ticks)))
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_axis_on()
    ax.set_yticks([])
    ax.set_xticks([(k + 0.5) / len(used) for k in range(len(used))], ticks)
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.tick_params(axis="x", length=0)
    F.set_xlabel(ax, "each object passes left to right; arrow width = paths taken")
    if dropped:
        F._note(ax, f"{dropped} smaller nodes left out")
    return ax
