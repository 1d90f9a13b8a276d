"""Bad input: every corrupt file under tests/btf/data gives a BTFError/ELFError that says
what was wrong and where; cycles do not hang; mutated real blobs never give anything but a
BTFError or a spec whose every type decodes and formats."""

from __future__ import annotations

import contextlib
import re
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.btf import load_btf, load_elf_btf, parse_btf, parse_btf_ext
from bpfkit.btf import spec as spec_module
from bpfkit.btf.raw import format_raw
from bpfkit.btf.spec import Spec
from bpfkit.errors import BTFError, ELFError
from tests.btf.conftest import bpftool_raw, kernel_btf_load
from tests.corpus import (
    FUZZ_EXTINFO,
    KINDS_EB_BTF,
    KINDS_EL,
    KINDS_EL_BTF,
    KINDS_EL_BTF_EXT,
    TESTMOD_BASE,
    TESTMOD_SPLIT,
)

DATA = Path(__file__).parent / "data"

#: file -> (error class, a regex the message must match: what, expected, where)
EXPECTED: dict[str, tuple[type[Exception], str]] = {
    "truncated_header.btf": (BTFError, r"header not found: need at least 24 bytes, have 10"),
    "bad_magic.btf": (BTFError, r"invalid BTF magic 3412 at byte 0: expected 0xeb9f"),
    "bad_version.btf": (BTFError, r"unsupported BTF version 2 at byte 2"),
    "hdr_len_past_end.btf": (BTFError, r"header length 4096 larger than data size 25"),
    "strings_past_end.btf": (BTFError, r"strings at 76 \+ 121 end past the 97 bytes"),
    "types_overlap_strings.btf": (BTFError, r"type data at 0 \+ 84, strings at 76 \+ 21 overlap"),
    "type_section_unaligned.btf": (BTFError, r"type section at 2 is not aligned to 4 bytes"),
    "strings_not_nul_terminated.btf": (BTFError, r"string section at 76 \+ 21: does not end with"),
    "base_strings_not_starting_with_nul.btf": (BTFError, r"must start with \\0"),
    "header_padding_not_zero.btf": (BTFError, r"header is 36 bytes.*byte 32 is 0x01"),
    "struct_vlen_past_end.btf": (
        BTFError,
        r"type \[3\] STRUCT at byte 52 .*vlen 1000 needs 12012 bytes, only 48 remain",
    ),
    "struct_vlen_huge.btf": (BTFError, r"vlen 16777215 needs 201326592 bytes, only 48 remain"),
    "type_truncated_mid_record.btf": (
        BTFError,
        r"type \[4\] at byte 88: struct btf_type needs 12 bytes, only 8 remain",
    ),
    "unknown_kind_25.btf": (BTFError, r"type \[2\] at byte 40: unsupported BTF kind 25"),
    "dangling_type_id.btf": (
        BTFError,
        r"type \[2\] PTR at byte 40: type 99 beyond the last type id 4",
    ),
    "dangling_member_type_id.btf": (
        BTFError,
        r"type \[3\] STRUCT at byte 52: member 1 type 77 beyond the last type id 4",
    ),
    "dangling_name_off.btf": (
        BTFError,
        r"type \[1\] INT at byte 24: name_off 5000 out of range: strings end at 21",
    ),
    "layout_disagrees_with_kind.btf": (
        BTFError,
        r"layout entry for kind STRUCT says info_sz=0 elem_sz=8",
    ),
    "elf_section_table_past_end.o": (
        ELFError,
        r"section header table at byte 4096 ends past the end of the file \(64 bytes\)",
    ),
    "elf_truncated_header.o": (ELFError, r"not a readable ELF object"),
    "elf_without_btf.o": (ELFError, r"no \.BTF section"),
    "elf_btf_section_past_end.o": (
        ELFError,
        r"section \.BTF at 64 \+ 1048576 ends past the end of the file",
    ),
}


def test_every_corrupt_file_is_listed() -> None:
    on_disk = {p.name for p in DATA.iterdir() if p.suffix in (".btf", ".o")}
    valid = {
        n
        for n in on_disk
        if n.startswith(("valid_", "const_", "typedef_", "array_", "unknown_kind_20"))
    }
    assert on_disk - valid == set(EXPECTED)


@pytest.fixture(params=["python", "numpy"])
def check_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through both scans (plain Python; numpy, used when it is imported)."""
    if request.param == "numpy":
        import numpy  # noqa: F401  (the numpy scan runs only in a process that has numpy)
    monkeypatch.setattr(spec_module, "NUMPY_MIN_TYPES", 1 << 30 if request.param == "python" else 0)
    return str(request.param)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corrupt_file_error(name: str, check_path: str) -> None:
    cls, pattern = EXPECTED[name]
    with pytest.raises(cls) as exc:
        load_btf(DATA / name)
    assert re.search(pattern, str(exc.value)), str(exc.value)
    assert name in str(exc.value)  # the message names the file


KERNEL_SAYS = {  # what the kernel's BTF log says about the same bytes (6.18), for the reader
    "dangling_name_off.btf": "Invalid name_offset:5000",
    "dangling_type_id.btf": "Invalid type_id",
    "struct_vlen_past_end.btf": "meta_needed",
    "unknown_kind_25.btf": "Invalid kind:25",
    "types_overlap_strings.btf": "Section overlap found",
}


@pytest.mark.live
@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith(".btf")))
def test_kernel_rejects_what_bpfkit_rejects(name: str) -> None:
    """The kernel is the oracle that these bytes are invalid BTF (libbpf 1.1 is laxer)."""
    accepted, log = kernel_btf_load((DATA / name).read_bytes())
    assert not accepted, log
    if name in KERNEL_SAYS:
        assert KERNEL_SAYS[name] in log


@pytest.mark.live
@pytest.mark.parametrize(
    "name", ["const_self_cycle.btf", "typedef_cycle.btf", "array_of_itself.btf"]
)
def test_kernel_detects_the_cycles_bpfkit_stops_at(name: str) -> None:
    accepted, log = kernel_btf_load((DATA / name).read_bytes())
    assert not accepted and "Loop detected" in log


@pytest.mark.parametrize(
    "name",
    [
        "valid_tiny.btf",
        "valid_tiny_in_elf.o",
        "valid_tiny_big_endian.btf",
        "valid_name_mid_string.btf",
        "const_self_cycle.btf",
        "typedef_cycle.btf",
        "array_of_itself.btf",
    ],
)
def test_small_inputs_raw_equals_live_bpftool(name: str) -> None:
    assert format_raw(load_btf(DATA / name)) == bpftool_raw(DATA / name)


@pytest.mark.live
@pytest.mark.parametrize("name", ["valid_tiny.btf", "valid_name_mid_string.btf"])
def test_kernel_accepts_the_valid_inputs(name: str) -> None:
    accepted, log = kernel_btf_load((DATA / name).read_bytes())
    assert accepted, log


def test_tag_kind_flag_is_decoded() -> None:
    """kind_flag on TYPE_TAG/DECL_TAG (bpftool's raw text does not show it): the kernel takes
    the bytes, bpfkit reports ``attr`` and spells the attribute as C."""
    from bpfkit.btf import DeclTag, TypeTag
    from bpfkit.btf.raw import type_to_dict

    name = "valid_tag_attr_kind_flag.btf"
    spec = load_btf(DATA / name)
    tag, decl = spec[5], spec[7]
    assert isinstance(tag, TypeTag) and tag.attr and tag.name == "address_space(1)"
    assert isinstance(decl, DeclTag) and decl.attr and decl.component_idx == -1
    assert spec.decl_tags(3) == [decl]
    assert spec.type_name(6) == "int __attribute__((address_space(1))) *"
    assert type_to_dict(tag)["attr"] is True
    assert format_raw(spec) == bpftool_raw(DATA / name)


@pytest.mark.live
def test_kernel_accepts_tag_kind_flag() -> None:
    accepted, log = kernel_btf_load((DATA / "valid_tag_attr_kind_flag.btf").read_bytes())
    assert accepted, log


def test_name_not_utf8_passes_through() -> None:
    from bpfkit.btf.raw import format_json, parse_json

    path = DATA / "valid_name_not_utf8.btf"
    spec = load_btf(path)
    name = spec[3].name
    assert name.encode("utf-8", "surrogateescape") == b"caf\xe9_\xff"
    assert format_raw(spec) == bpftool_raw(path)  # same bytes as bpftool prints
    assert parse_json(format_json(spec)) == list(spec)
    assert spec.find_one(name).id == 3


def test_valid_tiny_both_orders() -> None:
    little = load_btf(DATA / "valid_tiny.btf")
    big = load_btf(DATA / "valid_tiny_big_endian.btf")
    assert list(little) == list(big)
    assert format_raw(little) == format_raw(big)
    assert little.type_name(4) == "pair_t" and little.sizeof(4) == 16


@pytest.mark.parametrize(
    "name", ["const_self_cycle.btf", "typedef_cycle.btf", "array_of_itself.btf"]
)
def test_cycles_raise_instead_of_hanging(name: str) -> None:
    spec = load_btf(DATA / name)
    spec.validate()
    format_raw(spec)
    last = len(spec) - 1
    with pytest.raises(BTFError, match=r"reference loop \[\d+\] .*Loop detected|overflows 32 bits"):
        spec.sizeof(last) if name.startswith("array") else spec.resolve(
            last if name.startswith("typedef") else 2
        )
    if name.startswith("typedef"):
        assert spec.type_name(last) == "pair"  # a typedef is spelled by its name: no walk
        return
    with pytest.raises(BTFError, match=r"reference loop \[\d+\] .*Loop detected"):
        spec.type_name(last if not name.startswith("const") else 2)


def test_unknown_kind_stepped_over_through_layout() -> None:
    spec = load_btf(DATA / "unknown_kind_20_with_layout.btf")
    assert spec.kind_of(5) == 20
    assert spec[4].name == "pair_t"  # the types around it decode
    with pytest.raises(BTFError, match=r"type \[5\] has kind 20"):
        spec[5]
    assert format_raw(spec).endswith("[5] UNKNOWN 'a'\n")


def test_elf_without_btf(tmp_path: Path) -> None:
    with pytest.raises(ELFError, match="not a readable ELF|no .BTF"):
        load_elf_btf(DATA / "elf_truncated_header.o")
    with pytest.raises(ELFError, match="cannot read"):
        load_elf_btf(tmp_path / "missing.o")


def test_corrupt_compressed(tmp_path: Path) -> None:
    import gzip
    import lzma

    blob = (DATA / "valid_tiny.btf").read_bytes()
    gz = tmp_path / "x.btf.gz"
    gz.write_bytes(gzip.compress(blob)[:-12])
    with pytest.raises(BTFError, match="truncated|corrupt"):
        load_btf(gz)
    xz = tmp_path / "x.btf.xz"
    xz.write_bytes(lzma.compress(blob)[:20])
    with pytest.raises(BTFError, match="truncated|corrupt"):
        load_btf(xz)
    good = tmp_path / "y.btf.xz"
    good.write_bytes(lzma.compress(blob))
    assert list(load_btf(good)) == list(load_btf(DATA / "valid_tiny.btf"))


# --------------------------------------------------------------------------- mutation fuzzing


def exercise(spec: Spec) -> None:
    """Everything a user may do with a spec: must give values or BTFError, never hang."""
    for tid in range(spec.first_id, len(spec)):
        try:
            t = spec[tid]
        except BTFError:
            assert spec.kind_of(tid) >= 20  # only kinds stepped over through the layout
            continue
        for call in (spec.resolve, spec.sizeof, spec.type_name, spec.type_tags):
            with contextlib.suppress(BTFError):
                call(tid)
        spec.decl_tags(t.id)
    format_raw(spec)
    spec.kfuncs()
    decodable = all(spec.kind_of(tid) < 20 for tid in range(spec.first_id, len(spec)))
    if decodable:
        from bpfkit.btf.raw import format_json, parse_json

        assert parse_json(format_json(spec)) == list(spec)  # render-then-parse round trip
        last = spec[len(spec) - 1]
        if last.name:
            assert last in spec.find(last.name)


SEEDS = {
    "kinds-el": KINDS_EL_BTF.read_bytes() if KINDS_EL_BTF.exists() else b"",
    "kinds-eb": KINDS_EB_BTF.read_bytes() if KINDS_EB_BTF.exists() else b"",
    "tiny": (DATA / "valid_tiny.btf").read_bytes(),
}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    seed = bytearray(SEEDS[draw(st.sampled_from(sorted(k for k, v in SEEDS.items() if v)))])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "byte", "word", "truncate", "splice"]))
        if not seed:
            break
        i = draw(st.integers(0, len(seed) - 1))
        if op == "flip":
            seed[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte":
            seed[i] = draw(st.integers(0, 255))
        elif op == "word" and i + 4 <= len(seed):
            struct.pack_into(
                "<I",
                seed,
                i,
                draw(st.sampled_from([0, 1, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 12, 24])),
            )
        elif op == "truncate":
            del seed[i:]
        elif op == "splice":
            j = draw(st.integers(0, len(seed) - 1))
            seed[i:i] = seed[j : j + draw(st.integers(1, 64))]
    return bytes(seed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_btf_gives_error_or_usable_spec(data: bytes) -> None:
    import numpy  # noqa: F401  (so that threshold 0 takes the numpy scan)

    verdicts = []
    saved = spec_module.NUMPY_MIN_TYPES
    try:
        for threshold in (1 << 30, 0):  # the plain Python scan, then numpy's
            spec_module.NUMPY_MIN_TYPES = threshold
            try:
                parse_btf(data, name="<mutated>")
                verdicts.append("ok")
            except BTFError as exc:
                verdicts.append(str(exc))
    finally:
        spec_module.NUMPY_MIN_TYPES = saved
    # the same verdict: the scans only find the first bad type, Spec._type_error names it
    assert verdicts[0] == verdicts[1], verdicts
    assert "no check names why" not in verdicts[0]  # a scan and Spec._type_error disagree
    try:
        spec = parse_btf(data, name="<mutated>")
    except BTFError:
        return
    exercise(spec)


SPLIT = TESTMOD_SPLIT.read_bytes() if TESTMOD_SPLIT.exists() else b""


@settings(max_examples=100, deadline=None)
@given(st.integers(0, max(len(SPLIT) - 1, 0)), st.integers(0, 255), st.booleans())
def test_mutated_split_btf(i: int, value: int, truncate: bool) -> None:
    if not SPLIT:
        pytest.skip("corpus split BTF missing")
    base = load_btf(TESTMOD_BASE)
    data = bytearray(SPLIT)
    if truncate:
        del data[i:]
    else:
        data[i] = value
    try:
        spec = parse_btf(bytes(data), base=base, name="<mutated split>")
    except BTFError:
        return
    exercise(spec)


EXT = KINDS_EL_BTF_EXT.read_bytes() if KINDS_EL_BTF_EXT.exists() else b""


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, max(len(EXT) - 1, 0)), st.integers(0, 255)), max_size=4),
    st.integers(0, len(EXT)),
)
def test_mutated_ext_gives_error_or_records(edits: list[tuple[int, int]], cut: int) -> None:
    spec = parse_btf(KINDS_EL_BTF.read_bytes())
    data = bytearray(EXT[:cut] if cut >= 24 else EXT)
    for i, v in edits:
        if i < len(data):
            data[i] = v
    try:
        ext = parse_btf_ext(bytes(data), spec)
    except BTFError:
        return
    for relos in ext.core_relos.values():
        for r in relos:
            assert r.type_id < len(spec)


# --------------------------------------------------------------------------- cilium fuzz inputs


def _go_bytes(literal: str) -> bytes:
    """Decode a Go `[]byte("...")` literal from a 'go test fuzz v1' file."""
    m = re.fullmatch(r'\[\]byte\((".*")\)', literal.strip())
    assert m, literal
    body = m[1][1:-1]
    out = bytearray()
    i = 0
    simple = {
        "n": 10,
        "t": 9,
        "r": 13,
        "a": 7,
        "b": 8,
        "f": 12,
        "v": 11,
        "\\": 92,
        '"': 34,
        "'": 39,
    }
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "x":
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif nxt in "01234567":
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(simple[nxt])
            i += 2
    return bytes(out)


def _fuzz_inputs() -> list[Path]:
    return sorted(FUZZ_EXTINFO.iterdir()) if FUZZ_EXTINFO.is_dir() else []


def test_go_bytes_decoder() -> None:
    assert _go_bytes('[]byte("\\x00foo\\x00barfoo\\x00")') == b"\x00foo\x00barfoo\x00"
    assert _go_bytes('[]byte("\\"a\\\\\\n\\177")') == b'"a\\\n\x7f'


@pytest.mark.parametrize(
    "path", _fuzz_inputs() or [None], ids=lambda p: p.name[:12] if p else "absent"
)
def test_cilium_fuzz_ext_info_regressions(path: Path | None) -> None:
    if path is None:
        pytest.skip(
            f"cilium FuzzExtInfo inputs listed in the corpus MANIFEST are absent from {FUZZ_EXTINFO}"
        )
    lines = path.read_text().splitlines()
    assert lines[0] == "go test fuzz v1"
    data, strings = (_go_bytes(x) for x in lines[1:3])
    # FuzzExtInfo(data, strings): a .BTF.ext over a string table; build a BTF with no types.
    if not strings or strings[0] != 0 or strings[-1] != 0:
        strings = b"\0"  # cilium skips such a table; the .BTF.ext bytes are still worth a try
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 0, 0, len(strings))
    spec = parse_btf(hdr + strings)
    with contextlib.suppress(BTFError):
        parse_btf_ext(data, spec)


ELF_SEED = KINDS_EL.read_bytes() if KINDS_EL.exists() else b""


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, max(len(ELF_SEED) - 1, 0)), st.integers(0, 255)), max_size=6),
    st.integers(0, len(ELF_SEED)),
)
def test_mutated_elf_gives_elf_or_btf_error(edits: list[tuple[int, int]], cut: int) -> None:
    import tempfile

    data = bytearray(ELF_SEED[: max(cut, 64)])
    for i, v in edits:
        if i < len(data):
            data[i] = v
    with tempfile.NamedTemporaryFile(suffix=".o") as fh:
        fh.write(bytes(data))
        fh.flush()
        try:
            spec, _ = load_elf_btf(fh.name)
        except (ELFError, BTFError):
            return
    exercise(spec)


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip
    import lzma

    monkeypatch.setattr(spec_module, "_MAX_DECOMPRESSED", 1 << 16)
    zeros = bytes(1 << 20)
    for suffix, pack in ((".gz", gzip.compress), (".xz", lzma.compress)):
        bomb = tmp_path / f"bomb.btf{suffix}"
        bomb.write_bytes(pack(zeros))
        with pytest.raises(BTFError, match="decompresses to more than 65536 bytes"):
            load_btf(bomb)


def _kernel_valid_seed() -> bytes:
    """A blob the kernel (6.18) takes, with most kinds: kptr type tag, kind_flag bitfield,
    signed enum, enum64, kfunc decl tag, qualifiers, fwd, union, float, array."""
    from bpfkit.btf import (
        Array,
        Const,
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
        Volatile,
        encode_btf,
    )

    return encode_btf(
        [
            Int(1, "int", 4, IntEncoding.SIGNED, 0, 32),
            Int(2, "unsigned int", 4, IntEncoding.NONE, 0, 32),
            Struct(3, "foo", 8, (Member("a", 1, 0), Member("b", 2, 32)), False),
            TypeTag(4, "kptr", 3),
            Ptr(5, "", 4),
            Struct(
                6,
                "holder",
                16,
                (Member("p", 5, 0), Member("x", 1, 64), Member("bits", 2, 96, 3)),
                True,
            ),
            Enum(7, "e", 4, (EnumValue("NEG", -3), EnumValue("POS", 5)), True),
            Typedef(8, "u32", 2),
            Array(9, "", 8, 2, 4),
            FuncProto(10, "", 1, (Param("h", 5), Param("n", 8))),
            Func(11, "do_thing", 10, Linkage.STATIC),
            DeclTag(12, "bpf_kfunc", 11, -1),
            Const(13, "", 1),
            Volatile(14, "", 13),
            Union(15, "u", 4, (Member("i", 1, 0), Member("f", 16, 0)), False),
            Float(16, "float", 4),
            Enum64(17, "big", 8, (EnumValue("B", 1 << 40),), False),
            Fwd(18, "later", False),
            Ptr(19, "", 18),
            Restrict(20, "", 19),
        ]
    )


@pytest.mark.live
def test_kernel_valid_seed_is_valid() -> None:
    accepted, log = kernel_btf_load(_kernel_valid_seed())
    assert accepted, log
    assert format_raw(parse_btf(_kernel_valid_seed())).count("\n[") == 19


@pytest.mark.live
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 523), st.integers(0, 255)), min_size=1, max_size=3))
def test_what_the_kernel_takes_bpfkit_takes(edits: list[tuple[int, int]]) -> None:
    """bpfkit is never stricter than the kernel: mutated bytes the kernel loads as BTF parse,
    and every type decodes and formats."""
    data = bytearray(_kernel_valid_seed())
    for i, v in edits:
        if i < len(data):
            data[i] = v
    accepted, log = kernel_btf_load(bytes(data))
    if not accepted:
        return
    spec = parse_btf(bytes(data), name="<kernel-accepted>")
    exercise(spec)
