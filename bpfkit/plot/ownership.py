"""Figures of ownership: who can own what, where references go, and how long they live.

- :func:`plot_ownership_graph`: the type-level ownership graph of an object (containers on
  the left, the types they own to the right, one arrow per field, labelled with the
  mechanism and the field);
- :func:`plot_flow_sankey`: a Sankey-like diagram from allocation sites to sinks, band
  widths proportional to the number of explored paths;
- :func:`plot_ref_lifetimes`: each reference's life over instruction indices, one row per
  (path, reference), ending in a marker for how it ended.

The data behind each is a plain table or mapping built by :func:`graph_layout`,
:func:`sankey_frame` and :func:`lifetime_segments` (tested on their own). Colors are
Okabe-Ito with hatches, so the figures read in grayscale.

Examples
--------
>>> import networkx as nx
>>> g = nx.MultiDiGraph()
>>> g.add_node(("map", "m"), kind="map_value", label="m")
>>> g.add_node(("type", "t"), kind="program", label="t")
>>> _ = g.add_edge(("map", "m"), ("type", "t"), key="p", mechanism="kptr", field="p")
>>> graph_layout(g)[("type", "t")][0]
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, PathPatch
from matplotlib.path import Path as MplPath

from bpfkit.plot.palette import OKABE_ITO
from bpfkit.plot.style import new_axes

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "NODE_STYLES",
    "MECHANISM_STYLES",
    "SINK_STYLES",
    "graph_layout",
    "plot_ownership_graph",
    "sankey_frame",
    "plot_flow_sankey",
    "lifetime_segments",
    "plot_ref_lifetimes",
]

_O = OKABE_ITO
#: Node kind -> (face color, hatch, legend label).
NODE_STYLES: Mapping[str, tuple[str, str, str]] = {
    "map_value": (_O["sky_blue"], "", "map value"),
    "global": (_O["yellow"], "..", "global section"),
    "alloc": (_O["bluish_green"], "", "program-allocated type"),
    "program": (_O["bluish_green"], "", "program-allocated type"),
    "kernel": (_O["reddish_purple"], "//", "kernel type"),
}
#: Edge mechanism -> (color, line style).
MECHANISM_STYLES: Mapping[str, tuple[str, str]] = {
    "kptr": (_O["blue"], "-"),
    "kptr_untrusted": (_O["blue"], ":"),
    "percpu_kptr": (_O["blue"], "-."),
    "uptr": (_O["blue"], "--"),
    "list": (_O["vermillion"], "-"),
    "rbtree": (_O["orange"], "--"),
    "refcount": (_O["bluish_green"], ":"),
}
#: Sink -> (color, hatch, marker).
SINK_STYLES: Mapping[str, tuple[str, str, str]] = {
    "drop": (_O["bluish_green"], "", "s"),
    "release": (_O["bluish_green"], "..", "s"),
    "list_push": (_O["vermillion"], "", "D"),
    "rbtree_add": (_O["orange"], "", "D"),
    "kptr_xchg": (_O["blue"], "", "P"),
    "refcount_acquire": (_O["sky_blue"], "\\\\", "^"),
    "exit_leak": (_O["black"], "xx", "X"),
    "null": ("#bbbbbb", "", "o"),
    "held_at_end": ("#888888", "//", "|"),
    "other": ("#dddddd", "", "."),
}


# ------------------------------------------------------------------------- ownership graph


def graph_layout(g: nx.MultiDiGraph) -> dict[Any, tuple[float, float]]:
    """Positions for the ownership graph: x is the node's depth (containers that nothing owns
    at 0, each ownership step +1, cycles broken at the first visit), y spreads the nodes of
    one depth evenly in name order."""
    depth: dict[Any, int] = {}
    owned = {v for u, v in g.edges() if u != v}  # a refcount self-loop does not make an owner
    roots = sorted((n for n in g.nodes if n not in owned), key=str)
    frontier = list(roots)
    for n in frontier:
        depth[n] = 0
    while frontier:
        nxt = []
        for u in frontier:
            for v in sorted(set(g.successors(u)), key=str):
                if v not in depth:
                    depth[v] = depth[u] + 1
                    nxt.append(v)
        frontier = nxt
    for n in sorted(g.nodes, key=str):  # nodes only on cycles
        depth.setdefault(n, 0)
    cols: dict[int, list[Any]] = {}
    for n, d in depth.items():
        cols.setdefault(d, []).append(n)
    pos: dict[Any, tuple[float, float]] = {}
    for d, nodes in cols.items():
        nodes.sort(key=lambda n: str(g.nodes[n].get("label", n)))
        k = len(nodes)
        for i, n in enumerate(nodes):
            pos[n] = (float(d), float(k - 1 - i) - (k - 1) / 2.0)
    return pos


def plot_ownership_graph(
    g: nx.MultiDiGraph, ax: Axes | None = None, *, title: str | None = None
) -> Axes:
    """Draw the ownership graph of :func:`bpfkit.ownership.ownership_graph` on *ax*."""
    ax = new_axes(ax, figsize=(7, 4))
    pos = graph_layout(g)
    w, h = 0.5, 0.36
    for n, (x, y) in pos.items():
        d = g.nodes[n]
        color, hatch, _ = NODE_STYLES.get(d.get("kind", ""), ("#dddddd", "", "other"))
        ec = _O["vermillion"] if d.get("errno") else "black"
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0.02",
                facecolor=color,
                hatch=hatch,
                edgecolor=ec,
                linewidth=2.0 if d.get("errno") else 0.8,
                zorder=2,
            )
        )
        label = str(d.get("label", n))
        roles = d.get("roles") or ()
        if roles:
            label += "\n" + ",".join(sorted(roles))
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=7,
            zorder=3,
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1},
        )
    seen: dict[tuple[Any, Any], int] = {}
    for u, v, d in g.edges(data=True):
        i = seen.get((u, v), 0)
        seen[(u, v)] = i + 1
        color, ls = MECHANISM_STYLES.get(d.get("mechanism", ""), ("gray", "-"))
        (x0, y0), (x1, y1) = pos[u], pos[v]
        rad = 0.25 * i if u != v else 1.2
        arrow = FancyArrowPatch(
            (x0 + w / 2, y0) if u != v else (x0 + w / 4, y0 + h / 2),
            (x1 - w / 2, y1) if u != v else (x1 - w / 4, y1 + h / 2),
            connectionstyle=f"arc3,rad={rad}",
            arrowstyle="-|>",
            mutation_scale=10,
            color=color,
            linestyle=ls,
            linewidth=1.2,
            zorder=1,
        )
        ax.add_patch(arrow)
        t = 0.3  # label near the owner, where the arrows of one container still fan apart
        lx, ly = x0 + w / 2 + t * (x1 - x0 - w), y0 + t * (y1 - y0) + 0.06 + 0.15 * i
        if u == v:  # a self-loop (refcount): label above the box
            lx, ly = x0, y0 + h / 2 + 0.3 + 0.15 * i
        ax.text(
            lx,
            ly,
            f"{d.get('mechanism')}:{d.get('field')}",
            ha="center",
            va="bottom",
            fontsize=6,
            color=color,
        )
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 1.6)  # room for the legend on the right
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    handles: list[Any] = []
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    kinds = {g.nodes[n].get("kind") for n in g.nodes}
    for kind, (color, hatch, label) in NODE_STYLES.items():
        if (
            kind in kinds
            and kind != "program"
            or (kind == "program" and "alloc" not in kinds and kind in kinds)
        ):
            handles.append(Patch(facecolor=color, hatch=hatch, edgecolor="black", label=label))
    mechs = {d.get("mechanism") for _, _, d in g.edges(data=True)}
    for mech, (color, ls) in MECHANISM_STYLES.items():
        if mech in mechs:
            handles.append(Line2D([0], [0], color=color, linestyle=ls, label=mech))  # type: ignore[arg-type]
    if handles:
        ax.legend(handles=handles, loc="center right", fontsize=7, framealpha=0.9)
    if title:
        ax.set_title(title)
    return ax


# ------------------------------------------------------------------------------- flow sankey


def sankey_frame(flows: Any) -> pd.DataFrame:
    """Bands of the flow diagram: one row per (site, sink) with its path count and the band's
    vertical extent on both sides.

    *flows* is an observed flow graph (:func:`bpfkit.ownership.dynamic.flow_graph`), a
    lifetimes frame (columns ``site_insn, site, sink, end_insn``) or a static flows frame
    (``site_insn, kfunc, sink, sink_insn, paths``). Columns: ``site, sink, count, site_y0,
    site_y1, sink_y0, sink_y1`` (heights in path counts, sites and sinks each stacked from 0
    with a gap of 0.5 between neighbours).
    """
    import networkx as nx
    import pandas as pd

    rows: list[tuple[str, str, int]] = []
    if isinstance(flows, nx.DiGraph):
        for u, v, d in flows.edges(data=True):
            rows.append(
                (str(flows.nodes[u]["label"]), str(flows.nodes[v]["label"]), int(d["count"]))
            )
    elif "paths" in getattr(flows, "columns", ()):
        for r in _rows(flows):
            rows.append((f"{r.kfunc} @{r.site_insn}", f"{r.sink} @{r.sink_insn}", int(r.paths)))
    elif len(flows):
        grouped = flows.groupby(["site_insn", "site", "sink", "end_insn"], dropna=False)
        for (site_insn, site, sink, end_insn), g in grouped:
            name = site if isinstance(site, str) else "?"
            rows.append((f"{name} @{site_insn}", f"{sink} @{end_insn}", int(len(g))))
    cols = ["site", "sink", "count", "site_y0", "site_y1", "sink_y0", "sink_y1"]
    if not rows:
        return pd.DataFrame(columns=cols)
    rows.sort(key=lambda r: (r[0], r[1]))
    gap = 0.5

    def stack(keys: list[str]) -> dict[str, float]:
        tot: dict[str, int] = {}
        for r in rows:
            k = r[0] if keys is sites else r[1]
            tot[k] = tot.get(k, 0) + r[2]
        base: dict[str, float] = {}
        y = 0.0
        for k in keys:
            base[k] = y
            y += tot[k] + gap
        return base

    sites = sorted({r[0] for r in rows})
    sinks = sorted({r[1] for r in rows})
    site_base = stack(sites)
    sink_base = stack(sinks)
    out = []
    for site, sink, count in rows:
        s0 = site_base[site]
        site_base[site] += count
        k0 = sink_base[sink]
        sink_base[sink] += count
        out.append((site, sink, count, s0, s0 + count, k0, k0 + count))
    return pd.DataFrame.from_records(out, columns=cols)


def _rows(df: Any) -> list[Any]:
    """The rows of *df* as attribute records (typed loosely for plotting)."""
    from types import SimpleNamespace

    return [SimpleNamespace(**{str(k): v for k, v in d.items()}) for d in df.to_dict("records")]


def _sink_kind(label: str) -> str:
    return label.split(" ", 1)[0]


def plot_flow_sankey(flows: Any, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Draw sites (left) to sinks (right) as bands whose width is the number of paths."""
    ax = new_axes(ax, figsize=(7, 3.5))
    df = sankey_frame(flows)
    if not len(df):
        ax.text(0.5, 0.5, "no references", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    x0, x1 = 0.0, 1.0
    bar = 0.04
    for r in _rows(df):
        color, hatch, _ = SINK_STYLES.get(_sink_kind(r.sink), SINK_STYLES["other"])
        verts = [
            (x0 + bar, r.site_y0),
            (0.5, r.site_y0),
            (0.5, r.sink_y0),
            (x1 - bar, r.sink_y0),
            (x1 - bar, r.sink_y1),
            (0.5, r.sink_y1),
            (0.5, r.site_y1),
            (x0 + bar, r.site_y1),
            (x0 + bar, r.site_y0),
        ]
        codes = [
            MplPath.MOVETO,
            MplPath.CURVE4,
            MplPath.CURVE4,
            MplPath.CURVE4,
            MplPath.LINETO,
            MplPath.CURVE4,
            MplPath.CURVE4,
            MplPath.CURVE4,
            MplPath.CLOSEPOLY,
        ]
        ax.add_patch(
            PathPatch(
                MplPath(verts, codes),
                facecolor=color,
                hatch=hatch,
                alpha=0.6,
                edgecolor="black",
                linewidth=0.4,
            )
        )
    for side, col, ys0, ys1, x, ha in (
        ("site", "site", "site_y0", "site_y1", x0, "right"),
        ("sink", "sink", "sink_y0", "sink_y1", x1, "left"),
    ):
        spans = df.groupby(col).agg(y0=(ys0, "min"), y1=(ys1, "max"))
        for name, s in zip(spans.index.tolist(), _rows(spans), strict=True):
            color = (
                "#555555"
                if side == "site"
                else SINK_STYLES.get(_sink_kind(str(name)), SINK_STYLES["other"])[0]
            )
            ax.add_patch(
                FancyBboxPatch(
                    (x if side == "site" else x - bar, s.y0),
                    bar,
                    s.y1 - s.y0,
                    boxstyle="square,pad=0",
                    facecolor=color,
                    edgecolor="black",
                    linewidth=0.5,
                )
            )
            ax.text(
                x - 0.01 if side == "site" else x + 0.01,
                (s.y0 + s.y1) / 2,
                str(name),
                ha=ha,
                va="center",
                fontsize=7,
            )
    top = float(max(df["site_y1"].max(), df["sink_y1"].max()))
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(top + 0.3, -0.3)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


# -------------------------------------------------------------------------- ref lifetimes


def lifetime_segments(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (path, reference) from :func:`bpfkit.ownership.dynamic.events_frame`:
    ``row`` (plot row), ``path``, ``ref_obj_id``, ``btf_type``, ``start_insn`` (acquisition,
    or the path's first instruction for an inherited reference), ``end_insn``, ``end``
    (the sink, or ``"open"`` when the log stops with it held), ``copies`` (instructions where
    it was copied on that path), ``non_owning_until`` (for a reference pushed into a
    collection, the ``bpf_spin_unlock`` that invalidated its non-owning views, else None)."""
    import pandas as pd

    cols = [
        "row",
        "path",
        "ref_obj_id",
        "btf_type",
        "start_insn",
        "end_insn",
        "end",
        "copies",
        "non_owning_until",
    ]
    if not len(events):
        return pd.DataFrame(columns=cols)
    ends = {"transfer", "release", "null", "unreleased", "held_at_end"}
    start: dict[int, int] = {}
    path_start: dict[tuple[int, int], int] = {}
    copies: dict[tuple[int, int], list[int]] = {}
    invalidated: dict[tuple[int, int], int] = {}
    for e in _rows(events):
        if e.event == "invalidated":
            invalidated.setdefault((int(e.path), int(e.ref_obj_id)), int(e.insn_idx))
    out = []
    for e in _rows(events):
        rid, path, insn = int(e.ref_obj_id), int(e.path), int(e.insn_idx)
        key = (path, rid)
        if e.event in ("acquire", "inherited"):
            start.setdefault(rid, insn)
            path_start.setdefault(key, insn)
        elif e.event == "copy":
            path_start.setdefault(key, insn)
            copies.setdefault(key, []).append(insn)
        elif e.event in ends:
            s = path_start.get(key, start.get(rid, insn))
            end = e.sink if isinstance(e.sink, str) else str(e.event)
            out.append(
                (
                    path,
                    rid,
                    e.btf_type,
                    s,
                    insn,
                    end,
                    tuple(copies.get(key, ())),
                    invalidated.get(key),
                )
            )
    out.sort(key=lambda r: (r[0], r[1]))
    return pd.DataFrame.from_records([(i, *r) for i, r in enumerate(out)], columns=cols)


def plot_ref_lifetimes(
    events: pd.DataFrame, ax: Axes | None = None, *, title: str | None = None
) -> Axes:
    """Draw each reference's life on each explored path as a bar over instruction indices."""
    ax = new_axes(ax, figsize=(7, 3))
    seg = lifetime_segments(events)
    if not len(seg):
        ax.text(0.5, 0.5, "no references", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    used: dict[str, Any] = {}
    for r in _rows(seg):
        color, hatch, marker = SINK_STYLES.get(str(r.end), SINK_STYLES["other"])
        ax.barh(
            r.row,
            max(r.end_insn - r.start_insn, 0.3),
            left=r.start_insn,
            height=0.5,
            color=color,
            hatch=hatch,
            edgecolor="black",
            linewidth=0.5,
            alpha=0.8,
        )
        ax.plot([r.start_insn], [r.row], marker="o", color="black", markersize=4)
        h = ax.plot(
            [r.end_insn], [r.row], marker=marker, color="black", markersize=6, linestyle="none"
        )[0]
        used.setdefault(str(r.end), h)
        for c in r.copies:
            ax.plot([c], [r.row], marker="|", color="black", markersize=8)
        until = r.non_owning_until
        if until is not None and until == until:  # a non-owning view lives on until unlock
            ax.plot([r.end_insn, until], [r.row, r.row], color=color, linestyle=":", linewidth=2)
            h = ax.plot(
                [until], [r.row], marker="x", color="black", markersize=6, linestyle="none"
            )[0]
            used.setdefault("non-owning until unlock", h)
    ax.set_yticks(list(seg["row"]))
    ax.set_yticklabels(
        [
            f"path {p} ref {i}" + (f" ({t})" if isinstance(t, str) else "")
            for p, i, t in zip(seg["path"], seg["ref_obj_id"], seg["btf_type"], strict=False)
        ],
        fontsize=7,
    )
    ax.invert_yaxis()
    ax.set_xlabel("instruction index")
    ax.legend(list(used.values()), list(used.keys()), fontsize=6, loc="best", framealpha=0.8)
    if title:
        ax.set_title(title)
    return ax
