"""The static ownership flow against the kernel: on every program in data/, the predicted verdict
agrees with the verdict the 6.18 kernel really gave (data/logs/MANIFEST.tsv, captured through
bpf()) for at least 95% of programs; the mistake kind agrees with EXPECTED.tsv where the kernel
rejected; the instruction agrees with the one the kernel's log stopped at. Disagreements are
printed as a table (visible with ``pytest -rA``) and raised as warnings."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import warnings
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.errors import BpfkitError
from bpfkit.obj import Object, load_object
from bpfkit.ownership.static import (
    MISTAKE_KINDS,
    Prediction,
    analyze,
    flows_frame,
    match_kernel_message,
    predict,
    sites_frame,
)
from tests.corpus import CORPUS_BTF, DATA_EXPECTED, DATA_LOGS, DATA_LOGS_MANIFEST, DATA_PROGRAMS

_INSN = re.compile(r"^(\d+): \(([0-9a-f]{2})\)")


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@cache
def _object(name: str) -> Object:
    return load_object(DATA_PROGRAMS / name)


@cache
def _predictions() -> dict[tuple[str, str], Prediction]:
    out = {}
    for row in _tsv(DATA_LOGS_MANIFEST):
        [pred] = predict(_object(row["object"]), row["program"])
        out[(row["object"], row["program"])] = pred
    return out


def _kernel_error_insn(l1_log: str) -> int | None:
    """The last instruction the kernel's level-1 log shows before its error message."""
    last = None
    for line in (DATA_LOGS / l1_log).read_text().splitlines():
        m = _INSN.match(line)
        if m:
            last = int(m[1])
    return last


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    ]
    return "\n".join(lines)


needs_data = pytest.mark.skipif(
    not DATA_LOGS_MANIFEST.exists(), reason="needs data/logs/MANIFEST.tsv (make -C data logs)"
)


@needs_data
def test_verdicts_agree_with_the_kernel() -> None:
    manifest = _tsv(DATA_LOGS_MANIFEST)
    assert len(manifest) >= 40
    preds = _predictions()
    rows, disagree = [], []
    for row in manifest:
        pred = preds[(row["object"], row["program"])]
        agree = pred.verdict == row["verdict"]
        rows.append((row["program"], row["verdict"], pred.verdict, "yes" if agree else "NO"))
        if not agree:
            disagree.append(
                (row["program"], row["verdict"], pred.verdict, row["error"][:60], pred.reason[:90])
            )
    print("\nstatic prediction vs the kernel's verdict (data/logs/MANIFEST.tsv)")
    print(_table(rows, ("program", "kernel", "predicted", "agree")))
    share = 1 - len(disagree) / len(manifest)
    print(f"agreement: {len(manifest) - len(disagree)}/{len(manifest)} = {share:.1%}")
    if disagree:
        text = _table(disagree, ("program", "kernel", "predicted", "kernel error", "our reason"))
        print("disagreements:\n" + text)
        warnings.warn(f"static prediction disagrees with the kernel on:\n{text}", stacklevel=1)
    assert share >= 0.95


@needs_data
def test_mistake_kinds_agree_with_expected() -> None:
    expected = {(r["object"], r["program"]): r for r in _tsv(DATA_EXPECTED)}
    preds = _predictions()
    rows, compared, bad = [], 0, []
    for row in _tsv(DATA_LOGS_MANIFEST):
        if row["verdict"] != "reject":
            continue
        key = (row["object"], row["program"])
        want = expected[key]["mistake"]
        pred = preds[key]
        got = pred.mistakes[0].kind if pred.mistakes else "-"
        assert got in (*MISTAKE_KINDS, "-")
        compared += 1
        rows.append((row["program"], want, got, "yes" if got == want else "NO"))
        if got != want:
            bad.append((row["program"], want, got, pred.reason[:100]))
    print("\nmistake kind (where the kernel rejected) vs EXPECTED.tsv")
    print(_table(rows, ("program", "expected", "predicted", "agree")))
    if bad:
        warnings.warn(
            "mistake kind disagreements:\n"
            + _table(bad, ("program", "expected", "predicted", "reason")),
            stacklevel=1,
        )
    assert compared >= 20
    assert len(bad) / compared <= 0.05


@needs_data
def test_mistake_insn_is_where_the_kernel_stopped() -> None:
    preds = _predictions()
    rows, compared, same, same_rule = [], 0, 0, 0
    for row in _tsv(DATA_LOGS_MANIFEST):
        if row["verdict"] != "reject":
            continue
        pred = preds[(row["object"], row["program"])]
        kernel_insn = _kernel_error_insn(row["l1_log"])
        first = pred.mistakes[0] if pred.mistakes else None
        ours = first.insn if first else None
        rule_ok = first is not None and match_kernel_message(first.rule, row["error"])
        compared += 1
        same += ours == kernel_insn
        same_rule += rule_ok
        rows.append(
            (
                row["program"],
                str(kernel_insn),
                str(ours),
                "yes" if ours == kernel_insn else "NO",
                first.rule if first else "-",
                "yes" if rule_ok else "NO",
            )
        )
    print("\nfirst mistake's insn (kernel numbering) and rule vs where and why the kernel stopped")
    print(_table(rows, ("program", "kernel insn", "our insn", "agree", "our rule", "same rule")))
    assert same / compared >= 0.9
    assert same_rule / compared >= 0.9


@needs_data
def test_mistake_has_source_line() -> None:
    for (obj_name, prog), pred in _predictions().items():
        for m in pred.mistakes:
            assert m.src_line is not None, (prog, m)
            li = _object(obj_name).program(prog).source(m.insn_idx)
            assert li is not None and li.line == m.src_line


OBJDUMP = shutil.which("llvm-objdump-19")


@pytest.mark.skipif(OBJDUMP is None, reason="needs llvm-objdump-19 for the CO-RE annotations")
@pytest.mark.parametrize("path", sorted(DATA_PROGRAMS.glob("*.bpf.o")), ids=lambda p: p.name)
def test_allocation_types_match_objdump_core_relocs(path: Path) -> None:
    """llvm-objdump -dr prints ``CO-RE <local_type_id> [N] struct T`` under the ld_imm64 that
    feeds bpf_obj_new_impl: the site's type must be that T."""
    assert OBJDUMP is not None
    out = subprocess.run(
        [OBJDUMP, "-dr", "--no-show-raw-insn", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    section, func = "", ""
    core: dict[tuple[str, str], list[str]] = {}
    for line in out.splitlines():
        if m := re.match(r"^Disassembly of section (.*):$", line):
            section = m[1]
        elif m := re.match(r"^[0-9a-f]{16} <(\w+)>:$", line):
            if not m[1].startswith("LBB"):
                func = m[1]
        elif m := re.search(r"CO-RE <local_type_id> \[\d+\] struct (\w+)", line):
            core.setdefault((section, func), []).append(m[1])
    obj = load_object(path)
    sites = sites_frame(obj)
    alloc = sites[sites["kfunc"].isin(["bpf_obj_new_impl", "bpf_percpu_obj_new_impl"])]
    for prog, group in alloc.groupby("program"):
        section = obj.program(str(prog)).section
        assert sorted(group["type"]) == sorted(core.get((section, str(prog)), [])), prog


@needs_data
def test_flows_end_in_sinks() -> None:
    """Accepted programs' sites all reach a sink that is not a leak; a leak shows as exit_leak."""
    for row in _tsv(DATA_LOGS_MANIFEST):
        obj = _object(row["object"])
        flows = flows_frame(obj, row["program"])
        assert set(flows["sink"]) <= {
            "drop", "release", "kptr_xchg", "list_push", "rbtree_add", "refcount_acquire", "exit_leak"
        }  # fmt: skip
        if row["verdict"] == "accept":
            assert "exit_leak" not in set(flows["sink"]), row["program"]
        if "reference leak" in row["error"]:
            assert "exit_leak" in set(flows["sink"]), row["program"]


@needs_data
def test_analysis_terminates_within_budget() -> None:
    for row in _tsv(DATA_LOGS_MANIFEST):
        an = analyze(_object(row["object"]), row["program"])
        assert an.complete, row["program"]


@pytest.mark.parametrize(
    "path",
    sorted(CORPUS_BTF.rglob("*.o")) + sorted(CORPUS_BTF.rglob("*el.elf")),
    ids=lambda p: p.name,
)
def test_corpus_objects_predict_without_crashing(path: Path) -> None:
    obj = load_object(path)
    for pred in predict(obj):
        assert pred.verdict in ("accept", "reject", "unknown")
        assert pred.reason


def test_budget_exhaustion_says_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A program the interpreter cannot finish gets "unknown" with the reason, never a guess."""
    import bpfkit.ownership.static as static

    monkeypatch.setattr(static, "MAX_STEPS", 20)
    obj = _object("loops.bpf.o")
    [pred] = static.predict(obj, "long_loop_ok")
    assert pred.verdict == "unknown" and "budget" in pred.reason
    an = static.analyze(obj, "long_loop_ok")
    assert not an.complete


def test_predict_all_programs_of_an_object() -> None:
    obj = _object("alloc.bpf.o")
    preds = predict(obj)
    assert [p.program for p in preds] == [p.name for p in obj.programs if not p.subprog]
    with pytest.raises(Exception, match="no program named"):
        predict(obj, "no_such_program")


def _exec_ranges(path: Path) -> list[tuple[int, int]]:
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as f:
        return [
            (s["sh_offset"], s["sh_size"])
            for s in ELFFile(f).iter_sections()
            if s["sh_flags"] & 0x4 and s["sh_size"]
        ]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.integers(0, 100),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6),
)
def test_mutated_programs_predict_or_error(
    tmp_path: Path, which: int, edits: list[tuple[int, int]]
) -> None:
    """Random bytes in the instructions give a prediction or a BpfkitError, never a crash."""
    objects = sorted(DATA_PROGRAMS.glob("*.bpf.o"))
    path = objects[which % len(objects)]
    data = bytearray(path.read_bytes())
    ranges = _exec_ranges(path)
    for i, (pos, value) in enumerate(edits):
        start, size = ranges[i % len(ranges)]
        data[start + pos % size] = value
    mutated = tmp_path / "m.o"
    mutated.write_bytes(bytes(data))
    try:
        preds = predict(load_object(mutated))
    except BpfkitError:
        return
    for pred in preds:
        assert pred.verdict in ("accept", "reject", "unknown") and pred.reason


def _l2_text(row: dict[str, str]) -> str:
    import lzma

    path = DATA_LOGS / row["l2_log"]
    if path.suffix == ".xz":
        with lzma.open(path, "rt") as f:
            return f.read()
    return path.read_text()


@needs_data
def test_sites_and_sinks_match_the_verifier_log() -> None:
    """The kernel's level-2 log prints every state's ``refs=`` and each register's
    ``ref_obj_id``; read by bpfkit.ownership.dynamic it gives where references were acquired
    and where they left through a call (drop, release, push, add, kptr_xchg). The static flow,
    computed from the object alone, must name the same instructions."""
    from bpfkit.ownership.dynamic import events_frame
    from bpfkit.verifier import parse_log

    for row in _tsv(DATA_LOGS_MANIFEST):
        if int(row["l2_lines"]) > 20_000:
            continue  # the 100,000-line loop log (no references) only slows the suite
        events = events_frame(parse_log(_l2_text(row))[0])
        kinds = list(zip(events["event"], events["insn_idx"], events["sink"], strict=True))
        log_sites = {int(i) for e, i, _ in kinds if e == "acquire"}
        log_sinks = {(str(s), int(i)) for e, i, s in kinds if e in ("transfer", "release")}
        obj = _object(row["object"])
        sites = sites_frame(obj, row["program"])
        flows = flows_frame(obj, row["program"])
        ours_sites = {
            int(i)
            for f, i in zip(sites["func"], sites["insn_idx"], strict=True)
            if f == row["program"]
        }
        ours_sinks = {
            (str(s), int(i))
            for s, i, f in zip(flows["sink"], flows["sink_insn"], flows["sink_func"], strict=True)
            if s not in ("exit_leak", "refcount_acquire") and f == row["program"]
        }
        assert ours_sites == log_sites, row["program"]
        assert ours_sinks == log_sinks, row["program"]


_JMP = st.sampled_from([0x10, 0x20, 0x30, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0])


@settings(max_examples=300, deadline=None)
@given(
    lo=st.integers(0, 300),
    width=st.integers(0, 40),
    k=st.integers(0, 340),
    op=_JMP,
    is32=st.booleans(),
)
def test_range_reasoning_is_sound(lo: int, width: int, k: int, op: int, is32: bool) -> None:
    """Brute force over every value of a small range: a decided comparison holds for all of
    them, and the range kept on each side of a branch contains every value that goes there."""
    from bpfkit.ownership.static import values as static

    hi = lo + width
    v = static.srange(lo, hi)
    kv = static.scalar(k)
    values = range(lo, hi + 1)
    outcomes = {x: static.cmp(op, x, k, is32) for x in values}
    decided = static.decide(op, v, kv, is32)
    if decided is not None:
        assert all(o == decided for o in outcomes.values())
    for taken in (True, False):
        narrowed = static.refined(op, v, k, taken, is32)
        if narrowed is None:
            continue
        for x, o in outcomes.items():
            if o == taken:
                assert narrowed[0] <= x <= narrowed[1], (x, narrowed)


@settings(max_examples=300, deadline=None)
@given(
    a_lo=st.integers(0, 200),
    a_w=st.integers(0, 20),
    b=st.integers(0, 20),
    op=st.sampled_from([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90]),
    is64=st.booleans(),
)
def test_alu_ranges_are_sound(a_lo: int, a_w: int, b: int, op: int, is64: bool) -> None:
    """Every concrete result of ``a op b`` over a small range of a lies in the computed range."""
    from bpfkit.ownership.static import values as static

    a = static.srange(a_lo, a_lo + a_w)
    out = static.alu_range(op, a, static.scalar(b), is64, 0)
    for x in range(a_lo, a_lo + a_w + 1):
        r = static.alu_const(op, x, b, is64, 0)
        if r is None:
            continue
        assert out.lo <= r <= out.hi, (x, op, b, r, out)
