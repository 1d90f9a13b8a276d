"""Figures of a comparison: the data behind each first, then the drawings' layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bpfkit.corpus import compare_runs, open_corpus
from bpfkit.corpus.figures import (
    change_distribution,
    most_changed,
    plot_change_distribution,
    plot_scatter,
    plot_top_regressions,
    scatter_data,
    top_regressions,
    write_compare_figures,
)

A = pd.DataFrame(
    {
        "object": ["o"] * 5,
        "program": list("pqrst"),
        "status": "ok",
        "verdict": ["accept", "accept", "reject", "accept", "accept"],
        "insns_processed": [100, 10, 0, 1000, 50],
    }
)
B = pd.DataFrame(
    {
        "object": ["o"] * 5,
        "program": list("pqrsu"),
        "status": "ok",
        "verdict": ["accept", "reject", "reject", "accept", "accept"],
        "insns_processed": [150, 9, 4, 1000, 50],
    }
)


def test_the_data_behind_the_figures() -> None:
    c = compare_runs(A, B, stats=["insns_processed"])
    s = scatter_data(c).set_index("program")
    assert s.loc["q", "category"] == "verdict changed" and s.loc["p", "category"] == "same accept"
    assert s.loc["r", "a"] == 1.0 and bool(s.loc["r", "clipped"])  # 0 drawn at 1 on log axes
    assert "t" not in s.index and "u" not in s.index  # one run only
    d = change_distribution(c).set_index("bin")["programs"]
    assert d.sum() == 4 and d["0"] == 1 and d["+25…+50%"] == 0 and d["+50…+100%"] == 1
    assert d["-10…-5%"] == 1 and d["≥ +200%"] == 1  # 0 -> 4 counts as the largest growth
    assert top_regressions(c)["program"].tolist() == ["p", "r"]
    assert top_regressions(c, improvements=True)["program"].tolist() == ["q"]
    assert most_changed(c, n=3)["program"].tolist() == ["q", "r", "p"]


def _texts_inside(fig: Any) -> None:
    """Everything matplotlib draws (titles, labels, tick labels, legend, notes) lies inside
    the figure, and the texts of the axes do not overlap each other."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
    fb = fig.bbox
    assert tight.x0 >= -1 and tight.y0 >= -1, tight
    assert tight.x1 <= fb.x1 + 1 and tight.y1 <= fb.y1 + 1, (tight, fb)
    ax = fig.axes[0]
    texts = [ax.title, ax._left_title, ax.xaxis.label, ax.yaxis.label]
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_text()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_figures_keep_their_texts_inside(parsed_l2: Path, parsed_v4: Path) -> None:
    from bpfkit.plot import style

    c = compare_runs(open_corpus(parsed_l2), open_corpus(parsed_v4))
    with style("paper"):
        for ax in (
            plot_scatter(c, labels=("-mcpu=v1", "-mcpu=v4")),
            plot_change_distribution(c),
            plot_top_regressions(c),
        ):
            _texts_inside(ax.figure)


def test_write_compare_figures(parsed_l2: Path, parsed_v4: Path, tmp_path: Path) -> None:
    a, b = open_corpus(parsed_l2), open_corpus(parsed_v4)
    c = compare_runs(a, b)
    paths = write_compare_figures(a, b, c, tmp_path / "one", evolution=1, labels=("v1", "v4"))
    top = most_changed(c, n=1)
    expected = {
        "scatter-insns_processed.svg",
        "changes-insns_processed.svg",
        "regressions-insns_processed.svg",
    } | {f"evolution-{o}-{p}.svg" for o, p in zip(top["object"], top["program"], strict=True)}
    assert {p.name for p in paths} == expected
    svg = (tmp_path / "one" / "scatter-insns_processed.svg").read_text()
    assert "insns_processed" in svg and "v4" in svg  # text stays text
    again = write_compare_figures(a, b, c, tmp_path / "two", evolution=1, labels=("v1", "v4"))
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
