"""Special fields of map values, global sections and program-allocated types.

This module recomputes, from a program's BTF, what the kernel computes when it parses BTF in
``btf_parse_fields()`` (kernel/bpf/btf.c): which members are ``bpf_spin_lock``,
``bpf_res_spin_lock``, ``bpf_timer``, ``bpf_wq``, ``bpf_task_work``, ``bpf_list_head`` /
``bpf_list_node``, ``bpf_rb_root`` / ``bpf_rb_node``, ``bpf_refcount`` and kptrs (``kptr``,
``kptr_untrusted``, ``percpu_kptr``, ``uptr``), at which offsets, and, for list heads and rb
roots, which type and node field the ``contains:TYPE:FIELD`` declaration tag names.

It follows the kernel's rules as of Linux 6.18 (read in kernel/bpf/btf.c and
kernel/bpf/syscall.c; each rule below is checked against this machine's kernel in
tests/ownership/test_fields.py, so a rule that changes shows up as a failing case):

- Special structs are recognised by name and must have the kernel's size; a spin lock, res spin
  lock, timer, wq or task_work is marked unique in ``btf_get_field_type()``, but only a second
  ``bpf_spin_lock`` is seen to fail (BTF load ``E2BIG``): the others are map-value-only
  fields whose errors the map path drops (see :attr:`FieldRecord.dropped`).
- Nested structs and arrays are walked (``btf_find_field_one()`` /
  ``btf_find_nested_struct()``; arrays of kptrs and nested structs since Linux 6.11), at most
  ``MAX_RESOLVE_DEPTH`` (32) levels; only kptrs, list heads and rb roots may be repeated by an
  array (``btf_repeat_fields()``).
- Every member must start on a byte boundary, bitfields included (``EINVAL``).
- A kptr is a pointer (optionally ``volatile``) to exactly one non-attribute type tag (``kptr``,
  ``kptr_untrusted``, ``percpu_kptr``, ``uptr``) on a struct; any other tag, or a pointee that
  is only a forward declaration, is ``EINVAL``. clang before 20 emits a forward declaration for
  the pointee of a pointer member unless the struct is used elsewhere (llvm-project PR
  141719), so a kptr to a type the program never otherwise mentions is silently lost.
- At most ``BTF_FIELDS_MAX`` (11) fields per record (``E2BIG``); fields may not overlap
  (``EEXIST``); a list head or rb root needs a spin lock (or res spin lock) in the same record;
  spin lock and res spin lock exclude each other (res spin lock: Linux 6.15); a type with both
  a list node and an rb node needs a ``bpf_refcount`` (refcounted local kptrs: Linux 6.4); a
  type that is both a collection root and a node may not own a root type (``ELOOP``,
  ``btf_check_and_fixup_fields()``).
- Program-allocated types ("struct metas", ``btf_parse_struct_metas()``) are the structs with a
  direct member whose type is one of the special structs or a kptr; an error in one of them
  makes the whole BTF load fail.
- Map values and global sections are parsed again at map creation (``map_check_btf()``); there
  an error does not fail the map: the map is created without special fields.
- The BTF verifier itself refuses type chains deeper than 32 on its resolve stack
  (:func:`resolve_depth_problems`).

Examples
--------
>>> KIND_SIZE["list_head"], KIND_SIZE["rb_node"], BTF_FIELDS_MAX
(16, 32, 11)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from bpfkit.btf.types import (
    Array,
    BTFKind,
    Datasec,
    Ptr,
    Struct,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Volatile,
)
from bpfkit.errors import BpfkitError

if TYPE_CHECKING:
    import pandas as pd

    from bpfkit.btf.spec import Spec

__all__ = [
    "SpecialField",
    "FieldRecord",
    "KIND_SIZE",
    "KIND_ALIGN",
    "STRUCT_KIND",
    "KPTR_TAGS",
    "MAP_FIELD_KINDS",
    "ALLOC_FIELD_KINDS",
    "BTF_FIELDS_MAX",
    "MAX_RESOLVE_DEPTH",
    "KPTR_DTOR_TYPES",
    "kptr_dtor_types",
    "kptr_dtors",
    "parse_fields",
    "check_map_type",
    "struct_metas",
    "resolve_depth_problems",
    "map_value_records",
    "global_section_records",
    "all_records",
    "resolve_kptr",
    "fields_frame",
    "records_frame",
]

#: Size in bytes of each special field (``btf_field_type_size()``; sizes of the uapi structs).
KIND_SIZE: dict[str, int] = {
    "spin_lock": 4,
    "res_spin_lock": 4,
    "timer": 16,
    "wq": 16,
    "task_work": 8,
    "list_head": 16,
    "list_node": 24,
    "rb_root": 16,
    "rb_node": 32,
    "refcount": 4,
    "kptr": 8,
    "kptr_untrusted": 8,
    "percpu_kptr": 8,
    "uptr": 8,
}
#: Alignment the kernel requires (``btf_field_type_align()``); a misaligned field is ignored.
KIND_ALIGN: dict[str, int] = {
    "spin_lock": 4,
    "res_spin_lock": 4,
    "timer": 8,
    "wq": 8,
    "task_work": 8,
    "list_head": 8,
    "list_node": 8,
    "rb_root": 8,
    "rb_node": 8,
    "refcount": 4,
    "kptr": 8,
    "kptr_untrusted": 8,
    "percpu_kptr": 8,
    "uptr": 8,
}
#: Struct name -> field kind (``btf_get_field_type()``).
STRUCT_KIND: dict[str, str] = {
    "bpf_spin_lock": "spin_lock",
    "bpf_res_spin_lock": "res_spin_lock",
    "bpf_timer": "timer",
    "bpf_wq": "wq",
    "bpf_task_work": "task_work",
    "bpf_list_head": "list_head",
    "bpf_list_node": "list_node",
    "bpf_rb_root": "rb_root",
    "bpf_rb_node": "rb_node",
    "bpf_refcount": "refcount",
}
#: Type tag -> kptr kind (``btf_find_kptr()``).
KPTR_TAGS: dict[str, str] = {
    "kptr": "kptr",
    "kptr_untrusted": "kptr_untrusted",
    "percpu_kptr": "percpu_kptr",
    "uptr": "uptr",
}
_KPTR_KINDS = frozenset(KPTR_TAGS.values())
_ONCE_KINDS = frozenset({"spin_lock", "res_spin_lock", "timer", "wq", "task_work"})
_REPEATABLE = _KPTR_KINDS | {"list_head", "rb_root"}
_ROOTS = frozenset({"list_head", "rb_root"})
_NODES = frozenset({"list_node", "rb_node"})
_NODE_OF_ROOT = {"list_head": "bpf_list_node", "rb_root": "bpf_rb_node"}

#: Kinds searched in map values and global sections (``map_check_btf()``).
MAP_FIELD_KINDS: frozenset[str] = frozenset(KIND_SIZE) - _NODES
#: Kinds searched in program-allocated types (``btf_parse_struct_metas()``).
ALLOC_FIELD_KINDS: frozenset[str] = frozenset(
    {"spin_lock", "res_spin_lock", "list_head", "list_node", "rb_root", "rb_node", "refcount"}
) | (_KPTR_KINDS - {"uptr"})
#: Struct names whose presence as a direct member makes a struct a "struct meta".
_ALLOC_OBJ_FIELDS = (
    "bpf_spin_lock",
    "bpf_list_head",
    "bpf_list_node",
    "bpf_rb_root",
    "bpf_rb_node",
    "bpf_refcount",
)
#: ``BTF_FIELDS_MAX`` in include/linux/bpf.h (11 since Linux 6.10, when bpf_wq was added).
BTF_FIELDS_MAX = 11
#: ``MAX_RESOLVE_DEPTH`` in kernel/bpf/btf.c: nesting limit of structs and arrays.
MAX_RESOLVE_DEPTH = 32
#: Kernel types registered with a destructor kfunc (``register_btf_id_dtor_kfuncs()``), the
#: only kernel types a referenced ``__kptr`` may point to: task (kernel/bpf/helpers.c),
#: cgroup (helpers.c), bpf_cpumask (kernel/bpf/cpumask.c), bpf_crypto_ctx (kernel/bpf/crypto.c).
#: A guess used only when the kernel BTF does not show the destructors (see
#: :func:`kptr_dtor_types`); the test kfuncs of net/bpf/test_run.c are not in it.
KPTR_DTOR_TYPES: frozenset[str] = frozenset(
    {"task_struct", "cgroup", "bpf_cpumask", "bpf_crypto_ctx"}
)

_DTOR_CACHE: dict[int, tuple[Spec, dict[str, str]]] = {}


def kptr_dtors(kernel: Spec) -> dict[str, str]:
    """Kernel struct name -> its release kfunc, for every destructor the kernel BTF shows.

    Each ``register_btf_id_dtor_kfuncs()`` entry pairs a type with a destructor; since Linux
    6.9 the destructors are BTF functions named ``<release kfunc>_dtor`` (``__bpf_kfunc void
    bpf_task_release_dtor(void *p)``), so the kernel BTF lists them: the type is the struct
    the release kfunc (a ``bpf_kfunc``-tagged FUNC) takes as its first argument. Test kfuncs
    built into the kernel are found too (``prog_test_ref_kfunc``, ``prog_test_member``).
    """
    hit = _DTOR_CACHE.get(id(kernel))
    if hit is not None and hit[0] is kernel:
        return hit[1]
    from bpfkit.btf.types import Func, FuncProto

    found: dict[str, str] = {}
    for release in kernel.kfuncs():
        if not isinstance(release, Func) or not kernel.find(f"{release.name}_dtor", BTFKind.FUNC):
            continue
        proto = kernel[release.type]
        if not isinstance(proto, FuncProto) or not proto.params:
            continue
        ptr = kernel.resolve(proto.params[0].type)
        if isinstance(ptr, Ptr):
            target = kernel.resolve(ptr.type)
            if _is_struct(target) and target.name:
                found.setdefault(str(target.name), str(release.name))
    _DTOR_CACHE[id(kernel)] = (kernel, found)
    return found


def kptr_dtor_types(kernel: Spec | None) -> tuple[frozenset[str], bool]:
    """The kernel struct names a referenced ``__kptr`` may point to, and whether that is
    known: ``(names, True)`` from the kernel BTF's destructors (:func:`kptr_dtors`), or
    ``(KPTR_DTOR_TYPES, False)`` -- a guess -- when there is no kernel BTF or it shows no
    destructor (kernels before 6.9 keep them out of BTF).

    Examples
    --------
    >>> kptr_dtor_types(None) == (KPTR_DTOR_TYPES, False)
    True
    """
    if kernel is None:
        return KPTR_DTOR_TYPES, False
    names = frozenset(kptr_dtors(kernel))
    return (names, True) if names else (KPTR_DTOR_TYPES, False)


# Map types that accept each field kind (``map_check_btf()`` in kernel/bpf/syscall.c).
_LOCK_MAPS = frozenset(
    {
        "hash",
        "array",
        "cgroup_storage",
        "sk_storage",
        "inode_storage",
        "task_storage",
        "cgrp_storage",
    }
)
_TIMER_MAPS = frozenset({"hash", "lru_hash", "array"})
_KPTR_MAPS = frozenset(
    {
        "hash",
        "percpu_hash",
        "lru_hash",
        "lru_percpu_hash",
        "array",
        "percpu_array",
        "sk_storage",
        "inode_storage",
        "task_storage",
        "cgrp_storage",
    }
)
_MAP_TYPES_FOR_KIND: dict[str, frozenset[str]] = {
    "spin_lock": _LOCK_MAPS,
    "res_spin_lock": _LOCK_MAPS,
    "timer": _TIMER_MAPS,
    "wq": _TIMER_MAPS,
    "task_work": _TIMER_MAPS,
    "kptr": _KPTR_MAPS,
    "kptr_untrusted": _KPTR_MAPS,
    "percpu_kptr": _KPTR_MAPS,
    "refcount": _KPTR_MAPS,
    "uptr": frozenset({"task_storage"}),
    "list_head": _TIMER_MAPS,
    "rb_root": _TIMER_MAPS,
}


class SpecialField(NamedTuple):
    """One special field as the kernel records it (a ``struct btf_field``).

    ``container`` names the map, section or allocated type; ``offset`` is in bytes from the
    start of the container's value; ``type_name`` is the C type of the field; for kptrs,
    ``kptr_type`` is the pointee struct and ``resolved_in`` says where the kernel finds it
    (``"kernel"``, ``"program"``, ``"both(kernel wins)"`` or ``"missing"``); for list heads
    and rb roots, ``contains_type`` / ``contains_field`` / ``contains_offset`` name the
    element type and its node member. ``source`` is the member path inside the container.
    """

    container: str
    kind: str
    offset: int
    size: int
    type_name: str
    kptr_type: str | None
    contains_type: str | None
    contains_field: str | None
    contains_offset: int | None
    source: str
    container_kind: str = ""
    type_id: int = 0
    kptr_type_id: int | None = None
    contains_type_id: int | None = None
    resolved_in: str | None = None


@dataclass(frozen=True, slots=True)
class FieldRecord:
    """The special fields of one container (a ``struct btf_record``), or why the kernel fails.

    ``errno`` is the error the kernel returns for this container (``"EINVAL"``, ``"E2BIG"``,
    ``"EEXIST"``, ``"ENOENT"``, ``"ELOOP"``, ``"EFAULT"``, ``"EOPNOTSUPP"``, ``"EACCES"``) or
    ``None`` when the kernel accepts it; ``reason`` explains it and ``code`` names the rule
    (``collection_without_lock``, ``contains_type_missing``, ``contains_field_missing``,
    ``contains_wrong_node``, ``ownership_cycle``, ``nesting_too_deep``, ``too_many_fields``,
    ``nodes_without_refcount``, ``kptr_kernel_type_without_dtor``, ``map_type``, ...); ``stage`` says where the
    kernel checks it: ``"btf_load"`` (program-allocated types, checked when the BTF is
    loaded) or ``"map_create"`` (map values and global sections).
    """

    container: str
    container_kind: str
    type_id: int
    size: int
    fields: tuple[SpecialField, ...]
    errno: str | None = None
    reason: str | None = None
    stage: str = "map_create"
    map_type: str | None = None
    code: str | None = None

    @property
    def ok(self) -> bool:
        """True when ``btf_parse_fields()`` succeeds (and the map type fits the fields)."""
        return self.errno is None

    @property
    def rejected(self) -> bool:
        """True when the kernel refuses the load: any error in a program-allocated type fails
        BPF_BTF_LOAD; for a map value only the map-type checks fail BPF_MAP_CREATE (libbpf
        then warns "Error in bpf_create_map_xattr(NAME) ... Retrying without BTF." and creates
        the map without BTF, so its special fields are lost all the same)."""
        if self.errno is None:
            return False
        return self.stage == "btf_load" or self.errno in ("EOPNOTSUPP", "EACCES")

    @property
    def dropped(self) -> bool:
        """True when the kernel creates the map but silently drops all its special fields:
        ``map_check_btf()`` keeps an error record from ``btf_parse_fields()`` as "no fields",
        so the failure only shows later, when a program uses the lock or kptr (e.g. "map 'm'
        has no valid bpf_spin_lock")."""
        return self.errno is not None and not self.rejected

    def kinds(self) -> set[str]:
        """The field kinds present."""
        return {f.kind for f in self.fields}


class _Reject(Exception):
    def __init__(self, errno: str, reason: str, code: str = "other") -> None:
        super().__init__(f"{errno}: {reason}")
        self.errno = errno
        self.reason = reason
        self.code = code


@dataclass(slots=True)
class _Info:
    kind: str
    off: int
    path: str
    type_id: int  # the field's struct type id, or the kptr pointer type id
    type_name: str
    target_id: int | None = None  # kptr pointee / graph value type id
    node_name: str | None = None


def _name(spec: Spec, type_id: int) -> str:
    return str(spec[type_id].name)


def _is_struct(t: object) -> bool:
    return isinstance(t, (Struct, Union))


def _field_kind(t: Any, kinds: frozenset[str], seen: set[str], where: str) -> str | None:
    """``btf_get_field_type()``: the kind a member type names, or None."""
    kind = STRUCT_KIND.get(t.name) if _is_struct(t) else None
    if kind is not None and kind in kinds:
        if kind in _ONCE_KINDS:
            if kind in seen:
                raise _Reject(
                    "E2BIG", f"more than one bpf_{kind} in {where}", code="duplicate_field"
                )
            seen.add(kind)
        return kind
    if kinds & _KPTR_KINDS and not _is_struct(t):
        return "kptr"  # a candidate: btf_find_kptr decides
    return None


def _find_kptr(spec: Spec, type_id: int, kinds: frozenset[str]) -> tuple[str, int] | None:
    """``btf_find_kptr()``: (kind, pointee struct id), None to ignore, or raise."""
    t: Any = spec[type_id]
    if isinstance(t, Volatile):
        t = spec[t.type]
    if not isinstance(t, Ptr):
        return None
    tag: Any = spec[t.type]
    if not isinstance(tag, TypeTag) or tag.attr:
        return None
    if isinstance(spec[tag.type], TypeTag):
        raise _Reject(
            "EINVAL", f"pointer type [{t.id}] carries more than one type tag", code="bad_kptr"
        )
    kind = KPTR_TAGS.get(tag.name)
    if kind is None:
        raise _Reject(
            "EINVAL", f"pointer type [{t.id}] has unknown type tag {tag.name!r}", code="bad_kptr"
        )
    if kind not in kinds:
        return None
    target = spec.resolve(tag.type, typedefs=True)
    if not _is_struct(target):
        what = (
            f"only a forward declaration of struct {target.name} (define or use the struct "
            "elsewhere in the program so that clang emits it)"
            if target.kind == BTFKind.FWD
            else f"{spec.type_name(target.id)}, not a struct"
        )
        raise _Reject("EINVAL", f"{kind} [{t.id}] points to {what}", code="bad_kptr")
    return kind, int(target.id)


def _find_graph_root(
    spec: Spec, parent_id: int, comp_idx: int, kind: str, where: str
) -> tuple[int, str]:
    """``btf_find_graph_root()``: the ``contains:`` value type id and node name."""
    tags = [
        d
        for d in spec.decl_tags(parent_id, comp_idx)
        if d.component_idx == comp_idx and d.name.startswith("contains:")
    ]
    if not tags:
        raise _Reject(
            "ENOENT",
            f"{kind} {where} has no contains:TYPE:FIELD declaration tag",
            code="bad_contains_tag",
        )
    if len(tags) > 1:
        raise _Reject(
            "EEXIST",
            f"{kind} {where} has {len(tags)} contains: declaration tags",
            code="bad_contains_tag",
        )
    value = tags[0].name[len("contains:") :]
    if ":" not in value:
        raise _Reject(
            "EINVAL",
            f"{kind} {where}: tag {tags[0].name!r} lacks ':FIELD'",
            code="bad_contains_tag",
        )
    type_name, node_name = value.split(":", 1)
    found = [t for t in spec.find(type_name, BTFKind.STRUCT) if t.id >= spec.first_id]
    if not found:
        raise _Reject(
            "ENOENT",
            f"{kind} {where}: contains type struct {type_name} not in BTF",
            code="contains_type_missing",
        )
    if not node_name:
        raise _Reject(
            "EINVAL",
            f"{kind} {where}: tag {tags[0].name!r} has an empty field name",
            code="bad_contains_tag",
        )
    return int(found[0].id), node_name


class _Finder:
    def __init__(self, spec: Spec, kinds: frozenset[str]) -> None:
        self.spec = spec
        self.kinds = kinds
        self.used = 0  # slots of the kernel's info_arr[BTF_FIELDS_MAX] taken so far

    def _too_many(self, path: str, want: int) -> _Reject:
        return _Reject(
            "E2BIG",
            f"{path}: {self.used + want} special fields, at most {BTF_FIELDS_MAX}",
            code="too_many_fields",
        )

    def struct(self, t: Struct | Union, level: int, prefix: str) -> list[_Info]:
        seen: set[str] = set()
        out: list[_Info] = []
        for idx, m in enumerate(t.members):
            path = f"{prefix}{m.name or '(anon)'}"
            if m.bit_offset % 8:  # checked for every member, bitfields included
                raise _Reject(
                    "EINVAL",
                    f"{path}: member at bit offset {m.bit_offset} is not byte aligned",
                    code="misaligned_member",
                )
            out += self.one(t.id, self.spec[m.type], idx, m.bit_offset, 0, seen, level, path)
        return out

    def datasec(self, t: Datasec) -> list[_Info]:
        seen: set[str] = set()
        out: list[_Info] = []
        for vsi in t.vars:
            var: Any = self.spec[vsi.type]
            if not isinstance(var, Var):
                continue
            out += self.one(
                var.id, self.spec[var.type], -1, vsi.offset * 8, vsi.size, seen, 0, var.name
            )
        return out

    def one(
        self,
        parent_id: int,
        var_type: Any,
        var_idx: int,
        bit_off: int,
        expected_size: int,
        seen: set[str],
        level: int,
        path: str,
    ) -> list[_Info]:
        spec = self.spec
        nelems = 1
        depth = 0
        t = var_type
        while depth < MAX_RESOLVE_DEPTH and isinstance(t, Array):
            nelems *= t.nelems
            t = spec[t.type]
            depth += 1
        if depth == MAX_RESOLVE_DEPTH:
            raise _Reject(
                "E2BIG",
                f"{path}: arrays nested deeper than {MAX_RESOLVE_DEPTH}",
                code="nesting_too_deep",
            )
        if nelems == 0:
            return []
        where = path.rsplit(".", 1)[0] if "." in path else "the container"
        kind = _field_kind(t, self.kinds, seen, where)
        off = bit_off // 8
        if kind is None and _is_struct(t):
            if expected_size and expected_size != t.size * nelems:
                return []
            return self.nested(t, off, nelems, level, path)
        if kind is None:
            return []
        if kind == "kptr":
            # size and alignment (8 for every kptr kind) are checked before the type tags
            sz = KIND_SIZE["kptr"]
            if (expected_size and expected_size != sz * nelems) or off % KIND_ALIGN["kptr"]:
                return []
            found = _find_kptr(spec, t.id, self.kinds)
            if found is None:
                return []
            kind, target = found
            info = _Info(kind, off, path, t.id, spec.type_name(t.id), target_id=target)
        else:
            sz = KIND_SIZE[kind]
            if (expected_size and expected_size != sz * nelems) or off % KIND_ALIGN[kind]:
                return []
            if t.size != sz:
                return []  # btf_find_struct: wrong size, not the kernel's struct
            info = _Info(kind, off, path, t.id, f"struct {t.name}")
            if kind in _ROOTS:
                info.target_id, info.node_name = _find_graph_root(
                    spec, parent_id, var_idx, kind, path
                )
        slots = BTF_FIELDS_MAX - self.used
        if slots <= 0:
            raise self._too_many(path, 1)
        if nelems > 1:
            if kind not in _REPEATABLE:
                raise _Reject(
                    "EINVAL", f"{path}: an array of {kind} is not allowed", code="array_not_allowed"
                )
            if nelems > slots:
                raise self._too_many(path, nelems)
            self.used += nelems
            return [
                _Info(
                    kind,
                    off + i * sz,
                    f"{path}[{i}]",
                    info.type_id,
                    info.type_name,
                    info.target_id,
                    info.node_name,
                )
                for i in range(nelems)
            ]
        self.used += 1
        return [info]

    def nested(self, t: Any, off: int, nelems: int, level: int, path: str) -> list[_Info]:
        level += 1
        if level >= MAX_RESOLVE_DEPTH:
            raise _Reject(
                "E2BIG",
                f"{path}: structs nested deeper than {MAX_RESOLVE_DEPTH}",
                code="nesting_too_deep",
            )
        slots = BTF_FIELDS_MAX - self.used
        inner = self.struct(t, level, f"{path}.")
        if not inner:
            return []
        for info in inner:
            info.off += off
        if nelems > 1:
            bad = [i.kind for i in inner if i.kind not in _REPEATABLE]
            if bad:
                raise _Reject(
                    "EINVAL",
                    f"{path}: an array of structs holding {bad[0]}",
                    code="array_not_allowed",
                )
            if len(inner) * nelems > slots:
                raise self._too_many(path, len(inner) * (nelems - 1))
            self.used += len(inner) * (nelems - 1)
            out = list(inner)
            for i in range(1, nelems):
                out += [
                    _Info(
                        x.kind,
                        x.off + i * t.size,
                        x.path.replace(path, f"{path}[{i}]", 1),
                        x.type_id,
                        x.type_name,
                        x.target_id,
                        x.node_name,
                    )
                    for x in inner
                ]
            return out
        return inner


def resolve_kptr(name: str, program: Spec, kernel: Spec | None) -> str:
    """Where the kernel finds a kptr's pointee named *name*: the two-stage lookup.

    The kernel (``btf_parse_kptr()``) looks the name up in vmlinux (and module) BTF first and
    only then falls back to the program's BTF. Returns ``"kernel"`` (found in the kernel, and
    the program's definition is a copy or a CO-RE subset of it: its member names are all
    members of the kernel's struct, as with vmlinux.h), ``"both(kernel wins)"`` (the program
    defines its own struct, with members the kernel's lacks, under a name the kernel also
    uses: the kernel's type is the one the kptr gets), ``"program"`` or ``"missing"``.
    """
    in_prog = [t for t in program.find(name, BTFKind.STRUCT) if t.id >= program.first_id]
    in_kernel: list[Any] = kernel.find(name, BTFKind.STRUCT) if kernel is not None else []
    if in_kernel:
        kernel_members = {m.name for k in in_kernel for m in k.members}
        if in_prog and all(
            not {m.name for m in getattr(p, "members", ())} <= kernel_members for p in in_prog
        ):
            return "both(kernel wins)"
        return "kernel"
    return "program" if in_prog else "missing"


def parse_fields(
    spec: Spec,
    type_id: int,
    *,
    kinds: Iterable[str] = MAP_FIELD_KINDS,
    container: str | None = None,
    container_kind: str = "map_value",
    size: int | None = None,
    kernel: Spec | None = None,
    stage: str = "map_create",
) -> FieldRecord:
    """Compute the special fields of type *type_id* the way ``btf_parse_fields()`` does.

    Parameters
    ----------
    spec : Spec
        The program's BTF.
    type_id : int
        A STRUCT, UNION or DATASEC.
    kinds : iterable of str
        The field kinds to look for (``MAP_FIELD_KINDS`` for map values and global sections,
        ``ALLOC_FIELD_KINDS`` for program-allocated types).
    container : str, optional
        Name to put in the records (default: the type's name).
    size : int, optional
        Value size (default: the type's size).
    kernel : Spec, optional
        Kernel BTF for the two-stage kptr lookup (``None``: no kernel lookup).

    Returns
    -------
    FieldRecord
        Fields in offset order, or the error the kernel returns.
    """
    kinds_set = frozenset(kinds)
    t: Any = spec[type_id]
    name = container if container is not None else (t.name or f"[{type_id}]")
    value_size = int(size if size is not None else getattr(t, "size", 0))
    rec = FieldRecord(name, container_kind, type_id, value_size, (), stage=stage)
    finder = _Finder(spec, kinds_set)
    try:
        if isinstance(t, Datasec):
            infos = finder.datasec(t)
        elif _is_struct(t):
            infos = finder.struct(t, 0, "")
        else:
            return rec
        if len(infos) > BTF_FIELDS_MAX:
            raise _Reject(
                "E2BIG",
                f"{len(infos)} special fields, at most {BTF_FIELDS_MAX}",
                code="too_many_fields",
            )
        fields = _check_record(spec, name, container_kind, type_id, value_size, infos, kernel)
    except _Reject as exc:
        return FieldRecord(
            name,
            container_kind,
            type_id,
            value_size,
            (),
            exc.errno,
            exc.reason,
            stage,
            code=exc.code,
        )
    except (KeyError, IndexError) as exc:  # dangling ids in a spec that was not validated
        raise BpfkitError(f"type [{type_id}] {name}: dangling type id: {exc}") from exc
    return FieldRecord(name, container_kind, type_id, value_size, fields, stage=stage)


def _check_record(
    spec: Spec,
    name: str,
    container_kind: str,
    type_id: int,
    value_size: int,
    infos: Sequence[_Info],
    kernel: Spec | None,
) -> tuple[SpecialField, ...]:
    next_off = 0
    out: list[SpecialField] = []
    for info in infos:
        sz = KIND_SIZE[info.kind]
        if info.off + sz > value_size:
            raise _Reject(
                "EFAULT",
                f"{info.path} at {info.off}+{sz} beyond value size {value_size}",
                code="out_of_bounds",
            )
        if info.off < next_off:
            raise _Reject(
                "EEXIST",
                f"{info.path} at offset {info.off} overlaps the field before",
                code="overlap",
            )
        next_off = info.off + sz
        kptr_type = contains_type = contains_field = resolved = None
        contains_off: int | None = None
        if info.kind in _KPTR_KINDS and info.target_id is not None:
            kptr_type = _name(spec, info.target_id)
            resolved = resolve_kptr(kptr_type, spec, kernel) if kernel is not None else "program"
            dtors, known = kptr_dtor_types(kernel)
            if (
                info.kind == "kptr"
                and resolved in ("kernel", "both(kernel wins)")
                and kptr_type not in dtors
            ):
                how = "the kernel BTF has" if known else "bpfkit's list (a guess) has"
                raise _Reject(
                    "ENOENT",
                    f"{info.path}: kernel type struct {kptr_type} has no destructor kfunc "
                    f"({how} none), so it cannot be a referenced kptr",
                    code="kptr_kernel_type_without_dtor",
                )
        if info.kind in _ROOTS and info.target_id is not None and info.node_name is not None:
            contains_type = _name(spec, info.target_id)
            contains_field = info.node_name
            contains_off = _graph_node_offset(spec, info, info.target_id, info.node_name)
        out.append(
            SpecialField(
                name,
                info.kind,
                info.off,
                sz,
                info.type_name,
                kptr_type,
                contains_type,
                contains_field,
                contains_off,
                info.path,
                container_kind,
                type_id,
                info.target_id if info.kind in _KPTR_KINDS else None,
                info.target_id if info.kind in _ROOTS else None,
                resolved,
            )
        )
    kinds = {f.kind for f in out}
    if "spin_lock" in kinds and "res_spin_lock" in kinds:
        raise _Reject("EINVAL", "both bpf_spin_lock and bpf_res_spin_lock", code="two_lock_kinds")
    roots = kinds & _ROOTS
    if roots and not kinds & {"spin_lock", "res_spin_lock"}:
        raise _Reject(
            "EINVAL",
            f"{'/'.join(sorted('bpf_' + r for r in roots))} without a bpf_spin_lock "
            "in the same container",
            code="collection_without_lock",
        )
    if "refcount" not in kinds and {"list_node", "rb_node"} <= kinds:
        raise _Reject(
            "EINVAL",
            "both bpf_list_node and bpf_rb_node but no bpf_refcount",
            code="nodes_without_refcount",
        )
    return tuple(sorted(out, key=lambda f: f.offset))


def _graph_node_offset(spec: Spec, info: _Info, value_id: int, node_name: str) -> int:
    """``btf_parse_graph_root()``: offset of the node member, validating its type."""
    value: Any = spec[value_id]
    want = _NODE_OF_ROOT[info.kind]
    found: int | None = None
    for m in value.members:
        if m.name != node_name:
            continue
        if found is not None:
            raise _Reject(
                "EINVAL",
                f"struct {value.name} has two members named {node_name}",
                code="contains_field_ambiguous",
            )
        n: Any = spec[m.type]
        if not _is_struct(n) or n.name != want:
            raise _Reject(
                "EINVAL",
                f"{info.path}: contains:{value.name}:{node_name} names a member of type "
                f"{spec.type_name(m.type)}, not struct {want}",
                code="contains_wrong_node",
            )
        if m.bit_offset % 64:
            raise _Reject(
                "EINVAL",
                f"{value.name}.{node_name} is not 8-byte aligned",
                code="contains_misaligned",
            )
        found = m.bit_offset // 8
    if found is None:
        raise _Reject(
            "ENOENT",
            f"{info.path}: struct {value.name} has no member {node_name}",
            code="contains_field_missing",
        )
    return found


def struct_metas(spec: Spec, *, kernel: Spec | None = None) -> list[FieldRecord]:
    """Program-allocated types: the records the kernel builds when it loads the BTF.

    ``btf_parse_struct_metas()``: every struct or union of the program BTF with a direct member
    whose type is one of the special structs (the first STRUCT of that name) or a kptr pointer.
    An error in any of them (``errno`` set, ``stage="btf_load"``) makes BPF_BTF_LOAD fail,
    including the ownership-cycle check of ``btf_check_and_fixup_fields()`` (``ELOOP``).
    """
    aof: set[int] = set()
    for sname in _ALLOC_OBJ_FIELDS:
        found = [t for t in spec.find(sname, BTFKind.STRUCT) if t.id >= spec.first_id]
        if found:
            aof.add(int(found[0].id))
    for t in spec:
        if isinstance(t, (Ptr, Volatile)):
            try:
                if _find_kptr(spec, t.id, ALLOC_FIELD_KINDS) is not None:
                    aof.add(int(t.id))
            except _Reject:
                pass
    if not aof:
        return []
    records: list[FieldRecord] = []
    for t in spec:
        if not _is_struct(t) or not any(m.type in aof for m in t.members):  # type: ignore[union-attr]
            continue
        rec = parse_fields(
            spec,
            t.id,
            kinds=ALLOC_FIELD_KINDS,
            container_kind="alloc",
            kernel=kernel,
            stage="btf_load",
            container=t.name or f"[{t.id}]",
        )
        if rec.ok and not rec.fields:
            rec = _replace(
                rec, "EFAULT", "struct meta has no usable special field", "not_allocatable"
            )
        records.append(rec)
    by_id = {r.type_id: r for r in records}
    out = []
    for rec in records:
        if rec.ok:
            err = _check_graph_cycles(rec, by_id)
            if err is not None:  # the fields are right; their combination is not
                rec = dataclasses.replace(rec, errno=err[0], reason=err[1], code=err[2])
        out.append(rec)
    return out


_MODIFIERS = (BTFKind.TYPEDEF, BTFKind.VOLATILE, BTFKind.CONST, BTFKind.RESTRICT, BTFKind.TYPE_TAG)
_NEEDS_RESOLVE = frozenset(
    {
        *_MODIFIERS,
        BTFKind.PTR,
        BTFKind.STRUCT,
        BTFKind.UNION,
        BTFKind.ARRAY,
        BTFKind.VAR,
        BTFKind.DATASEC,
        BTFKind.FUNC,
        BTFKind.DECL_TAG,
    }
)


def _resolve_children(t: Any) -> list[int]:
    kind = t.kind
    if kind in (BTFKind.STRUCT, BTFKind.UNION):
        return [m.type for m in t.members]
    if kind == BTFKind.ARRAY:
        return [t.index_type, t.type]
    if kind == BTFKind.DATASEC:
        return [v.type for v in t.vars]
    if kind in (*_MODIFIERS, BTFKind.PTR, BTFKind.VAR, BTFKind.DECL_TAG):
        return [t.type]
    return []


def resolve_depth_problems(spec: Spec) -> list[FieldRecord]:
    """Types the kernel's BTF verifier refuses to resolve: ``Exceeded max resolving depth:32``.

    ``btf_check_all_types()`` resolves every type in id order with an explicit stack of at most
    ``MAX_RESOLVE_DEPTH`` (32) entries; from a struct or array, nested structs, arrays and
    modifiers are pushed (pointers end the chain), from a pointer only modifiers and pointers.
    Whether a deep chain overflows depends on the type order: a struct resolved earlier is not
    pushed again. An overflow makes BPF_BTF_LOAD fail with ``E2BIG``.
    """
    resolved: set[int] = set()
    out: list[FieldRecord] = []
    for start in spec:
        sid = int(start.id)
        if start.kind not in _NEEDS_RESOLVE or sid in resolved:
            continue
        mode = "tbd"

        def sink(t: Any, mode: str) -> bool:
            if mode == "tbd":
                return t.kind not in _NEEDS_RESOLVE
            if mode == "ptr":
                return t.kind not in _MODIFIERS and t.kind != BTFKind.PTR
            return t.kind not in _MODIFIERS and t.kind not in (
                BTFKind.ARRAY,
                BTFKind.STRUCT,
                BTFKind.UNION,
            )

        def mode_of(t: Any, mode: str) -> str:
            if mode != "tbd":
                return mode
            if t.kind == BTFKind.PTR:
                return "ptr"
            if t.kind in (BTFKind.STRUCT, BTFKind.UNION, BTFKind.ARRAY):
                return "struct"
            return mode

        mode = mode_of(start, mode)
        stack: list[tuple[int, list[int]]] = [(sid, _resolve_children(start))]
        on_stack = {sid}
        failed = False
        while stack and not failed:
            tid, todo = stack[-1]
            pushed = False
            while todo:
                c = todo.pop(0)
                if c == 0 or c in resolved:
                    continue
                child: Any = spec[c]
                if child.kind == BTFKind.FUNC or sink(child, mode):
                    continue
                if c in on_stack:
                    break  # "Loop detected": not this check's business
                if len(stack) == MAX_RESOLVE_DEPTH:
                    name = start.name or f"[{sid}]"
                    out.append(
                        FieldRecord(
                            name,
                            "btf",
                            sid,
                            0,
                            (),
                            "E2BIG",
                            f"resolving type [{sid}] {name} needs more than {MAX_RESOLVE_DEPTH} "
                            "nested types on the BTF verifier's stack",
                            "btf_load",
                            code="nesting_too_deep",
                        )
                    )
                    failed = True
                    break
                mode = mode_of(child, mode)
                stack.append((c, _resolve_children(child)))
                on_stack.add(c)
                pushed = True
                break
            if failed:
                break
            if not pushed:
                stack.pop()
                on_stack.discard(tid)
                resolved.add(tid)
        if failed:
            break  # the kernel stops at the first error
    return out


def _replace(rec: FieldRecord, errno: str, reason: str, code: str) -> FieldRecord:
    return dataclasses.replace(rec, fields=(), errno=errno, reason=reason, code=code)


def _check_graph_cycles(
    rec: FieldRecord, metas: dict[int, FieldRecord]
) -> tuple[str, str, str] | None:
    """``btf_check_and_fixup_fields()``: a root+node type may not own a root type."""
    kinds = rec.kinds()
    if not kinds & _ROOTS:
        return None
    for f in rec.fields:
        if f.kind not in _ROOTS or f.contains_type_id is None:
            continue
        meta = metas.get(f.contains_type_id)
        if meta is None:
            return (
                "EFAULT",
                f"{f.source}: contains type struct {f.contains_type} is not an allocatable type",
                "not_allocatable",
            )
        if kinds & _NODES and meta.kinds() & _ROOTS:
            return (
                "ELOOP",
                f"struct {rec.container} is both a collection root and a node, and its "
                f"{f.source} owns struct {f.contains_type}, which is itself a root: ownership "
                "may nest at most root -> root+node -> node",
                "ownership_cycle",
            )
    return None


def _map_type(s: object) -> str:
    text = str(getattr(s, "name", s)).lower()
    return text.removeprefix("bpf_map_type_")


def check_map_type(rec: FieldRecord, map_type: str, flags: int = 0) -> FieldRecord:
    """The map-type checks of ``map_check_btf()``: which map types may hold which fields
    (``EOPNOTSUPP``) and no special fields in maps read-only or write-only to programs
    (``EACCES``). Returns *rec* with ``map_type`` set (and the error, if any)."""
    rec = dataclasses.replace(rec, map_type=map_type)
    if not rec.ok or not rec.fields:
        return rec
    if flags & (0x80 | 0x100):  # BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG
        return dataclasses.replace(
            rec,
            errno="EACCES",
            reason="special fields in a map read-only or write-only to programs",
            code="readonly_map",
        )
    for kind in sorted(rec.kinds()):
        allowed = _MAP_TYPES_FOR_KIND.get(kind)
        if allowed is not None and map_type not in allowed:
            return dataclasses.replace(
                rec,
                errno="EOPNOTSUPP",
                reason=f"map type {map_type} cannot hold a {kind}",
                code="map_type",
            )
    return rec


def map_value_records(
    spec: Spec, maps: Iterable[Any] | None = None, *, kernel: Spec | None = None
) -> list[FieldRecord]:
    """Records of every BTF-defined map's value (``map_check_btf()``).

    *maps* are ``MapDef`` records (default: ``bpfkit.obj.map_defs(spec)``).
    """
    if maps is None:
        from bpfkit.obj import map_defs  # type: ignore[attr-defined]

        maps = map_defs(spec)
    out = []
    for m in maps:
        if not m.value_type:
            continue
        mt = _map_type(m.map_type)
        rec = parse_fields(
            spec, m.value_type, container=m.name, container_kind="map_value", kernel=kernel
        )
        out.append(check_map_type(rec, mt, int(m.flags or 0)))
    return out


def _global_datasecs(spec: Spec) -> Iterator[Datasec]:
    for t in spec:
        if isinstance(t, Datasec) and t.name.startswith((".data", ".bss", ".rodata")):
            yield t


def _fixup_datasec(spec: Spec, t: Datasec, offsets: dict[str, tuple[int, int]]) -> Datasec:
    """The DATASEC as libbpf loads it (``btf_fixup_datasec``): variable offsets from the ELF
    symbols (clang leaves those of hidden/static variables at 0) and the section's size."""
    vars_ = []
    for vsi in t.vars:
        var: Any = spec[vsi.type]
        off, size = offsets.get(getattr(var, "name", ""), (vsi.offset, vsi.size))
        vars_.append(VarSecinfo(vsi.type, off, size or vsi.size))
    vars_.sort(key=lambda v: v.offset)
    size = max(t.size, max((v.offset + v.size for v in vars_), default=0))
    return Datasec(t.id, t.name, size, tuple(vars_))


def global_section_records(
    spec: Spec,
    sections: Iterable[tuple[str, Iterable[Any]]] | None = None,
    *,
    kernel: Spec | None = None,
) -> list[FieldRecord]:
    """Records of the global sections (``.data*``, ``.bss*``, ``.rodata*``).

    libbpf creates each as an ARRAY map whose value type is the DATASEC (``.rodata*`` read-only
    to programs). *sections* is ``Object.globals()`` (``[(name, [GlobalVar])]``) whose offsets
    come from the ELF symbols; without it the DATASEC's own offsets are used, which clang
    leaves at 0 for hidden variables such as the ``private(X)`` list heads and locks.
    """
    fixed: dict[str, dict[str, tuple[int, int]]] = {}
    for name, gvars in sections or ():
        fixed[name] = {g.name: (int(g.offset), int(g.size)) for g in gvars}
    out = []
    for t in _global_datasecs(spec):
        sec = _fixup_datasec(spec, t, fixed.get(t.name, {}))
        rec = _parse_datasec(spec, sec, kernel)
        flags = 0x80 if t.name.startswith(".rodata") else 0
        out.append(check_map_type(rec, "array", flags))
    return out


def _parse_datasec(spec: Spec, sec: Datasec, kernel: Spec | None) -> FieldRecord:
    finder = _Finder(spec, MAP_FIELD_KINDS)
    try:
        infos = finder.datasec(sec)
        if len(infos) > BTF_FIELDS_MAX:
            raise _Reject(
                "E2BIG",
                f"{len(infos)} special fields, at most {BTF_FIELDS_MAX}",
                code="too_many_fields",
            )
        fields = _check_record(spec, sec.name, "global", sec.id, sec.size, infos, kernel)
    except _Reject as exc:
        return FieldRecord(
            sec.name, "global", sec.id, sec.size, (), exc.errno, exc.reason, code=exc.code
        )
    return FieldRecord(sec.name, "global", sec.id, sec.size, fields)


def all_records(
    spec: Spec,
    maps: Iterable[Any] | None = None,
    *,
    sections: Iterable[tuple[str, Iterable[Any]]] | None = None,
    kernel: Spec | None = None,
    alloc_types: Iterable[str] = (),
) -> list[FieldRecord]:
    """Map values, global sections and program-allocated types of one program BTF.

    *alloc_types* adds types passed to ``bpf_obj_new`` that are not struct metas (plain
    structs: an empty record).
    """
    recs = map_value_records(spec, maps, kernel=kernel)
    recs += global_section_records(spec, sections, kernel=kernel)
    recs += resolve_depth_problems(spec)
    metas = struct_metas(spec, kernel=kernel)
    recs += metas
    have = {r.container for r in metas}
    for name in alloc_types:
        if name in have:
            continue
        found = [t for t in spec.find(name, BTFKind.STRUCT) if t.id >= spec.first_id]
        if found:
            t = found[0]
            recs.append(
                FieldRecord(name, "alloc", int(t.id), int(spec.sizeof(t.id)), (), stage="btf_load")
            )
            have.add(name)
    return recs


def _as_records(source: Any, kernel: Spec | None) -> list[FieldRecord]:
    """Records from records, a Spec (its BTF-defined maps) or an Object (maps and globals)."""
    if hasattr(source, "btf") and hasattr(source, "maps"):  # bpfkit.obj.Object
        if source.btf is None:
            return []
        return all_records(source.btf, source.maps, sections=source.globals(), kernel=kernel)
    if hasattr(source, "find") and hasattr(source, "first_id"):  # a Spec
        return all_records(source, kernel=kernel)
    return list(source)


def fields_frame(source: Any, *, kernel: Spec | None = None) -> pd.DataFrame:
    """One row per special field (columns of :class:`SpecialField`).

    *source* is a list of :class:`FieldRecord`, a BTF ``Spec`` or a loaded object
    (``bpfkit.obj.load_object``; its globals then get their real offsets). *kernel* (vmlinux
    BTF) fills ``resolved_in`` for kptrs when the records are computed here.

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import DATA_PROGRAMS
    >>> df = fields_frame(load_object(DATA_PROGRAMS / "rbtree.bpf.o"))
    >>> roots = df[df["kind"] == "rb_root"]
    >>> sorted({(r.contains_type, r.contains_field, int(r.contains_offset))
    ...         for r in roots.itertuples()})
    [('timer_ev', 'rb', 16)]
    """
    import pandas as pd

    rows = [f for r in _as_records(source, kernel) for f in r.fields]
    df = pd.DataFrame.from_records(rows, columns=list(SpecialField._fields))
    for col in ("contains_offset", "kptr_type_id", "contains_type_id"):
        df[col] = df[col].astype("Int64")  # ints, with <NA> where the field has none
    return df


def records_frame(source: Any, *, kernel: Spec | None = None) -> pd.DataFrame:
    """One row per container: name, kind, type id, size, map type, field count, errno, reason,
    stage, rule code. *source* as for :func:`fields_frame`."""
    import pandas as pd

    cols = [
        "container",
        "container_kind",
        "type_id",
        "size",
        "map_type",
        "n_fields",
        "kinds",
        "errno",
        "reason",
        "stage",
        "code",
    ]
    rows = [
        (
            r.container,
            r.container_kind,
            r.type_id,
            r.size,
            r.map_type,
            len(r.fields),
            ",".join(sorted(r.kinds())),
            r.errno,
            r.reason,
            r.stage,
            r.code,
        )
        for r in _as_records(source, kernel)
    ]
    return pd.DataFrame.from_records(rows, columns=cols)
