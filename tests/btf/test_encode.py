"""encode_btf: random records of every kind -> bytes -> the same records (hypothesis), and the
encoded bytes read by bpftool (live) print what bpfkit prints, and the kernel takes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.btf import (
    Array,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    EnumValue,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    IntEncoding,
    Linkage,
    Member,
    Param,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Volatile,
    load_btf,
    parse_btf,
)
from bpfkit.btf.encode import encode_btf
from bpfkit.btf.raw import format_raw
from bpfkit.btf.types import AnyType
from bpfkit.errors import BTFError
from tests.corpus import KINDS_EL, TAGS_EL

from .conftest import bpftool_raw

NAMES = st.sampled_from(
    ["", "a", "b", "node", "next", "kptr", "bpf_kfunc", "x_1", "contains:job:node", "café", "ß_ü"]
)
U32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def btf_types(draw: st.DrawFn, max_types: int = 12) -> list[AnyType]:
    n = draw(st.integers(1, max_types))
    ref = st.integers(0, n)  # any id of the blob, void included
    out: list[AnyType] = []
    for tid in range(1, n + 1):
        kind = draw(st.integers(1, 19))
        name = draw(NAMES)
        if kind == 1:
            t: AnyType = Int(
                tid,
                name,
                draw(st.sampled_from([1, 2, 4, 8, 16])),
                IntEncoding(draw(st.sampled_from([0, 1, 2, 4]))),
                draw(st.integers(0, 255)),
                draw(st.integers(0, 128)),
            )
        elif kind in (2, 8, 9, 10, 11):
            cls = {2: Ptr, 8: Typedef, 9: Volatile, 10: Const, 11: Restrict}[kind]
            t = cls(tid, name, draw(ref))
        elif kind == 3:
            t = Array(tid, name, draw(ref), draw(ref), draw(U32))
        elif kind in (4, 5):
            kflag = draw(st.booleans())
            members = tuple(
                Member(
                    draw(NAMES),
                    draw(ref),
                    draw(st.integers(0, 0xFFFFFF if kflag else 0xFFFFFFFF)),
                    draw(st.integers(0, 255)) if kflag else 0,
                )
                for _ in range(draw(st.integers(0, 4)))
            )
            t = (Struct if kind == 4 else Union)(tid, name, draw(U32), members, kflag)
        elif kind == 6:
            signed = draw(st.booleans())
            vals = st.integers(-(1 << 31), (1 << 31) - 1) if signed else U32
            values = tuple(
                EnumValue(draw(NAMES), draw(vals)) for _ in range(draw(st.integers(0, 3)))
            )
            t = Enum(tid, name, draw(st.sampled_from([1, 2, 4])), values, signed)
        elif kind == 7:
            t = Fwd(tid, name, draw(st.booleans()))
        elif kind == 12:
            t = Func(tid, name, draw(ref), Linkage(draw(st.integers(0, 2))))
        elif kind == 13:
            params = tuple(Param(draw(NAMES), draw(ref)) for _ in range(draw(st.integers(0, 4))))
            t = FuncProto(tid, name, draw(ref), params)
        elif kind == 14:
            t = Var(tid, name, draw(ref), Linkage(draw(st.integers(0, 2))))
        elif kind == 15:
            secinfos = tuple(
                VarSecinfo(draw(ref), draw(U32), draw(U32)) for _ in range(draw(st.integers(0, 3)))
            )
            t = Datasec(tid, name, draw(U32), secinfos)
        elif kind == 16:
            t = Float(tid, name, draw(st.sampled_from([2, 4, 8, 12, 16])))
        elif kind == 17:
            t = DeclTag(tid, name, draw(ref), draw(st.integers(-1, 5)), draw(st.booleans()))
        elif kind == 18:
            t = TypeTag(tid, name, draw(ref), draw(st.booleans()))
        else:
            signed = draw(st.booleans())
            vals = (
                st.integers(-(1 << 63), (1 << 63) - 1) if signed else st.integers(0, (1 << 64) - 1)
            )
            values = tuple(
                EnumValue(draw(NAMES), draw(vals)) for _ in range(draw(st.integers(0, 3)))
            )
            t = Enum64(tid, name, 8, values, signed)
        out.append(t)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(btf_types(), st.sampled_from(["little", "big"]))
def test_encode_parse_round_trip(types: list[AnyType], byte_order: str) -> None:
    spec = parse_btf(encode_btf(types, byte_order=byte_order))
    assert spec.byte_order == byte_order
    assert list(spec) == types


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(btf_types(max_types=8))
def test_encoded_random_btf_raw_equals_live_bpftool(tmp_path: Path, types: list[AnyType]) -> None:
    """bpftool reads bytes bpfkit wrote and prints them as bpfkit does, for random records
    of every kind (signed/unsigned enums, bitfields, linkages, tags with kind_flag...)."""
    path = tmp_path / "random.btf"
    path.write_bytes(encode_btf(types))
    assert format_raw(load_btf(path)) == bpftool_raw(path)


@pytest.mark.parametrize("path", [KINDS_EL, TAGS_EL], ids=lambda p: p.name)
def test_real_objects_reencode_to_the_same_records(path: Path) -> None:
    spec = load_btf(path)
    again = parse_btf(encode_btf(list(spec)))
    assert list(again) == list(spec)
    assert format_raw(again) == format_raw(spec)


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(BTFError, match="ids must be 1, 2"):
        encode_btf([Float(2, "f", 4)])
    with pytest.raises(BTFError, match="bitfield without kind_flag"):
        encode_btf([Struct(1, "s", 4, (Member("a", 0, 0, 3),), False)])
    with pytest.raises(BTFError, match="not 32-bit"):
        encode_btf([Enum(1, "e", 4, (EnumValue("x", 1 << 40),))])
    with pytest.raises(BTFError, match="byte order"):
        encode_btf([], byte_order="middle")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(btf_types(max_types=10))
def test_random_sizeof_equals_libbpf(tmp_path: Path, types: list[AnyType]) -> None:
    """sizeof on random graphs (cycles, arrays of arrays, overflow, sizeless kinds) against
    libbpf's btf__resolve_size: the same size, or an error from both."""
    from .conftest import libbpf_resolve_sizes

    path = tmp_path / "random.btf"
    path.write_bytes(encode_btf(types))
    spec = load_btf(path)
    for tid, want in libbpf_resolve_sizes(path).items():
        if want < 0:
            with pytest.raises(BTFError):
                spec.sizeof(tid)
        else:
            assert spec.sizeof(tid) == want, (tid, types)
