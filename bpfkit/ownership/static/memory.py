"""Memory rules: what a load or store through a pointer may do (``check_mem_access`` and the
checks it calls in ``kernel/bpf/verifier.c``): poisoned and NULL-able pointers, map-value and
packet bounds, the stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfkit.ownership.static import kptr
from bpfkit.ownership.static.btfcheck import PACKET_FIELDS
from bpfkit.ownership.static.values import (
    SCALAR,
    UNK,
    Frame,
    State,
    Stop,
    Val,
    offset_range,
    srange,
)

if TYPE_CHECKING:
    from bpfkit.obj.insn import Insn
    from bpfkit.ownership.static.engine import Interp

__all__ = [
    "check_ptr",
    "use",
    "load",
    "check_map_bounds",
    "check_packet",
    "store",
    "frame_of",
]


def check_ptr(it: Interp, st: State, v: Val, what: str) -> None:
    """A dereference or pointer use of ``v``: report poisoned / NULL-able pointers."""
    if v.kind == "released":
        info = it.an.ref_info.get(v.ref)
        where = f" (acquired at insn {info.site}, {info.type_name})" if info else ""
        it.mistake(
            st, "release_reference.use_after_release", f"{what} uses a released reference{where}"
        )
    if v.kind == "invalid":
        it.mistake(
            st,
            "invalidate_non_owning_refs",
            f"{what} uses a non-owning reference after bpf_spin_unlock",
        )
    if v.kind == "dropped_kptr":
        it.mistake(
            st,
            "check_mem_access.scalar",
            f"{what} dereferences a scalar: the kernel keeps no kptr field for this "
            f"struct {v.name} pointer (its map value's special fields were dropped)",
        )
    if v.kind in ("ref", "mapval", "ptr") and v.maybe_null:
        it.mistake(st, "check_mem_access.null", f"{what} dereferences a pointer that may be NULL")


def use(it: Interp, st: State, reg: int) -> Val:
    """Read a register the instruction needs initialized (verifier.c check_reg_arg)."""
    v = st.frame.regs[reg]
    if v.kind == "uninit":
        it.mistake(st, "check_reg_arg", f"R{reg} !read_ok (read before it is written)")
    return v


def load(it: Interp, st: State, base: Val, insn: Insn) -> Val:
    got = kptr.load_field(it, st, base, insn)  # a __kptr field: check_map_kptr_access
    if got is not None:
        return got
    if base.kind == "stack" and base.off is not None:
        frame = it.frame_of(st, base)
        slot = base.off + insn.off
        if frame is not None and insn.size == 64 and slot in frame.stack:
            return frame.stack[slot]
        if insn.size < 64 and insn.op == 0x60:
            return srange(0, (1 << insn.size) - 1)
        return UNK
    if base.kind == "ctx" and base.off is not None and insn.size == 32:
        fields = PACKET_FIELDS.get(st.frame.prog.prog_type)
        where = base.off + insn.off
        if fields is not None and where == fields[0]:
            return Val("pkt", off=0, id=it.scalar_id(st, insn), lo=0, hi=0)
        if fields is not None and where == fields[1]:
            return Val("pkt_end")
    if insn.size < 64 and insn.op == 0x60:  # BPF_MEM, zero-extended: not a pointer
        return srange(0, (1 << insn.size) - 1)
    return UNK


def check_map_bounds(it: Interp, st: State, base: Val, insn: Insn) -> None:
    """A map-value access must lie inside value_size (verifier.c check_map_access): a
    constant offset outside is an error; a variable one bpfkit cannot bound is "unknown"."""
    if base.kind != "mapval" or base.maybe_null or it.spec is None:
        return
    m = it.maps.get(base.name)
    if m is None or m.value_type is None:
        return
    size = it.spec.sizeof(m.value_type)
    width = insn.size // 8
    rng = offset_range(base)
    if rng is None:
        it.an.unknown_reasons.append(
            f"map value access at insn {insn.idx} with an offset bpfkit cannot bound"
        )
        raise Stop
    lo, hi = rng[0] + insn.off, rng[1] + insn.off + width
    if lo >= 0 and hi <= size:
        return
    if base.off is not None:
        it.mistake(
            st,
            "check_map_access",
            f"invalid access to map value {base.name}: value_size={size} "
            f"off={base.off + insn.off} size={width}",
        )
    it.an.unknown_reasons.append(
        f"map value access at insn {insn.idx} may reach bytes {lo}..{hi} of {size}"
    )
    raise Stop


def check_packet(it: Interp, st: State, base: Val, insn: Insn) -> None:
    """A packet access must lie inside the range proven by a comparison with data_end
    (verifier.c find_good_pkt_pointers); what bpfkit cannot prove is "unknown"."""
    if base.kind == "pkt_end":
        it.mistake(st, "check_packet_access", "access through the packet end pointer (pkt_end)")
    if base.kind != "pkt":
        return
    size = insn.size // 8
    if base.off is None or base.off + insn.off < 0 or base.off + insn.off + size > base.lo:
        it.an.unknown_reasons.append(
            f"packet access at insn {insn.idx} not proven in bounds (bpfkit models packet "
            "bounds only for constant offsets)"
        )
        raise Stop


def store(it: Interp, st: State, base: Val, insn: Insn, value: Val) -> None:
    if base.kind != "stack":
        return
    frame = it.frame_of(st, base)
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


def frame_of(it: Interp, st: State, v: Val) -> Frame | None:
    depth = int(v.name or 0)
    for f in st.frames:
        if f.depth == depth:
            return f
    return None
