"""What the drawing reuses to be fast gives the bytes matplotlib gives without it.

``tidy_ticks`` and ``savefig`` compute each axis' ticks once per draw
(``layout.remembered_ticks``), lay out each text once (``layout.reused_text_layouts``), read
font height metrics once per renderer, and ``savefig`` writes a figure in the layout
``tidy_ticks`` made. The oracle is matplotlib itself, with the reuse switched off.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfkit.plot import layout, render_figure, savefig, style
from bpfkit.verifier import Log, load_log
from tests.corpus import DATA_LOGS

# a rejected program with a reference (every panel of the summary) and a loop (log colour bars)
LOGS = (
    DATA_LOGS / "alloc" / "obj_new_leak_on_short_packet.l2.log",
    DATA_LOGS / "list" / "map_list_drain_loop_ok.l2.log",
)


@functools.cache
def _log(path: Path) -> Log:
    return load_log(path)[0]


@contextlib.contextmanager
def _plain() -> Iterator[None]:
    yield


@contextlib.contextmanager
def _every_time(fig: Any) -> Iterator[dict[int, list[Any]]]:
    """``remembered_ticks`` without the reuse: each axis computes its ticks whenever asked
    (matplotlib's own behaviour); the ticks drawn are recorded as ``tidy_ticks`` needs."""
    drawn: dict[int, list[Any]] = {}
    axes = layout._axes_of(fig)
    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            axis._update_ticks = _recording(axis, drawn)
    try:
        yield drawn
    finally:
        for ax in axes:
            for axis in (ax.xaxis, ax.yaxis):
                axis.__dict__.pop("_update_ticks", None)


def _recording(axis: Any, drawn: dict[int, list[Any]]) -> Any:
    update = type(axis)._update_ticks

    def record() -> Any:
        drawn[id(axis)] = ticks = update(axis)
        return ticks

    return record


def _svg(log: Log, name: str, st: str, path: Path) -> bytes:
    with style(st):
        fig = render_figure(log, name)
        return savefig(fig, path).read_bytes()


@pytest.mark.parametrize("path", LOGS, ids=[p.name.split(".")[0] for p in LOGS])
@pytest.mark.parametrize("name", ["summary", "references"])
def test_reused_ticks_and_text_layouts_give_the_same_bytes(
    path: Path, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(path)
    fast = _svg(log, name, "paper", tmp_path / "fast.svg")
    monkeypatch.setattr(layout, "remembered_ticks", _every_time)
    monkeypatch.setattr(layout, "reused_text_layouts", _plain)
    monkeypatch.setattr(layout, "_font_height_metrics", lambda dpi: None)
    plain = _svg(log, name, "paper", tmp_path / "plain.svg")
    assert fast == plain


def test_font_metrics_hook_measures_what_matplotlib_measures() -> None:
    from matplotlib.text import Text

    with style("paper"):
        fig = render_figure(_log(LOGS[1]), "summary", tidy=False)
        r = layout._renderer(fig)
        assert hasattr(r, "_get_font_height_metrics")
        texts = [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
        hooked = [t.get_window_extent(r).bounds for t in texts]
        del r._get_font_height_metrics
        own = [t.get_window_extent(r).bounds for t in texts]
    assert len(texts) > 100
    assert hooked == own


def test_savefig_writes_the_layout_tidy_ticks_made(tmp_path: Path) -> None:
    with style("paper"):
        fig = render_figure(_log(LOGS[0]), "summary")
        runs = _count_layouts(fig, lambda: savefig(fig, tmp_path / "a.svg"))
        assert runs == 0  # laid out by tidy_ticks, unchanged since: no layout of its own
        assert fig.get_layout_engine() is not None  # the engine is given back
        fresh = render_figure(_log(LOGS[0]), "summary")  # as tidy_ticks laid it out
        got = [v for ax in fig.axes for v in ax.get_position().bounds]
        assert got == pytest.approx([v for ax in fresh.axes for v in ax.get_position().bounds])
        fig.axes[0].set_title("changed after tidy_ticks")  # stale: laid out again
        assert _count_layouts(fig, lambda: savefig(fig, tmp_path / "b.svg")) == 1


def _count_layouts(fig: Any, action: Any) -> int:
    engine = fig.get_layout_engine()
    calls = []
    execute = engine.execute

    def counted(f: Any) -> Any:
        calls.append(f)
        return execute(f)

    engine.execute = counted
    try:
        action()
    finally:
        del engine.execute
    return len(calls)


def test_summary_puts_where_a_reference_was_acquired_under_its_name() -> None:
    with style("paper"):
        fig = render_figure(_log(LOGS[0]), "summary")
    refs = next(ax for ax in fig.axes if "reference lifetimes" in ax.get_title(loc="left"))
    labels = [t.get_text() for t in refs.get_yticklabels()]
    assert labels and all("\n@" in x for x in labels), labels
    lanes = next(ax for ax in fig.axes if "register types" in ax.get_title(loc="left"))
    # the column starts where the widest line of the reference labels ends, not a whole
    # one-line label further right: under a fifth of the page
    assert lanes.get_position().x0 < 0.2
    assert layout.check_layout(fig, redraw=False) == []
