"""bpfkit corpus parse: many logs into one dataset; the kernel's own answers as the oracle."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bpfkit.corpus import CorpusError, open_corpus, parse_logs
from bpfkit.corpus.dataset import PROGRAM_COLUMNS
from bpfkit.kernel import read_manifest
from bpfkit.verifier import load_log
from tests.corpus import (
    CORPUS_LOG_FILES,
    DATA_LOGS,
    DATA_LONG_LOOP_L2,
    DATA_OBJECTS,
    LOG_BPFVV_TWO_PROGRAMS,
    LOG_BPFVV_VERISTAT,
)


def test_capture_directory_matches_the_kernels_manifest(parsed_l2: Path) -> None:
    """Every program of data/logs, named by the capture manifest; verdict, errno-level error
    and stats as the bpf() syscall and the level-1 load reported them."""
    c = open_corpus(parsed_l2)
    df = c.programs.set_index(["object", "program"])
    truth = read_manifest(DATA_LOGS)
    assert len(df) == len(truth) and c.failures.empty
    assert c.manifest["kind"] == "parse" and c.manifest["complete"]
    assert c.manifest["kernel_release"] == truth[0].kernel_release
    for r in truth:
        row = df.loc[(r.object, r.program)]
        assert row["verdict"] == r.verdict, (r.object, r.program)
        assert row["insns_processed"] == r.insns_processed
        assert row["total_states"] == r.total_states
        assert row["peak_states"] == r.peak_states
        assert row["log_lines"] == r.l2_lines
        assert row["log_level"] == 2
        if r.verdict == "reject":
            assert r.error in row["error"]
    assert list(c.programs.columns) == list(PROGRAM_COLUMNS)


def test_tables_equal_the_logs_own(parsed_l2: Path) -> None:
    c = open_corpus(parsed_l2)
    steps = c.table("steps")
    insns = c.table("instructions")
    for r in read_manifest(DATA_LOGS)[::9]:
        [lg] = load_log(DATA_LOGS / r.l2_log)
        mine = steps[(steps["object"] == r.object) & (steps["program"] == r.program)]
        assert (
            mine.drop(columns=["object", "program"])
            .reset_index(drop=True)
            .astype("int64")
            .equals(lg.steps.reset_index(drop=True).astype("int64"))
        )
        mi = insns[(insns["object"] == r.object) & (insns["program"] == r.program)]
        assert mi["asm"].tolist() == lg.instructions["asm"].tolist()
        assert c.log(r.object, r.program).stats == lg.stats


def test_wrapped_logs_give_each_program(tmp_path: Path) -> None:
    """libbpf/bpftrace and veristat -v files with several programs: one row each, as the
    log reader splits them."""
    s = parse_logs([LOG_BPFVV_TWO_PROGRAMS, LOG_BPFVV_VERISTAT], tmp_path / "d", workers=0)
    df = open_corpus(tmp_path / "d").programs
    expected = [lg.name for p in (LOG_BPFVV_TWO_PROGRAMS, LOG_BPFVV_VERISTAT) for lg in load_log(p)]
    assert df["program"].tolist() == expected and s.programs == len(expected)
    assert df["source"].str.endswith(("#0", "#1")).all()


def test_bad_inputs_are_rows_and_the_run_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "in"
    bad.mkdir()
    good = DATA_LOGS / "alloc" / "obj_new_leak.l2.log"
    shutil.copy(good, bad / "good.log")
    xz = DATA_LONG_LOOP_L2.read_bytes()
    (bad / "cut.log.xz").write_bytes(xz[: len(xz) // 3])  # truncated xz stream
    shutil.copy(DATA_OBJECTS[0], bad / "foreign.log")  # an ELF object, not a log
    (bad / "empty.log").write_bytes(b"")
    (bad / "prose.log").write_text("hello\nthis is not a verifier log\n")
    (bad / "gz.log.gz").write_bytes(gzip.compress(good.read_bytes()))
    s = parse_logs([bad, tmp_path / "missing.log"], tmp_path / "d", workers=0)
    df = open_corpus(tmp_path / "d").programs.set_index("object")
    assert s.failed == 5 and s.programs == 2
    assert df.loc["good", "status"] == df.loc["gz", "status"] == "ok"
    assert df.loc["gz", "insns_processed"] == df.loc["good", "insns_processed"] == 11
    errors = df["error"].to_dict()
    assert "cut.log.xz" in errors["cut"] and df.loc["cut", "status"] == "failed"
    assert "binary data" in errors["foreign"]
    assert "empty" in errors["empty"]
    assert "no instruction, state or summary line in 2 lines" in errors["prose"]
    assert "no such file" in errors["missing"]


def test_two_local_workers_write_the_same_dataset(tmp_path: Path) -> None:
    logs = CORPUS_LOG_FILES
    one = parse_logs(logs, tmp_path / "one", workers=0, task_files=6)
    two = parse_logs(logs, tmp_path / "two", workers=2, task_files=6)
    assert len(two.workers) == 2 and one.tasks == two.tasks > 2
    key = ["source"]
    a = open_corpus(tmp_path / "one").programs.drop(columns="part").sort_values(key)
    b = open_corpus(tmp_path / "two").programs.drop(columns="part").sort_values(key)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_resume_runs_only_the_missing_parts(tmp_path: Path) -> None:
    logs = sorted(DATA_LOGS.rglob("*.l1.log"))
    first = parse_logs(logs, tmp_path / "d", workers=0, task_files=10)
    before = open_corpus(tmp_path / "d").programs
    parts = sorted((tmp_path / "d" / "programs").glob("part-*.parquet"))
    parts[1].unlink()
    (tmp_path / "d" / "steps" / parts[1].name).unlink(missing_ok=True)
    again = parse_logs(logs, tmp_path / "d", workers=0, task_files=10)
    assert again.skipped_tasks == first.tasks - 1 and again.programs == 10
    after = open_corpus(tmp_path / "d").programs
    pd.testing.assert_frame_equal(
        before.sort_values("source").reset_index(drop=True),
        after.sort_values("source").reset_index(drop=True),
    )


def test_a_huge_plain_log_is_streamed_with_the_same_summary(tmp_path: Path) -> None:
    """Over ``stream_bytes`` a plain log goes through iter_frames in chunks: same verdict,
    stats and line count, same steps as the whole-log parse."""
    whole = parse_logs([DATA_LONG_LOOP_L2], tmp_path / "w", workers=0)
    streamed = parse_logs([DATA_LONG_LOOP_L2], tmp_path / "s", workers=0, stream_bytes=1)
    assert whole.lines == streamed.lines > 100_000
    a = open_corpus(tmp_path / "w")
    b = open_corpus(tmp_path / "s")
    cols = ["verdict", "insns_processed", "total_states", "peak_states", "log_lines", "log_level"]
    assert a.programs[cols].equals(b.programs[cols])
    assert len(a.table("steps")) == len(b.table("steps"))


def test_not_a_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no manifest.json"):
        open_corpus(tmp_path)
    with pytest.raises(CorpusError, match="no log files"):
        parse_logs([tmp_path], tmp_path / "d")
    with pytest.raises(CorpusError, match="unknown table"):
        parse_logs([DATA_LOGS], tmp_path / "d", tables=["nope"])


def test_dask_dataframes(parsed_l2: Path) -> None:
    pytest.importorskip("dask.dataframe")
    c = open_corpus(parsed_l2, dask=True)
    progs = c.programs
    assert int(progs["insns_processed"].sum().compute()) == int(
        open_corpus(parsed_l2).programs["insns_processed"].sum()
    )
    assert len(c.table("steps")) == len(open_corpus(parsed_l2).table("steps"))


def test_a_truncated_huge_log_is_a_row_too(tmp_path: Path) -> None:
    xz = DATA_LONG_LOOP_L2.read_bytes()
    cut = tmp_path / "cut.l2.log.xz"
    cut.write_bytes(xz[: len(xz) // 2])
    s = parse_logs([cut], tmp_path / "d", workers=0, stream_bytes=1)
    row = open_corpus(tmp_path / "d").programs.iloc[0]
    assert s.failed == 1 and row["status"] == "failed" and "cut.l2.log.xz" in row["error"]


def test_cli_parse_says_how_many_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bpfkit.cli import main

    (tmp_path / "in").mkdir()
    shutil.copy(DATA_LOGS / "alloc" / "obj_new_leak.l1.log", tmp_path / "in" / "a.log")
    (tmp_path / "in" / "b.log").write_bytes(b"\x7fELF\0\0\0\0binary")
    out = tmp_path / "d"
    assert (
        main(["corpus", "parse", str(tmp_path / "in"), "-o", str(out), "-j", "0", "--no-progress"])
        == 0
    )
    cap = capsys.readouterr()
    assert "2 logs in 1 tasks (0 already done), 1 programs, 1 failed" in cap.out
    assert "b.log: not a verifier log (binary data" in cap.err
    assert (
        main(["corpus", "parse", str(tmp_path / "in"), "-o", str(out), "-j", "0", "--no-progress"])
        == 0
    )
    assert "(1 already done)" in capsys.readouterr().out
    assert main(["corpus", "compare", str(tmp_path / "in"), str(out)]) == 1
    assert "is not a corpus dataset: no manifest.json" in capsys.readouterr().err
