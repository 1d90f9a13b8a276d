"""Benchmark: decoding BPF objects (ELF + relocations + instruction decoding + .BTF/.BTF.ext) with
bpfkit.obj.load_object, beside llvm-objdump-19 -d (the reference disassembler) on the same files
in the same run; and the static ownership prediction, beside the kernel's own verification time
for the same programs (data/logs/MANIFEST.tsv has no times, so the kernel is asked live when it
can be: root or CAP_BPF).

Run: .venv/bin/python tests/bench/bench_obj.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bpfkit.obj import load_object  # noqa: E402
from bpfkit.ownership import static  # noqa: E402
from bpfkit.ownership.static import analyze  # noqa: E402
from tests.corpus import CORPUS_BTF, DATA_PROGRAMS  # noqa: E402

REPEAT = 5


def best(fn: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def bench_decode() -> None:
    objdump = shutil.which("llvm-objdump-19")
    paths = sorted(DATA_PROGRAMS.glob("*.bpf.o")) + sorted(CORPUS_BTF.rglob("*el.elf"))
    print("== decode: load_object vs llvm-objdump-19 -d --no-show-raw-insn (best of 5, ms)")
    print(f"{'object':28} {'insns':>6} {'bpfkit':>8} {'objdump':>8} {'ratio':>6}")
    tot_ours = tot_ref = 0.0
    for path in paths:
        insns = sum(len(p.insns) for p in load_object(path).programs)
        ours, _ = best(lambda p=path: load_object(p))
        if objdump:
            ref, _ = best(
                lambda p=path: subprocess.run(
                    [objdump, "-d", "--no-show-raw-insn", str(p)], capture_output=True, check=True
                )
            )
        else:
            ref = float("nan")
        tot_ours += ours
        tot_ref += ref
        print(f"{path.name:28} {insns:6d} {ours * 1e3:8.2f} {ref * 1e3:8.2f} {ours / ref:6.2f}")
    print(
        f"{'total':28} {'':6} {tot_ours * 1e3:8.2f} {tot_ref * 1e3:8.2f} {tot_ours / tot_ref:6.2f}"
    )
    print("(llvm-objdump times include process start-up; bpfkit's include .BTF/.BTF.ext parsing)")


def bench_predict() -> None:
    kernel: dict[tuple[str, str], tuple[int | None, int | None]] = {}
    if os.geteuid() == 0:
        try:
            from bpfkit.kernel.load import load_programs

            for path in sorted(DATA_PROGRAMS.glob("*.bpf.o")):
                for r in load_programs(path, log_level=1):
                    kernel[(path.name, r.program)] = (r.verification_time_usec, r.insns_processed)
        except Exception as exc:  # noqa: BLE001 - the bench still reports bpfkit's side
            print(f"(kernel not usable: {exc})")
    print("\n== static prediction vs the kernel verifier (per program, usec)")
    print(f"{'program':34} {'bpfkit':>8} {'insns':>7} {'kernel':>8} {'insns':>7}")
    tot_ours = tot_kernel = 0.0
    for path in sorted(DATA_PROGRAMS.glob("*.bpf.o")):
        obj = load_object(path)
        for prog in obj.programs:
            if prog.subprog:
                continue
            ours, _ = best(lambda p=prog.name, o=obj: (static._CACHE.clear(), analyze(o, p)))
            an = analyze(obj, prog.name)
            k_time, k_insns = kernel.get((path.name, prog.name), (None, None))
            tot_ours += ours
            tot_kernel += k_time or 0
            print(
                f"{prog.name:34} {ours * 1e6:8.0f} {an.steps:7d} "
                f"{k_time if k_time is not None else '-':>8} {k_insns if k_insns is not None else '-':>7}"
            )
    print(f"{'total':34} {tot_ours * 1e6:8.0f} {'':7} {tot_kernel:8.0f}")


if __name__ == "__main__":
    bench_decode()
    bench_predict()
