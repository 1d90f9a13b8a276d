"""BTF look-ups the static flow needs: the member at a byte offset, kptr field targets, and the
``contains:TYPE:FIELD`` tag of a list head / rb root.

These read the object's own BTF (program-side types); kernel types are compared by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpfkit.btf.types import Array, Datasec, Ptr, Struct, TypeTag, Union, Var

if TYPE_CHECKING:
    from bpfkit.btf import Spec

__all__ = [
    "FieldRef",
    "field_at",
    "kptr_target",
    "contains_of",
    "member_offset",
    "struct_name",
    "global_var_at",
]


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A member found at a byte offset: ``container`` is the struct/union type id holding it
    (or the VAR id for a whole global), ``index`` its member index (-1 for a VAR)."""

    container: int
    index: int
    name: str
    type: int
    offset: int


def struct_name(spec: Spec, type_id: int) -> str:
    """The name of the struct a type resolves to (through modifiers and one pointer level)."""
    t = spec.resolve(type_id)
    if isinstance(t, Ptr):
        t = spec.resolve(t.type)
    return t.name if isinstance(t, Struct | Union) else spec.type_name(type_id)


def _element(spec: Spec, type_id: int, off: int) -> tuple[int, int, str] | None:
    """Through (nested) arrays: (element type id, byte offset of the element, ``[i][j]``)
    of the element covering byte ``off``; the type itself when it is not an array."""
    start, suffix = 0, ""
    for _ in range(32):  # MAX_RESOLVE_DEPTH
        t = spec.resolve(type_id)
        if not isinstance(t, Array):
            return type_id, start, suffix
        size = spec.sizeof(t.type)
        if size <= 0 or not 0 <= off - start < size * max(t.nelems, 0):
            return None
        idx = (off - start) // size
        start += idx * size
        suffix += f"[{idx}]"
        type_id = t.type
    return None


def field_at(spec: Spec, type_id: int, off: int, *, depth: int = 0) -> FieldRef | None:
    """The innermost non-struct member (or a struct member that starts exactly at ``off`` and
    is a kernel special struct such as ``bpf_list_head``) covering byte ``off`` of ``type_id``.

    Arrays are walked to the element covering ``off`` (``btf_repeat_fields`` flattens arrays
    of kptrs, list heads and rb roots, 1-D or more, and of structs holding them): the member
    is then named ``name[i][j]`` with the element's type and offset."""
    if depth > 16 or off < 0:
        return None
    t = spec.resolve(type_id)
    if isinstance(t, Array):
        elem = _element(spec, type_id, off)
        if elem is None:
            return None
        etype, estart, suffix = elem
        inner = spec.resolve(etype)
        if isinstance(inner, Struct | Union):
            found = field_at(spec, etype, off - estart, depth=depth + 1)
            if found is None:
                return None
            return FieldRef(
                found.container, found.index, found.name, found.type, found.offset + estart
            )
        return FieldRef(type_id, -1, suffix, etype, estart)
    if not isinstance(t, Struct | Union):
        return None
    for i, m in enumerate(t.members):
        start = m.bit_offset // 8
        size = spec.sizeof(m.type) if m.type else 0
        if not start <= off < start + max(size, 1):
            continue
        mtype, name = m.type, m.name
        if isinstance(spec.resolve(m.type), Array):
            elem = _element(spec, m.type, off - start)
            if elem is None:
                return FieldRef(t.id, i, m.name, m.type, start)
            mtype, estart, suffix = elem
            start, name = start + estart, f"{m.name}{suffix}"
        inner = spec.resolve(mtype)
        if isinstance(inner, Struct | Union) and not inner.name.startswith("bpf_"):
            found = field_at(spec, mtype, off - start, depth=depth + 1)
            if found is not None:
                return FieldRef(
                    found.container, found.index, found.name, found.type, found.offset + start
                )
        return FieldRef(t.id, i, name, mtype, start)
    return None


def member_offset(spec: Spec, type_id: int, name: str) -> int | None:
    """Byte offset of member ``name`` of the struct ``type_id``."""
    t = spec.resolve(type_id)
    if not isinstance(t, Struct | Union):
        return None
    for m in t.members:
        if m.name == name:
            return m.bit_offset // 8
    return None


def kptr_target(spec: Spec, member_type: int) -> tuple[str, str] | None:
    """For a ``T __kptr *`` member: (tag, struct name of T); tag is ``kptr``, ``kptr_untrusted``
    or ``percpu_kptr``. None when the member is not a kptr."""
    ptr = spec.resolve(member_type, typedefs=True)
    if not isinstance(ptr, Ptr):
        return None
    tid = ptr.type
    tag = None
    for _ in range(8):
        t = spec[tid]
        if isinstance(t, TypeTag):
            if t.name in ("kptr", "kptr_untrusted", "percpu_kptr"):
                tag = t.name
            tid = t.type
            continue
        break
    if tag is None:
        return None
    return tag, struct_name(spec, tid)


def contains_of(spec: Spec, container: int, index: int) -> tuple[str, str] | None:
    """The ``contains:TYPE:FIELD`` decl tag on member ``index`` of ``container`` (or on the VAR
    ``container`` when ``index`` is -1), as (TYPE, FIELD)."""
    for tag in spec.decl_tags(container, index):
        if tag.name.startswith("contains:"):
            parts = tag.name.split(":")
            if len(parts) == 3:
                return parts[1], parts[2]
    return None


def global_var_at(
    spec: Spec, section: str, off: int, symbols: dict[str, tuple[int, int]]
) -> tuple[int, int] | None:
    """(VAR id, offset inside it) of the global of DATASEC ``section`` covering ``off``."""
    for sec in spec.find(section):
        if not isinstance(sec, Datasec):
            continue
        for vsi in sec.vars:
            var = spec[vsi.type]
            if not isinstance(var, Var):
                continue
            start, size = symbols.get(var.name, (vsi.offset, vsi.size))
            if start <= off < start + max(size, 1):
                return var.id, off - start
    return None
