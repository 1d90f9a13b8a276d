"""bpfkit corpus compare: veristat -C semantics on two datasets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bpfkit.cli import main
from bpfkit.corpus import (
    CorpusError,
    compare_runs,
    filter_frame,
    format_compare,
    open_corpus,
    sort_frame,
)
from bpfkit.kernel import read_manifest
from tests.corpora.conftest import DATA_LOGS_V4
from tests.corpus import DATA_LOGS


def _frame(rows: list[tuple[str, str, str, int | None, int | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["object", "program", "verdict", "insns_processed", "total_states"]
    ).assign(status="ok")


A = _frame(
    [
        ("o", "same", "accept", 100, 5),
        ("o", "grow", "accept", 10, 1),
        ("o", "flip", "accept", 50, 3),
        ("o", "gone", "reject", 7, 1),
        ("o", "zero", "accept", 0, 0),
    ]
)
B = _frame(
    [
        ("o", "same", "accept", 100, 5),
        ("o", "grow", "accept", 25, 2),
        ("o", "flip", "reject", 40, 3),
        ("o", "new", "accept", 9, 1),
        ("o", "zero", "accept", 4, 0),
    ]
)


def test_columns_and_order() -> None:
    c = compare_runs(A, B, stats=["insns_processed", "total_states"])
    assert c["program"].tolist() == ["flip", "grow", "same", "zero", "gone", "new"]
    row = c.set_index("program").loc["grow"]
    assert (row["insns_processed_a"], row["insns_processed_b"]) == (10, 25)
    assert row["insns_processed_diff"] == 15 and row["insns_processed_pct"] == 150.0
    z = c.set_index("program").loc["zero"]
    assert z["insns_processed_diff"] == 4 and pd.isna(z["insns_processed_pct"])
    assert c.set_index("program")["side"].to_dict() == {
        "flip": "both",
        "grow": "both",
        "same": "both",
        "zero": "both",
        "gone": "A",
        "new": "B",
    }
    assert c["verdict_changed"].tolist() == [True, False, False, False, False, False]


def test_filters_and_sort_keys() -> None:
    c = compare_runs(A, B)
    assert filter_frame(c, ["insns_pct>10"])["program"].tolist() == ["grow"]
    assert filter_frame(c, ["insns_diff<0"])["program"].tolist() == ["flip"]
    assert filter_frame(c, ["!states_diff=0", "side=both"])["program"].tolist() == ["grow"]
    assert filter_frame(c, ["verdict_b=reject"])["program"].tolist() == ["flip"]
    assert filter_frame(c, ["verdict_changed=true"])["program"].tolist() == ["flip"]
    s = sort_frame(filter_frame(c, ["side=both"]), ["insns_diff:desc"])
    assert s["program"].tolist() == ["flip", "grow", "zero", "same"]  # verdict change first
    s = sort_frame(c, ["abs(insns_diff)"])
    assert s["program"].tolist()[:4] == ["flip", "same", "zero", "grow"]
    for bad, msg in (
        ("insns>>3", "unknown column|bad filter"),
        ("nope>1", "unknown column"),
        ("insns>abc", "numeric"),
        ("program>a", "text"),
    ):
        with pytest.raises(CorpusError, match=msg):
            filter_frame(c, [bad])


def test_formats() -> None:
    c = compare_runs(A, B)
    md = format_compare(c, "md", stats=["insns"])
    lines = md.splitlines()
    assert lines[0].startswith("| File | Program | Verdict (A) | Verdict (B) | Verdict (DIFF) |")
    assert len(lines) == 2 + len(c) and "| o | flip | accept | reject | MISMATCH |" in md
    assert "+15 (+150.00%)" in md
    csv = format_compare(c, "csv")
    back = pd.read_csv(__import__("io").StringIO(csv))
    assert list(back.columns) == list(c.columns) and len(back) == len(c)
    table = format_compare(c, "table")
    assert "only A" in table and "only B" in table


def test_two_builds_from_their_captured_logs(parsed_l2: Path, parsed_v4: Path) -> None:
    """data/logs (clang-19's default -mcpu=v1) against data/logs-mcpu-v4: the same 46
    programs, every number equal to the two capture manifests (the kernel's own stats)."""
    c = compare_runs(open_corpus(parsed_l2), open_corpus(parsed_v4)).set_index(
        ["object", "program"]
    )
    a = {(r.object, r.program): r for r in read_manifest(DATA_LOGS)}
    b = {(r.object, r.program): r for r in read_manifest(DATA_LOGS_V4)}
    assert set(c.index) == set(a) == set(b) and (c["side"] == "both").all()
    for key, row in c.iterrows():
        assert row["verdict_a"] == a[key].verdict and row["verdict_b"] == b[key].verdict
        assert row["insns_processed_a"] == a[key].insns_processed
        assert row["insns_processed_diff"] == b[key].insns_processed - a[key].insns_processed
    assert (c["insns_processed_diff"] != 0).sum() == sum(
        a[k].insns_processed != b[k].insns_processed for k in a
    )


def test_cli_compare_lists_programs_in_one_run_only(
    tmp_path: Path, parsed_l2: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bpfkit.corpus import parse_logs

    part = tmp_path / "part"
    logs = sorted((DATA_LOGS / "alloc").glob("*.l2.log"))[:3]
    parse_logs(logs, part, workers=0)
    assert main(["corpus", "compare", str(parsed_l2), str(part), "-f", "side=both"]) == 0
    out = capsys.readouterr().out
    assert "0 programs in both runs" in out  # objects differ: the file stem against alloc.bpf.o
    assert out.count("only in A: ") == 46 and out.count("only in B: ") == 3
    assert main(["corpus", "compare", str(parsed_l2), str(parsed_l2), "--format", "csv"]) == 0
    cap = capsys.readouterr()
    assert cap.out.count("\n") == 47 and "46 programs in both runs, 0 verdict changes" in cap.err
