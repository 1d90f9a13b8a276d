"""What the kernel decides about an object before any instruction runs, and small tables the
rules share: packet fields of the context, the kfuncs allowed under a lock, lock identities.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NamedTuple

from bpfkit.ownership.kfuncs import ALLOC_KFUNCS, KfuncSemantics

if TYPE_CHECKING:
    from bpfkit.obj import Object
    from bpfkit.ownership.static.values import Val

__all__ = [
    "PACKET_FIELDS",
    "object_checks",
    "needs_program_btf",
    "is_special",
    "lock_id",
    "allowed_under_lock",
    "container_kinds",
    "object_records",
    "map_prog_compatibility",
    "sleepable_section",
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


class _Facts(NamedTuple):
    btf_rejected: str
    dropped: dict[str, str]
    kinds: dict[str, frozenset[str]]
    #: ("alloc" | "map", container name) -> the kernel's record (maps and sections: "map")
    records: dict[tuple[str, str], Any]


#: Per program BTF (the object's ``Spec``, which copies of the object share): what the kernel
#: decides when it loads the BTF and creates the maps, work it does once per object and
#: outside any program's verification time.
_FACTS: OrderedDict[int, tuple[Any, _Facts]] = OrderedDict()


def _facts(obj: Object) -> _Facts:
    key = id(obj.btf)
    hit = _FACTS.get(key)
    if hit is not None and hit[0] is obj.btf and obj.btf is not None:
        return hit[1]
    facts = _Facts("", {}, {}, {})
    if obj.btf is not None:
        from bpfkit.btf import load_vmlinux
        from bpfkit.errors import BpfkitError
        from bpfkit.ownership.fields import all_records, struct_metas

        try:  # a referenced kptr to a kernel type needs the kernel's destructor (btf_parse_kptr)
            kernel = load_vmlinux()
        except BpfkitError:
            kernel = None
        rejected = ""
        for rec in struct_metas(obj.btf, kernel=kernel):
            if rec.rejected:
                rejected = f"{rec.container}: {rec.reason}"
                break
        dropped: dict[str, str] = {}
        kinds: dict[str, frozenset[str]] = {}
        records: dict[tuple[str, str], Any] = {}
        for rec in all_records(obj.btf, obj.maps, sections=obj.globals(), kernel=kernel):
            kind = "alloc" if rec.container_kind == "alloc" else "map"
            records.setdefault((kind, rec.container), rec)
            if rec.container_kind not in ("map_value", "global"):
                continue
            if rec.errno is None:
                kinds[rec.container] = frozenset(rec.kinds())
            elif kernel is not None:  # kptr types resolve against the kernel's BTF
                dropped[rec.container] = f"{rec.errno}: {rec.reason}"
        facts = _Facts(rejected, dropped, kinds, records)
        _FACTS[key] = (obj.btf, facts)
        while len(_FACTS) > 16:
            _FACTS.popitem(last=False)
    return facts


def object_checks(obj: Object) -> tuple[str, dict[str, str]]:
    """Why BPF_BTF_LOAD would fail for this object's BTF ("" when it loads), and the maps and
    global sections whose special fields the kernel drops (name -> reason).

    ``btf_parse_struct_metas()`` runs at BTF load: one bad program-allocated type (say, a list
    node and an rb node without a bpf_refcount) fails the whole load, and libbpf then goes on
    without program BTF, so bpf_obj_new, locks and kptrs fail in every program that uses them.
    The records come from :mod:`bpfkit.ownership.fields`; without kernel BTF no field is
    reported dropped.
    """
    f = _facts(obj)
    return f.btf_rejected, f.dropped


def object_records(obj: Object) -> dict[tuple[str, str], Any]:
    """(``"alloc"`` or ``"map"``, container name) -> the kernel's special-field record
    (:class:`bpfkit.ownership.fields.FieldRecord`) of each map, global section and
    program-allocated type."""
    return _facts(obj).records


def container_kinds(obj: Object) -> dict[str, frozenset[str]]:
    """The special field kinds the kernel keeps per map and global section (``map->record``);
    containers whose fields are dropped keep none."""
    return _facts(obj).kinds


def needs_program_btf(name: str, sem: KfuncSemantics | None) -> bool:
    if name in ALLOC_KFUNCS:
        return True
    if sem is None:
        return False
    return sem.lock_op is not None or sem.needs_lock or name == "bpf_kptr_xchg"


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


#: ``is_tracing_prog_type`` (kernel/bpf/verifier.c): KPROBE, TRACEPOINT, PERF_EVENT,
#: RAW_TRACEPOINT(_WRITABLE), by the libbpf section prefixes that load them.
TRACING_SECTIONS = frozenset(
    {
        "kprobe", "kretprobe", "uprobe", "uretprobe", "kprobe.multi", "kretprobe.multi",
        "kprobe.session", "uprobe.multi", "uretprobe.multi", "uprobe.s", "uretprobe.s",
        "uprobe.multi.s", "uretprobe.multi.s", "ksyscall", "kretsyscall", "usdt", "usdt.s",
        "tracepoint", "tp", "perf_event", "raw_tracepoint", "raw_tp", "raw_tracepoint.w",
        "raw_tp.w",
    }
)  # fmt: skip

#: The map types a sleepable program may use (``check_map_prog_compatibility``).
SLEEPABLE_MAP_TYPES = frozenset(
    {
        "hash", "lru_hash", "array", "percpu_hash", "percpu_array", "lru_percpu_hash",
        "array_of_maps", "hash_of_maps", "ringbuf", "user_ringbuf", "inode_storage",
        "sk_storage", "task_storage", "cgrp_storage", "queue", "stack", "arena", "insn_array",
        "prog_array",
    }
)  # fmt: skip


def sleepable_section(prog_type: str) -> bool:
    """libbpf loads ``*.s`` sections and ``syscall`` programs with BPF_F_SLEEPABLE."""
    return prog_type.endswith(".s") or prog_type == "syscall"


def map_prog_compatibility(
    prog_type: str, kinds: frozenset[str], map_type: str
) -> tuple[str, str] | None:
    """``check_map_prog_compatibility`` for one map the program uses: (rule, message) of the
    kernel's refusal, or None. The kernel runs it while it resolves the program's map
    references (``resolve_pseudo_ldimm64``), before it verifies any instruction."""
    tracing = prog_type in TRACING_SECTIONS
    if kinds & {"list_head", "rb_root"} and tracing:
        return (
            "check_map_prog_compatibility.graph",
            "tracing progs cannot use bpf_{list_head,rb_root} yet",
        )
    if kinds & {"spin_lock", "res_spin_lock"}:
        if prog_type == "socket":
            return (
                "check_map_prog_compatibility.spin_lock",
                "socket filter progs cannot use bpf_spin_lock yet",
            )
        if tracing:
            return (
                "check_map_prog_compatibility.spin_lock",
                "tracing progs cannot use bpf_spin_lock yet",
            )
    if map_type == "struct_ops":
        return (
            "check_map_prog_compatibility.struct_ops",
            "bpf_struct_ops map cannot be used in prog",
        )
    if sleepable_section(prog_type) and map_type and map_type not in SLEEPABLE_MAP_TYPES:
        return (
            "check_map_prog_compatibility.sleepable",
            "Sleepable programs can only use array, hash, ringbuf and local storage maps",
        )
    return None
