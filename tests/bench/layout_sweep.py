"""Render every figure of every program in data/logs (level 2) and of the given logs, in
both styles (talk: a 16:9 slide; paper: a 3.5 in column, the multi-panel figures a page
wide), and check the layout (`bpfkit.plot.layout.check_layout`): no text overlaps another,
leaves the figure or covers data; a figure of a big log says which window it shows. Prints
one line per figure and a summary; exits 1 if any figure has a problem.

    python tests/bench/layout_sweep.py [-j N] [LOG...]        # `make layout`

`tests/plot/test_layout_every_figure.py` runs the same sweep (:func:`sweep_file`) as a test.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STYLES = ("talk", "paper")
#: What a figure of a windowed log prints (bpfkit.plot.window.Window.label).
_WINDOW_WORDS = ("busiest window", "where the error is", "first steps", "last steps")


class Checked(NamedTuple):
    """One figure of one program in one style, checked."""

    file: str
    program: str
    style: str
    figure: str
    #: ``ok``, ``problems`` or ``skipped`` (the figure has nothing to show: not drawn).
    status: str
    #: The layout problems (or why the figure was skipped), as text.
    problems: tuple[str, ...]
    seconds: float


def data_logs() -> list[Path]:
    """The level-2 log of every program in data/logs."""
    return sorted((ROOT / "data" / "logs").rglob("*.l2.log*"))


def sweep_file(path: str | Path) -> list[Checked]:
    """Every figure of every program of the log at *path*, both styles, checked. The log is
    parsed once; each figure is laid out once for its tick labels and checked on that layout
    (no second layout, nothing painted, nothing written)."""
    from bpfkit.plot import FIGURES, render_figure, style
    from bpfkit.plot.layout import check_layout
    from bpfkit.plot.output import WINDOWED, NothingToDraw
    from bpfkit.plot.window import WINDOW_STEPS
    from bpfkit.verifier import load_log

    out: list[Checked] = []
    for log in load_log(path):
        if not len(log.steps):
            continue
        big = len(log.steps) > WINDOW_STEPS
        for st in STYLES:
            with style(st):
                for name in FIGURES:
                    t0 = time.process_time()
                    try:
                        fig = render_figure(log, name)
                    except NothingToDraw as exc:
                        out.append(Checked(str(path), log.name or "", st, name, "skipped",
                                           (str(exc),), time.process_time() - t0))  # fmt: skip
                        continue
                    found = [str(p) for p in check_layout(fig, redraw=False)]
                    if big and name in WINDOWED:
                        texts = " ".join(
                            " ".join(t.get_text().split())
                            for t in fig.findobj(lambda a: hasattr(a, "get_text"))
                        )
                        if not any(w in texts for w in _WINDOW_WORDS):
                            found.append(f"unlabelled: {len(log.steps):,} steps, no window label")
                    out.append(Checked(str(path), log.name or "", st, name,
                                       "problems" if found else "ok", tuple(found),
                                       time.process_time() - t0))  # fmt: skip
    return out


def sweep(paths: list[Path], jobs: int = 2) -> list[Checked]:
    """:func:`sweep_file` over *paths* in *jobs* worker processes, biggest files first."""
    order = sorted(paths, key=lambda p: -p.stat().st_size * (8 if p.suffix == ".xz" else 1))
    if jobs <= 1:
        return [c for p in order for c in sweep_file(p)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork")  # the parent's imports, not a fresh interpreter
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        return [c for part in pool.map(sweep_file, order) for c in part]


def main(argv: list[str]) -> int:
    import os

    jobs = os.cpu_count() or 1
    if argv[:1] == ["-j"]:
        jobs, argv = int(argv[1]), argv[2:]
    paths = data_logs() + [Path(a) for a in argv]
    start = time.perf_counter()
    checked = sweep(paths, jobs)
    bad = 0
    for c in checked:
        print(f"{c.program:40s} {c.style:5s} {c.figure:10s} {c.status:8s} {c.seconds:6.2f}s")
        for p in c.problems[:5]:
            print(f"      {p}")
        bad += c.status == "problems"
    cpu = sum(c.seconds for c in checked)
    print(f"{len(checked)} figures ({sum(c.status == 'skipped' for c in checked)} with nothing "
          f"to show, not drawn), {bad} with layout problems; {cpu:.0f} s CPU, "
          f"{time.perf_counter() - start:.0f} s on {jobs} processes")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
