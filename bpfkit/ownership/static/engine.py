"""The interpreter: walks a program's paths as the verifier does and applies the rules.

``Interp`` owns the exploration (a work list of states, depth first, fall-through first), the
scalar ALU, branches, calls and exits; each kernel rule lives in the module of its family
(:mod:`.memory`, :mod:`.refs`, :mod:`.kfunc_args`, :mod:`.collection`, :mod:`.kptr`) as a
function of the interpreter, bound here as a method so rules can call each other.

Pruning follows ``is_state_visited`` in ``kernel/bpf/verifier.c``: at the points where paths
meet, a state that an already explored state covers (:func:`.values.covers`) is not explored
again; loops converge because scalars are widened after :data:`WIDEN_AFTER` visits.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from bpfkit.obj.insn import BPF_ALU, BPF_ALU64, BPF_JMP32, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, Insn
from bpfkit.ownership.kfuncs import (
    KFUNC_PROG_TYPES,
    KFUNC_SET_OF_CATEGORY,
    KfuncSemantics,
    semantics,
)
from bpfkit.ownership.static import collection, kfunc_args, kptr, memory, refs, resources
from bpfkit.ownership.static.btfcheck import (
    allowed_under_lock,
    container_kinds,
    lock_id,
    map_prog_compatibility,
    needs_program_btf,
    object_checks,
)
from bpfkit.ownership.static.layout import kernel_layout, reloc_index, text_function_at
from bpfkit.ownership.static.liveness import ALL_REGS, live_registers, precise_registers
from bpfkit.ownership.static.records import Analysis, Mistake
from bpfkit.ownership.static.rules import rule
from bpfkit.ownership.static.values import (
    CALLBACK_DONE,
    MASK64,
    SCALAR,
    SWAP,
    UNINIT,
    UNK,
    Frame,
    State,
    Stop,
    Val,
    alu_const,
    alu_range,
    cmp,
    covers,
    decide,
    offset_range,
    refined,
    scalar,
    signed,
    srange,
    widen,
    widen_between,
)

if TYPE_CHECKING:
    from bpfkit.obj import Object, Program

__all__ = ["Interp", "MAX_FRAMES", "MAX_STATES_PER_INSN"]

MAX_FRAMES = 8
#: Explored states kept per instruction for pruning (the oldest is forgotten first).
MAX_STATES_PER_INSN = 64

_Facts = dict[int, frozenset[int]]
_T = TypeVar("_T")
#: Per function (its ``Program``, which copies of an object share): register facts that
#: depend only on the instructions, computed once.
_LIVE: OrderedDict[int, tuple[Program, _Facts]] = OrderedDict()
_PRECISE: OrderedDict[int, tuple[Program, _Facts]] = OrderedDict()


_INSNS: OrderedDict[int, tuple[Program, Any]] = OrderedDict()
_JOINS: OrderedDict[int, tuple[Program, Any]] = OrderedDict()


def _insn_map(prog: Program) -> dict[int, Insn]:
    return {i.idx: i for i in prog.insns}


def _join_points(prog: Program) -> frozenset[int]:
    points = {0}
    for insn in prog.insns:
        target = insn.jump_target
        if target is not None:
            points.add(target)
            if insn.code == 0xE5 or insn.op != 0x00:
                points.add(insn.idx + 1)
        if insn.call is not None and insn.call.kind == "subprog":
            points.add(insn.idx + 1)
    return frozenset(points)


def _per_program(
    cache: OrderedDict[int, tuple[Program, Any]],
    prog: Program,
    compute: Callable[[Program], _T],
) -> _T:
    hit = cache.get(id(prog))
    if hit is not None and hit[0] is prog:
        got: _T = hit[1]
        return got
    got = compute(prog)
    cache[id(prog)] = (prog, got)
    while len(cache) > 256:
        cache.popitem(last=False)
    return got


class Interp:
    """One program's analysis: ``Interp(obj, prog).run()`` gives the :class:`Analysis`."""

    # rules, by family (each a module function taking the interpreter first)
    check_ptr = memory.check_ptr
    use = memory.use
    load = memory.load
    store = memory.store
    frame_of = memory.frame_of
    check_map_bounds = memory.check_map_bounds
    check_packet = memory.check_packet
    check_special_access = memory.check_special_access
    mistake = refs.mistake
    flow = refs.flow
    new_ref = refs.new_ref
    release = refs.release
    release_mismatch = refs.release_mismatch
    poison = refs.poison
    acquire = refs.acquire
    site_key = refs.site_key
    add_site = refs.add_site
    check_reference_leak = refs.check_reference_leak
    returns_ptr = kfunc_args.returns_ptr
    ptr_params = kfunc_args.ptr_params
    ret_struct = kfunc_args.ret_struct
    check_args = kfunc_args.check_args
    check_lock = collection.check_lock
    check_graph_root = collection.check_graph_root
    take = collection.take
    contains = collection.contains
    node_offset = collection.node_offset
    check_contains = collection.check_contains
    check_kptr_store = kptr.check_kptr_store
    kptr_xchg = kptr.kptr_xchg
    field_of = kptr.field_of
    local_struct = kptr.local_struct
    describe_field = kptr.describe_field
    check_fields = kptr.check_fields

    def __init__(
        self,
        obj: Object,
        prog: Program,
        *,
        max_steps: int = 400_000,
        widen_after: int = 64,
        max_seconds: float = 1.0,
    ) -> None:
        self.obj = obj
        self.prog = prog
        self.max_steps = max_steps
        self.widen_after = widen_after
        self.max_seconds = max_seconds
        self.deadline = time.perf_counter() + max_seconds
        #: where each function starts in the kernel's numbering (subprograms appended)
        self.layout: dict[str, int] = kernel_layout(obj, prog)
        self.spec = obj.btf
        self.an = Analysis(prog.name)
        self.reloc_at: dict[tuple[str, int], Any] = reloc_index(obj)
        self.core_local: dict[tuple[str, int], int] = {}
        if obj.ext is not None:
            for sec, relos in obj.ext.core_relos.items():
                for cr in relos:
                    if int(cr.kind) == 6:  # BPF_CORE_TYPE_ID_LOCAL
                        self.core_local[(sec, cr.insn_idx)] = cr.type_id
        self.symbols: dict[str, dict[str, tuple[int, int]]] = {}
        for (sec, name), (value, size) in obj.data_symbols.items():
            self.symbols.setdefault(sec, {})[name] = (value, size)
        self.maps = {m.name: m for m in obj.maps}
        self.visits: dict[tuple[str, int], int] = {}
        self.explored: dict[tuple[Any, ...], list[State]] = {}
        #: the last state remembered at each (function, insn, call chain): widening's base
        self.last_explored: dict[tuple[Any, ...], State] = {}
        self._thresholds: list[int] | None = None
        self.todo: list[State] = []
        self.btf_rejected, self.dropped = object_checks(obj)
        self.global_calls: set[str] = set()

    def insns(self, prog: Program) -> dict[int, Insn]:
        return _per_program(_INSNS, prog, _insn_map)

    def joins(self, prog: Program) -> frozenset[int]:
        """Instructions where two paths can meet: jump targets, the instruction after a
        subprogram call (every callee path returns there) and the entry."""
        return _per_program(_JOINS, prog, _join_points)

    def is_state_visited(self, st: State) -> bool:
        """``is_state_visited``: True when a state explored before at this instruction (and
        call chain) covers ``st``, so this path adds nothing; else ``st`` is remembered."""
        prog = st.frame.prog
        where = (prog.name, st.idx, tuple((f.prog.name, f.ret_idx) for f in st.frames))
        # what covers() requires to be equal, so only states that may cover are compared
        shape = (
            st.lock,
            st.rcu,
            st.preempt,
            len(st.irq),
            len(st.refs),
            tuple(tuple(sorted(f.stack)) for f in st.frames),
        )
        key = (where, shape)
        olds = self.explored.get(key)
        if olds is None:
            olds = self.explored[key] = []
        live = self.live(prog).get(st.idx, ALL_REGS)
        precise = self.precise(prog).get(st.idx, ALL_REGS)
        for old in olds:
            if covers(old, st, live, precise):
                return True
        if len(olds) >= MAX_STATES_PER_INSN:
            olds.pop(0)
        kept = st.copy()
        olds.append(kept)
        self.last_explored[where] = kept
        return False

    def widen_loop_scalars(self, st: State) -> None:
        """After :data:`WIDEN_AFTER` visits of a join point, the scalars that changed since the
        last state explored there are widened to the next constant the program compares with
        (widening with thresholds): a loop counter bounded by ``i < 16`` stays bounded, one
        bounded by nothing becomes any value, and the loop converges."""
        prog = st.frame.prog
        where = (prog.name, st.idx, tuple((f.prog.name, f.ret_idx) for f in st.frames))
        prev = self.last_explored.get(where)
        if prev is None:
            st.rewrite(widen)
            st.widened = True
            return
        cuts = self.thresholds()
        for fo, fn in zip(prev.frames, st.frames, strict=False):
            for r in range(11):
                was = fn.regs[r]
                fn.regs[r] = widen_between(fo.regs[r], was, cuts)
                st.widened = st.widened or fn.regs[r] is not was
            for k, v in list(fn.stack.items()):
                old = fo.stack.get(k)
                fn.stack[k] = widen_between(old, v, cuts) if old is not None else widen(v)
                st.widened = st.widened or fn.stack[k] is not v

    def thresholds(self) -> list[int]:
        if self._thresholds is None:
            cuts = {0, MASK64}
            for p in self.obj.programs:
                for insn in p.insns:
                    if insn.is_cond_jump and not insn.is_reg_source:
                        k = insn.imm & MASK64
                        cuts.update(x & MASK64 for x in (k - 1, k, k + 1))
            self._thresholds = sorted(cuts)
        return self._thresholds

    def live(self, prog: Program) -> dict[int, frozenset[int]]:
        return _per_program(_LIVE, prog, live_registers)

    def precise(self, prog: Program) -> dict[int, frozenset[int]]:
        return _per_program(_PRECISE, prog, precise_registers)

    def line(self, prog: Program, idx: int) -> int | None:
        li = prog.source(idx)
        return li.line if li is not None else None

    def ld_imm64(self, st: State, insn: Insn) -> Val:
        prog = st.frame.prog
        sec_idx = insn.idx + prog.start
        tid = self.core_local.get((prog.section, sec_idx))
        if tid is not None:
            return Val("scalar", insn.imm64, type_id=tid)
        rel = self.reloc_at.get((prog.section, sec_idx * 8))
        if rel is None:
            if insn.src_reg in (1, 5):
                return Val("mapptr", name=f"fd{insn.imm}")
            if insn.src_reg in (2, 6):
                return Val(
                    "mapval", name=f"fd{insn.imm}", off=insn.imm64 >> 32 if insn.imm64 else 0
                )
            return scalar(insn.imm64)
        sec = rel.symbol_section or ""
        if sec == ".maps":
            return Val("mapptr", name=rel.symbol)
        if sec.startswith((".data", ".bss", ".rodata")):
            base = rel.symbol_value if rel.symbol != sec else 0
            return Val("mapval", name=sec, off=base + insn.imm)
        if sec == ".text":  # a function's address (libbpf makes it BPF_PSEUDO_FUNC)
            base = rel.symbol_value if rel.symbol != sec else 0
            name = text_function_at(self.obj, base + insn.imm)
            return Val("func", name=name) if name else Val("unk", name="func")
        if sec == ".text" or (rel.symbol_section and rel.symbol_section != sec):
            return Val("unk", name="func")
        return UNK

    def check_map_prog_compatibility(self) -> bool:
        """``resolve_pseudo_ldimm64`` -> ``check_map_prog_compatibility``: each map the
        program (with its appended subprograms, in the kernel's order) refers to, at its
        first use, may refuse this program type before any instruction is verified. A refusal
        is recorded without an instruction (``insn`` -1) and ends the analysis."""
        kinds = container_kinds(self.obj)
        ptype = self.prog.prog_type.lstrip("?")
        seen: set[str] = set()
        for fname, _start in sorted(self.layout.items(), key=lambda kv: kv[1]):
            try:
                fn = self.obj.program(fname)
            except Exception:  # noqa: BLE001 - an unresolvable function: the walk says so
                continue
            for insn in fn.insns:
                if insn.code != 0x18:
                    continue
                rel = self.reloc_at.get((fn.section, (insn.idx + fn.start) * 8))
                if rel is None:
                    continue
                sec = rel.symbol_section or ""
                if sec == ".maps":
                    name = rel.symbol
                    m = self.maps.get(name)
                    map_type = str(getattr(m, "map_type", "") or "")
                elif sec.startswith((".data", ".bss", ".rodata")):
                    name, map_type = sec, "array"
                else:
                    continue
                if name in seen:
                    continue
                seen.add(name)
                got = map_prog_compatibility(ptype, kinds.get(name, frozenset()), map_type)
                if got is not None:
                    rule_name, message = got
                    self.an.mistakes.append(
                        Mistake(
                            rule(rule_name).kind,
                            -1,
                            None,
                            f"{message} (map {name})",
                            self.prog.name,
                            rule=rule_name,
                            func=self.prog.name,
                            func_insn=-1,
                            insn=-1,
                        )
                    )
                    return True
        return False

    def read(self, st: State, reg: int) -> Val:
        return st.frame.regs[reg]

    def write(self, st: State, reg: int, v: Val) -> None:
        st.frame.regs[reg] = v

    def run(self) -> Analysis:
        if self.check_map_prog_compatibility():
            return self.an
        regs = [UNINIT] * 11
        regs[1] = Val("ctx")
        regs[10] = Val("stack", name="0")
        start = State([Frame(self.prog, regs, {}, -1, 0)], 0)
        todo: list[State] = [start]
        done_globals: set[str] = set()
        while True:
            self.explore(todo)
            pending = sorted(self.global_calls - done_globals)
            if not pending or not self.an.complete:
                break
            # global subprograms are verified on their own, with unknown arguments
            for name in pending:
                done_globals.add(name)
                callee = self.obj.program(name)
                regs = [UNINIT] * 11
                for r in range(1, 6):
                    regs[r] = UNK
                regs[10] = Val("stack", name="0")
                todo.append(State([Frame(callee, regs, {}, -1, 0)], 0))
        return self.an

    def explore(self, todo: list[State]) -> None:
        self.todo = todo
        while todo:
            st = todo.pop()
            try:
                self.path(st, todo)
            except Stop:
                self.an.paths += 1
            if self.an.steps > self.max_steps:
                self.an.complete = False
                self.an.unknown_reasons.append(
                    f"state budget of {self.max_steps} instructions exhausted"
                )
                break

    def path(self, st: State, todo: list[State]) -> None:
        while True:
            self.an.steps += 1
            if self.an.steps > self.max_steps:
                raise Stop
            if not self.an.steps & 1023 and time.perf_counter() > self.deadline:
                self.an.complete = False
                self.an.unknown_reasons.append(
                    f"time budget of {self.max_seconds:g} s exhausted after {self.an.steps} "
                    "instructions"
                )
                self.max_steps = self.an.steps
                raise Stop
            prog = st.frame.prog
            if st.idx in self.joins(prog):
                # only where paths can meet: jump targets and returns from subprograms
                key_pos = (prog.name, st.idx)
                n = self.visits.get(key_pos, 0) + 1
                self.visits[key_pos] = n
                if n > self.widen_after:
                    self.widen_loop_scalars(st)
                if self.is_state_visited(st):
                    self.an.paths += 1
                    return
            insn = self.insns(prog).get(st.idx)
            if insn is None:
                self.an.unknown_reasons.append(f"fell off {prog.name} at insn {st.idx}")
                raise Stop
            nxt = self.step(st, insn, todo)
            if nxt is None:
                self.an.paths += 1
                return
            st.idx = nxt

    def step(self, st: State, insn: Insn, todo: list[State]) -> int | None:
        cls = insn.cls
        nxt = insn.idx + insn.nslots
        if insn.dst_reg > 10 or insn.src_reg > 10:
            self.mistake(
                st,
                "check_reg_arg.invalid_reg",
                f"register r{max(insn.dst_reg, insn.src_reg)} is invalid",
            )
        if insn.text == "<unknown>":
            self.an.unknown_reasons.append(f"insn {insn.idx}: an encoding bpfkit does not decode")
            raise Stop
        writes_dst = cls in (BPF_ALU, BPF_ALU64, BPF_LDX) or (cls == BPF_LD and insn.is_ld_imm64)
        if writes_dst and insn.dst_reg == 10:
            self.mistake(st, "check_reg_arg.frame_pointer", "frame pointer r10 is read only")
        if cls in (BPF_ALU, BPF_ALU64):
            self.alu(st, insn)
            return nxt
        if cls == BPF_LD:
            if insn.is_ld_imm64:
                self.write(st, insn.dst_reg, self.ld_imm64(st, insn))
            else:  # LD_ABS / LD_IND: r0 = packet data, r1-r5 clobbered
                self.write(st, 0, SCALAR)
                for r in range(1, 6):
                    self.write(st, r, UNINIT)
            return nxt
        if cls == BPF_LDX:
            base = self.use(st, insn.src_reg)
            self.check_ptr(st, base, f"load from r{insn.src_reg}")
            self.check_packet(st, base, insn)
            self.check_map_bounds(st, base, insn)
            self.check_special_access(st, base, insn)
            self.write(st, insn.dst_reg, self.load(st, base, insn))
            return nxt
        if cls in (BPF_ST, BPF_STX):
            base = self.use(st, insn.dst_reg)
            self.check_ptr(st, base, f"store to r{insn.dst_reg}")
            self.check_packet(st, base, insn)
            self.check_map_bounds(st, base, insn)
            self.check_special_access(st, base, insn)
            self.check_kptr_store(st, base, insn)
            if cls == BPF_STX and insn.op == 0xC0:  # atomics
                if insn.imm & 0x01 or insn.imm in (0xE1, 0xF1):
                    reg = 0 if insn.imm == 0xF1 else insn.src_reg
                    self.write(st, reg, SCALAR)
                self.store(st, base, insn, SCALAR)
                return nxt
            value = self.use(st, insn.src_reg) if cls == BPF_STX else scalar(insn.imm)
            self.store(st, base, insn, value)
            return nxt
        # JMP / JMP32
        if insn.is_exit:
            return self.exit(st, insn)
        if insn.is_call:
            return self.call(st, insn, nxt)
        if insn.code == 0x8D:
            self.an.unknown_reasons.append(f"indirect call (callx) at insn {insn.idx}")
            raise Stop
        target = insn.jump_target
        assert target is not None
        if insn.op == 0x00:  # ja / gotol
            return target
        if insn.code == 0xE5:  # may_goto: both ways
            other = st.copy()
            other.idx = target
            todo.append(other)
            return nxt
        return self.branch(st, insn, nxt, target, todo)

    def alu(self, st: State, insn: Insn) -> None:
        op = insn.op
        mov = op == 0xB0
        dst = self.read(st, insn.dst_reg) if mov else self.use(st, insn.dst_reg)
        reads_src = insn.is_reg_source and op not in (0x80, 0xD0)  # neg; END uses the bit for BE
        src = self.use(st, insn.src_reg) if reads_src else scalar(insn.imm)
        is64 = insn.cls == BPF_ALU64
        if op == 0xB0 and insn.off == 0:  # mov
            if is64:
                v = src
                if src.kind == "scalar" and src.const is None and insn.is_reg_source:
                    # a copied unknown scalar: both registers share an id, so a branch on one
                    # refines the other (verifier.c find_equal_scalars / sync_linked_regs)
                    ident = src.id
                    if not ident:
                        # ids are per instruction (canonical, so loops converge): values still
                        # carrying this id from an earlier pass here are no longer linked
                        ident = self.scalar_id(st, insn)
                        st.rewrite(
                            lambda x: (
                                replace(x, id=0) if x.kind == "scalar" and x.id == ident else x
                            )
                        )
                    v = replace(src, id=ident)
                    self.write(st, insn.src_reg, v)
            elif src.kind == "scalar" and src.hi <= 0xFFFFFFFF:
                v = srange(src.lo, src.hi)
            elif src.kind == "scalar" and src.const is not None:
                v = scalar(src.const & 0xFFFFFFFF)
            else:
                v = srange(0, 0xFFFFFFFF)
            self.write(st, insn.dst_reg, v)
            return
        if dst.kind == "pkt" and is64 and op in (0x00, 0x10):
            if src.kind == "scalar" and src.const is not None and dst.off is not None:
                delta = signed(src.const)
                self.write(
                    st, insn.dst_reg, replace(dst, off=dst.off + (delta if op == 0x00 else -delta))
                )
            elif op == 0x00 and src.kind == "scalar" and src.hi < (1 << 16):
                # a bounded variable offset: a new packet pointer id whose fixed offset starts
                # at 0; a later comparison with data_end proves a range for that id only
                new = Val("pkt", off=0, id=self.scalar_id(st, insn), lo=0, hi=0)
                self.write(st, insn.dst_reg, new)
            else:  # unbounded or subtracted: nothing bpfkit can prove about it
                new = Val("pkt", off=None, id=self.scalar_id(st, insn), lo=0, hi=0)
                self.write(st, insn.dst_reg, new)
            return
        if dst.kind in ("pkt", "pkt_end"):
            self.write(st, insn.dst_reg, SCALAR)
            return
        var_map_off = dst.kind == "mapval" and src.kind == "scalar" and src.const is None
        if var_map_off and is64 and op == 0x00:
            # a variable offset into a map value: keep its byte range (lo..hi) so the access
            # can be checked against value_size (check_map_access)
            rng = offset_range(dst)
            if rng is not None and src.hi < (1 << 29):
                new = replace(dst, off=None, lo=rng[0] + src.lo, hi=rng[1] + src.hi)
            else:
                new = replace(dst, off=None, lo=0, hi=MASK64)
            self.write(st, insn.dst_reg, new)
            return
        pointer_kinds = ("ctx", "stack", "mapval", "ref", "released", "invalid", "ptr")
        if is64 and op in (0x00, 0x10):
            # adjust_ptr_min_max_vals: no arithmetic on a pointer that may still be NULL
            ptr_arg = dst if dst.kind in ("ref", "mapval", "ptr") else None
            if ptr_arg is None and op == 0x00 and dst.kind == "scalar":
                ptr_arg = src if src.kind in ("ref", "mapval", "ptr") else None
            if ptr_arg is not None and ptr_arg.maybe_null:
                self.mistake(
                    st,
                    "adjust_ptr_min_max_vals.null",
                    f"R{insn.dst_reg} pointer arithmetic on ptr_or_null_ prohibited, "
                    "null-check it first",
                )
        if is64 and op in (0x00, 0x10) and dst.kind in pointer_kinds:
            if src.kind == "scalar" and src.const is not None and dst.off is None:
                rng = offset_range(dst) if dst.kind == "mapval" else None
                if rng is not None:
                    delta = signed(src.const) * (1 if op == 0x00 else -1)
                    self.write(st, insn.dst_reg, replace(dst, lo=rng[0] + delta, hi=rng[1] + delta))
                    return
            if src.kind == "scalar" and src.const is not None and dst.off is not None:
                delta = signed(src.const)
                off = dst.off + (delta if op == 0x00 else -delta)
                self.write(st, insn.dst_reg, replace(dst, off=off))
            else:
                self.write(st, insn.dst_reg, replace(dst, off=None))
            return
        if dst.kind == "scalar" and src.kind == "scalar":
            if dst.const is not None and src.const is not None:
                value = alu_const(op, dst.const, src.const, is64, insn.off)
                self.write(st, insn.dst_reg, scalar(value) if value is not None else SCALAR)
                return
            self.write(st, insn.dst_reg, alu_range(op, dst, src, is64, insn.off))
            return
        if dst.kind == "unk" or src.kind == "unk":
            if is64 and op in (0x00, 0x10):
                self.write(st, insn.dst_reg, UNK)
            elif op == 0x50 and src.kind == "scalar":
                self.write(st, insn.dst_reg, srange(0, src.hi if is64 else min(src.hi, 0xFFFFFFFF)))
            else:
                self.write(st, insn.dst_reg, SCALAR if is64 else srange(0, 0xFFFFFFFF))
            return
        self.write(st, insn.dst_reg, SCALAR if is64 else srange(0, 0xFFFFFFFF))

    def scalar_id(self, st: State, insn: Insn) -> int:
        return (1 << 40) | (st.frame.prog.start << 20) | (insn.idx + 1)

    def branch(self, st: State, insn: Insn, nxt: int, target: int, todo: list[State]) -> int | None:
        a = self.use(st, insn.dst_reg)
        b = self.use(st, insn.src_reg) if insn.is_reg_source else scalar(insn.imm)
        op = insn.op
        is32 = insn.cls == BPF_JMP32
        taken: bool | None = None
        if a.kind == "scalar" and b.kind == "scalar":
            if a.const is not None and b.const is not None:
                taken = cmp(op, a.const, b.const, is32)
            else:
                taken = decide(op, a, b, is32)
        null_test = (
            op in (0x10, 0x50)
            and not is32
            and b.kind == "scalar"
            and b.const == 0
            and a.kind in ("ref", "mapval", "ctx", "stack", "ptr")
        )
        if taken is not None:
            return target if taken else nxt
        if not is32 and {a.kind, b.kind} == {"pkt", "pkt_end"} and insn.is_reg_source:
            return self.packet_branch(st, a, b, op, nxt, target, todo)
        if null_test:
            eq_idx = target if op == 0x10 else nxt  # where a == 0 goes
            ne_idx = nxt if op == 0x10 else target
            if not a.maybe_null:
                return ne_idx  # a non-NULL pointer: the == 0 branch is dead
            null_st = st.copy()
            self.mark_null(null_st, a, True)
            self.mark_null(st, a, False)
            if ne_idx == nxt:
                null_st.idx = eq_idx
                todo.append(null_st)
            else:
                nonnull = st.copy()
                nonnull.idx = ne_idx
                todo.append(nonnull)
                st.frames, st.refs, st.lock = null_st.frames, null_st.refs, null_st.lock
            st.rcu = null_st.rcu
            return nxt
        other = st.copy()
        other.idx = target
        if a.kind == "scalar" and b.kind == "scalar":
            if b.const is not None:
                self.refine(other, insn.dst_reg, a, op, b.const, True, is32)
                self.refine(st, insn.dst_reg, a, op, b.const, False, is32)
            elif a.const is not None and op in SWAP:
                self.refine(other, insn.src_reg, b, SWAP[op], a.const, True, is32)
                self.refine(st, insn.src_reg, b, SWAP[op], a.const, False, is32)
        todo.append(other)
        return nxt

    def packet_branch(
        self, st: State, a: Val, b: Val, op: int, nxt: int, target: int, todo: list[State]
    ) -> int:
        """``if pkt OP pkt_end``: on the side where ``pkt + off <= data_end`` holds, every
        packet pointer with the same id may be accessed up to ``off`` (try_match_pkt_pointers)."""
        pkt = a if a.kind == "pkt" else b
        if a.kind == "pkt_end":  # normalise to "pkt OP end"
            op = {0x20: 0xA0, 0x30: 0xB0, 0xA0: 0x20, 0xB0: 0x30}.get(op, op)
        # the side on which pkt <= end (or pkt < end) holds
        good_taken = {0xA0: True, 0xB0: True, 0x20: False, 0x30: False}.get(op)
        other = st.copy()
        other.idx = target
        if good_taken is not None and pkt.off is not None and pkt.off >= 0:
            good = other if good_taken else st
            ident, reach = pkt.id, pkt.off
            good.rewrite(
                lambda x: (
                    replace(x, lo=max(x.lo, reach)) if x.kind == "pkt" and x.id == ident else x
                )
            )
        todo.append(other)
        return nxt

    def refine(self, st: State, reg: int, v: Val, op: int, k: int, taken: bool, is32: bool) -> None:
        """Narrow the range of ``v`` (and its linked copies) on one side of ``if v op k``."""
        new = refined(op, v, k, taken, is32)
        if new is None:
            return
        nv = srange(new[0], new[1], v.id)
        if v.id:
            ident = v.id
            st.rewrite(lambda x: nv if x.kind == "scalar" and x.id == ident else x)
        else:
            st.frame.regs[reg] = nv

    def mark_null(self, st: State, v: Val, is_null: bool) -> None:
        ident = v.id

        def fix(x: Val) -> Val:
            if x.kind == v.kind and x.id == ident and x.maybe_null:
                return scalar(0) if is_null else replace(x, maybe_null=False)
            return x

        st.rewrite(fix)
        if is_null and v.kind == "ref" and v.ref:
            st.refs = st.refs - {v.ref}

    def exit(self, st: State, insn: Insn) -> int | None:
        self.use(st, 0)
        if st.frame.ret_idx == CALLBACK_DONE:
            self.check_callback_return(st)
            return None
        if len(st.frames) > 1:
            callee = st.frames.pop()
            r0 = callee.regs[0]
            caller = st.frame
            caller.regs[0] = r0
            for r in range(1, 6):
                caller.regs[r] = UNINIT
            st.idx = callee.ret_idx
            return callee.ret_idx
        if st.lock is not None:
            self.mistake(
                st,
                "check_resource_leak.lock",
                "exit with a bpf_spin_lock held (missing bpf_spin_unlock)",
            )
        self.check_reference_leak(st, insn)
        resources.check_resource_exit(self, st, "irq")
        kptr.check_rcu_exit(self, st)
        resources.check_resource_exit(self, st, "preempt")
        return None

    def call(self, st: State, insn: Insn, nxt: int) -> int | None:
        target = insn.call
        if target is None:
            self.an.unknown_reasons.append(f"unresolved call at insn {insn.idx}")
            raise Stop
        if target.kind == "subprog":
            return self.call_subprog(st, insn, target.name, target.id, nxt)
        sem = semantics(target.name)
        if target.kind == "kfunc":
            self.check_kfunc_prog_type(st, target.name, sem)
        if self.btf_rejected and needs_program_btf(target.name, sem):
            self.mistake(
                st,
                "check_kfunc_call.prog_btf",
                f"{target.name} needs the program BTF, which the kernel refuses to load "
                f"({self.btf_rejected})",
            )
        if st.lock is not None and not allowed_under_lock(target.name, target.kind):
            self.mistake(
                st,
                "do_check.call_under_lock",
                f"call to {target.name} while holding a bpf_spin_lock (only the graph kfuncs "
                "and bpf_spin_unlock are allowed)",
            )
        args = [self.read(st, r) for r in range(1, 6)]
        if target.name in ("bpf_this_cpu_ptr", "bpf_per_cpu_ptr"):
            self.check_percpu_arg(st, args[0])
        if sem is not None and sem.needs_lock:
            # the head argument (arg#0): its register offset, its type, the field at its
            # offset, then check_reg_allocation_locked; the node argument comes after
            self.check_graph_root(st, args[0], sem.name)
            self.check_lock(st, args[0], sem.name)
        kptr.check_helper_access(self, st, target.name, args)
        if target.kind == "helper":
            memory.check_helper_mem(self, st, target.name, args)
        self.check_args(st, target.name, target.kind, sem, args)
        kptr.rcu_lock_op(self, st, target.name)
        if target.name in resources.RESOURCE_KFUNCS:
            resources.resource_op(self, st, insn, target.name, args)
        if target.name == "bpf_rbtree_remove" and any(
            f.callback_of == "bpf_rbtree_add_impl" for f in st.frames
        ):
            self.mistake(
                st, "check_kfunc_args.in_rbtree_cb", "bpf_rbtree_remove not allowed in rbtree cb"
            )
        r0: Val = SCALAR
        if sem is not None and sem.name == "bpf_rbtree_add_impl" and args[2].kind == "func":
            self.visit_callback(st, insn, args, args[2].name)
        if sem is not None:
            r0 = self.apply(st, insn, sem, args)
        elif (
            target.kind == "kfunc"
            and self.returns_ptr(target.name)
            or target.name in ("bpf_this_cpu_ptr", "bpf_per_cpu_ptr")
        ):
            r0 = UNK
        elif target.name == "bpf_get_current_task_btf":
            r0 = Val("ptr", name="task_struct", trust="trusted")
        self.write(st, 0, r0)
        for r in range(1, 6):
            self.write(st, r, UNINIT)
        return nxt

    def lookup_never_null(self, st: State, map_name: str, key: Val) -> bool:
        """``can_elide_value_nullness``: a lookup in an array map with a key the verifier
        knows (:func:`.memory.constant_key`) below ``max_entries`` never returns NULL."""
        m = self.maps.get(map_name)
        if m is None or str(m.map_type) not in ("array", "percpu_array"):
            return False
        key_size = m.key_size
        if key_size is None and m.key_type is not None and self.spec is not None:
            key_size = self.spec.sizeof(m.key_type)
        if not key_size:
            return False
        value = memory.constant_key(self, st, key, key_size)
        return value is not None and value < m.max_entries

    def check_kfunc_prog_type(self, st: State, name: str, sem: KfuncSemantics | None) -> None:
        """``fetch_kfunc_meta``: a kfunc is callable only from the program types its set is
        registered for ("calling kernel function %s is not allowed")."""
        if sem is None:
            return
        kset = KFUNC_SET_OF_CATEGORY.get(sem.category)
        if kset is None:
            return
        # the program's type (a subprogram runs as the program that calls it)
        ptype = self.prog.prog_type.lstrip("?").split(".")[0]
        if ptype and ptype not in KFUNC_PROG_TYPES[kset]:
            self.mistake(
                st,
                "fetch_kfunc_meta.prog_type",
                f"calling kernel function {sem.name} is not allowed",
            )

    def check_percpu_arg(self, st: State, v: Val) -> None:
        """``check_reg_type`` for ARG_PTR_TO_PERCPU_BTF_ID: only a per-CPU BTF pointer."""
        if v.kind == "ref":
            info = self.an.ref_info.get(v.ref) if v.ref else None
            ok = info is None or info.percpu
        elif v.kind == "ptr":
            ok = v.percpu
        else:
            ok = v.kind not in ("mapval", "stack", "ctx", "scalar", "pkt")
        if not ok:
            what = {"mapval": "map_value", "stack": "fp"}.get(v.kind, "ptr_")
            self.mistake(
                st,
                "check_reg_type.percpu",
                f"R1 type={what} expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_",
            )

    def visit_callback(self, st: State, insn: Insn, args: list[Val], name: str) -> None:
        """``push_callback_call``: the ``less()`` callback of bpf_rbtree_add is verified at the
        call, with the lock held and two non-owning node references as arguments; it is
        queued as a path of its own that ends at the callback's exit."""
        try:
            callee = self.obj.program(name)
        except Exception:  # noqa: BLE001 - an unresolvable callee: say unknown
            self.an.unknown_reasons.append(f"callback {name} at insn {insn.idx} not found")
            return
        if len(st.frames) >= MAX_FRAMES:
            return
        cb = st.copy()
        depth = max(f.depth for f in cb.frames) + 1
        cont = self.contains(args[0])
        off = self.node_offset(cont) or 0 if cont is not None else 0
        tname = cont[0] if cont is not None else ""
        regs = [UNINIT] * 11
        for r in (1, 2):
            ident = (1 << 42) | (insn.idx << 2) | r
            regs[r] = Val("ref", ref=0, id=ident, owning=False, off=off, name=tname)
        regs[10] = Val("stack", name=str(depth))
        cb.frames.append(Frame(callee, regs, {}, CALLBACK_DONE, depth, "bpf_rbtree_add_impl"))
        cb.idx = 0
        self.todo.append(cb)

    def check_callback_return(self, st: State) -> None:
        """``prepare_func_exit``: an rbtree ``less()`` callback returns a bool (R0 in [0, 1])."""
        r0 = st.frame.regs[0]
        if r0.kind == "scalar" and r0.hi > 1:
            lo = signed(r0.lo) if r0.lo == r0.hi else r0.lo
            self.mistake(
                st,
                "prepare_func_exit.callback_range",
                f"At callback return the register R0 has smin={lo} smax={signed(r0.hi)} should "
                "have been in [0, 1]",
            )

    def call_subprog(self, st: State, insn: Insn, name: str, target_idx: int, nxt: int) -> int:
        try:
            callee = self.obj.program(name)
        except Exception:  # noqa: BLE001 - an unresolvable callee: say unknown
            self.an.unknown_reasons.append(f"call to unknown subprogram {name} at insn {insn.idx}")
            raise Stop from None
        if callee.subprog and callee.is_global and st.lock is not None:
            self.mistake(
                st,
                "do_check.call_under_lock",
                f"global function calls are not allowed while holding a lock, use static "
                f"function instead ({name})",
            )
        if callee.subprog and callee.is_global:
            # verifier.c btf_check_subprog_call: a global function is verified once, on its own;
            # its arguments may be scalars, the context or plain memory, never references
            for r in range(1, 6):
                v = self.read(st, r)
                if v.kind in ("ref", "released", "invalid"):
                    self.mistake(
                        st,
                        "btf_check_subprog_call",
                        f"r{r} passes a referenced pointer to global function {name}, which "
                        "the kernel verifies on its own (scalars, context or memory only)",
                    )
            kptr.check_global_call_access(self, st, name, [self.read(st, r) for r in range(1, 6)])
            self.global_calls.add(name)
            self.write(st, 0, SCALAR)
            for r in range(1, 6):
                self.write(st, r, UNINIT)
            return nxt
        if len(st.frames) >= MAX_FRAMES:
            self.an.unknown_reasons.append(f"call depth over {MAX_FRAMES} at insn {insn.idx}")
            raise Stop
        depth = max(f.depth for f in st.frames) + 1
        regs = [UNINIT] * 11
        for r in range(1, 6):
            regs[r] = self.read(st, r)
        regs[10] = Val("stack", name=str(depth))
        st.frames.append(Frame(callee, regs, {}, nxt, depth))
        return target_idx - callee.start

    def apply(self, st: State, insn: Insn, sem: KfuncSemantics, args: list[Val]) -> Val:
        name = sem.name
        prog = st.frame.prog
        if sem.lock_op in ("lock", "unlock") and any(
            f.callback_of == "bpf_rbtree_add_impl" for f in st.frames
        ):
            # check_func_arg, ARG_PTR_TO_SPIN_LOCK: in_rbtree_lock_required_cb
            self.mistake(
                st, "check_func_arg.spin_lock_in_rbtree_cb", "can't spin_{lock,unlock} in rbtree cb"
            )
        if sem.lock_op in ("lock", "unlock"):
            collection.check_spin_lock_off(self, st, args[0])
        if sem.lock_op == "lock":
            self.check_fields(st, args[0], "bpf_spin_lock")
            if st.lock is not None:
                self.mistake(
                    st,
                    "process_spin_lock.double",
                    "bpf_spin_lock while another bpf_spin_lock is held",
                )
            st.lock = lock_id(args[0])
            return SCALAR
        if sem.lock_op == "unlock":
            if st.lock is None:
                self.mistake(
                    st,
                    "process_spin_lock.unlock_without_lock",
                    "bpf_spin_unlock without a held lock",
                )
            held = lock_id(args[0])
            if held is not None and st.lock is not None and held != st.lock:
                self.mistake(
                    st,
                    "process_spin_lock.different",
                    f"bpf_spin_unlock of different lock ({held[1]}, holding {st.lock[1]})",
                )
            st.lock = None
            st.rewrite(
                lambda v: (
                    Val("invalid", ref=v.ref)
                    if v.kind in ("ref", "ptr") and not v.owning
                    else v
                )
            )
            return SCALAR
        if sem.category == "map" and name == "bpf_map_lookup_elem":
            m = args[0]
            mname = m.name if m.kind == "mapptr" else "?"
            return Val(
                "mapval",
                name=mname,
                maybe_null=not self.lookup_never_null(st, mname, args[1]),
                id=insn.idx + 1 + (prog.start << 20),
            )
        if sem.release and sem.release_arg is not None:
            self.release(st, insn, args[sem.release_arg], name)
            return SCALAR
        if sem.takes_ownership and sem.release_arg is not None:
            return self.take(st, insn, sem, args)
        if sem.acquire or sem.ret_non_owning:
            return self.acquire(st, insn, sem, args)
        return SCALAR
