"""The control-flow graph of a verified program, built from a log's instructions table.

:func:`cfg_graph` splits the instructions the log shows into basic blocks (a block starts at
the first instruction, at every jump or call target, after every jump, exit or bpf-to-bpf
call, and wherever the next instruction shown is not the fall-through successor) and joins
them with ``fallthrough``, ``taken`` and ``call`` edges. :func:`plot_cfg` draws it with a
deterministic layered layout (blocks in instruction order, jumps as arcs), colored by how
often the verifier entered each block, the failing instruction marked.

Node attributes (node key: the block's first instruction index)

``first``, ``last`` : int
    first and last instruction index of the block
``insns`` : tuple[int, ...]
    the instruction indices in the block
``visits`` : int
    how many times the verifier entered the block (visits of its first instruction)
``insn_visits`` : int
    visits of all its instructions (the work spent in it)
``src_line`` : int or None
    C source line of the first instruction, where the log gives one
``failing`` : bool
    the block holds the instruction the error names
``entry`` : bool
    the program or a subprogram starts here

Edge attributes: ``kind`` (``"fallthrough"``, ``"taken"`` or ``"call"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import networkx as nx

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "JumpInfo",
    "decode_jump",
    "cfg_from_instructions",
    "cfg_graph",
    "cfg_layout",
    "plot_cfg",
]

_PC_OFF = re.compile(r"\bpc([+-]\d+)")
_BPF_JMP = 0x05
_BPF_JMP32 = 0x06
_BPF_LD_IMM64 = 0x18


class JumpInfo(NamedTuple):
    """What an instruction does to control flow."""

    #: ``"none"``, ``"goto"``, ``"cond"``, ``"call"`` (bpf-to-bpf) or ``"exit"``.
    kind: str
    #: The jump or call target instruction index, or None.
    target: int | None


def _opcode(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            return None
    try:
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def decode_jump(insn_idx: int, opcode: Any, asm: str | None) -> JumpInfo:
    """Return the control-flow effect of one instruction (see :class:`JumpInfo`).

    *opcode* is the instruction's opcode byte (an int, or the hex text the log shows);
    the offset comes from the ``pc+N`` in *asm*, and the target is ``insn_idx + 1 + N``.

    Examples
    --------
    >>> decode_jump(10, 0x2D, "if r1 > r8 goto pc+2")
    JumpInfo(kind='cond', target=13)
    >>> decode_jump(40, "05", "goto pc-8")
    JumpInfo(kind='goto', target=33)
    >>> decode_jump(7, 0x85, "call pc+5")
    JumpInfo(kind='call', target=13)
    >>> decode_jump(6, 0x85, "call bpf_ringbuf_reserve#131")
    JumpInfo(kind='none', target=None)
    >>> decode_jump(34, 0x95, "exit")
    JumpInfo(kind='exit', target=None)
    """
    text = asm or ""
    op = _opcode(opcode)
    m = _PC_OFF.search(text)
    target = insn_idx + 1 + int(m.group(1)) if m else None
    if op is not None:
        cls = op & 0x07
        if cls not in (_BPF_JMP, _BPF_JMP32):
            return JumpInfo("none", None)
        code = op & 0xF0
        if code == 0x90:
            return JumpInfo("exit", None)
        if code == 0x80:
            # Helper and kfunc calls return to the next instruction; only pseudo calls
            # (`call pc+N`) enter a subprogram.
            if target is not None and text.lstrip().startswith("call"):
                return JumpInfo("call", target)
            return JumpInfo("none", None)
        if code == 0x00:
            return JumpInfo("goto", target) if target is not None else JumpInfo("none", None)
        return JumpInfo("cond", target) if target is not None else JumpInfo("none", None)
    # No opcode: fall back on the text alone.
    stripped = text.strip()
    if stripped == "exit":
        return JumpInfo("exit", None)
    if target is None:
        return JumpInfo("none", None)
    if stripped.startswith("call"):
        return JumpInfo("call", target)
    if stripped.startswith(("goto", "gotol")):
        return JumpInfo("goto", target)
    return JumpInfo("cond", target)


def cfg_from_instructions(
    instructions: pd.DataFrame,
    visits: Mapping[int, int] | None = None,
    *,
    error_insn: int | None = None,
) -> nx.DiGraph:
    """Build the basic-block graph from an instructions table.

    Parameters
    ----------
    instructions : DataFrame
        Columns ``insn_idx``, ``opcode``, ``asm`` and optionally ``src_line``
        (:attr:`bpfkit.verifier.Log.instructions`).
    visits : mapping, optional
        Visits per instruction index.
    error_insn : int, optional
        The instruction the error names; its block gets ``failing=True``.

    Returns
    -------
    networkx.DiGraph
        See the module docstring for node and edge attributes.
    """
    import pandas as pd

    visits = visits or {}
    rows: dict[int, tuple[Any, str | None, int | None]] = {}
    has_src = "src_line" in instructions.columns
    for rec in instructions.itertuples(index=False):
        idx = int(rec.insn_idx)  # type: ignore[arg-type]
        if idx in rows:
            continue
        src = getattr(rec, "src_line", None) if has_src else None
        src_line = None if src is None or pd.isna(src) else int(src)
        rows[idx] = (rec.opcode, None if rec.asm is None else str(rec.asm), src_line)
    order = sorted(rows)
    graph = nx.DiGraph()
    if not order:
        return graph
    info = {i: decode_jump(i, rows[i][0], rows[i][1]) for i in order}
    seen = set(order)

    def successor(i: int) -> int:
        op = _opcode(rows[i][0])
        return i + (2 if op == _BPF_LD_IMM64 else 1)

    leaders = {order[0]}
    entries = {order[0]}
    for pos, i in enumerate(order):
        kind, target = info[i]
        if kind != "none":
            if pos + 1 < len(order):
                leaders.add(order[pos + 1])
            if target is not None and target in seen:
                leaders.add(target)
                if kind == "call":
                    entries.add(target)
        if pos + 1 < len(order) and order[pos + 1] != successor(i):
            leaders.add(order[pos + 1])

    blocks: list[list[int]] = []
    for i in order:
        if i in leaders or not blocks:
            blocks.append([i])
        else:
            blocks[-1].append(i)

    for block in blocks:
        first, last = block[0], block[-1]
        graph.add_node(
            first,
            first=first,
            last=last,
            insns=tuple(block),
            visits=int(visits.get(first, 0)),
            insn_visits=int(sum(visits.get(i, 0) for i in block)),
            src_line=rows[first][2],
            failing=error_insn is not None and error_insn in block,
            entry=first in entries,
        )
    for block in blocks:
        last = block[-1]
        kind, target = info[last]
        nxt = successor(last)
        if kind in ("none", "cond", "call") and nxt in seen and kind != "exit":
            graph.add_edge(block[0], nxt, kind="fallthrough")
        if kind in ("goto", "cond") and target is not None and target in seen:
            if graph.has_edge(block[0], target):  # `if ... goto pc+0`: both ways are one
                continue
            graph.add_edge(block[0], target, kind="taken")
        if kind == "call" and target is not None and target in seen:
            graph.add_edge(block[0], target, kind="call")
    return graph


def cfg_graph(log: Any) -> nx.DiGraph:
    """Return the control-flow graph of the instructions *log* shows, with visit counts.

    *log* is a :class:`bpfkit.verifier.Log`; see the module docstring for the attributes.
    """
    steps = log.steps
    visits: dict[int, int] = {}
    if len(steps):
        counts = steps["insn_idx"].dropna().astype("int64").value_counts()
        visits = {int(k): int(v) for k, v in counts.items()}
    return cfg_from_instructions(log.instructions, visits, error_insn=log.error_insn)


def cfg_layout(graph: nx.DiGraph) -> dict[int, tuple[float, float]]:
    """Return a deterministic layered layout: one row per block, in instruction order.

    Block *k* (by first instruction) sits at ``(0, -k)``; jumps are drawn as arcs beside the
    column by :func:`plot_cfg`.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph(); g.add_nodes_from([5, 0, 9])
    >>> cfg_layout(g)
    {0: (0.0, 0.0), 5: (0.0, -1.0), 9: (0.0, -2.0)}
    """
    return {node: (0.0, float(-rank)) for rank, node in enumerate(sorted(graph.nodes))}


def plot_cfg(
    log: Any,
    ax: Axes | None = None,
    *,
    graph: nx.DiGraph | None = None,
    max_labels: int = 60,
) -> Axes:
    """Draw the control-flow graph of *log*: blocks colored by visits, the failing block marked.

    Blocks stand in one column in instruction order (top to bottom); jumps arc on the right
    (forward solid blue, backward/loops dashed vermillion, bpf-to-bpf calls dotted green). Labels
    (instruction range, C line, visits) are drawn when there are at most *max_labels* blocks.
    """
    import matplotlib
    import numpy as np
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PatchCollection, PathCollection
    from matplotlib.font_manager import FontProperties
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.path import Path as MplPath
    from matplotlib.transforms import ScaledTranslation, blended_transform_factory

    from bpfkit.plot.figures import count_norm, integer_colorbar
    from bpfkit.plot.palette import OKABE_ITO
    from bpfkit.plot.style import new_axes

    g = graph if graph is not None else cfg_graph(log)
    ax = new_axes(ax)
    ticks: list[float] = []
    labels: list[str] = []
    root = ax.get_figure(root=True)
    assert root is not None
    # the panel as the layout will about make it: the subplot's share of its (sub)figure
    parent = ax.get_figure(root=False) or root
    box = ax.get_position()
    w_parent = float(parent.bbox.width) / float(root.dpi)
    w_fig = box.width * w_parent
    h_in = 0.85 * box.height * float(parent.bbox.height) / float(root.dpi)
    pos = cfg_layout(g)
    nodes = sorted(g.nodes)
    if not nodes:
        ax.text(
            0.5, 0.5, "no instructions in the log", ha="center", va="center", transform=ax.transAxes
        )
        ax.set_axis_off()
        return ax
    rank = {n: -pos[n][1] for n in nodes}
    visits = np.array([max(g.nodes[n]["visits"], 0) for n in nodes], dtype=float)
    norm = count_norm(max(2.0, float(visits.max())))
    cmap = matplotlib.colormaps["cividis"]
    width = 1.0
    rects = [Rectangle((-width / 2, -rank[n] - 0.4), width, 0.8) for n in nodes]
    colors = [cmap(norm(v)) if v > 0 else (1, 1, 1, 1) for v in visits]
    ax.add_collection(
        PatchCollection(rects, facecolors=colors, edgecolors="#555555", linewidths=0.5)
    )

    # Every jump arcs on the right of the column; labels stand on the left.
    groups: dict[str, list[MplPath]] = {"forward": [], "back": [], "call": []}
    codes = [MplPath.MOVETO, MplPath.CURVE3, MplPath.CURVE3]
    reach = 0.0
    for u, v, data in sorted(g.edges(data=True), key=lambda e: (e[0], e[1])):
        y0, y1 = -rank[u], -rank[v]
        if data["kind"] == "fallthrough" and rank[v] == rank[u] + 1:
            continue  # adjacent blocks: the column itself shows it
        span = abs(rank[v] - rank[u])
        bulge = width / 2 + 0.4 + 0.5 * math.log2(1 + span)
        reach = max(reach, bulge)
        x0 = width / 2
        path = MplPath([(x0, y0 - 0.25), (2 * bulge - x0, (y0 + y1) / 2), (x0, y1 + 0.25)], codes)
        key = "call" if data["kind"] == "call" else "forward" if rank[v] > rank[u] else "back"
        groups[key].append(path)
    styles: dict[str, tuple[str, Any, str]] = {
        "forward": (OKABE_ITO["blue"], "solid", "forward jump"),
        "back": (OKABE_ITO["vermillion"], "dashed", "back edge (loop)"),
        "call": (OKABE_ITO["bluish_green"], "dotted", "bpf-to-bpf call"),
    }
    handles: list[Any] = []
    for key, paths in groups.items():
        if paths:
            color, ls, label = styles[key]
            ax.add_collection(
                PathCollection(
                    paths, facecolors="none", edgecolors=color, linestyles=ls,
                    linewidths=max(0.8, 0.6 * float(matplotlib.rcParams["lines.linewidth"])),
                )
            )
            handles.append(Line2D([], [], color=color, linestyle=ls, label=label))
    for n in nodes:
        if g.nodes[n]["failing"]:
            ax.add_patch(
                Rectangle(
                    (-width / 2 - 0.08, -rank[n] - 0.48),
                    width + 0.16,
                    0.96,
                    facecolor="none",
                    edgecolor=OKABE_ITO["vermillion"],
                    linewidth=2.0,
                    hatch="xx",
                )
            )
            handles.append(
                Patch(
                    facecolor="none",
                    edgecolor=OKABE_ITO["vermillion"],
                    hatch="xx",
                    label="failing instruction",
                )
            )
    if len(nodes) <= max_labels:
        # labels as y tick labels, left of the blocks (the layout makes room for them); as
        # many as the panel's height holds: every k-th block beyond that
        size = FontProperties(size=matplotlib.rcParams["ytick.labelsize"]).get_size_in_points()
        fit = max(1, int(0.9 * h_in * 72 / (1.3 * size)))
        every = -(-len(nodes) // fit)
        for i, n in enumerate(nodes):
            if i % every:
                continue
            d = g.nodes[n]
            rng = f"{d['first']}" if d["first"] == d["last"] else f"{d['first']}-{d['last']}"
            src = f" L{d['src_line']}" if d["src_line"] is not None else ""
            ticks.append(-rank[n])
            labels.append(f"{rng}{src} ×{d['visits']}")
        ax.set_yticks(ticks, labels)
    else:
        ax.set_yticks([])
    x_lo, x_hi = -width / 2 - 0.15, reach + 0.15
    y_lo, y_hi = -len(nodes) + 0.4, 0.6
    # the graph keeps its shape (blocks a little wider than tall, the whole at least a
    # quarter of the figure wide, no wider than the room the block labels and the colour
    # bar leave) and the colour bar stands right beside it, inside the panel: the panel
    # keeps the graph's aspect with room on the right for the bar, its ticks and label
    size = FontProperties(size=matplotlib.rcParams["ytick.labelsize"]).get_size_in_points()
    longest = max((len(t) for t in labels), default=0)
    bar_in = 0.35 + 4.5 * size / 72  # gap, bar, tick labels, its label
    room = w_parent - 0.55 * longest * size / 72 - bar_in - 0.3
    s_y = h_in / (y_hi - y_lo)
    s_x = max(1.3 * s_y, 0.25 * w_fig / (x_hi - x_lo))
    s_x = max(min(s_x, room / (x_hi - x_lo)), 0.1 * w_parent / (x_hi - x_lo))
    ax.set_xlim(x_lo, x_hi + bar_in / s_x)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect(s_y / s_x, adjustable="box")
    ax.set_xticks([])
    ax.tick_params(axis="y", length=0)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    sm = ScalarMappable(norm=norm, cmap=cmap)
    # 0.12 in wide, 0.12 in right of the arcs, the middle 70 % of the graph's height
    arcs_end = ScaledTranslation(x_hi, 0, cast(Any, ax.transData))
    at = blended_transform_factory(root.dpi_scale_trans + arcs_end, ax.transAxes)
    cax = ax.inset_axes((0.12, 0.15, 0.12, 0.7), transform=at)
    cb = ax.figure.colorbar(sm, cax=cax, label="block entries")
    integer_colorbar(cb)
    if handles:
        # under the graph: beside it the block labels and arcs leave no free corner
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), borderaxespad=0.2)
    name = getattr(log, "name", None)
    ax.set_title(f"control flow{f' of {name}' if name else ''}: {len(nodes)} blocks")
    return ax
