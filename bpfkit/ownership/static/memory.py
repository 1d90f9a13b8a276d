"""Memory rules: what a load or store through a pointer may do (``check_mem_access`` and the
checks it calls in ``kernel/bpf/verifier.c``): poisoned and NULL-able pointers, map-value and
packet bounds, the stack.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bpfkit.ownership.static import kptr
from bpfkit.ownership.static.btfcheck import PACKET_FIELDS
from bpfkit.ownership.static.kernel_types import ctx_args, member_at, member_end, struct_size
from bpfkit.ownership.static.values import (
    SCALAR,
    UNK,
    Frame,
    State,
    Stop,
    Val,
    offset_range,
    scalar,
    srange,
)
from bpfkit.ownership.static_btf import field_at

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
    "constant_key",
    "check_helper_mem",
    "HELPER_MEM_ARGS",
    "frame_of",
    "ctx_arg",
    "walk",
    "sleepable",
    "in_rcu_cs",
    "check_special_access",
    "SPECIAL_FIELDS",
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
    if base.kind == "ctx" and base.off is not None and insn.size == 64:
        walked = ctx_arg(it, st, base.off + insn.off)
        if walked is not None:
            return walked
    if base.kind in ("ptr", "ref") and base.off is not None:
        walked = walk(it, st, base, insn)
        if walked is not None:
            return walked
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
    if size == 8:
        frame.stack[slot] = value
    elif value.kind == "scalar" and value.const is not None and (
        slot % 8 == 0 or value.const == 0
    ):
        # check_stack_write_fixed_off: a known scalar written at a slot boundary is a spill
        # of ``size`` bytes; a zero written elsewhere marks its bytes STACK_ZERO. Both keep
        # the constant (``off`` holds the width) for get_constant_map_key
        frame.stack[slot] = replace(scalar(value.const & ((1 << (8 * size)) - 1)), off=size)
    else:
        frame.stack[slot] = SCALAR if value.kind == "scalar" else UNK


def constant_key(it: Interp, st: State, key: Val, key_size: int) -> int | None:
    """``get_constant_map_key``: the value of a map key on the stack when the verifier knows
    it: a spill of a known scalar of exactly ``key_size`` bytes at a slot boundary, or at
    least ``key_size`` zeroed bytes; None otherwise."""
    if key.kind != "stack" or key.off is None:
        return None
    frame = it.frame_of(st, key)
    v = frame.stack.get(key.off) if frame is not None else None
    if v is None or v.kind != "scalar" or v.const is None:
        return None
    width = v.off or 8
    aligned = key.off % 8 == 0
    if aligned and width == key_size:
        return v.const
    if not aligned and v.const == 0 and width >= key_size:
        return 0
    return None


def frame_of(it: Interp, st: State, v: Val) -> Frame | None:
    depth = int(v.name or 0)
    for f in st.frames:
        if f.depth == depth:
            return f
    return None


#: ``BTF_TYPE_SAFE_TRUSTED`` / ``BTF_TYPE_SAFE_TRUSTED_OR_NULL`` / ``BTF_TYPE_SAFE_RCU`` /
#: ``BTF_TYPE_SAFE_RCU_OR_NULL`` in kernel/bpf/verifier.c (6.18): (struct, member) -> flags.
_SAFE: dict[tuple[str, str], tuple[str, bool]] = {
    ("bpf_iter_meta", "seq"): ("trusted", False),
    ("bpf_iter__task", "task"): ("trusted", False),
    ("linux_binprm", "file"): ("trusted", False),
    ("file", "f_inode"): ("trusted", False),
    ("dentry", "d_inode"): ("trusted", True),
    ("socket", "sk"): ("trusted", True),
    ("vm_area_struct", "vm_mm"): ("trusted", True),
    ("vm_area_struct", "vm_file"): ("trusted", True),
    ("task_struct", "cpus_ptr"): ("rcu", False),
    ("task_struct", "cgroups"): ("rcu", False),
    ("task_struct", "real_parent"): ("rcu", False),
    ("task_struct", "group_leader"): ("rcu", False),
    ("cgroup", "kn"): ("rcu", False),
    ("css_set", "dfl_cgrp"): ("rcu", False),
    ("cgroup_subsys_state", "cgroup"): ("rcu", False),
    ("mm_struct", "exe_file"): ("rcu", True),
    ("sk_buff", "sk"): ("rcu", True),
    ("request_sock", "sk"): ("rcu", True),
}


def sleepable(it: Interp) -> bool:
    """libbpf loads ``.s`` sections and ``syscall`` programs with BPF_F_SLEEPABLE."""
    sec = it.prog.section.lstrip("?")
    word = sec.split("/", 1)[0]
    return word.endswith(".s") or word == "syscall"


def in_rcu_cs(it: Interp, st: State) -> bool:
    """``in_rcu_cs``: inside bpf_rcu_read_lock, under a spin lock, or not sleepable."""
    return st.rcu > 0 or st.lock is not None or not sleepable(it)


def ctx_arg(it: Interp, st: State, off: int) -> Val | None:
    """A BTF-typed tracing program's argument ``off // 8``: a pointer argument is a trusted
    PTR_TO_BTF_ID (``btf_ctx_access``, ``prog_args_trusted``)."""
    args = ctx_args(it.prog.section)
    if args is None or off % 8 or not 0 <= off // 8 < len(args):
        return None
    is_ptr, struct = args[off // 8]
    if not is_ptr:
        return SCALAR
    if not struct:
        return UNK
    return Val("ptr", name=struct, trust="trusted")


def walk(it: Interp, st: State, base: Val, insn: Insn) -> Val | None:
    """A load through a pointer to a kernel struct (``check_ptr_to_btf_access`` /
    ``btf_struct_access``): bounds against the struct's size, and what a pointer member
    gives: trusted, RCU-protected or untrusted as the verifier's allowlists say."""
    assert base.off is not None
    if base.kind == "ref":
        info = it.an.ref_info.get(base.ref) if base.ref else None
        if info is None or info.program_allocated:
            return None
        tname = info.type_name
    else:
        tname = base.name
    size = struct_size(tname)
    if size is None:
        return None
    off, width = base.off + insn.off, insn.size // 8
    if off < 0:
        # check_ptr_to_btf_access, before btf_struct_access
        it.mistake(
            st,
            "check_ptr_to_btf_access.negative",
            f"R{insn.src_reg} is ptr_{tname} invalid negative access: off={off}",
        )
    if off + width > size:
        it.mistake(
            st,
            "btf_struct_access.beyond",
            f"access beyond struct {tname} at off {off} size {width}",
        )
    if insn.size != 64:
        return None
    member = member_at(tname, off)
    if member is None or not member[1]:
        return None
    field, _, struct = member
    if not struct:
        return UNK
    if base.kind == "ptr" and base.trust == "untrusted":
        trust, maybe_null = "untrusted", False
    elif base.kind == "ref" or base.trust in ("trusted", "rcu"):
        safe = _SAFE.get((tname, field))
        if safe is not None and safe[0] == "trusted":
            trust, maybe_null = "trusted", safe[1]
        elif not in_rcu_cs(it, st):
            trust, maybe_null = "untrusted", False
        elif safe is not None:
            trust, maybe_null = "rcu", safe[1]
        else:
            trust, maybe_null = "walked", False
    else:
        trust, maybe_null = "walked", False
    return Val("ptr", name=struct, trust=trust, maybe_null=maybe_null, id=it.scalar_id(st, insn))


#: Kernel structs a program reaches only through kfuncs and helpers (``btf_record`` fields).
SPECIAL_FIELDS = frozenset(
    {
        "bpf_spin_lock",
        "bpf_res_spin_lock",
        "bpf_list_head",
        "bpf_list_node",
        "bpf_rb_root",
        "bpf_rb_node",
        "bpf_refcount",
        "bpf_timer",
        "bpf_wq",
        "bpf_task_work",
    }
)


def check_special_access(it: Interp, st: State, base: Val, insn: Insn) -> None:
    """A load or store through a map value or a program-allocated object must not touch a
    special field (``check_map_access``: "%s cannot be accessed directly by load/store";
    ``btf_struct_access`` on MEM_ALLOC: "direct access to %s is disallowed") nor run past the
    object ("access beyond struct %s at off %d size %d")."""
    if it.spec is None or base.off is None or base.kind not in ("ref", "mapval"):
        return
    spec = it.spec
    off, width = base.off + insn.off, insn.size // 8
    if base.kind == "ref":
        info = it.an.ref_info.get(base.ref) if base.ref else None
        if info is not None and (not info.program_allocated or info.percpu):
            return
        tname = info.type_name if info is not None else base.name
        tid = (info.type_id if info is not None else 0) or it.local_struct(tname)
        if not tid or not tname:
            return
        size = spec.sizeof(tid)
        if size > 0 and (off < 0 or off + width > size):
            it.mistake(
                st,
                "btf_struct_access.beyond",
                f"access beyond struct {tname} at off {off} size {width}",
            )
        found = field_at(spec, tid, off)
        what = "direct access to {} is disallowed"
        rule_name = "btf_struct_access.special"
    else:
        m = it.maps.get(base.name)
        if m is None or m.value_type is None:
            return
        found = field_at(spec, m.value_type, off)
        what = "{} cannot be accessed directly by load/store"
        rule_name = "check_map_access.special"
    if found is None:
        return
    t = spec.resolve(found.type)
    name = getattr(t, "name", "")
    if name in SPECIAL_FIELDS:
        it.mistake(st, rule_name, what.format(name) + f" (member {found.name})")


#: Helpers with a memory argument and its size (``ARG_PTR_TO_MEM`` + ``ARG_CONST_SIZE*`` in
#: their ``bpf_func_proto``): name -> (memory argument, size argument, written by the helper).
HELPER_MEM_ARGS: dict[str, tuple[int, int, bool]] = {
    "bpf_strncmp": (0, 1, False),
    "bpf_trace_printk": (0, 1, False),
    "bpf_probe_read": (0, 1, True),
    "bpf_probe_read_str": (0, 1, True),
    "bpf_probe_read_kernel": (0, 1, True),
    "bpf_probe_read_kernel_str": (0, 1, True),
    "bpf_probe_read_user": (0, 1, True),
    "bpf_probe_read_user_str": (0, 1, True),
    "bpf_get_current_comm": (0, 1, True),
    "bpf_copy_from_user": (0, 1, True),
    "bpf_snprintf": (0, 1, True),
}

#: ``reg_type_str`` of a BTF pointer by how much the verifier trusts it
_BTF_PTR_STR = {"trusted": "trusted_ptr_", "rcu": "rcu_ptr_", "untrusted": "untrusted_ptr_"}


def check_helper_mem(it: Interp, st: State, name: str, args: list[Val]) -> None:
    """``check_reg_type`` / ``check_helper_mem_access`` for a helper's memory argument that
    is a kernel BTF pointer: only a trusted one is memory (``mem_types``), never one the helper
    writes into, and the bytes read stay inside one member (``btf_struct_walk``)."""
    spec = HELPER_MEM_ARGS.get(name)
    if spec is None:
        return
    mem_i, size_i, writes = spec
    v, size = args[mem_i], args[size_i]
    if v.kind == "ref":
        info = it.an.ref_info.get(v.ref) if v.ref else None
        if info is None or info.program_allocated:
            return
        tname, trust = info.type_name, "trusted"
    elif v.kind == "ptr" and v.name and not v.percpu:
        tname, trust = v.name, v.trust
    else:
        return
    regno = mem_i + 1
    if trust != "trusted":
        it.mistake(
            st,
            "check_reg_type.mem",
            f"R{regno} type={_BTF_PTR_STR.get(trust, 'ptr_')} expected=fp, pkt, pkt_meta, "
            "map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
        )
    if writes:
        it.mistake(
            st,
            "check_reg_type.mem_write",
            f"{name}() may write into memory pointed by R{regno} type=trusted_ptr_",
        )
    if v.off is None or size.kind != "scalar" or size.const is None:
        return
    off, width = v.off, size.const
    total = struct_size(tname)
    if total is not None and (off < 0 or off + width > total):
        it.mistake(
            st, "btf_struct_access.beyond", f"access beyond struct {tname} at off {off} size {width}"
        )
    found = member_end(tname, off)
    if found is not None and off + width > found[1]:
        member, mend, holder = found
        it.mistake(
            st,
            "btf_struct_walk.member_end",
            f"access beyond the end of member {member} (mend:{mend}) in struct {holder} with "
            f"off {off} size {width}",
        )
