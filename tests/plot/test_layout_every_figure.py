"""Every figure of every program, checked for collisions: the layout test of issue #15.

Every figure kind (``bpfkit.plot.FIGURES``) of every program of ``data/`` (its level-2 log),
of the largest logs of the shared corpus and of the big generated logs (``conftest.big_logs``:
~94,000-line bpf_list push/pop loops loaded into the running kernel), in both styles: talk
(a 16:9 slide, 13.33 x 7.5 in) and paper (a 3.5 in column; the multi-panel figures a page
wide). From matplotlib's window extents after the layout (``bpfkit.plot.layout``): no two
texts overlap, no text or legend covers data, no text leaves the figure; a figure of a
windowed big log says which window it shows. A figure with nothing to show is not drawn
(``bpfkit.plot.output.nothing_to_draw``); the test checks it truly has nothing.

Speed, so that the whole sweep fits in the test suite: each log is parsed once, each figure
is laid out without painting a pixel, the check reuses the layout ``render_figure`` did,
nothing is written to disk, and the logs are shared between two worker processes
(``tests/bench/layout_sweep.py``, also ``make layout``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.bench.layout_sweep import Checked, data_logs, sweep
from tests.corpus import CORPUS_LOG_FILES

#: Every program of data/ (one level-2 log each; the level-1 logs repeat their programs).
DATA = data_logs()
#: The largest real logs of the shared corpus (bpfix-bench, selftests: 6.15 level-2 logs).
CORPUS_BIG = sorted(CORPUS_LOG_FILES, key=lambda p: p.stat().st_size)[-4:]
JOBS = min(2, os.cpu_count() or 1)


def _name(p: Path) -> str:
    return p.name.split(".")[0]


@pytest.fixture(scope="module")
def checked(request: pytest.FixtureRequest) -> dict[str, list[Checked]]:
    """The sweep over every log the selected tests check, once for the module: file -> its
    figures, checked."""
    chosen: set[Any] = set()
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        chosen.update(params.get(k) for k in ("path", "program") if k in params)
    paths = [p for p in [*DATA, *CORPUS_BIG] if p in chosen and p.exists()]
    if chosen & {"list_churn_ok", "list_churn_leak"}:
        try:
            big = request.getfixturevalue("big_logs")
            paths += [big[n] for n in ("list_churn_ok", "list_churn_leak") if n in chosen]
        except pytest.skip.Exception:
            pass  # no kernel or clang here: data/ and the corpus still run
    out: dict[str, list[Checked]] = {str(p): [] for p in paths}
    for c in sweep(paths, JOBS):
        out[c.file].append(c)
    return out


#: Known layout problems, left open (program, style, figure) -> why. Each is an xfail of its
#: log's test while the rest of the log's figures must be clean; fixing it makes it pass.
KNOWN: dict[tuple[str, str, str], str] = {}


def _assert_clean(results: list[Checked], path: Path) -> None:
    assert results, f"{path}: no figure drawn"
    known = [
        c for c in results if c.status == "problems" and (c.program, c.style, c.figure) in KNOWN
    ]
    results = [c for c in results if c not in known]
    _assert_clean_rest(results, path)
    if known:
        pytest.xfail("; ".join(KNOWN[(c.program, c.style, c.figure)] for c in known))


def _assert_clean_rest(results: list[Checked], path: Path) -> None:
    bad = [c for c in results if c.status == "problems"]
    msg = "\n".join(f"{c.program} {c.style} {c.figure}: " + "; ".join(c.problems[:6]) for c in bad)
    assert not bad, f"{len(bad)} figures with layout problems:\n{msg}"
    drawn = {(c.program, c.figure) for c in results if c.status != "skipped"}
    for c in results:  # what is drawn is drawn in both styles
        assert c.status != "skipped" or (c.program, c.figure) not in drawn, c
    for c in results:
        if c.status == "skipped":
            _assert_nothing(c, path)


def _assert_nothing(c: Checked, path: Path) -> None:
    """A skipped figure has nothing to show: its data, computed apart from the drawing."""
    from bpfkit.plot import data as D
    from bpfkit.plot.chain import flow_chain_frame
    from bpfkit.plot.timeline import ownership_timeline
    from bpfkit.plot.window import choose_window
    from bpfkit.verifier import load_log

    (log,) = load_log(path, program=c.program)[:1]
    win = choose_window(log)
    if c.figure == "references":
        for df in (D.reference_lifetimes(log), D.non_owning_refs(log)):
            if len(df):
                df = df[(df["end_step"] >= win.start) & (df["start_step"] < win.stop)]
            assert not len(df), c
    elif c.figure == "ownership":
        seg = ownership_timeline(log).segments
        seg = seg[(seg["end_step"] >= win.start) & (seg["start_step"] < win.stop)]
        assert not len(seg), c
    elif c.figure == "chain":
        assert not len(flow_chain_frame(log)), c
    elif c.figure == "ranges":
        assert not len(D.range_series(log, None)), c
    else:
        pytest.fail(f"{c.figure} of {c.program} not drawn: {c.problems}")


@pytest.mark.slow
@pytest.mark.parametrize("path", DATA, ids=[_name(p) for p in DATA])
def test_every_figure_of_data_programs(path: Path, checked: dict[str, list[Checked]]) -> None:
    _assert_clean(checked[str(path)], path)


@pytest.mark.slow
@pytest.mark.parametrize("path", CORPUS_BIG, ids=[_name(p) for p in CORPUS_BIG])
def test_every_figure_of_big_corpus_logs(path: Path, checked: dict[str, list[Checked]]) -> None:
    if not path.exists():
        pytest.skip(f"no shared corpus at {path.parent}")
    _assert_clean(checked[str(path)], path)


@pytest.mark.slow
@pytest.mark.parametrize("program", ["list_churn_ok", "list_churn_leak"])
def test_every_figure_of_big_generated_logs(
    program: str, big_logs: dict[str, Path], checked: dict[str, list[Checked]]
) -> None:
    path = big_logs[program]
    results = checked[str(path)]
    _assert_clean(results, path)
    # big: windowed (the worker asserts each windowed figure says so) and every kind drawn
    assert {c.figure for c in results if c.status == "ok"} >= {"summary", "ownership",
                                                               "references", "lanes"}  # fmt: skip


def test_the_sweep_covers_every_program_of_data() -> None:
    import csv

    manifest = (Path(__file__).parents[2] / "data/logs/MANIFEST.tsv").read_text().splitlines()
    rows = list(csv.DictReader(manifest, delimiter="\t"))
    programs = {r.get("program") for r in rows if r.get("program")}
    names = {p.name.split(".")[0] for p in DATA}
    assert programs and programs <= names, programs - names
