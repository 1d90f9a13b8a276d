"""Records back to BTF bytes: :func:`encode_btf`, the inverse of :func:`~bpfkit.btf.parse_btf`.

For building small, exact BTF in tests and experiments (a struct with a ``__kptr`` field, a
kfunc prototype...) without a compiler. Types get ids 1, 2, ... in the order given (a record's
own ``id`` must say the same); names go into a deduplicated string section that starts with
``\\0``; the header is the 24-byte one.

Examples
--------
>>> from bpfkit.btf import Int, IntEncoding, Ptr, TypeTag, parse_btf
>>> types = [
...     Int(1, "int", 4, IntEncoding.SIGNED, 0, 32),
...     TypeTag(2, "kptr", 1),
...     Ptr(3, "", 2),
... ]
>>> spec = parse_btf(encode_btf(types))
>>> list(spec) == types, spec.type_tags(spec[3].type)
(True, ('kptr',))
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from bpfkit.btf.types import (
    AnyType,
    Array,
    BTFKind,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    Volatile,
)
from bpfkit.errors import BTFError

__all__ = ["encode_btf"]


class _Strings:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self.offsets: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        off = self.offsets.get(s)
        if off is None:
            off = self.offsets[s] = len(self.data)
            raw = s.encode("utf-8", "surrogateescape")
            if b"\0" in raw:
                raise BTFError(f"name {s!r} contains a NUL byte")
            self.data += raw + b"\0"
        return off


def _info(kind: BTFKind, vlen: int = 0, kflag: bool = False) -> int:
    if not 0 <= vlen <= 0xFFFFFF:
        raise BTFError(f"vlen {vlen} of a {kind.name} does not fit in 24 bits")
    return (int(kflag) << 31) | (int(kind) << 24) | vlen


def _u32(value: int, what: str) -> int:
    if not 0 <= value <= 0xFFFFFFFF:
        raise BTFError(f"{what} {value} does not fit in 32 bits")
    return value


def encode_btf(types: Iterable[AnyType], *, byte_order: str = "little") -> bytes:
    """BTF bytes holding *types* (ids 1, 2, ... in order) in *byte_order*.

    Raises
    ------
    BTFError
        A record whose id is not its position, or a value that does not fit its field.
    """
    e = {"little": "<", "big": ">"}.get(byte_order)
    if e is None:
        raise BTFError(f"byte order {byte_order!r}: expected 'little' or 'big'")
    strs = _Strings()
    words: list[int] = []
    for n, t in enumerate(types, start=1):
        if t.id != n:
            raise BTFError(f"type [{t.id}] {t.kind.name} is at position {n}: ids must be 1, 2, ...")
        name = strs.add(t.name)
        if isinstance(t, Int):
            if not (0 <= t.offset <= 0xFF and 0 <= t.bits <= 0xFF and 0 <= t.encoding <= 0xF):
                raise BTFError(f"type [{n}] INT: offset/bits/encoding out of range")
            words += [name, _info(BTFKind.INT), _u32(t.size, "size")]
            words.append((int(t.encoding) << 24) | (t.offset << 16) | t.bits)
        elif isinstance(t, (Ptr, Typedef, Volatile, Const, Restrict)):
            words += [name, _info(t.kind), _u32(t.type, "type")]
        elif isinstance(t, TypeTag):
            words += [name, _info(BTFKind.TYPE_TAG, 0, t.attr), _u32(t.type, "type")]
        elif isinstance(t, Array):
            words += [name, _info(BTFKind.ARRAY), 0, _u32(t.type, "type")]
            words += [_u32(t.index_type, "index_type"), _u32(t.nelems, "nelems")]
        elif isinstance(t, (Struct, Union)):
            words += [name, _info(t.kind, len(t.members), t.kind_flag), _u32(t.size, "size")]
            for m in t.members:
                if t.kind_flag:
                    if not (0 <= m.bit_offset <= 0xFFFFFF and 0 <= m.bitfield_size <= 0xFF):
                        raise BTFError(f"type [{n}] member {m.name!r}: bit offset/size too big")
                    offset = (m.bitfield_size << 24) | m.bit_offset
                elif m.bitfield_size:
                    raise BTFError(f"type [{n}] member {m.name!r}: bitfield without kind_flag")
                else:
                    offset = _u32(m.bit_offset, "bit_offset")
                words += [strs.add(m.name), _u32(m.type, "type"), offset]
        elif isinstance(t, Enum):
            words += [name, _info(BTFKind.ENUM, len(t.values), t.signed), _u32(t.size, "size")]
            for v in t.values:
                if not -(1 << 31) <= v.value <= 0xFFFFFFFF:
                    raise BTFError(f"type [{n}] value {v.name!r} = {v.value} is not 32-bit")
                words += [strs.add(v.name), v.value & 0xFFFFFFFF]
        elif isinstance(t, Enum64):
            words += [name, _info(BTFKind.ENUM64, len(t.values), t.signed), _u32(t.size, "size")]
            for v in t.values:
                if not -(1 << 63) <= v.value < 1 << 64:
                    raise BTFError(f"type [{n}] value {v.name!r} = {v.value} is not 64-bit")
                raw = v.value & 0xFFFFFFFFFFFFFFFF
                words += [strs.add(v.name), raw & 0xFFFFFFFF, raw >> 32]
        elif isinstance(t, Fwd):
            words += [name, _info(BTFKind.FWD, 0, t.union), 0]
        elif isinstance(t, Func):
            words += [name, _info(BTFKind.FUNC, int(t.linkage)), _u32(t.type, "type")]
        elif isinstance(t, FuncProto):
            words += [name, _info(BTFKind.FUNC_PROTO, len(t.params)), _u32(t.type, "type")]
            for p in t.params:
                words += [strs.add(p.name), _u32(p.type, "type")]
        elif isinstance(t, Var):
            words += [name, _info(BTFKind.VAR), _u32(t.type, "type"), int(t.linkage)]
        elif isinstance(t, Datasec):
            words += [name, _info(BTFKind.DATASEC, len(t.vars)), _u32(t.size, "size")]
            for sec in t.vars:
                words += [
                    _u32(sec.type, "type"),
                    _u32(sec.offset, "offset"),
                    _u32(sec.size, "size"),
                ]
        elif isinstance(t, Float):
            words += [name, _info(BTFKind.FLOAT), _u32(t.size, "size")]
        elif isinstance(t, DeclTag):
            if not -1 <= t.component_idx <= 0x7FFFFFFF:
                raise BTFError(f"type [{n}] DECL_TAG: component_idx {t.component_idx}")
            words += [name, _info(BTFKind.DECL_TAG, 0, t.attr), _u32(t.type, "type")]
            words.append(t.component_idx & 0xFFFFFFFF)
        else:
            raise BTFError(f"type [{t.id}] {t.kind.name} cannot be encoded")
    type_data = struct.pack(f"{e}{len(words)}I", *words)
    hdr = struct.pack(
        e + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(type_data), len(type_data), len(strs.data)
    )
    return hdr + type_data + bytes(strs.data)
