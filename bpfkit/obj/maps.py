"""Maps and global sections of a BPF object, read from its BTF.

A BTF-defined map (libbpf's ``SEC(".maps")`` convention, ``parse_btf_map_def`` in
``tools/lib/bpf/libbpf.c``) is a VAR in the ``.maps`` DATASEC whose type is a struct of pointer
members: ``type``, ``max_entries``, ``map_flags`` encode an int as ``int (*)[N]`` (the array's
``nelems``); ``key``/``value`` are ``typeof(T) *`` (the pointee is the type); ``key_size`` and
``value_size`` are ints like ``max_entries``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from bpfkit.btf.types import Array, BTFKind, Datasec, Ptr, Struct, Var

if TYPE_CHECKING:
    from bpfkit.btf.spec import Spec

__all__ = ["MapDef", "GlobalVar", "map_defs", "global_sections", "MAP_TYPES"]

#: ``enum bpf_map_type`` (include/uapi/linux/bpf.h), lower-case without the prefix.
MAP_TYPES: tuple[str, ...] = (
    "unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array",
    "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps",
    "hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage",
    "reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack", "sk_storage",
    "devmap_hash", "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter",
    "user_ringbuf", "cgrp_storage", "arena",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MapDef:
    """A BTF-defined map: ``map_type`` spelled as in ``BPF_MAP_TYPE_*`` lower-case."""

    name: str
    map_type: str
    key_type: int | None
    value_type: int | None
    max_entries: int
    flags: int
    section: str
    key_size: int | None = None
    value_size: int | None = None
    var_type: int = 0


class GlobalVar(NamedTuple):
    """A variable of a ``.data*`` / ``.bss*`` / ``.rodata*`` section."""

    name: str
    type: int
    offset: int
    size: int


def _int_of(spec: Spec, type_id: int) -> int | None:
    """``int (*name)[N]`` -> N (libbpf's ``get_map_field_int``)."""
    ptr = spec.resolve(type_id)
    if not isinstance(ptr, Ptr):
        return None
    arr = spec.resolve(ptr.type)
    if not isinstance(arr, Array):
        return None
    return arr.nelems


def _pointee(spec: Spec, type_id: int) -> int | None:
    ptr = spec.resolve(type_id)
    if not isinstance(ptr, Ptr):
        return None
    return ptr.type


def map_defs(spec: Spec) -> list[MapDef]:
    """The BTF-defined maps of every ``.maps`` DATASEC.

    Parameters
    ----------
    spec
        The object's BTF.

    Returns
    -------
    list of MapDef
        In DATASEC order. A member the struct does not have is None (key/value) or 0.

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import DATA_PROGRAMS
    >>> [(m.name, m.map_type, m.max_entries) for m in map_defs(load_object(DATA_PROGRAMS / "list.bpf.o").btf)]
    [('queues', 'array', 4)]
    """
    out: list[MapDef] = []
    for sec in spec.find(".maps", BTFKind.DATASEC):
        if not isinstance(sec, Datasec):
            continue
        for vsi in sec.vars:
            var = spec[vsi.type]
            if not isinstance(var, Var):
                continue
            st = spec.resolve(var.type)
            if not isinstance(st, Struct):
                continue
            fields = {m.name: m.type for m in st.members}
            map_type_no = _int_of(spec, fields["type"]) if "type" in fields else None
            if map_type_no is None:
                map_type = "unspec"
            elif 0 <= map_type_no < len(MAP_TYPES):
                map_type = MAP_TYPES[map_type_no]
            else:
                map_type = f"type#{map_type_no}"
            key = _pointee(spec, fields["key"]) if "key" in fields else None
            value = _pointee(spec, fields["value"]) if "value" in fields else None
            out.append(
                MapDef(
                    name=var.name,
                    map_type=map_type,
                    key_type=key,
                    value_type=value,
                    max_entries=(_int_of(spec, fields["max_entries"]) or 0)
                    if "max_entries" in fields
                    else 0,
                    flags=(_int_of(spec, fields["map_flags"]) or 0) if "map_flags" in fields else 0,
                    section=sec.name,
                    key_size=_int_of(spec, fields["key_size"]) if "key_size" in fields else None,
                    value_size=_int_of(spec, fields["value_size"])
                    if "value_size" in fields
                    else None,
                    var_type=var.id,
                )
            )
    return out


def global_sections(
    spec: Spec, *, symbols: Mapping[tuple[str, str], tuple[int, int]] | None = None
) -> list[tuple[str, list[GlobalVar]]]:
    """Globals of the ``.data*``, ``.bss*`` and ``.rodata*`` DATASECs.

    Parameters
    ----------
    spec
        The object's BTF.
    symbols
        ``{(section, name): (st_value, st_size)}`` from the ELF symbol table. clang leaves the
        DATASEC offsets of hidden/static variables at 0 in an object; libbpf fixes them from the
        symbols (``btf_fixup_datasec``) and so does this when given them
        (:meth:`bpfkit.obj.Object.globals` passes the object's).

    Returns
    -------
    list of (datasec name, [GlobalVar(name, type, offset, size), ...])
        ``type`` is the VAR's type id (the variable's C type).
    """
    out: list[tuple[str, list[GlobalVar]]] = []
    for t in spec:
        if not isinstance(t, Datasec):
            continue
        if not t.name.startswith((".data", ".bss", ".rodata")):
            continue
        rows: list[GlobalVar] = []
        for vsi in t.vars:
            var = spec[vsi.type]
            if isinstance(var, Var):
                offset, size = vsi.offset, vsi.size
                if symbols is not None and (t.name, var.name) in symbols:
                    offset, size = symbols[(t.name, var.name)]
                rows.append(GlobalVar(var.name, var.type, offset, size))
        out.append((t.name, rows))
    return out
