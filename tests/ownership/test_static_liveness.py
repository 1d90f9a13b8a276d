"""Register facts the pruning relies on (bpfkit.ownership.static.liveness), on real objects:
every committed program of data/ and of the rule pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfkit.obj import load_object
from bpfkit.obj.insn import BPF_JMP, BPF_JMP32
from bpfkit.ownership.static.liveness import live_registers, precise_registers
from tests.corpus import DATA_PROGRAMS, RULE_PAIRS

OBJECTS = sorted(DATA_PROGRAMS.glob("*.bpf.o")) + sorted(RULE_PAIRS.glob("f*.bpf.o"))


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_precise_registers_are_live_and_cover_branch_operands(path: Path) -> None:
    for prog in load_object(path).programs:
        live = live_registers(prog)
        precise = precise_registers(prog)
        for insn in prog.insns:
            assert precise[insn.idx] <= live[insn.idx], (prog.name, insn.idx)
            conditional = (
                insn.cls in (BPF_JMP, BPF_JMP32)
                and insn.jump_target is not None
                and insn.op not in (0x00,)
                and not insn.is_call
                and insn.code != 0xE5
            )
            if conditional:
                assert insn.dst_reg in precise[insn.idx], (prog.name, insn.idx)
                if insn.is_reg_source:
                    assert insn.src_reg in precise[insn.idx], (prog.name, insn.idx)
            if insn.is_exit:
                assert 0 in precise[insn.idx], (prog.name, insn.idx)
