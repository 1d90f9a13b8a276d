"""Kfunc and helper argument rules (``check_kfunc_args`` / ``check_func_arg`` in
``kernel/bpf/verifier.c``): which arguments are pointers, what they must point to, and what the
call returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfkit.btf.types import FuncProto, Ptr
from bpfkit.ownership.kfuncs import KfuncSemantics
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
    if kind == "kfunc":
        params = it.ptr_params(name)
    elif sem is not None:
        params = [
            i
            for i, k in enumerate(sem.arg_kinds)
            if k in ("owned", "kptr_field", "lock", "non_owning")
        ]
    else:
        params = []
    release_arg = sem.release_arg if sem is not None and sem.release else None
    for i in params:
        v = args[i]
        if v.kind == "released" and i == release_arg:
            info = it.an.ref_info.get(v.ref)
            where = f" acquired at insn {info.site}" if info else ""
            it.mistake(
                st, "release_reference.double_release", f"{name} releases a reference{where} again"
            )
        if v.kind in ("released", "invalid"):
            it.check_ptr(st, v, f"argument {i + 1} of {name}")
