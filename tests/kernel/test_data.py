"""The captured data agrees with itself: manifest vs logs, EXPECTED.tsv vs objects; the
objects rebuild byte for byte. Runs everywhere (the rebuild needs clang-19 and bpftool)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest

from bpfkit.kernel import (
    list_programs,
    parse_verifier_stats,
    read_captured_log,
    read_manifest,
    verifier_error_line,
)
from bpfkit.kernel.capture import MANIFEST_COLUMNS
from bpfkit.kernel.expected import MISTAKE_KINDS, expected_frame, read_expected
from tests.corpus import (
    DATA,
    DATA_EXPECTED,
    DATA_LOGS,
    DATA_LOGS_MANIFEST,
    DATA_LONG_LOOP_L2,
    DATA_OBJECTS,
    DATA_PROGRAMS,
)

MISTAKES = {
    "none",
    "leak",
    "leak_on_path",
    "use_after_release",
    "double_release",
    "push_without_lock",
    "non_owning_after_unlock",
    "kptr_type_mismatch",
    "wrong_contains_node",
}

MANIFEST = read_manifest(DATA_LOGS_MANIFEST)


def _expected() -> list[dict[str, str]]:
    with DATA_EXPECTED.open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_manifest_header_and_size() -> None:
    header = DATA_LOGS_MANIFEST.read_text().splitlines()[0].split("\t")
    assert tuple(header) == MANIFEST_COLUMNS
    assert len(MANIFEST) >= 20
    assert {r.verdict for r in MANIFEST} == {"accept", "reject"}


@pytest.mark.parametrize("row", MANIFEST, ids=lambda r: r.program)
def test_manifest_row_matches_its_logs(row) -> None:  # type: ignore[no-untyped-def]
    l1 = read_captured_log(DATA_LOGS / row.l1_log)
    l2 = read_captured_log(DATA_LOGS / row.l2_log)
    assert l1.count("\n") == row.l1_lines
    assert l2.count("\n") == row.l2_lines
    s1, s2 = parse_verifier_stats(l1), parse_verifier_stats(l2)
    for s in (s1, s2):
        # The stats do not depend on the log level (same kernel, same object).
        assert s.insns_processed == row.insns_processed
        assert s.total_states == row.total_states
        assert s.peak_states == row.peak_states
        assert s.max_states_per_insn == row.max_states_per_insn
        assert s.mark_read == row.mark_read
        assert (s.stack_depth or "") == row.stack_depth
        assert s.verification_time_usec is not None  # captured with the stats bit
    if row.verdict == "reject":
        assert row.errno > 0
        assert verifier_error_line(l1) == row.error
        assert verifier_error_line(l2) == row.error
    else:
        assert row.errno == 0 and row.error == ""


def test_logs_dir_has_only_manifest_files() -> None:
    listed = {r.l1_log for r in MANIFEST} | {r.l2_log for r in MANIFEST}
    on_disk = {
        p.relative_to(DATA_LOGS).as_posix() for p in DATA_LOGS.rglob("*.log*") if p.is_file()
    }
    assert on_disk == listed


def test_long_loop_log_is_long_and_small_on_disk() -> None:
    text = read_captured_log(DATA_LONG_LOOP_L2)
    assert text.count("\n") >= 100_000
    total = sum(p.stat().st_size for p in DATA_LOGS.rglob("*") if p.is_file())
    assert total < 20 << 20


@pytest.mark.parametrize("program", ["bucket_branches_ok", "kprobe_score_args_ok", "long_loop_ok"])
def test_loop_programs_give_branchy_level2_logs(program: str) -> None:
    """The loop programs exist for their logs: branches taken from the stack, pruned states
    ("N: safe") and several states, as the log parser and plots need."""
    row = next(r for r in MANIFEST if r.program == program)
    text = read_captured_log(DATA_LOGS / row.l2_log)
    lines = text.splitlines()
    assert sum(ln.startswith("from ") for ln in lines) >= 10
    assert sum(ln.endswith(": safe") for ln in lines) >= 10
    assert row.total_states is not None and row.total_states >= 20
    assert row.verdict == "accept"


def test_expected_lists_every_program_of_every_object() -> None:
    expected = _expected()
    pairs = {(e["object"], e["program"]) for e in expected}
    assert len(pairs) == len(expected), "duplicate rows in EXPECTED.tsv"
    in_objects = {(p.object, p.program) for obj in DATA_OBJECTS for p in list_programs(obj)}
    assert pairs == in_objects
    assert pairs == {(r.object, r.program) for r in MANIFEST}
    for e in expected:
        assert e["expected_verdict"] in ("accept", "reject")
        assert e["mistake"] in MISTAKES
        assert (e["mistake"] == "none") == (e["expected_verdict"] == "accept")
        assert e["description"]
    # Every mistake class is represented by at least one program.
    assert {e["mistake"] for e in expected} == MISTAKES


def test_read_expected_agrees_with_the_file() -> None:
    rows = read_expected(DATA_EXPECTED)
    assert [r._asdict() for r in rows] == _expected()
    assert set(MISTAKE_KINDS) == MISTAKES
    df = expected_frame(rows, MANIFEST)
    assert len(df) == len(rows) and df["agrees"].all()
    assert df["verdict"].notna().all()


def test_kernel_verdicts_match_expected() -> None:
    """The kernel (manifest) rejected exactly the programs written to be wrong."""
    verdicts = {(r.object, r.program): r.verdict for r in MANIFEST}
    wrong = [
        (e["program"], e["expected_verdict"], verdicts[(e["object"], e["program"])])
        for e in _expected()
        if verdicts[(e["object"], e["program"])] != e["expected_verdict"]
    ]
    assert not wrong


def test_every_object_has_its_source() -> None:
    for obj in DATA_OBJECTS:
        assert obj.with_suffix(".c").is_file()


@pytest.mark.slow
def test_objects_rebuild_identically(tmp_path: Path) -> None:
    for tool in ("clang-19", "bpftool", "make"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} to rebuild data/programs")
    work = tmp_path / "data"
    (work / "programs").mkdir(parents=True)
    shutil.copy(DATA / "Makefile", work / "Makefile")
    for src in DATA_PROGRAMS.glob("*.[ch]"):
        shutil.copy(src, work / "programs" / src.name)
    btf = DATA / "btf" / "vmlinux-6.18.btf.xz"
    args = ["make", "-s", "-C", str(work)]
    if btf.is_file():  # build from the embedded BTF, as a machine without /sys BTF would
        (work / "btf").mkdir()
        shutil.copy(btf, work / "btf" / btf.name)
        args.append("SYS_BTF=/nonexistent")
    subprocess.run(args, check=True, capture_output=True, timeout=600)
    for obj in DATA_OBJECTS:
        rebuilt = work / "programs" / obj.name
        assert rebuilt.read_bytes() == obj.read_bytes(), f"{obj.name} differs when rebuilt"
