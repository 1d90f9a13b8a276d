"""``__kptr`` field rules: loads and stores of kptr fields (``check_map_kptr_access``),
``bpf_kptr_xchg`` (``map_kptr_match_type``, ``process_kptr_func``), and finding the special
field a pointer points at, in ``kernel/bpf/verifier.c``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bpfkit.ownership.static.btfcheck import is_special
from bpfkit.ownership.static.values import (
    RefInfo,
    State,
    Val,
)
from bpfkit.ownership.static_btf import field_at, global_var_at, kptr_target

if TYPE_CHECKING:
    from bpfkit.obj.insn import Insn
    from bpfkit.ownership.static.engine import Interp

__all__ = [
    "check_kptr_store",
    "kptr_xchg",
    "field_of",
    "local_struct",
    "describe_field",
    "check_fields",
]


def check_kptr_store(it: Interp, st: State, base: Val, insn: Insn) -> None:
    """A referenced kptr field is written only through bpf_kptr_xchg (verifier.c
    check_map_kptr_access: "store to referenced kptr disallowed")."""
    if base.kind not in ("mapval", "ref") or base.off is None or it.spec is None:
        return
    found = it.field_of(replace(base, off=base.off + insn.off))
    if found is None:
        return
    target = kptr_target(it.spec, found[1].type)
    if target is not None and target[0] in ("kptr", "percpu_kptr"):
        it.mistake(
            st,
            "check_map_kptr_access.store",
            f"store to the referenced {target[0]} field {found[1].name} (only "
            "bpf_kptr_xchg may write it)",
        )


def kptr_xchg(it: Interp, st: State, insn: Insn, dst: Val, new: Val) -> Val:
    it.check_fields(st, dst, "bpf_kptr_xchg")
    field_info = it.field_of(dst)
    target = kptr_target(it.spec, field_info[1].type) if field_info and it.spec else None
    if new.kind == "ref" and new.ref:
        info = it.an.ref_info.get(new.ref)
        if new.maybe_null:
            it.mistake(
                st,
                "check_helper_call.kptr_xchg_null",
                "bpf_kptr_xchg with an object that may be NULL",
            )
        if target is not None and info is not None:
            tag, tname = target
            if (tag == "percpu_kptr") != info.percpu or tname != info.type_name:
                it.mistake(
                    st,
                    "map_kptr_match_type",
                    f"{'per-CPU ' if info.percpu else ''}{info.type_name} into the {tag} field "
                    f"{field_info[1].name if field_info else '?'} of {tname}",
                )
        it.flow(st, new.ref, "kptr_xchg", insn.idx, it.describe_field(dst))
        it.poison(st, new.ref)
    elif new.kind in ("released", "invalid"):
        it.check_ptr(st, new, "argument 2 of bpf_kptr_xchg")
    if target is None:
        if it.spec is not None:
            it.an.unknown_reasons.append(f"bpf_kptr_xchg at insn {insn.idx}: field not resolved")
        tname, percpu = "?", False
    else:
        tname, percpu = target[1], target[0] == "percpu_kptr"
    info = RefInfo(insn.idx, st.frame.prog.name, "bpf_kptr_xchg", tname, 0, percpu, True)
    site = insn.idx + (st.frame.prog.start << 20 if st.frame.prog.subprog else 0)
    it.add_site(st, insn.idx, "bpf_kptr_xchg", tname)
    rid = it.new_ref(st, site, replace(info, site=insn.idx))
    return Val("ref", ref=rid, id=rid, maybe_null=True)


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
