"""Spec: parsing, split BTF, byte orders, the 32-byte header, and the lookups, checked against
bpftool's and pahole's view of the same bytes."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from bpfkit.btf import (
    BTFKind,
    DeclTag,
    Func,
    Struct,
    Union,
    load_btf,
    load_elf_btf,
    load_vmlinux,
    parse_btf,
)
from bpfkit.btf.spec import EMBEDDED_VMLINUX
from bpfkit.errors import BTFError
from tests.corpus import (
    KINDS_EB,
    KINDS_EB_BTF,
    KINDS_EL,
    KINDS_EL_BTF,
    KINDS_EL_C_HEADER,
    RELOCS_EB,
    RELOCS_EL,
    TAGS_EB,
    TAGS_EL,
    TESTMOD_BASE,
    TESTMOD_SPLIT,
    TESTMOD_SPLIT_RAW,
    VMLINUX_71_GZ,
    VMLINUX_618_XZ,
)

from .conftest import PAHOLE

SYS_VMLINUX = Path("/sys/kernel/btf/vmlinux")
GOLDEN_LINE = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")


def golden_types(text: str) -> dict[int, tuple[str, str, str]]:
    """id -> (kind, name, rest) from bpftool raw text (bpftool's view of the types)."""
    out = {}
    for line in text.splitlines():
        m = GOLDEN_LINE.match(line)
        if m:
            out[int(m[1])] = (m[2], m[3], m[4])
    return out


def test_kinds_object_has_every_kind() -> None:
    spec = load_btf(KINDS_EL)
    kinds = {t.kind for t in spec}
    assert kinds == set(BTFKind) - {BTFKind.UNKN}


@pytest.mark.parametrize(
    ("el", "eb"), [(KINDS_EL, KINDS_EB), (RELOCS_EL, RELOCS_EB), (TAGS_EL, TAGS_EB)]
)
def test_both_byte_orders_decode_alike(el: Path, eb: Path) -> None:
    little, big = load_btf(el), load_btf(eb)
    assert (little.byte_order, big.byte_order) == ("little", "big")
    assert list(little) == list(big)


def test_raw_sections_equal_elf_sections() -> None:
    assert list(parse_btf(KINDS_EL_BTF.read_bytes())) == list(load_btf(KINDS_EL))
    assert list(parse_btf(KINDS_EB_BTF.read_bytes())) == list(load_btf(KINDS_EB))


def test_records_match_bpftool_golden_view() -> None:
    spec = load_btf(KINDS_EL)
    golden = golden_types(Path(str(KINDS_EL)[:-2] + ".bpftool-raw.txt").read_text())
    assert len(golden) == len(spec) - 1
    for tid, (kind, name, _) in golden.items():
        t = spec[tid]
        assert t.kind.name == kind
        assert (t.name or "(anon)") == name


def test_split_btf_ids_and_strings_continue_from_base() -> None:
    base = load_btf(TESTMOD_BASE)
    split = load_btf(TESTMOD_SPLIT, base=base)
    golden = golden_types(TESTMOD_SPLIT_RAW.read_text())
    assert split.first_id == len(base) == min(golden)
    assert len(split) == max(golden) + 1
    # The split's string section does not start with \0: its offsets continue the base's.
    assert TESTMOD_SPLIT.read_bytes()[32 + 28636 : 32 + 28636 + 1] != b"\0"
    for tid, (kind, name, _) in golden.items():
        assert split[tid].kind.name == kind and (split[tid].name or "(anon)") == name
    # base ids answer from the base; iteration covers only the split's own types
    assert split[1] == base[1]
    assert [t.id for t in split] == list(range(split.first_id, len(split)))
    assert sum(1 for _ in split.all_types()) == len(split) - 1
    split.validate()
    # find() sees every named type, including names whose strings live in the base's section
    for tid, (kind, name, _) in golden.items():
        if name != "(anon)":
            assert split[tid] in split.find(name, BTFKind[kind])


def test_split_without_base_is_an_error() -> None:
    with pytest.raises(BTFError, match="string section"):
        load_btf(TESTMOD_SPLIT)


def test_kernel_71_header_with_layout_section() -> None:
    spec = load_btf(VMLINUX_71_GZ)
    assert spec.header.hdr_len == 32
    assert spec.header.layout_len == 80
    assert len(spec.layout) == 20
    assert len(spec) - 1 == 103406  # per the corpus MANIFEST
    assert spec.find_one("task_struct", BTFKind.STRUCT).size > 0
    spec.validate()


def test_find_resolve_and_names_on_kinds() -> None:
    spec = load_btf(KINDS_EL)
    node = spec.find_one("node", BTFKind.STRUCT)
    assert isinstance(node, Struct)
    assert [m.name for m in node.members][:3] == ["next", "uptr", "rp"]
    rp = node.members[2]
    ptr = spec.resolve(rp.type)  # RESTRICT -> PTR
    assert ptr.kind == BTFKind.PTR
    assert spec.resolve(ptr.type).name == "int"  # type: ignore[union-attr]  # CONST VOLATILE int
    u32 = spec.find_one("u32")
    assert spec.resolve(u32.id).name == "unsigned int"
    assert spec.resolve(u32.id, typedefs=False).name == "u32"
    assert spec.find("no_such_type") == []
    with pytest.raises(BTFError, match="no type named"):
        spec.find_one("no_such_type")
    # two ARRAY-of-char types and several anonymous ones: find by kind
    assert {t.kind for t in spec.find("int")} == {BTFKind.INT}


def test_type_name_matches_bpftool_c_header() -> None:
    """Member declarations of `struct node` in bpftool's C dump, with the name taken out."""
    spec = load_btf(KINDS_EL)
    header = KINDS_EL_C_HEADER.read_text()
    body = re.search(r"struct node \{\n(.*?)\n\};", header, re.S)
    assert body is not None
    node = spec.find_one("node", BTFKind.STRUCT)
    assert isinstance(node, Struct)
    lines = [ln.strip().rstrip(";") for ln in body[1].splitlines()]
    assert len(lines) == len(node.members)
    for line, member in zip(lines, node.members, strict=True):
        want = " ".join(re.sub(rf"\b{member.name}\b", " ", line).split())
        got = " ".join(spec.type_name(member.type).split())
        assert got.replace(" [", "[") == want.replace(" [", "["), (line, got)
    assert spec.type_name(spec.find_one("varfn_t").type) == "int (*)(int, ...)"  # type: ignore[union-attr]


def test_type_tags_and_decl_tags_match_golden() -> None:
    spec = load_btf(KINDS_EL)
    text = Path(str(KINDS_EL)[:-2] + ".bpftool-raw.txt").read_text()
    node = spec.find_one("node", BTFKind.STRUCT)
    assert isinstance(node, Struct)
    uptr = spec[node.members[1].type]
    assert spec.type_tags(uptr.type) == ("user",)  # type: ignore[union-attr]
    assert spec.type_tags(node.members[0].type) == ()
    golden = [
        (int(m[1]), m[2], int(m[3]), int(m[4]))
        for m in re.finditer(
            r"^\[(\d+)\] DECL_TAG '([^']*)' type_id=(\d+) component_idx=(-?\d+)", text, re.M
        )
    ]
    assert golden
    for tid, name, target, idx in golden:
        tags = spec.decl_tags(target, idx)
        assert any(t.id == tid and t.name == name for t in tags)
        assert all(isinstance(t, DeclTag) for t in spec.decl_tags(target))
    assert [t.name for t in spec.decl_tags(node.id, 0)] == ["member_tag"]
    assert spec.decl_tags(node.id, 5) == []


@pytest.mark.slow
def test_sizeof_matches_pahole_on_vmlinux() -> None:
    if PAHOLE is None:
        pytest.skip("needs pahole for the struct-size oracle")
    if not os.access(SYS_VMLINUX, os.R_OK):
        pytest.skip("needs a readable /sys/kernel/btf/vmlinux")
    res = subprocess.run(
        [PAHOLE, "--sizes", "-F", "btf", str(SYS_VMLINUX)],
        capture_output=True,
        text=True,
    )
    rows = [ln.split("\t") for ln in res.stdout.splitlines() if ln.count("\t") == 2]
    assert len(rows) > 5000
    spec = load_vmlinux()
    checked = 0
    for name, size, _ in rows:
        sizes = {
            spec.sizeof(t.id) for t in spec.find(name) if t.kind in (BTFKind.STRUCT, BTFKind.UNION)
        }
        assert int(size) in sizes, name
        checked += 1
    assert checked == len(rows)


def test_sizeof_arrays_pointers_and_no_size() -> None:
    spec = load_btf(KINDS_EL)
    node = spec.find_one("node", BTFKind.STRUCT)
    assert isinstance(node, Struct)
    by_name = {m.name: m.type for m in node.members}
    assert spec.sizeof(by_name["arr"]) == 12
    assert spec.sizeof(by_name["next"]) == 8
    assert spec.sizeof(node.id) == node.size == 112
    with pytest.raises(BTFError, match="has no size"):
        spec.sizeof(spec.find_one("sub_fn").id)


def test_kfuncs_are_funcs_with_bpf_kfunc_tag() -> None:
    if not os.access(SYS_VMLINUX, os.R_OK):
        pytest.skip("needs a readable /sys/kernel/btf/vmlinux")
    from .conftest import bpftool_raw

    text = bpftool_raw(SYS_VMLINUX)
    want = sorted(
        int(m[1]) for m in re.finditer(r"DECL_TAG 'bpf_kfunc' type_id=(\d+) component_idx=-1", text)
    )
    spec = load_vmlinux()
    got = [f.id for f in spec.kfuncs()]
    assert got == sorted(set(want))
    assert all(isinstance(f, Func) for f in spec.kfuncs())
    assert "bpf_obj_drop_impl" in {f.name for f in spec.kfuncs()}


def test_embedded_vmlinux_equals_running_kernel() -> None:
    assert VMLINUX_618_XZ == EMBEDDED_VMLINUX
    embedded = load_btf(EMBEDDED_VMLINUX)
    # the kernel it was taken from (data/btf/README.md): on that kernel the bytes are the same
    if os.access(SYS_VMLINUX, os.R_OK) and os.uname().release == "6.18.44-fc-v669":
        assert SYS_VMLINUX.read_bytes() == __import__("lzma").decompress(
            EMBEDDED_VMLINUX.read_bytes()
        )
    assert embedded.find_one("bpf_list_head", BTFKind.STRUCT).size == 16


def test_load_vmlinux_env_override_and_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BPFKIT_VMLINUX", str(EMBEDDED_VMLINUX))
    a = load_vmlinux()
    assert a is load_vmlinux()
    assert a.name == str(EMBEDDED_VMLINUX)


def test_elf_gives_spec_and_ext() -> None:
    spec, ext = load_elf_btf(KINDS_EL)
    assert ext is not None and list(spec) == list(load_btf(KINDS_EL))


def test_ids_out_of_range() -> None:
    spec = load_btf(KINDS_EL)
    assert spec[0].kind == BTFKind.UNKN
    with pytest.raises(BTFError, match="out of range"):
        spec[len(spec)]
    with pytest.raises(BTFError, match="out of range"):
        spec[-1]


def _program_pairs() -> list[Path]:
    from tests.corpus import DATA_PROGRAMS

    if not DATA_PROGRAMS.exists():
        return []
    return sorted(c for c in DATA_PROGRAMS.glob("*.bpf.c") if c.with_suffix(".o").exists())


KPTR_DECL = re.compile(r"^\s*struct (\w+) (__kptr|__percpu_kptr) \*(\w+);", re.M)
CONTAINS_DECL = re.compile(r"\b(\w+)\s+__contains\((\w+),\s*(\w+)\)")


@pytest.mark.parametrize(
    "source", _program_pairs() or [None], ids=lambda p: p.name if p else "none"
)
def test_kptr_type_tags_and_contains_decl_tags_match_c_source(source: Path | None) -> None:
    """`struct foo __kptr *p;` in the C source is PTR -> TYPE_TAG "kptr" -> STRUCT foo in the
    object's BTF; `... x __contains(foo, node)` is a DECL_TAG "contains:foo:node" on x."""
    if source is None:
        pytest.skip("no data/programs/*.bpf.c with a built .o yet")
    text = source.read_text()
    spec = load_btf(source.with_suffix(".o"))
    bodies = "\n".join(re.findall(r"^struct \w+ \{\n(.*?)^\};", text, re.S | re.M))
    kptrs = KPTR_DECL.findall(bodies)  # member declarations only, not local variables
    for target, macro, member in kptrs:
        tag = "kptr" if macro == "__kptr" else "percpu_kptr"
        found = [
            (s, m)
            for s in spec
            if isinstance(s, Struct)
            for m in s.members
            if m.name == member and spec[m.type].kind == BTFKind.PTR
        ]
        assert found, member
        assert any(
            spec.type_tags(spec[m.type].type) == (tag,)  # type: ignore[union-attr]
            and spec.resolve(spec[m.type].type).name == target  # type: ignore[union-attr]
            for _, m in found
        ), (member, tag, target)
    for holder, value, node in CONTAINS_DECL.findall(text):
        tags = [
            t
            for t in spec.all_types()
            if isinstance(t, DeclTag) and t.name == f"contains:{value}:{node}"
        ]
        assert tags, (holder, value, node)
    if not kptrs and not CONTAINS_DECL.search(text):
        pytest.skip(f"{source.name} declares no __kptr or __contains fields")


@pytest.mark.parametrize(
    "path",
    [
        KINDS_EL,
        KINDS_EB,
        RELOCS_EL,
        TAGS_EL,
        pytest.param(SYS_VMLINUX, marks=pytest.mark.slow),
        *(
            Path(__file__).parent / "data" / n
            for n in (
                "valid_tiny.btf",
                "const_self_cycle.btf",
                "typedef_cycle.btf",
                "array_of_itself.btf",
            )
        ),
    ],
    ids=lambda p: getattr(p, "name", "vmlinux"),
)
def test_sizeof_matches_libbpf_resolve_size(path: Path) -> None:
    """Every type: bpfkit's size is libbpf's btf__resolve_size, and bpfkit raises exactly
    where libbpf returns an error (void, functions, forward declarations, cycles)."""
    from .conftest import libbpf_resolve_sizes

    if not os.access(path, os.R_OK):
        pytest.skip(f"needs a readable {path}")
    sizes = libbpf_resolve_sizes(path)
    spec = load_btf(path)
    assert len(sizes) == len(spec) - 1
    for tid, want in sizes.items():
        if want < 0:
            with pytest.raises(BTFError):
                spec.sizeof(tid)
        else:
            assert spec.sizeof(tid) == want, (tid, spec[tid])


def test_sizeof_split_matches_libbpf() -> None:
    from .conftest import libbpf_resolve_sizes

    sizes = libbpf_resolve_sizes(TESTMOD_SPLIT, base=TESTMOD_BASE)
    split = load_btf(TESTMOD_SPLIT, base=load_btf(TESTMOD_BASE))
    assert len(sizes) == len(split) - 1
    for tid, want in sizes.items():
        if want < 0:
            with pytest.raises(BTFError):
                split.sizeof(tid)
        else:
            assert split.sizeof(tid) == want, (tid, split[tid])


def _c_norm(text: str) -> str:
    """Whitespace-insensitive C type spelling; bpftool's ___N suffixes for duplicate names out."""
    text = re.sub(r"\s*([*()\[\],])\s*", r"\1", " ".join(text.split()))
    return re.sub(r"___\d+\b", "", text)


def _member_decl_without_name(line: str, name: str) -> str:
    decl = line.strip().rstrip(";")
    decl = re.sub(r"\s*__attribute__\(\((?:aligned|packed)[^)]*\)*\)\s*$", "", decl)
    decl = re.sub(r":\s*\d+$", "", decl).strip()  # bitfield width
    fp = re.search(rf"\(\*{re.escape(name)}\)", decl)  # function pointer: (*name)(...)
    if fp:
        return decl[: fp.start() + 2] + decl[fp.end() - 1 :]
    spots = [m.start() for m in re.finditer(rf"\b{re.escape(name)}\b", decl)]
    return decl[: spots[-1]] + decl[spots[-1] + len(name) :] if spots else decl


@pytest.mark.slow
def test_type_name_matches_bpftool_c_on_kernel_btf() -> None:
    """Every member of every struct/union bpftool prints flat (no nested definitions): the
    member's declaration in `bpftool btf dump ... format c`, name taken out, is type_name."""
    import subprocess

    from .conftest import BPFTOOL

    if BPFTOOL is None:
        pytest.skip("needs bpftool for the C dump")
    if not os.access(SYS_VMLINUX, os.R_OK):
        pytest.skip("needs a readable /sys/kernel/btf/vmlinux")
    header = subprocess.run(
        [BPFTOOL, "btf", "dump", "file", str(SYS_VMLINUX), "format", "c"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = load_vmlinux()
    padding = re.compile(r"\s*(long|int|short|char|long long): \d+;")
    checked = 0
    for kw, name, body in re.findall(
        r"^(struct|union) (\w+) \{\n(.*?)^\}(?: __attribute__\(\(\w+\)\))?;", header, re.S | re.M
    ):
        lines = [ln for ln in body.rstrip("\n").split("\n") if not padding.fullmatch(ln)]
        if any("{" in ln or "}" in ln for ln in lines):
            continue  # nested anonymous definitions: not one line per member
        found = [t for t in spec.find(name) if t.kind.name == kw.upper()]
        if len(found) != 1:
            continue
        t = found[0]
        assert isinstance(t, (Struct, Union))
        assert len(lines) == len(t.members), name
        for line, member in zip(lines, t.members, strict=True):
            want = _c_norm(_member_decl_without_name(line, member.name))
            assert _c_norm(spec.type_name(member.type)) == want, (name, member.name, line)
            checked += 1
    assert checked > 40_000


def test_module_elf_with_distilled_base(tmp_path: Path) -> None:
    """A .ko carries its split .BTF beside a distilled .BTF.base: load_elf_btf uses it. The
    object is assembled here from the corpus sections (bpf_testmod.ko's)."""
    from tests.btf.data.make_corrupt import elf_with_sections

    ko = tmp_path / "bpf_testmod.ko"
    ko.write_bytes(
        elf_with_sections(
            [(b".BTF", TESTMOD_SPLIT.read_bytes()), (b".BTF.base", TESTMOD_BASE.read_bytes())]
        )
    )
    spec, ext = load_elf_btf(ko)
    assert ext is None
    assert spec.base is not None and spec.first_id == len(load_btf(TESTMOD_BASE))
    from bpfkit.btf.raw import format_raw

    assert format_raw(spec) == TESTMOD_SPLIT_RAW.read_text()


def _byteswap_btf(data: bytes) -> bytes:
    """The same BTF in the other byte order: every field of the header and the type section
    is a 32-bit word (magic a 16-bit one); layout entries are u8, u8, u16; strings are bytes."""
    import struct
    from array import array

    e = "<" if data[:2] == b"\x9f\xeb" else ">"
    o = ">" if e == "<" else "<"
    hdr_len = struct.unpack_from(e + "I", data, 4)[0]
    fields = struct.unpack_from(e + "I" * ((hdr_len - 8) // 4), data, 8)
    type_off, type_len = fields[0], fields[1]
    out = bytearray(data)
    struct.pack_into(o + "HBBI", out, 0, 0xEB9F, data[2], data[3], hdr_len)
    struct.pack_into(o + "I" * len(fields), out, 8, *fields)
    words = array("I", data[hdr_len + type_off : hdr_len + type_off + type_len])
    words.byteswap()
    out[hdr_len + type_off : hdr_len + type_off + type_len] = words.tobytes()
    if hdr_len >= 32 and fields[5]:
        lo, ll = fields[4], fields[5]
        for at in range(hdr_len + lo, hdr_len + lo + ll, 4):
            out[at + 2], out[at + 3] = out[at + 3], out[at + 2]
    return bytes(out)


def test_kernel_71_btf_in_the_other_byte_order() -> None:
    """The 32-byte header and layout section read the same in big-endian (swapped here)."""
    import gzip

    from bpfkit.btf.raw import format_raw

    little = gzip.decompress(VMLINUX_71_GZ.read_bytes())
    big = _byteswap_btf(little)
    a, b = parse_btf(little), parse_btf(big)
    assert (a.byte_order, b.byte_order) == ("little", "big")
    assert a.layout == b.layout and len(a) == len(b)
    assert format_raw(a) == format_raw(b)
    assert _byteswap_btf(big) == little


def test_iter_kind_is_a_filter_of_iter() -> None:
    for path in (KINDS_EL, TESTMOD_SPLIT):
        spec = load_btf(path, base=load_btf(TESTMOD_BASE) if path == TESTMOD_SPLIT else None)
        for kinds in (
            (BTFKind.STRUCT,),
            (BTFKind.STRUCT, BTFKind.UNION),
            (BTFKind.FUNC, BTFKind.DECL_TAG),
        ):
            assert list(spec.iter_kind(*kinds)) == [t for t in spec if t.kind in kinds]


def test_utf8_names_keep_byte_offsets() -> None:
    """String offsets count bytes: a multi-byte UTF-8 name must not shift the names after it."""
    from bpfkit.btf import Float, Typedef, encode_btf

    types = [
        Float(1, "café_ünïcode", 4),
        Typedef(2, "after", 1),
        Typedef(3, "ß", 2),
        Float(4, "z", 8),
    ]
    spec = parse_btf(encode_btf(types))
    assert list(spec) == types
    assert [t.id for t in spec.find("after")] == [2]
    from bpfkit.btf.raw import format_raw

    assert "[2] TYPEDEF 'after' type_id=1" in format_raw(spec)
    raw = spec._strs
    for off, text in spec.names_by_offset().items():  # every cached name is the bytes at off
        assert raw[off:].split(b"\0", 1)[0].decode("utf-8", "surrogateescape") == text, off
