"""The data behind the ownership figures, then that each figure draws it.

Inputs are the sample programs and their level-2 logs captured on this kernel (data/); the
expected numbers come from the kernel's own log (its leak report, its error instruction) and
from the independent tables of :mod:`bpfkit.ownership` the figures summarise.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from bpfkit.ownership.dynamic import (  # noqa: E402
    events_frame,
    flow_graph,
    lifetimes_frame,
    unreleased_refs,
)
from bpfkit.ownership.model import analyze  # noqa: E402
from bpfkit.plot.ownership import (  # noqa: E402
    graph_layout,
    lifetime_segments,
    plot_flow_sankey,
    plot_ownership_graph,
    plot_ref_lifetimes,
    sankey_frame,
)
from bpfkit.plot.style import new_figure, savefig  # noqa: E402
from bpfkit.verifier import load_log  # noqa: E402
from tests.corpus import DATA_LOGS, DATA_OBJECTS  # noqa: E402

L2_LOGS = sorted(DATA_LOGS.glob("*/*.l2.log"))


@pytest.mark.parametrize("obj", DATA_OBJECTS, ids=lambda p: p.name)
def test_graph_layout_puts_owners_left(obj: Path) -> None:
    g = analyze(obj, kernel=False).graph
    pos = graph_layout(g)
    assert set(pos) == set(g.nodes)
    for u, v in g.edges():
        if u == v:
            continue  # refcount self-loop
        assert pos[v][0] >= 1.0  # an owned type is never in the first column
        assert pos[v][0] <= pos[u][0] + 1.0  # breadth-first layers
    for n in g.nodes:
        if not [u for u in g.predecessors(n) if u != n]:
            assert pos[n][0] == 0.0
    # no two nodes share a position
    assert len(set(pos.values())) == len(pos)


@pytest.mark.parametrize("path", L2_LOGS, ids=lambda p: p.name)
def test_sankey_bands_are_the_flows(path: Path) -> None:
    [log] = load_log(path)
    g = flow_graph(log)
    df = sankey_frame(g)
    assert int(df["count"].sum()) == len(lifetimes_frame(log))
    for side in ("site", "sink"):
        assert ((df[f"{side}_y1"] - df[f"{side}_y0"]) == df["count"]).all()
        spans = sorted(zip(df[f"{side}_y0"], df[f"{side}_y1"], strict=True))
        for (_a0, a1), (b0, _b1) in zip(spans, spans[1:], strict=False):
            assert a1 <= b0  # bands never overlap on either side


@pytest.mark.parametrize("path", [p for p in L2_LOGS if "leak" in p.name], ids=lambda p: p.name)
def test_lifetimes_end_where_the_kernel_reports_the_leak(path: Path) -> None:
    [log] = load_log(path)
    seg = lifetime_segments(events_frame(log))
    leaks = unreleased_refs(log)
    leaked = seg[seg["end"] == "exit_leak"]
    assert sorted(leaked["ref_obj_id"]) == sorted(rid for rid, _ in leaks)
    assert set(leaked["end_insn"]) == {log.error_insn}
    assert (seg["start_insn"] <= seg["end_insn"]).all()


def test_figures_draw_their_data(tmp_path: Path) -> None:
    m = analyze(next(p for p in DATA_OBJECTS if p.name == "list.bpf.o"), kernel=False)
    fig = new_figure(figsize=(7, 4))
    ax = plot_ownership_graph(m.graph, fig.add_subplot())
    assert len(ax.patches) == m.graph.number_of_nodes() + m.graph.number_of_edges()
    [log] = load_log(DATA_LOGS / "refcount" / "refcount_evict_lru_ok.l2.log")
    fig2 = new_figure(figsize=(7, 4))
    ax2 = plot_flow_sankey(flow_graph(log), fig2.add_subplot())
    df = sankey_frame(flow_graph(log))
    n_sites, n_sinks = df["site"].nunique(), df["sink"].nunique()
    assert len(ax2.patches) == len(df) + n_sites + n_sinks
    fig3 = new_figure(figsize=(7, 3))
    ax3 = plot_ref_lifetimes(events_frame(log), fig3.add_subplot())
    assert len(ax3.patches) == len(lifetime_segments(events_frame(log)))
    a = savefig(fig2, tmp_path / "a.svg").read_bytes()
    b = savefig(fig2, tmp_path / "b.svg").read_bytes()
    assert a == b


def test_empty_inputs_draw_a_note() -> None:
    import pandas as pd

    ax = plot_ref_lifetimes(pd.DataFrame(columns=["path", "ref_obj_id", "event"]))
    assert ax.texts and ax.texts[0].get_text() == "no references"
    assert len(sankey_frame(pd.DataFrame())) == 0


def test_non_owning_views_end_at_unlock() -> None:
    [log] = load_log(DATA_LOGS / "list" / "list_non_owning_after_unlock.l2.log")
    ev = events_frame(log)
    seg = lifetime_segments(ev)
    [row] = seg[seg["end"] == "list_push"].to_dict("records")
    unlock = ev[ev["event"] == "invalidated"]["insn_idx"].tolist()
    assert unlock and row["non_owning_until"] == unlock[0] > row["end_insn"]
    ax = plot_ref_lifetimes(ev)
    assert "non-owning until unlock" in [t.get_text() for t in ax.get_legend().get_texts()]
