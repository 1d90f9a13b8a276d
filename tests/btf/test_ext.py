""".BTF.ext: func_info, line_info and CO-RE relocations, checked against real tools: libbpf's
own reading of the relocations (its debug log, through `bpftool -d prog loadall`), the
kernel's echo of line/func info (`bpftool prog dump xlated ... linum`), llvm-objdump's
symbol table, the raw sections dumped beside the corpus objects, and the corpus MANIFEST."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfkit.btf import CoreReloKind, Ext, LineInfo, load_elf_btf, parse_btf_ext
from bpfkit.btf.spec import Spec
from bpfkit.errors import BTFError
from tests.corpus import (
    DATA_PROGRAMS,
    KINDS_EB,
    KINDS_EB_BTF_EXT,
    KINDS_EL,
    KINDS_EL_BTF_EXT,
    MINIMAL_OBJ,
    RELOCS_EB,
    RELOCS_EL,
    RELOCS_ENUM_EB,
    RELOCS_ENUM_EL,
    RELOCS_READ_EB,
    RELOCS_READ_EL,
    RELOCS_READ_TGT_EL,
)

from .conftest import BPFTOOL, iter_loaded_programs

OBJDUMP = shutil.which("llvm-objdump-19") or shutil.which("llvm-objdump")
PROGRAM_OBJECTS = sorted(DATA_PROGRAMS.glob("*.o")) if DATA_PROGRAMS.exists() else []

#: libbpf's names for relocation kinds (core_relo_kind_str in relo_core.c).
LIBBPF_KIND = {
    "byte_off": CoreReloKind.FIELD_BYTE_OFFSET,
    "byte_sz": CoreReloKind.FIELD_BYTE_SIZE,
    "field_exists": CoreReloKind.FIELD_EXISTS,
    "signed": CoreReloKind.FIELD_SIGNED,
    "lshift_u64": CoreReloKind.FIELD_LSHIFT_U64,
    "rshift_u64": CoreReloKind.FIELD_RSHIFT_U64,
    "local_type_id": CoreReloKind.TYPE_ID_LOCAL,
    "target_type_id": CoreReloKind.TYPE_ID_TARGET,
    "type_exists": CoreReloKind.TYPE_EXISTS,
    "type_matches": CoreReloKind.TYPE_MATCHES,
    "type_size": CoreReloKind.TYPE_SIZE,
    "enumval_exists": CoreReloKind.ENUMVAL_EXISTS,
    "enumval_value": CoreReloKind.ENUMVAL_VALUE,
}


def _ext(path: Path) -> tuple[Spec, Ext]:
    spec, ext = load_elf_btf(path)
    assert ext is not None
    return spec, ext


@pytest.mark.parametrize(
    ("path", "count"),
    [
        (RELOCS_EL, 103),
        (RELOCS_EB, 103),
        (RELOCS_READ_EL, 47),
        (RELOCS_READ_EB, 47),
        (RELOCS_ENUM_EL, 2),
        (RELOCS_ENUM_EB, 2),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)
def test_core_relo_counts_match_manifest(path: Path, count: int) -> None:
    _, ext = _ext(path)
    assert sum(len(v) for v in ext.core_relos.values()) == count


@pytest.mark.parametrize(
    ("el", "eb"), [(KINDS_EL, KINDS_EB), (RELOCS_EL, RELOCS_EB), (RELOCS_READ_EL, RELOCS_READ_EB)]
)
def test_both_byte_orders_agree(el: Path, eb: Path) -> None:
    _, a = _ext(el)
    _, b = _ext(eb)
    assert (a.func_info, a.line_info, a.core_relos) == (b.func_info, b.line_info, b.core_relos)
    assert (a.byte_order, b.byte_order) == ("little", "big")


def test_raw_section_dumps_equal_elf_extraction() -> None:
    for obj, raw in ((KINDS_EL, KINDS_EL_BTF_EXT), (KINDS_EB, KINDS_EB_BTF_EXT)):
        spec, ext = _ext(obj)
        again = parse_btf_ext(raw.read_bytes(), spec)
        assert (again.func_info, again.line_info, again.core_relos) == (
            ext.func_info,
            ext.line_info,
            ext.core_relos,
        )
        assert (again.byte_order, again.hdr_len) == (ext.byte_order, ext.hdr_len)
        assert again.hdr_len == 32


def test_kinds_relocations_are_the_ones_in_kinds_c() -> None:
    """kinds.c asks for FIELD_BYTE_OFFSET, FIELD_EXISTS, TYPE_SIZE, ENUMVAL_VALUE and
    TYPE_ID_LOCAL (one each, comments in the source) plus one access-index offset."""
    spec, ext = _ext(KINDS_EL)
    relos = ext.core_relos["kprobe/test"]
    kinds = sorted(r.kind.name for r in relos)
    assert kinds == sorted(
        [
            "FIELD_BYTE_OFFSET",
            "FIELD_BYTE_OFFSET",
            "FIELD_EXISTS",
            "TYPE_SIZE",
            "ENUMVAL_VALUE",
            "TYPE_ID_LOCAL",
        ]
    )
    arr = next(r for r in relos if r.access_str.count(":") == 3)
    assert arr.access_str == "0:7:1:2"  # &ctx->arr[1][2]: member 7 (arr), index 1, index 2
    assert spec[arr.type_id].name == "node"


def test_no_ext_without_section() -> None:
    _, ext = load_elf_btf(RELOCS_READ_TGT_EL)
    assert ext is None


def _objdump_funcs(path: Path) -> set[tuple[str, int, str]]:
    if OBJDUMP is None:
        pytest.skip("needs llvm-objdump for the symbol-table oracle")
    out = subprocess.run(
        [OBJDUMP, "-t", str(path)], capture_output=True, text=True, check=True
    ).stdout
    funcs = set()
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]{16}) (.{7}) (\S+)\s+([0-9a-f]{16}) (\S+)$", line)
        if m and "F" in m[2] and int(m[4], 16) > 0:
            funcs.add((m[3], int(m[1], 16) // 8, m[5]))
    return funcs


@pytest.mark.parametrize(
    "path",
    [KINDS_EL, KINDS_EB, RELOCS_EL, RELOCS_READ_EL, MINIMAL_OBJ, *PROGRAM_OBJECTS],
    ids=lambda p: p.name,
)
def test_func_info_matches_symbol_table(path: Path) -> None:
    spec, ext = _ext(path)
    ours = {
        (sec, fi.insn_idx, spec[fi.type_id].name)
        for sec, lst in ext.func_info.items()
        for fi in lst
    }
    assert ours == _objdump_funcs(path)


def test_line_info_fields() -> None:
    _, ext = _ext(KINDS_EL)
    first = ext.line_info["kprobe/test"][0]
    assert first == LineInfo(0, "./kinds.c", 23, 0, 'SEC("kprobe/test") int prog(struct node *ctx)')
    src = Path(str(KINDS_EL)).with_name("kinds.c").read_text().splitlines()
    for lst in ext.line_info.values():
        for li in lst:
            assert li.source == src[li.line - 1]  # the stored text is the source line


# ------------------------------------------------------------------ live: libbpf and the kernel


def _needs_live() -> None:
    if BPFTOOL is None:
        pytest.skip("needs bpftool to drive libbpf and the kernel")
    if os.geteuid() != 0:
        pytest.skip("needs root for bpf() (loading programs)")
    if not Path("/sys/fs/bpf").is_dir():
        pytest.skip("needs bpffs at /sys/fs/bpf to pin programs")


@pytest.fixture
def pin_dir() -> Iterator[Path]:
    path = Path("/sys/fs/bpf") / f"bpfkit-test-{uuid.uuid4().hex[:12]}"
    yield path
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _loadall(path: Path, pin: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert BPFTOOL is not None
    return subprocess.run(
        [BPFTOOL, "-d", "prog", "loadall", str(path), str(pin), *extra],
        capture_output=True,
        text=True,
    )


RELO_LINE = re.compile(r"prog '([^']+)': relo #(\d+): <(\w+)> \[(\d+)\] (.*)$")
FOUND_LINE = re.compile(r"sec '([^']+)': found (\d+) CO-RE relocations")


@pytest.mark.live
@pytest.mark.parametrize(
    "path",
    [RELOCS_EL, RELOCS_READ_EL, RELOCS_ENUM_EL, RELOCS_EB, *PROGRAM_OBJECTS],
    ids=lambda p: p.name,
)
def test_core_relos_match_libbpf(path: Path, pin_dir: Path) -> None:
    """libbpf logs every CO-RE relocation it reads (`bpftool -d`), before loading anything:
    per section the count, per record its kind, local type id and access string."""
    _needs_live()
    spec, ext = _ext(path)
    extra = ("type", "socket") if path.parent == RELOCS_EL.parent else ()  # cilium's "socket/x"
    log = _loadall(path, pin_dir, *extra).stderr
    if path == RELOCS_EB:  # libbpf on a little-endian host refuses big-endian objects
        assert "failed to open" in log or "endianness" in log.lower() or "Error" in log
        return
    found = {m[1]: int(m[2]) for m in FOUND_LINE.finditer(log)}
    assert found == {sec: len(v) for sec, v in ext.core_relos.items()}
    prog_sec = {spec[fi.type_id].name: sec for sec, lst in ext.func_info.items() for fi in lst}
    checked = 0
    for line in log.splitlines():
        m = RELO_LINE.search(line)
        if not m:
            continue
        prog, idx, kind, type_id, rest = m[1], int(m[2]), m[3], int(m[4]), m[5]
        sec = prog_sec[prog]
        relo = ext.core_relos[sec][idx]
        if ": non-matching" in line or "candidate" in rest:
            continue
        assert relo.kind == LIBBPF_KIND[kind], line
        assert relo.type_id == type_id, line
        acc = re.search(r"\(([0-9:]+) @ offset \d+\)$", rest)
        if acc:
            assert relo.access_str == acc[1], line
        checked += 1
    assert checked > 0


@pytest.mark.live
@pytest.mark.parametrize("path", [MINIMAL_OBJ, *PROGRAM_OBJECTS], ids=lambda p: p.name)
def test_line_and_func_info_match_kernel(path: Path) -> None:
    """The kernel keeps the line_info/func_info it was given and bpftool prints it back:
    each program is loaded on its own and its xlated dump compared with our records."""
    if BPFTOOL is None:
        pytest.skip("needs bpftool to read back the kernel's line info")
    spec, ext = _ext(path)
    funcs = {
        spec[fi.type_id].name: (sec, fi.insn_idx)
        for sec, lst in ext.func_info.items()
        for fi in lst
    }
    ours_all = {
        (li.file, li.line, li.col, li.source.lstrip())
        for lst in ext.line_info.values()
        for li in lst
    }
    loaded = 0
    for prog, sec, prog_id in iter_loaded_programs(path):
        out = subprocess.run(
            [BPFTOOL, "prog", "dump", "xlated", "id", str(prog_id), "linum"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        kernel = _xlated_line_info(out)
        assert kernel, out[:500]
        assert {k[1:] for k in kernel} <= ours_all, prog
        for proto in re.findall(r"^\S.*?(\w+)\(.*\):$", out, re.M):
            assert proto in funcs, proto
        # the program's first instruction carries the line info of its own insn 0
        start = funcs[prog][1]
        first = next(li for li in ext.line_info[sec] if li.insn_idx == start)
        assert kernel[0][0] == 0
        assert kernel[0][1:] == (first.file, first.line, first.col, first.source.lstrip())
        if path == MINIMAL_OBJ:  # no rewrites: the xlated insns are the ELF insns
            by_insn = {li.insn_idx: li for li in ext.line_info[sec]}
            for idx, file, line, col, src in kernel:
                li = by_insn[idx]
                assert (li.file, li.line, li.col, li.source.lstrip()) == (file, line, col, src)
        loaded += 1
    if not loaded:
        pytest.skip(f"the kernel loaded no program of {path.name} on its own")


XLATED_LINE = re.compile(r"^; (.*) \[file:(.*) line_num:(\d+) line_col:(\d+)\]$")
XLATED_INSN = re.compile(r"^\s*(\d+): \(")


def _xlated_line_info(text: str) -> list[tuple[int, str, int, int, str]]:
    """(insn_idx, file, line, col, source) from `bpftool prog dump xlated ... linum`."""
    out = []
    pending = None
    for line in text.splitlines():
        m = XLATED_LINE.match(line)
        if m:
            pending = (m[2], int(m[3]), int(m[4]), m[1])
            continue
        n = XLATED_INSN.match(line)
        if n and pending is not None:
            out.append((int(n[1]), *pending))
            pending = None
    return out


def test_bad_ext_is_btf_error() -> None:
    spec, _ = _ext(KINDS_EL)
    raw = KINDS_EL_BTF_EXT.read_bytes()
    with pytest.raises(BTFError, match="magic"):
        parse_btf_ext(b"\0\0" + raw[2:], spec)
    with pytest.raises(BTFError, match="header"):
        parse_btf_ext(raw[:10], spec)
    with pytest.raises(BTFError, match="big-endian"):
        parse_btf_ext(KINDS_EB_BTF_EXT.read_bytes(), spec, byte_order="little")
    with pytest.raises(BTFError):
        parse_btf_ext(raw[:-8], spec)


def test_24_byte_header_without_core_relos() -> None:
    """The original .BTF.ext header (24 bytes, before CO-RE): the same func/line info, no relos.
    Built from the corpus section by dropping core_relo_off/len and moving the blocks up."""
    import struct

    spec, ext = _ext(KINDS_EL)
    raw = KINDS_EL_BTF_EXT.read_bytes()
    magic, ver, flags, hdr_len, fi_off, fi_len, li_off, li_len = struct.unpack_from(
        "<HBBIIIII", raw
    )
    assert hdr_len == 32
    body = raw[hdr_len:]
    old = struct.pack("<HBBIIIII", magic, ver, flags, 24, fi_off, fi_len, li_off, li_len) + body
    again = parse_btf_ext(old, spec)
    assert again.hdr_len == 24
    assert (again.func_info, again.line_info) == (ext.func_info, ext.line_info)
    assert again.core_relos == {}


def test_longer_records_are_stepped_over() -> None:
    """A producer may write records longer than bpfkit knows (rec_size > 8 for func_info);
    the known prefix is read and the rest skipped, as libbpf does."""
    import struct

    spec, ext = _ext(KINDS_EL)
    raw = KINDS_EL_BTF_EXT.read_bytes()
    hdr = list(struct.unpack_from("<HBBIIIIIII", raw))
    hdr_len, fi_off, fi_len = hdr[3], hdr[4], hdr[5]
    block = raw[hdr_len + fi_off : hdr_len + fi_off + fi_len]
    (rec_size,) = struct.unpack_from("<I", block)
    assert rec_size == 8
    out, pos = [struct.pack("<I", 12)], 4
    while pos < len(block):
        sec_off, num = struct.unpack_from("<II", block, pos)
        out.append(struct.pack("<II", sec_off, num))
        pos += 8
        for _ in range(num):
            out.append(block[pos : pos + 8] + b"\xaa\xbb\xcc\xdd")
            pos += 8
    new_block = b"".join(out)
    body = raw[hdr_len:]
    # put the widened func_info block at the end of the body, point the header at it
    hdr[4], hdr[5] = len(body), len(new_block)
    patched = struct.pack("<HBBIIIIIII", *hdr) + body + new_block
    again = parse_btf_ext(patched, spec)
    assert again.func_info == ext.func_info
    assert again.line_info == ext.line_info and again.core_relos == ext.core_relos
