"""Bad input gives a BpfkitError or a result, never a raw exception or a hang.

Mutated copies of a real program's BTF (data/programs/list.bpf.o, which has lists, locks,
contains tags and global sections) go through the field and graph analysis; a garbage file
goes through ``bpfkit own``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.btf import parse_btf
from bpfkit.cli import main
from bpfkit.errors import BpfkitError
from bpfkit.ownership.fields import all_records, resolve_depth_problems
from bpfkit.ownership.typegraph import check_ownership
from tests.corpus import DATA_PROGRAMS
from tests.ownership import kernel_oracle as ko

LIST_OBJ = DATA_PROGRAMS / "list.bpf.o"
RAW = ko.raw_btf(LIST_OBJ) if LIST_OBJ.exists() else b""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=24), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_btf_gives_result_or_bpfkit_error(edits: list[tuple[int, int]]) -> None:
    data = bytearray(RAW)
    for pos, val in edits:
        data[pos % len(data)] = val
    try:
        spec = parse_btf(bytes(data), name="mutated")
        spec.validate()
    except BpfkitError:
        return
    try:
        all_records(spec, maps=[])
        resolve_depth_problems(spec)
        check_ownership(spec, maps=[])
    except BpfkitError:
        pass


def test_garbage_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "garbage.o"
    bad.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    assert main(["own", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bpfkit: error:" in err and "garbage.o" in err


def test_missing_log(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["own", str(LIST_OBJ), "--log", "/nonexistent/x.log"]) == 1
    assert "x.log" in capsys.readouterr().err
