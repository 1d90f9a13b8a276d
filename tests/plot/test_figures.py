"""Figures: every program in data/logs plots, a few image comparisons, byte-identical files,
huge logs binned with a note, and the ``bpfkit plot`` command."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from matplotlib.testing.compare import compare_images

from bpfkit.cli import main
from bpfkit.plot import FIGURES, plot_cfg, plot_register_lanes, render_figure, savefig, style
from bpfkit.plot.compare import plot_compare
from bpfkit.verifier import Log, load_log
from tests.corpus import DATA_LOG_FILES, DATA_LOGS, DATA_LONG_LOOP_L2, LOG_RINGBUF_REF_LEAK

BASELINE = Path(__file__).parent / "baseline"


@functools.cache
def _logs(path: Path) -> tuple[Log, ...]:
    return tuple(load_log(path))


def _texts(fig: object) -> list[str]:
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text)]  # type: ignore[attr-defined]


# The level-2 logs: every figure drawn and its layout checked in test_layout_every_figure.py.
L1_LOGS = [p for p in DATA_LOG_FILES if ".l1." in p.name]


@pytest.mark.parametrize("path", L1_LOGS, ids=[p.name for p in L1_LOGS])
def test_every_program_in_data_logs_plots(path: Path) -> None:
    from bpfkit.plot.output import NothingToDraw, nothing_to_draw

    logs = _logs(path)
    assert logs
    for log in logs:
        with style("paper"):
            for name in FIGURES:
                why = nothing_to_draw(log, name)
                if why is not None:  # not drawn: and it says so
                    with pytest.raises(NothingToDraw, match=why):
                        render_figure(log, name, tidy=False)
                    continue
                fig = render_figure(log, name, tidy=False)
                assert fig.axes, name


# --- image comparisons (few, low dpi, tolerant) ---------------------------------------------


def _compare(tmp_path: Path, fig: object, name: str, dpi: int) -> None:
    actual = tmp_path / f"{name}.png"
    savefig(fig, actual, dpi=dpi)  # type: ignore[arg-type]
    expected = BASELINE / f"{name}.png"
    if not expected.exists():  # pragma: no cover - first run writes the baseline
        pytest.fail(f"no baseline {expected}; copy {actual} there after checking it by eye")
    err = compare_images(str(expected), str(actual), tol=8)
    assert err is None, err


def test_image_register_lanes_paper(tmp_path: Path) -> None:
    log = _logs(LOG_RINGBUF_REF_LEAK)[0]
    with style("paper"):
        ax = plot_register_lanes(log)
        _compare(tmp_path, ax.figure, "ringbuf_ref_leak-lanes-paper", 100)


def test_image_cfg_talk(tmp_path: Path) -> None:
    log = _logs(LOG_RINGBUF_REF_LEAK)[0]
    with style("talk"):
        ax = plot_cfg(log)
        _compare(tmp_path, ax.figure, "ringbuf_ref_leak-cfg-talk", 40)


# --- deterministic files ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_same_log_gives_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    outs = []
    for run in range(2):
        # Parse afresh each time, as two separate runs of the command would.
        log = load_log(LOG_RINGBUF_REF_LEAK)[0]
        with style("talk"):
            fig = render_figure(log, "summary")
            outs.append(savefig(fig, tmp_path / f"run{run}.{fmt}").read_bytes())
    assert outs[0] == outs[1]


def test_cli_twice_gives_identical_files(tmp_path: Path) -> None:
    log = DATA_LOGS / "rbtree" / "rbtree_remove_leak.l2.log"
    for run in ("a", "b"):
        assert (
            main(
                ["plot", str(log), "--style", "paper", "--format", "svg", "-o", str(tmp_path / run)]
            )
            == 0
        )
    a = sorted((tmp_path / "a").iterdir())
    assert [p.name for p in a] == sorted(f"rbtree_remove_leak-{n}.svg" for n in FIGURES)
    for p in a:
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes(), p.name


# --- huge logs ---------------------------------------------------------------------------------


def test_huge_log_is_binned_and_says_so() -> None:
    log = _logs(DATA_LONG_LOOP_L2)[0]
    assert len(log.steps) > 10_000
    with style("talk"):
        lanes = plot_register_lanes(log).figure
        ranges = render_figure(log, "ranges")
    assert any("binned" in t for t in _texts(lanes))
    assert any("binned" in t for t in _texts(ranges))
    # Binned lanes draw at most MAX_COLUMNS columns per lane, not one mark per step.
    from bpfkit.plot.figures import MAX_COLUMNS

    bars = [c for c in lanes.axes[0].collections if hasattr(c, "get_paths")]
    assert sum(len(c.get_paths()) for c in bars) <= 11 * MAX_COLUMNS * 2


# --- command line --------------------------------------------------------------------------------


def test_cli_program_filter_and_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = LOG_RINGBUF_REF_LEAK
    code = main(
        [
            "plot",
            str(log),
            "--program",
            "ringbuf_ref_leak",
            "--figure",
            "lanes",
            "--format",
            "png",
            "--dpi",
            "20",
            "-o",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert (tmp_path / "ringbuf_ref_leak-lanes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ringbuf_ref_leak-lanes.png" in capsys.readouterr().out
    assert main(["plot", str(log), "--program", "nope", "-o", str(tmp_path)]) == 1
    assert "nope" in capsys.readouterr().err


def test_cli_compare(tmp_path: Path) -> None:
    a = DATA_LOGS / "list" / "list_pop_leak.l2.log"
    b = DATA_LOGS / "list" / "list_pop_leak.l1.log"
    code = main(
        [
            "plot",
            str(a),
            "--figure",
            "cfg",
            "--compare",
            str(b),
            "--format",
            "pdf",
            "-o",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert (tmp_path / "list_pop_leak-compare.pdf").read_bytes().startswith(b"%PDF")


def test_compare_figure_shows_both_stats() -> None:
    a = _logs(DATA_LOGS / "loops" / "bucket_branches_ok.l2.log")[0]
    b = _logs(DATA_LOGS / "rbtree" / "rbtree_fill_loop_ok.l2.log")[0]
    with style("paper"):
        fig = plot_compare(a, b)
    texts = [
        c.get_text().get_text()
        for ax in fig.axes
        for t in ax.tables
        for c in t.get_celld().values()
    ]
    assert f"{a.stats.insns_processed:,}" in texts and f"{b.stats.insns_processed:,}" in texts


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_separate_processes_give_identical_files(tmp_path: Path, fmt: str) -> None:
    """Two runs of the command in fresh interpreters with different hash seeds (set and dict
    order differ) write the same bytes."""
    import os
    import subprocess
    import sys

    log = DATA_LOGS / "list" / "list_pop_leak.l2.log"
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = dict(os.environ, PYTHONHASHSEED=seed, MPLBACKEND="Agg")
        cmd = [
            sys.executable,
            "-m",
            "bpfkit.cli",
            "plot",
            str(log),
            "--figure",
            "summary",
            "--format",
            fmt,
            "-o",
            str(out),
        ]
        subprocess.run(cmd, check=True, env=env, capture_output=True, cwd=Path(__file__).parents[2])
        outs.append((out / f"list_pop_leak-summary.{fmt}").read_bytes())
    assert outs[0] == outs[1]


def test_cli_ranges_registers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = DATA_LOGS / "loops" / "bucket_branches_ok.l2.log"
    args = [
        "plot",
        str(log),
        "--figure",
        "ranges",
        "--regs",
        "r1,7",
        "--format",
        "svg",
        "-o",
        str(tmp_path),
    ]
    assert main(args) == 0
    assert (tmp_path / "bucket_branches_ok-ranges.svg").stat().st_size > 1000
    with style("paper"):
        fig = render_figure(_logs(log)[0], "ranges", regs=[1, 7])
    # a paper column gathers the panels' legends under the figure
    leg = fig.axes[0].get_legend() or fig.legends[0]
    labels = {t.get_text() for t in leg.get_texts()}
    assert labels == {"R1 min/max", "R7 min/max"}
    with pytest.raises(SystemExit):
        main(["plot", str(log), "--regs", "12", "-o", str(tmp_path)])
    assert "registers are 0..10" in capsys.readouterr().err


def test_cli_lists_every_figure() -> None:
    from bpfkit.plot import cli

    assert tuple(FIGURES) == cli._FIGURES


def test_visit_difference_by_line_for_two_programs() -> None:
    from bpfkit.plot.compare import plot_visit_difference

    a = _logs(DATA_LOGS / "loops" / "bucket_branches_ok.l2.log")[0]
    b = _logs(DATA_LOGS / "loops" / "kprobe_score_args_ok.l2.log")[0]
    with style("paper"):
        ax = plot_visit_difference(a, b)  # different code: compared per C line
    assert "C line" in ax.get_title(loc="left")
    assert all(t.get_text().startswith("L") for t in ax.get_xticklabels())
