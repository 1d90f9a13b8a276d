"""The static ownership flow: allocation sites, sinks, and a predicted verdict per program.

An abstract interpretation over each program's control flow, written for bpfkit after the
verifier's model (``kernel/bpf/verifier.c``: ``acquire_reference``/``release_reference``,
``ref_set_non_owning``, ``invalidate_non_owning_refs``, ``check_reg_allocation_locked``,
``mark_ptr_or_null_regs``, ``check_reference_leak``):

- registers and 8-byte stack slots hold abstract values: scalars (an unsigned range, a
  constant when known, an id shared by copies so a branch on one narrows all), the context,
  stack, map-value and packet pointers, references (``ref`` id, owning or non-owning,
  maybe-NULL, byte offset into the object), and the poison left behind by a release
  (``released``) or by ``bpf_spin_unlock`` for non-owning references (``invalid``);
- the state also holds the set of live acquired references and the held lock;
- static subprograms are interpreted in the caller's context (a frame per call); global ones
  are interpreted once on their own, as the verifier does, and may not receive references;
- paths are explored depth-first, fall-through first, as the verifier does; a state already seen
  at an instruction is pruned; after ``WIDEN_AFTER`` visits of one instruction scalar ranges
  are forgotten there, and after ``MAX_STEPS`` instructions in total the answer is "unknown".

Before the walk, the object's BTF is checked the way the kernel checks it at load time, using
:mod:`bpfkit.ownership.fields`: a program-allocated type the kernel refuses fails the whole
program BTF, and a map or section whose special fields are dropped fails every lock, kptr and
collection use in it.

Outside ownership the model is deliberately thin: packet accesses are checked against the
ranges comparisons with ``data_end`` prove, map-value accesses against ``value_size`` (a
constant offset outside is an error; an access bpfkit cannot bound makes the verdict
"unknown"); stack bounds, helper argument types other than the reference ones and return-value
ranges are not modelled (a program failing only those is predicted "accept").

Mistake kinds: ``leak`` (an acquired reference is live at exit on every path that did not
release it), ``leak_on_path`` (live at exit on some paths, released on others),
``use_after_release``, ``double_release``, ``push_without_lock``, ``non_owning_after_unlock``,
``kptr_type_mismatch``, ``wrong_contains_node``, ``other`` (an error the verifier reports that is
not one of these, e.g. a NULL dereference of an acquired pointer or a call under a lock).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from bpfkit.btf.types import FuncProto, Ptr
from bpfkit.obj.insn import BPF_ALU, BPF_ALU64, BPF_JMP32, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, Insn
from bpfkit.ownership.kfuncs import ALLOC_KFUNCS, KFUNCS, KfuncSemantics
from bpfkit.ownership.static_btf import (
    contains_of,
    field_at,
    global_var_at,
    kptr_target,
    member_offset,
    struct_name,
)

if TYPE_CHECKING:
    import pandas as pd

    from bpfkit.obj import Object, Program

__all__ = [
    "Mistake",
    "Prediction",
    "Site",
    "Flow",
    "MISTAKE_KINDS",
    "MAX_STEPS",
    "WIDEN_AFTER",
    "predict",
    "analyze",
    "Analysis",
    "sites_frame",
    "flows_frame",
    "iter_flows",
]

MISTAKE_KINDS = (
    "leak",
    "leak_on_path",
    "use_after_release",
    "double_release",
    "push_without_lock",
    "non_owning_after_unlock",
    "kptr_type_mismatch",
    "wrong_contains_node",
    "other",
)
#: Instructions interpreted per program before giving up with "unknown".
MAX_STEPS = 400_000
#: Visits of one instruction after which scalar constants are forgotten there.
WIDEN_AFTER = 64
_MAX_FRAMES = 8
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Mistake:
    """An ownership mistake at an instruction (program-relative index) and its C line."""

    kind: str
    insn_idx: int
    src_line: int | None
    message: str
    program: str = ""
    site: int | None = None
    site_func: str | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    """The predicted verdict of one program: ``accept``, ``reject`` or ``unknown``."""

    program: str
    verdict: Literal["accept", "reject", "unknown"]
    mistakes: tuple[Mistake, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Site:
    """An allocation or acquisition: the call at ``insn_idx`` of ``func``."""

    program: str
    func: str
    insn_idx: int
    src_line: int | None
    kfunc: str
    type_name: str


@dataclass(frozen=True, slots=True)
class Flow:
    """A site reaching a sink, ``paths`` times over the explored paths. ``site_func`` and
    ``sink_func`` name the function whose instruction numbering the indexes use."""

    program: str
    site_insn: int
    kfunc: str
    type: str
    sink: str
    sink_insn: int
    target: str
    paths: int
    site_func: str
    sink_func: str


# ---------------------------------------------------------------------------- abstract values


@dataclass(frozen=True, slots=True)
class Val:
    """An abstract register / stack value.

    kind: ``uninit``, ``scalar`` (``const`` when known, ``type_id`` for a CO-RE local type id),
    ``unk`` (loaded from memory: anything), ``ctx``, ``stack`` (``name`` = frame number),
    ``mapptr`` (``name`` = map), ``mapval`` (``name`` = map or global section), ``ref``
    (``ref`` = ref id, 0 for a non-owning reference without one), ``released``, ``invalid``.
    """

    kind: str
    const: int | None = None
    off: int | None = 0
    ref: int = 0
    id: int = 0
    maybe_null: bool = False
    owning: bool = True
    name: str = ""
    type_id: int = 0
    lo: int = 0
    hi: int = (1 << 64) - 1


UNINIT = Val("uninit")
UNK = Val("unk")
SCALAR = Val("scalar", None)


def _scalar(value: int | None) -> Val:
    if value is None:
        return SCALAR
    value &= _MASK64
    return Val("scalar", value, lo=value, hi=value)


def _range(lo: int, hi: int, ident: int = 0) -> Val:
    """An unsigned range of a scalar (``kernel/bpf/verifier.c`` keeps umin/umax the same way)."""
    lo, hi = max(lo, 0), min(hi, _MASK64)
    if lo > hi:
        lo, hi = 0, _MASK64
    if lo == hi:
        return Val("scalar", lo, lo=lo, hi=hi, id=ident)
    return Val("scalar", None, lo=lo, hi=hi, id=ident)


def _widen(v: Val) -> Val:
    if v.kind == "scalar" and (v.const is not None or v.lo != 0 or v.hi != _MASK64):
        return replace(v, const=None, lo=0, hi=_MASK64)
    return v


@dataclass(frozen=True, slots=True)
class RefInfo:
    """What a reference id stands for (shared by all states)."""

    site: int
    func: str
    kfunc: str
    type_name: str
    type_id: int
    percpu: bool
    program_allocated: bool


@dataclass(slots=True)
class Frame:
    prog: Program
    regs: list[Val]
    stack: dict[int, Val]
    ret_idx: int  # where to continue in the caller
    depth: int

    def copy(self) -> Frame:
        return Frame(self.prog, list(self.regs), dict(self.stack), self.ret_idx, self.depth)

    def key(self) -> tuple[Any, ...]:
        return (self.prog.name, tuple(self.regs), tuple(sorted(self.stack.items())), self.ret_idx)


@dataclass(slots=True)
class State:
    frames: list[Frame]
    idx: int
    refs: frozenset[int] = frozenset()
    lock: tuple[str, str, int] | None = None

    def copy(self) -> State:
        return State([f.copy() for f in self.frames], self.idx, self.refs, self.lock)

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    def key(self) -> tuple[Any, ...]:
        return (self.idx, tuple(f.key() for f in self.frames), self.refs, self.lock)

    def all_values(self) -> Iterator[tuple[Frame, str, int, Val]]:
        for f in self.frames:
            for i, v in enumerate(f.regs):
                yield f, "r", i, v
            for off, v in list(f.stack.items()):
                yield f, "s", off, v

    def rewrite(self, fn: Any) -> None:
        for f in self.frames:
            f.regs = [fn(v) for v in f.regs]
            f.stack = {k: fn(v) for k, v in f.stack.items()}


class _Stop(Exception):
    """The current path ends (a mistake the verifier would stop at)."""


# ---------------------------------------------------------------------------- the analysis


@dataclass
class Analysis:
    """The result of interpreting one program: mistakes, sites, flows and exploration stats."""

    program: str
    mistakes: list[Mistake] = field(default_factory=list)
    sites: dict[int, Site] = field(default_factory=dict)
    #: (site func, site insn, sink, sink func, sink insn, target) -> times seen
    flows: dict[tuple[str, int, str, str, int, str], int] = field(default_factory=dict)
    ref_info: dict[int, RefInfo] = field(default_factory=dict)
    leaks: dict[int, list[int]] = field(default_factory=dict)  # site -> exit insns
    steps: int = 0
    paths: int = 0
    complete: bool = True
    unknown_reasons: list[str] = field(default_factory=list)

    def prediction(self) -> Prediction:
        mistakes = _classify(self)
        if mistakes:
            first = mistakes[0]
            return Prediction(
                self.program,
                "reject",
                tuple(mistakes),
                f"{first.kind} at insn {first.insn_idx}: {first.message}",
            )
        if not self.complete or self.unknown_reasons:
            why = "; ".join(dict.fromkeys(self.unknown_reasons)) or "exploration incomplete"
            return Prediction(self.program, "unknown", (), why)
        return Prediction(
            self.program,
            "accept",
            (),
            f"no ownership mistake on {self.paths} explored paths ({self.steps} insns)",
        )


def _classify(an: Analysis) -> list[Mistake]:
    """Turn the raw leak records into leak / leak_on_path and order mistakes by discovery."""
    out: list[Mistake] = []
    seen: set[tuple[str, int, int]] = set()
    for m in an.mistakes:
        if m.kind == "leak":
            sunk = any(
                (k[0], k[1]) == (m.site_func, m.site)
                and k[2] not in ("exit_leak", "refcount_acquire")
                for k in an.flows
            )
            kind = "leak_on_path" if sunk else "leak"
            m = replace(m, kind=kind)
        key = (m.kind, m.insn_idx, hash(m.message))
        if key in seen:
            continue
        seen.add(key)
        out.append(m)
    return out


class _Interp:
    def __init__(self, obj: Object, prog: Program) -> None:
        self.obj = obj
        self.prog = prog
        self.spec = obj.btf
        self.an = Analysis(prog.name)
        self.insn_maps: dict[str, dict[int, Insn]] = {}
        self.reloc_at: dict[tuple[str, int], Any] = {r_key(r): r for r in obj.relocs}
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
        self.join_points: dict[str, frozenset[int]] = {}
        self.seen: set[tuple[Any, ...]] = set()
        self.btf_rejected, self.dropped = _object_checks(obj)
        self.global_calls: set[str] = set()

    # -- helpers ------------------------------------------------------------------------
    def insns(self, prog: Program) -> dict[int, Insn]:
        got = self.insn_maps.get(prog.name)
        if got is None:
            got = {i.idx: i for i in prog.insns}
            self.insn_maps[prog.name] = got
        return got

    def joins(self, prog: Program) -> frozenset[int]:
        """Instructions where two paths can meet: jump targets, the instruction after a
        subprogram call (every callee path returns there) and the entry."""
        got = self.join_points.get(prog.name)
        if got is None:
            points = {0}
            for insn in prog.insns:
                target = insn.jump_target
                if target is not None:
                    points.add(target)
                    if insn.code == 0xE5 or insn.op != 0x00:
                        points.add(insn.idx + 1)
                if insn.call is not None and insn.call.kind == "subprog":
                    points.add(insn.idx + 1)
            got = frozenset(points)
            self.join_points[prog.name] = got
        return got

    def line(self, prog: Program, idx: int) -> int | None:
        li = prog.source(idx)
        return li.line if li is not None else None

    def mistake(self, st: State, kind: str, message: str, *, stop: bool = True) -> None:
        prog = st.frame.prog
        self.an.mistakes.append(Mistake(kind, st.idx, self.line(prog, st.idx), message, prog.name))
        if stop:
            raise _Stop

    def flow(self, st: State, ref: int, sink: str, insn: int, target: str = "") -> None:
        info = self.an.ref_info.get(ref)
        if info is None:
            return
        key = (info.func, info.site, sink, st.frame.prog.name, insn, target)
        self.an.flows[key] = self.an.flows.get(key, 0) + 1

    def new_ref(self, st: State, site: int, info: RefInfo) -> int:
        n = 0
        while ((site + 1) << 6 | n) in st.refs and n < 63:
            n += 1
        rid = (site + 1) << 6 | n  # canonical per site, never 0 (0 means "no ref_obj_id")
        self.an.ref_info[rid] = info
        st.refs = st.refs | {rid}
        return rid

    def check_ptr(self, st: State, v: Val, what: str) -> None:
        """A dereference or pointer use of ``v``: report poisoned / NULL-able pointers."""
        if v.kind == "released":
            info = self.an.ref_info.get(v.ref)
            where = f" (acquired at insn {info.site}, {info.type_name})" if info else ""
            self.mistake(st, "use_after_release", f"{what} uses a released reference{where}")
        if v.kind == "invalid":
            self.mistake(
                st,
                "non_owning_after_unlock",
                f"{what} uses a non-owning reference after bpf_spin_unlock",
            )
        if v.kind in ("ref", "mapval") and v.maybe_null:
            self.mistake(st, "other", f"{what} dereferences a pointer that may be NULL")

    # -- values -------------------------------------------------------------------------
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
            return _scalar(insn.imm64)
        sec = rel.symbol_section or ""
        if sec == ".maps":
            return Val("mapptr", name=rel.symbol)
        if sec.startswith((".data", ".bss", ".rodata")):
            base = rel.symbol_value if rel.symbol != sec else 0
            return Val("mapval", name=sec, off=base + insn.imm)
        if sec == ".text" or (rel.symbol_section and rel.symbol_section != sec):
            return Val("unk", name="func")
        return UNK

    def read(self, st: State, reg: int) -> Val:
        return st.frame.regs[reg]

    def use(self, st: State, reg: int) -> Val:
        """Read a register the instruction needs initialized (verifier.c check_reg_arg)."""
        v = st.frame.regs[reg]
        if v.kind == "uninit":
            self.mistake(st, "other", f"R{reg} !read_ok (read before it is written)")
        return v

    def write(self, st: State, reg: int, v: Val) -> None:
        st.frame.regs[reg] = v

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> Analysis:
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
        while todo:
            st = todo.pop()
            try:
                self.path(st, todo)
            except _Stop:
                self.an.paths += 1
            if self.an.steps > MAX_STEPS:
                self.an.complete = False
                self.an.unknown_reasons.append(
                    f"state budget of {MAX_STEPS} instructions exhausted"
                )
                break

    def path(self, st: State, todo: list[State]) -> None:
        while True:
            self.an.steps += 1
            if self.an.steps > MAX_STEPS:
                raise _Stop
            prog = st.frame.prog
            if st.idx in self.joins(prog):
                # only where paths can meet: jump targets and returns from subprograms
                key_pos = (prog.name, st.idx)
                n = self.visits.get(key_pos, 0) + 1
                self.visits[key_pos] = n
                if n > WIDEN_AFTER:
                    st.rewrite(_widen)
                key = st.key()
                if key in self.seen:
                    self.an.paths += 1
                    return
                self.seen.add(key)
            insn = self.insns(prog).get(st.idx)
            if insn is None:
                self.an.unknown_reasons.append(f"fell off {prog.name} at insn {st.idx}")
                raise _Stop
            nxt = self.step(st, insn, todo)
            if nxt is None:
                self.an.paths += 1
                return
            st.idx = nxt

    def step(self, st: State, insn: Insn, todo: list[State]) -> int | None:
        cls = insn.cls
        nxt = insn.idx + insn.nslots
        if insn.dst_reg > 10 or insn.src_reg > 10:
            self.mistake(st, "other", f"register r{max(insn.dst_reg, insn.src_reg)} is invalid")
        if insn.text == "<unknown>":
            self.an.unknown_reasons.append(f"insn {insn.idx}: an encoding bpfkit does not decode")
            raise _Stop
        writes_dst = cls in (BPF_ALU, BPF_ALU64, BPF_LDX) or (cls == BPF_LD and insn.is_ld_imm64)
        if writes_dst and insn.dst_reg == 10:
            self.mistake(st, "other", "frame pointer r10 is read only")
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
            self.write(st, insn.dst_reg, self.load(st, base, insn))
            return nxt
        if cls in (BPF_ST, BPF_STX):
            base = self.use(st, insn.dst_reg)
            self.check_ptr(st, base, f"store to r{insn.dst_reg}")
            self.check_packet(st, base, insn)
            self.check_map_bounds(st, base, insn)
            self.check_kptr_store(st, base, insn)
            if cls == BPF_STX and insn.op == 0xC0:  # atomics
                if insn.imm & 0x01 or insn.imm in (0xE1, 0xF1):
                    reg = 0 if insn.imm == 0xF1 else insn.src_reg
                    self.write(st, reg, SCALAR)
                self.store(st, base, insn, SCALAR)
                return nxt
            value = self.use(st, insn.src_reg) if cls == BPF_STX else _scalar(insn.imm)
            self.store(st, base, insn, value)
            return nxt
        # JMP / JMP32
        if insn.is_exit:
            return self.exit(st, insn)
        if insn.is_call:
            return self.call(st, insn, nxt)
        if insn.code == 0x8D:
            self.an.unknown_reasons.append(f"indirect call (callx) at insn {insn.idx}")
            raise _Stop
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

    # -- ALU ----------------------------------------------------------------------------
    def alu(self, st: State, insn: Insn) -> None:
        op = insn.op
        mov = op == 0xB0
        dst = self.read(st, insn.dst_reg) if mov else self.use(st, insn.dst_reg)
        reads_src = insn.is_reg_source and op not in (0x80, 0xD0)  # neg; END uses the bit for BE
        src = self.use(st, insn.src_reg) if reads_src else _scalar(insn.imm)
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
                v = _range(src.lo, src.hi)
            elif src.kind == "scalar" and src.const is not None:
                v = _scalar(src.const & 0xFFFFFFFF)
            else:
                v = _range(0, 0xFFFFFFFF)
            self.write(st, insn.dst_reg, v)
            return
        if dst.kind == "pkt" and is64 and op in (0x00, 0x10):
            if src.kind == "scalar" and src.const is not None and dst.off is not None:
                delta = _signed(src.const)
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
            rng = _offset_range(dst)
            if rng is not None and src.hi < (1 << 29):
                new = replace(dst, off=None, lo=rng[0] + src.lo, hi=rng[1] + src.hi)
            else:
                new = replace(dst, off=None, lo=0, hi=_MASK64)
            self.write(st, insn.dst_reg, new)
            return
        pointer_kinds = ("ctx", "stack", "mapval", "ref", "released", "invalid")
        if is64 and op in (0x00, 0x10) and dst.kind in pointer_kinds:
            if src.kind == "scalar" and src.const is not None and dst.off is None:
                rng = _offset_range(dst) if dst.kind == "mapval" else None
                if rng is not None:
                    delta = _signed(src.const) * (1 if op == 0x00 else -1)
                    self.write(st, insn.dst_reg, replace(dst, lo=rng[0] + delta, hi=rng[1] + delta))
                    return
            if src.kind == "scalar" and src.const is not None and dst.off is not None:
                delta = _signed(src.const)
                off = dst.off + (delta if op == 0x00 else -delta)
                self.write(st, insn.dst_reg, replace(dst, off=off))
            else:
                self.write(st, insn.dst_reg, replace(dst, off=None))
            return
        if dst.kind == "scalar" and src.kind == "scalar":
            if dst.const is not None and src.const is not None:
                value = _alu_const(op, dst.const, src.const, is64, insn.off)
                self.write(st, insn.dst_reg, _scalar(value) if value is not None else SCALAR)
                return
            self.write(st, insn.dst_reg, _alu_range(op, dst, src, is64, insn.off))
            return
        if dst.kind == "unk" or src.kind == "unk":
            if is64 and op in (0x00, 0x10):
                self.write(st, insn.dst_reg, UNK)
            elif op == 0x50 and src.kind == "scalar":
                self.write(st, insn.dst_reg, _range(0, src.hi if is64 else min(src.hi, 0xFFFFFFFF)))
            else:
                self.write(st, insn.dst_reg, SCALAR if is64 else _range(0, 0xFFFFFFFF))
            return
        self.write(st, insn.dst_reg, SCALAR if is64 else _range(0, 0xFFFFFFFF))

    def scalar_id(self, st: State, insn: Insn) -> int:
        return (1 << 40) | (st.frame.prog.start << 20) | (insn.idx + 1)

    # -- memory -------------------------------------------------------------------------
    def load(self, st: State, base: Val, insn: Insn) -> Val:
        if base.kind == "stack" and base.off is not None:
            frame = self.frame_of(st, base)
            slot = base.off + insn.off
            if frame is not None and insn.size == 64 and slot in frame.stack:
                return frame.stack[slot]
            if insn.size < 64 and insn.op == 0x60:
                return _range(0, (1 << insn.size) - 1)
            return UNK
        if base.kind == "ctx" and base.off is not None and insn.size == 32:
            fields = _PACKET_FIELDS.get(st.frame.prog.prog_type)
            where = base.off + insn.off
            if fields is not None and where == fields[0]:
                return Val("pkt", off=0, id=self.scalar_id(st, insn), lo=0, hi=0)
            if fields is not None and where == fields[1]:
                return Val("pkt_end")
        if insn.size < 64 and insn.op == 0x60:  # BPF_MEM, zero-extended: not a pointer
            return _range(0, (1 << insn.size) - 1)
        return UNK

    def check_map_bounds(self, st: State, base: Val, insn: Insn) -> None:
        """A map-value access must lie inside value_size (verifier.c check_map_access): a
        constant offset outside is an error; a variable one bpfkit cannot bound is "unknown"."""
        if base.kind != "mapval" or base.maybe_null or self.spec is None:
            return
        m = self.maps.get(base.name)
        if m is None or m.value_type is None:
            return
        size = self.spec.sizeof(m.value_type)
        width = insn.size // 8
        rng = _offset_range(base)
        if rng is None:
            self.an.unknown_reasons.append(
                f"map value access at insn {insn.idx} with an offset bpfkit cannot bound"
            )
            raise _Stop
        lo, hi = rng[0] + insn.off, rng[1] + insn.off + width
        if lo >= 0 and hi <= size:
            return
        if base.off is not None:
            self.mistake(
                st,
                "other",
                f"invalid access to map value {base.name}: value_size={size} "
                f"off={base.off + insn.off} size={width}",
            )
        self.an.unknown_reasons.append(
            f"map value access at insn {insn.idx} may reach bytes {lo}..{hi} of {size}"
        )
        raise _Stop

    def check_kptr_store(self, st: State, base: Val, insn: Insn) -> None:
        """A referenced kptr field is written only through bpf_kptr_xchg (verifier.c
        check_map_kptr_access: "store to referenced kptr disallowed")."""
        if base.kind not in ("mapval", "ref") or base.off is None or self.spec is None:
            return
        found = self.field_of(replace(base, off=base.off + insn.off))
        if found is None:
            return
        target = kptr_target(self.spec, found[1].type)
        if target is not None and target[0] in ("kptr", "percpu_kptr"):
            self.mistake(
                st,
                "other",
                f"store to the referenced {target[0]} field {found[1].name} (only "
                "bpf_kptr_xchg may write it)",
            )

    def check_packet(self, st: State, base: Val, insn: Insn) -> None:
        """A packet access must lie inside the range proven by a comparison with data_end
        (verifier.c find_good_pkt_pointers); what bpfkit cannot prove is "unknown"."""
        if base.kind == "pkt_end":
            self.mistake(st, "other", "access through the packet end pointer (pkt_end)")
        if base.kind != "pkt":
            return
        size = insn.size // 8
        if base.off is None or base.off + insn.off < 0 or base.off + insn.off + size > base.lo:
            self.an.unknown_reasons.append(
                f"packet access at insn {insn.idx} not proven in bounds (bpfkit models packet "
                "bounds only for constant offsets)"
            )
            raise _Stop

    def store(self, st: State, base: Val, insn: Insn, value: Val) -> None:
        if base.kind != "stack":
            return
        frame = self.frame_of(st, base)
        if frame is None:
            return
        if base.off is None:
            frame.stack.clear()
            return
        slot = base.off + insn.off
        size = insn.size // 8
        for k in [k for k in frame.stack if k < slot + size and slot < k + 8]:
            del frame.stack[k]
        frame.stack[slot] = value if size == 8 else (SCALAR if value.kind == "scalar" else UNK)

    def frame_of(self, st: State, v: Val) -> Frame | None:
        depth = int(v.name or 0)
        for f in st.frames:
            if f.depth == depth:
                return f
        return None

    # -- branches -----------------------------------------------------------------------
    def branch(self, st: State, insn: Insn, nxt: int, target: int, todo: list[State]) -> int | None:
        a = self.use(st, insn.dst_reg)
        b = self.use(st, insn.src_reg) if insn.is_reg_source else _scalar(insn.imm)
        op = insn.op
        is32 = insn.cls == BPF_JMP32
        taken: bool | None = None
        if a.kind == "scalar" and b.kind == "scalar":
            if a.const is not None and b.const is not None:
                taken = _cmp(op, a.const, b.const, is32)
            else:
                taken = _decide(op, a, b, is32)
        null_test = (
            op in (0x10, 0x50)
            and not is32
            and b.kind == "scalar"
            and b.const == 0
            and a.kind in ("ref", "mapval", "ctx", "stack")
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
            return nxt
        other = st.copy()
        other.idx = target
        if a.kind == "scalar" and b.kind == "scalar":
            if b.const is not None:
                self.refine(other, insn.dst_reg, a, op, b.const, True, is32)
                self.refine(st, insn.dst_reg, a, op, b.const, False, is32)
            elif a.const is not None and op in _SWAP:
                self.refine(other, insn.src_reg, b, _SWAP[op], a.const, True, is32)
                self.refine(st, insn.src_reg, b, _SWAP[op], a.const, False, is32)
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
        new = _refined(op, v, k, taken, is32)
        if new is None:
            return
        nv = _range(new[0], new[1], v.id)
        if v.id:
            ident = v.id
            st.rewrite(lambda x: nv if x.kind == "scalar" and x.id == ident else x)
        else:
            st.frame.regs[reg] = nv

    def mark_null(self, st: State, v: Val, is_null: bool) -> None:
        ident = v.id

        def fix(x: Val) -> Val:
            if x.kind == v.kind and x.id == ident and x.maybe_null:
                return _scalar(0) if is_null else replace(x, maybe_null=False)
            return x

        st.rewrite(fix)
        if is_null and v.kind == "ref" and v.ref:
            st.refs = st.refs - {v.ref}

    # -- exit ---------------------------------------------------------------------------
    def exit(self, st: State, insn: Insn) -> int | None:
        self.use(st, 0)
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
            self.mistake(st, "other", "exit with a bpf_spin_lock held (missing bpf_spin_unlock)")
        for rid in sorted(st.refs):
            info = self.an.ref_info.get(rid)
            if info is None:
                continue
            self.flow(st, rid, "exit_leak", insn.idx)
            self.an.leaks.setdefault(info.site, []).append(insn.idx)
            site = self.an.sites.get(self.site_key(info.func, info.site))
            at_line = f" line {site.src_line}" if site is not None and site.src_line else ""
            self.an.mistakes.append(
                Mistake(
                    "leak",
                    insn.idx,
                    self.line(st.frame.prog, insn.idx),
                    f"reference from {info.kfunc} (site insn {info.site}{at_line} in {info.func}, "
                    f"{info.type_name}) is still held at exit",
                    st.frame.prog.name,
                    info.site,
                    info.func,
                )
            )
        if st.refs:
            raise _Stop
        return None

    # -- calls --------------------------------------------------------------------------
    def call(self, st: State, insn: Insn, nxt: int) -> int | None:
        target = insn.call
        if target is None:
            self.an.unknown_reasons.append(f"unresolved call at insn {insn.idx}")
            raise _Stop
        if target.kind == "subprog":
            return self.call_subprog(st, insn, target.name, target.id, nxt)
        sem = KFUNCS.get(target.name)
        if self.btf_rejected and _needs_program_btf(target.name, sem):
            self.mistake(
                st,
                "other",
                f"{target.name} needs the program BTF, which the kernel refuses to load "
                f"({self.btf_rejected})",
            )
        if st.lock is not None and not _allowed_under_lock(target.name, target.kind):
            self.mistake(
                st,
                "other",
                f"call to {target.name} while holding a bpf_spin_lock (only the graph kfuncs "
                "and bpf_spin_unlock are allowed)",
            )
        args = [self.read(st, r) for r in range(1, 6)]
        self.check_args(st, target.name, target.kind, sem, args)
        r0: Val = SCALAR
        if sem is not None:
            r0 = self.apply(st, insn, sem, args)
        elif (
            target.kind == "kfunc"
            and self.returns_ptr(target.name)
            or target.name in ("bpf_this_cpu_ptr", "bpf_per_cpu_ptr")
        ):
            r0 = UNK
        self.write(st, 0, r0)
        for r in range(1, 6):
            self.write(st, r, UNINIT)
        return nxt

    def call_subprog(self, st: State, insn: Insn, name: str, target_idx: int, nxt: int) -> int:
        try:
            callee = self.obj.program(name)
        except Exception:  # noqa: BLE001 - an unresolvable callee: say unknown
            self.an.unknown_reasons.append(f"call to unknown subprogram {name} at insn {insn.idx}")
            raise _Stop from None
        if callee.subprog and callee.is_global:
            # verifier.c btf_check_subprog_call: a global function is verified once, on its own;
            # its arguments may be scalars, the context or plain memory, never references
            for r in range(1, 6):
                v = self.read(st, r)
                if v.kind in ("ref", "released", "invalid"):
                    self.mistake(
                        st,
                        "other",
                        f"r{r} passes a referenced pointer to global function {name}, which "
                        "the kernel verifies on its own (scalars, context or memory only)",
                    )
            self.global_calls.add(name)
            self.write(st, 0, SCALAR)
            for r in range(1, 6):
                self.write(st, r, UNINIT)
            return nxt
        if len(st.frames) >= _MAX_FRAMES:
            self.an.unknown_reasons.append(f"call depth over {_MAX_FRAMES} at insn {insn.idx}")
            raise _Stop
        depth = max(f.depth for f in st.frames) + 1
        regs = [UNINIT] * 11
        for r in range(1, 6):
            regs[r] = self.read(st, r)
        regs[10] = Val("stack", name=str(depth))
        st.frames.append(Frame(callee, regs, {}, nxt, depth))
        return target_idx - callee.start

    def returns_ptr(self, name: str) -> bool:
        if self.spec is None:
            return False
        from bpfkit.btf.types import BTFKind, Func

        for f in self.spec.find(name, BTFKind.FUNC):
            if isinstance(f, Func):
                proto = self.spec[f.type]
                if isinstance(proto, FuncProto):
                    return isinstance(self.spec.resolve(proto.type), Ptr)
        return False

    def ptr_params(self, name: str) -> list[int]:
        if self.spec is None:
            return []
        from bpfkit.btf.types import BTFKind, Func

        for f in self.spec.find(name, BTFKind.FUNC):
            if isinstance(f, Func):
                proto = self.spec[f.type]
                if isinstance(proto, FuncProto):
                    return [
                        i
                        for i, p in enumerate(proto.params[:5])
                        if isinstance(self.spec.resolve(p.type), Ptr)
                    ]
        return []

    def check_args(
        self, st: State, name: str, kind: str, sem: KfuncSemantics | None, args: list[Val]
    ) -> None:
        if kind == "kfunc":
            params = self.ptr_params(name)
        elif sem is not None:
            params = [
                i
                for i, k in enumerate(sem.arg_kinds)
                if k in ("owned", "kptr_field", "lock", "non_owning")
            ]
        else:
            params = []
        release_arg = sem.release_arg if sem is not None and sem.release else None
        for i in params:
            v = args[i]
            if v.kind == "released" and i == release_arg:
                info = self.an.ref_info.get(v.ref)
                where = f" acquired at insn {info.site}" if info else ""
                self.mistake(st, "double_release", f"{name} releases a reference{where} again")
            if v.kind in ("released", "invalid"):
                self.check_ptr(st, v, f"argument {i + 1} of {name}")

    def apply(self, st: State, insn: Insn, sem: KfuncSemantics, args: list[Val]) -> Val:
        name = sem.name
        prog = st.frame.prog
        if sem.lock_op == "lock":
            self.check_fields(st, args[0], "bpf_spin_lock")
            if st.lock is not None:
                self.mistake(st, "other", "bpf_spin_lock while another bpf_spin_lock is held")
            st.lock = _lock_id(args[0])
            return SCALAR
        if sem.lock_op == "unlock":
            if st.lock is None:
                self.mistake(st, "other", "bpf_spin_unlock without a held lock")
            st.lock = None
            st.rewrite(
                lambda v: Val("invalid", ref=v.ref) if v.kind == "ref" and not v.owning else v
            )
            return SCALAR
        if sem.category == "map" and name == "bpf_map_lookup_elem":
            m = args[0]
            return Val(
                "mapval",
                name=m.name if m.kind == "mapptr" else "?",
                maybe_null=True,
                id=insn.idx + 1 + (prog.start << 20),
            )
        if sem.needs_lock:
            self.check_lock(st, args[0], name)
        if sem.release and sem.release_arg is not None:
            self.release(st, insn, args[sem.release_arg], name)
            return SCALAR
        if sem.takes_ownership and sem.release_arg is not None:
            return self.take(st, insn, sem, args)
        if sem.acquire or sem.ret_non_owning:
            return self.acquire(st, insn, sem, args)
        return SCALAR

    def check_fields(self, st: State, v: Val, what: str) -> None:
        """The map or global section of ``v`` lost its special fields when the kernel parsed
        its BTF (map_check_btf keeps no record): locks, kptrs and collections in it fail."""
        if v.kind == "mapval" and v.name in self.dropped:
            self.mistake(
                st,
                "other",
                f"{what}: {v.name} has no valid special fields ({self.dropped[v.name]})",
            )

    def check_lock(self, st: State, head: Val, name: str) -> None:
        self.check_fields(st, head, name)
        want = _lock_id(head)
        if st.lock is None:
            self.mistake(
                st, "push_without_lock", f"{name} without the collection's bpf_spin_lock held"
            )
        if want is not None and st.lock is not None and want != st.lock:
            # check_reg_allocation_locked: the held lock must be in the same allocation as the
            # head: the same global section, the same map lookup (reg->id) or the same object
            what = "another element of " if want[:2] == st.lock[:2] else ""
            self.mistake(
                st,
                "push_without_lock",
                f"{name} on {want[1]} while holding the lock of {what}{st.lock[1]}",
            )

    def release(self, st: State, insn: Insn, v: Val, name: str) -> None:
        if v.kind == "ref" and v.ref and v.owning:
            if v.maybe_null:
                self.mistake(st, "other", f"{name} on a pointer that may be NULL")
            info = self.an.ref_info.get(v.ref)
            problem = self.release_mismatch(name, info) if info is not None else None
            if problem:
                self.mistake(st, "other", problem)
            if v.ref not in st.refs:
                self.mistake(st, "double_release", f"{name} releases a reference that is not held")
            self.flow(st, v.ref, "drop" if "obj_drop" in name else "release", insn.idx, name)
            self.poison(st, v.ref)
            return
        if v.kind == "ref" and not v.owning:
            self.mistake(st, "other", f"{name} on a non-owning reference")
        if v.kind == "scalar":
            self.mistake(st, "other", f"{name} on a scalar, not a referenced pointer")
        if v.kind not in ("released", "invalid"):
            self.an.unknown_reasons.append(
                f"{name} at insn {insn.idx} on an untracked value ({v.kind})"
            )

    def release_mismatch(self, name: str, info: RefInfo) -> str | None:
        """Why ``name`` cannot release this object (verifier.c checks the release argument's
        type against the kfunc's parameter), or None."""
        if name in ("bpf_obj_drop_impl", "bpf_percpu_obj_drop_impl"):
            if not info.program_allocated:
                return f"{name} on a kernel object ({info.type_name}) from {info.kfunc}"
            if info.percpu != (name == "bpf_percpu_obj_drop_impl"):
                what = "a per-CPU object" if info.percpu else "a plain allocated object"
                return f"{name} on {what} ({info.type_name})"
            return None
        if self.spec is None or info.type_name == "?":
            return None
        from bpfkit.btf.types import BTFKind, Func

        for f in self.spec.find(name, BTFKind.FUNC):
            proto = self.spec[f.type] if isinstance(f, Func) else None
            if isinstance(proto, FuncProto) and proto.params:
                want = struct_name(self.spec, proto.params[0].type)
                if want and not want.startswith(("void", "?")) and want != info.type_name:
                    return f"{name} expects {want}, the reference is {info.type_name}"
        return None

    def poison(self, st: State, rid: int) -> None:
        st.refs = st.refs - {rid}
        st.rewrite(lambda x: Val("released", ref=rid) if x.kind == "ref" and x.ref == rid else x)

    def take(self, st: State, insn: Insn, sem: KfuncSemantics, args: list[Val]) -> Val:
        name = sem.name
        assert sem.release_arg is not None
        node = args[sem.release_arg]
        if name == "bpf_kptr_xchg":
            return self.kptr_xchg(st, insn, args[0], node)
        if node.kind != "ref":
            if node.kind not in ("released", "invalid"):
                self.an.unknown_reasons.append(
                    f"{name} at insn {insn.idx} on an untracked node ({node.kind})"
                )
            return SCALAR
        if not node.owning:
            self.mistake(st, "other", f"{name} with a non-owning reference as the node")
        if node.maybe_null:
            self.mistake(st, "other", f"{name} with a node that may be NULL")
        self.check_contains(st, name, args[0], node)
        kind = "list_push" if "list" in name else "rbtree_add"
        self.flow(st, node.ref, kind, insn.idx, self.describe_field(args[0]))
        rid = node.ref
        st.refs = st.refs - {rid}
        st.rewrite(lambda x: replace(x, owning=False) if x.kind == "ref" and x.ref == rid else x)
        return SCALAR

    def kptr_xchg(self, st: State, insn: Insn, dst: Val, new: Val) -> Val:
        self.check_fields(st, dst, "bpf_kptr_xchg")
        field_info = self.field_of(dst)
        target = kptr_target(self.spec, field_info[1].type) if field_info and self.spec else None
        if new.kind == "ref" and new.ref:
            info = self.an.ref_info.get(new.ref)
            if new.maybe_null:
                self.mistake(st, "other", "bpf_kptr_xchg with an object that may be NULL")
            if target is not None and info is not None:
                tag, tname = target
                if (tag == "percpu_kptr") != info.percpu or tname != info.type_name:
                    self.mistake(
                        st,
                        "kptr_type_mismatch",
                        f"{'per-CPU ' if info.percpu else ''}{info.type_name} into the {tag} field "
                        f"{field_info[1].name if field_info else '?'} of {tname}",
                    )
            self.flow(st, new.ref, "kptr_xchg", insn.idx, self.describe_field(dst))
            self.poison(st, new.ref)
        elif new.kind in ("released", "invalid"):
            self.check_ptr(st, new, "argument 2 of bpf_kptr_xchg")
        if target is None:
            if self.spec is not None:
                self.an.unknown_reasons.append(
                    f"bpf_kptr_xchg at insn {insn.idx}: field not resolved"
                )
            tname, percpu = "?", False
        else:
            tname, percpu = target[1], target[0] == "percpu_kptr"
        info = RefInfo(insn.idx, st.frame.prog.name, "bpf_kptr_xchg", tname, 0, percpu, True)
        site = insn.idx + (st.frame.prog.start << 20 if st.frame.prog.subprog else 0)
        self.add_site(st, insn.idx, "bpf_kptr_xchg", tname)
        rid = self.new_ref(st, site, replace(info, site=insn.idx))
        return Val("ref", ref=rid, id=rid, maybe_null=True)

    def acquire(self, st: State, insn: Insn, sem: KfuncSemantics, args: list[Val]) -> Val:
        name = sem.name
        prog = st.frame.prog
        type_name, type_id, percpu, off, alloc = "?", 0, False, 0, True
        if name in ALLOC_KFUNCS:
            tid = args[0].type_id
            if tid and self.spec is not None:
                type_name, type_id = struct_name(self.spec, tid), tid
            percpu = name == "bpf_percpu_obj_new_impl"
        elif sem.category == "collection":
            if name == "bpf_rbtree_remove":
                node = args[1]
                # verifier.c: "rbtree_remove node input must be non-owning ref" or a refcounted
                # owning one (ref_obj_id set); only a NULL-able node is an error here
                if node.kind == "ref" and node.maybe_null:
                    self.mistake(st, "other", "bpf_rbtree_remove with a node that may be NULL")
                old = self.an.ref_info.get(node.ref) if node.kind == "ref" else None
                cont = self.contains(args[0])
                type_name = old.type_name if old else (cont[0] if cont else "?")
                off = node.off or 0
            else:
                cont = self.contains(args[0])
                if cont is not None:
                    type_name = cont[0]
                    off = self.node_offset(cont) or 0
        elif sem.category == "refcount":
            src = args[0]
            old = self.an.ref_info.get(src.ref) if src.kind == "ref" else None
            if src.kind in ("released", "invalid"):
                self.check_ptr(st, src, f"argument 1 of {name}")
            type_name = old.type_name if old else "?"
            if src.kind == "ref" and src.ref:
                self.flow(st, src.ref, "refcount_acquire", insn.idx, type_name)
            off = (src.off or 0) if src.kind == "ref" else 0
        else:
            alloc = False
            type_name = self.ret_struct(name)
        if sem.ret_non_owning:
            return Val(
                "ref",
                ref=0,
                id=insn.idx + 1 + (prog.start << 20),
                maybe_null=sem.ret_null,
                owning=False,
                off=off,
            )
        site = insn.idx
        self.add_site(st, insn.idx, name, type_name)
        rid = self.new_ref(
            st,
            site + (prog.start << 20 if prog.subprog else 0),
            RefInfo(site, prog.name, name, type_name, type_id, percpu, alloc),
        )
        return Val("ref", ref=rid, id=rid, maybe_null=sem.ret_null, off=off)

    def site_key(self, func: str, idx: int) -> int:
        prog = self.obj.program(func) if func != self.prog.name else self.prog
        return idx + (prog.start << 20 if prog.subprog else 0)

    def add_site(self, st: State, idx: int, kfunc: str, type_name: str) -> None:
        prog = st.frame.prog
        key = self.site_key(prog.name, idx)
        if key not in self.an.sites:
            self.an.sites[key] = Site(
                self.prog.name, prog.name, idx, self.line(prog, idx), kfunc, type_name
            )

    def ret_struct(self, name: str) -> str:
        if self.spec is None:
            return "?"
        from bpfkit.btf.types import BTFKind, Func

        for f in self.spec.find(name, BTFKind.FUNC):
            if isinstance(f, Func):
                proto = self.spec[f.type]
                if isinstance(proto, FuncProto):
                    return struct_name(self.spec, proto.type)
        return "?"

    # -- fields -------------------------------------------------------------------------
    def field_of(self, v: Val) -> tuple[int, Any] | None:
        """(container type id, FieldRef) of the memory a pointer value points at."""
        if self.spec is None or v.off is None:
            return None
        if v.kind == "mapval":
            m = self.maps.get(v.name)
            if m is not None and m.value_type is not None:
                f = field_at(self.spec, m.value_type, v.off)
                return (m.value_type, f) if f else None
            if v.name.startswith((".data", ".bss", ".rodata")):
                found = global_var_at(self.spec, v.name, v.off, self.symbols.get(v.name, {}))
                if found is None:
                    return None
                var_id, inner = found
                var = self.spec[var_id]
                vt = getattr(var, "type", 0)
                f = field_at(self.spec, vt, inner)
                if f is None or (inner == 0 and f.offset == 0 and _is_special(self.spec, vt)):
                    from bpfkit.ownership.static_btf import FieldRef

                    return var_id, FieldRef(var_id, -1, var.name, vt, 0)
                return vt, f
            return None
        if v.kind == "ref":
            info = self.an.ref_info.get(v.ref) if v.ref else None
            tid = info.type_id if info else 0
            if not tid and info is not None:
                tid = self.local_struct(info.type_name)
            if tid:
                f = field_at(self.spec, tid, v.off)
                return (tid, f) if f else None
        return None

    def local_struct(self, name: str) -> int:
        if self.spec is None or name == "?":
            return 0
        from bpfkit.btf.types import BTFKind

        found = self.spec.find(name, BTFKind.STRUCT)
        return found[0].id if found else 0

    def contains(self, head: Val) -> tuple[str, str] | None:
        found = self.field_of(head)
        if found is None or self.spec is None:
            return None
        f = found[1]
        return contains_of(self.spec, f.container, f.index)

    def node_offset(self, cont: tuple[str, str]) -> int | None:
        tid = self.local_struct(cont[0])
        if not tid or self.spec is None:
            return None
        return member_offset(self.spec, tid, cont[1])

    def describe_field(self, v: Val) -> str:
        found = self.field_of(v)
        base = (
            v.name
            if v.kind == "mapval"
            else (
                self.an.ref_info[v.ref].type_name
                if v.kind == "ref" and v.ref in self.an.ref_info
                else v.kind
            )
        )
        return f"{base}.{found[1].name}" if found else base

    def check_contains(self, st: State, name: str, head: Val, node: Val) -> None:
        cont = self.contains(head)
        info = self.an.ref_info.get(node.ref)
        if cont is None or info is None or self.spec is None or node.off is None:
            return
        tname, fname = cont
        want_off = self.node_offset(cont)
        if info.type_name != tname or (want_off is not None and node.off != want_off):
            got = field_at(self.spec, info.type_id or self.local_struct(info.type_name), node.off)
            self.mistake(
                st,
                "wrong_contains_node",
                f"{name}: the collection contains {tname}:{fname}, the node is "
                f"{info.type_name}.{got.name if got else node.off}",
            )


#: ctx offsets of (data, data_end) by program type word: ``struct __sk_buff`` (data at 76,
#: data_end at 80) and ``struct xdp_md`` (data at 0, data_end at 4), include/uapi/linux/bpf.h.
_PACKET_FIELDS = {
    "tc": (76, 80),
    "tcx": (76, 80),
    "classifier": (76, 80),
    "action": (76, 80),
    "cgroup_skb": (76, 80),
    "sk_skb": (76, 80),
    "lwt_in": (76, 80),
    "lwt_out": (76, 80),
    "lwt_xmit": (76, 80),
    "lwt_seg6local": (76, 80),
    "xdp": (0, 4),
}


_OBJ_CHECKS: OrderedDict[int, tuple[Object, tuple[str, dict[str, str]]]] = OrderedDict()


def _object_checks(obj: Object) -> tuple[str, dict[str, str]]:
    """:func:`_btf_rejection` and :func:`_dropped_fields`, once per object."""
    hit = _OBJ_CHECKS.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    result = (_btf_rejection(obj), _dropped_fields(obj))
    _OBJ_CHECKS[id(obj)] = (obj, result)
    while len(_OBJ_CHECKS) > 16:
        _OBJ_CHECKS.popitem(last=False)
    return result


def _btf_rejection(obj: Object) -> str:
    """Why BPF_BTF_LOAD would fail for this object's BTF ("" when it loads).

    ``btf_parse_struct_metas()`` runs at BTF load: one bad program-allocated type (say, a list
    node and an rb node without a bpf_refcount) fails the whole load, and libbpf then goes on
    without program BTF, so bpf_obj_new, locks and kptrs fail in every program that uses them.
    The records come from :func:`bpfkit.ownership.fields.struct_metas`.
    """
    if obj.btf is None:
        return ""
    from bpfkit.ownership.fields import struct_metas

    for rec in struct_metas(obj.btf):
        if rec.rejected:
            return f"{rec.container}: {rec.reason}"
    return ""


def _dropped_fields(obj: Object) -> dict[str, str]:
    """Maps and global sections whose special fields the kernel drops (name -> reason), from
    :func:`bpfkit.ownership.fields.all_records`; empty when no kernel BTF is at hand (kptr
    types resolve against it)."""
    if obj.btf is None:
        return {}
    from bpfkit.btf import load_vmlinux
    from bpfkit.errors import BpfkitError
    from bpfkit.ownership.fields import all_records

    try:
        kernel = load_vmlinux()
    except BpfkitError:
        return {}
    out: dict[str, str] = {}
    for rec in all_records(obj.btf, obj.maps, sections=obj.globals(), kernel=kernel):
        if rec.errno is not None and rec.container_kind in ("map_value", "global"):
            out[rec.container] = f"{rec.errno}: {rec.reason}"
    return out


def _needs_program_btf(name: str, sem: KfuncSemantics | None) -> bool:
    if name in ALLOC_KFUNCS:
        return True
    if sem is None:
        return False
    return sem.lock_op is not None or sem.needs_lock or name == "bpf_kptr_xchg"


def r_key(r: Any) -> tuple[str, int]:
    return (r.section, r.offset)


def _is_special(spec: Any, tid: int) -> bool:
    t = spec.resolve(tid)
    return getattr(t, "name", "").startswith("bpf_")


def _lock_id(v: Val) -> tuple[str, str, int] | None:
    if v.kind == "mapval":
        return ("map", v.name, v.id)
    if v.kind == "ref":
        return ("ref", str(v.ref), 0)
    return None


_GRAPH_OK = {
    "bpf_list_push_front_impl",
    "bpf_list_push_back_impl",
    "bpf_list_pop_front",
    "bpf_list_pop_back",
    "bpf_list_front",
    "bpf_list_back",
    "bpf_rbtree_add_impl",
    "bpf_rbtree_first",
    "bpf_rbtree_remove",
    "bpf_rbtree_root",
    "bpf_rbtree_left",
    "bpf_rbtree_right",
    "bpf_refcount_acquire_impl",
    "bpf_res_spin_lock",
    "bpf_res_spin_unlock",
}


def _allowed_under_lock(name: str, kind: str) -> bool:
    """``kfunc_spin_allowed`` and the bpf_spin_unlock exception (verifier.c ``do_check``)."""
    if kind == "helper":
        return name == "bpf_spin_unlock"
    return name in _GRAPH_OK or name.startswith("bpf_iter_num_")


_SWAP = {0x10: 0x10, 0x50: 0x50, 0x20: 0xA0, 0x30: 0xB0, 0xA0: 0x20, 0xB0: 0x30}
_SIGNED_AS_UNSIGNED = {0x60: 0x20, 0x70: 0x30, 0xC0: 0xA0, 0xD0: 0xB0}


def _unsigned_op(op: int, a: Val, b: Val, is32: bool) -> int | None:
    """The unsigned comparison equal to ``op`` on these ranges, or None."""
    if op in _SIGNED_AS_UNSIGNED:
        limit = (1 << 31) if is32 else (1 << 63)
        if a.hi < limit and b.hi < limit:  # both non-negative: signed order is unsigned order
            return _SIGNED_AS_UNSIGNED[op]
        return None
    return op if op in (0x10, 0x20, 0x30, 0x50, 0xA0, 0xB0) else None


def _decide(op: int, a: Val, b: Val, is32: bool) -> bool | None:
    """True/False when the ranges decide ``a op b`` on every value, else None."""
    if is32 and (a.hi > 0xFFFFFFFF or b.hi > 0xFFFFFFFF):
        return None
    uop = _unsigned_op(op, a, b, is32)
    if uop is None:
        return None
    if uop == 0x10:
        return False if a.hi < b.lo or b.hi < a.lo else None
    if uop == 0x50:
        return True if a.hi < b.lo or b.hi < a.lo else None
    if uop == 0x20:
        return True if a.lo > b.hi else (False if a.hi <= b.lo else None)
    if uop == 0x30:
        return True if a.lo >= b.hi else (False if a.hi < b.lo else None)
    if uop == 0xA0:
        return True if a.hi < b.lo else (False if a.lo >= b.hi else None)
    if uop == 0xB0:
        return True if a.hi <= b.lo else (False if a.lo > b.hi else None)
    return None


def _refined(op: int, v: Val, k: int, taken: bool, is32: bool) -> tuple[int, int] | None:
    """The range of ``v`` on the ``taken`` side of ``if v op k`` (unsigned reasoning)."""
    if is32 and v.hi > 0xFFFFFFFF:
        return None
    k &= 0xFFFFFFFF if is32 else _MASK64
    uop = _unsigned_op(op, v, _scalar(k), is32)
    if uop is None:
        return None
    if not taken:
        uop = {0x10: 0x50, 0x50: 0x10, 0x20: 0xB0, 0x30: 0xA0, 0xA0: 0x30, 0xB0: 0x20}[uop]
    lo, hi = v.lo, v.hi
    if uop == 0x10:
        return (k, k) if lo <= k <= hi else None
    if uop == 0x50:
        if k == lo:
            return lo + 1, hi
        if k == hi:
            return lo, hi - 1
        return None
    if uop == 0x20:
        return max(lo, k + 1), hi
    if uop == 0x30:
        return max(lo, k), hi
    if uop == 0xA0:
        return lo, min(hi, k - 1)
    if uop == 0xB0:
        return lo, min(hi, k)
    return None


def _alu_range(op: int, a: Val, b: Val, is64: bool, off: int) -> Val:
    """Interval arithmetic for the few operations whose bounds are easy and useful."""
    top = _MASK64 if is64 else 0xFFFFFFFF
    if not is64 and a.hi > 0xFFFFFFFF:
        a = _range(0, 0xFFFFFFFF)
    if op == 0x50:  # and
        return _range(0, min(a.hi, b.hi))
    if op == 0x00 and a.hi + b.hi <= top:
        return _range(a.lo + b.lo, a.hi + b.hi)
    if op == 0x10 and b.const is not None and a.lo >= b.const:
        return _range(a.lo - b.const, a.hi - b.const)
    if op == 0x20 and b.const is not None and a.hi * b.const <= top:  # mul by a constant
        return _range(a.lo * b.const, a.hi * b.const)
    if op == 0x70 and b.const is not None:  # rsh
        sh = b.const & (63 if is64 else 31)
        return _range(a.lo >> sh, a.hi >> sh)
    if op == 0x60 and b.const is not None:  # lsh
        sh = b.const & (63 if is64 else 31)
        if (a.hi << sh) <= top:
            return _range(a.lo << sh, a.hi << sh)
    if op == 0x40 and b.hi <= a.hi:  # or: at most the next power of two
        return _range(a.lo, (1 << a.hi.bit_length()) - 1)
    if op in (0x30, 0x90) and off == 0:  # div, mod (unsigned)
        if op == 0x30:
            return _range(0, a.hi)
        return _range(0, min(a.hi, max(b.hi - 1, 0)) if b.lo > 0 else a.hi)
    return _range(0, top)


def _offset_range(v: Val) -> tuple[int, int] | None:
    """The byte offsets a pointer may have: its constant ``off``, or the range a variable
    offset was added with (kept in ``lo``/``hi`` for map values), or None when unbounded."""
    if v.off is not None:
        return v.off, v.off
    if v.hi != _MASK64:
        return v.lo, v.hi
    return None


def _signed(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def _alu_const(op: int, a: int, b: int, is64: bool, off: int) -> int | None:
    bits = 64 if is64 else 32
    mask = (1 << bits) - 1
    a &= mask
    b &= mask

    def sgn(x: int) -> int:
        return x - (1 << bits) if x >> (bits - 1) else x

    if op == 0x00:
        r = a + b
    elif op == 0x10:
        r = a - b
    elif op == 0x20:
        r = a * b
    elif op == 0x30:
        if b == 0:
            r = 0
        elif off == 1:
            q = abs(sgn(a)) // abs(sgn(b))
            r = q if (sgn(a) < 0) == (sgn(b) < 0) else -q
        else:
            r = a // b
    elif op == 0x40:
        r = a | b
    elif op == 0x50:
        r = a & b
    elif op == 0x60:
        r = a << (b & (bits - 1))
    elif op == 0x70:
        r = a >> (b & (bits - 1))
    elif op == 0x80:
        r = -a
    elif op == 0x90:
        if b == 0:
            r = a
        elif off == 1:
            r = sgn(a) - int(sgn(a) / sgn(b)) * sgn(b)
        else:
            r = a % b
    elif op == 0xA0:
        r = a ^ b
    elif op == 0xC0:
        r = sgn(a) >> (b & (bits - 1))
    else:
        return None
    return r & mask


def _cmp(op: int, a: int, b: int, is32: bool) -> bool | None:
    bits = 32 if is32 else 64
    mask = (1 << bits) - 1
    a &= mask
    b &= mask
    sa = a - (1 << bits) if a >> (bits - 1) else a
    sb = b - (1 << bits) if b >> (bits - 1) else b
    return {
        0x10: a == b,
        0x20: a > b,
        0x30: a >= b,
        0x40: bool(a & b),
        0x50: a != b,
        0x60: sa > sb,
        0x70: sa >= sb,
        0xA0: a < b,
        0xB0: a <= b,
        0xC0: sa < sb,
        0xD0: sa <= sb,
    }.get(op)


# ---------------------------------------------------------------------------- public API


def _programs(obj: Object, program: str | None) -> list[Program]:
    if program is not None:
        return [obj.program(program)]
    return [p for p in obj.programs if not p.subprog]


_CACHE: OrderedDict[tuple[int, str, int, int], tuple[Object, Analysis]] = OrderedDict()
_CACHE_SIZE = 64


def analyze(obj: Object, program: str) -> Analysis:
    """Interpret one program of ``obj`` and return the raw :class:`Analysis`.

    The last few results are kept (keyed by the object's identity, which the cache holds on
    to), so :func:`predict`, :func:`sites_frame` and :func:`flows_frame` on the same object
    interpret each program once. Treat the returned Analysis as read-only.
    """
    key = (id(obj), program, MAX_STEPS, WIDEN_AFTER)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is obj:
        _CACHE.move_to_end(key)
        return hit[1]
    an = _Interp(obj, obj.program(program)).run()
    _CACHE[key] = (obj, an)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return an


def predict(obj: Object, program: str | None = None) -> list[Prediction]:
    """Predict, per program, the verifier's verdict and the ownership mistake.

    Parameters
    ----------
    obj
        A loaded BPF object (:func:`bpfkit.obj.load_object`).
    program
        One program's name; all programs (not ``.text`` subprograms) when None.

    Returns
    -------
    list of Prediction

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import MINIMAL_OBJ
    >>> [(p.program, p.verdict) for p in predict(load_object(MINIMAL_OBJ))]
    [('handle_tp', 'accept')]
    """
    return [analyze(obj, p.name).prediction() for p in _programs(obj, program)]


def sites_frame(obj: Object, program: str | None = None) -> pd.DataFrame:
    """Allocation and acquisition sites: program, func, insn_idx, src_line, kfunc, type name."""
    import pandas as pd

    rows = []
    for prog in _programs(obj, program):
        an = analyze(obj, prog.name)
        for site in sorted(an.sites.values(), key=lambda s: (s.func, s.insn_idx)):
            rows.append(
                {
                    "program": site.program,
                    "func": site.func,
                    "insn_idx": site.insn_idx,
                    "src_line": site.src_line,
                    "kfunc": site.kfunc,
                    "type": site.type_name,
                }
            )
    return pd.DataFrame(rows, columns=["program", "func", "insn_idx", "src_line", "kfunc", "type"])


def iter_flows(obj: Object, program: str | None = None) -> Iterator[Flow]:
    """The :class:`Flow` records of each program (all programs when ``program`` is None)."""
    for prog in _programs(obj, program):
        an = analyze(obj, prog.name)
        infos = {(i.func, i.site): i for i in an.ref_info.values()}
        for key, count in sorted(an.flows.items()):
            site_func, site, sink, sink_func, sink_insn, target = key
            info = infos.get((site_func, site))
            yield Flow(
                prog.name,
                site,
                info.kfunc if info else "?",
                info.type_name if info else "?",
                sink,
                sink_insn,
                target,
                count,
                site_func,
                sink_func,
            )


def flows_frame(obj: Object, program: str | None = None) -> pd.DataFrame:
    """Site -> sink flows: program, site_insn, kfunc, type, sink (drop | release | kptr_xchg |
    list_push | rbtree_add | refcount_acquire | exit_leak), sink_insn, target, paths (how many
    times the exploration took it), site_func and sink_func (the function, program or
    subprogram, whose instruction numbering site_insn / sink_insn use).

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import DATA_PROGRAMS
    >>> df = flows_frame(load_object(DATA_PROGRAMS / "alloc.bpf.o"), "obj_new_leak")
    >>> list(df["sink"])
    ['exit_leak']
    """
    import dataclasses

    import pandas as pd

    rows = [dataclasses.asdict(f) for f in iter_flows(obj, program)]
    return pd.DataFrame(rows, columns=_FLOW_COLUMNS)


_FLOW_COLUMNS = [
    "program",
    "site_insn",
    "kfunc",
    "type",
    "sink",
    "sink_insn",
    "target",
    "paths",
    "site_func",
    "sink_func",
]
