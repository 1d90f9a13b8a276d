"""Benchmark: load every program of data/ into the running kernel at log level 2.

Prints bpfkit's total wall time beside the sum of the kernel's own ``verification time``
lines, the overhead (wall - kernel) and its share of the wall time (target: < 25%), for the
first run in the process and the median of five; beside it, in the same run, the reference
tools: libbpf 1.1 loading one object per program (``loader="libbpf"``) and
``bpftool -d prog loadall`` (which also verifies at level 1|2|4) on the one object whose
programs are all accepted.

Run: .venv/bin/python tests/bench/bench_load.py     (root or CAP_BPF; exits 0 with a
message when the kernel cannot be used)
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bpfkit.errors import KernelError
from bpfkit.kernel import check_environment, load_programs
from bpfkit.kernel.load import SYS_BTF_VMLINUX

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = sorted((ROOT / "data" / "programs").glob("*.bpf.o"))
ALL_ACCEPTED = ROOT / "data" / "programs" / "loops.bpf.o"
SMALL = (ROOT / "data" / "programs" / "alloc.bpf.o", "obj_new_drop_ok")
TARGET = 0.25
_TIME = re.compile(r"^verification time (\d+) usec", re.M)


def run_all(objects: list[Path], loader: str = "auto") -> tuple[float, float, int, int]:
    """(wall s, kernel s, programs, programs bpfkit loaded itself) for loading every program
    of *objects* at level 2."""
    t0 = time.perf_counter()
    kernel_us = 0
    n = direct = 0
    for obj in objects:
        for r in load_programs(obj, log_level=2, loader=loader):
            kernel_us += r.verification_time_usec or 0
            n += 1
            direct += r.loader == "bpfkit"
    return time.perf_counter() - t0, kernel_us / 1e6, n, direct


def median_run(objects: list[Path], loader: str, repeat: int = 5) -> tuple[float, float, int]:
    """The run with the median wall time of *repeat* runs: (wall s, kernel s, programs)."""
    runs = sorted(run_all(objects, loader)[:3] for _ in range(repeat))
    return runs[len(runs) // 2]


def row(label: str, wall: float, kernel: float) -> str:
    over = wall - kernel
    return f"{label:52s} {wall:8.3f} {kernel:9.3f} {over:10.3f} {100 * over / wall:10.1f}%"


def fixed_cost(loader: str, repeat: int = 25) -> tuple[float, float]:
    """Median (wall, kernel) seconds of one load of the smallest accepted program."""
    walls, kern = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        (r,) = load_programs(SMALL[0], SMALL[1], log_level=2, loader=loader)
        walls.append(time.perf_counter() - t0)
        kern.append((r.verification_time_usec or 0) / 1e6)
    return statistics.median(walls), statistics.median(kern)


def vmlinux_read_and_parse(repeat: int = 15) -> tuple[float, float]:
    """Median seconds to read /sys/kernel/btf/vmlinux, and for libbpf's btf__parse of it
    (what libbpf 1.1 does on every object load that has kfuncs, CO-RE or BTF attach)."""
    reads = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        SYS_BTF_VMLINUX.read_bytes()
        reads.append(time.perf_counter() - t0)
    lib = ctypes.CDLL("libbpf.so.1")
    lib.btf__parse.restype = ctypes.c_void_p
    lib.btf__parse.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.btf__free.argtypes = [ctypes.c_void_p]
    parses = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        btf = lib.btf__parse(os.fsencode(SYS_BTF_VMLINUX), None)
        parses.append(time.perf_counter() - t0)
        lib.btf__free(btf)
    return statistics.median(reads), statistics.median(parses)


def bpftool_loadall(obj: Path) -> tuple[float, float] | None:
    """(wall s, kernel s) of ``bpftool -d prog loadall OBJ`` (pinned, then unpinned)."""
    if shutil.which("bpftool") is None:
        return None
    pin = Path(f"/sys/fs/bpf/bpfkit_bench_{os.getpid()}")
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["bpftool", "-d", "prog", "loadall", str(obj), str(pin)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    shutil.rmtree(pin, ignore_errors=True)
    if proc.returncode != 0:
        print(f"bpftool failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    kernel = sum(int(m) for m in _TIME.findall(proc.stderr)) / 1e6
    return wall, kernel


def main() -> int:
    try:
        check_environment()
    except KernelError as exc:
        print(f"bench_load: skipped: {exc}")
        return 0
    print(f"kernel {os.uname().release}; {len(OBJECTS)} objects of data/programs; level 2|4")
    print(f"{'':56s} {'wall s':>8s} {'kernel s':>9s} {'overhead s':>10s} {'overhead':>11s}")

    # Cold: the first loads of this process (kernel BTF opened, feature probes, log buffer).
    wall, kernel, n, direct = run_all(OBJECTS)
    cold_share = (wall - kernel) / wall
    print(row(f"bpfkit loader, all {n} programs, first run", wall, kernel))
    wall, kernel, _ = median_run(OBJECTS, "auto")
    warm_share = (wall - kernel) / wall
    print(row(f"bpfkit loader, all {n} programs, median of 5", wall, kernel))
    w1, k1, n1 = median_run([ALL_ACCEPTED], "auto")
    print(row(f"bpfkit loader, {ALL_ACCEPTED.name} ({n1}), median of 5", w1, k1))
    lw, lk, _ = median_run(OBJECTS, "libbpf", repeat=3)
    print(row(f"libbpf 1.1 (one object load per program), all {n}", lw, lk))
    ref = bpftool_loadall(ALL_ACCEPTED)
    if ref:
        print(row(f"bpftool -d prog loadall {ALL_ACCEPTED.name} ({n1}), one run", *ref))
    fw, fk = fixed_cost("auto")
    lfw, lfk = fixed_cost("libbpf")
    read_s, parse_s = vmlinux_read_and_parse()

    print()
    print(f"{direct} of {n} programs were loaded by bpfkit itself (the rest through libbpf).")
    print("Fixed cost of one load (median, smallest program):")
    print(
        f"  {SMALL[1]}: bpfkit {1e3 * fw:.2f} ms wall, libbpf {1e3 * lfw:.2f} ms wall; "
        f"{1e3 * fk:.2f} ms in the verifier"
    )
    print(
        f"  libbpf 1.1 re-reads {SYS_BTF_VMLINUX} ({SYS_BTF_VMLINUX.stat().st_size / 1e6:.1f} MB, "
        f"{1e3 * read_s:.2f} ms) and parses it ({1e3 * parse_s:.2f} ms) for every object load;"
    )
    print("  bpfkit prepares each object once (ELF, BTF fix-ups, relocations, kfunc ids) and")
    print("  then, per program, creates the maps and issues one BPF_PROG_LOAD.")
    print()
    for label, share in (("first run", cold_share), ("median of 5", warm_share)):
        verdict = "within" if share < TARGET else "ABOVE"
        print(
            f"overhead share, {label}: {100 * share:.1f}% of wall: {verdict} the "
            f"{100 * TARGET:.0f}% target"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
