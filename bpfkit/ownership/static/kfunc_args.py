"""Kfunc and helper argument rules (``check_kfunc_args`` / ``check_func_arg`` in
``kernel/bpf/verifier.c``): which arguments are pointers, what they must point to, and what the
call returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfkit.btf.types import FuncProto, Ptr
from bpfkit.ownership.kfuncs import KfuncSemantics, kfunc_base_name
from bpfkit.ownership.static.kernel_types import KParam, kfunc_params, same_or_first_member
from bpfkit.ownership.static.values import (
    State,
    Val,
)
from bpfkit.ownership.static_btf import struct_name

if TYPE_CHECKING:
    from bpfkit.ownership.static.engine import Interp

__all__ = [
    "returns_ptr",
    "ptr_params",
    "ret_struct",
    "check_args",
    "check_kfunc_args",
]


def returns_ptr(it: Interp, name: str) -> bool:
    if it.spec is None:
        return False
    from bpfkit.btf.types import BTFKind, Func

    for f in it.spec.find(name, BTFKind.FUNC):
        if isinstance(f, Func):
            proto = it.spec[f.type]
            if isinstance(proto, FuncProto):
                return isinstance(it.spec.resolve(proto.type), Ptr)
    return False


def ptr_params(it: Interp, name: str) -> list[int]:
    if it.spec is None:
        return []
    from bpfkit.btf.types import BTFKind, Func

    for f in it.spec.find(name, BTFKind.FUNC):
        if isinstance(f, Func):
            proto = it.spec[f.type]
            if isinstance(proto, FuncProto):
                return [
                    i
                    for i, p in enumerate(proto.params[:5])
                    if isinstance(it.spec.resolve(p.type), Ptr)
                ]
    return []


def ret_struct(it: Interp, name: str) -> str:
    if it.spec is None:
        return "?"
    from bpfkit.btf.types import BTFKind, Func

    for f in it.spec.find(name, BTFKind.FUNC):
        if isinstance(f, Func):
            proto = it.spec[f.type]
            if isinstance(proto, FuncProto):
                return struct_name(it.spec, proto.type)
    return "?"


def check_args(
    it: Interp, st: State, name: str, kind: str, sem: KfuncSemantics | None, args: list[Val]
) -> None:
    """The argument checks of a call, in the verifier's order: ``check_kfunc_args`` for a
    kfunc the kernel BTF knows (:func:`check_kfunc_args`), else the reference checks of
    ``check_func_arg`` for helpers (released or invalidated pointers passed on)."""
    if kind == "kfunc":
        params = kfunc_params(kfunc_base_name(name))
        if params is not None:
            check_kfunc_args(it, st, name, sem, args, params)
            return
        ptr_idx = it.ptr_params(name)
    elif sem is not None:
        ptr_idx = [
            i
            for i, k in enumerate(sem.arg_kinds)
            if k in ("owned", "kptr_field", "lock", "non_owning")
        ]
    else:
        ptr_idx = []
    release_arg = sem.release_arg if sem is not None and sem.release else None
    for i in ptr_idx:
        v = args[i]
        if v.kind == "released" and i == release_arg:
            info = it.an.ref_info.get(v.ref)
            where = f" acquired at insn {info.site}" if info else ""
            it.mistake(
                st, "release_reference.double_release", f"{name} releases a reference{where} again"
            )
        if v.kind in ("released", "invalid"):
            it.check_ptr(st, v, f"argument {i + 1} of {name}")


#: Parameter types and name suffixes the verifier gives a meaning of its own
#: (``get_kfunc_ptr_arg_type``): the graph, refcount and allocation rules judge them.
_SPECIAL_STRUCTS = frozenset(
    {
        "bpf_list_head",
        "bpf_list_node",
        "bpf_rb_root",
        "bpf_rb_node",
        "bpf_refcount",
        "bpf_dynptr",
        "bpf_dynptr_kern",
        "bpf_spin_lock",
        "bpf_res_spin_lock",
        "bpf_wq",
        "bpf_timer",
        "bpf_task_work",
        "bpf_map",
        "btf_struct_meta",
    }
)
_SPECIAL_SUFFIXES = (
    "__alloc",
    "__refcounted_kptr",
    "__ign",
    "__k",
    "__sz",
    "__szk",
    "__map",
    "__str",
    "__irq_flag",
    "__prog",
    "__uninit",
    "__const",
)
_NULLABLE = ("__nullable", "__opt")


def _is_trusted(v: Val) -> bool:
    """``is_trusted_reg``: a referenced (acquired or allocated) pointer, a non-owning
    reference, or a pointer marked PTR_TRUSTED."""
    return v.kind == "ref" or (v.kind == "ptr" and v.trust == "trusted")


def _type_of(it: Interp, v: Val) -> str:
    if v.kind == "ptr":
        return v.name
    if v.kind == "ref":
        info = it.an.ref_info.get(v.ref) if v.ref else None
        return info.type_name if info is not None else ""
    return ""


def check_kfunc_args(
    it: Interp,
    st: State,
    name: str,
    sem: KfuncSemantics | None,
    args: list[Val],
    params: tuple[KParam, ...],
) -> None:
    """``check_kfunc_args``: each pointer argument of a kfunc, against the kernel's own
    prototype and the kfunc's flags (``KF_TRUSTED_ARGS``, ``KF_RCU``; a ``KF_RELEASE`` kfunc's
    arguments are trusted arguments too)."""
    flags = sem.flags if sem is not None else ()
    release = sem is not None and sem.release
    trusted_args = "KF_TRUSTED_ARGS" in flags or release
    rcu = "KF_RCU" in flags
    release_arg = sem.release_arg if release and sem is not None else None
    released_ref = False
    for i, p in enumerate(params[:5]):
        if not p.is_ptr:
            v = args[i]
            # is_kfunc_arg_constant: a scalar argument named ``*__k`` must be a known constant
            if p.name.endswith("__k") and v.kind == "scalar" and v.const is None:
                it.mistake(st, "check_kfunc_args.constant", f"R{i + 1} must be a known constant")
            continue
        if p.name.endswith("__ign"):
            continue
        v = args[i]
        regno = i + 1
        special = p.struct in _SPECIAL_STRUCTS or p.name.endswith(_SPECIAL_SUFFIXES)
        nullable = p.name.endswith(_NULLABLE)
        is_null = v.kind == "scalar" and v.const == 0
        maybe_null = v.maybe_null and v.kind in ("ref", "ptr", "mapval")
        if (trusted_args or rcu) and (is_null or maybe_null) and not nullable:
            it.mistake(
                st, "check_kfunc_args.null", f"Possibly NULL pointer passed to trusted arg{i}"
            )
        if v.kind == "ref" and v.ref and i == release_arg:
            released_ref = True
        if v.kind in ("released", "invalid"):
            # a released or invalidated pointer is an unknown scalar to the verifier
            if i == release_arg and v.kind == "released":
                info = it.an.ref_info.get(v.ref)
                where = f" acquired at insn {info.site}" if info else ""
                it.mistake(
                    st,
                    "release_reference.double_release",
                    f"{name} releases a reference{where} again",
                )
            it.check_ptr(st, v, f"argument {regno} of {name}")
        if i == release_arg and v.kind == "ref" and v.ref and v.off not in (0, None):
            it.mistake(
                st,
                "check_func_arg_reg_off",
                f"R{regno} must have zero offset when passed to release func or trusted arg "
                "to kfunc",
            )
        if v.kind in ("ref", "ptr") and v.off is None:
            # check_func_arg_reg_off -> __check_ptr_off_reg: no variable offset on a BTF pointer
            it.mistake(
                st, "check_func_arg_reg_off.var_off", "variable ptr_ access var_off=(?) disallowed"
            )
        if special:
            alloc = p.name.endswith("__alloc")
            if alloc and (trusted_args or rcu) and v.kind in ("stack", "mapval", "ptr", "ctx"):
                it.mistake(
                    st, "check_kfunc_args.trusted", f"R{regno} must be referenced or trusted"
                )
            continue
        if v.kind not in ("ref", "ptr"):
            if v.kind in ("unk", "uninit") or (is_null and nullable) or p.scalar_mem:
                continue
            if p.struct and v.kind in ("scalar", "stack", "mapval", "ctx", "pkt"):
                it.mistake(
                    st,
                    "get_kfunc_ptr_arg_type",
                    f"arg#{i} pointer type STRUCT {p.struct} must point to scalar, or struct "
                    "with scalar",
                )
            continue
        if (trusted_args or rcu) and not _is_trusted(v):
            if not rcu:
                it.mistake(
                    st, "check_kfunc_args.trusted", f"R{regno} must be referenced or trusted"
                )
            elif not (v.kind == "ptr" and v.trust == "rcu"):
                it.mistake(st, "check_kfunc_args.rcu", f"R{regno} must be a rcu pointer")
        have = _type_of(it, v)
        if p.struct and have and have != "?":
            strict = i == release_arg and v.kind == "ref" and bool(v.ref)
            ok = (
                have.split("___")[0] == p.struct if strict else same_or_first_member(have, p.struct)
            )
            if not ok and v.kind == "ref" and v.ref:
                info = it.an.ref_info.get(v.ref)
                ok = info is not None and info.program_allocated
            if not ok:
                it.mistake(
                    st,
                    "process_kf_arg_ptr_to_btf_id",
                    f"kernel function {kfunc_base_name(name)} args#{i} expected pointer to "
                    f"STRUCT {p.struct} but R{regno} has a pointer to STRUCT {have}",
                )
    if release and release_arg is not None and not released_ref:
        v = args[release_arg]
        if v.kind == "ptr" or (v.kind == "ref" and not v.owning):
            it.mistake(
                st,
                "check_kfunc_args.release_not_owning",
                f"release kernel function {kfunc_base_name(name)} expects refcounted PTR_TO_BTF_ID",
            )
