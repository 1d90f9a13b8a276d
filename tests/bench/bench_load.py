"""Benchmark: load every program of data/ into the running kernel at log level 2.

Prints bpfkit's total wall time beside the sum of the kernel's own ``verification time``
lines, the overhead (wall - kernel) and its share of the wall time (target: < 25%), where the
fixed per-load cost goes, and the reference tool measured in the same run
(``bpftool -d prog loadall``, which also verifies at level 1|2|4, on the one object whose
programs are all accepted).

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
from bpfkit.kernel import check_environment, list_programs, load_programs, tune_malloc
from bpfkit.kernel.load import SYS_BTF_VMLINUX

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = sorted((ROOT / "data" / "programs").glob("*.bpf.o"))
ALL_ACCEPTED = ROOT / "data" / "programs" / "loops.bpf.o"
SMALL = (ROOT / "data" / "programs" / "alloc.bpf.o", "obj_new_drop_ok")
TARGET = 0.25
_TIME = re.compile(r"^verification time (\d+) usec", re.M)


def run_all(objects: list[Path]) -> tuple[float, float, int]:
    """(wall s, kernel s, programs) for loading every program of *objects* at level 2."""
    t0 = time.perf_counter()
    kernel_us = 0
    n = 0
    for obj in objects:
        for r in load_programs(obj, log_level=2):
            kernel_us += r.verification_time_usec or 0
            n += 1
    return time.perf_counter() - t0, kernel_us / 1e6, n


def row(label: str, wall: float, kernel: float) -> str:
    over = wall - kernel
    return f"{label:52s} {wall:8.3f} {kernel:9.3f} {over:10.3f} {100 * over / wall:10.1f}%"


def fixed_cost(repeat: int = 25) -> tuple[float, float]:
    """Median (wall, kernel) seconds of one load of the smallest accepted program."""
    walls, kern = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        (r,) = load_programs(SMALL[0], SMALL[1], log_level=2)
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
    programs = sum(len(list_programs(o)) for o in OBJECTS)
    load_programs(*SMALL, log_level=2)  # warm up: libbpf, feature probes, log buffer
    print(f"kernel {os.uname().release}; {programs} programs in {len(OBJECTS)} objects; level 2|4")
    print(f"{'':52s} {'wall s':>8s} {'kernel s':>9s} {'overhead s':>10s} {'overhead':>11s}")

    wall, kernel, n = run_all(OBJECTS)
    print(row(f"bpfkit load_programs, all {n} programs", wall, kernel))
    w1, k1, n1 = run_all([ALL_ACCEPTED])
    print(row(f"bpfkit load_programs, {ALL_ACCEPTED.name} ({n1})", w1, k1))
    fw, fk = fixed_cost()

    tuned = tune_malloc()
    wall_t, kernel_t, _ = run_all(OBJECTS)
    print(row(f"bpfkit + tune_malloc (as `bpfkit load`), all {n}", wall_t, kernel_t))
    w1t, k1t, _ = run_all([ALL_ACCEPTED])
    print(row(f"bpfkit + tune_malloc, {ALL_ACCEPTED.name} ({n1})", w1t, k1t))
    ref = bpftool_loadall(ALL_ACCEPTED)
    if ref:
        print(row(f"bpftool -d prog loadall {ALL_ACCEPTED.name} ({n1})", *ref))
    fwt, fkt = fixed_cost()
    read_s, parse_s = vmlinux_read_and_parse()

    print()
    print("Where the fixed cost of one load goes (median, smallest program):")
    print(
        f"  one load of {SMALL[1]}: {1e3 * fw:.2f} ms wall, {1e3 * fk:.2f} ms in the verifier"
        f" ({1e3 * fwt:.2f} ms wall with tune_malloc{'' if tuned else ' (not applied)'})"
    )
    print(
        f"  read {SYS_BTF_VMLINUX} ({SYS_BTF_VMLINUX.stat().st_size / 1e6:.1f} MB): "
        f"{1e3 * read_s:.2f} ms; libbpf btf__parse of it (read + index): {1e3 * parse_s:.2f} ms"
    )
    print("  libbpf 1.1 parses the kernel BTF again for every object load (kfuncs, CO-RE, tp_btf),")
    print("  and each program gets its own object load, so this cost is paid per program.")
    loads = n + len(OBJECTS)  # one object load per program, plus one open per object to list
    rest = wall_t - kernel_t - n * parse_s
    print(
        f"  {n} loads x {1e3 * parse_s:.2f} ms of kernel-BTF parsing = {n * parse_s:.3f} s of the"
        f" {wall_t - kernel_t:.3f} s overhead; the other {rest:.3f} s"
        f" ({1e3 * rest / loads:.2f} ms per open/load) is ELF/BTF open, kfunc and attach-target"
        " lookups, map and BTF creation, close, and Python"
    )
    share = (wall_t - kernel_t) / wall_t
    verdict = "within" if share < TARGET else "ABOVE"
    print()
    print(
        f"overhead share with tune_malloc: {100 * share:.1f}% of wall: {verdict} the "
        f"{100 * TARGET:.0f}% target ({100 * (wall - kernel) / wall:.1f}% without)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
