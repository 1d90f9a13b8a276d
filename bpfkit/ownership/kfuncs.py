"""What each ownership-relevant kfunc and helper does to references, as the verifier models it.

Sources (Linux 6.18), read for this table:

- ``kernel/bpf/helpers.c``: ``BTF_ID_FLAGS(func, ...)`` in ``generic_btf_ids`` gives the flags:
  ``bpf_obj_new_impl`` / ``bpf_percpu_obj_new_impl`` KF_ACQUIRE | KF_RET_NULL;
  ``bpf_obj_drop_impl`` / ``bpf_percpu_obj_drop_impl`` KF_RELEASE;
  ``bpf_refcount_acquire_impl`` KF_ACQUIRE | KF_RET_NULL | KF_RCU;
  ``bpf_list_push_{front,back}_impl`` and ``bpf_rbtree_add_impl`` no flags (special-cased);
  ``bpf_list_pop_{front,back}`` and ``bpf_rbtree_remove`` KF_ACQUIRE | KF_RET_NULL;
  ``bpf_list_{front,back}``, ``bpf_rbtree_{first,root,left,right}`` KF_RET_NULL;
  ``bpf_task_acquire`` KF_ACQUIRE | KF_RCU | KF_RET_NULL; ``bpf_task_release`` KF_RELEASE;
  ``bpf_task_from_pid`` / ``bpf_task_from_vpid`` KF_ACQUIRE | KF_RET_NULL;
  ``bpf_cgroup_acquire`` KF_ACQUIRE | KF_RCU | KF_RET_NULL; ``bpf_cgroup_release`` KF_RELEASE;
  ``bpf_cgroup_from_id`` KF_ACQUIRE | KF_RET_NULL.
- ``kernel/bpf/cpumask.c``: ``bpf_cpumask_create`` KF_ACQUIRE | KF_RET_NULL;
  ``bpf_cpumask_acquire`` KF_ACQUIRE | KF_TRUSTED_ARGS (never NULL); ``bpf_cpumask_release``
  KF_RELEASE.
- ``kernel/bpf/verifier.c``: the ``special_kfunc_list`` handling in ``check_kfunc_call``:
  list push / rbtree add take the node's owning reference (``ref_convert_owning_non_owning``
  then ``release_reference``), and need the collection's lock held
  (``check_reg_allocation_locked``); ``is_bpf_graph_api_kfunc`` kfuncs all need the lock;
  ``bpf_list_{front,back}`` / ``bpf_rbtree_{first,root,left,right}`` return non-owning
  references (``ref_set_non_owning``); ``bpf_spin_unlock`` invalidates every non-owning reference
  (``invalidate_non_owning_refs``); a pop/remove return value is owning (KF_ACQUIRE).
- Helpers (``kernel/bpf/helpers.c`` ``bpf_kptr_xchg_proto``: ``.ret_type =
  RET_PTR_TO_BTF_ID_OR_NULL | MEM_ALLOC`` with ``OBJ_RELEASE`` on arg 2; ``bpf_spin_lock_proto``;
  ``kernel/bpf/ringbuf.c`` ``bpf_ringbuf_reserve_proto`` RET_PTR_TO_MEM_OR_NULL acquired,
  submit/discard OBJ_RELEASE; ``net/core/filter.c`` ``bpf_sk_lookup_*`` acquire, ``bpf_sk_release``
  release).

Examples
--------
>>> KFUNCS["bpf_obj_new_impl"].acquire, KFUNCS["bpf_obj_new_impl"].ret_null
(True, True)
>>> KFUNCS["bpf_list_push_back_impl"].takes_ownership, KFUNCS["bpf_list_push_back_impl"].release_arg
(True, 1)
>>> KFUNCS["bpf_spin_unlock"].lock_op
'unlock'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "KfuncSemantics",
    "KFUNCS",
    "ALLOC_KFUNCS",
    "KFUNC_PROG_TYPES",
    "KFUNC_SET_OF_CATEGORY",
    "semantics",
    "kfunc_base_name",
]


@dataclass(frozen=True, slots=True)
class KfuncSemantics:
    """How one kfunc or helper treats references.

    Attributes
    ----------
    name
        The kernel function (kfunc) or ``bpf_<helper>`` name.
    kind
        ``"kfunc"`` or ``"helper"``.
    category
        ``allocation``, ``collection``, ``refcount``, ``task``, ``cpumask``, ``cgroup``,
        ``kptr``, ``lock``, ``map``, ``ringbuf``, ``socket``.
    flags
        The ``KF_*`` flags of its ``BTF_ID_FLAGS`` line (empty for helpers).
    acquire
        Returns a new reference (a new ``ref_obj_id``) the program must release or hand over.
    release
        Releases the reference passed in ``release_arg``.
    ret_null
        The returned pointer may be NULL and must be checked before use.
    takes_ownership
        Takes the owning reference in ``release_arg`` into a collection or map field: the
        program's reference ends (and, for collections, becomes non-owning until unlock).
    ret_owning
        The return value is an owning reference (acquired objects of program-allocated types).
    ret_non_owning
        The return value is a non-owning reference, valid only while the lock is held.
    needs_lock
        Must be called with the collection's ``bpf_spin_lock`` held.
    lock_op
        ``"lock"`` / ``"unlock"`` for ``bpf_spin_lock`` / ``bpf_spin_unlock``.
    release_arg
        Index of the argument that is released or whose ownership is taken, else None.
    arg_kinds
        One word per parameter: ``type_id`` (local BTF id of the allocated type), ``meta``
        (filled in by the verifier), ``owned`` (an owning reference), ``non_owning``,
        ``list_head``, ``list_node``, ``rb_root``, ``rb_node``, ``callback``, ``off``,
        ``kptr_field``, ``map``, ``key``, ``lock``, ``trusted``, ``refcounted``, ``ctx``,
        ``scalar``, ``any``.
    helper_id
        The ``enum bpf_func_id`` value of a helper.
    """

    name: str
    kind: Literal["kfunc", "helper"]
    category: str
    flags: tuple[str, ...] = ()
    acquire: bool = False
    release: bool = False
    ret_null: bool = False
    takes_ownership: bool = False
    ret_owning: bool = False
    ret_non_owning: bool = False
    needs_lock: bool = False
    lock_op: Literal["lock", "unlock"] | None = None
    release_arg: int | None = None
    arg_kinds: tuple[str, ...] = ()
    helper_id: int | None = None

    @property
    def nparams(self) -> int:
        return len(self.arg_kinds)


def _k(
    name: str,
    category: str,
    flags: tuple[str, ...],
    args: tuple[str, ...],
    **kw: object,
) -> KfuncSemantics:
    acquire = "KF_ACQUIRE" in flags
    release = "KF_RELEASE" in flags
    values: dict[str, object] = {
        "acquire": acquire,
        "release": release,
        "ret_null": "KF_RET_NULL" in flags,
        "ret_owning": acquire,
    }
    if release:
        values["release_arg"] = 0
    values.update(kw)
    return KfuncSemantics(name, "kfunc", category, flags, arg_kinds=args, **values)  # type: ignore[arg-type]


_ACQ_NULL = ("KF_ACQUIRE", "KF_RET_NULL")
_REL = ("KF_RELEASE",)

_TABLE: list[KfuncSemantics] = [
    # allocation (kernel/bpf/helpers.c)
    _k("bpf_obj_new_impl", "allocation", _ACQ_NULL, ("type_id", "meta")),
    _k("bpf_percpu_obj_new_impl", "allocation", _ACQ_NULL, ("type_id", "meta")),
    _k("bpf_obj_drop_impl", "allocation", _REL, ("owned", "meta")),
    _k("bpf_percpu_obj_drop_impl", "allocation", _REL, ("owned", "meta")),
    # refcount
    _k(
        "bpf_refcount_acquire_impl",
        "refcount",
        ("KF_ACQUIRE", "KF_RET_NULL", "KF_RCU"),
        ("refcounted", "meta"),
    ),
    # linked lists
    _k(
        "bpf_list_push_front_impl",
        "collection",
        (),
        ("list_head", "list_node", "meta", "off"),
        takes_ownership=True,
        needs_lock=True,
        release_arg=1,
    ),
    _k(
        "bpf_list_push_back_impl",
        "collection",
        (),
        ("list_head", "list_node", "meta", "off"),
        takes_ownership=True,
        needs_lock=True,
        release_arg=1,
    ),
    _k("bpf_list_pop_front", "collection", _ACQ_NULL, ("list_head",), needs_lock=True),
    _k("bpf_list_pop_back", "collection", _ACQ_NULL, ("list_head",), needs_lock=True),
    _k(
        "bpf_list_front",
        "collection",
        ("KF_RET_NULL",),
        ("list_head",),
        needs_lock=True,
        ret_non_owning=True,
    ),
    _k(
        "bpf_list_back",
        "collection",
        ("KF_RET_NULL",),
        ("list_head",),
        needs_lock=True,
        ret_non_owning=True,
    ),
    # red-black trees
    _k(
        "bpf_rbtree_add_impl",
        "collection",
        (),
        ("rb_root", "rb_node", "callback", "meta", "off"),
        takes_ownership=True,
        needs_lock=True,
        release_arg=1,
    ),
    _k(
        "bpf_rbtree_first",
        "collection",
        ("KF_RET_NULL",),
        ("rb_root",),
        needs_lock=True,
        ret_non_owning=True,
    ),
    _k(
        "bpf_rbtree_remove",
        "collection",
        _ACQ_NULL,
        ("rb_root", "non_owning"),
        needs_lock=True,
    ),
    _k(
        "bpf_rbtree_root",
        "collection",
        ("KF_RET_NULL",),
        ("rb_root",),
        needs_lock=True,
        ret_non_owning=True,
    ),
    _k(
        "bpf_rbtree_left",
        "collection",
        ("KF_RET_NULL",),
        ("rb_root", "non_owning"),
        needs_lock=True,
        ret_non_owning=True,
    ),
    _k(
        "bpf_rbtree_right",
        "collection",
        ("KF_RET_NULL",),
        ("rb_root", "non_owning"),
        needs_lock=True,
        ret_non_owning=True,
    ),
    # tasks
    _k("bpf_task_acquire", "task", ("KF_ACQUIRE", "KF_RCU", "KF_RET_NULL"), ("trusted",)),
    _k(
        "bpf_task_get_cgroup1",
        "cgroup",
        ("KF_ACQUIRE", "KF_RCU", "KF_RET_NULL"),
        ("trusted", "scalar"),
    ),
    _k("bpf_task_under_cgroup", "cgroup", ("KF_RCU",), ("trusted", "trusted")),
    _k(
        "bpf_cgroup_ancestor",
        "cgroup",
        ("KF_ACQUIRE", "KF_RCU", "KF_RET_NULL"),
        ("trusted", "scalar"),
    ),
    _k(
        "bpf_get_task_exe_file",
        "file",
        ("KF_ACQUIRE", "KF_TRUSTED_ARGS", "KF_RET_NULL"),
        ("trusted",),
    ),
    _k("bpf_put_file", "file", _REL, ("owned",)),
    # test kfuncs built into every kernel with BPF (net/bpf/test_run.c)
    _k("bpf_kfunc_call_test_release", "test", _REL, ("owned",)),
    _k("bpf_kfunc_call_memb_release", "test", _REL, ("owned",)),
    _k("bpf_task_release", "task", _REL, ("owned",)),
    _k("bpf_task_from_pid", "task", _ACQ_NULL, ("scalar",)),
    _k("bpf_task_from_vpid", "task", _ACQ_NULL, ("scalar",)),
    # cgroups
    _k("bpf_cgroup_acquire", "cgroup", ("KF_ACQUIRE", "KF_RCU", "KF_RET_NULL"), ("trusted",)),
    _k("bpf_cgroup_release", "cgroup", _REL, ("owned",)),
    _k("bpf_cgroup_from_id", "cgroup", _ACQ_NULL, ("scalar",)),
    # cpumasks (kernel/bpf/cpumask.c)
    _k("bpf_cpumask_create", "cpumask", _ACQ_NULL, ()),
    _k("bpf_cpumask_release", "cpumask", _REL, ("owned",)),
    _k("bpf_cpumask_acquire", "cpumask", ("KF_ACQUIRE", "KF_TRUSTED_ARGS"), ("trusted",)),
    # every other cpumask kfunc of kernel/bpf/cpumask.c is KF_RCU (name, parameter count)
    *(
        _k(f"bpf_cpumask_{op}", "cpumask", ("KF_RCU",), ("any",) * n)
        for op, n in (
            ("first", 1),
            ("first_zero", 1),
            ("first_and", 2),
            ("set_cpu", 2),
            ("clear_cpu", 2),
            ("test_cpu", 2),
            ("test_and_set_cpu", 2),
            ("test_and_clear_cpu", 2),
            ("setall", 1),
            ("clear", 1),
            ("and", 3),
            ("or", 3),
            ("xor", 3),
            ("equal", 2),
            ("intersects", 2),
            ("subset", 2),
            ("empty", 1),
            ("full", 1),
            ("copy", 2),
            ("any_distribute", 1),
            ("any_and_distribute", 2),
            ("weight", 1),
            ("populate", 3),
        )
    ),
    # RCU read sections (common_btf_ids: every program type)
    _k("bpf_rcu_read_lock", "rcu", (), ()),
    _k("bpf_rcu_read_unlock", "rcu", (), ()),
]

#: Program types (libbpf section words) to which the kernel registers each kfunc set
#: (``register_btf_kfunc_id_set`` in kernel/bpf/helpers.c and cpumask.c, net/bpf/test_run.c);
#: a kfunc called from another type gets "calling kernel function %s is not allowed".
KFUNC_PROG_TYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        # generic_kfunc_set: TRACING, SCHED_CLS, XDP, STRUCT_OPS, SYSCALL, TRACEPOINT,
        # PERF_EVENT (verifier_kfunc_prog_types.c); not KPROBE nor RAW_TRACEPOINT
        "generic": frozenset(
            {
                "tp_btf", "fentry", "fexit", "fmod_ret", "iter", "freplace",
                "tc", "tcx", "classifier", "action", "xdp", "struct_ops", "syscall",
                "tracepoint", "tp", "perf_event",
            }
        ),
        # cpumask_kfunc_set: TRACING, LSM, STRUCT_OPS, SYSCALL, TRACEPOINT, PERF_EVENT
        "cpumask": frozenset(
            {
                "tp_btf", "fentry", "fexit", "fmod_ret", "iter", "lsm", "struct_ops", "syscall",
                "tracepoint", "tp", "perf_event",
            }
        ),
    }
)  # fmt: skip

#: Categories of :data:`KFUNCS` and the set they belong to (the rest: every program type).
KFUNC_SET_OF_CATEGORY: Mapping[str, str] = MappingProxyType(
    {
        "allocation": "generic",
        "refcount": "generic",
        "collection": "generic",
        "task": "generic",
        "cgroup": "generic",
        "file": "generic",
        "cpumask": "cpumask",
    }
)


def _h(
    name: str, helper_id: int, category: str, args: tuple[str, ...], **kw: object
) -> KfuncSemantics:
    return KfuncSemantics(name, "helper", category, arg_kinds=args, helper_id=helper_id, **kw)  # type: ignore[arg-type]


_TABLE += [
    # ids: enum bpf_func_id (include/uapi/linux/bpf.h), checked against the kernel BTF in tests
    _h(
        "bpf_kptr_xchg",
        194,
        "kptr",
        ("kptr_field", "owned"),
        acquire=True,
        ret_null=True,
        ret_owning=True,
        takes_ownership=True,
        release_arg=1,
    ),
    _h("bpf_spin_lock", 93, "lock", ("lock",), lock_op="lock"),
    _h("bpf_spin_unlock", 94, "lock", ("lock",), lock_op="unlock"),
    _h("bpf_map_lookup_elem", 1, "map", ("map", "key"), ret_null=True),
    _h(
        "bpf_ringbuf_reserve",
        131,
        "ringbuf",
        ("map", "scalar", "scalar"),
        acquire=True,
        ret_null=True,
    ),
    _h("bpf_ringbuf_submit", 132, "ringbuf", ("owned", "scalar"), release=True, release_arg=0),
    _h("bpf_ringbuf_discard", 133, "ringbuf", ("owned", "scalar"), release=True, release_arg=0),
    _h(
        "bpf_sk_lookup_tcp",
        84,
        "socket",
        ("ctx", "any", "scalar", "scalar", "scalar"),
        acquire=True,
        ret_null=True,
    ),
    _h(
        "bpf_sk_lookup_udp",
        85,
        "socket",
        ("ctx", "any", "scalar", "scalar", "scalar"),
        acquire=True,
        ret_null=True,
    ),
    _h(
        "bpf_skc_lookup_tcp",
        99,
        "socket",
        ("ctx", "any", "scalar", "scalar", "scalar"),
        acquire=True,
        ret_null=True,
    ),
    _h("bpf_sk_release", 86, "socket", ("owned",), release=True, release_arg=0),
]

#: Semantics by function name (kfuncs and helpers).
KFUNCS: Mapping[str, KfuncSemantics] = MappingProxyType({s.name: s for s in _TABLE})

#: The allocating kfuncs, whose first argument is the local BTF id of the allocated type.
ALLOC_KFUNCS: frozenset[str] = frozenset({"bpf_obj_new_impl", "bpf_percpu_obj_new_impl"})


def kfunc_base_name(name: str) -> str:
    """The kernel name of a kfunc extern: libbpf drops a ``___flavour`` suffix
    (``bpf_task_acquire___v2`` binds to ``bpf_task_acquire``).

    Examples
    --------
    >>> kfunc_base_name("bpf_cgroup_ancestor___old"), kfunc_base_name("bpf_obj_new_impl")
    ('bpf_cgroup_ancestor', 'bpf_obj_new_impl')
    """
    i = name.find("___")
    return name[:i] if i > 0 else name


def semantics(name: str) -> KfuncSemantics | None:
    """The table entry for ``name`` (kfunc or helper name, flavour suffix allowed), or None."""
    return KFUNCS.get(name) or KFUNCS.get(kfunc_base_name(name))
