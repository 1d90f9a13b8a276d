"""What the rules need from the kernel's own BTF: kfunc prototypes (parameter names carry the
kernel's argument annotations such as ``__nullable`` or ``__alloc``), tracing programs'
argument types, struct members walked through a pointer, struct sizes.

The kernel BTF is the running kernel's (``/sys/kernel/btf/vmlinux``), else the embedded 6.18
BTF (:func:`bpfkit.btf.load_vmlinux`); every answer is cached per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from bpfkit.btf.types import (
    Array,
    BTFKind,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Int,
    Ptr,
    Struct,
    Typedef,
    Union,
)

if TYPE_CHECKING:
    from bpfkit.btf import Spec

__all__ = [
    "KParam",
    "kernel_spec",
    "kfunc_params",
    "kfunc_exists",
    "ctx_args",
    "member_at",
    "member_end",
    "struct_size",
    "same_or_first_member",
]


@dataclass(frozen=True, slots=True)
class KParam:
    """A kfunc parameter: ``struct`` the pointee struct's name ("" if none), ``scalar_mem``
    when it points to a scalar or a struct of scalars (memory the program may pass)."""

    name: str
    is_ptr: bool
    struct: str
    scalar_mem: bool


@cache
def kernel_spec() -> Spec | None:
    from bpfkit.btf import load_vmlinux
    from bpfkit.errors import BpfkitError

    try:
        return load_vmlinux()
    except (BpfkitError, OSError):
        return None


def _is_scalar_struct(spec: Spec, tid: int, depth: int = 0) -> bool:
    """``__btf_type_is_scalar_struct``: every member a scalar, or an array / struct of them."""
    if depth > 3:
        return False
    t = spec.resolve(tid)
    if isinstance(t, Int | Enum | Enum64 | Float):
        return True
    if isinstance(t, Array):
        return _is_scalar_struct(spec, t.type, depth + 1)
    if isinstance(t, Struct):
        return all(_is_scalar_struct(spec, m.type, depth + 1) for m in t.members)
    return False


def _pointee(spec: Spec, tid: int) -> tuple[bool, str, bool]:
    t = spec.resolve(tid)
    if not isinstance(t, Ptr):
        return False, "", False
    inner = spec.resolve(t.type)
    name = inner.name if isinstance(inner, Struct | Union) else ""
    scalar = isinstance(inner, Int | Enum | Enum64 | Float) or (
        isinstance(inner, Struct) and _is_scalar_struct(spec, inner.id)
    )
    return True, name, scalar


@cache
def kfunc_params(name: str) -> tuple[KParam, ...] | None:
    """The kernel's parameters of kfunc ``name`` (None when the kernel has no such FUNC)."""
    spec = kernel_spec()
    if spec is None:
        return None
    for f in spec.find(name, BTFKind.FUNC):
        proto = spec[f.type] if isinstance(f, Func) else None
        if isinstance(proto, FuncProto):
            return tuple(KParam(p.name, *_pointee(spec, p.type)) for p in proto.params)
    return None


def kfunc_exists(name: str) -> bool:
    return kfunc_params(name) is not None


@cache
def ctx_args(section: str) -> tuple[tuple[bool, str], ...] | None:
    """(is a pointer, struct name) of each argument a BTF-typed tracing program receives in
    its context (tp_btf: the tracepoint's ``btf_trace_<name>`` prototype less its ``__data``;
    fentry / fexit / fmod_ret: the traced function; lsm: ``bpf_lsm_<hook>``), or None."""
    spec = kernel_spec()
    if spec is None or "/" not in section:
        return None
    kind, target = section.lstrip("?").split("/", 1)
    kind = kind.split(".")[0]
    proto: FuncProto | None = None
    skip = 0
    if kind == "tp_btf":
        for td in spec.find(f"btf_trace_{target}", BTFKind.TYPEDEF):
            if isinstance(td, Typedef):
                ptr = spec.resolve(td.type)
                if isinstance(ptr, Ptr) and isinstance(spec[ptr.type], FuncProto):
                    proto = spec[ptr.type]  # type: ignore[assignment]
        skip = 1
    elif kind in ("fentry", "fexit", "fmod_ret", "lsm"):
        fname = f"bpf_lsm_{target}" if kind == "lsm" else target
        for f in spec.find(fname, BTFKind.FUNC):
            if isinstance(f, Func) and isinstance(spec[f.type], FuncProto):
                proto = spec[f.type]  # type: ignore[assignment]
    if proto is None:
        return None
    out = []
    for p in proto.params[skip:]:
        is_ptr, struct, _ = _pointee(spec, p.type)
        out.append((is_ptr, struct))
    return tuple(out)


def _struct(spec: Spec, name: str) -> Struct | None:
    for t in spec.find(name, BTFKind.STRUCT):
        if isinstance(t, Struct) and t.members:
            return t
    return None


@cache
def struct_size(name: str) -> int | None:
    spec = kernel_spec()
    s = _struct(spec, name) if spec is not None else None
    return s.size if s is not None else None


@cache
def member_at(name: str, off: int) -> tuple[str, bool, str] | None:
    """(member name, is a pointer, pointee struct) of the member of kernel struct ``name``
    that starts at byte ``off`` (nested structs and arrays entered), or None."""
    spec = kernel_spec()
    s = _struct(spec, name) if spec is not None else None
    if spec is None or s is None:
        return None
    t: Struct | Union = s
    for _ in range(8):
        for m in t.members:
            start = m.bit_offset // 8
            size = spec.sizeof(m.type) if m.type else 0
            if not start <= off < start + max(size, 1):
                continue
            inner = spec.resolve(m.type)
            while isinstance(inner, Array):
                esize = spec.sizeof(inner.type) or 1
                off = start + (off - start) % esize
                inner = spec.resolve(inner.type)
            if isinstance(inner, Struct | Union) and off - start >= 0:
                off -= start
                t = inner
                break
            if off != start:
                return None
            is_ptr, struct, _ = _pointee(spec, m.type)
            return m.name, is_ptr, struct
        else:
            return None
    return None


@cache
def member_end(name: str, off: int) -> tuple[str, int, str] | None:
    """``btf_struct_walk``'s view of byte ``off`` of kernel struct ``name``: (member name,
    ``mend`` (the byte after the member, an array taken whole), the struct that holds it) for
    the innermost member that is not a struct, or None (a hole, or no kernel BTF)."""
    spec = kernel_spec()
    s = _struct(spec, name) if spec is not None else None
    if spec is None or s is None:
        return None
    t: Struct | Union = s
    base = 0
    for _ in range(8):
        for m in t.members:
            start = base + m.bit_offset // 8
            size = spec.sizeof(m.type) if m.type else 0
            if not start <= off < start + max(size, 1):
                continue
            inner = spec.resolve(m.type)
            elem_start = start
            while isinstance(inner, Array):
                esize = spec.sizeof(inner.type) or 1
                elem_start = elem_start + (off - elem_start) // esize * esize
                inner = spec.resolve(inner.type)
            if isinstance(inner, Struct | Union):
                t, base = inner, elem_start
                break
            return m.name, start + size, t.name or name
        else:
            return None
    return None


@cache
def same_or_first_member(have: str, want: str) -> bool:
    """``btf_struct_ids_match`` without strict matching: ``have`` is ``want``, or ``want`` is
    reached through first members at offset 0 (``struct bpf_cpumask`` starts with a
    ``struct cpumask``). Flavour suffixes (``___x``) are ignored."""
    have, want = have.split("___")[0], want.split("___")[0]
    spec = kernel_spec()
    for _ in range(8):
        if have == want:
            return True
        s = _struct(spec, have) if spec is not None else None
        if spec is None or s is None or not s.members or s.members[0].bit_offset:
            return False
        inner = spec.resolve(s.members[0].type)
        if not isinstance(inner, Struct):
            return False
        have = inner.name
    return False
