"""Live loads on this kernel (root, bpf(), libbpf.so.1): the committed objects reproduce the
manifest, nothing stays loaded, the log buffer grows, and ``bpfkit load`` speaks JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bpfkit.cli import main
from bpfkit.kernel import (
    compare_frame,
    load_programs,
    read_captured_log,
    read_manifest,
    results_frame,
)
from tests.corpus import DATA_LOGS, DATA_LOGS_MANIFEST, DATA_OBJECTS, DATA_PROGRAMS

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("live")]

MANIFEST = read_manifest(DATA_LOGS_MANIFEST)
ALLOC = DATA_PROGRAMS / "alloc.bpf.o"
LOOPS = DATA_PROGRAMS / "loops.bpf.o"


@pytest.mark.parametrize("obj", DATA_OBJECTS, ids=lambda p: p.name)
def test_live_load_reproduces_manifest(obj: Path) -> None:
    rows = {r.program: r for r in MANIFEST if r.object == obj.name}
    results = load_programs(obj, log_level=1)
    assert [r.program for r in results] == list(rows)
    release = os.uname().release
    for r in results:
        m = rows[r.program]
        if m.kernel_release != release:
            pytest.skip(f"manifest captured on {m.kernel_release}, this kernel is {release}")
        got = (r.section, r.prog_type, r.verdict, r.errno, r.error, r.insns_processed)
        want = (m.section, m.prog_type, m.verdict, m.errno, m.error, m.insns_processed)
        assert got == want, r.program
        # Same kernel, same object: the state counts are exact too.
        assert (r.total_states, r.peak_states, r.max_states_per_insn, r.mark_read) == (
            m.total_states,
            m.peak_states,
            m.max_states_per_insn,
            m.mark_read,
        )
        assert (r.stack_depth or "") == m.stack_depth
        assert r.log_level == 5 and r.verification_time_usec is not None
        assert r.kernel_release == release


def _bpf_fds() -> list[str]:
    """This process's open BPF objects (programs, maps, BTF, links) by fd target."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # the fd of the directory listing itself
        if target.startswith("anon_inode:bpf") or target == "anon_inode:btf":
            held.append(target)
    return held


def _pins() -> set[str]:
    """Pins that could be ours: named like a program or map of the loaded objects (other
    processes on this machine may pin their own things meanwhile)."""
    ours = {r.program for r in MANIFEST} | {"buckets", "queues", "stashes", "wheels"}
    return {str(p) for p in Path("/sys/fs/bpf").rglob("*") if p.name in ours or ".bss" in p.name}


def test_nothing_left_loaded() -> None:
    """A BPF program or map lives while an fd, a pin or a link holds it. After loading, this
    process holds no BPF fd and nothing new is pinned, so everything was freed."""
    before_fds, before_pins = _bpf_fds(), _pins()
    results = load_programs(ALLOC) + load_programs(LOOPS, log_level=2)
    assert any(r.accepted for r in results) and any(not r.accepted for r in results)
    assert _bpf_fds() == before_fds
    assert _pins() == before_pins


def test_fds_are_really_seen() -> None:
    """The check above can fail: while libbpf holds an object, its fds are visible."""
    from bpfkit.kernel.load import check_environment

    lib = check_environment()
    before = len(_bpf_fds())
    obj = lib.lib.bpf_object__open_file(os.fsencode(LOOPS), None)
    try:
        assert lib.lib.bpf_object__load(obj) == 0
        held = _bpf_fds()
        assert len(held) > before
        assert any("prog" in t for t in held) and any("map" in t for t in held)
    finally:
        lib.lib.bpf_object__close(obj)
    assert len(_bpf_fds()) == before


def test_log_buffer_grows_on_enospc() -> None:
    """Start with a 4 KiB buffer: the loader must grow it until the whole log fits."""
    row = next(r for r in MANIFEST if r.program == "long_loop_ok")
    (r,) = load_programs(LOOPS, "long_loop_ok", log_level=2, log_size=4096)
    assert r.verdict == "accept" and r.errno == 0
    assert r.log.count("\n") == row.l2_lines
    assert r.insns_processed == row.insns_processed
    # The same at level 1, where the kernel throws away the log of each verified path but
    # still reports ENOSPC if a path's log overflowed the buffer.
    (r1,) = load_programs(LOOPS, "long_loop_ok", log_level=1, log_size=4096)
    assert r1.verdict == "accept"
    assert _without_time(r1.log) == _without_time(read_captured_log(DATA_LOGS / row.l1_log))


def test_log_larger_than_cap_is_reported() -> None:
    (r,) = load_programs(LOOPS, "long_loop_ok", log_level=2, log_size=1 << 16, max_log_size=1 << 20)
    assert (r.verdict, r.errno) == ("reject", 28)
    assert "does not fit in 1048576 bytes" in r.error


def _without_time(log: str) -> list[str]:
    return [line for line in log.splitlines() if not line.startswith("verification time ")]


def test_rejected_level2_matches_captured_error() -> None:
    row = next(r for r in MANIFEST if r.program == "list_push_wrong_node")
    (r,) = load_programs(DATA_PROGRAMS / row.object, row.program, log_level=2)
    assert r.verdict == "reject" and r.error == row.error and r.errno == row.errno
    assert r.log.count("\n") == row.l2_lines


def test_stats_only_level() -> None:
    (r,) = load_programs(ALLOC, "obj_new_leak", log_level="stats")
    assert r.log_level == 4 and r.verdict == "reject"
    row = next(m for m in MANIFEST if m.program == "obj_new_leak")
    assert r.insns_processed == row.insns_processed
    assert r.verification_time_usec is not None


def test_compare_live_run_with_manifest() -> None:
    live = load_programs(ALLOC)
    captured = [r._asdict() for r in MANIFEST if r.object == ALLOC.name]
    cmp = compare_frame(captured, live, metrics=["insns_processed", "total_states"])
    assert len(cmp) == len(live)
    assert cmp["verdict_same"].all()
    assert (cmp["insns_processed_diff"] == 0).all()
    df = results_frame(live)
    assert list(df["program"]) == [r.program for r in live]


def test_cli_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", str(ALLOC), "--program", "obj_drop_twice", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 1
    rec = records[0]
    for key in (
        "object",
        "program",
        "section",
        "verdict",
        "errno",
        "error",
        "insns_processed",
        "total_states",
        "peak_states",
    ):
        assert key in rec
    row = next(m for m in MANIFEST if m.program == "obj_drop_twice")
    assert (rec["verdict"], rec["errno"], rec["error"]) == (row.verdict, row.errno, row.error)
    assert "log" not in rec


def test_cli_program_across_objects(capsys: pytest.CaptureFixture[str]) -> None:
    objs = [str(o) for o in DATA_OBJECTS]
    assert main(["load", *objs, "--program", "list_push_wrong_node", "--json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert (rec["object"], rec["verdict"]) == ("list.bpf.o", "reject")
    assert main(["load", *objs, "--program", "no_such_prog"]) == 1
    assert "no program named 'no_such_prog'" in capsys.readouterr().err


def test_cli_table_out_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", str(ALLOC), "--out", str(tmp_path / "logs")]) == 0
    table = capsys.readouterr().out
    assert "Verdict" in table and "obj_new_leak" in table
    written = sorted(p.name for p in (tmp_path / "logs" / "alloc").iterdir())
    assert written == sorted(f"{r.program}.l1.log" for r in MANIFEST if r.object == ALLOC.name)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        assert main(["load", str(ALLOC), "--json"]) == 0
        path.write_text(capsys.readouterr().out)
    assert main(["load", "--compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "Insns (DIFF)" in out and "obj_new_leak" in out
    assert "+0 (+0.00%)" in out  # same kernel, same object: no difference in insns


def test_cli_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "--capture", str(tmp_path), str(ALLOC)]) == 0
    assert "captured" in capsys.readouterr().out
    rows = read_manifest(tmp_path)
    want = [r for r in MANIFEST if r.object == ALLOC.name]
    assert [(r.program, r.verdict, r.error, r.insns_processed) for r in rows] == [
        (r.program, r.verdict, r.error, r.insns_processed) for r in want
    ]
    for r in rows:
        assert read_captured_log(tmp_path / r.l2_log).count("\n") == r.l2_lines


def _bpftool_load(obj: Path, tmp_name: str) -> subprocess.CompletedProcess[str]:
    pin = Path("/sys/fs/bpf") / f"bpfkit_test_{os.getpid()}_{tmp_name}"
    try:
        return subprocess.run(
            ["bpftool", "prog", "loadall", str(obj), str(pin)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        shutil.rmtree(pin, ignore_errors=True)


def test_foreign_objects_agree_with_bpftool() -> None:
    """Objects nobody here wrote: bpftool's load succeeds exactly when ours accepts."""
    from tests.corpus import CILIUM, MINIMAL_OBJ

    if shutil.which("bpftool") is None or not MINIMAL_OBJ.is_file():
        pytest.skip("needs bpftool and the shared corpus")
    (r,) = load_programs(MINIMAL_OBJ)
    assert (r.program, r.verdict) == ("handle_tp", "accept")
    assert _bpftool_load(MINIMAL_OBJ, "minimal").returncode == 0

    relocs = CILIUM / "relocs-el.elf"
    results = load_programs(relocs)
    assert results and all(r.verdict == "reject" for r in results)
    # libbpf refused before the kernel saw the program: its most specific warning is the error.
    assert all("missing BPF prog type" in r.error for r in results)
    ref = _bpftool_load(relocs, "relocs")
    assert ref.returncode != 0 and "ELF section 'socket/type_ids'" in ref.stderr
    assert "ELF section name 'socket/type_ids'" in results[0].error
