"""CO-RE relocation of BPF instructions exactly as libbpf 1.1 does it, against kernel BTF.

:func:`apply_core_relos` patches a program's instruction buffer in place the way libbpf 1.1's
``bpf_object__relocate_core`` does (``bpf_core_resolve_relo``, ``bpf_core_calc_relo_insn``,
``bpf_core_patch_insn`` in ``tools/lib/bpf/{libbpf,relo_core}.c``), and returns the debug
lines libbpf prints while doing it (same text, without the ``libbpf: `` prefix), so the two
can be compared line by line. The local (program) side is a :class:`bpfkit.btf.Spec`; the
target side is a :class:`~bpfkit.kernel.kbtf.KernelBTF` (libbpf's own load of the kernel's
BTF), opened only when a relocation other than ``TYPE_ID_LOCAL`` needs it.

All relocation kinds are implemented: field byte offset/size/exists/signed/lshift/rshift
(bitfields included), type id local/target, type exists/size/matches, enum value
exists/value; with libbpf's candidate search by essential name (``task_struct___old`` finds
``task_struct``), its candidate pruning shared across relocations (pass one ``cand_cache``
for all the programs of an object, in libbpf's order, to reproduce it), its ambiguity
checks, the check that an instruction holds the local value, and the load/store size
adjustment.

Where libbpf would fail the load, and for what is not reproduced here (a candidate search
that libbpf would continue in kernel module BTF, malformed access strings), this module
raises :class:`CoreUnsupported` naming the program, relocation, instruction, kind and access
string: the caller then lets libbpf load the object, so refusing is always safe. A
relocation libbpf *poisons* (the instruction becomes ``call 0xbad2310``) also raises
:class:`CoreUnsupported` unless ``allow_poison=True``, in which case it is poisoned as
libbpf does.

Examples
--------
A ``TYPE_ID_LOCAL`` relocation needs no kernel BTF:

>>> from bpfkit.btf import CoreRelo, CoreReloKind, parse_btf
>>> from bpfkit.btf.encode import encode_btf
>>> from bpfkit.btf.types import Int, IntEncoding, Member, Struct
>>> spec = parse_btf(encode_btf([
...     Int(1, "int", 4, IntEncoding.SIGNED, 0, 32),
...     Struct(2, "pair", 8, (Member("a", 1, 0), Member("b", 1, 32))),
... ]))
>>> insns = bytearray(bytes.fromhex("b701000002000000"))  # r1 = 2
>>> relo = CoreRelo(0, 2, "0", CoreReloKind.TYPE_ID_LOCAL)
>>> apply_core_relos(insns, [(0, relo)], spec, None, "prog")[-1]
"prog 'prog': relo #0: patched insn #0 (ALU/ALU64) imm 2 -> 2"
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from bpfkit.btf.ext import CoreRelo, CoreReloKind
from bpfkit.btf.types import (
    AnyType,
    Array,
    BTFKind,
    Enum,
    Enum64,
    FuncProto,
    Int,
    IntEncoding,
    Struct,
    Union,
)
from bpfkit.errors import BTFError, KernelError

if TYPE_CHECKING:
    from bpfkit.btf.spec import Spec
    from bpfkit.kernel.kbtf import KernelBTF
    from bpfkit.obj.elf import Object

__all__ = [
    "CoreUnsupported",
    "CoreReloSite",
    "apply_core_relos",
    "types_are_compat",
    "program_relo_sites",
    "libbpf_relo_order",
    "BPF_CORE_SPEC_MAX_LEN",
    "POISON_IMM",
]

#: Longest access string libbpf accepts (``BPF_CORE_SPEC_MAX_LEN``).
BPF_CORE_SPEC_MAX_LEN = 64
#: The helper id a poisoned instruction calls (``0xbad2310``, "bad relo").
POISON_IMM = 195896080

_U64 = (1 << 64) - 1
_U32 = (1 << 32) - 1
_SHRT_MAX = 0x7FFF
_INSN = struct.Struct("<BBhi")
_MOD_KINDS = frozenset(
    {BTFKind.VOLATILE, BTFKind.CONST, BTFKind.RESTRICT, BTFKind.TYPE_TAG, BTFKind.TYPEDEF}
)
_ENUMS = (BTFKind.ENUM, BTFKind.ENUM64)
_KIND_STR = {
    BTFKind.UNKN: "void",
    BTFKind.INT: "int",
    BTFKind.PTR: "ptr",
    BTFKind.ARRAY: "array",
    BTFKind.STRUCT: "struct",
    BTFKind.UNION: "union",
    BTFKind.ENUM: "enum",
    BTFKind.FWD: "fwd",
    BTFKind.TYPEDEF: "typedef",
    BTFKind.VOLATILE: "volatile",
    BTFKind.CONST: "const",
    BTFKind.RESTRICT: "restrict",
    BTFKind.FUNC: "func",
    BTFKind.FUNC_PROTO: "func_proto",
    BTFKind.VAR: "var",
    BTFKind.DATASEC: "datasec",
    BTFKind.FLOAT: "float",
    BTFKind.DECL_TAG: "decl_tag",
    BTFKind.TYPE_TAG: "type_tag",
    BTFKind.ENUM64: "enum64",
}
_RELO_KIND_STR = {
    CoreReloKind.FIELD_BYTE_OFFSET: "byte_off",
    CoreReloKind.FIELD_BYTE_SIZE: "byte_sz",
    CoreReloKind.FIELD_EXISTS: "field_exists",
    CoreReloKind.FIELD_SIGNED: "signed",
    CoreReloKind.FIELD_LSHIFT_U64: "lshift_u64",
    CoreReloKind.FIELD_RSHIFT_U64: "rshift_u64",
    CoreReloKind.TYPE_ID_LOCAL: "local_type_id",
    CoreReloKind.TYPE_ID_TARGET: "target_type_id",
    CoreReloKind.TYPE_EXISTS: "type_exists",
    CoreReloKind.TYPE_MATCHES: "type_matches",
    CoreReloKind.TYPE_SIZE: "type_size",
    CoreReloKind.ENUMVAL_EXISTS: "enumval_exists",
    CoreReloKind.ENUMVAL_VALUE: "enumval_value",
}
_FIELD_KINDS = frozenset(
    {
        CoreReloKind.FIELD_BYTE_OFFSET,
        CoreReloKind.FIELD_BYTE_SIZE,
        CoreReloKind.FIELD_EXISTS,
        CoreReloKind.FIELD_SIGNED,
        CoreReloKind.FIELD_LSHIFT_U64,
        CoreReloKind.FIELD_RSHIFT_U64,
    }
)
_TYPE_KINDS = frozenset(
    {
        CoreReloKind.TYPE_ID_LOCAL,
        CoreReloKind.TYPE_ID_TARGET,
        CoreReloKind.TYPE_EXISTS,
        CoreReloKind.TYPE_MATCHES,
        CoreReloKind.TYPE_SIZE,
    }
)
_ENUMVAL_KINDS = frozenset({CoreReloKind.ENUMVAL_EXISTS, CoreReloKind.ENUMVAL_VALUE})
_INT_RE = re.compile(r"[0-9]+")


class CoreUnsupported(KernelError):
    """A CO-RE relocation libbpf would fail (or poison), or one not reproduced here exactly;
    the object has to be loaded by libbpf itself."""


class CoreReloSite(NamedTuple):
    """One CO-RE relocation to apply.

    ``insn_idx`` is the instruction's index in the buffer being patched; ``relo_idx``,
    ``prog_name`` and ``msg_insn_idx`` are what libbpf prints for it (``relo #N`` is the index
    among its ELF section's CO-RE records, the program is the function holding the
    instruction, ``insn #N`` counts from that function's first instruction); -1 / "" take
    the position in the list, the call's ``prog_name`` and ``insn_idx``.
    """

    insn_idx: int
    relo: CoreRelo
    relo_idx: int = -1
    prog_name: str = ""
    msg_insn_idx: int = -1


class _BTF(Protocol):
    def __getitem__(self, type_id: int) -> AnyType: ...

    def sizeof(self, type_id: int) -> int: ...


class _Fail(Exception):
    """libbpf returned an error (its ``-errno`` in ``err``)."""

    def __init__(self, err: int, why: str = "") -> None:
        super().__init__(why)
        self.err = err
        self.why = why


_EINVAL, _E2BIG, _EOPNOTSUPP, _ERANGE, _EUCLEAN = -22, -7, -95, -34, -117


@dataclass(slots=True)
class _Acc:
    type_id: int
    idx: int
    name: str | None = None


@dataclass(slots=True)
class _CoreSpec:
    """``struct bpf_core_spec``."""

    btf: _BTF
    root_type_id: int
    relo_kind: CoreReloKind
    spec: list[_Acc] = field(default_factory=list)
    raw_spec: list[int] = field(default_factory=list)
    bit_offset: int = 0


@dataclass(slots=True)
class _Res:
    """``struct bpf_core_relo_res``."""

    orig_val: int = 0
    new_val: int = 0
    poison: bool = False
    validate: bool = True
    fail_memsz_adjust: bool = False
    orig_sz: int = 0
    new_sz: int = 0
    orig_type_id: int = 0
    new_type_id: int = 0


# --------------------------------------------------------------------------- BTF helpers


def _kind_str(t: AnyType) -> str:
    return _KIND_STR.get(t.kind, "unknown")


def _skip(btf: _BTF, type_id: int) -> tuple[AnyType, int]:
    """``skip_mods_and_typedefs``: the type and its id after modifiers and typedefs."""
    t = btf[type_id]
    for _ in range(1000):
        if t.kind not in _MOD_KINDS:
            return t, type_id
        type_id = t.type  # type: ignore[union-attr]
        t = btf[type_id]
    raise _Fail(_EINVAL, f"modifier chain from [{type_id}] does not end")


def _size(btf: _BTF, type_id: int) -> int:
    try:
        return btf.sizeof(type_id)
    except BTFError as exc:
        raise _Fail(_EINVAL, str(exc)) from None


def _is_composite(t: AnyType) -> bool:
    return t.kind in (BTFKind.STRUCT, BTFKind.UNION)


def _kind_compat(a: AnyType, b: AnyType) -> bool:
    return a.kind == b.kind or (a.kind in _ENUMS and b.kind in _ENUMS)


def _vlen(t: AnyType) -> int:
    if isinstance(t, (Struct, Union)):
        return len(t.members)
    if isinstance(t, (Enum, Enum64)):
        return len(t.values)
    if isinstance(t, FuncProto):
        return len(t.params)
    return 0


def _ess_len(name: str) -> int:
    for i in range(len(name) - 5, -1, -1):
        if name[i] != "_" and name[i + 1 : i + 4] == "___" and name[i + 4] != "_":
            return i + 1
    return len(name)


def _enum_val(t: Enum | Enum64, idx: int) -> int:
    """The enumerator's value as libbpf reads it into a ``__u64`` (ENUM's ``__s32``
    sign-extended, ENUM64's hi/lo words)."""
    v = t.values[idx].value
    if isinstance(t, Enum):
        v &= _U32
        if v >= 1 << 31:
            v -= 1 << 32
    return v & _U64


def _int_offset(t: Int) -> int:
    return t.offset


def _int_encoding(t: Int) -> int:
    return int(t.encoding)


# --------------------------------------------------------------------------- specs


def _parse_access(access: str) -> list[int] | None:
    """``"0:1:2"`` -> ``[0, 1, 2]``; None for anything but plain decimal numbers."""
    parts = access.split(":")
    if not all(_INT_RE.fullmatch(p) for p in parts):
        return None
    return [int(p) for p in parts]


def _parse_spec(prog: str, btf: _BTF, relo: CoreRelo) -> _CoreSpec:
    """``bpf_core_parse_spec``; raises :class:`_Fail` as libbpf returns an error."""
    spec_str = relo.access_str
    if not spec_str or spec_str[0] == ":":
        raise _Fail(_EINVAL)
    spec = _CoreSpec(btf, relo.type_id, relo.kind)
    if relo.kind in _TYPE_KINDS:
        if spec_str != "0":
            raise _Fail(_EINVAL)
        return spec
    raw = _parse_access(spec_str)
    if raw is None:
        raise _Unsupported(f"access string {spec_str!r} is not plain decimal numbers")
    if len(raw) > BPF_CORE_SPEC_MAX_LEN:
        raise _Fail(_E2BIG)
    spec.raw_spec = raw
    t, tid = _skip(btf, relo.type_id)
    access_idx = raw[0]
    spec.spec.append(_Acc(tid, access_idx))
    if relo.kind in _ENUMVAL_KINDS:
        if not isinstance(t, (Enum, Enum64)) or len(raw) > 1 or access_idx >= len(t.values):
            raise _Fail(_EINVAL)
        spec.spec[0].name = t.values[access_idx].name
        return spec
    if relo.kind not in _FIELD_KINDS:
        raise _Fail(_EINVAL)
    sz = _size(btf, tid)
    spec.bit_offset = (access_idx * sz * 8) & _U32
    for i in range(1, len(raw)):
        t, tid = _skip(btf, tid)
        access_idx = raw[i]
        if isinstance(t, (Struct, Union)):
            if access_idx >= len(t.members):
                raise _Fail(_EINVAL)
            m = t.members[access_idx]
            spec.bit_offset = (spec.bit_offset + m.bit_offset) & _U32
            if m.name:
                spec.spec.append(_Acc(tid, access_idx, m.name))
            tid = m.type
        elif isinstance(t, Array):
            _, tid = _skip(btf, t.type)
            flex = _is_flex_arr(btf, spec.spec[-1], t)
            if not flex and access_idx >= t.nelems:
                raise _Fail(_EINVAL)
            spec.spec.append(_Acc(tid, access_idx))
            sz = _size(btf, tid)
            spec.bit_offset = (spec.bit_offset + access_idx * sz * 8) & _U32
        else:
            raise _Fail(
                _EINVAL,
                f"prog '{prog}': relo for [{relo.type_id}] {spec_str} (at idx {i}) captures "
                f"type [{tid}] of unexpected kind {_kind_str(t)}",
            )
    return spec


def _is_flex_arr(btf: _BTF, acc: _Acc, arr: Array) -> bool:
    if acc.name is None or arr.nelems > 0:
        return False
    t = btf[acc.type_id]
    return acc.idx == _vlen(t) - 1


def _format_spec(spec: _CoreSpec) -> str:
    """``bpf_core_format_spec`` (cut to libbpf's 255 characters)."""
    t = spec.btf[spec.root_type_id]
    out = (
        f"<{_RELO_KIND_STR[spec.relo_kind]}> [{spec.root_type_id}] {_kind_str(t)} "
        f"{t.name or '<anon>'}"
    )
    if spec.relo_kind in _TYPE_KINDS:
        return out[:255]
    if spec.relo_kind in _ENUMVAL_KINDS:
        et, _ = _skip(spec.btf, spec.root_type_id)
        idx = spec.raw_spec[0] if spec.raw_spec else 0
        if isinstance(et, Enum):
            raw = et.values[idx].value & _U32
            val = raw - (1 << 32) if et.signed and raw >= 1 << 31 else raw
            out += f"::{et.values[idx].name} = {val}"
        elif isinstance(et, Enum64):
            raw = et.values[idx].value & _U64
            val = raw - (1 << 64) if et.signed and raw >= 1 << 63 else raw
            out += f"::{et.values[idx].name} = {val}"
        return out[:255]
    for i, acc in enumerate(spec.spec):
        if acc.name is not None:
            out += f".{acc.name}"
        elif i > 0 or acc.idx > 0:
            out += f"[{acc.idx}]"
    out += " (" + ":".join(str(x) for x in spec.raw_spec)
    if spec.bit_offset % 8:
        out += f" @ offset {spec.bit_offset // 8}.{spec.bit_offset % 8})"
    else:
        out += f" @ offset {spec.bit_offset // 8})"
    return out[:255]


# --------------------------------------------------------------------------- matching


def _fields_compat(lb: _BTF, lid: int, tb: _BTF, tid: int) -> int:
    """``bpf_core_fields_are_compat``."""
    for _ in range(1000):
        lt, lid = _skip(lb, lid)
        tt, tid = _skip(tb, tid)
        if _is_composite(lt) and _is_composite(tt):
            return 1
        if not _kind_compat(lt, tt):
            return 0
        k = lt.kind
        if k in (BTFKind.PTR, BTFKind.FLOAT):
            return 1
        if k in (BTFKind.FWD, BTFKind.ENUM, BTFKind.ENUM64):
            ll, tl = _ess_len(lt.name), _ess_len(tt.name)
            return int(ll == 0 or tl == 0 or (ll == tl and lt.name[:ll] == tt.name[:tl]))
        if isinstance(lt, Int) and isinstance(tt, Int):
            return int(_int_offset(lt) == 0 and _int_offset(tt) == 0)
        if isinstance(lt, Array) and isinstance(tt, Array):
            lid, tid = lt.type, tt.type
            continue
        return 0
    raise _Fail(_EINVAL)


def _match_member(
    lb: _BTF, local_acc: _Acc, tb: _BTF, targ_id: int, spec: _CoreSpec, out_id: list[int]
) -> int:
    """``bpf_core_match_member``: 1 found, 0 not, raises on error; *spec* is left as libbpf
    leaves it (its debug line prints it)."""
    tt, targ_id = _skip(tb, targ_id)
    if not isinstance(tt, (Struct, Union)):
        return 0
    lt = lb[local_acc.type_id]
    assert isinstance(lt, (Struct, Union))
    local_member = lt.members[local_acc.idx]
    local_name = local_member.name
    for i, m in enumerate(tt.members):
        if len(spec.raw_spec) == BPF_CORE_SPEC_MAX_LEN:
            raise _Fail(_E2BIG)
        spec.bit_offset = (spec.bit_offset + m.bit_offset) & _U32
        spec.raw_spec.append(i)
        if not m.name:
            found = _match_member(lb, local_acc, tb, m.type, spec, out_id)
            if found:
                return found
        elif m.name == local_name:
            spec.spec.append(_Acc(targ_id, i, m.name))
            out_id[0] = m.type
            found = _fields_compat(lb, local_member.type, tb, m.type)
            if not found:
                spec.spec.pop()
            return found
        spec.bit_offset = (spec.bit_offset - m.bit_offset) & _U32
        spec.raw_spec.pop()
    return 0


def _types_compat(lb: _BTF, lid: int, tb: _BTF, tid: int, level: int = 32) -> int:
    """``bpf_core_types_are_compat`` (libbpf 1.1)."""
    if level <= 0:
        raise _Unsupported("function prototypes nested too deeply to compare")
    if not _kind_compat(lb[lid], tb[tid]):
        return 0
    depth = 32
    while True:
        depth -= 1
        if depth < 0:
            raise _Fail(_EINVAL)
        lt, lid = _skip(lb, lid)
        tt, tid = _skip(tb, tid)
        if not _kind_compat(lt, tt):
            return 0
        k = lt.kind
        if k in (
            BTFKind.UNKN,
            BTFKind.STRUCT,
            BTFKind.UNION,
            BTFKind.ENUM,
            BTFKind.FWD,
            BTFKind.ENUM64,
        ):
            return 1
        if isinstance(lt, Int) and isinstance(tt, Int):
            return int(_int_offset(lt) == 0 and _int_offset(tt) == 0)
        if k == BTFKind.PTR:
            lid, tid = lt.type, tt.type  # type: ignore[union-attr]
            continue
        if isinstance(lt, Array) and isinstance(tt, Array):
            lid, tid = lt.type, tt.type
            continue
        if isinstance(lt, FuncProto) and isinstance(tt, FuncProto):
            if len(lt.params) != len(tt.params):
                return 0
            for lp, tp in zip(lt.params, tt.params, strict=True):
                _, a = _skip(lb, lp.type)
                _, b = _skip(tb, tp.type)
                err = _types_compat(lb, a, tb, b, level - 1)
                if err <= 0:
                    return err
            _, lid = _skip(lb, lt.type)
            _, tid = _skip(tb, tt.type)
            continue
        raise _Unsupported(f"type relocation of kind {_kind_str(lt)}")


def types_are_compat(local: Spec, local_id: int, target: KernelBTF, target_id: int) -> bool:
    """libbpf 1.1's ``bpf_core_types_are_compat()``: the check it makes between a kfunc's
    local prototype and the kernel's before it resolves the call.

    Raises
    ------
    CoreUnsupported
        For a construct this module does not compare exactly (libbpf must decide).
    """
    try:
        return _types_compat(local, local_id, target, target_id) > 0
    except _Fail:
        return False
    except _Unsupported as exc:
        raise CoreUnsupported(f"comparing [{local_id}] with kernel [{target_id}]: {exc}") from None


def _names_match(ln: str, tn: str) -> bool:
    if not tn:
        return not ln
    tl, ll = _ess_len(tn), _ess_len(ln)
    return tl == ll and ln[:ll] == tn[:tl]


def _types_match(lb: _BTF, lid: int, tb: _BTF, tid: int, behind_ptr: bool, level: int) -> int:
    """``__bpf_core_types_match`` (libbpf 1.1)."""
    if level <= 0:
        raise _Fail(_EINVAL)
    depth = 32
    while True:
        depth -= 1
        if depth < 0:
            raise _Fail(_EINVAL)
        lt, lid = _skip(lb, lid)
        tt, tid = _skip(tb, tid)
        if not _names_match(lt.name, tt.name):
            return 0
        lk, tk = lt.kind, tt.kind
        if lk == BTFKind.UNKN:
            return int(lk == tk)
        if lk == BTFKind.FWD:
            lf = bool(getattr(lt, "union", False))
            if behind_ptr:
                if lk == tk:
                    return int(lf == bool(getattr(tt, "union", False)))
                return int((tk == BTFKind.STRUCT and not lf) or (tk == BTFKind.UNION and lf))
            if lk != tk:
                return 0
            return int(lf == bool(getattr(tt, "union", False)))
        if isinstance(lt, (Enum, Enum64)):
            if not isinstance(tt, (Enum, Enum64)):
                return 0
            if lt.size != tt.size or len(lt.values) > len(tt.values):
                return 0
            for lv in lt.values:
                if not any(_names_match(lv.name, tv.name) for tv in tt.values):
                    return 0
            return 1
        if isinstance(lt, (Struct, Union)):
            if behind_ptr:
                if lk == tk:
                    return 1
                if tk != BTFKind.FWD:
                    return 0
                return int((lk == BTFKind.UNION) == bool(getattr(tt, "union", False)))
            if lk != tk:
                return 0
            assert isinstance(tt, (Struct, Union))
            if len(lt.members) > len(tt.members):
                return 0
            for lm in lt.members:
                matched = False
                for tm in tt.members:
                    if not _names_match(lm.name, tm.name):
                        continue
                    err = _types_match(lb, lm.type, tb, tm.type, behind_ptr, level - 1)
                    if err > 0:
                        matched = True
                        break
                if not matched:
                    return 0
            return 1
        if isinstance(lt, Int):
            if not isinstance(tt, Int):
                return 0
            ls = _int_encoding(lt) & IntEncoding.SIGNED
            ts = _int_encoding(tt) & IntEncoding.SIGNED
            return int(lt.size == tt.size and ls == ts)
        if lk == BTFKind.PTR:
            if lk != tk:
                return 0
            behind_ptr = True
            lid, tid = lt.type, tt.type  # type: ignore[union-attr]
            continue
        if isinstance(lt, Array):
            if not isinstance(tt, Array) or lt.nelems != tt.nelems:
                return 0
            lid, tid = lt.type, tt.type
            continue
        if isinstance(lt, FuncProto):
            if not isinstance(tt, FuncProto) or len(lt.params) != len(tt.params):
                return 0
            for lp, tp in zip(lt.params, tt.params, strict=True):
                err = _types_match(lb, lp.type, tb, tp.type, behind_ptr, level - 1)
                if err <= 0:
                    return err
            lid, tid = lt.type, tt.type
            continue
        raise _Unsupported(f"type match of kind {_kind_str(lt)}")


def _spec_match(local: _CoreSpec, tb: _BTF, targ_id: int) -> tuple[int, _CoreSpec]:
    """``bpf_core_spec_match``: (1 matched / 0 not, the target spec as libbpf leaves it)."""
    targ = _CoreSpec(tb, targ_id, local.relo_kind)
    kind = local.relo_kind
    if kind in _TYPE_KINDS:
        if kind == CoreReloKind.TYPE_MATCHES:
            return _types_match(local.btf, local.root_type_id, tb, targ_id, False, 32), targ
        return _types_compat(local.btf, local.root_type_id, tb, targ_id), targ
    if kind in _ENUMVAL_KINDS:
        tt, targ_id = _skip(tb, targ_id)
        if not isinstance(tt, (Enum, Enum64)):
            return 0, targ
        lname = local.spec[0].name or ""
        ll = _ess_len(lname)
        for i, v in enumerate(tt.values):
            if _ess_len(v.name) != ll:
                continue
            if lname[:ll] == v.name[:ll]:
                targ.spec.append(_Acc(targ_id, i, v.name))
                targ.raw_spec.append(i)
                return 1, targ
        return 0, targ
    if kind not in _FIELD_KINDS:
        raise _Fail(_EINVAL)
    for i, lacc in enumerate(local.spec):
        tt, targ_id = _skip(tb, targ_id)
        if lacc.name is not None:
            out = [targ_id]
            matched = _match_member(local.btf, lacc, tb, targ_id, targ, out)
            targ_id = out[0]
            if matched <= 0:
                return matched, targ
        else:
            if i > 0:
                if not isinstance(tt, Array):
                    return 0, targ
                flex = _is_flex_arr(tb, targ.spec[i - 1], tt)
                if not flex and lacc.idx >= tt.nelems:
                    return 0, targ
                _, targ_id = _skip(tb, tt.type)
            if len(targ.raw_spec) == BPF_CORE_SPEC_MAX_LEN:
                raise _Fail(_E2BIG)
            targ.spec.append(_Acc(targ_id, lacc.idx))
            targ.raw_spec.append(lacc.idx)
            sz = _size(tb, targ_id)
            targ.bit_offset = (targ.bit_offset + lacc.idx * sz * 8) & _U32
    return 1, targ


# --------------------------------------------------------------------------- values


class _Unsupported(Exception):
    """Something this module does not reproduce exactly: refuse (libbpf must do it)."""


def _calc_field(
    prog: str, relo: CoreRelo, spec: _CoreSpec | None, msgs: list[str]
) -> tuple[int, int, int, bool]:
    """``bpf_core_calc_field_relo``: (val, field_sz, type_id, validate)."""
    if relo.kind == CoreReloKind.FIELD_EXISTS:
        return (1 if spec is not None else 0), 0, 0, True
    if spec is None:
        raise _Fail(_EUCLEAN)
    acc = spec.spec[-1]
    t = spec.btf[acc.type_id]
    if acc.name is None:
        if relo.kind == CoreReloKind.FIELD_BYTE_OFFSET:
            sz = _size(spec.btf, acc.type_id)
            return spec.bit_offset // 8, sz, acc.type_id, True
        if relo.kind == CoreReloKind.FIELD_BYTE_SIZE:
            return _size(spec.btf, acc.type_id), 0, 0, True
        msgs.append(
            f"prog '{prog}': relo {int(relo.kind)} at insn #{relo.insn_idx} can't be applied "
            "to array access"
        )
        raise _Fail(_EINVAL)
    assert isinstance(t, (Struct, Union))
    m = t.members[acc.idx]
    mt, field_type_id = _skip(spec.btf, m.type)
    bit_off = spec.bit_offset
    bit_sz = m.bitfield_size if t.kind_flag else 0
    bitfield = bit_sz > 0
    if bitfield:
        byte_sz = getattr(mt, "size", None)
        if not isinstance(byte_sz, int) or byte_sz <= 0:
            raise _Unsupported(f"bitfield of a {_kind_str(mt)} type")
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                msgs.append(
                    f"prog '{prog}': relo {int(relo.kind)} at insn #{relo.insn_idx} can't be "
                    "satisfied for bitfield"
                )
                raise _Fail(_E2BIG)
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = _size(spec.btf, field_type_id)
        byte_off = spec.bit_offset // 8
        bit_sz = byte_sz * 8
    validate = not bitfield
    k = relo.kind
    field_sz = type_id = 0
    if k == CoreReloKind.FIELD_BYTE_OFFSET:
        val = byte_off
        if not bitfield:
            field_sz, type_id = byte_sz, field_type_id
    elif k == CoreReloKind.FIELD_BYTE_SIZE:
        val = byte_sz
    elif k == CoreReloKind.FIELD_SIGNED:
        val = int(
            (isinstance(mt, (Enum, Enum64)) and mt.signed)
            or (isinstance(mt, Int) and bool(_int_encoding(mt) & IntEncoding.SIGNED))
        )
        validate = True
    elif k == CoreReloKind.FIELD_LSHIFT_U64:
        val = (64 - (bit_off + bit_sz - byte_off * 8)) & _U64
    elif k == CoreReloKind.FIELD_RSHIFT_U64:
        val = (64 - bit_sz) & _U64
        validate = True
    else:
        raise _Fail(_EOPNOTSUPP)
    return val, field_sz, type_id, validate


def _calc_type(relo: CoreRelo, spec: _CoreSpec | None) -> tuple[int, bool]:
    """``bpf_core_calc_type_relo``: (val, validate)."""
    if spec is None:
        return 0, True
    k = relo.kind
    if k == CoreReloKind.TYPE_ID_TARGET:
        return spec.root_type_id, False
    if k in (CoreReloKind.TYPE_EXISTS, CoreReloKind.TYPE_MATCHES):
        return 1, True
    if k == CoreReloKind.TYPE_SIZE:
        return _size(spec.btf, spec.root_type_id), True
    raise _Fail(_EOPNOTSUPP)


def _calc_enumval(relo: CoreRelo, spec: _CoreSpec | None) -> int:
    if relo.kind == CoreReloKind.ENUMVAL_EXISTS:
        return 1 if spec is not None else 0
    if relo.kind == CoreReloKind.ENUMVAL_VALUE:
        if spec is None:
            raise _Fail(_EUCLEAN)
        t = spec.btf[spec.spec[0].type_id]
        assert isinstance(t, (Enum, Enum64))
        return _enum_val(t, spec.spec[0].idx)
    raise _Fail(_EOPNOTSUPP)


def _calc_relo(
    prog: str,
    relo: CoreRelo,
    relo_idx: int,
    local: _CoreSpec,
    targ: _CoreSpec | None,
    msgs: list[str],
) -> _Res:
    """``bpf_core_calc_relo``."""
    res = _Res()
    try:
        if relo.kind in _FIELD_KINDS:
            res.orig_val, res.orig_sz, res.orig_type_id, res.validate = _calc_field(
                prog, relo, local, msgs
            )
            res.new_val, res.new_sz, res.new_type_id, _ = _calc_field(prog, relo, targ, msgs)
            res.fail_memsz_adjust = False
            if res.orig_sz != res.new_sz:
                assert targ is not None
                ot = local.btf[res.orig_type_id]
                nt = targ.btf[res.new_type_id]
                ok = (ot.kind == BTFKind.PTR and nt.kind == BTFKind.PTR) or (
                    isinstance(ot, Int)
                    and isinstance(nt, Int)
                    and _int_encoding(ot) != IntEncoding.SIGNED
                    and _int_encoding(nt) != IntEncoding.SIGNED
                )
                res.fail_memsz_adjust = not ok
        elif relo.kind in _TYPE_KINDS:
            res.orig_val, res.validate = _calc_type(relo, local)
            res.new_val, _ = _calc_type(relo, targ)
        elif relo.kind in _ENUMVAL_KINDS:
            res.orig_val = _calc_enumval(relo, local)
            res.new_val = _calc_enumval(relo, targ)
        else:
            raise _Fail(_EOPNOTSUPP)
    except _Fail as f:
        if f.err == _EUCLEAN:
            res.poison = True
            return res
        if f.err == _EOPNOTSUPP:
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: unrecognized CO-RE relocation "
                f"{_RELO_KIND_STR.get(relo.kind, 'unknown')} ({int(relo.kind)}) at insn "
                f"#{relo.insn_idx}"
            )
        raise
    return res


# --------------------------------------------------------------------------- patching


def _read(insns: bytearray, idx: int) -> tuple[int, int, int, int, int]:
    code, regs, off, imm = _INSN.unpack_from(insns, idx * 8)
    return code, regs & 0x0F, regs >> 4, off, imm


def _s32(v: int) -> int:
    v &= _U32
    return v - (1 << 32) if v >= 1 << 31 else v


def _poison(
    insns: bytearray, idx: int, prog: str, relo_idx: int, msg_idx: int, msgs: list[str]
) -> None:
    msgs.append(f"prog '{prog}': relo #{relo_idx}: substituting insn #{msg_idx} w/ invalid insn")
    _INSN.pack_into(insns, idx * 8, 0x85, 0, 0, POISON_IMM)


def _patch(
    insns: bytearray,
    idx: int,
    relo_idx: int,
    prog: str,
    msg_idx: int,
    res: _Res,
    msgs: list[str],
) -> bool:
    """``bpf_core_patch_insn``; raises :class:`_Fail` where libbpf returns an error.
    Returns whether the instruction was poisoned."""
    code, dst, src, off, imm = _read(insns, idx)
    cls = code & 0x07
    if res.poison:
        if code == 0x18:
            _poison(insns, idx + 1, prog, relo_idx, msg_idx + 1, msgs)
        _poison(insns, idx, prog, relo_idx, msg_idx, msgs)
        return True
    orig_val, new_val = res.orig_val, res.new_val
    if cls in (0x04, 0x07):  # BPF_ALU, BPF_ALU64
        if code & 0x08:  # BPF_X
            raise _Fail(_EINVAL)
        if res.validate and (imm & _U64) != orig_val:
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: unexpected insn #{msg_idx} (ALU/ALU64) value: "
                f"got {imm & _U32}, exp {orig_val} -> {new_val}"
            )
            raise _Fail(_EINVAL)
        _INSN.pack_into(insns, idx * 8, code, dst | src << 4, off, _s32(new_val))
        msgs.append(
            f"prog '{prog}': relo #{relo_idx}: patched insn #{msg_idx} (ALU/ALU64) imm "
            f"{imm & _U64} -> {new_val}"
        )
    elif cls in (0x01, 0x02, 0x03):  # BPF_LDX, BPF_ST, BPF_STX
        if res.validate and (off & _U64) != orig_val:
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: unexpected insn #{msg_idx} (LDX/ST/STX) value: "
                f"got {off & _U32}, exp {orig_val} -> {new_val}"
            )
            raise _Fail(_EINVAL)
        if new_val > _SHRT_MAX:
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: insn #{msg_idx} (LDX/ST/STX) value too big: "
                f"{new_val}"
            )
            raise _Fail(_ERANGE)
        if res.fail_memsz_adjust:
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: insn #{msg_idx} (LDX/ST/STX) accesses field "
                "incorrectly. Make sure you are accessing pointers, unsigned integers, or fields "
                "of matching type and size."
            )
            _poison(insns, idx, prog, relo_idx, msg_idx, msgs)
            return True
        _INSN.pack_into(insns, idx * 8, code, dst | src << 4, new_val, imm)
        msgs.append(
            f"prog '{prog}': relo #{relo_idx}: patched insn #{msg_idx} (LDX/ST/STX) off "
            f"{off & _U64} -> {new_val}"
        )
        if res.new_sz != res.orig_sz:
            insn_bytes = {0x18: 8, 0x00: 4, 0x08: 2, 0x10: 1}[code & 0x18]
            if insn_bytes != res.orig_sz:
                msgs.append(
                    f"prog '{prog}': relo #{relo_idx}: insn #{msg_idx} (LDX/ST/STX) unexpected "
                    f"mem size: got {insn_bytes}, exp {res.orig_sz}"
                )
                raise _Fail(_EINVAL)
            size_bits = {8: 0x18, 4: 0x00, 2: 0x08, 1: 0x10}.get(res.new_sz)
            if size_bits is None:
                msgs.append(
                    f"prog '{prog}': relo #{relo_idx}: insn #{msg_idx} (LDX/ST/STX) invalid new "
                    f"mem size: {res.new_sz}"
                )
                raise _Fail(_EINVAL)
            insns[idx * 8] = (code & 0xE0) | size_bits | cls
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: patched insn #{msg_idx} (LDX/ST/STX) mem_sz "
                f"{res.orig_sz} -> {res.new_sz}"
            )
    elif cls == 0x00:  # BPF_LD
        if (idx + 2) * 8 > len(insns):
            raise _Unsupported("ld_imm64 cut off at the end of the buffer")
        code1, dst1, src1, off1, imm1 = _read(insns, idx + 1)
        if code != 0x18 or src != 0 or off != 0 or code1 != 0 or dst1 or src1 or off1:
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: insn #{msg_idx} (LDIMM64) has unexpected form"
            )
            raise _Fail(_EINVAL)
        val = (imm & _U32) | ((imm1 & _U32) << 32)
        if res.validate and val != orig_val:
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: unexpected insn #{msg_idx} (LDIMM64) value: "
                f"got {val}, exp {orig_val} -> {new_val}"
            )
            raise _Fail(_EINVAL)
        _INSN.pack_into(insns, idx * 8, code, dst | src << 4, off, _s32(new_val))
        _INSN.pack_into(insns, (idx + 1) * 8, code1, dst1 | src1 << 4, off1, _s32(new_val >> 32))
        msgs.append(
            f"prog '{prog}': relo #{relo_idx}: patched insn #{msg_idx} (LDIMM64) imm64 "
            f"{val} -> {new_val}"
        )
    else:
        msgs.append(
            f"prog '{prog}': relo #{relo_idx}: trying to relocate unrecognized insn #{msg_idx}, "
            f"code:{code:#x}, src:{src:#x}, dst:{dst:#x}, off:{off & _U32:#x}, imm:{imm & _U32:#x}"
        )
        raise _Fail(_EINVAL)
    return False


# --------------------------------------------------------------------------- driver


def _find_cands(
    local: Spec, local_id: int, target: KernelBTF, msgs: list[str]
) -> list[tuple[int, str]]:
    """``bpf_core_find_cands`` over vmlinux: [(id, name)], with libbpf's debug lines."""
    lt = local[local_id]
    lname = lt.name
    if not lname:
        raise _Fail(_EINVAL)
    out = []
    for tid in target.candidates(lname, lt.kind):
        t = target[tid]
        msgs.append(
            f"CO-RE relocating [{local_id}] {_kind_str(lt)} {lname}: found target candidate "
            f"[{tid}] {_kind_str(t)} {t.name} in [vmlinux]"
        )
        out.append((tid, t.name))
    if not out and target.is_vmlinux and target.module_btfs():
        raise _Unsupported(
            f"no candidate for [{local_id}] {_kind_str(lt)} {lname} in vmlinux: libbpf would "
            f"go on searching the BTF of modules {', '.join(target.module_btfs()[:5])}"
        )
    return out


def apply_core_relos(
    insns: bytearray,
    relos: Iterable[CoreReloSite | tuple[int, CoreRelo]],
    local: Spec,
    target: KernelBTF | Callable[[], KernelBTF] | None,
    prog_name: str,
    *,
    cand_cache: dict[int, list[int]] | None = None,
    allow_poison: bool = False,
) -> list[str]:
    """Apply CO-RE relocations to *insns* in place, as libbpf 1.1 would; return its debug lines.

    Parameters
    ----------
    insns
        The instruction buffer (8-byte little-endian ``struct bpf_insn``\\ s), patched in place.
    relos
        :class:`CoreReloSite`\\ s, or ``(insn_idx, CoreRelo)`` pairs (``insn_idx`` indexes
        *insns*), applied in order.
    local
        The object's BTF (types of ``CoreRelo.type_id`` and its access strings).
    target
        The kernel BTF, or a function returning it, or ``None`` for
        :meth:`KernelBTF.vmlinux`; only asked for (opened) when a relocation other than
        ``TYPE_ID_LOCAL`` needs it.
    prog_name
        The program named in messages when a site does not name one.
    cand_cache
        libbpf's per-object candidate cache (local type id -> candidate ids, pruned by each
        relocation that matches). Pass the same dict for every function of one object load,
        in libbpf's order (``.BTF.ext`` sections and records in file order, skipping
        functions libbpf does not load), to reproduce libbpf's decisions when a local type
        has several candidates. Without it (a fresh cache per call), a local type with
        several candidates is refused, since earlier functions may have pruned libbpf's list.
    allow_poison
        Poison what libbpf poisons (``call 0xbad2310``) instead of refusing.

    Returns
    -------
    list of str
        libbpf's debug and warning lines for these relocations, without ``libbpf: ``.

    Raises
    ------
    CoreUnsupported
        libbpf would fail the load (no usable candidate search, ambiguity, an instruction
        that does not hold the local value...), would poison an instruction and
        ``allow_poison`` is false, or the case is not reproduced here. The message names the
        program, relocation number, instruction, kind and access string, and libbpf's error.
    KernelError
        The kernel BTF is needed but cannot be loaded.
    """
    msgs: list[str] = []
    cache: dict[int, list[int]] = {} if cand_cache is None else cand_cache
    kbtf: KernelBTF | None = None
    nslots = len(insns) // 8
    if getattr(local, "byte_order", "little") != "little":
        raise CoreUnsupported(
            f"prog '{prog_name}': CO-RE relocation of a {local.byte_order}-endian object: only "
            "little-endian objects are relocated here (as on this x86-64 host)"
        )
    for pos, item in enumerate(relos):
        site = item if isinstance(item, CoreReloSite) else CoreReloSite(item[0], item[1])
        relo = site.relo
        ridx = site.relo_idx if site.relo_idx >= 0 else pos
        prog = site.prog_name or prog_name
        midx = site.msg_insn_idx if site.msg_insn_idx >= 0 else site.insn_idx
        where = (
            f"prog '{prog}': CO-RE relo #{ridx} at insn #{midx} ({relo.kind.name}, type "
            f"[{relo.type_id}], access {relo.access_str!r})"
        )
        if not 0 <= site.insn_idx < nslots:
            raise CoreUnsupported(f"{where}: instruction index outside the {nslots} instructions")
        try:
            if relo.kind != CoreReloKind.TYPE_ID_LOCAL and relo.type_id not in cache:
                if kbtf is None:
                    kbtf = _open_target(target)
                try:
                    found = _find_cands(local, relo.type_id, kbtf, msgs)
                    cache[relo.type_id] = [tid for tid, _ in found]
                    if len(found) > 1 and cand_cache is None:
                        raise _Unsupported(
                            f"{len(found)} candidates for local type [{relo.type_id}]: libbpf "
                            "prunes them across the whole object; pass that object's "
                            "cand_cache to reproduce it"
                        )
                except _Fail as f:
                    lt = local[relo.type_id]
                    msgs.append(
                        f"prog '{prog}': relo #{ridx}: target candidate search failed for "
                        f"[{relo.type_id}] {_kind_str(lt)} {lt.name}: {f.err}"
                    )
                    raise
            if kbtf is None and relo.kind != CoreReloKind.TYPE_ID_LOCAL:
                kbtf = _open_target(target)
            res = _calc_relo_insn(prog, relo, ridx, local, kbtf, cache, msgs)
            before = bytes(insns[site.insn_idx * 8 : site.insn_idx * 8 + 16])
            if _patch(insns, site.insn_idx, ridx, prog, midx, res, msgs) and not allow_poison:
                insns[site.insn_idx * 8 : site.insn_idx * 8 + len(before)] = before
                raise _Unsupported(
                    "libbpf poisons this instruction ("
                    + ("no matching target" if res.poison else "field size mismatch")
                    + ")"
                )
        except _Fail as f:
            detail = "; ".join(m for m in msgs[-3:] if "relo #" in m and "patched" not in m)
            raise CoreUnsupported(
                f"{where}: libbpf fails this relocation (error {f.err})"
                + (f": {f.why}" if f.why else "")
                + (f" [{detail}]" if detail and not f.why else "")
            ) from None
        except _Unsupported as exc:
            raise CoreUnsupported(f"{where}: {exc}") from None
        except (BTFError, IndexError, AssertionError, AttributeError) as exc:
            raise CoreUnsupported(f"{where}: {type(exc).__name__}: {exc}") from None
    return msgs


def _open_target(target: KernelBTF | Callable[[], KernelBTF] | None) -> KernelBTF:
    from bpfkit.kernel.kbtf import KernelBTF

    if target is None:
        return KernelBTF.vmlinux()
    if isinstance(target, KernelBTF):
        return target
    return target()


def _calc_relo_insn(
    prog: str,
    relo: CoreRelo,
    relo_idx: int,
    local: Spec,
    target: KernelBTF | None,
    cache: dict[int, list[int]],
    msgs: list[str],
) -> _Res:
    """``bpf_core_calc_relo_insn``."""
    lt = local[relo.type_id]
    try:
        local_spec = _parse_spec(prog, local, relo)
    except _Fail as f:
        if f.why:
            msgs.append(f.why)
        msgs.append(
            f"prog '{prog}': relo #{relo_idx}: parsing [{relo.type_id}] {_kind_str(lt)} "
            f"{lt.name or '<anon>'} + {relo.access_str} failed: {f.err}"
        )
        raise _Fail(_EINVAL, msgs[-1]) from None
    msgs.append(f"prog '{prog}': relo #{relo_idx}: {_format_spec(local_spec)}")
    if relo.kind == CoreReloKind.TYPE_ID_LOCAL:
        return _Res(
            orig_val=local_spec.root_type_id, new_val=local_spec.root_type_id, validate=False
        )
    if not lt.name:
        msgs.append(
            f"prog '{prog}': relo #{relo_idx}: <{_RELO_KIND_STR[relo.kind]}> ({int(relo.kind)}) "
            "relocation doesn't support anonymous types"
        )
        raise _Fail(_EOPNOTSUPP, msgs[-1])
    assert target is not None
    cands = cache[relo.type_id]
    kept: list[int] = []
    targ_res: _Res | None = None
    targ_bit_offset = 0
    for i, cid in enumerate(cands):
        matched, cand_spec = _spec_match(local_spec, target, cid)
        msgs.append(
            f"prog '{prog}': relo #{relo_idx}: {'matching' if matched else 'non-matching'} "
            f"candidate #{i} {_format_spec(cand_spec)}"
        )
        if not matched:
            continue
        cand_res = _calc_relo(prog, relo, relo_idx, local_spec, cand_spec, msgs)
        if not kept:
            targ_res, targ_bit_offset = cand_res, cand_spec.bit_offset
        elif cand_spec.bit_offset != targ_bit_offset:
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: field offset ambiguity: "
                f"{cand_spec.bit_offset} != {targ_bit_offset}"
            )
            raise _Fail(_EINVAL, msgs[-1])
        elif targ_res is not None and (
            cand_res.poison != targ_res.poison or cand_res.new_val != targ_res.new_val
        ):
            msgs.append(
                f"prog '{prog}': relo #{relo_idx}: relocation decision ambiguity: "
                f"{'failure' if cand_res.poison else 'success'} {cand_res.new_val} != "
                f"{'failure' if targ_res.poison else 'success'} {targ_res.new_val}"
            )
            raise _Fail(_EINVAL, msgs[-1])
        kept.append(cid)
    if kept:
        cands[:] = kept
        assert targ_res is not None
        return targ_res
    msgs.append(f"prog '{prog}': relo #{relo_idx}: no matching targets found")
    return _calc_relo(prog, relo, relo_idx, local_spec, None, msgs)


def program_relo_sites(obj: Object, program: str) -> list[CoreReloSite]:
    """The CO-RE relocations of one function of *obj*, numbered as libbpf numbers them.

    ``insn_idx`` (and ``msg_insn_idx``) count from the function's first instruction;
    ``relo_idx`` is the record's index among its ELF section's CO-RE records.

    Raises
    ------
    bpfkit.errors.ELFError
        *program* is not a function of *obj*.
    """
    prog = obj.program(program)
    if obj.ext is None:
        return []
    if prog.insns:
        last = prog.insns[-1]
        end = prog.start + last.idx + last.nslots
    else:
        end = prog.start
    out = []
    for i, r in enumerate(obj.ext.core_relos.get(prog.section, ())):
        if prog.start <= r.insn_idx < end:
            k = r.insn_idx - prog.start
            out.append(CoreReloSite(k, r, i, prog.name, k))
    return out


def libbpf_relo_order(obj: Object, program: str) -> list[tuple[str, list[CoreReloSite]]]:
    """What libbpf 1.1 relocates, in its order, when *program* is the only one loaded.

    ``bpf_object__relocate_core`` walks the ``.BTF.ext`` CO-RE records section by section in
    file order and relocates each one whose function will be loaded: the program itself and
    every ``.text`` subprogram (subprograms keep ``autoload``, called or not). Consecutive
    records of one function are grouped: ``[(function, sites), ...]``. Feeding each group
    to :func:`apply_core_relos` with one shared ``cand_cache`` reproduces libbpf's
    candidate pruning and its numbering in messages.

    Raises
    ------
    bpfkit.errors.ELFError
        *program* is not a function of *obj*.
    """
    obj.program(program)  # ELFError when absent
    if obj.ext is None:
        return []
    wanted = [p for p in obj.programs if p.subprog or p.name == program]
    sections = list(obj.ext.core_relos)
    keyed: list[tuple[tuple[int, int], str, CoreReloSite]] = []
    for prog in wanted:
        rank = sections.index(prog.section) if prog.section in sections else len(sections)
        keyed.extend(((rank, s.relo_idx), prog.name, s) for s in program_relo_sites(obj, prog.name))
    keyed.sort(key=lambda k: k[0])
    out: list[tuple[str, list[CoreReloSite]]] = []
    for _, name, site in keyed:
        if out and out[-1][0] == name:
            out[-1][1].append(site)
        else:
            out.append((name, [site]))
    return out
