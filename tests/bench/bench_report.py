"""Benchmark: what one page of the report costs, per component, beside the kernel itself.

For every program of data/ (one process, no workers) it times the report's components
(parse the level-2 log, explain the error, static ownership prediction and flows, the page's
figures) and prints them beside the reference measured in the same run: loading the same
program into the running kernel at log level 2 with bpfkit.kernel (libbpf), wall time.
Without root the kernel column says so and only bpfkit's figures are printed. Finally the
whole ``build_report`` of data/ with the default worker processes, cold (an empty output
directory: no figure reused from the cache): wall and CPU time, and where the time went (the
wall and CPU time of each stage, each component summed over the workers). On a shared
machine compare the CPU seconds; the load average is printed with them.

Run: .venv/bin/python tests/bench/bench_report.py
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bpfkit.errors import BpfkitError
from bpfkit.report import build_report, discover_inputs, explain_error
from bpfkit.report import figures as report_figures
from bpfkit.report.build import describe_timings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"


def _kernel_ok() -> bool:
    try:
        from bpfkit.kernel import check_environment

        check_environment()
    except (BpfkitError, OSError):
        return False
    return os.geteuid() == 0


def main() -> int:
    from bpfkit.obj import load_object
    from bpfkit.ownership.static import flows_frame, predict
    from bpfkit.verifier import load_log

    live = _kernel_ok()
    items = discover_inputs([DATA])
    rows = []
    kinds: dict[str, float] = {}  # CPU seconds per kind of figure, every program
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for item in items:
            t = time.perf_counter()
            log = load_log(item.best_log, program=item.program)[0] if item.best_log else None
            t_log = time.perf_counter() - t
            t = time.perf_counter()
            if log is not None:
                explain_error(log)
            t_explain = time.perf_counter() - t
            t = time.perf_counter()
            flows = None
            if item.object_path is not None:
                obj = load_object(item.object_path)
                predict(obj, item.program)
                flows = flows_frame(obj, item.program)
            t_own = time.perf_counter() - t
            t = time.perf_counter()
            for _title, name, draw in report_figures.program_figures(log, flows):
                cpu = time.process_time()
                draw(out / f"{item.key}-{name}.svg")
                kinds[name] = kinds.get(name, 0.0) + time.process_time() - cpu
            t_fig = time.perf_counter() - t
            t_kernel = None
            if live and item.object_path is not None:
                from bpfkit.kernel import load_programs

                t = time.perf_counter()
                load_programs(item.object_path, item.program, log_level=2)
                t_kernel = time.perf_counter() - t
            rows.append((item.program, t_log, t_explain, t_own, t_fig, t_kernel))

    print(f"{'program':34} {'parse ms':>8} {'explain':>8} {'owner':>8} {'figures':>8} "
          f"{'page ms':>8} | {'kernel L2 load ms':>17}")  # fmt: skip
    for prog, a, b, c, d, k in rows:
        kern = f"{k * 1e3:17.1f}" if k is not None else f"{'(no root)':>17}"
        print(f"{prog:34} {a * 1e3:8.1f} {b * 1e3:8.1f} {c * 1e3:8.1f} {d * 1e3:8.1f} "
              f"{(a + b + c + d) * 1e3:8.1f} | {kern}")  # fmt: skip
    page = [a + b + c + d for _, a, b, c, d, _ in rows]
    print(f"\n{len(rows)} programs: page median {statistics.median(page) * 1e3:.0f} ms, "
          f"total {sum(page):.1f} s in one process")  # fmt: skip
    kern_all = [k for *_, k in rows if k is not None]
    if kern_all:
        print(f"kernel (libbpf, level 2, same run): median {statistics.median(kern_all) * 1e3:.1f}"
              f" ms, total {sum(kern_all):.2f} s")  # fmt: skip
    figs = sum(d for *_, d, _ in rows)
    print(f"figures are {figs / sum(page):.0%} of the page cost")
    print(f"figures by kind, CPU s in one process ({sum(kinds.values()):.1f} s): "
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))

    with tempfile.TemporaryDirectory() as tmp:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0, t = time.process_time(), time.perf_counter()
        report = build_report([DATA], tmp, progress=False)
        wall = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = time.process_time() - c0 + (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    load = os.getloadavg()[0]
    print(f"\nbuild_report(data/) with {os.cpu_count()} workers, cold (empty output directory): "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU (this process and its workers), load average "
          f"{load:.1f} at the end")  # fmt: skip
    print(describe_timings(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
