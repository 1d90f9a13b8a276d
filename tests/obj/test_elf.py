"""load_object against llvm-objdump-19 (function symbols, relocations) and on corrupt input."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.errors import BpfkitError, ELFError
from bpfkit.obj import load_object, prog_type_of
from tests.corpus import DATA_LOGS, DATA_LOGS_MANIFEST, DATA_PROGRAMS, MINIMAL_OBJ
from tests.obj.test_insn import objects

OBJDUMP = shutil.which("llvm-objdump-19")
needs_objdump = pytest.mark.skipif(OBJDUMP is None, reason="needs llvm-objdump-19 on PATH")

_FUNC = re.compile(r"^([0-9a-f]{16}) <(.*)>:$")
_RELOC = re.compile(r"^\s+([0-9a-f]{16}):\s+(R_BPF_\w+)\s+(\S+)$")
_SECTION = re.compile(r"^Disassembly of section (.*):$")


def _objdump_r(path: Path) -> tuple[set[tuple[str, str]], dict[tuple[str, int], str]]:
    assert OBJDUMP is not None
    out = subprocess.run(
        [OBJDUMP, "-dr", "--no-show-raw-insn", "--symbolize-operands", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    funcs: set[tuple[str, str]] = set()
    relocs: dict[tuple[str, int], str] = {}
    section = ""
    for line in out.splitlines():
        if m := _SECTION.match(line):
            section = m[1]
        elif (m := _FUNC.match(line)) and not m[2].startswith(("LBB", "L")):
            funcs.add((section, m[2]))
        elif m := _RELOC.match(line):
            relocs[(section, int(m[1], 16))] = m[3]
    return funcs, relocs


@needs_objdump
@pytest.mark.parametrize("path", objects(), ids=lambda p: p.name)
def test_programs_and_relocations_match_objdump(path: Path) -> None:
    obj = load_object(path)
    funcs, relocs = _objdump_r(path)
    assert {(p.section, p.name) for p in obj.programs} == funcs
    ours = {
        (p.section, (i.idx + p.start) * 8): i.reloc
        for p in obj.programs
        for i in p.insns
        if i.reloc is not None
    }
    assert ours == relocs
    for prog in obj.programs:
        assert prog.prog_type == prog_type_of(prog.section)
        for insn in prog.insns:
            if insn.call is None:
                continue
            if insn.call.kind == "kfunc":
                assert insn.reloc == insn.call.name  # the extern __ksym symbol
            elif insn.call.kind == "subprog":
                assert any(p.name == insn.call.name for p in obj.programs)
            else:
                assert insn.reloc is None and insn.src_reg == 0


def test_minimal_object() -> None:
    obj = load_object(MINIMAL_OBJ)
    prog = obj.program("handle_tp")
    assert prog.section == "tp/syscalls/sys_enter_write" and prog.prog_type == "tp"
    assert obj.byte_order == "little"
    calls = [i.call for i in prog.insns if i.call is not None]
    assert [c.id for c in calls] == [14, 6]  # bpf_get_current_pid_tgid, bpf_trace_printk
    assert all(c.kind == "helper" for c in calls)
    with pytest.raises(ELFError, match="no program named"):
        obj.program("nope")


def test_not_an_elf(tmp_path: Path) -> None:
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"not an elf at all")
    with pytest.raises(ELFError, match="not an ELF"):
        load_object(bad)
    with pytest.raises(ELFError, match="cannot read"):
        load_object(tmp_path / "missing.o")


def test_truncated_object(tmp_path: Path) -> None:
    data = MINIMAL_OBJ.read_bytes()
    for cut in (16, 64, 200, len(data) // 2, len(data) - 8):
        p = tmp_path / f"cut{cut}.o"
        p.write_bytes(data[:cut])
        with pytest.raises(ELFError):
            load_object(p)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pos=st.integers(min_value=0, max_value=2623), value=st.integers(0, 255))
def test_mutated_object_loads_or_errors(tmp_path: Path, pos: int, value: int) -> None:
    data = bytearray(MINIMAL_OBJ.read_bytes())
    data[pos % len(data)] = value
    p = tmp_path / "m.o"
    p.write_bytes(bytes(data))
    try:
        obj = load_object(p)
    except BpfkitError:  # ELFError, or BTFError from a damaged .BTF section
        return
    for prog in obj.programs:
        assert all(isinstance(i.text, str) for i in prog.insns)


@pytest.mark.skipif(not DATA_LOGS_MANIFEST.exists(), reason="needs data/logs (make -C data logs)")
def test_source_lines_match_the_verifier_logs() -> None:
    """The kernel prints ``; <source> @ file:line`` (from .BTF.ext line info) before the first
    instruction of each line: Program.source must give the same line and text there."""
    import csv

    with DATA_LOGS_MANIFEST.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    compared = 0
    for row in rows:
        prog = load_object(DATA_PROGRAMS / row["object"]).program(row["program"])
        pending: tuple[str, int] | None = None
        for line in (DATA_LOGS / row["l1_log"]).read_text().splitlines():
            if m := re.match(r"^; (.*) @ [\w.]+:(\d+)$", line):
                pending = (m[1], int(m[2]))
                continue
            m = re.match(r"^(\d+): \(", line)
            if m and pending is not None:
                idx = int(m[1])
                if any(i.idx == idx for i in prog.insns):
                    li = prog.source(idx)
                    assert li is not None, (row["program"], idx)
                    assert (li.source.strip(), li.line) == (pending[0].strip(), pending[1]), (
                        row["program"],
                        idx,
                    )
                    compared += 1
            pending = None
    assert compared > 100


def test_func_name_from_func_info() -> None:
    for path in sorted(DATA_PROGRAMS.glob("*.bpf.o")):
        obj = load_object(path)
        for prog in obj.programs:
            assert prog.func_name(0) == prog.name
            assert prog.func_name(len(prog.insns) - 1) == prog.name
