"""The instruction decoder against llvm-objdump-19, run live: on every object in data/programs
and the corpus, and on random encodings wrapped in a minimal ELF (both byte orders)."""

from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpfkit.errors import ELFError
from bpfkit.obj import decode_insns, load_object
from tests.corpus import CORPUS_BTF, DATA, DATA_LOGS_MANIFEST
from tests.obj.elfgen import make_elf

OBJDUMP = shutil.which("llvm-objdump-19")
needs_objdump = pytest.mark.skipif(OBJDUMP is None, reason="needs llvm-objdump-19 on PATH")

_LINE = re.compile(r"^\s+(\d+):\t(.*)$")
_SECTION = re.compile(r"^Disassembly of section (.*):$")


def objdump(path: Path, *extra: str) -> dict[tuple[str, int], str]:
    """{(section, slot index): text} from ``llvm-objdump-19 -d --no-show-raw-insn``, with the
    ``<symbol+off>`` jump annotations and runs of whitespace normalized away."""
    assert OBJDUMP is not None
    out = subprocess.run(
        [OBJDUMP, "-d", "--no-show-raw-insn", *extra, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[tuple[str, int], str] = {}
    section = ""
    for line in out.splitlines():
        m = _SECTION.match(line)
        if m:
            section = m[1]
            continue
        m = _LINE.match(line)
        if m:
            text = re.sub(r" <[^<>]*>$", "", m[2].strip())
            result[(section, int(m[1]))] = " ".join(text.split())
    return result


def objects() -> list[Path]:
    found = sorted((DATA / "programs").glob("*.bpf.o"))
    found += sorted(CORPUS_BTF.rglob("*.o")) + sorted(CORPUS_BTF.rglob("*.elf"))
    return found


@needs_objdump
@pytest.mark.parametrize("path", objects(), ids=lambda p: p.name)
def test_objects_match_objdump(path: Path) -> None:
    obj = load_object(path)
    ref = objdump(path)
    v4 = objdump(path, "--mcpu=v4")
    compared = 0
    for prog in obj.programs:
        for insn in prog.insns:
            key = (prog.section, insn.idx + prog.start)
            want = ref.get(key)
            if want in (None, "<unknown>") or insn.code == 0xC3:
                want = v4.get(key)
            assert want is not None, f"{path.name} {key}: llvm-objdump has no instruction here"
            assert insn.text == want, f"{path.name} {prog.name} insn {insn.idx}"
            compared += 1
    # every instruction llvm-objdump shows in a function belongs to one of our programs
    ours = {(p.section, i.idx + p.start) for p in obj.programs for i in p.insns}
    assert set(ref) <= ours or not obj.programs, sorted(set(ref) - ours)[:5]
    assert compared == len(ours)


_ATOMIC_IMMS = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1, 0xE1, 0xF1]
_IMMS = [0, 1, 8, 16, 32, 64, -1, 0x1C, 0x51, 0xE1, 0x12345678, -0x80000000, 0x7FFFFFFF]
_OFFS = [0, 0, 1, 8, 16, 32, -4, 0x7FFF, -0x8000]


def _random_text(seed: int, big: bool) -> bytes:
    rng = random.Random(seed)
    fmt = ">BBhi" if big else "<BBhi"
    out = bytearray()
    for _ in range(2500):
        code = rng.randrange(256)
        dst, src = rng.randrange(11), rng.randrange(11)
        off, imm = rng.choice(_OFFS), rng.choice(_IMMS)
        if code in (0xC3, 0xDB):  # llvm-19 ignores unknown atomic imm bits: stay in the valid set
            imm = rng.choice(_ATOMIC_IMMS)
        if code == 0x18:
            src = rng.choice([0, 0, 0, 1, 2, 3, 4, 5, 6])
        regs = (dst << 4 | src) if big else (src << 4 | dst)
        out += struct.pack(fmt, code, regs, off, imm)
        if code == 0x18:
            out += struct.pack(fmt, 0, 0, 0, rng.choice([0, -1, 7]))
    out += struct.pack(fmt, 0x95, 0, 0, 0)
    return bytes(out)


@needs_objdump
@pytest.mark.parametrize("big", [False, True], ids=["bpfel", "bpfeb"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_encodings_match_objdump(tmp_path: Path, seed: int, big: bool) -> None:
    text = _random_text(seed, big)
    path = tmp_path / "r.o"
    path.write_bytes(make_elf(text, big_endian=big))
    ref = objdump(path)
    v4 = objdump(path, "--mcpu=v4")
    insns = decode_insns(text, "big" if big else "little")
    compared = mismatched = 0
    for insn in insns:
        want = ref.get(("prog", insn.idx))
        if want in (None, "<unknown>") or insn.code == 0xC3:
            want = v4.get(("prog", insn.idx))
        if want in (None, "<unknown>"):
            continue  # an encoding llvm-objdump-19 rejects (reserved fields set)
        compared += 1
        if insn.text != want:
            mismatched += 1
            print(f"{insn.code:#04x} ours={insn.text!r} llvm={want!r}")
    assert compared > 800
    assert mismatched == 0


def test_truncated_section_is_an_error() -> None:
    with pytest.raises(ELFError, match="multiple of 8"):
        decode_insns(b"\x95\0\0\0")
    with pytest.raises(ELFError, match="ld_imm64 at insn 1"):
        decode_insns(bytes(8) + bytes.fromhex("1801000000000000"))


def test_jump_targets() -> None:
    # "if r1 == 0x0 goto +0x1; r0 = 0; exit" and a gotol
    insns = decode_insns(bytes.fromhex("1501010000000000b7000000000000009500000000000000"))
    assert insns[0].jump_target == 2 and insns[1].jump_target is None
    gotol = decode_insns(struct.pack("<BBhi", 0x06, 0, 0, -1))[0]
    assert gotol.jump_target == 0 and gotol.text == "gotol -0x1"


@given(st.binary(max_size=512))
def test_any_bytes_decode_or_error(data: bytes) -> None:
    try:
        insns = decode_insns(data)
    except ELFError:
        return
    assert sum(i.nslots for i in insns) * 8 == len(data)


_KFUNC_ID = re.compile(r"call (\w+)#(\d+)")
_LOG_INSN = re.compile(r"^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+;.*| \d+: R.*| \d+: frame.*)?$")


@pytest.mark.skipif(not DATA_LOGS_MANIFEST.exists(), reason="needs data/logs (make -C data logs)")
def test_kernel_text_matches_the_verifier_logs() -> None:
    """Every main-program instruction line of the kernel's level-2 logs in data/logs has the
    opcode and, in kernel/bpf/disasm.c style, the text of the instruction we decoded at that
    index. Instructions libbpf rewrites (map and global loads, subprogram calls) are left out.

    A kfunc call prints the kfunc's BTF id (``call bpf_obj_new_impl#65214``), and ids differ
    between builds of the same kernel version. So the text is formatted with the id of the
    *running* kernel (``load_vmlinux``) and compared with the id masked; the id the log shows
    is checked against the BTF of the kernel that wrote the logs (the embedded BTF, when
    MANIFEST.tsv's release is the one data/btf/README.md names), and against the running
    kernel's when that is the same release."""
    import csv
    import lzma
    import os

    from bpfkit.btf import BTFKind, load_btf, load_vmlinux
    from bpfkit.obj.insn import format_insn_kernel

    vmlinux = load_vmlinux()
    embedded_release = re.search(
        r"kernel (\S+), ", (DATA / "btf" / "README.md").read_text()
    )
    embedded = load_btf(DATA / "btf" / "vmlinux-6.18.btf.xz")
    compared = ids_checked = 0
    with DATA_LOGS_MANIFEST.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        prog = load_object(DATA / "programs" / row["object"]).program(row["program"])
        by_idx = {i.idx: i for i in prog.insns}
        path = DATA / "logs" / row["l2_log"]
        if path.suffix == ".xz":
            with lzma.open(path, "rt") as fx:
                text = fx.read()
        else:
            text = path.read_text()
        # the BTF whose ids the log prints, where we have it
        log_btf = None
        if row["kernel_release"] == os.uname().release:
            log_btf = vmlinux
        elif embedded_release and row["kernel_release"] == embedded_release[1]:
            log_btf = embedded
        for line in text.splitlines():
            m = _LOG_INSN.match(line)
            if not m or (insn := by_idx.get(int(m[1]))) is None or insn.is_ld_imm64:
                continue
            kfunc = insn.call is not None and insn.call.kind == "kfunc"
            if (insn.reloc is not None and not kfunc) or (
                insn.call and insn.call.kind == "subprog"
            ):
                continue
            assert int(m[2], 16) == insn.code, (row["program"], line)
            want = m[3]
            kid = None
            if kfunc and insn.call:
                kid = vmlinux.find(insn.call.name, BTFKind.FUNC)[0].id
                km = _KFUNC_ID.search(want)
                assert km is not None and km[1] == insn.call.name, (row["program"], line)
                if log_btf is not None:
                    assert int(km[2]) == log_btf.find(insn.call.name, BTFKind.FUNC)[0].id, line
                    ids_checked += 1
                want = _KFUNC_ID.sub(rf"call \1#{kid}", want)
            assert format_insn_kernel(insn, kfunc_id=kid) == want, (row["program"], line)
            compared += 1
    assert ids_checked > 0 or embedded_release is None
    assert compared > 1000
