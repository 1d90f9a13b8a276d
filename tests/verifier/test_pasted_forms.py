"""More forms of logs pasted into issues (found by measuring ~20 logs pasted in public issues,
kernels 4.9 to 7.3; the inputs here are written for the test, after those forms):

- go test output around a log (``--- FAIL: ...``, ``verifier_test.go:245: ...`` lines, the
  log indented by spaces and a tab, cilium/ebpf's ``(N line(s) omitted)`` marker);
- what people put where they cut lines (``...``, ``......``, ``[...]``, ``<snip>``);
- 4.9 states of a constant or known-zero-bits value with its range
  (``R1=imm2,min_value=2,max_value=2``, ``R3=inv60,min_value=0,max_value=15``).
"""

from __future__ import annotations

import pytest

from bpfkit.verifier import parse_log
from bpfkit.verifier.grammar import classify

GO_TEST = """\
--- FAIL: TestVerifier (3.10s)
    --- FAIL: TestVerifier/prog.o (1.02s)
        verifier_test.go:180: verifier error: load program: permission denied:
            \t(12 line(s) omitted)
            \t0: R1=ctx() R10=fp0
            \t0: (b7) r0 = 0                        ; R0_w=0
            \t1: (61) r2 = *(u32 *)(r1 +76)         ; R1=ctx() R2_w=pkt(r=0)
            \t2: (71) r3 = *(u8 *)(r2 +0)
            \tinvalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)
            \tR2 offset is outside of the packet
            \tprocessed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""

ELIDED_49 = """\
 R0=pkt(id=0,off=25,r=58) R1=imm2,min_value=2,max_value=2 R3=inv60,min_value=0,max_value=15 R10=fp
......
411: (67) r5 <<= 32
[...]
417: (2d) if r1 > r5 goto pc+188
 R0=imm0,min_value=0,max_value=0 R1=inv31 R3=inv60,min_value=0,max_value=15 R5=inv32 R10=fp fp-8=imm
<snip>
419: (73) *(u8 *)(r9 +0) = r1
R9 invalid mem access 'inv'
"""


def test_a_log_inside_go_test_output() -> None:
    [lg] = parse_log(GO_TEST)
    assert lg.kinds.get("unrecognized", 0) == 0
    assert lg.kinds.get("message", 0) == 0  # the test's lines are not the kernel's
    assert lg.error == ("invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)\n"
                        "R2 offset is outside of the packet")
    assert lg.stats.insns_processed == 3
    assert lg.instructions["insn_idx"].tolist() == [0, 1, 2]
    kinds = dict(zip(lg.lines["text"], lg.lines["kind"], strict=True))
    assert kinds["--- FAIL: TestVerifier (3.10s)"] == "noise"
    assert kinds["verifier error: load program: permission denied:"] == "tool"


def test_elided_lines_and_49_ranges() -> None:
    [lg] = parse_log(ELIDED_49)
    assert lg.kinds.get("unrecognized", 0) == 0
    assert lg.kinds["noise"] == 3
    assert lg.error == "R9 invalid mem access 'inv'"
    regs = lg.registers
    r1 = regs[(regs["reg"] == 1)].iloc[0]
    assert (r1["smin"], r1["umax"]) == (2, 2)
    r3 = regs[(regs["reg"] == 3)]
    assert set(zip(r3["smin"], r3["umax"], strict=True)) == {(0, 15)}


@pytest.mark.parametrize("line", ["...", "......", "\u2026", "[...]", "<snip>",
                                  "(638 line(s) omitted)", "(truncated, 26014 line(s) omitted)"])
def test_elision_markers_are_noise(line: str) -> None:
    assert classify(line).kind == "noise"


def test_a_state_that_ends_in_an_ellipsis_is_still_a_state() -> None:
    assert classify(" R1_w=pkt_end(id=0,off=0,imm=0) R6=pkt(id=2,off=20,r=20,...)").kind == "state"
