"""The flow chain's layout: the order of its columns, and that each arrow, as drawn, joins
its own two boxes and meets no other box (the box with its padding, stricter than the
layout check's text extents), at talk and paper size and in a panel narrower than either.

Inputs: level-2 logs of data/ the kernel wrote for the sample programs, chosen for their
shapes: long arrows past a column (rbtree_fill_loop_ok, nested_batch_list_ok), two
collections (refcount_evict_lru_ok), an object put back where it came from
(unstash_session_ok: take-out -> collection, right to left).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bpfkit.plot import render_figure, savefig, style
from bpfkit.plot.chain import flow_chain_frame, order_columns, plot_flow_chain
from bpfkit.plot.layout import check_layout
from bpfkit.verifier import load_log
from tests.corpus import DATA_LOGS

LOGS = [
    "rbtree/rbtree_fill_loop_ok",
    "list/nested_batch_list_ok",
    "refcount/refcount_evict_lru_ok",
    "kptr_stash/unstash_session_ok",
]


def _log(name: str) -> Any:
    return load_log(DATA_LOGS / f"{name}.l2.log")[0]


def _crossings(cols: list[list[Any]], edges: list[tuple[str, str]]) -> int:
    """Pairs of segments between neighbouring columns that cross, for *cols* as ordered."""
    at = {(k, it): j for k, c in enumerate(cols) for j, it in enumerate(c)}
    col = {it[1]: k for k, c in enumerate(cols) for it in c if it[0] == "box"}
    segs = []
    for i, (a, b) in enumerate(edges):
        ks = range(col[a], col[b] + 1)
        items = [("box", a)] + [("lane", i)] * (len(ks) - 2) + [("box", b)]
        pts = [at[(k, it)] for k, it in zip(ks, items, strict=True)]
        segs += [(k, p, q) for k, p, q in zip(ks, pts, pts[1:], strict=False)]
    return sum(1 for x in segs for y in segs
               if x[0] == y[0] and (x[1] - y[1]) * (x[2] - y[2]) < 0) // 2  # fmt: skip


def test_long_edges_pass_columns_in_lanes_in_barycentre_order() -> None:
    # as given, a (top) goes to c (bottom) and e (bottom) to b (top): they cross; a -> d
    # skips the middle column: a lane there, next to c where a's other arrow goes
    names = [["a", "e"], ["b", "c"], ["d"]]
    edges = [("a", "c"), ("e", "b"), ("a", "d"), ("b", "d")]
    cols = order_columns(names, edges, sweeps=0)
    assert _crossings(cols, edges) > 0
    cols = order_columns(names, edges)
    assert _crossings(cols, edges) == 0
    assert [[it for it in c if it[0] == "lane"] for c in cols] == [[], [("lane", 2)], []]
    assert sorted(it[1] for c in cols for it in c if it[0] == "box") == ["a", "b", "c", "d", "e"]


def test_every_edge_of_a_real_chain_has_a_lane_in_each_column_it_skips() -> None:
    df = flow_chain_frame(_log("rbtree/rbtree_fill_loop_ok"))
    names = [sorted(set(df.loc[df["source_col"] == c, "source"])
                    | set(df.loc[df["target_col"] == c, "target"]))
             for c in ("acquire", "collection", "take_out", "end")]  # fmt: skip
    edges = list(zip(df["source"], df["target"], strict=True))
    cols = order_columns(names, edges)
    col_of = {n: k for k, c in enumerate(names) for n in c}
    for i, (a, b) in enumerate(edges):
        lo, hi = sorted((col_of[a], col_of[b]))
        assert [k for k, c in enumerate(cols) if ("lane", i) in c] == list(range(lo + 1, hi))
    assert sorted(it[1] for c in cols for it in c if it[0] == "box") == sorted(col_of)


def _arrows(ax: Any) -> list[Any]:
    from matplotlib.patches import FancyArrowPatch

    return [a for a in ax.patches if isinstance(a, FancyArrowPatch)]


def _check_routes(fig: Any) -> None:
    """Every arrow starts on its source box, ends on its target box, and its line (as drawn,
    head included) crosses no other box."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.path import Path as MPath

    (ax,) = fig.axes
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    boxes = {id(t.get_bbox_patch()): t for t in ax.texts if t.get_bbox_patch() is not None}
    ext = {k: t.get_bbox_patch().get_window_extent(r) for k, t in boxes.items()}
    arrows = _arrows(ax)
    assert arrows
    for a in arrows:
        route = a.get_connectionstyle().path
        assert route is not None, "arrow not routed"
        (x0, y0), (x1, y1) = route.vertices[0], route.vertices[-1]
        src, dst = ext[id(a.patchA)], ext[id(a.patchB)]
        assert src.y0 <= y0 <= src.y1 and min(abs(x0 - src.x0), abs(x0 - src.x1)) < 1
        assert dst.y0 <= y1 <= dst.y1 and min(abs(x1 - dst.x0), abs(x1 - dst.x1)) < 1
        drawn, _fill = a._get_path_in_displaycoord()
        for whole in drawn if isinstance(drawn, list) else [drawn]:
            # line and head as polylines (a CLOSEPOLY's vertex is no point of the path)
            for p in map(MPath, whole.to_polygons(closed_only=False)):
                for k, e in ext.items():
                    if k not in (id(a.patchA), id(a.patchB)):
                        assert not p.intersects_bbox(e, filled=False), (
                            f"{a.patchA} -> {a.patchB} crosses {boxes[k].get_text()!r}"
                        )
                e = p.get_extents()  # and stays in the panel
                assert ax.bbox.contains(e.x0, e.y0) and ax.bbox.contains(e.x1, e.y1)


@pytest.mark.parametrize("st", ["talk", "paper"])
@pytest.mark.parametrize("name", LOGS, ids=[n.split("/")[1] for n in LOGS])
def test_arrows_meet_no_box_but_their_own(name: str, st: str) -> None:
    with style(st):
        fig = render_figure(_log(name), "chain")
    _check_routes(fig)
    assert check_layout(fig) == []


def test_a_narrow_panel_breaks_and_shrinks_labels_but_keeps_the_routes(tmp_path: Path) -> None:
    from bpfkit.plot.layout import tidy_ticks
    from bpfkit.plot.style import new_figure

    with style("paper"):
        fig = new_figure(figsize=(2.4, 2.0))
        ax = plot_flow_chain(_log("refcount/refcount_evict_lru_ok"), fig.add_subplot())
        size = max(t.get_fontsize() for t in ax.texts)
        tidy_ticks(fig)
    _check_routes(fig)
    texts = [t.get_text() for t in ax.texts]
    assert any("_\n" in t for t in texts)  # bpf_refcount_\nacquire: broken at an underscore
    assert max(t.get_fontsize() for t in ax.texts) < size  # and smaller type
    # the boxes fit (the x label is the one text a 2.4 in figure is too narrow for)
    assert [p for p in check_layout(fig) if p.what != ax.get_xlabel()] == []
    savefig(fig, tmp_path / "narrow.png")
