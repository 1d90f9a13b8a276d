"""The big logs the figures are checked on, windows, and the bytes of SVG and PDF output.

The layout of every figure of every program (data/, the corpus' largest logs and the big
generated logs below) is checked by ``test_layout_every_figure.py``. Big logs: two loop-heavy
bpf_list push/pop programs (tests/plot/programs/big_list.bpf.c) compiled with clang-19 and
loaded at log level 2 into the running kernel here (tens of thousands of lines, hundreds of
reference ids; ``conftest.big_logs``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from bpfkit.plot import render_figure, savefig, style
from bpfkit.plot.timeline import ownership_timeline
from bpfkit.plot.window import WINDOW_STEPS
from bpfkit.verifier import Log, load_log
from tests.corpus import DATA_LOGS, DATA_LONG_LOOP_L2


@functools.cache
def _log(path: Path, program: str | None = None) -> Log:
    logs = load_log(path, program=program)
    assert logs, path
    return logs[0]


def test_generated_logs_are_big_real_logs(big_logs: dict[str, Path]) -> None:
    ok = _log(big_logs["list_churn_ok"])
    leak = _log(big_logs["list_churn_leak"])
    assert ok.verdict == "accept" and leak.verdict == "reject"
    assert len(ok.text.splitlines()) > 50_000
    assert len(ok.steps) > WINDOW_STEPS
    tl = ownership_timeline(ok)
    # hundreds of objects, each pushed into the list: transfers, not releases
    assert tl.segments["ref_obj_id"].nunique() > 300
    assert (tl.marks["mark"] == "push").sum() > 100
    assert set(tl.segments.loc[tl.segments["kind"] == "list", "owner"]) == {"list items"}
    # the leak names the branch that leads to it
    assert any("leak on the path where insn" in n for n in ownership_timeline(leak).notes)


def test_window_option_chooses_the_steps(tmp_path: Path) -> None:
    from bpfkit.cli import main

    log = DATA_LONG_LOOP_L2
    out = tmp_path / "w"
    argv = ["plot", str(log), "--figure", "lanes", "--window", "100:400", "--format", "svg"]
    assert main([*argv, "--no-progress", "-o", str(out)]) == 0
    svg = next(out.iterdir()).read_text()
    assert "steps 100–400 of" in svg  # SVG text stays text
    assert main(["plot", str(log), "--window", "nonsense", "-o", str(out)]) == 1


# --- SVG text and determinism -------------------------------------------------------------------


def test_svg_keeps_text_and_is_byte_identical(tmp_path: Path) -> None:
    outs = []
    for run in range(2):
        log = load_log(DATA_LOGS / "alloc" / "obj_new_leak.l2.log")[0]
        with style("paper"):
            fig = render_figure(log, "ownership")
            outs.append(savefig(fig, tmp_path / f"run{run}.svg").read_bytes())
    assert outs[0] == outs[1]
    text = outs[0].decode()
    assert "<text" in text and "ownership timeline" in text
    assert "font-family" in text or "font:" in text


def test_pdf_embeds_truetype_fonts(tmp_path: Path) -> None:
    log = _log(DATA_LOGS / "alloc" / "obj_new_leak.l2.log")
    with style("talk"):
        pdf = savefig(render_figure(log, "lanes"), tmp_path / "lanes.pdf").read_bytes()
    assert b"/FontFile2" in pdf  # Type 42: the TrueType font program embedded
    assert b"/Subtype /Type3" not in pdf


# --- figures and panels with nothing to show -------------------------------------------------


def test_a_figure_with_nothing_to_show_is_not_written(tmp_path: Path, capsys: Any) -> None:
    from bpfkit.cli import main
    from bpfkit.plot import reference_lifetimes
    from bpfkit.plot.data import non_owning_refs

    path = DATA_LOGS / "loops" / "bucket_branches_ok.l2.log"
    log = _log(path)
    # the oracle: the log holds no reference and no owned object
    assert not len(reference_lifetimes(log)) and not len(non_owning_refs(log))
    assert not len(ownership_timeline(log).segments)
    assert main(["plot", str(path), "--format", "svg", "--no-progress", "-o", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [f"bucket_branches_ok-{n}.svg" for n in
                       ("cfg", "effort", "lanes", "ranges", "summary")]  # fmt: skip
    err = capsys.readouterr().err
    assert "no references figure" in err and "no ownership figure" in err
    # the summary leaves the reference panels out
    with style("talk"):
        fig = render_figure(log, "summary")
    titles = {ax.get_title(loc="left") for ax in fig.get_axes()}
    assert "register types" in titles and "reference lifetimes" not in titles


def test_references_figure_leaves_out_an_empty_panel() -> None:
    from bpfkit.plot.data import non_owning_refs

    log = _log(DATA_LOGS / "alloc" / "obj_new_leak.l2.log")
    assert not len(non_owning_refs(log))
    with style("paper"):
        fig = render_figure(log, "references")
    what = [getattr(ax, "_bpfkit_what", "") for ax in fig.get_axes()]
    assert what == ["reference lifetimes", "references held (refs=)"]


def test_visits_colour_bar_is_beside_its_strip() -> None:
    from bpfkit.plot.layout import _renderer

    log = _log(DATA_LOGS / "list" / "map_list_drain_loop_ok.l2.log")
    for st in ("talk", "paper"):
        with style(st):
            fig = render_figure(log, "effort")
            r = _renderer(fig)
            strip = fig.get_axes()[0]
            (cax,) = [a for a in strip.child_axes if hasattr(a, "_colorbar")]
            s, c = strip.get_window_extent(r), cax.get_window_extent(r)
            gap_in = (c.x0 - s.x1) / fig.dpi
            assert 0 <= gap_in < 0.2, (st, gap_in)  # attached: less than 0.2 in from it
            assert abs(c.y0 - s.y0) < 1 and abs(c.y1 - s.y1) < 1  # as tall as the strip
