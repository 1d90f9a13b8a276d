"""Which registers an instruction's successors may still read (backward liveness), so that
pruning ignores the rest, as the verifier's ``REG_LIVE_READ`` marks let ``states_equal`` do.

Calls are taken to read r1-r5 (bpfkit does not need to know their arity for this to be safe)
and to write r0-r5; ``exit`` reads r0; r10 is always live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfkit.obj.insn import BPF_ALU, BPF_ALU64, BPF_LD, BPF_LDX, BPF_ST, BPF_STX

if TYPE_CHECKING:
    from bpfkit.obj import Program
    from bpfkit.obj.insn import Insn

__all__ = ["ALL_REGS", "live_registers", "uses_defs"]

ALL_REGS = frozenset(range(11))
_ARGS = frozenset(range(1, 6))
_CALLER_SAVED = frozenset(range(6))


def uses_defs(insn: Insn) -> tuple[frozenset[int], frozenset[int]]:
    """(registers read, registers written) by one instruction."""
    cls, dst, src = insn.cls, insn.dst_reg, insn.src_reg
    if cls in (BPF_ALU, BPF_ALU64):
        reads_src = insn.is_reg_source and insn.op not in (0x80, 0xD0)
        uses = {src} if reads_src else set()
        if insn.op != 0xB0:  # not mov: the old dst is read
            uses.add(dst)
        return frozenset(uses), frozenset({dst})
    if cls == BPF_LD:
        if insn.is_ld_imm64:
            return frozenset(), frozenset({dst})
        return frozenset({6, src}), _CALLER_SAVED  # LD_ABS / LD_IND
    if cls == BPF_LDX:
        return frozenset({src}), frozenset({dst})
    if cls == BPF_ST:
        return frozenset({dst}), frozenset()
    if cls == BPF_STX:
        if insn.op == 0xC0:  # atomics: fetch forms write src (cmpxchg: r0)
            fetch = insn.imm & 0x01 or insn.imm in (0xE1, 0xF1)
            out = frozenset({0 if insn.imm == 0xF1 else src}) if fetch else frozenset()
            return frozenset({dst, src, 0} if insn.imm == 0xF1 else {dst, src}), out
        return frozenset({dst, src}), frozenset()
    if insn.is_exit:
        return frozenset({0}), frozenset()
    if insn.is_call or insn.code == 0x8D:
        return _ARGS | ({dst} if insn.code == 0x8D else set()), _CALLER_SAVED
    if insn.jump_target is not None and insn.op != 0x00 and insn.code != 0xE5:
        return frozenset({dst, src} if insn.is_reg_source else {dst}), frozenset()
    return frozenset(), frozenset()


def live_registers(prog: Program) -> dict[int, frozenset[int]]:
    """Registers live on entry to each instruction of ``prog`` (r10 always included).

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import DATA_PROGRAMS
    >>> prog = load_object(DATA_PROGRAMS / "alloc.bpf.o").programs[0]
    >>> live = live_registers(prog)
    >>> 1 in live[0] and 10 in live[0]  # the context argument is read
    True
    """
    insns = {i.idx: i for i in prog.insns}
    succ: dict[int, list[int]] = {}
    pred: dict[int, list[int]] = {i: [] for i in insns}
    for idx, insn in insns.items():
        out = []
        target = insn.jump_target
        if not insn.is_exit and not (target is not None and insn.op == 0x00 and not insn.is_call):
            out.append(idx + insn.nslots)
        if target is not None and not insn.is_call:
            out.append(target)
        succ[idx] = [s for s in out if s in insns]
        for s in succ[idx]:
            pred[s].append(idx)
    ud = {idx: uses_defs(insn) for idx, insn in insns.items()}
    live: dict[int, frozenset[int]] = {idx: frozenset() for idx in insns}
    work = list(insns)
    queued = set(work)
    while work:
        idx = work.pop()
        queued.discard(idx)
        after: frozenset[int] = frozenset().union(*(live[s] for s in succ[idx]))
        uses, defs = ud[idx]
        new = (after - defs) | uses
        if new != live[idx]:
            live[idx] = new
            for p in pred[idx]:
                if p not in queued:
                    queued.add(p)
                    work.append(p)
    return {idx: v | {10} for idx, v in live.items()}
