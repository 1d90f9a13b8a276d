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

__all__ = ["ALL_REGS", "live_registers", "precise_registers", "uses_defs"]

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
    insns, succ, pred = _graph(prog)
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


def _graph(prog: Program) -> tuple[dict[int, Insn], dict[int, list[int]], dict[int, list[int]]]:
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
    return insns, succ, pred


def _maybe_stack(prog: Program) -> dict[int, frozenset[int]]:
    """Registers that may hold a stack pointer on entry to each instruction (forward, may):
    r10, copies of it moved or offset by a constant, and 64-bit loads through one (a spilled
    stack pointer)."""
    insns, succ, pred = _graph(prog)
    into: dict[int, frozenset[int]] = {idx: frozenset() for idx in insns}
    if not insns:
        return into
    first = min(insns)
    into[first] = frozenset({10})
    work = [first]
    queued = {first}
    while work:
        idx = work.pop()
        queued.discard(idx)
        insn = insns[idx]
        cur = set(into[idx]) | {10}
        cls, dst, src = insn.cls, insn.dst_reg, insn.src_reg
        if cls in (BPF_ALU, BPF_ALU64):
            keep = False
            if cls == BPF_ALU64 and insn.op == 0xB0:  # mov
                keep = insn.is_reg_source and src in cur
            elif cls == BPF_ALU64 and insn.op in (0x00, 0x10):  # add / sub
                keep = dst in cur or (insn.is_reg_source and insn.op == 0x00 and src in cur)
            cur.discard(dst)
            if keep:
                cur.add(dst)
        elif cls == BPF_LDX:
            was = src in cur
            cur.discard(dst)
            if was and insn.size == 64:
                cur.add(dst)
        elif cls == BPF_LD:
            cur.discard(dst)
            if not insn.is_ld_imm64:
                cur -= _CALLER_SAVED
        elif insn.is_call:
            cur -= _CALLER_SAVED
        out = frozenset(cur)
        for s in succ[idx]:
            merged = into[s] | out
            if merged != into[s]:
                into[s] = merged
                if s not in queued:
                    queued.add(s)
                    work.append(s)
    return into


def precise_registers(prog: Program) -> dict[int, frozenset[int]]:
    """Registers on entry to each instruction whose exact scalar value a later instruction may
    depend on: the operands of conditional jumps, call arguments, ``exit``'s r0, memory base
    registers (so the offsets added into them), values spilled to the stack, and whatever
    feeds those through ALU instructions. A scalar outside this set is one the verifier would
    never mark precise (``mark_chain_precision``), so pruning may ignore its value, as
    ``regsafe`` ignores imprecise scalars.

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import DATA_PROGRAMS
    >>> prog = load_object(DATA_PROGRAMS / "alloc.bpf.o").programs[0]
    >>> precise = precise_registers(prog)
    >>> all(precise[i] <= live for i, live in live_registers(prog).items())
    True
    """
    insns, succ, pred = _graph(prog)
    stacky = _maybe_stack(prog)
    rules: dict[int, tuple[frozenset[int], frozenset[int], frozenset[int]]] = {}
    for idx, insn in insns.items():
        uses, defs = uses_defs(insn)
        cls = insn.cls
        if cls in (BPF_ALU, BPF_ALU64):
            rules[idx] = (frozenset(), uses, defs)  # uses matter only if the result does
        elif cls == BPF_STX and insn.op != 0xC0:
            base = insn.dst_reg
            spill = base in stacky.get(idx, frozenset())
            rules[idx] = (frozenset({base, insn.src_reg} if spill else {base}), frozenset(), defs)
        else:
            rules[idx] = (uses, frozenset(), defs)
    precise: dict[int, frozenset[int]] = {idx: frozenset() for idx in insns}
    work = list(insns)
    queued = set(work)
    while work:
        idx = work.pop()
        queued.discard(idx)
        after: frozenset[int] = frozenset().union(*(precise[s] for s in succ[idx]))
        gen, flow, defs = rules[idx]
        new = (after - defs) | gen
        if flow and defs & after:
            new |= flow
        if new != precise[idx]:
            precise[idx] = new
            for p in pred[idx]:
                if p not in queued:
                    queued.add(p)
                    work.append(p)
    return precise
