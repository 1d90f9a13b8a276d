"""``__kptr`` field rules, as ``kernel/bpf/verifier.c`` (Linux 6.18) applies them:

- ``check_map_access``: a load or store that touches a kptr field of a map value (or global
  section) must be direct (not through a helper or a global function), at a constant offset,
  exactly at the field and 8 bytes wide;
- ``check_map_kptr_access``: only ``BPF_MEM`` loads and stores; no store to a referenced
  (``__kptr``, ``__percpu_kptr``) field but through ``bpf_kptr_xchg``; ``BPF_ST`` into an
  unreferenced (``__kptr_untrusted``) field only of 0; a load gives a maybe-NULL
  ``PTR_TO_BTF_ID`` (``btf_ld_kptr_type``): ``MEM_RCU`` for RCU-safe fields inside an RCU
  critical section (``in_rcu_cs``), ``PTR_UNTRUSTED`` otherwise, never referenced;
- ``map_kptr_match_type``: a pointer stored into a field must be of its exact type, at
  offset 0, with no flags the field does not permit;
- ``process_kptr_func`` and the argument checks of ``bpf_kptr_xchg`` (``ARG_PTR_TO_KPTR``,
  ``ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE``): the destination is a kptr field at a constant
  offset of a map value or allocated object, the new value NULL or a referenced pointer;
- ``bpf_rcu_read_lock`` / ``bpf_rcu_read_unlock`` (``active_rcu_locks``): RCU pointers turn
  untrusted at the unlock, an unmatched unlock and an exit inside a section are errors.

The fields come from :mod:`bpfkit.ownership.fields` (``btf_parse_fields``: arrays and nested
structs flattened, a container whose record fails keeps no field at all).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bpfkit.ownership.static.btfcheck import is_special, object_records
from bpfkit.ownership.static.values import (
    RefInfo,
    State,
    Val,
    offset_range,
)
from bpfkit.ownership.static_btf import field_at, global_var_at, kptr_target

if TYPE_CHECKING:
    from bpfkit.obj.insn import Insn
    from bpfkit.ownership.fields import FieldRecord, SpecialField
    from bpfkit.ownership.static.engine import Interp

__all__ = [
    "RCU_PROTECTED_TYPES",
    "KPTR_KINDS",
    "check_kptr_store",
    "load_field",
    "kptr_xchg",
    "check_helper_access",
    "check_global_call_access",
    "rcu_lock_op",
    "check_rcu_exit",
    "in_rcu_cs",
    "record_of",
    "field_of",
    "local_struct",
    "describe_field",
    "check_fields",
]

#: Kinds of the kptr fields (``BPF_KPTR | BPF_UPTR``).
KPTR_KINDS = frozenset({"kptr", "kptr_untrusted", "percpu_kptr", "uptr"})
#: ``rcu_protected_types`` in verifier.c: kernel types whose referenced kptrs may be read
#: under RCU (``rcu_protected_object``); program-allocated types always are. A BTF_SET in the
#: kernel, not visible in BTF.
RCU_PROTECTED_TYPES = frozenset(
    {"prog_test_ref_kfunc", "cgroup", "bpf_cpumask", "task_struct", "bpf_crypto_ctx"}
)
_BPF_MEM = 0x60
_BPF_LDX, _BPF_ST, _BPF_STX = 0x01, 0x02, 0x03

# helper -> (memory argument, size: ("arg", i) | ("key"/"value", map argument) | bytes)
_HELPER_MEM: dict[str, tuple[tuple[int, tuple[str, int]], ...]] = {
    "bpf_map_lookup_elem": ((1, ("key", 0)),),
    "bpf_map_delete_elem": ((1, ("key", 0)),),
    "bpf_map_update_elem": ((1, ("key", 0)), (2, ("value", 0))),
    "bpf_map_push_elem": ((1, ("value", 0)),),
    "bpf_probe_read": ((0, ("arg", 1)),),
    "bpf_probe_read_kernel": ((0, ("arg", 1)),),
    "bpf_probe_read_user": ((0, ("arg", 1)),),
    "bpf_probe_read_str": ((0, ("arg", 1)),),
    "bpf_probe_read_kernel_str": ((0, ("arg", 1)),),
    "bpf_probe_read_user_str": ((0, ("arg", 1)),),
    "bpf_copy_from_user": ((0, ("arg", 1)),),
    "bpf_get_current_comm": ((0, ("arg", 1)),),
    "bpf_trace_printk": ((0, ("arg", 1)),),
    "bpf_perf_event_output": ((3, ("arg", 4)),),
    "bpf_ringbuf_output": ((1, ("arg", 2)),),
    "bpf_skb_load_bytes": ((2, ("arg", 3)),),
    "bpf_skb_store_bytes": ((2, ("arg", 3)),),
    "bpf_get_stack": ((1, ("arg", 2)),),
    "bpf_get_task_stack": ((1, ("arg", 2)),),
    "bpf_csum_diff": ((0, ("arg", 1)), (2, ("arg", 3))),
}

def record_of(it: Interp, v: Val) -> FieldRecord | None:
    """The kernel's special-field record of the memory ``v`` points into: the map's value
    (``map->record``), the global section's, or the allocated object's type
    (``reg_btf_record``); None when bpfkit does not know it."""
    recs = object_records(it.obj)
    if it.btf_rejected and v.kind == "mapval":
        return None  # the maps were created without BTF: no fields
    if v.kind == "mapval":
        return recs.get(("map", v.name))
    if v.kind == "ref":
        info = it.an.ref_info.get(v.ref) if v.ref else None
        if info is not None and info.program_allocated:
            return recs.get(("alloc", info.type_name))
    return None


def _kptrs(rec: FieldRecord | None) -> list[SpecialField]:
    return [f for f in rec.fields if f.kind in KPTR_KINDS] if rec is not None else []


def _name(kind: str) -> str:
    """``btf_field_type_name``."""
    return "uptr" if kind == "uptr" else "kptr"


def in_rcu_cs(it: Interp, st: State) -> bool:
    """``in_rcu_cs``: inside bpf_rcu_read_lock, holding a spin lock, or not sleepable."""
    return st.rcu > 0 or st.lock is not None or not _sleepable(it)


def _sleepable(it: Interp) -> bool:
    """libbpf's SEC_SLEEPABLE section names (``.s`` flavours and ``syscall``)."""
    word = it.prog.section.split("/", 1)[0]
    return word.endswith(".s") or word == "syscall"


def _access(it: Interp, st: State, base: Val, insn: Insn, direct: bool) -> SpecialField | None:
    """The kptr part of ``check_map_access``: every kptr field the access may touch must be
    touched directly, at a constant offset, exactly and 8 bytes wide. Returns the field."""
    if base.kind != "mapval" or base.maybe_null:
        return None
    fields = _kptrs(record_of(it, base))
    if not fields:
        return None
    rng = offset_range(base)
    if rng is None:
        return None  # check_map_bounds has already said "unknown"
    size = insn.size // 8
    lo, hi = rng[0] + insn.off, rng[1] + insn.off + size
    for f in fields:
        if not (lo < f.offset + f.size and f.offset < hi):
            continue
        what = _name(f.kind)
        if not direct:
            it.mistake(
                st,
                "check_map_access.kptr_indirect",
                f"{what} {f.source} of {base.name} cannot be accessed indirectly by helper",
            )
        if base.off is None:
            it.mistake(
                st,
                "check_map_access.kptr_var_off",
                f"{what} access cannot have variable offset ({f.source} of {base.name})",
            )
        off = (base.off or 0) + insn.off
        if off != f.offset:
            it.mistake(
                st,
                "check_map_access.kptr_misaligned",
                f"{what} access misaligned expected={f.offset} off={off} ({f.source} of "
                f"{base.name})",
            )
        if size != 8:
            it.mistake(
                st,
                "check_map_access.kptr_size",
                f"{what} access size must be BPF_DW, not {size} bytes ({f.source} of {base.name})",
            )
        return f
    return None


def _alloc_access(it: Interp, st: State, base: Val, insn: Insn) -> None:
    """``btf_struct_access`` on a program-allocated object (``MEM_ALLOC``): no load or store
    may touch one of its kptr fields (only bpf_kptr_xchg reaches them)."""
    if base.kind != "ref" or base.off is None or not base.owning and not base.ref:
        return
    fields = _kptrs(record_of(it, base))
    lo = base.off + insn.off
    hi = lo + insn.size // 8
    for f in fields:
        if lo < f.offset + f.size and f.offset < hi:
            it.mistake(
                st,
                "btf_struct_access.kptr",
                f"direct access to {_name(f.kind)} is disallowed ({f.source} of the allocated "
                f"struct {f.container})",
            )


def _reg_type(it: Interp, v: Val) -> str:
    """``reg_type_str`` of a value, roughly as the kernel prints it."""
    null = "_or_null" if v.maybe_null else ""
    if v.kind == "ptr":
        trust = {"untrusted": "untrusted_", "rcu": "rcu_", "trusted": "trusted_"}.get(v.trust, "")
        return f"{'percpu_' if v.percpu else ''}{trust}ptr{null}_{v.name}"
    if v.kind == "ref":
        info = it.an.ref_info.get(v.ref) if v.ref else None
        name = info.type_name if info else "?"
        return f"{'' if v.owning else 'non_own_'}ptr{null}_{name}"
    if v.kind == "mapval":
        return f"map_value{null}"
    return {"uninit": "?", "unk": "?"}.get(v.kind, v.kind)


def _match_type(it: Interp, st: State, f: SpecialField, v: Val, regno: int) -> None:
    """``map_kptr_match_type``: ``v`` (not NULL) may go into field ``f``."""
    want = f.kptr_type or "?"
    bad = True
    if v.kind == "ptr":
        allowed = {"trusted", "rcu", ""} | ({"untrusted"} if f.kind == "kptr_untrusted" else set())
        bad = (
            v.trust not in allowed
            or v.percpu
            or v.name != want
            or v.off != 0
            or f.kind == "percpu_kptr"
        )
    elif v.kind == "ref":
        info = it.an.ref_info.get(v.ref) if v.ref else None
        if info is None:
            return  # bpfkit does not know what it points to
        if info.program_allocated:
            bad = (
                not v.owning
                or info.type_name != want
                or (info.percpu != (f.kind == "percpu_kptr"))
                or v.off != 0
            )
        else:  # a kernel object: never into a per-CPU field (that holds bpf_percpu_obj_new's)
            bad = info.type_name != want or v.off != 0 or f.kind == "percpu_kptr"
    elif v.kind in ("unk", "uninit", "released", "invalid") or (
        v.kind == "scalar" and v.const is None
    ):
        return  # what bpfkit does not track (a helper's pointer comes back as a scalar)
    if v.kind in ("ptr", "ref") and v.off is None:
        it.mistake(
            st,
            "map_kptr_match_type",
            f"variable {_reg_type(it, v)} access var_off=(?) disallowed: R{regno} must point "
            f"to the start of a {want} ({f.source})",
        )
    if bad:
        it.mistake(
            st,
            "map_kptr_match_type",
            f"invalid kptr access, R{regno} type={_reg_type(it, v)} expected=ptr_{want}"
            + (f" or untrusted_ptr_{want}" if f.kind == "kptr_untrusted" else "")
            + f" ({f.source})",
        )


def check_kptr_store(it: Interp, st: State, base: Val, insn: Insn) -> None:
    """A store (``BPF_ST`` / ``BPF_STX``) through ``base``: ``check_map_access`` for the kptr
    fields it touches, then ``check_map_kptr_access``."""
    _alloc_access(it, st, base, insn)
    f = _access(it, st, base, insn, True)
    if f is None:
        return
    if insn.op != _BPF_MEM:
        it.mistake(
            st,
            "check_map_kptr_access.mode",
            f"kptr in map can only be accessed using BPF_MEM instruction mode ({f.source})",
        )
    if f.kind in ("kptr", "percpu_kptr"):
        it.mistake(
            st,
            "check_map_kptr_access.store",
            f"store to referenced kptr disallowed: {f.source} of {base.name} (only "
            "bpf_kptr_xchg may write it)",
        )
    if f.kind == "uptr":
        it.mistake(st, "check_map_kptr_access.store", f"store to uptr disallowed ({f.source})")
    if insn.cls == _BPF_ST:
        if insn.imm:
            it.mistake(
                st,
                "check_map_kptr_access.st_imm",
                f"BPF_ST imm must be 0 when storing to kptr at off={f.offset}",
            )
        return
    v = st.frame.regs[insn.src_reg]
    if v.kind == "scalar" and v.const == 0:
        return  # register_is_null
    _match_type(it, st, f, v, insn.src_reg)


def load_field(it: Interp, st: State, base: Val, insn: Insn) -> Val | None:
    """A load through ``base``: the kptr checks of ``check_map_access``, and for a load of a
    kptr field what ``check_map_kptr_access`` puts in the register (``btf_ld_kptr_type``);
    None when the load touches no kptr field."""
    _alloc_access(it, st, base, insn)
    f = _access(it, st, base, insn, True)
    if f is None:
        return _dropped_kptr(it, base, insn)
    if insn.op != _BPF_MEM:
        it.mistake(
            st,
            "check_map_kptr_access.mode",
            f"kptr in map can only be accessed using BPF_MEM instruction mode ({f.source})",
        )
    if f.kind == "uptr":
        return None
    prog = st.frame.prog
    ident = (1 << 41) | (prog.start << 20) | (insn.idx + 1)
    kernel_type = f.resolved_in in ("kernel", "both(kernel wins)")
    name = f.kptr_type or "?"
    rcu_safe = f.kind == "percpu_kptr" or (
        f.kind == "kptr" and (not kernel_type or name in RCU_PROTECTED_TYPES)
    )
    trust = "rcu" if rcu_safe and in_rcu_cs(it, st) else "untrusted"
    # btf_ld_kptr_type: a program type holding a bpf_list_node / bpf_rb_node loads as a
    # non-owning reference (NON_OWN_REF), which the next bpf_spin_unlock invalidates
    non_owning = (
        trust == "rcu" and f.kind == "kptr" and not kernel_type and _has_graph_node(it, name)
    )
    return Val(
        "ptr",
        name=name,
        trust=trust,
        maybe_null=True,
        id=ident,
        percpu=f.kind == "percpu_kptr" and trust == "rcu",
        owning=not non_owning,
    )


def _has_graph_node(it: Interp, name: str) -> bool:
    from bpfkit.btf.types import Struct

    tid = it.local_struct(name)
    t = it.spec.resolve(tid) if tid and it.spec is not None else None
    if not isinstance(t, Struct) or it.spec is None:
        return False
    return any(
        getattr(it.spec.resolve(m.type), "name", "") in ("bpf_list_node", "bpf_rb_node")
        for m in t.members
    )


def _dropped_kptr(it: Interp, base: Val, insn: Insn) -> Val | None:
    """A 64-bit load of what the program's BTF declares a kptr but the kernel keeps no field
    for (its record was dropped, or the whole program BTF refused): a plain scalar to the
    kernel, so a dereference of it fails (``dropped_kptr``)."""
    if base.kind != "mapval" or base.off is None or insn.size != 64 or it.spec is None:
        return None
    rec = record_of(it, base)
    if rec is not None and rec.ok and not it.btf_rejected:
        return None
    found = it.field_of(replace(base, off=base.off + insn.off))
    if found is None or found[1].offset != base.off + insn.off:
        return None
    target = kptr_target(it.spec, found[1].type)
    if target is None:
        return None
    return Val("dropped_kptr", name=target[1])


def kptr_xchg(it: Interp, st: State, insn: Insn, dst: Val, new: Val) -> Val:
    """``bpf_kptr_xchg(dst, new)``: ``process_kptr_func`` on R1, then R2 must be NULL or a
    referenced pointer of the field's exact type (``check_reg_type``,
    ``map_kptr_match_type``, ``check_func_arg`` for ``OBJ_RELEASE``); the old value comes
    back referenced and maybe-NULL."""
    f = _xchg_field(it, st, dst)
    is_null = new.kind == "scalar" and new.const == 0
    if not is_null and new.kind in ("released", "invalid"):
        it.check_ptr(st, new, "argument 2 of bpf_kptr_xchg")
    if not is_null and f is not None:
        ok_kind = (new.kind == "ptr" and new.trust in ("trusted", "rcu", "")) or (
            new.kind == "ref" and (new.owning or new.ref)
        )
        if (
            new.kind in ("ctx", "stack", "mapval", "mapptr", "pkt", "pkt_end")
            or (new.kind == "scalar" and new.const is not None)
            or (new.kind in ("ptr", "ref") and not ok_kind)
        ):
            it.mistake(
                st,
                "check_reg_type.kptr_xchg",
                f"R2 type={_reg_type(it, new)} expected=ptr_, trusted_ptr_, rcu_ptr_ "
                "(bpf_kptr_xchg stores a referenced pointer or NULL)",
            )
        if new.maybe_null and new.kind in ("ref", "ptr"):
            # check_reg_type: a kernel object fails its NULL check; a local (MEM_ALLOC) one
            # passes it and fails later in the type match, with a "verifier bug" message
            said = (
                "Possibly NULL pointer passed to helper arg2"
                if _kernel_pointer(it, new)
                else "verifier bug: invalid PTR_TO_BTF_ID register for type match"
            )
            it.mistake(
                st,
                "check_reg_type.kptr_xchg_null",
                f"{said} ({_reg_type(it, new)}: NULL-check it before bpf_kptr_xchg)",
            )
        _match_type(it, st, f, new, 2)
        if new.kind == "ptr":
            it.mistake(
                st,
                "check_func_arg.release_unreferenced",
                f"R2 must be referenced when passed to release function ({_reg_type(it, new)} "
                "is not an acquired reference)",
            )
    if new.kind == "ref" and new.ref:
        it.flow(st, new.ref, "kptr_xchg", insn.idx, it.describe_field(dst))
        it.poison(st, new.ref)
    if f is None:
        if it.spec is not None:
            it.an.unknown_reasons.append(f"bpf_kptr_xchg at insn {insn.idx}: field not resolved")
        tname, percpu = "?", False
    else:
        tname, percpu = f.kptr_type or "?", f.kind == "percpu_kptr"
    alloc = f is not None and f.resolved_in == "program"
    info = RefInfo(insn.idx, st.frame.prog.name, "bpf_kptr_xchg", tname, 0, percpu, alloc)
    site = insn.idx + (st.frame.prog.start << 20 if st.frame.prog.subprog else 0)
    it.add_site(st, insn.idx, "bpf_kptr_xchg", tname)
    rid = it.new_ref(st, site, replace(info, site=insn.idx))
    return Val("ref", ref=rid, id=rid, maybe_null=True)


def _kernel_pointer(it: Interp, v: Val) -> bool:
    """A ``PTR_TO_BTF_ID`` of a kernel type (not ``MEM_ALLOC``)."""
    if v.kind == "ref":
        info = it.an.ref_info.get(v.ref) if v.ref else None
        return info is not None and not info.program_allocated
    return v.kind == "ptr" and (it.local_struct(v.name) == 0 or _kernel_type(it, v.name))


def _kernel_type(it: Interp, name: str) -> bool:
    return any(
        f.kptr_type == name and f.resolved_in in ("kernel", "both(kernel wins)")
        for rec in object_records(it.obj).values()
        for f in rec.fields
    )


def _xchg_field(it: Interp, st: State, dst: Val) -> SpecialField | None:
    """``process_kptr_func``: the referenced kptr field R1 points at."""
    if dst.kind not in ("mapval", "ref") or (dst.kind == "ref" and not dst.owning and not dst.ref):
        if dst.kind in ("released", "invalid"):
            it.check_ptr(st, dst, "argument 1 of bpf_kptr_xchg")
        return None
    if dst.maybe_null:
        it.mistake(
            st,
            "check_reg_type.kptr_xchg",
            f"R1 type={_reg_type(it, dst)} expected=map_value, ptr_ (bpf_kptr_xchg needs a "
            "non-NULL pointer to the field)",
        )
    rec = record_of(it, dst)
    if rec is None:
        return None
    if dst.off is None:
        it.mistake(
            st,
            "process_kptr_func.var_off",
            "R1 doesn't have constant offset. kptr has to be at the constant offset",
        )
    fields = _kptrs(rec)
    if not fields:
        why = f" ({rec.errno}: {rec.reason})" if rec.errno else ""
        it.mistake(
            st,
            "process_kptr_func.no_kptr",
            f"R1 has no valid kptr: {rec.container} keeps no kptr field{why}",
        )
    f = next((x for x in fields if x.offset == dst.off), None)
    if f is None:
        it.mistake(
            st,
            "process_kptr_func.no_field",
            f"off={dst.off} doesn't point to kptr in {rec.container}",
        )
        return None
    if f.kind not in ("kptr", "percpu_kptr"):
        it.mistake(
            st,
            "process_kptr_func.unreferenced",
            f"off={dst.off} kptr isn't referenced kptr ({f.source} is {f.kind})",
        )
    return f


def _size_of(it: Interp, spec: tuple[str, int], args: list[Val]) -> int | None:
    kind, idx = spec
    if kind == "arg":
        v = args[idx]
        return v.hi if v.kind == "scalar" and v.hi < (1 << 20) else None
    m = args[idx]
    mdef = it.maps.get(m.name) if m.kind == "mapptr" else None
    if mdef is None or it.spec is None:
        return None
    tid = mdef.key_type if kind == "key" else mdef.value_type
    if tid:
        return it.spec.sizeof(tid)
    size = mdef.key_size if kind == "key" else mdef.value_size
    return size


def _indirect(
    it: Interp, st: State, v: Val, size: int | None, rule: str = "check_map_access.kptr_indirect"
) -> None:
    if v.kind != "mapval" or v.maybe_null or not size:
        return
    rng = offset_range(v)
    if rng is None:
        return
    lo, hi = rng[0], rng[1] + size
    for f in _kptrs(record_of(it, v)):
        if lo < f.offset + f.size and f.offset < hi:
            it.mistake(
                st,
                rule,
                f"{_name(f.kind)} cannot be accessed indirectly by helper ({f.source} of "
                f"{v.name} is inside the {size} bytes passed)",
            )


def check_helper_access(it: Interp, st: State, name: str, args: list[Val]) -> None:
    """``check_helper_mem_access`` -> ``check_map_access(ACCESS_HELPER)``: memory a helper
    reads or writes may not cover a kptr field."""
    for arg, spec in _HELPER_MEM.get(name, ()):
        _indirect(it, st, args[arg], _size_of(it, spec, args))


def check_global_call_access(it: Interp, st: State, callee: str, args: list[Val]) -> None:
    """``btf_check_func_arg_match`` for a global function: a pointer argument to sized memory
    is checked as a helper access (``check_mem_reg``)."""
    if it.spec is None:
        return
    from bpfkit.btf.types import BTFKind, Func, FuncProto, Ptr

    for fn in it.spec.find(callee, BTFKind.FUNC):
        proto = it.spec[fn.type] if isinstance(fn, Func) else None
        if not isinstance(proto, FuncProto):
            continue
        for i, p in enumerate(proto.params[:5]):
            t = it.spec.resolve(p.type)
            if not isinstance(t, Ptr):
                continue
            try:
                size = it.spec.sizeof(t.type)
            except Exception:  # noqa: BLE001 - void or incomplete pointee: no size
                continue
            _indirect(it, st, args[i], size, "btf_check_subprog_call")
        return


def rcu_lock_op(it: Interp, st: State, name: str) -> None:
    """``bpf_rcu_read_lock`` / ``bpf_rcu_read_unlock`` (``active_rcu_locks``): at the last
    unlock, ``MEM_RCU`` pointers become ``PTR_UNTRUSTED`` (and lose ``PTR_MAYBE_NULL``)."""
    if name == "bpf_rcu_read_lock":
        if st.rcu:
            it.mistake(
                st,
                "check_kfunc_call.rcu_nested_lock",
                f"nested rcu read lock (kernel function {name})",
            )
        st.rcu += 1
    elif name == "bpf_rcu_read_unlock":
        if st.rcu == 0:
            it.mistake(
                st,
                "check_kfunc_call.rcu_unmatched_unlock",
                f"unmatched rcu read unlock (kernel function {name})",
            )
        st.rcu -= 1
        if st.rcu == 0:
            st.rewrite(
                lambda x: (
                    replace(x, trust="untrusted", maybe_null=False)
                    if x.kind == "ptr" and x.trust == "rcu"
                    else x
                )
            )


def check_rcu_exit(it: Interp, st: State) -> None:
    """``check_resource_leak``: no exit from the program inside an RCU read section."""
    if st.rcu:
        it.mistake(
            st,
            "check_resource_leak.rcu",
            "BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed "
            "region (missing bpf_rcu_read_unlock)",
        )


def field_of(it: Interp, v: Val) -> tuple[int, Any] | None:
    """(container type id, FieldRef) of the memory a pointer value points at."""
    if it.spec is None or v.off is None:
        return None
    if v.kind == "mapval":
        m = it.maps.get(v.name)
        if m is not None and m.value_type is not None:
            f = field_at(it.spec, m.value_type, v.off)
            return (m.value_type, f) if f else None
        if v.name.startswith((".data", ".bss", ".rodata")):
            found = global_var_at(it.spec, v.name, v.off, it.symbols.get(v.name, {}))
            if found is None:
                return None
            var_id, inner = found
            var = it.spec[var_id]
            vt = getattr(var, "type", 0)
            f = field_at(it.spec, vt, inner)
            if f is None or (inner == 0 and f.offset == 0 and is_special(it.spec, vt)):
                from bpfkit.ownership.static_btf import FieldRef

                return var_id, FieldRef(var_id, -1, var.name, vt, 0)
            return vt, f
        return None
    if v.kind == "ref":
        info = it.an.ref_info.get(v.ref) if v.ref else None
        tid = info.type_id if info else 0
        if not tid and info is not None:
            tid = it.local_struct(info.type_name)
        if tid:
            f = field_at(it.spec, tid, v.off)
            return (tid, f) if f else None
    return None


def local_struct(it: Interp, name: str) -> int:
    if it.spec is None or name == "?":
        return 0
    from bpfkit.btf.types import BTFKind

    found = it.spec.find(name, BTFKind.STRUCT)
    return found[0].id if found else 0


def describe_field(it: Interp, v: Val) -> str:
    found = it.field_of(v)
    base = (
        v.name
        if v.kind == "mapval"
        else (
            it.an.ref_info[v.ref].type_name
            if v.kind == "ref" and v.ref in it.an.ref_info
            else v.kind
        )
    )
    return f"{base}.{found[1].name}" if found else base


def check_fields(it: Interp, st: State, v: Val, what: str) -> None:
    """The map or global section of ``v`` lost its special fields when the kernel parsed
    its BTF (map_check_btf keeps no record): locks, kptrs and collections in it fail."""
    if v.kind == "mapval" and v.name in it.dropped:
        it.mistake(
            st,
            "check_btf_record.dropped",
            f"{what}: {v.name} has no valid special fields ({it.dropped[v.name]})",
        )
