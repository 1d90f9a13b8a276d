"""Benchmark: every figure of bpfkit.plot on a real verifier log of 100,000+ steps.

Run: ``.venv/bin/python tests/bench/bench_plot.py [--iters 4000] [--keep DIR]``

Input: a level-2 log the running kernel writes for a bounded loop (the C source below, built
with clang-19 and loaded through :func:`bpfkit.kernel.load_programs`), sized to pass 100,000
verified instructions. Without root/bpf()/clang it falls back to data/logs'
``long_loop_ok.l2.log.xz`` (about 17,000 steps) and says so.

Printed, measured in the same run:

- bpfkit: parse + tables (the verifier package), then each figure (data + drawing + writing
  SVG and PNG), in the talk style, and the sizes of the files.
- References: reading the log (``wc -l``), and a naive matplotlib figure that draws one mark
  per step (instruction index over steps) and writes it as SVG and PNG: what a plot costs
  when it does not bin.
"""

from __future__ import annotations

import argparse
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.corpus import DATA_LONG_LOOP_L2  # noqa: E402

# Written for this benchmark: a loop whose two arms meet again at the loop head, so the walk
# stays linear in ITERS (about 28 verified instructions per iteration).
SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 result;

SEC("tc")
int bench_loop(struct __sk_buff *skb)
{
	__u64 acc = 0;
	__u32 len = skb->len, i;

	for (i = 0; i < ITERS; i++) {
		if ((len >> (i & 31)) & 1)
			acc += i;
		else
			acc ^= (__u64)i << 3;
	}
	result = acc;
	return 0;
}

char _license[] SEC("license") = "GPL";
"""


def _live_log(iters: int, tmp: Path) -> tuple[str, str]:
    src = tmp / "bench_loop.bpf.c"
    obj = tmp / "bench_loop.bpf.o"
    src.write_text(SOURCE)
    clang = shutil.which("clang-19") or shutil.which("clang")
    if clang is None:
        raise RuntimeError("no clang")
    multiarch = [
        f"-idirafter{d}"
        for d in ("/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu")
        if Path(d).is_dir()
    ]
    subprocess.run(
        [
            clang,
            "-target",
            "bpf",
            "-O2",
            "-g",
            *multiarch,
            f"-DITERS={iters}",
            "-c",
            str(src),
            "-o",
            str(obj),
        ],
        check=True,
        capture_output=True,
    )
    from bpfkit.kernel import load_programs

    (res,) = load_programs(obj, "bench_loop", log_level=2)
    if not res.log:
        raise RuntimeError(f"no log ({res.verdict}: {res.error})")
    return (
        res.log,
        f"live level-2 log of a {iters}-iteration loop ({res.verdict}, {res.insns_processed:,} insns processed)",
    )


def _naive(steps: object, out: Path) -> dict[str, float]:
    from matplotlib.figure import Figure

    times: dict[str, float] = {}
    for fmt in ("svg", "png"):
        t = time.perf_counter()
        fig = Figure(figsize=(13.33, 7.5))
        ax = fig.add_subplot()
        ax.plot(
            steps["step"].to_numpy(),
            steps["insn_idx"].to_numpy(),
            marker="o",
            linestyle="none",
            markersize=2,
        )  # type: ignore[index]
        fig.savefig(out / f"naive.{fmt}", format=fmt)
        times[fmt] = time.perf_counter() - t
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=4000, help="loop iterations (default 4000)")
    parser.add_argument(
        "--keep", metavar="DIR", help="write the figures here instead of a temp dir"
    )
    args = parser.parse_args()

    from bpfkit.plot.output import FIGURES, NothingToDraw, render_figure
    from bpfkit.plot.style import savefig, style
    from bpfkit.verifier import parse_log

    tmp = Path(tempfile.mkdtemp(prefix="bpfkit-bench-plot-"))
    out = Path(args.keep) if args.keep else tmp / "out"
    out.mkdir(parents=True, exist_ok=True)
    try:
        try:
            text, what = _live_log(args.iters, tmp)
        except Exception as exc:  # no root, no bpf(), no clang: say so and use the data log
            text = lzma.decompress(DATA_LONG_LOOP_L2.read_bytes()).decode()
            what = f"{DATA_LONG_LOOP_L2.relative_to(ROOT)} (live log unavailable: {exc})"
        log_path = tmp / "bench.log"
        log_path.write_text(text)
        print(f"input: {what}")
        print(f"       {len(text) / 1e6:.1f} MB, {text.count(chr(10)):,} lines")

        t = time.perf_counter()
        subprocess.run(["wc", "-l", str(log_path)], check=True, stdout=subprocess.DEVNULL)
        wc = time.perf_counter() - t

        t, c = time.perf_counter(), time.process_time()
        (log,) = parse_log(text, name="bench_loop")
        for table in (
            "lines",
            "instructions",
            "steps",
            "registers",
            "stack",
            "refs",
            "branches",
            "prunes",
        ):
            getattr(log, table)
        parse, parse_cpu = time.perf_counter() - t, time.process_time() - c
        print(
            f"       {len(log.steps):,} steps, {len(log.registers):,} register rows, {log.steps['path'].nunique():,} paths"
        )
        print()
        print("(wall seconds, and CPU seconds of this process: the machine may be shared)")
        print(f"{'what':<34}{'wall s':>9}{'cpu s':>8}{'file':>12}")
        print(f"{'reference: wc -l':<34}{wc:>9.2f}")
        print(f"{'bpfkit.verifier parse + tables':<34}{parse:>9.2f}{parse_cpu:>8.2f}")
        total = total_cpu = 0.0
        with style("talk"):
            for name in FIGURES:
                for fmt in ("svg", "png"):
                    t, c = time.perf_counter(), time.process_time()
                    try:
                        fig = render_figure(log, name)
                    except NothingToDraw as exc:  # not drawn: nothing to show
                        print(f"{'bpfkit plot ' + name:<34}{'-':>9}{'-':>8}  ({exc})")
                        break
                    path = savefig(fig, out / f"bench_loop-{name}.{fmt}")
                    dt, dc = time.perf_counter() - t, time.process_time() - c
                    total += dt
                    total_cpu += dc
                    label = f"bpfkit plot {name} ({fmt})"
                    print(f"{label:<34}{dt:>9.2f}{dc:>8.2f}{path.stat().st_size / 1e3:>10.0f}kB")
        print(f"{'bpfkit: all figures, svg + png':<34}{total:>9.2f}{total_cpu:>8.2f}")
        t, c = time.perf_counter(), time.process_time()
        naive = _naive(log.steps, out)
        for fmt, dt in naive.items():
            size = (out / f"naive.{fmt}").stat().st_size / 1e3
            print(
                f"{'reference: one mark per step (' + fmt + ')':<34}{dt:>9.2f}{'':>8}{size:>10.0f}kB"
            )
        if args.keep:
            print(f"figures in {out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(main())
