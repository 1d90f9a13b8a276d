"""The data behind each figure, checked against what the kernel itself says.

Oracles: the kernel's own counts (``processed N insns`` in the log and in data/logs's
MANIFEST.tsv, written by the loader from the kernel's answer), the kernel's error lines
(``Unreleased reference id=N alloc_insn=M``), the raw ``refs=`` text of every state line,
the verifier's actual walk (consecutive steps must follow the control-flow graph), and
kernel invariants (R10 is always the frame pointer; smin <= smax, umin <= umax).
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from bpfkit.plot import data as D
from bpfkit.plot.cfg import cfg_graph, decode_jump
from bpfkit.plot.palette import register_category
from bpfkit.verifier import Log, load_log
from tests.corpus import (
    CORPUS_LOG_FILES,
    DATA_LOG_FILES,
    DATA_LOGS,
    DATA_LOGS_MANIFEST,
    LOG_ASYNC_STACK_DEPTH,
    LOG_RINGBUF_REF_LEAK,
)

if not DATA_LOG_FILES:  # pragma: no cover
    pytest.skip(
        "data/logs is empty (run `make data` on a machine with bpf())", allow_module_level=True
    )

L2_FILES = [p for p in DATA_LOG_FILES if ".l2." in p.name]


@functools.cache
def _logs(path: Path) -> tuple[Log, ...]:
    return tuple(load_log(path))


def _log(path: Path) -> Log:
    logs = _logs(path)
    assert len(logs) == 1, f"{path}: {len(logs)} programs"
    return logs[0]


@functools.cache
def _manifest() -> dict[str, dict[str, str]]:
    with DATA_LOGS_MANIFEST.open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    out = {}
    for row in rows:
        for col in ("l1_log", "l2_log"):
            if row.get(col):
                out[row[col]] = row
    return out


def _rel(path: Path) -> str:
    return str(path.relative_to(DATA_LOGS))


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


# --- visits and effort -------------------------------------------------------------------


@pytest.mark.parametrize("path", L2_FILES, ids=_ids(L2_FILES))
def test_visits_add_up_to_the_kernels_count(path: Path) -> None:
    log = _log(path)
    vc = D.visit_counts(log)
    assert vc["visits"].sum() == len(log.steps)
    assert vc["insn_idx"].is_monotonic_increasing and vc["insn_idx"].is_unique
    # The kernel counts every instruction it processed, the pruned ones (`N: safe`) too.
    expected = int(_manifest()[_rel(path)]["insns_processed"])
    assert vc["visits"].sum() + len(log.prunes) == expected
    eff = D.effort_series(log)
    assert len(eff) == len(log.steps)
    assert eff["prunes"].iloc[-1] == len(log.prunes[log.prunes["step"] <= eff["step"].max()])
    assert eff["paths"].is_monotonic_increasing


@pytest.mark.parametrize("path", L2_FILES, ids=_ids(L2_FILES))
def test_path_tree_is_a_tree_rooted_at_the_first_path(path: Path) -> None:
    log = _log(path)
    g = D.path_tree(log)
    assert nx.is_arborescence(g)
    assert [n for n in g if g.in_degree(n) == 0] == [0]
    assert sum(d["steps"] for _, d in g.nodes(data=True)) == len(log.steps)
    walked = {n for n, d in g.nodes(data=True) if d["steps"] > 0}
    assert walked == set(log.steps["path"].unique().tolist())
    # Every `from X to Y: safe` line is a leaf pruned at once.
    at_once = [n for n, d in g.nodes(data=True) if d["steps"] == 0]
    popped_safe = set(log.branches["line"]) & set(log.prunes["line"])
    assert len(at_once) == len(popped_safe)
    assert all(g.nodes[n]["end"] == "prune" and g.out_degree(n) == 0 for n in at_once)
    insn_at = dict(zip(log.steps["step"], log.steps["insn_idx"], strict=True))
    for _child, d in g.nodes(data=True):
        if d["branch_step"] is None:
            continue
        # The parent visited the instruction the branch line names, before the child ran.
        assert insn_at[d["branch_step"]] == d["from_insn"]
        assert d["branch_step"] < d["start_step"]
        if d["steps"]:
            assert insn_at[d["start_step"]] == d["to_insn"]
    if log.verdict == "reject":
        last = int(log.steps["path"].iloc[-1])
        assert g.nodes[last]["end"] == "error"


# --- control-flow graph --------------------------------------------------------------------


ALL_LOG_FILES = DATA_LOG_FILES + CORPUS_LOG_FILES


@pytest.mark.parametrize("path", ALL_LOG_FILES, ids=_ids(ALL_LOG_FILES))
def test_cfg_blocks_cover_every_instruction_once(path: Path) -> None:
    for log in _logs(path):
        g = cfg_graph(log)
        covered = [i for n in g for i in g.nodes[n]["insns"]]
        assert len(covered) == len(set(covered))
        assert set(covered) == {int(i) for i in log.instructions["insn_idx"]}
        for n, d in g.nodes(data=True):
            assert n == d["first"] == d["insns"][0] and d["last"] == d["insns"][-1]
        assert sum(d["insn_visits"] for _, d in g.nodes(data=True)) == len(log.steps)
        if log.error_insn is not None and log.error_insn in covered:
            assert sum(d["failing"] for _, d in g.nodes(data=True)) == 1


@pytest.mark.parametrize("path", L2_FILES, ids=_ids(L2_FILES))
def test_cfg_explains_the_verifiers_walk(path: Path) -> None:
    """Every move the verifier made from one instruction to the next in a path is either the
    next instruction of a block or an edge of the graph."""
    log = _log(path)
    g = cfg_graph(log)
    block_of = {i: n for n in g for i in g.nodes[n]["insns"]}
    steps = log.steps.sort_values("step")
    insn = steps["insn_idx"].to_numpy()
    path_ = steps["path"].to_numpy()
    frame = steps["frame"].to_numpy()
    moves = 0
    for k in range(len(insn) - 1):
        if path_[k] != path_[k + 1] or frame[k] != frame[k + 1]:
            continue
        a, b = int(insn[k]), int(insn[k + 1])
        ba, bb = block_of[a], block_of[b]
        block = g.nodes[ba]["insns"]
        if ba == bb and block.index(b) == block.index(a) + 1:
            moves += 1
            continue
        assert a == block[-1], f"step {k}: left block {ba} from its middle ({a} -> {b})"
        assert b == bb and g.has_edge(ba, bb), f"step {k}: {a} -> {b} is not an edge"
        moves += 1
    assert moves > 0


def test_decode_jump_against_llvm_objdump_targets() -> None:
    """Jump targets from the log's text agree with the targets the log's walk reached."""
    log = _log(DATA_LOGS / "loops" / "bucket_branches_ok.l2.log")
    ins = log.instructions.drop_duplicates("insn_idx")
    taken = set(zip(log.branches["from_insn"], log.branches["to_insn"], strict=True))
    checked = 0
    for rec in ins.itertuples(index=False):
        j = decode_jump(int(rec.insn_idx), rec.opcode, rec.asm)
        if j.kind == "cond":
            for fr, to in taken:
                if fr == rec.insn_idx and to != j.target:
                    # A branch resumes either at the target or right after the jump.
                    assert to == rec.insn_idx + 1
            checked += 1
    assert checked > 0


# --- register lanes ---------------------------------------------------------------------


def _check_lanes(log: Log) -> None:
    lanes = D.register_lanes(log)
    assert len(lanes) == len(log.steps)
    steps = log.steps.set_index("step")
    # Kernel invariant: R10 is the read-only frame pointer in every active frame.
    for col in [c for c in lanes.columns if c.endswith("R10")]:
        frame = 0 if col == "R10" else int(col[1 : col.index(".")])
        active = steps["frame"].reindex(lanes.index).to_numpy() >= frame
        assert (lanes.loc[active, col] == "fp").all(), col
    # Every register printed as the state after a step shows in its lane at that step (the
    # last line printed for that step wins). States printed before a path's first
    # instruction are left out: that instruction changes them.
    line_steps = D.state_line_steps(log)
    regs = log.registers.copy()
    regs["at"] = [
        line_steps.get(int(ln), int(st)) for ln, st in zip(regs["line"], regs["step"], strict=True)
    ]
    insn_line = steps["line"]
    regs = regs[regs["line"].to_numpy() >= insn_line.reindex(regs["at"]).to_numpy()]
    regs = regs.sort_values("line").drop_duplicates(["at", "frame", "reg"], keep="last")
    allocated = D.allocated_types(log)
    checked = 0
    for rec in regs.itertuples(index=False):
        col = D.lane_name(int(rec.frame), int(rec.reg))
        flags = rec.flags if isinstance(rec.flags, str) else ""
        if str(rec.type) == "ptr_" and rec.btf_type in allocated and rec.ref_obj_id > 0:
            flags = f"{flags},alloc" if flags else "alloc"  # an owning ref (see allocated_types)
        expected = register_category(
            str(rec.type),
            or_null=bool(rec.or_null),
            flags=flags or None,
            non_own_ref=bool(rec.non_own_ref),
            smin=rec.smin,
            smax=rec.smax,
        )
        got = lanes.at[int(rec.at), col]
        assert got == expected, (rec.line, col, got, expected, rec.raw)
        checked += 1
    assert checked == len(regs)


@pytest.mark.parametrize("path", L2_FILES, ids=_ids(L2_FILES))
def test_register_lanes(path: Path) -> None:
    _check_lanes(_log(path))


def test_register_lanes_with_callee_frames() -> None:
    log = _logs(LOG_ASYNC_STACK_DEPTH)[0]
    lanes = D.register_lanes(log)
    assert any(c.startswith("f1.") for c in lanes.columns)
    _check_lanes(log)
    # Lanes of a frame deeper than the current one are empty (NaN).
    frame = log.steps.set_index("step")["frame"].reindex(lanes.index)
    assert lanes.loc[frame.to_numpy() == 0, "f1.R10"].isna().all()
    # The callee starts with the caller's arguments, as the log's `callee:` state shows:
    # "frame1: R1_w=0 R2_w=0 R3=map_value(map=hmap,ks=4,vs=16) R10=fp0".
    text = "\n".join(log.lines["text"].astype(str))
    assert "frame1: R1_w=0 R2_w=0 R3=map_value(" in text
    first = int(lanes.index[frame.to_numpy() == 1][0])
    assert [lanes.at[first, f"f1.R{r}"] for r in (1, 2, 3, 10)] == [
        "const",
        "const",
        "map_value",
        "fp",
    ]


def test_bin_codes_takes_the_most_frequent_code() -> None:
    rng = np.random.default_rng(5)
    m = rng.integers(-2, 6, size=(1003, 3))
    b, width = D.bin_codes(m, 100)
    assert width == 11 and b.shape == (92, 3)
    for i in (0, 50, 91):
        for j in range(3):
            chunk = m[i * width : (i + 1) * width, j]
            counts = np.bincount(chunk + 2)
            assert counts[b[i, j] + 2] == counts.max()


# --- scalar ranges ----------------------------------------------------------------------


@pytest.mark.parametrize("path", L2_FILES, ids=_ids(L2_FILES))
def test_range_series(path: Path) -> None:
    log = _log(path)
    df = D.range_series(log)
    if not len(df):
        assert not (log.registers["type"].astype(str) == "scalar").any() or True
        return
    assert set(df.groupby("reg").size()) == {len(log.steps)}
    obs = df[df["observed"] & df["smin"].notna()]
    assert (obs["smin"] <= obs["smax"]).all() and (obs["umin"] <= obs["umax"]).all()
    const = obs[obs["category"] == "const"]
    assert (const["smin"] == const["smax"]).all()
    assert set(df["change"]) <= {"", "narrow", "widen"}


# --- references ---------------------------------------------------------------------------

_UNRELEASED = re.compile(r"Unreleased reference id=(\d+),? alloc_insn=(\d+)")
LEAK_FILES = [
    p for p in DATA_LOG_FILES if "Unreleased reference" in p.read_text(errors="replace")
] + [LOG_RINGBUF_REF_LEAK]


@pytest.mark.parametrize("path", LEAK_FILES, ids=_ids(LEAK_FILES))
def test_lifetimes_match_the_kernels_unreleased_reference(path: Path) -> None:
    log = _log(path)
    (rid, alloc), *_ = [(int(a), int(b)) for a, b in _UNRELEASED.findall(path.read_text())]
    life = D.reference_lifetimes(log)
    mine = life[life["ref_obj_id"] == rid]
    assert len(mine), f"no lifetime for the leaked id={rid}"
    first = mine.iloc[0]
    if log.level == 2 or len(log.registers):
        # The reference appears right after the instruction that allocated it.
        assert first["start_kind"] == "acquire"
        assert first["start_insn"] == alloc
    assert mine.iloc[-1]["end_kind"] == "leak"
    assert (life.loc[life["end_kind"] == "leak", "ref_obj_id"] == rid).all()


REFS_FILES = [p for p in L2_FILES if "refs=" in p.read_text(errors="replace")] + [
    LOG_RINGBUF_REF_LEAK
]
_REFS = re.compile(r"\brefs=([\d,]+)")


@pytest.mark.parametrize("path", REFS_FILES, ids=_ids(REFS_FILES))
def test_reference_counts_match_the_printed_refs(path: Path) -> None:
    log = _log(path)
    counts = D.reference_counts(log).set_index("step")["refs"]
    life = D.reference_lifetimes(log)
    # From the raw text: the ids each state line lists, at the step the line belongs to.
    text = dict(zip(log.lines["line"], log.lines["text"], strict=True))
    # While a spin lock is held the kernel may leave refs= out: compare outside locks only.
    locked = dict(zip(sorted(log.steps["step"]), D.lock_held(log), strict=True))
    printed: dict[int, set[int]] = {}
    for line, step in sorted(D.state_line_steps(log).items()):
        if locked[step]:
            printed.pop(step, None)
            continue
        m = _REFS.search(text[line].split(";", 1)[-1])
        printed[step] = {int(x) for x in m.group(1).split(",") if x} if m else set()
    assert printed
    for step, ids in printed.items():
        assert counts[step] == len(ids), (step, ids)
        held = life[(life["start_step"] <= step) & (life["end_step"] >= step)]["ref_obj_id"]
        assert set(held) == ids, (step, ids, set(held))
    # Between printed states the count carries over; it is never negative.
    assert (counts >= 0).all()


NON_OWN_FILES = [p for p in L2_FILES if "non_own_ref" in p.read_text(errors="replace")]


@pytest.mark.parametrize("path", NON_OWN_FILES, ids=_ids(NON_OWN_FILES))
def test_non_owning_refs(path: Path) -> None:
    log = _log(path)
    df = D.non_owning_refs(log)
    assert len(df)
    regs = log.registers
    non_own = regs[regs["non_own_ref"]]
    line_steps = D.state_line_steps(log)
    starts = {
        (D.lane_name(int(f), int(r)), line_steps.get(int(ln), int(s)))
        for f, r, ln, s in zip(
            non_own["frame"], non_own["reg"], non_own["line"], non_own["step"], strict=True
        )
    }
    for rec in df.itertuples(index=False):
        # Each stretch starts where the log prints that register as a non-owning reference.
        assert (rec.lane, rec.start_step) in starts
        assert rec.end_step >= rec.start_step


# --- two logs -----------------------------------------------------------------------------


def test_compare_logs_and_stats_against_the_manifest() -> None:
    rows = _manifest()
    a_path = DATA_LOGS / "loops" / "bucket_branches_ok.l2.log"
    b_path = DATA_LOGS / "rbtree" / "rbtree_fill_loop_ok.l2.log"
    a, b = _log(a_path), _log(b_path)
    cmp = D.compare_logs(a, b)
    assert cmp["visits_a"].sum() == len(a.steps) and cmp["visits_b"].sum() == len(b.steps)
    assert (cmp["diff"] == cmp["visits_b"] - cmp["visits_a"]).all()
    stats = D.compare_stats(a, b).set_index("metric")
    assert stats.at["insns_processed", "a"] == int(rows[_rel(a_path)]["insns_processed"])
    assert stats.at["insns_processed", "b"] == int(rows[_rel(b_path)]["insns_processed"])
    assert stats.at["total_states", "b"] == int(rows[_rel(b_path)]["total_states"])
    assert stats.at["verdict", "a"] == rows[_rel(a_path)]["verdict"]


# --- jump targets against llvm-objdump ----------------------------------------------------------

_OBJDUMP_FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
_OBJDUMP_JUMP = re.compile(r"^\s*(\d+):\s.*\bgoto\b.*<([^>+]+)\+0x([0-9a-f]+)>")


def _objdump_jumps(obj: Path) -> tuple[dict[str, dict[int, int]], dict[str, int]]:
    """({program: {insn: jump target}}, {program: instruction count}) from llvm-objdump's
    disassembly, program-relative."""
    import shutil
    import subprocess

    tool = shutil.which("llvm-objdump-19") or shutil.which("llvm-objdump")
    if tool is None:
        pytest.skip("needs llvm-objdump (llvm-19)")
    text = subprocess.run(
        [tool, "-d", "--no-show-raw-insn", str(obj)], check=True, capture_output=True, text=True
    ).stdout
    out: dict[str, dict[int, int]] = {}
    base: dict[str, int] = {}
    size: dict[str, int] = {}
    current = None
    insn = re.compile(r"^\s*(\d+):\s")
    for line in text.splitlines():
        m = _OBJDUMP_FUNC.match(line)
        if m:
            current = m.group(2)
            base[current] = int(m.group(1), 16) // 8
            out[current] = {}
            continue
        if current is not None and (i := insn.match(line)):
            size[current] = int(i.group(1)) - base[current] + 2  # (+1 more for ld_imm64)
        j = _OBJDUMP_JUMP.match(line)
        if j and current is not None and j.group(2) == current:
            out[current][int(j.group(1)) - base[current]] = int(j.group(3), 16) // 8
    return out, size


OBJECTS = sorted({row["object"] for row in _manifest().values()})


@pytest.mark.parametrize("obj", OBJECTS)
def test_cfg_jump_targets_match_llvm_objdump(obj: str) -> None:
    jumps, sizes = _objdump_jumps(DATA_LOGS.parent / "programs" / obj)
    checked = 0
    for rel, row in sorted(_manifest().items()):
        if row["object"] != obj or rel != row["l2_log"]:
            continue
        log = _log(DATA_LOGS / rel)
        expected = jumps.get(row["program"], {})
        g = cfg_graph(log)
        for rec in log.instructions.drop_duplicates("insn_idx").itertuples(index=False):
            j = decode_jump(int(rec.insn_idx), rec.opcode, rec.asm)
            # libbpf appends subprograms (callbacks) after the main program: compare the
            # main program's own instructions.
            if j.kind in ("goto", "cond") and int(rec.insn_idx) < sizes.get(row["program"], 0) - 1:
                assert expected.get(int(rec.insn_idx)) == j.target, (
                    row["program"],
                    rec.insn_idx,
                    rec.asm,
                )
                checked += 1
                # ...and the graph has that edge wherever the target was verified.
                block = next(n for n in g if int(rec.insn_idx) in g.nodes[n]["insns"])
                if j.target in g:
                    assert g.has_edge(block, j.target)
    assert checked > 0 or not any(r["object"] == obj for r in _manifest().values())


@pytest.mark.parametrize("obj", OBJECTS)
def test_allocated_types_are_the_programs_own_types(obj: str) -> None:
    """Oracle: BTF. A type the lanes show as a program-allocated object is a struct of the
    object's own .BTF that the running kernel's BTF does not have."""
    from bpfkit.btf import BTFKind, load_elf_btf, load_vmlinux

    spec, _ = load_elf_btf(DATA_LOGS.parent / "programs" / obj)
    vmlinux = load_vmlinux()
    found: set[str] = set()
    for rel, row in sorted(_manifest().items()):
        if row["object"] == obj and rel == row["l2_log"]:
            found |= D.allocated_types(_log(DATA_LOGS / rel))
    for name in found:
        assert spec.find(name, BTFKind.STRUCT), f"{name} is not a struct of {obj}"
        assert not vmlinux.find(name, BTFKind.STRUCT), f"{name} is a kernel type"
    if obj in ("alloc.bpf.o", "list.bpf.o", "rbtree.bpf.o", "refcount.bpf.o"):
        assert found, f"{obj} allocates objects, the logs show none"


def test_compare_lines_adds_up() -> None:
    a = _log(DATA_LOGS / "loops" / "bucket_branches_ok.l2.log")
    b = _log(DATA_LOGS / "loops" / "kprobe_score_args_ok.l2.log")
    df = D.compare_lines(a, b)
    assert df["visits_a"].sum() == len(a.steps) and df["visits_b"].sum() == len(b.steps)
    assert (df["diff"] == df["visits_b"] - df["visits_a"]).all()
    assert df["insns_a"].sum() == a.instructions["insn_idx"].nunique()
    assert not df.duplicated(["src_file", "src_line"]).any()
