"""Property tests: the CFG builder and the binning never fail and keep their invariants on
any input (instructions tables are what a parser made of an arbitrary log)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfkit.plot.cfg import cfg_from_instructions, decode_jump
from bpfkit.plot.data import bin_codes

_OPS = [0x05, 0x15, 0x1D, 0x2D, 0x55, 0x85, 0x95, 0xB7, 0xBF, 0x18, 0x06, 0x16, 0xE5, 0x61]


@st.composite
def _instructions(draw: st.DrawFn) -> pd.DataFrame:
    idx = sorted(set(draw(st.lists(st.integers(0, 200), min_size=0, max_size=60))))
    rows = []
    for i in idx:
        op = draw(st.sampled_from(_OPS))
        off = draw(st.integers(-50, 50))
        text = draw(
            st.sampled_from(
                [
                    f"if r1 > r2 goto pc{off:+d}",
                    f"goto pc{off:+d}",
                    "exit",
                    "r0 = 0",
                    f"call pc{off:+d}",
                    "call bpf_loop#181",
                    "",
                    "garbage",
                ]
            )
        )
        rows.append(
            {
                "insn_idx": i,
                "opcode": draw(st.sampled_from([op, f"{op:02x}", None, "zz"])),
                "asm": text,
                "src_line": draw(st.sampled_from([None, 3, 0])),
            }
        )
    return pd.DataFrame(rows, columns=["insn_idx", "opcode", "asm", "src_line"])


@settings(max_examples=150, deadline=None)
@given(_instructions(), st.integers(-1, 200))
def test_cfg_blocks_partition_the_instructions(ins: pd.DataFrame, err: int) -> None:
    visits = {int(i): 1 for i in ins["insn_idx"]}
    g = cfg_from_instructions(ins, visits, error_insn=err)
    covered = [i for n in g for i in g.nodes[n]["insns"]]
    assert sorted(covered) == sorted(int(i) for i in ins["insn_idx"])
    for _u, _v, d in g.edges(data=True):
        assert d["kind"] in ("fallthrough", "taken", "call")
    assert sum(g.nodes[n]["failing"] for n in g) == (1 if err in covered else 0)


@given(
    st.integers(-5, 10**6),
    st.one_of(st.none(), st.integers(-10, 300), st.text(max_size=4)),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_decode_jump_never_raises(idx: int, opcode: object, asm: str | None) -> None:
    j = decode_jump(idx, opcode, asm)
    assert j.kind in ("none", "goto", "cond", "call", "exit")
    assert j.target is None or isinstance(j.target, int)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 4), st.integers(1, 500), st.integers(0, 2**31 - 1))
def test_bin_codes_shape_and_membership(n: int, lanes: int, max_columns: int, seed: int) -> None:
    m = np.random.default_rng(seed).integers(-2, 17, size=(n, lanes))
    b, width = bin_codes(m, max_columns)
    assert b.shape[1] == lanes and b.shape[0] <= max(max_columns, 1) and b.shape[0] * width >= n
    for i in range(b.shape[0]):
        for j in range(lanes):
            assert b[i, j] in m[i * width : (i + 1) * width, j]
