"""Per-program Logs and their tables, checked against the kernel.

Oracles: the bpf() syscall's verdict and errno recorded in data/logs/MANIFEST.tsv when the logs
were captured; the kernel's own ``processed N insns`` counter (every processed instruction is
either printed or pruned at level 2); the kernel's error lines; bpftool run live.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pandas as pd
import pytest

from bpfkit.cli import main
from bpfkit.errors import LogError
from bpfkit.verifier import Log, iter_frames, iter_logs, load_log, parse_log, write_parquet
from bpfkit.verifier.log import read_text
from tests.corpus import (
    CORPUS_LOG_FILES,
    DATA_LOG_FILES,
    DATA_LOGS,
    DATA_LOGS_MANIFEST,
    DATA_LONG_LOOP_L2,
    DATA_PROGRAMS,
    LOG_ASYNC_STACK_DEPTH,
    LOG_BPFVV_TWO_PROGRAMS,
    LOG_BPFVV_VERISTAT,
    LOG_KPTR_XCHG_SKB,
    LOG_RINGBUF_REF_LEAK,
)

from .conftest import ALL_LOG_FILES, cached_logs, log_id

# The contract the plot, ownership and notebook code is written against.
COLUMNS = {
    "lines": ["line", "kind", "insn_idx", "frame", "text"],
    "instructions": ["insn_idx", "opcode", "asm", "src_file", "src_line", "src_text"],
    "steps": ["step", "line", "insn_idx", "frame", "path"],
    "registers": [
        "step",
        "line",
        "insn_idx",
        "frame",
        "reg",
        "type",
        "or_null",
        "flags",
        "btf_type",
        "id",
        "ref_obj_id",
        "non_own_ref",
        "off",
        "smin",
        "smax",
        "umin",
        "umax",
        "smin32",
        "smax32",
        "umin32",
        "umax32",
        "var_off_value",
        "var_off_mask",
        "precise",
        "written",
        "raw",
    ],
    "stack": [
        "step",
        "line",
        "insn_idx",
        "frame",
        "off",
        "slot_types",
        "spilled",
        "written",
        "raw",
    ],
    "refs": ["step", "line", "insn_idx", "ref_obj_id"],
    "branches": ["step", "line", "from_insn", "to_insn"],
    "prunes": ["step", "line", "insn_idx"],
    "backtracking": ["line", "insn_idx", "frame", "regs", "stack", "text"],
}


def _manifest() -> list[dict[str, str]]:
    if not DATA_LOGS_MANIFEST.exists():
        pytest.skip("data/logs not captured yet (make -C data logs)")
    with open(DATA_LOGS_MANIFEST, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.mark.parametrize("path", ALL_LOG_FILES, ids=log_id)
def test_tables_follow_the_contract(path: Path) -> None:
    for lg in cached_logs(path):
        frames = lg.frames()
        assert list(frames) == list(COLUMNS)
        for name, cols in COLUMNS.items():
            assert list(frames[name].columns) == cols, name
        assert lg.verdict in ("accept", "reject", "unknown")
        assert lg.level in (1, 2, None)
        assert set(lg.stats._fields) == {
            "insns_processed",
            "insn_limit",
            "max_states_per_insn",
            "total_states",
            "peak_states",
            "mark_read",
            "verification_time_usec",
            "stack_depth",
        }
        steps = lg.steps
        assert list(steps["step"]) == list(range(len(steps)))
        assert steps["path"].is_monotonic_increasing
        if len(steps):
            assert steps["path"].iloc[-1] <= len(lg.branches)


def test_verdicts_and_errors_match_the_kernel() -> None:
    """The verdict and errno came from bpf(BPF_PROG_LOAD) itself when the logs were captured."""
    rows = _manifest()
    assert len(rows) >= 30
    for row in rows:
        for key in ("l1_log", "l2_log"):
            path = DATA_LOGS / row[key]
            [lg] = cached_logs(path)
            assert lg.name == row["program"] or lg.name == path.name.split(".")[0]
            assert lg.verdict == row["verdict"], (path, lg.error)
            assert (row["errno"] == "0") == (lg.verdict == "accept")
            if lg.verdict == "reject":
                assert lg.error is not None
                assert lg.error.split("\n")[-1] == row["error"], path
                assert lg.error_insn is not None
            else:
                assert lg.error is None
            assert lg.stats.insns_processed == int(row["insns_processed"])
            assert lg.truncated is False
            assert lg.level == (2 if key == "l2_log" else (1 if lg.verdict == "reject" else None))


def test_level2_steps_and_prunes_add_up_to_the_kernels_count() -> None:
    """At level 2 the kernel prints every instruction it processes, or ``safe`` when it prunes
    the state there; ``processed N insns`` is its own counter of the same events."""
    checked = 0
    for path in ALL_LOG_FILES:
        for lg in cached_logs(path):
            if lg.level == 2 and lg.stats.insns_processed is not None:
                assert len(lg.steps) + len(lg.prunes) == lg.stats.insns_processed, path
                checked += 1
    assert checked >= 20


def test_leaked_reference_is_held_at_exit() -> None:
    """``Unreleased reference id=N`` (kernel) <-> refs table: N is held at the failing exit."""
    for row in _manifest():
        if not row["error"].startswith("BPF_EXIT instruction"):
            continue
        [lg] = cached_logs(DATA_LOGS / row["l1_log"])
        first = lg.error.split("\n")[0] if lg.error else ""
        assert first.startswith("Unreleased reference id=")
        ref = int(first.split("id=")[1].split()[0].rstrip(","))
        last_state_step = lg.refs["step"].max()
        held = set(lg.refs.loc[lg.refs["step"] == last_state_step, "ref_obj_id"])
        assert ref in held
        regs = lg.registers
        assert (regs["ref_obj_id"] == ref).any()


def test_non_owning_references_are_flagged() -> None:
    logs = [
        lg for p in DATA_LOG_FILES if "rbtree" in str(p) or "list" in str(p) for lg in load_log(p)
    ]
    if not logs:
        pytest.skip("data/logs not captured yet")
    regs = pd.concat([lg.registers for lg in logs])
    non_own = regs[regs["non_own_ref"]]
    assert len(non_own) > 0
    assert (non_own["type"] == "ptr_").all()
    assert non_own["flags"].str.contains("alloc").all()
    assert non_own["raw"].str.contains("non_own_ref").all()


def test_program_splitting() -> None:
    [lg] = load_log(LOG_RINGBUF_REF_LEAK)  # libbpf wrapper amid libbpf chatter
    assert lg.name == "ringbuf_ref_leak"
    assert lg.kinds["libbpf"] == 2  # BEGIN and END lines only
    assert lg.verdict == "reject" and lg.stats.insns_processed == 48
    two = load_log(LOG_BPFVV_TWO_PROGRAMS)  # bpftrace: a summary, then a failed program
    assert [lg.stats.insns_processed for lg in two] == [23, 8]
    assert two[1].error == "invalid indirect access to stack R1 off=-8 size=16"
    [vs] = load_log(LOG_BPFVV_VERISTAT)
    assert vs.name == "rbtree_first_and_remove"
    assert vs.stats.verification_time_usec == 842
    [kx] = load_log(LOG_KPTR_XCHG_SKB)
    assert kx.name == "bpf_tc_ingress"
    assert load_log(LOG_RINGBUF_REF_LEAK, program="ringbuf_ref_leak")[0].name == "ringbuf_ref_leak"
    with pytest.raises(LogError, match="no program 'nope'"):
        load_log(LOG_RINGBUF_REF_LEAK, program="nope")


def test_frames_and_calls() -> None:
    [lg] = load_log(LOG_ASYNC_STACK_DEPTH)
    assert lg.level == 2
    assert lg.stats.stack_depth is None or all(d >= 0 for d in lg.stats.stack_depth)
    assert lg.error == "combined stack size of 2 calls is 576. Too large"


@pytest.mark.parametrize("path", ALL_LOG_FILES, ids=log_id)
def test_iter_logs_equals_load_log(path: Path) -> None:
    a = cached_logs(path)
    b = list(iter_logs(path))
    assert [(x.name, x.verdict, x.kinds, x.error, x.truncated) for x in a] == [
        (x.name, x.verdict, x.kinds, x.error, x.truncated) for x in b
    ]
    # the streaming reader holds a program's lines as blocks of text: the same text
    assert [x.text for x in a] == [x.text for x in b]


@pytest.mark.parametrize(
    "content",
    [b"", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"],
)
def test_a_file_with_no_program_is_one_empty_log_for_every_reader(
    content: bytes, tmp_path: Path
) -> None:
    """An empty file, or an empty gzip (found by the log_file fuzz target's differential
    check): load_log and iter_logs (lenient) both give one empty Log, and both refuse it
    without --lenient (iter_logs gave no program at all)."""
    path = tmp_path / ("empty.log.gz" if content else "empty.log")
    path.write_bytes(content)
    whole = [(x.name, x.text, x.kinds, x.verdict) for x in load_log(path, lenient=True)]
    streamed = [(x.name, x.text, x.kinds, x.verdict) for x in iter_logs(path, lenient=True)]
    assert streamed == whole == [("empty", "", {"unrecognized": 0}, "unknown")]
    for read in (load_log, lambda p: list(iter_logs(p))):
        with pytest.raises(LogError, match="it is empty"):
            read(path)


@pytest.mark.parametrize("which", ["data logs, concatenated", "two programs", "veristat"])
def test_held_blocks_cut_anywhere_keep_every_program(
    which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """iter_logs holding 1, 2, 3 or 7 lines per block: program boundaries and the lines
    dropped between libbpf or veristat blocks fall at every place in a block, and each
    program still has load_log's name, text and kinds."""
    from bpfkit.verifier import log as log_module

    if which == "two programs":
        path = LOG_BPFVV_TWO_PROGRAMS
    elif which == "veristat":
        path = LOG_BPFVV_VERISTAT
    else:
        path = tmp_path / "all.log"
        small = [p for p in DATA_LOG_FILES if p.suffix == ".log" and p.stat().st_size < 50_000]
        path.write_bytes(b"".join(p.read_bytes() for p in small[:40]))
    want = [(x.name, x.text, x.kinds) for x in load_log(path, lenient=True)]
    assert len(want) >= (1 if which == "veristat" else 2)
    for block in (1, 2, 3, 7):
        monkeypatch.setattr(log_module, "_BLOCK", block)
        got = [(x.name, x.text, x.kinds) for x in iter_logs(path, lenient=True)]
        assert got == want, block


def test_streamed_chunks_equal_the_whole_tables(tmp_path: Path) -> None:
    path = DATA_LONG_LOOP_L2 if DATA_LONG_LOOP_L2.exists() else LOG_ASYNC_STACK_DEPTH
    [whole] = cached_logs(path)
    tables = ("lines", "steps", "registers", "stack", "refs", "branches", "prunes", "backtracking")
    chunks = list(iter_frames(path, tables=tables, chunk_lines=7777))
    assert len(chunks) > 1
    for t in tables:
        got = pd.concat([c[t] for c in chunks], ignore_index=True)
        want = getattr(whole, t)
        if t == "lines":  # the error lines are only known at the end of a whole log
            want = want.assign(kind=want["kind"].astype(str).replace("error", "message"))
            got = got.assign(kind=got["kind"].astype(str))
        pd.testing.assert_frame_equal(
            got.astype({c: str for c in ("type",) if c in got}),
            want.astype({c: str for c in ("type",) if c in want}),
            check_dtype=False,
            check_categorical=False,
        )
    rows = write_parquet(path, tmp_path, tables=("steps", "registers"), chunk_lines=7777)
    back = pd.read_parquet(tmp_path / "registers.parquet")
    assert rows["registers"] == len(back) == len(whole.registers)
    assert list(back.columns) == COLUMNS["registers"]
    assert (back["raw"].to_numpy() == whole.registers["raw"].to_numpy()).all()


def test_bad_files_give_log_errors(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="missing.log"):
        load_log(tmp_path / "missing.log")
    with pytest.raises(LogError):
        load_log(tmp_path)
    bad_xz = tmp_path / "bad.log.xz"
    bad_xz.write_bytes(b"\xfd7zXZ\x00garbage")
    with pytest.raises(LogError, match="bad.log.xz"):
        load_log(bad_xz)
    binary = tmp_path / "random.log"
    binary.write_bytes(os.urandom(4096))
    with pytest.raises(LogError, match="random.log"):
        load_log(binary)  # a binary is no log (issue 17); --lenient reads it best-effort
    for lg in load_log(binary, lenient=True):
        assert lg.verdict in ("unknown", "reject")
        lg.frames()
    with pytest.raises(LogError):
        parse_log(b"0: (95) exit\n")  # type: ignore[arg-type]


def test_html_summary() -> None:
    [lg] = load_log(LOG_RINGBUF_REF_LEAK)
    html = lg._repr_html_()
    assert "ringbuf_ref_leak" in html and "reject" in html and "Unreleased reference" in html
    assert "backtrack" in html and "insns_processed" in html


# ---- CLI ----


def test_cli_parse_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "parse", str(LOG_RINGBUF_REF_LEAK), "--json"]) == 0
    [doc] = json.loads(capsys.readouterr().out)
    assert set(doc) == {"program", "kinds", "insns_processed", "verdict", "error"}
    assert doc["program"] == "ringbuf_ref_leak" and doc["verdict"] == "reject"
    assert doc["kinds"]["unrecognized"] == 0 and doc["insns_processed"] == 48
    assert doc["error"].endswith("would lead to reference leak")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cli_parse_out(tmp_path: Path, fmt: str) -> None:
    args = ["log", "parse", str(LOG_BPFVV_TWO_PROGRAMS), "--out", str(tmp_path)]
    assert main([*args, "--csv"] if fmt == "csv" else args) == 0
    dirs = sorted(p.name for p in tmp_path.iterdir())
    assert len(dirs) == 2
    for d in dirs:
        for t, cols in COLUMNS.items():
            f = tmp_path / d / f"{t}.{fmt}"
            df = pd.read_csv(f) if fmt == "csv" else pd.read_parquet(f)
            assert list(df.columns) == cols


def test_cli_stats_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in CORPUS_LOG_FILES if "bpfix-bench" in str(p)]
    assert main(["log", "stats", *files]) == 0
    out = capsys.readouterr().out
    assert "ringbuf_ref_leak" in out and "Insns" in out and "Peak states" in out
    assert main(["log", "parse", "/nonexistent/x.log"]) == 1
    assert "cannot read verifier log" in capsys.readouterr().err
    assert main(["log", "parse", str(LOG_RINGBUF_REF_LEAK), "--program", "zzz"]) == 1


# ---- live: bpftool's debug output around a real load ----


def test_bpftool_debug_output_live(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for bpf()")
    if shutil.which("bpftool") is None:
        pytest.skip("needs bpftool")
    obj = DATA_PROGRAMS / "alloc.bpf.o"
    if not obj.exists() or not Path("/sys/fs/bpf").is_dir():
        pytest.skip("needs data/programs/alloc.bpf.o and bpffs at /sys/fs/bpf")
    pin = Path("/sys/fs/bpf") / f"bpfkit_test_{uuid.uuid4().hex[:8]}"
    try:
        proc = subprocess.run(
            ["bpftool", "-d", "prog", "load", str(obj), str(pin)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        if pin.exists():
            pin.unlink()
    text = proc.stdout + proc.stderr
    logs = parse_log(text)
    assert proc.returncode != 0  # alloc.bpf.o holds programs the verifier rejects
    assert logs, text[-2000:]
    expected = {r["program"]: r["verdict"] for r in _manifest()}
    # libbpf in debug mode prints the log of every program it loads, up to the first failure
    for lg in logs:
        assert lg.name in expected
        assert lg.verdict == expected[lg.name], lg.name
        assert lg.kinds["unrecognized"] == 0
        assert lg.kinds["libbpf"] == 2
    assert logs[-1].verdict == "reject"
    assert all(isinstance(lg, Log) for lg in logs)


def test_read_text_of_xz() -> None:
    if not DATA_LONG_LOOP_L2.exists():
        pytest.skip("data/logs not captured yet")
    text = read_text(DATA_LONG_LOOP_L2)
    assert text.count("\n") >= 100_000


@pytest.mark.parametrize(
    ("program", "obj"), [("bucket_branches_ok", "loops.bpf.o"), ("obj_new_leak", "alloc.bpf.o")]
)
def test_kernel_cut_log_is_truncated_live(program: str, obj: str) -> None:
    """Load with a buffer too small: the 6.18 kernel keeps the log's tail and fails ENOSPC."""
    if os.geteuid() != 0:
        pytest.skip("needs root for bpf()")
    from bpfkit.errors import KernelError
    from bpfkit.kernel.load import load_programs

    try:
        [res] = load_programs(
            DATA_PROGRAMS / obj, program, log_level=2, log_size=1024, max_log_size=1024
        )
    except KernelError as exc:
        pytest.skip(f"cannot load programs here: {exc}")
    assert len(res.log) == 1023  # full buffer (NUL-terminated): the log was cut
    assert res.errno == 28  # ENOSPC, whatever the verifier decided

    [lg] = parse_log(res.log)
    assert lg.truncated
    assert lg.lines["kind"].iloc[0] == "truncated"
    assert lg.kinds["unrecognized"] == 0
    expected = {r["program"]: r["verdict"] for r in _manifest()}[program]
    assert lg.verdict == ("unknown" if expected == "accept" else "reject")


def test_crlf_logs_parse_like_lf(tmp_path: Path) -> None:
    text = read_text(LOG_RINGBUF_REF_LEAK)
    crlf = tmp_path / "crlf.log"
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    for logs in (load_log(crlf), list(iter_logs(crlf)), parse_log(text.replace("\n", "\r\n"))):
        [lg] = logs
        assert lg.kinds == load_log(LOG_RINGBUF_REF_LEAK)[0].kinds


def test_veristat_verbose_output(tmp_path: Path) -> None:
    """veristat -v prints, per program, ``PROCESSING <file>/<prog>, DURATION US: <n>, VERDICT:
    <success|failure>, VERIFIER LOG:\\n<log>\\n`` (its process_prog()), then a stats table."""
    rows = _manifest()[:6]
    parts = []
    for r in rows:
        log = read_text(DATA_LOGS / r["l1_log"])
        verdict = "success" if r["verdict"] == "accept" else "failure"
        parts.append(
            f"Processing '{r['object']}'...\n"
            f"PROCESSING {r['object']}/{r['program']}, DURATION US: 123, VERDICT: {verdict}, "
            f"VERIFIER LOG:\n{log}\n"
        )
    table = "File  Program  Verdict  Duration (us)  Insns  States\n-----  -------\n"
    table += "".join(f"{r['object']}  {r['program']}  x  1  2  3\n" for r in rows)
    text = (
        "".join(parts)
        + table
        + "Done. Processed 1 files, 0 programs. Skipped 6 files, 0 programs.\n"
    )
    logs = parse_log(text)
    assert [lg.name for lg in logs] == [r["program"] for r in rows]
    assert [lg.verdict for lg in logs] == [r["verdict"] for r in rows]
    assert all(lg.kinds["unrecognized"] == 0 for lg in logs)
    assert logs[-1].kinds["noise"] >= len(rows) + 3


def test_loader_json_output_live(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``bpfkit load --json --with-log`` (the loader's own output) reads as one Log per record;
    the verdicts there come from the bpf() syscall."""
    if os.geteuid() != 0:
        pytest.skip("needs root for bpf()")
    obj = DATA_PROGRAMS / "rbtree.bpf.o"
    if not obj.exists():
        pytest.skip("needs data/programs/rbtree.bpf.o")
    code = main(["load", str(obj), "--json", "--with-log", "--log-level", "2"])
    out = capsys.readouterr().out
    if code != 0 and not out.strip().startswith("["):
        pytest.skip(f"bpfkit load unavailable here (exit {code})")
    records = json.loads(out)
    f = tmp_path / "load.json"
    f.write_text(out)
    for logs in (load_log(f), list(iter_logs(f))):
        assert [lg.name for lg in logs] == [r["program"] for r in records]
        assert [lg.verdict for lg in logs] == [r["verdict"] for r in records]
        assert all(lg.level == 2 and lg.kinds["unrecognized"] == 0 for lg in logs)


def test_concatenated_logs_split_at_each_summary() -> None:
    """A plain file holding many programs' logs back to back (level 1 and level 2, accepted
    ones that print only their summary too) splits into one Log per program."""
    rows = _manifest()
    paths = [DATA_LOGS / r[k] for r in rows for k in ("l1_log", "l2_log")]
    text = "".join(read_text(p) for p in paths)
    logs = parse_log(text)
    assert len(logs) == len(paths)
    for lg, r in zip(logs, [r for r in rows for _ in (1, 2)], strict=True):
        assert lg.verdict == r["verdict"]
        assert lg.stats.insns_processed == int(r["insns_processed"])


def test_alloc_flag_follows_the_kernels_allocators() -> None:
    """MEM_ALLOC is not printed; the flag comes from what the log shows bpf_obj_new & co.
    returned. Kernel objects (task_struct, bpf_cpumask) are never flagged."""
    logs = [lg for p in DATA_LOG_FILES if ".l2." in p.name for lg in cached_logs(p)]
    if not logs:
        pytest.skip("data/logs not captured yet")
    checked = 0
    for lg in logs:
        regs = lg.registers
        kernel = regs[regs["btf_type"].isin(["task_struct", "bpf_cpumask"])]
        assert not kernel["flags"].str.contains("alloc").any()
        news = lg.steps.merge(lg.instructions, on="insn_idx")
        news = news[news["asm"].str.contains(r"call bpf_(?:percpu_)?obj_new_impl#", regex=True)]
        for step in news["step"]:
            r0 = regs[
                (regs["reg"] == 0) & regs["step"].isin([step, step + 1]) & (regs["type"] == "ptr_")
            ]
            if len(r0):
                assert "alloc" in r0["flags"].iloc[0].split(","), (lg.name, r0["raw"].iloc[0])
                checked += 1
    assert checked >= 20


def test_file_readers_agree_on_odd_bytes(tmp_path: Path) -> None:
    """Invalid UTF-8 and a lone CR: load_log, iter_logs and iter_frames see the same lines."""
    raw = read_text(LOG_RINGBUF_REF_LEAK).encode()
    raw = raw.replace(b"; } @ buggy.bpf.c:53", b"; }\r\xff\xfe @ buggy.bpf.c:53", 1)
    f = tmp_path / "odd.log"
    f.write_bytes(raw)
    a = load_log(f)
    b = list(iter_logs(f))
    assert [lg.lines["text"].tolist() for lg in a] == [lg.lines["text"].tolist() for lg in b]
    assert a[0].kinds == b[0].kinds and a[0].kinds["unrecognized"] == 0
    chunks = list(iter_frames(f, tables=("lines",), chunk_lines=50))
    n = sum(len(c["lines"]) for c in chunks)
    assert n == raw.count(b"\n")
