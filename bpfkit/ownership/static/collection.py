"""Collection rules: ``bpf_list_head`` / ``bpf_rb_root`` operations under their lock
(``check_reg_allocation_locked``), the node handed over (``ref_convert_owning_non_owning``,
``__process_kf_arg_ptr_to_graph_node``), in ``kernel/bpf/verifier.c``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bpfkit.ownership.kfuncs import KfuncSemantics
from bpfkit.ownership.static.btfcheck import lock_id
from bpfkit.ownership.static.values import (
    SCALAR,
    State,
    Val,
)
from bpfkit.ownership.static_btf import contains_of, field_at, member_offset

if TYPE_CHECKING:
    from bpfkit.obj.insn import Insn
    from bpfkit.ownership.static.engine import Interp

__all__ = [
    "check_spin_lock_off",
    "check_graph_root",
    "check_lock",
    "take",
    "contains",
    "node_offset",
    "check_contains",
]


def check_graph_root(it: Interp, st: State, head: Val, name: str) -> None:
    """``process_kf_arg_ptr_to_list_head`` / ``..._rbtree_root``: the head must be a
    ``bpf_list_head`` / ``bpf_rb_root`` at a constant offset of a map value, global or object."""
    want = "bpf_rb_root" if "rbtree" in name else "bpf_list_head"
    it.check_fields(st, head, name)
    if head.kind in ("ptr", "ctx", "stack", "pkt", "mapptr") or (
        head.kind == "ref" and not _allocated(it, head)
    ):
        it.mistake(
            st,
            "check_kfunc_args.graph_root_type",
            "arg#0 expected pointer to map value or allocated object",
        )
    if head.kind == "ref" and _allocated(it, head) and not head.ref:
        it.mistake(st, "check_kfunc_args.graph_root_type", "allocated object must be referenced")
    if head.kind == "ref" and head.off is None:
        # check_func_arg_reg_off: a BTF pointer never has a variable offset
        it.mistake(
            st, "check_func_arg_reg_off.var_off", "variable ptr_ access var_off=(?) disallowed"
        )
    if head.kind not in ("mapval", "ref") or it.spec is None:
        return
    if head.off is None:
        it.mistake(
            st,
            "process_kf_arg_ptr_to_graph_root.var_off",
            f"R1 doesn't have constant offset. {want} has to be at the constant offset",
        )
    found = it.field_of(head)
    if found is None:
        if head.kind == "mapval" and head.name in it.maps or head.kind == "ref" and head.ref:
            it.mistake(
                st,
                "process_kf_arg_ptr_to_graph_root.not_found",
                f"{want} not found at offset={head.off}",
            )
        return
    f = found[1]
    t = it.spec.resolve(f.type)
    section = head.kind == "mapval" and head.name.startswith(".")  # offsets are per variable
    if getattr(t, "name", "") != want or (f.offset != head.off and not section):
        it.mistake(
            st,
            "process_kf_arg_ptr_to_graph_root.not_found",
            f"{want} not found at offset={head.off}",
        )


def _allocated(it: Interp, v: Val) -> bool:
    """A program-allocated object (``MEM_ALLOC``), owning or not; False for kernel objects."""
    info = it.an.ref_info.get(v.ref) if v.ref else None
    return info is None or info.program_allocated


def check_lock(it: Interp, st: State, head: Val, name: str) -> None:
    want = lock_id(head)
    if st.lock is None:
        it.mistake(
            st, "check_reg_allocation_locked", f"{name} without the collection's bpf_spin_lock held"
        )
    if want is not None and st.lock is not None and want != st.lock:
        # check_reg_allocation_locked: the held lock must be in the same allocation as the
        # head: the same global section, the same map lookup (reg->id) or the same object
        what = "another element of " if want[:2] == st.lock[:2] else ""
        it.mistake(
            st,
            "check_reg_allocation_locked",
            f"{name} on {want[1]} while holding the lock of {what}{st.lock[1]}",
        )


def take(it: Interp, st: State, insn: Insn, sem: KfuncSemantics, args: list[Val]) -> Val:
    name = sem.name
    assert sem.release_arg is not None
    node = args[sem.release_arg]
    if name == "bpf_kptr_xchg":
        return it.kptr_xchg(st, insn, args[0], node)
    if node.kind != "ref":
        if node.kind not in ("released", "invalid"):
            it.an.unknown_reasons.append(
                f"{name} at insn {insn.idx} on an untracked node ({node.kind})"
            )
        return SCALAR
    if not node.owning:
        it.mistake(
            st,
            "check_kfunc_args.graph_node_not_owning",
            f"{name} with a non-owning reference as the node",
        )
    if node.maybe_null:
        it.mistake(st, "check_kfunc_args.graph_node_null", f"{name} with a node that may be NULL")
    it.check_contains(st, name, args[0], node)
    kind = "list_push" if "list" in name else "rbtree_add"
    it.flow(st, node.ref, kind, insn.idx, it.describe_field(args[0]))
    rid = node.ref
    st.refs = st.refs - {rid}
    st.rewrite(lambda x: replace(x, owning=False) if x.kind == "ref" and x.ref == rid else x)
    return SCALAR


def contains(it: Interp, head: Val) -> tuple[str, str] | None:
    found = it.field_of(head)
    if found is None or it.spec is None:
        return None
    f = found[1]
    return contains_of(it.spec, f.container, f.index)


def node_offset(it: Interp, cont: tuple[str, str]) -> int | None:
    tid = it.local_struct(cont[0])
    if not tid or it.spec is None:
        return None
    return member_offset(it.spec, tid, cont[1])


def check_contains(it: Interp, st: State, name: str, head: Val, node: Val) -> None:
    """``__process_kf_arg_ptr_to_graph_node``, in the kernel's order: a node field of the
    object's own type at the node's offset, the object's type the collection's element type,
    the offset the collection's node offset."""
    info = it.an.ref_info.get(node.ref)
    if info is None or it.spec is None:
        return
    node_type = "bpf_rb_node" if "rbtree" in name else "bpf_list_node"
    if node.off is None:
        it.mistake(
            st, "check_func_arg_reg_off.var_off", "variable ptr_ access var_off=(?) disallowed"
        )
    tid = info.type_id or it.local_struct(info.type_name)
    got = field_at(it.spec, tid, node.off) if tid and node.off is not None else None
    if tid and node.off is not None:
        kind = getattr(it.spec.resolve(got.type), "name", "") if got is not None else ""
        if got is None or kind != node_type or got.offset != node.off:
            it.mistake(
                st,
                "__process_kf_arg_ptr_to_graph_node.not_found",
                f"{node_type} not found at offset={node.off}",
            )
    cont = it.contains(head)
    if cont is None or node.off is None:
        return
    tname, fname = cont
    want_off = it.node_offset(cont)
    if info.type_name != tname or (want_off is not None and node.off != want_off):
        it.mistake(
            st,
            "__process_kf_arg_ptr_to_graph_node",
            f"{name}: the collection contains {tname}:{fname}, the node is "
            f"{info.type_name}.{got.name if got else node.off}",
        )


def _top_level_lock(it: Interp, type_id: int) -> int | None:
    """Byte offset of a top-level ``struct bpf_spin_lock`` member of ``type_id``, if any."""
    from bpfkit.btf.types import Struct

    assert it.spec is not None
    t = it.spec.resolve(type_id)
    if not isinstance(t, Struct):
        return None
    for m in t.members:
        if getattr(it.spec.resolve(m.type), "name", "") == "bpf_spin_lock":
            return m.bit_offset // 8
    return None


def check_spin_lock_off(it: Interp, st: State, v: Val) -> None:
    """``process_spin_lock``: the lock argument points exactly at the ``bpf_spin_lock`` of
    its map value or allocated object ("off %lld doesn't point to 'struct bpf_spin_lock' that
    is at %d"). Checked where bpfkit knows the type: allocated objects and map values of
    BTF-defined maps."""
    if it.spec is None or v.off is None:
        return
    tid = 0
    if v.kind == "ref" and v.ref:
        info = it.an.ref_info.get(v.ref)
        if info is not None and info.program_allocated:
            tid = info.type_id or it.local_struct(info.type_name)
    elif v.kind == "mapval":
        m = it.maps.get(v.name)
        tid = m.value_type if m is not None and m.value_type is not None else 0
    if not tid:
        return
    at = _top_level_lock(it, tid)
    if at is not None and at != v.off:
        it.mistake(
            st,
            "process_spin_lock.off",
            f"off {v.off} doesn't point to 'struct bpf_spin_lock' that is at {at}",
        )
