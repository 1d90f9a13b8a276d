"""Render every figure of every program in data/logs (level 2) and of the given big logs, in
both styles, and check the layout (`bpfkit.plot.layout.check_layout`): no text overlaps
another, leaves the figure or covers data. Prints one line per figure and a summary;
exits 1 if any figure has a problem.

    python tests/bench/layout_sweep.py [LOG...]        # `make layout`
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    from bpfkit.plot import FIGURES, render_figure, style
    from bpfkit.plot.layout import check_layout
    from bpfkit.verifier import load_log

    paths = sorted((ROOT / "data" / "logs").rglob("*.l2.log*")) + [Path(a) for a in argv]
    bad = 0
    total = 0
    start = time.perf_counter()
    for path in paths:
        for log in load_log(path):
            for st in ("talk", "paper"):
                with style(st):
                    for name in FIGURES:
                        t0 = time.perf_counter()
                        fig = render_figure(log, name)
                        problems = check_layout(fig, redraw=False)
                        total += 1
                        bad += bool(problems)
                        dt = time.perf_counter() - t0
                        print(f"{log.name:40s} {st:5s} {name:10s} {len(problems):3d} {dt:6.2f}s",
                              flush=True)  # fmt: skip
                        for p in problems[:5]:
                            print(f"      {p}", flush=True)
    print(f"{total} figures, {bad} with layout problems, {time.perf_counter() - start:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
