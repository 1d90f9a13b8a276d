"""Benchmark: BTF load/index, full decode and raw dump on this machine's kernel BTF, each beside
the reference tool measured in the same run (libbpf's btf__parse through ctypes; bpftool).

Run: .venv/bin/python tests/bench/bench_btf.py [PATH]   (default /sys/kernel/btf/vmlinux)

Targets (issue #16): load+index+validate <= 3x libbpf's btf__parse, both warm in this process;
the raw dump as a whole new process (what a user runs) <= 1.5x bpftool.

The load is timed twice: with numpy in the process (a notebook or pandas session; the
reference check is vectorised) and with the plain-Python scan that a process without numpy
uses (``bpfkit btf dump``). Child processes may write bytecode (``PYTHONDONTWRITEBYTECODE``
is dropped for them), as an installed bpfkit has: otherwise every run compiles bpfkit anew.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bpfkit.btf import spec as spec_module
from bpfkit.btf.raw import iter_raw_chunks
from bpfkit.btf.spec import EMBEDDED_VMLINUX, Spec, load_btf

REPEAT = 7
# the console script a user runs (python -m bpfkit.cli pays for runpy as well)
_SCRIPT = Path(sys.executable).with_name("bpfkit")
BPFKIT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bpfkit.cli"]
#: children may cache bytecode, as an installed package does
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, cpu) seconds of one call; cpu counts this process and its finished children,
    which keeps the comparison fair when other work shares the machine."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    t1, c1 = time.perf_counter(), time.process_time()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return t1 - t0, (c1 - c0) + child


def best(fn: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    """(min wall, min cpu) seconds over *repeat* calls."""
    runs = [measure(fn) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def interleaved(
    fns: dict[str, Callable[[], object]], repeat: int = REPEAT
) -> dict[str, tuple[float, float]]:
    """Like :func:`best` for several functions, run in turn so load changes hit all alike."""
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            runs[k].append(measure(fn))
    return {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in runs.items()}


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
        out.writelines(iter_raw_chunks(spec))


def floor_items(spec: Spec) -> list[tuple[str, int, int]]:
    """One (name, number, number) per line of the raw dump (a type's header line or one of
    its member/param/value lines), read from the spec beforehand: the floor's input."""
    items: list[tuple[str, int, int]] = []
    for t in spec:
        items.append((t.name, t.id, getattr(t, "type", getattr(t, "size", 0))))
        for m in getattr(t, "members", None) or getattr(t, "params", None) or ():
            items.append((m.name, m.type, getattr(m, "offset", 0)))
        for v in getattr(t, "values", ()):
            items.append((v.name, v.value, 0))
    return items


def floor_format(items: list[tuple[str, int, int]]) -> None:
    """The least a Python dump can do: one f-string per line, joined, written nowhere."""
    "".join([f"\t'{name}' type_id={a} bits_offset={b}\n" for name, a, b in items])


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/sys/kernel/btf/vmlinux"
    if not os.access(path, os.R_OK):
        path = str(EMBEDDED_VMLINUX)
    import numpy  # noqa: F401  (imported once, as in any session that has pandas)

    spec = load_btf(path)
    n = len(spec) - 1
    print(f"BTF: {path}  ({Path(path).stat().st_size:,} bytes, {n:,} types)")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"best of {REPEAT} (wall and cpu separately); tools run in turn with bpfkit\n")

    rows: list[tuple[str, float, float, str]] = []
    load: dict[str, Callable[[], object]] = {"bpfkit": lambda: load_btf(path)}
    ref = libbpf_parse(path)
    if ref is not None:
        load["libbpf"] = ref
    got = interleaved(load)
    lo, lo_cpu = got["bpfkit"]
    ratio = ratio_cpu = float("nan")
    if "libbpf" in got:
        ratio, ratio_cpu = lo / got["libbpf"][0], lo_cpu / got["libbpf"][1]
    rows.append(
        (
            "bpfkit load+index+validate (numpy)",
            lo,
            lo_cpu,
            f"{ratio:.2f}x / {ratio_cpu:.2f}x libbpf",
        )
    )

    def load_plain() -> None:
        saved = spec_module.NUMPY_MIN_TYPES
        spec_module.NUMPY_MIN_TYPES = 1 << 62  # the scan of a process without numpy
        try:
            load_btf(path)
        finally:
            spec_module.NUMPY_MIN_TYPES = saved

    p_wall, p_cpu = best(load_plain)
    note = ""
    if "libbpf" in got:
        note = f"{p_wall / got['libbpf'][0]:.2f}x / {p_cpu / got['libbpf'][1]:.2f}x libbpf"
    rows.append(("bpfkit load+index+validate (no numpy)", p_wall, p_cpu, note))
    if "libbpf" in got:
        rows.append(("libbpf btf__parse (ctypes)", *got["libbpf"], ""))

    def decode_all() -> None:
        for _ in load_btf(path):
            pass

    d_wall, d_cpu = best(decode_all, 3)
    rows.append(
        ("bpfkit load + decode every type", d_wall, d_cpu, f"{n / d_cpu / 1e6:.2f} M types/cpu-s")
    )

    dumps: dict[str, Callable[[], object]] = {
        "in-process": lambda: raw_dump(load_btf(path)),
        "solo": lambda: subprocess.run(
            [*BPFKIT, "btf", "dump", path, "--format", "raw"],
            stdout=subprocess.DEVNULL,
            check=True,
            env=CHILD_ENV,
        ),
    }
    bpftool = shutil.which("bpftool") or (
        "/usr/sbin/bpftool" if Path("/usr/sbin/bpftool").exists() else None
    )
    if bpftool:
        cmd = [bpftool, "btf", "dump", "file", path, "format", "raw"]
        dumps["bpftool"] = lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    floor_lines = floor_items(spec)
    dumps["floor"] = lambda: floor_format(floor_lines)
    dumps["python"] = lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)
    got = interleaved(dumps, 5)
    b_wall, b_cpu = got.get("bpftool", (float("nan"), float("nan")))
    labels = {
        "in-process": "bpfkit load + raw dump (in process, numpy)",
        "solo": "bpfkit btf dump --format raw (whole process)",
    }
    for key, label in labels.items():
        wall, cpu = got[key]
        rows.append((label, wall, cpu, f"{wall / b_wall:.2f}x / {cpu / b_cpu:.2f}x bpftool"))
    if bpftool:
        rows.append(("bpftool btf dump format raw (whole process)", b_wall, b_cpu, ""))
    # What pure Python cannot go under: the dump's lines formatted from values already in
    # Python lists (no reading, no decoding, no checks), plus starting an interpreter.
    f_wall, f_cpu = got["floor"][0] + got["python"][0], got["floor"][1] + got["python"][1]
    rows.append(
        (
            f"floor: python start + {len(floor_lines):,} f-strings joined",
            f_wall,
            f_cpu,
            f"{f_wall / b_wall:.2f}x / {f_cpu / b_cpu:.2f}x bpftool",
        )
    )

    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}   {'wall':>9} {'cpu':>9}   ratio wall / cpu")
    for name, a, b, note in rows:
        print(f"{name:{width}}   {a * 1e3:7.1f}ms {b * 1e3:7.1f}ms   {note}")
    print()
    ok_load = ratio != ratio or ratio <= 3
    s_wall = got["solo"][0]
    ok_solo = b_wall != b_wall or s_wall <= 1.5 * b_wall
    print(
        f"target load+index+validate <= 3x libbpf (wall):  {'met' if ok_load else 'MISSED'} (numpy)"
    )
    print(f"target whole-process dump <= 1.5x bpftool (wall): {'met' if ok_solo else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
