"""What the kernel decides about an object before any instruction runs, and small tables the
rules share: packet fields of the context, the kfuncs allowed under a lock, lock identities.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from bpfkit.ownership.kfuncs import ALLOC_KFUNCS, KfuncSemantics

if TYPE_CHECKING:
    from bpfkit.obj import Object
    from bpfkit.ownership.static.values import Val

__all__ = [
    "PACKET_FIELDS",
    "object_checks",
    "needs_program_btf",
    "r_key",
    "is_special",
    "lock_id",
    "allowed_under_lock",
]

#: ctx offsets of (data, data_end) by program type word: ``struct __sk_buff`` (data at 76,
#: data_end at 80) and ``struct xdp_md`` (data at 0, data_end at 4), include/uapi/linux/bpf.h.
PACKET_FIELDS = {
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


def object_checks(obj: Object) -> tuple[str, dict[str, str]]:
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
    from bpfkit.btf import load_vmlinux
    from bpfkit.errors import BpfkitError
    from bpfkit.ownership.fields import struct_metas

    try:  # a referenced kptr to a kernel type needs the kernel's destructor (btf_parse_kptr)
        kernel = load_vmlinux()
    except BpfkitError:
        kernel = None
    for rec in struct_metas(obj.btf, kernel=kernel):
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


def needs_program_btf(name: str, sem: KfuncSemantics | None) -> bool:
    if name in ALLOC_KFUNCS:
        return True
    if sem is None:
        return False
    return sem.lock_op is not None or sem.needs_lock or name == "bpf_kptr_xchg"


def r_key(r: Any) -> tuple[str, int]:
    return (r.section, r.offset)


def is_special(spec: Any, tid: int) -> bool:
    t = spec.resolve(tid)
    return getattr(t, "name", "").startswith("bpf_")


def lock_id(v: Val) -> tuple[str, str, int] | None:
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


def allowed_under_lock(name: str, kind: str) -> bool:
    """``kfunc_spin_allowed`` and the bpf_spin_unlock exception (verifier.c ``do_check``)."""
    if kind == "helper":
        return name == "bpf_spin_unlock"
    return name in _GRAPH_OK or name.startswith("bpf_iter_num_")
