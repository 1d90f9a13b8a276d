"""The abstract state of the static ownership analysis: values, frames, states, and the
scalar arithmetic on unsigned ranges.

Apart from the rules that read and change it (the other modules of this package), as the
verifier keeps ``struct bpf_reg_state`` / ``bpf_func_state`` / ``bpf_verifier_state`` apart from
``check_*``. :func:`covers` is the pruning test (``states_equal`` / ``regsafe`` in
``kernel/bpf/verifier.c``): an old state at an instruction covers a new one when everything the
new one may hold the old one already allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpfkit.obj import Program

__all__ = [
    "Val",
    "UNINIT",
    "UNK",
    "SCALAR",
    "MASK64",
    "CALLBACK_DONE",
    "scalar",
    "srange",
    "widen",
    "widen_between",
    "RefInfo",
    "Frame",
    "State",
    "Stop",
    "alu_const",
    "alu_range",
    "cmp",
    "decide",
    "refined",
    "offset_range",
    "signed",
    "SWAP",
    "covers",
    "covers_val",
]

MASK64 = (1 << 64) - 1
#: ``ret_idx`` of a callback frame: its exit ends the path (the caller goes on separately).
CALLBACK_DONE = -2
_MASK64 = MASK64


@dataclass(frozen=True, slots=True)
class Val:
    """An abstract register / stack value.

    kind: ``uninit``, ``scalar`` (``const`` when known, ``type_id`` for a CO-RE local type id),
    ``unk`` (loaded from memory: anything), ``ctx``, ``stack`` (``name`` = frame number),
    ``mapptr`` (``name`` = map), ``mapval`` (``name`` = map or global section), ``ref``
    (``ref`` = ref id, 0 for a non-owning reference without one), ``released``, ``invalid``,
    ``ptr``: an unreferenced pointer to a kernel or program BTF type (``PTR_TO_BTF_ID`` without
    ``ref_obj_id``: a tp_btf argument, ``bpf_get_current_task_btf()``, a pointer walked from
    another, a plain load of a ``__kptr`` field), ``name`` its struct and ``trust`` one of
    ``trusted``, ``rcu`` (``MEM_RCU``), ``untrusted`` (``PTR_UNTRUSTED``); ``percpu`` marks
    ``MEM_PERCPU`` pointers; ``dropped_kptr``: what a program loads from a kptr field the kernel
    dropped (a scalar to the kernel; ``name`` the struct the program meant).
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
    trust: str = ""
    percpu: bool = False


UNINIT = Val("uninit")
UNK = Val("unk")
SCALAR = Val("scalar", None)


def scalar(value: int | None) -> Val:
    if value is None:
        return SCALAR
    value &= _MASK64
    return Val("scalar", value, lo=value, hi=value)


def srange(lo: int, hi: int, ident: int = 0) -> Val:
    """An unsigned range of a scalar (``kernel/bpf/verifier.c`` keeps umin/umax the same way)."""
    lo, hi = max(lo, 0), min(hi, _MASK64)
    if lo > hi:
        lo, hi = 0, _MASK64
    if lo == hi:
        return Val("scalar", lo, lo=lo, hi=hi, id=ident)
    return Val("scalar", None, lo=lo, hi=hi, id=ident)


def widen_between(old: Val, new: Val, cuts: list[int]) -> Val:
    """``new`` widened against ``old`` when both are scalars that differ: the bounds that
    moved go to the next of ``cuts`` (sorted) beyond both, or to the end of the range."""
    if old.kind != "scalar" or new.kind != "scalar" or old == new:
        return new
    from bisect import bisect_left, bisect_right

    lo, hi = min(old.lo, new.lo), max(old.hi, new.hi)
    if lo < new.lo or lo < old.lo:
        i = bisect_right(cuts, lo) - 1
        lo = cuts[i] if i >= 0 else 0
    if hi > new.hi or hi > old.hi:
        i = bisect_left(cuts, hi)
        hi = cuts[i] if i < len(cuts) else MASK64
    if lo == new.lo and hi == new.hi and new.const is None:
        return new
    return srange(lo, hi)


def widen(v: Val) -> Val:
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
    ret_idx: int  # where to continue in the caller; CALLBACK_DONE for a callback frame
    depth: int
    #: the kfunc whose callback this frame runs ("" for a plain call)
    callback_of: str = ""

    def copy(self) -> Frame:
        return Frame(
            self.prog, list(self.regs), dict(self.stack), self.ret_idx, self.depth, self.callback_of
        )


@dataclass(slots=True)
class State:
    frames: list[Frame]
    idx: int
    refs: frozenset[int] = frozenset()
    lock: tuple[str, str, int] | None = None
    #: bpf_rcu_read_lock depth (``active_rcu_locks``)
    rcu: int = 0
    #: scalars were widened on the way here (loop iterations bpfkit did not follow exactly)
    widened: bool = False
    #: bpf_preempt_disable depth (``active_preempt_locks``)
    preempt: int = 0
    #: interrupt states saved by bpf_local_irq_save, oldest first: (id, insn)
    irq: tuple[tuple[int, int], ...] = ()

    def copy(self) -> State:
        return State(
            [f.copy() for f in self.frames],
            self.idx,
            self.refs,
            self.lock,
            self.rcu,
            self.widened,
            self.preempt,
            self.irq,
        )

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

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


class Stop(Exception):
    """The current path ends (a mistake the verifier would stop at)."""


SWAP = {0x10: 0x10, 0x50: 0x50, 0x20: 0xA0, 0x30: 0xB0, 0xA0: 0x20, 0xB0: 0x30}
_SIGNED_AS_UNSIGNED = {0x60: 0x20, 0x70: 0x30, 0xC0: 0xA0, 0xD0: 0xB0}


def _unsigned_op(op: int, a: Val, b: Val, is32: bool) -> int | None:
    """The unsigned comparison equal to ``op`` on these ranges, or None."""
    if op in _SIGNED_AS_UNSIGNED:
        limit = (1 << 31) if is32 else (1 << 63)
        if a.hi < limit and b.hi < limit:  # both non-negative: signed order is unsigned order
            return _SIGNED_AS_UNSIGNED[op]
        return None
    return op if op in (0x10, 0x20, 0x30, 0x50, 0xA0, 0xB0) else None


def decide(op: int, a: Val, b: Val, is32: bool) -> bool | None:
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


def refined(op: int, v: Val, k: int, taken: bool, is32: bool) -> tuple[int, int] | None:
    """The range of ``v`` on the ``taken`` side of ``if v op k`` (unsigned reasoning)."""
    if is32 and v.hi > 0xFFFFFFFF:
        return None
    k &= 0xFFFFFFFF if is32 else _MASK64
    uop = _unsigned_op(op, v, scalar(k), is32)
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


def alu_range(op: int, a: Val, b: Val, is64: bool, off: int) -> Val:
    """Interval arithmetic for the few operations whose bounds are easy and useful."""
    top = _MASK64 if is64 else 0xFFFFFFFF
    if not is64 and a.hi > 0xFFFFFFFF:
        a = srange(0, 0xFFFFFFFF)
    if op == 0x50:  # and
        return srange(0, min(a.hi, b.hi))
    if op == 0x00 and a.hi + b.hi <= top:
        return srange(a.lo + b.lo, a.hi + b.hi)
    if op == 0x10 and b.const is not None and a.lo >= b.const:
        return srange(a.lo - b.const, a.hi - b.const)
    if op == 0x20 and b.const is not None and a.hi * b.const <= top:  # mul by a constant
        return srange(a.lo * b.const, a.hi * b.const)
    if op == 0x70 and b.const is not None:  # rsh
        sh = b.const & (63 if is64 else 31)
        return srange(a.lo >> sh, a.hi >> sh)
    if op == 0x60 and b.const is not None:  # lsh
        sh = b.const & (63 if is64 else 31)
        if (a.hi << sh) <= top:
            return srange(a.lo << sh, a.hi << sh)
    if op == 0x40 and b.hi <= a.hi:  # or: at most the next power of two
        return srange(a.lo, (1 << a.hi.bit_length()) - 1)
    if op in (0x30, 0x90) and off == 0:  # div, mod (unsigned)
        if op == 0x30:
            return srange(0, a.hi)
        return srange(0, min(a.hi, max(b.hi - 1, 0)) if b.lo > 0 else a.hi)
    return srange(0, top)


def offset_range(v: Val) -> tuple[int, int] | None:
    """The byte offsets a pointer may have: its constant ``off``, or the range a variable
    offset was added with (kept in ``lo``/``hi`` for map values), or None when unbounded."""
    if v.off is not None:
        return v.off, v.off
    if v.hi != _MASK64:
        return v.lo, v.hi
    return None


def signed(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def alu_const(op: int, a: int, b: int, is64: bool, off: int) -> int | None:
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


def cmp(op: int, a: int, b: int, is32: bool) -> bool | None:
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


# ---------------------------------------------------------------------------- pruning


class _Ids:
    """``check_ids``: a one-to-one map between the ids of an old and a new state, built while
    comparing them; ids only link values, so two states equal up to renaming are equal."""

    __slots__ = ("fwd", "rev")

    def __init__(self) -> None:
        self.fwd: dict[int, int] = {}
        self.rev: dict[int, int] = {}

    def same(self, a: int, b: int) -> bool:
        if not a or not b:
            return a == b
        got = self.fwd.get(a)
        if got is not None:
            return got == b
        if b in self.rev:
            return False
        self.fwd[a] = b
        self.rev[b] = a
        return True


def covers_val(old: Val, new: Val, ids: _Ids | None = None) -> bool:
    """``regsafe``: everything ``new`` may be, ``old`` already allowed (so the path explored
    from ``old`` stands for the one from ``new``). Scalars: the old range holds the new one
    (and a link by id, if old had one, is the same link); pointers: the same pointer up to the
    renaming of ids."""
    if ids is None:
        ids = _Ids()
    kind = old.kind
    if kind == "scalar" and new.kind in ("released", "invalid"):
        # a NULL or unknown scalar where the new state has a released pointer: both hold no
        # object; the verifier compares them as scalars it never made precise (an
        # approximation: bpfkit tracks neither precision nor stack-slot liveness)
        return old.const == 0 or (old.lo == 0 and old.hi == MASK64 and not old.id)
    if kind == "scalar":
        if new.kind != "scalar" or old.type_id != new.type_id:
            return False
        if old.id and not ids.same(old.id, new.id):
            return False
        return old.lo <= new.lo and new.hi <= old.hi
    if kind == "unk":
        return new.kind == "unk" or new.kind == "scalar"
    if kind in ("released", "invalid"):
        # mark_reg_invalid: to the verifier a released pointer is an unknown scalar
        return new.kind in ("released", "invalid", "scalar")
    if kind != new.kind:
        return False
    if kind == "pkt":
        # a packet pointer with less proven room covers one with more (find_good_pkt_pointers)
        if old.lo > new.lo:
            return False
    elif old.lo != new.lo:
        return False
    if (
        old.off != new.off
        or old.maybe_null != new.maybe_null
        or old.owning != new.owning
        or old.name != new.name
        or old.const != new.const
        or old.type_id != new.type_id
        or old.hi != new.hi
        or old.trust != new.trust
        or old.percpu != new.percpu
    ):
        return False
    return (old.id == new.id == 0 or ids.same(old.id, new.id)) and (
        old.ref == new.ref == 0 or ids.same(old.ref, new.ref)
    )


def covers(
    old: State, new: State, live: frozenset[int], precise: frozenset[int] | None = None
) -> bool:
    """``states_equal``: ``old`` (explored, at the same instruction and call chain) covers
    ``new``. Registers of the innermost frame that are not live are ignored, as the verifier
    ignores registers it never reads again; the lock, the RCU depth and the references held
    must be the same (references up to renaming, ``refsafe``). A scalar register of the
    innermost frame outside ``precise`` (no later instruction depends on its value) matches
    any scalar, as ``regsafe`` matches scalars the verifier never marked precise."""
    if old.lock != new.lock or old.rcu != new.rcu or len(old.refs) != len(new.refs):
        return False
    if old.preempt != new.preempt or len(old.irq) != len(new.irq):
        return False
    if len(old.frames) != len(new.frames):
        return False
    ids = _Ids()
    last = len(old.frames) - 1
    for depth, (fo, fn) in enumerate(zip(old.frames, new.frames, strict=True)):
        if fo.prog is not fn.prog or fo.ret_idx != fn.ret_idx:
            return False
        for r in range(11):
            if depth == last and r not in live:
                continue
            vo, vn = fo.regs[r], fn.regs[r]
            if vo is vn and not vo.id and not vo.ref:
                continue
            if (
                depth == last
                and precise is not None
                and r not in precise
                and vo.kind == vn.kind == "scalar"
                and not vo.type_id
                and not vn.type_id
            ):
                continue
            if not covers_val(vo, vn, ids):
                return False
        if fo.stack.keys() != fn.stack.keys():
            return False
        for k, v in fo.stack.items():
            w = fn.stack[k]
            if v is w and not v.id and not v.ref:
                continue
            if not covers_val(v, w, ids):
                return False
    # references no live value holds: matched by allocation site
    rest_old = sorted(r for r in old.refs if r not in ids.fwd)
    rest_new = sorted(r for r in new.refs if r not in ids.rev)
    if [r >> 6 for r in rest_old] != [r >> 6 for r in rest_new]:
        return False
    return all(ids.fwd.get(r) in new.refs for r in old.refs if r in ids.fwd)
