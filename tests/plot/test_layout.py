"""Layout of the figures, checked from matplotlib's window extents: no text overlaps another,
leaves the figure or sits on data, in both styles (talk: 16:9 slides, paper: a 3.5 in
column), on small programs and on big real logs (windowed and grouped, and saying so).

Big logs: ``data/logs/loops/long_loop_ok`` (116,570 lines), the largest corpus log, and two
loop-heavy bpf_list push/pop programs (tests/plot/programs/big_list.bpf.c) compiled with
clang-19 and loaded at log level 2 into the running kernel here (tens of thousands of lines,
hundreds of reference ids). Every figure of every program in data/ is checked by
``make layout`` (tests/bench/layout_sweep.py), which takes longer than a test may.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from bpfkit.plot import FIGURES, render_figure, savefig, style
from bpfkit.plot.layout import check_layout, format_problems
from bpfkit.plot.timeline import ownership_timeline
from bpfkit.plot.window import WINDOW_STEPS, choose_window
from bpfkit.verifier import Log, load_log
from tests.corpus import CORPUS_LOGS, DATA_LOGS, DATA_LONG_LOOP_L2

PROGRAMS = Path(__file__).parent / "programs"


@functools.cache
def _log(path: Path, program: str | None = None) -> Log:
    logs = load_log(path, program=program)
    assert logs, path
    return logs[0]


def _check(log: Log, name: str, st: str) -> None:
    with style(st):
        fig = render_figure(log, name)
        problems = check_layout(fig)
    assert not problems, f"{log.name} {name} ({st}):\n{format_problems(problems)}"


# --- small programs: every figure kind, both styles -------------------------------------------

SMALL = [
    DATA_LOGS / "alloc" / "obj_drop_twice.l2.log",
    DATA_LOGS / "list" / "list_push_pop_ok.l2.log",
]


@pytest.mark.parametrize("st", ["talk", "paper"])
@pytest.mark.parametrize("name", list(FIGURES))
@pytest.mark.parametrize("path", SMALL, ids=[p.stem for p in SMALL])
def test_small_program_figures_have_no_collisions(path: Path, name: str, st: str) -> None:
    _check(_log(path), name, st)


# --- big real logs ------------------------------------------------------------------------------


def _big_corpus_log() -> Path:
    logs = sorted(CORPUS_LOGS.glob("*/*.log"), key=lambda p: p.stat().st_size)
    if not logs:
        pytest.skip(f"no shared corpus logs in {CORPUS_LOGS}")
    return logs[-1]


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


@pytest.mark.parametrize("st", ["talk", "paper"])
@pytest.mark.parametrize("name", ["summary", "references", "ownership"])
def test_big_generated_logs_have_no_collisions(
    big_logs: dict[str, Path], name: str, st: str
) -> None:
    log = _log(big_logs["list_churn_leak"])
    win = choose_window(log)
    assert win.how == "error" and win.stop == len(log.steps)
    _check(log, name, st)


@pytest.mark.parametrize("st", ["talk", "paper"])
@pytest.mark.parametrize("name", ["summary", "lanes", "ranges"])
def test_long_loop_log_is_windowed_and_has_no_collisions(name: str, st: str) -> None:
    log = _log(DATA_LONG_LOOP_L2)
    with style(st):
        fig = render_figure(log, name)
        problems = check_layout(fig)
        texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert not problems, format_problems(problems)
    # (a paper column wraps the note: compare with the line breaks as spaces)
    said = [" ".join(str(t).split()) for t in texts]
    assert any("busiest window" in t for t in said), "the figure says it shows a window"


@pytest.mark.parametrize("st", ["talk", "paper"])
def test_largest_corpus_log_summary_has_no_collisions(st: str) -> None:
    _check(_log(_big_corpus_log()), "summary", st)


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
