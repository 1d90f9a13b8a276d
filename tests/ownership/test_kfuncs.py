"""The kfunc/helper semantics table against this machine's kernel BTF (/sys/kernel/btf/vmlinux,
else the embedded 6.18 copy): every kfunc is a FUNC with a ``bpf_kfunc`` decl tag and the
parameter count the table assumes; every helper id is the kernel's ``enum bpf_func_id`` value."""

from __future__ import annotations

import pytest

from bpfkit.btf import BTFKind, Enum, Func, FuncProto, Ptr, Struct, load_vmlinux
from bpfkit.ownership.kfuncs import ALLOC_KFUNCS, KFUNCS

KFUNC_NAMES = sorted(n for n, s in KFUNCS.items() if s.kind == "kfunc")
HELPER_NAMES = sorted(n for n, s in KFUNCS.items() if s.kind == "helper")


@pytest.fixture(scope="module")
def vmlinux():  # type: ignore[no-untyped-def]
    return load_vmlinux()


@pytest.mark.parametrize("name", KFUNC_NAMES)
def test_kfunc_in_kernel_btf(vmlinux, name: str) -> None:  # type: ignore[no-untyped-def]
    funcs = [f for f in vmlinux.find(name, BTFKind.FUNC) if isinstance(f, Func)]
    assert funcs, f"{name} is not a FUNC in the kernel BTF"
    func = funcs[0]
    tags = [t.name for t in vmlinux.decl_tags(func.id)]
    assert "bpf_kfunc" in tags, f"{name} has no bpf_kfunc decl tag (has {tags})"
    proto = vmlinux[func.type]
    assert isinstance(proto, FuncProto)
    sem = KFUNCS[name]
    assert len(proto.params) == sem.nparams, [vmlinux.type_name(p.type) for p in proto.params]
    returns_ptr = isinstance(vmlinux.resolve(proto.type), Ptr)
    if sem.acquire or sem.ret_non_owning or sem.ret_null:
        assert returns_ptr, f"{name}: the table says it returns a reference, BTF says {proto.type}"
    # argument kinds that name a kernel struct must match the BTF parameter's pointee
    for kind, param in zip(sem.arg_kinds, proto.params, strict=True):
        want = {"list_head": "bpf_list_head", "list_node": "bpf_list_node",
                "rb_root": "bpf_rb_root", "rb_node": "bpf_rb_node"}.get(kind)  # fmt: skip
        if want is None:
            continue
        ptr = vmlinux.resolve(param.type)
        assert isinstance(ptr, Ptr)
        target = vmlinux.resolve(ptr.type)
        assert isinstance(target, Struct) and target.name == want, (name, param.name)


def test_kfuncs_cover_the_brief() -> None:
    needed = {
        "bpf_obj_new_impl", "bpf_percpu_obj_new_impl", "bpf_obj_drop_impl",
        "bpf_percpu_obj_drop_impl", "bpf_list_push_front_impl", "bpf_list_push_back_impl",
        "bpf_list_pop_front", "bpf_list_pop_back", "bpf_rbtree_add_impl", "bpf_rbtree_first",
        "bpf_rbtree_remove", "bpf_refcount_acquire_impl", "bpf_task_acquire",
        "bpf_task_release", "bpf_task_from_pid", "bpf_cpumask_create", "bpf_cpumask_release",
        "bpf_cpumask_acquire", "bpf_kptr_xchg", "bpf_spin_lock", "bpf_spin_unlock",
        "bpf_map_lookup_elem",
    }  # fmt: skip
    assert needed <= set(KFUNCS)
    assert set(KFUNCS) >= ALLOC_KFUNCS


def test_helper_ids_match_kernel_enum(vmlinux) -> None:  # type: ignore[no-untyped-def]
    enums = [e for e in vmlinux.find("bpf_func_id", BTFKind.ENUM) if isinstance(e, Enum)]
    assert enums
    ids = {v.name: v.value for v in enums[0].values}
    for name in HELPER_NAMES:
        key = "BPF_FUNC_" + name.removeprefix("bpf_")
        assert ids.get(key) == KFUNCS[name].helper_id, name


def test_release_and_ownership_consistent() -> None:
    for sem in KFUNCS.values():
        if sem.release or sem.takes_ownership:
            assert sem.release_arg is not None and sem.release_arg < sem.nparams, sem.name
        if sem.ret_non_owning:
            assert not sem.acquire and sem.needs_lock, sem.name
        if sem.kind == "kfunc":
            assert sem.acquire == ("KF_ACQUIRE" in sem.flags), sem.name
            assert sem.ret_null == ("KF_RET_NULL" in sem.flags), sem.name
