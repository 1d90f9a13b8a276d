"""The agreement harness (bpfkit.ownership.agreement) against independent readers.

- Offline: the harness's reading of a verifier log (error line, error instruction, time) agrees
  with bpfkit.verifier's full log parser and bpfkit.kernel's summary reader on every log
  captured from the kernel in data/logs; selftest annotations agree with bpftool's raw dump.
- Live (root, kernel BTF): every kernel column of agreement_frame on data/programs is checked
  against bpfkit.verifier.parse_log of the log captured in the same run and against
  bpfkit.kernel.load_programs; the model's columns against a separate predict() call; the
  summary against counts recomputed here; a program the verifier never judges is excluded.
"""

from __future__ import annotations

import json
import lzma
import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bpfkit.kernel import parse_verifier_stats
from bpfkit.ownership.agreement import (
    COLUMNS,
    agreement_summary,
    disagreements_frame,
    expand_paths,
    kernel_error_of,
    rule_family,
    selftest_expectations,
)
from bpfkit.verifier import parse_log
from tests.corpus import DATA_LOG_FILES, DATA_OBJECTS, DATA_PROGRAMS

CLANG = shutil.which("clang-19")
BPFTOOL = shutil.which("bpftool")


def _read(path: Path) -> str:
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes()).decode()
    return path.read_text()


def _one_log(text: str) -> Any:
    """bpfkit.verifier's reading of a one-program log."""
    logs = parse_log(text)
    assert len(logs) == 1
    return logs[0]


def _live_reason() -> str | None:
    if os.geteuid() != 0:
        return "loading BPF programs needs root"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
    return None


# --- offline: the log reading -------------------------------------------------------------


@pytest.mark.parametrize("path", DATA_LOG_FILES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_kernel_error_of_agrees_with_the_log_parser(path: Path) -> None:
    text = _read(path)
    log = _one_log(text)
    got = kernel_error_of(text)
    assert got.verification_usec == parse_verifier_stats(text).verification_time_usec
    if log.verdict == "reject":
        assert log.error is not None
        assert got.message == log.error.splitlines()[-1].strip()
        assert got.insn == log.error_insn
        assert got.verified
    else:
        assert log.verdict == "accept", log.verdict
        assert got.verified


def test_kernel_error_of_without_a_log() -> None:
    e = kernel_error_of("")
    assert (e.message, e.insn, e.verification_usec, e.verified) == ("", None, None, False)
    # a refusal before verification: one message, no instruction, no summary
    e = kernel_error_of("attach_btf_id 42 is not a function\n")
    assert (e.message, e.insn, e.verified) == ("attach_btf_id 42 is not a function", None, False)


def test_rule_family_covers_every_captured_rejection() -> None:
    """Every error line of the captured logs falls in a family (no "?")."""
    for path in DATA_LOG_FILES:
        log = _one_log(_read(path))
        if log.verdict == "reject" and log.error:
            line = log.error.splitlines()[-1]
            assert rule_family(line) not in ("", "?"), line


def test_expand_paths(tmp_path: Path) -> None:
    got = expand_paths([DATA_PROGRAMS])
    assert got == DATA_OBJECTS
    from bpfkit.errors import BpfkitError

    with pytest.raises(BpfkitError, match="no such file"):
        expand_paths([tmp_path / "missing.o"])
    with pytest.raises(BpfkitError, match="without BPF objects"):
        expand_paths([tmp_path])


SELFTEST_C = r"""
#define SEC(x) __attribute__((section(x), used))
#define __msg(msg) __attribute__((btf_decl_tag("comment:test_expect_msg=" msg)))
#define __msg2(msg) __attribute__((btf_decl_tag("comment:test_expect_msg=7=" msg)))
#define __failure __attribute__((btf_decl_tag("comment:test_expect_failure")))
#define __success __attribute__((btf_decl_tag("comment:test_expect_success")))
SEC("tc") __failure __msg("first message") __msg2("second = message")
int bad(void *ctx) { return 0; }
SEC("tc") __success int good(void *ctx) { return 0; }
SEC("tc") int plain(void *ctx) { return 0; }
char _license[] SEC("license") = "GPL";
"""


@pytest.mark.skipif(not (CLANG and BPFTOOL), reason="needs clang-19 and bpftool")
def test_selftest_expectations_match_bpftool(tmp_path: Path) -> None:
    from bpfkit.obj import load_object

    src = tmp_path / "t.c"
    src.write_text(SELFTEST_C)
    obj = tmp_path / "t.bpf.o"
    subprocess.run([CLANG, "-g", "-O2", "--target=bpf", "-c", str(src), "-o", str(obj)], check=True)
    raw = subprocess.run(
        [BPFTOOL, "btf", "dump", "file", str(obj), "format", "raw"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    funcs = dict(re.findall(r"^\[(\d+)\] FUNC '(\w+)'", raw, re.M))
    want: dict[str, tuple[str, list[str]]] = {}
    for tag, tid in re.findall(
        r"DECL_TAG 'comment:test_expect_(.*?)' type_id=(\d+) component_idx=-1", raw
    ):
        expect, msgs = want.get(funcs[tid], ("", []))
        if tag in ("failure", "success"):
            expect = tag
        else:
            text = tag.removeprefix("msg=")
            head, _, rest = text.partition("=")
            msgs.append(rest if head.isdigit() else text)
        want[funcs[tid]] = (expect, msgs)
    got = selftest_expectations(load_object(obj))
    assert got == {k: (e, " | ".join(m)) for k, (e, m) in want.items()}
    assert "plain" not in got


# --- live: the harness on the sample programs ------------------------------------------------


@pytest.fixture(scope="module")
def frame() -> Any:
    reason = _live_reason()
    if reason:
        pytest.skip(reason)
    from bpfkit.ownership.agreement import agreement_frame

    return agreement_frame(DATA_OBJECTS, keep_logs=True)


@pytest.mark.live
def test_kernel_columns_match_the_log(frame: Any) -> None:
    from bpfkit.kernel import load_programs

    assert list(frame.columns) == [*COLUMNS, "log"]
    verdicts = {
        (p.name, r.program): (r.verdict, r.errno)
        for p in DATA_OBJECTS
        for r in load_programs(p, log_level="stats")
    }
    assert len(frame) == len(verdicts)
    for row in frame.itertuples():
        log = _one_log(row.log)
        assert row.kernel_verdict == log.verdict, row.program
        assert (row.kernel_verdict, row.kernel_errno) == verdicts[(row.object, row.program)]
        usec = log.stats.verification_time_usec
        assert row.kernel_ms == pytest.approx(usec / 1e3), row.program
        if log.verdict == "reject":
            assert log.error is not None
            assert row.kernel_error == log.error.splitlines()[-1].strip()
            assert row.kernel_insn == log.error_insn
        else:
            assert row.kernel_error == ""
            assert row.kernel_insn is None or row.kernel_insn is pd_na()
        assert not row.excluded


def pd_na() -> Any:
    import pandas as pd

    return pd.NA


@pytest.mark.live
def test_model_columns_match_predict(frame: Any) -> None:
    from bpfkit.obj import load_object
    from bpfkit.ownership.static import predict

    for path in DATA_OBJECTS:
        obj = load_object(path)
        for p in predict(obj):
            row = frame[(frame.object == path.name) & (frame.program == p.program)].iloc[0]
            assert row.predicted == p.verdict
            assert bool(row.agree) == (p.verdict == row.kernel_verdict)
            if p.mistakes:
                m = p.mistakes[0]
                assert row.pred_message == m.message
                insn = getattr(m, "insn", None)
                assert row.pred_insn == (m.insn_idx if insn is None else insn)
                if p.verdict == "reject" and row.kernel_verdict == "reject":
                    assert bool(row.same_insn) == (row.pred_insn == row.kernel_insn)
            assert row.analysis_ms > 0


@pytest.mark.live
def test_summary_recounts(frame: Any) -> None:
    s = agreement_summary(frame, by="object")
    rows = frame.to_dict("records")

    def pct(k: int, n: int) -> float:
        return round(100.0 * k / n, 1) if n else math.nan

    for group, sel in [("all", rows)] + [
        (f"object={o}", [r for r in rows if r["object"] == o])
        for o in sorted({r["object"] for r in rows})
    ]:
        got = s[s.group == group].iloc[0]
        judged = [r for r in sel if not r["excluded"]]
        n = len(judged)
        assert got.n == n
        assert got.agree_pct == pct(sum(r["kernel_verdict"] == r["predicted"] for r in judged), n)
        miss = sum(r["kernel_verdict"] == "reject" and r["predicted"] == "accept" for r in judged)
        assert got.accepts_kernel_rejects_pct == pct(miss, n)
        shared = [r for r in judged if r["kernel_verdict"] == r["predicted"] == "reject"]
        assert got.shared_rejects == len(shared)
        if shared:
            same = sum(r["pred_insn"] == r["kernel_insn"] for r in shared)
            assert got.same_insn_pct == pct(same, len(shared))
        assert got.over_1s == sum(r["analysis_ms"] > 1000 for r in judged)
    bad = disagreements_frame(frame)
    assert set(bad.index) == {
        i
        for i, r in frame.iterrows()
        if r["agree"] is False or r["same_insn"] is False or r["same_rule"] is False
    }


UNVERIFIABLE_C = r"""
#define SEC(x) __attribute__((section(x), used))
SEC("fentry/bpfkit_no_such_kernel_function") int no_target(void *ctx) { return 0; }
SEC("tc") int fine(void *ctx) { return 0; }
char _license[] SEC("license") = "GPL";
"""


@pytest.mark.live
@pytest.mark.skipif(CLANG is None, reason="needs clang-19")
def test_a_program_never_verified_is_excluded(tmp_path: Path) -> None:
    reason = _live_reason()
    if reason:
        pytest.skip(reason)
    from bpfkit.kernel import load_programs
    from bpfkit.ownership.agreement import agreement_frame

    src = tmp_path / "u.c"
    src.write_text(UNVERIFIABLE_C)
    obj = tmp_path / "u.bpf.o"
    subprocess.run([CLANG, "-g", "-O2", "--target=bpf", "-c", str(src), "-o", str(obj)], check=True)
    kernel = {r.program: r for r in load_programs(obj)}
    df = agreement_frame([obj]).set_index("program")
    assert kernel["no_target"].verdict == "reject" and not kernel["no_target"].log.strip()
    assert df.loc["no_target", "excluded"]
    assert kernel["no_target"].error.strip() in df.loc["no_target", "reason"]
    assert df.loc["fine", "kernel_verdict"] == kernel["fine"].verdict == "accept"
    assert not df.loc["fine", "excluded"]
    s = agreement_summary(df.reset_index())
    assert s.iloc[0].n == 1 and s.iloc[0].excluded == 1


@pytest.mark.live
def test_cli_against_kernel_json(capsys: pytest.CaptureFixture[str]) -> None:
    reason = _live_reason()
    if reason:
        pytest.skip(reason)
    from bpfkit.cli import main
    from bpfkit.kernel import load_programs

    obj = DATA_PROGRAMS / "list.bpf.o"
    assert main(["own", "--against-kernel", str(obj), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    kernel = {r.program: r.verdict for r in load_programs(obj)}
    assert {r["program"]: r["kernel_verdict"] for r in out["programs"]} == kernel
    assert out["summary"][0]["group"] == "all"
    assert out["summary"][0]["n"] == len(kernel)
