"""Dynamic flow of a program compiled and verified here: a reference spilled to the stack.

No log in the corpus spills an owning pointer, so this test writes one (inline asm stores the
bpf_obj_new result to fp-16 and loads it back), has the running kernel verify it at log level
2 (:func:`bpfkit.kernel.load_programs`), and checks the events against the instructions the
kernel printed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bpfkit.ownership.dynamic import events_frame
from bpfkit.verifier import parse_log

SRC = r"""
#include "bpfkit_alloc.h"
struct counter { __u64 hits; __u64 bytes; };
SEC("tc")
int spill_and_fill(struct __sk_buff *skb)
{
    struct counter *c, *d;

    c = bpf_obj_new(struct counter);
    if (!c)
        return 0;
    asm volatile("*(u64 *)(r10 - 16) = %[p]\n\t"
             "%[q] = *(u64 *)(r10 - 16)"
             : [q] "=r"(d) : [p] "r"(c) : "memory");
    d->hits = 1;
    bpf_obj_drop(d);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_spilled_reference(tmp_path: Path, compile_bpf: Callable[[str, str], Path]) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root for bpf() to verify the program")
    from bpfkit.kernel import load_programs

    obj = compile_bpf("spill", SRC)
    [res] = load_programs(obj, log_level=2)
    assert res.verdict == "accept", res.error
    [log] = parse_log(res.log)
    ev = events_frame(log)
    # the kernel's own lines: the store to fp-16 and the load back, with their insn numbers
    store = next(ln for ln in res.log.splitlines() if "*(u64 *)(r10 -16) = r" in ln)
    load = next(ln for ln in res.log.splitlines() if "= *(u64 *)(r10 -16)" in ln)
    store_insn, load_insn = int(store.split(":")[0]), int(load.split(":")[0])
    load_reg = load.split(")")[1].split("=")[0].strip()  # "r1"
    copies = {
        (int(i), str(d))
        for i, d in zip(
            ev.loc[ev["event"] == "copy", "insn_idx"],
            ev.loc[ev["event"] == "copy", "detail"],
            strict=True,
        )
    }
    assert (store_insn, "fp-16") in copies
    assert (load_insn, load_reg) in copies
    [rid] = set(ev["ref_obj_id"])
    assert f"fp-16=ptr_counter(ref_obj_id={rid})" in res.log
    assert list(ev["event"])[-1] == "release" and list(ev["sink"])[-1] == "drop"
