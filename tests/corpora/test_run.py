"""bpfkit corpus run: the live kernel's answers kept per program, beside the prediction."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from bpfkit.cli import main
from bpfkit.corpus import open_corpus, run_objects
from bpfkit.corpus.dataset import sha256_file
from bpfkit.kernel import load_programs
from bpfkit.kernel.load import kernel_release
from bpfkit.obj import load_object
from bpfkit.ownership.static import predict
from tests.corpus import DATA_OBJECTS, DATA_PROGRAMS

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def run_dir(live_ok: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("run")
    (tmp / "foreign.o").write_bytes(b"this is not an ELF object\n")
    (tmp / "truncated.bpf.o").write_bytes(DATA_OBJECTS[0].read_bytes()[:3000])
    out = tmp / "run"
    objs = [*DATA_OBJECTS[:3], tmp / "foreign.o", tmp / "truncated.bpf.o"]
    assert main(["corpus", "run", *map(str, objs), "-o", str(out), "--no-progress"]) == 0
    return out


def test_each_program_as_the_kernel_answers(run_dir: Path) -> None:
    c = open_corpus(run_dir)
    progs = c.programs.set_index(["object", "program"])
    for obj in DATA_OBJECTS[:3]:
        for r in load_programs(obj, log_level=2):  # the kernel, asked again now
            row = progs.loc[(r.object, r.program)]
            assert row["verdict"] == r.verdict and row["errno"] == r.errno
            assert row["insns_processed"] == r.insns_processed
            assert row["total_states"] == r.total_states
            assert row["peak_states"] == r.peak_states
            assert row["stack_depth"] == r.stack_depth
            assert ("" if pd.isna(row["error"]) else row["error"]) == r.error
            assert row["log_level"] == 2 and row["kernel_release"] == kernel_release()
            # the whole log is kept: the same program's log, but for timing lines
            assert c.log_text(r.object, r.program).count("\n") == r.log.count("\n")
        for p in predict(load_object(obj)):
            assert progs.loc[(obj.name, p.program), "predicted_verdict"] == p.verdict


def test_manifest_and_failed_objects(run_dir: Path) -> None:
    c = open_corpus(run_dir)
    m = c.manifest
    assert m["kind"] == "run" and m["complete"] and m["kernel_release"] == kernel_release()
    assert m["bpfkit_version"] and m["log_level"] == 2
    assert "clang" in m["clang_version"] or not shutil.which("clang-19")
    hashes = {Path(e["path"]).name: e["sha256"] for e in m["inputs"]}
    for obj in DATA_OBJECTS[:3]:
        assert hashes[obj.name] == sha256_file(obj)
    fails = c.failures.set_index("object")["error"].to_dict()
    assert set(fails) == {"foreign.o", "truncated.bpf.o"}
    assert "not an ELF" in fails["foreign.o"] and "3000 bytes" in fails["truncated.bpf.o"]
    assert m["counts"]["failed"] == 2
    assert m["counts"]["programs"] == sum(
        len(load_programs(o, log_level=1)) for o in DATA_OBJECTS[:3]
    )


def test_resume_skips_what_is_done(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(run_dir, out)
    before = open_corpus(out).programs
    s = run_objects(DATA_OBJECTS[:3], out, progress=False)
    assert s.skipped == 3 and s.seconds < 5
    assert len(open_corpus(out).programs) == len(before)


def test_steps_tables_are_the_logs(run_dir: Path) -> None:
    c = open_corpus(run_dir)
    steps = c.table("steps")
    row = c.programs.dropna(subset=["program"]).iloc[0]
    lg = c.log(row["object"], row["program"])
    mine = steps[(steps["object"] == row["object"]) & (steps["program"] == row["program"])]
    assert len(mine) == len(lg.steps) > 0
    assert DATA_PROGRAMS.is_dir()
