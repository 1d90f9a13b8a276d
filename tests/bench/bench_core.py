"""Benchmark: CO-RE relocation against the running kernel's BTF (bpfkit.kernel.core / kbtf).

Prints, measured in the same run:

- libbpf 1.1's ``btf__load_vmlinux_btf`` (load + free), what libbpf pays once per program
  it loads, beside bpfkit's :class:`KernelBTF` open (libbpf's load plus the view) and the
  one-time name table behind exact candidate lookups;
- a candidate lookup by essential name (bpfkit, exact: every type, flavors included) beside
  libbpf's ``btf__find_by_name_kind`` (first exact match only) and beside libbpf's own
  method redone in Python (a scan of every type) for scale;
- relocating every CO-RE relocation of data/programs/*.bpf.o with a warm KernelBTF;
- the whole thing in a fresh process (import, open, index, lookups, relocate everything).

Run: .venv/bin/python tests/bench/bench_core.py   (needs libbpf.so.1 and /sys/kernel/btf)
"""

from __future__ import annotations

import ctypes
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

from bpfkit.btf import BTFKind, Spec
from bpfkit.errors import KernelError
from bpfkit.kernel._libbpf import open_libbpf
from bpfkit.kernel.core import CoreReloSite, apply_core_relos, program_relo_sites
from bpfkit.kernel.kbtf import KernelBTF
from bpfkit.obj import load_object

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = sorted((ROOT / "data" / "programs").glob("*.bpf.o"))
NAMES = [
    ("task_struct", BTFKind.STRUCT),
    ("__sk_buff", BTFKind.STRUCT),
    ("pt_regs", BTFKind.STRUCT),
    ("bpf_raw_tracepoint_args", BTFKind.STRUCT),
    ("file", BTFKind.STRUCT),
    ("bpf_map_type", BTFKind.ENUM),
]
REPEAT = 10


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.3f} ms"


def median(fn: object, n: int = REPEAT) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def prepare() -> list[tuple[Spec, str, list[CoreReloSite], bytes]]:
    """(local BTF, function, CO-RE sites, instruction bytes) of every function of
    data/programs that has CO-RE relocations (reading the objects is not timed)."""
    out = []
    for path in OBJECTS:
        obj = load_object(path)
        if obj.btf is None:
            continue
        for prog in obj.programs:
            sites = program_relo_sites(obj, prog.name)
            if not sites:
                continue
            last = prog.insns[-1]
            buf = bytearray(8 * (last.idx + last.nslots))
            for insn in prog.insns:  # the ELF's instructions, re-encoded
                regs = insn.dst_reg | insn.src_reg << 4
                buf[insn.idx * 8 : insn.idx * 8 + 8] = struct.pack(
                    "<BBhi", insn.code, regs, insn.off, insn.imm
                )
                if insn.imm64 is not None:
                    buf[insn.idx * 8 + 12 : insn.idx * 8 + 16] = struct.pack("<I", insn.imm64 >> 32)
            out.append((obj.btf, prog.name, list(sites), bytes(buf)))
    return out


def relocate_all(kbtf: KernelBTF, work: list[tuple[Spec, str, list[CoreReloSite], bytes]]) -> int:
    """Relocate every prepared function; the number of relocations."""
    n = 0
    for btf, name, sites, code in work:
        apply_core_relos(bytearray(code), sites, btf, kbtf, name)
        n += len(sites)
    return n


FRESH = """
import time
t0 = time.perf_counter()
from bpfkit.kernel.kbtf import KernelBTF
import tests.bench.bench_core as b
t1 = time.perf_counter()
k = KernelBTF.vmlinux()
t2 = time.perf_counter()
work = b.prepare()
t3 = time.perf_counter()
nr = b.relocate_all(k, work)
t4 = time.perf_counter()
print(f"{t1 - t0} {t2 - t1} {t4 - t3} {len(work)} {nr}")
"""


FRESH_LIBBPF = """
import ctypes, time
from bpfkit.kernel._libbpf import open_libbpf
lb = open_libbpf().lib
lb.btf__load_vmlinux_btf.restype = ctypes.c_void_p
t0 = time.perf_counter()
btf = lb.btf__load_vmlinux_btf()
print(time.perf_counter() - t0)
"""


def main() -> int:
    try:
        lib = open_libbpf()
        kbtf = KernelBTF.vmlinux()
    except KernelError as exc:
        print(f"bench_core: cannot run here: {exc}")
        return 0
    lb = lib.lib

    def libbpf_load() -> None:
        lb.btf__free(lb.btf__load_vmlinux_btf())

    def bpfkit_open() -> None:
        KernelBTF().close()

    def bpfkit_open_index() -> None:
        k = KernelBTF()
        k._present_names()  # the type offset table, the name table and its set
        k.close()

    print(f"kernel BTF: {len(kbtf) - 1} types; median of {REPEAT}")
    t_lib = median(libbpf_load)
    t_open = median(bpfkit_open)
    t_index = median(bpfkit_open_index) - t_open
    print(f"  libbpf btf__load_vmlinux_btf       {ms(t_lib)}   (libbpf, per program it loads)")
    print(f"  bpfkit KernelBTF open               {ms(t_open)}   (libbpf's load + the view)")
    print(f"  bpfkit name table (first lookup)    {ms(t_index)}   (once per process)")

    print("candidate lookup, cold cache (bpfkit exact) | libbpf find_by_name_kind | Python scan")
    handle = kbtf._handle()
    for name, kind in NAMES:

        def cold(name: str = name, kind: BTFKind = kind) -> None:
            kbtf._cand_cache.clear()
            kbtf.candidates(name, kind)

        def libbpf_find(name: str = name, kind: BTFKind = kind) -> None:
            lb.btf__find_by_name_kind(handle, name.encode(), int(kind))

        t_b = median(cold)
        t_l = median(libbpf_find)
        t0 = time.perf_counter()
        slow = kbtf.all_candidates_slow(name, kind)
        t_s = time.perf_counter() - t0
        assert slow == kbtf.candidates(name, kind)
        print(f"  {name:<26} {ms(t_b)} | {ms(t_l)} | {ms(t_s)}   -> {slow}")

    work = prepare()
    nr = relocate_all(kbtf, work)
    t_rel = median(lambda: relocate_all(kbtf, work))
    print(
        f"relocate all of data/programs (warm KernelBTF, fresh candidate cache per function): "
        f"{nr} relos in {len(work)} functions, {ms(t_rel)}, {t_rel / max(nr, 1) * 1e6:.1f} us/relo"
    )
    out = subprocess.run(
        [sys.executable, "-c", FRESH], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    imp, opn, rel = (float(x) for x in out[:3])
    first_lib = float(
        subprocess.run(
            [sys.executable, "-c", FRESH_LIBBPF], capture_output=True, text=True, check=True
        ).stdout
    )
    print(f"fresh process: libbpf's first btf__load_vmlinux_btf {ms(first_lib)}")
    print(
        f"fresh process: import {ms(imp)}, KernelBTF.vmlinux() {ms(opn)}, relocate all "
        f"(first lookups, name table included) {ms(rel)}"
    )
    ctypes.set_errno(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
