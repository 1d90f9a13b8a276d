"""Logs as people paste them into issues: every real log, wrapped the ways tools and people
wrap it, reads line for line like the original.

The oracle is the original log itself: after a prefix is added to each line (indentation,
journald, CI timestamps, kubectl, logfmt), each line must get the kind it had without it, and
the program must keep its verdict, steps and register states. Old-kernel state spellings and
newer-kernel summary lines are checked against the kernel's own printf formats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bpfkit.verifier import UNRECOGNIZED, classify, parse_log
from bpfkit.verifier.grammar import strip_prefix
from bpfkit.verifier.log import read_text

from .conftest import ALL_LOG_FILES, log_id

# kernel-printed logs only (a libbpf/veristat wrapper file keeps its own wrapper lines)
PLAIN_LOGS = [
    p
    for p in ALL_LOG_FILES
    if "PROG LOAD LOG --" not in read_text(p) and "PROCESSING " not in read_text(p)
]


def _logfmt(line: str) -> str:
    return f'time="2025-01-02T03:04:05Z" level=warning msg={json.dumps(line)} subsys=datapath-loader'


WRAPPERS: dict[str, Callable[[str], str]] = {
    "indented": lambda s: "    " + s,
    "journald": lambda s: "Dec 03 10:00:01 node-1 kernel: " + s,
    "dmesg": lambda s: "[12345.678901] " + s,
    "github-actions": lambda s: "2025-01-02T03:04:05.1234567Z " + s,
    "go-log": lambda s: "2025/01/02 03:04:05 " + s,
    "kubectl": lambda s: "[pod/cilium-x7k2p/cilium-agent] " + s,
    "logfmt": _logfmt,
    "ci-and-journald": lambda s: "2025-01-02T03:04:05Z Dec  3 10:00:01 node-1 kernel: " + s,
}


def _kinds(text: str) -> list[tuple[str, int | None]]:
    return [
        (r[1], None if r[2] < 0 else r[2])
        for lg in parse_log(text, name="p")
        for r in lg._b.rows()  # noqa: SLF001 - the rows, without building DataFrames
    ]


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
@pytest.mark.parametrize("path", PLAIN_LOGS[:: max(1, len(PLAIN_LOGS) // 24)], ids=log_id)
def test_wrapped_log_reads_like_the_original(path: Path, wrapper: str) -> None:
    text = read_text(path)
    lines = text.splitlines()[:3000]
    original = "\n".join(lines) + "\n"
    wrap = WRAPPERS[wrapper]
    pasted = "\n".join(wrap(s) if classify(s).kind != "blank" else s for s in lines) + "\n"
    want = _kinds(original)
    got = _kinds(pasted)
    if wrapper in ("logfmt",):
        # a plain message inside a tool's record may be the tool's own: never a kernel kind
        got = [("message", i) if k == "tool" else (k, i) for k, i in got]
    assert got == want
    a, b = parse_log(original, name="p"), parse_log(pasted, name="p")
    assert [lg.verdict for lg in a] == [lg.verdict for lg in b]
    assert [lg.error for lg in a] == [lg.error for lg in b]
    assert [lg.stats for lg in a] == [lg.stats for lg in b]


def test_tool_lines_get_a_kind_of_their_own() -> None:
    text = "\n".join(
        [
            'time="2025-01-02T03:04:05Z" level=error msg="Failed to load program" error="x"',
            'level=warning msg="0: R1=ctx() R10=fp0" subsys=datapath-loader',
            'level=warning msg="0: (b7) r0 = 0                       ; R0_w=0" subsys=x',
            'level=warning msg="1: (95) exit" subsys=x',
            "level=warning msg=\"R0 leaks addr as return value\" subsys=x",
            'level=info msg="Retrying in 5s" subsys=x',
            "Dec 03 10:00:01 node-1 cilium-agent[812]: unable to attach program",
        ]
    )
    [lg] = parse_log(text, name="p")
    kinds = list(lg.lines["kind"].astype(str))
    assert kinds == ["tool", "state", "insn_state", "insn", "error", "tool", "tool"]
    assert lg.error == "R0 leaks addr as return value"
    assert lg.verdict == "reject"


def test_a_state_wrapped_over_lines_reads_as_one() -> None:
    """A mail or issue wraps a long state line; the head decodes up to the cut and the rest
    is a state line of its own, not an unrecognized one."""
    path = next(p for p in PLAIN_LOGS if "long_loop" not in p.name and p.suffix == ".log")
    lines = read_text(path).splitlines()
    wrapped: list[str] = []
    n_wrapped = 0
    for s in lines:
        if len(s) > 100 and " R" in s and s[:1].isdigit():
            cut = s.index("=", 80) + 3 if "=" in s[80:] else 80
            wrapped += [s[:cut], s[cut:]]
            n_wrapped += 1
        else:
            wrapped.append(s)
    assert n_wrapped
    [orig, *_] = parse_log("\n".join(lines) + "\n", name="p")
    [lg, *_] = parse_log("\n".join(wrapped) + "\n", name="p")
    assert lg.kinds[UNRECOGNIZED] == 0
    assert lg.verdict == orig.verdict
    assert len(lg.steps) == len(orig.steps)


def test_truncated_state_line() -> None:
    [lg] = parse_log(
        "0: R1=ctx() R10=fp0\n"
        "5: (bf) r1 = r6  ; R1_w=ctx() R2=scalar(umax=255,var_off=(0x0; 0xff)) R3=sca(truncated...)\n"
        "R6 invalid mem access 'scalar'\n",
        name="p",
    )
    assert list(lg.lines["kind"].astype(str)) == ["state", "insn_state", "error"]
    assert sorted(lg.registers.loc[lg.registers["line"] == 2, "reg"]) == [1, 2]


def test_refs_only_state_line() -> None:
    """A state that holds only references: ``print_verifier_state`` prints `` refs=7`` and
    nothing else when no register or slot changed (6.x level-2 logs)."""
    assert classify("157: refs=7").kind == "state"
    [lg] = parse_log("0: R1=ctx() R10=fp0\n157: refs=7\n", name="p")
    assert lg.kinds[UNRECOGNIZED] == 0
    assert list(lg.refs["ref_obj_id"]) == [7]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        # 4.9-4.13 (print_verifier_state with min_value/max_value, map_value_adj)
        ("3: R0=inv R1=inv,min_value=0,max_value=255 R10=fp", "state"),
        ("R1=map_value_adj(ks=8,vs=8,id=0),min_value=0,max_value=4 R10=fp", "state"),
        ("from 5 to 8: R0=imm0 R10=fp", "branch"),
        ("4: (85) call -1", "insn"),
        ("4: (85) call_-1", "insn"),
        # the per-subprogram count of newer kernels
        ("insns processed 12591+75421+455", "summary"),
        ("processed 88467 insns (limit 1000000) max_states_per_insn 44 total_states 4141 "
         "peak_states 1137 mark_read 56", "summary"),
    ],
)
def test_old_and_new_kernel_forms(line: str, kind: str) -> None:
    assert classify(line).kind == kind
    [lg] = parse_log(line + "\n", name="p")
    assert lg.kinds[UNRECOGNIZED] == 0


def test_old_state_values_decode() -> None:
    [lg] = parse_log("0: R1=ctx R10=fp\n3: R0=inv R1=inv,min_value=0,max_value=255 R10=fp\n",
                     name="p")
    r1 = lg.registers[(lg.registers["line"] == 2) & (lg.registers["reg"] == 1)].iloc[0]
    assert (r1["type"], r1["smin"], r1["umax"]) == ("scalar", 0, 255)


@pytest.mark.parametrize(
    "line",
    [
        "R6 invalid mem access 'scalar'",
        "invalid access to map value, value_size=8 off=8 size=8",
        "Unreleased reference id=2 alloc_insn=6",
        "12: (bf) r1 = r6",
        "func#0 @0",
    ],
)
def test_kernel_lines_have_no_prefix(line: str) -> None:
    assert strip_prefix(line) is None
