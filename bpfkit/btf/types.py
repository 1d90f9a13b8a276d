"""BTF type records: one frozen, slotted dataclass per BTF kind.

Types refer to other types by id (``type``), never by object, so a record is a plain
value and a :class:`~bpfkit.btf.spec.Spec` stays the one place that resolves ids.
Field names follow ``include/uapi/linux/btf.h``.

Examples
--------
>>> Int(id=1, name="int", size=4, encoding=IntEncoding.SIGNED, offset=0, bits=32).kind
<BTFKind.INT: 1>
>>> Ptr(id=2, name="", type=1).kind.name
'PTR'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "BTFKind",
    "IntEncoding",
    "Linkage",
    "Type",
    "Void",
    "Int",
    "Ptr",
    "Array",
    "Member",
    "Struct",
    "Union",
    "EnumValue",
    "Enum",
    "Fwd",
    "Typedef",
    "Volatile",
    "Const",
    "Restrict",
    "Func",
    "Param",
    "FuncProto",
    "Var",
    "VarSecinfo",
    "Datasec",
    "Float",
    "DeclTag",
    "TypeTag",
    "Enum64",
    "AnyType",
    "MODIFIER_KINDS",
    "QUALIFIER_KINDS",
]


class BTFKind(enum.IntEnum):
    """``BTF_KIND_*`` from ``include/uapi/linux/btf.h``."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class IntEncoding(enum.IntFlag):
    """``BTF_INT_*`` encoding bits of an INT."""

    NONE = 0
    SIGNED = 1 << 0
    CHAR = 1 << 1
    BOOL = 1 << 2


class Linkage(enum.IntEnum):
    """``BTF_FUNC_*`` / ``BTF_VAR_*`` linkage (the numeric values coincide for 0-2)."""

    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


@dataclass(frozen=True, slots=True)
class Type:
    """Common part of every type: its id (0 is void) and its name ("" when anonymous)."""

    id: int
    name: str
    kind: ClassVar[BTFKind] = BTFKind.UNKN


@dataclass(frozen=True, slots=True)
class Void(Type):
    """Type id 0."""

    kind: ClassVar[BTFKind] = BTFKind.UNKN


@dataclass(frozen=True, slots=True)
class Int(Type):
    size: int
    encoding: IntEncoding
    offset: int
    bits: int
    kind: ClassVar[BTFKind] = BTFKind.INT


@dataclass(frozen=True, slots=True)
class Ptr(Type):
    type: int
    kind: ClassVar[BTFKind] = BTFKind.PTR


@dataclass(frozen=True, slots=True)
class Array(Type):
    type: int
    index_type: int
    nelems: int
    kind: ClassVar[BTFKind] = BTFKind.ARRAY


@dataclass(frozen=True, slots=True)
class Member:
    """A struct/union member. ``bitfield_size`` is 0 unless the parent has kind_flag set
    and the member is a bitfield; ``bit_offset`` is always the member's offset in bits."""

    name: str
    type: int
    bit_offset: int
    bitfield_size: int = 0


@dataclass(frozen=True, slots=True)
class Struct(Type):
    size: int
    members: tuple[Member, ...]
    kind_flag: bool = False
    kind: ClassVar[BTFKind] = BTFKind.STRUCT


@dataclass(frozen=True, slots=True)
class Union(Type):
    size: int
    members: tuple[Member, ...]
    kind_flag: bool = False
    kind: ClassVar[BTFKind] = BTFKind.UNION


@dataclass(frozen=True, slots=True)
class EnumValue:
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class Enum(Type):
    """ENUM (32-bit values). ``signed`` is kind_flag: values are signed."""

    size: int
    values: tuple[EnumValue, ...]
    signed: bool = False
    kind: ClassVar[BTFKind] = BTFKind.ENUM


@dataclass(frozen=True, slots=True)
class Fwd(Type):
    """Forward declaration; ``union`` is kind_flag (``fwd_kind=union``)."""

    union: bool = False
    kind: ClassVar[BTFKind] = BTFKind.FWD


@dataclass(frozen=True, slots=True)
class Typedef(Type):
    type: int
    kind: ClassVar[BTFKind] = BTFKind.TYPEDEF


@dataclass(frozen=True, slots=True)
class Volatile(Type):
    type: int
    kind: ClassVar[BTFKind] = BTFKind.VOLATILE


@dataclass(frozen=True, slots=True)
class Const(Type):
    type: int
    kind: ClassVar[BTFKind] = BTFKind.CONST


@dataclass(frozen=True, slots=True)
class Restrict(Type):
    type: int
    kind: ClassVar[BTFKind] = BTFKind.RESTRICT


@dataclass(frozen=True, slots=True)
class Func(Type):
    """A function; ``type`` is its FUNC_PROTO; ``linkage`` is stored in vlen."""

    type: int
    linkage: Linkage
    kind: ClassVar[BTFKind] = BTFKind.FUNC


@dataclass(frozen=True, slots=True)
class Param:
    """A FUNC_PROTO parameter; a trailing ``Param("", 0)`` means varargs."""

    name: str
    type: int


@dataclass(frozen=True, slots=True)
class FuncProto(Type):
    type: int  # return type
    params: tuple[Param, ...]
    kind: ClassVar[BTFKind] = BTFKind.FUNC_PROTO


@dataclass(frozen=True, slots=True)
class Var(Type):
    type: int
    linkage: Linkage
    kind: ClassVar[BTFKind] = BTFKind.VAR


@dataclass(frozen=True, slots=True)
class VarSecinfo:
    type: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Datasec(Type):
    size: int
    vars: tuple[VarSecinfo, ...]
    kind: ClassVar[BTFKind] = BTFKind.DATASEC


@dataclass(frozen=True, slots=True)
class Float(Type):
    size: int
    kind: ClassVar[BTFKind] = BTFKind.FLOAT


@dataclass(frozen=True, slots=True)
class DeclTag(Type):
    """A declaration tag (``name`` is the tag text) on ``type``, or on its member/param
    ``component_idx`` (-1 for the type itself). ``attr`` is kind_flag: a plain C attribute."""

    type: int
    component_idx: int
    attr: bool = False
    kind: ClassVar[BTFKind] = BTFKind.DECL_TAG


@dataclass(frozen=True, slots=True)
class TypeTag(Type):
    """A type tag (``name`` is the tag text, e.g. ``kptr``, ``percpu_kptr``, ``rcu``).
    ``attr`` is kind_flag: a plain C attribute such as ``address_space(1)``."""

    type: int
    attr: bool = False
    kind: ClassVar[BTFKind] = BTFKind.TYPE_TAG


@dataclass(frozen=True, slots=True)
class Enum64(Type):
    size: int
    values: tuple[EnumValue, ...]
    signed: bool = False
    kind: ClassVar[BTFKind] = BTFKind.ENUM64


AnyType = (
    Void
    | Int
    | Ptr
    | Array
    | Struct
    | Union
    | Enum
    | Fwd
    | Typedef
    | Volatile
    | Const
    | Restrict
    | Func
    | FuncProto
    | Var
    | Datasec
    | Float
    | DeclTag
    | TypeTag
    | Enum64
)

#: Kinds that only qualify or name another type (skipped by ``Spec.resolve``).
MODIFIER_KINDS: frozenset[BTFKind] = frozenset(
    {BTFKind.TYPEDEF, BTFKind.VOLATILE, BTFKind.CONST, BTFKind.RESTRICT, BTFKind.TYPE_TAG}
)
#: Qualifiers proper (``resolve(..., typedefs=False)`` skips only these).
QUALIFIER_KINDS: frozenset[BTFKind] = frozenset(
    {BTFKind.VOLATILE, BTFKind.CONST, BTFKind.RESTRICT, BTFKind.TYPE_TAG}
)
