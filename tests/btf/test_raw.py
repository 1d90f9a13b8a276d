"""Raw dump: byte-for-byte bpftool (golden files and bpftool run live); JSON round trip."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pytest

from bpfkit.btf import load_btf, load_vmlinux
from bpfkit.btf.cli import register
from bpfkit.btf.raw import format_json, format_raw, iter_raw_lines, parse_json, type_to_dict
from bpfkit.btf.types import Struct
from bpfkit.errors import BpfkitError, BTFError
from tests.corpus import (
    BPFTOOL_RAW_GOLDENS,
    DATA_PROGRAMS,
    KINDS_EL,
    MINIMAL_OBJ,
    TESTMOD_BASE,
    TESTMOD_SPLIT,
    TESTMOD_SPLIT_RAW,
    VMLINUX_71_GZ,
)

from .conftest import bpftool_raw

SYS_VMLINUX = Path("/sys/kernel/btf/vmlinux")


def _source_of(golden: Path) -> Path:
    stem = golden.name.removesuffix(".bpftool-raw.txt")
    for cand in (
        golden.with_name(stem + ".o"),
        golden.with_name(stem + ".elf"),
        golden.with_name(stem),
    ):
        if cand.exists():
            return cand
    raise AssertionError(f"no input beside {golden}")


def _first_diff(got: str, want: str) -> str:
    for i, (a, b) in enumerate(zip(got.splitlines(), want.splitlines(), strict=False)):
        if a != b:
            return f"line {i + 1}: got {a!r}, bpftool {b!r}"
    return f"{len(got.splitlines())} lines vs bpftool's {len(want.splitlines())}"


@pytest.mark.parametrize(
    "golden",
    [g for g in BPFTOOL_RAW_GOLDENS if g != TESTMOD_SPLIT_RAW],
    ids=lambda p: p.name,
)
def test_raw_equals_golden(golden: Path) -> None:
    got = format_raw(load_btf(_source_of(golden)))
    want = golden.read_text()
    assert got == want, _first_diff(got, want)


def test_split_raw_equals_golden_with_base() -> None:
    base = load_btf(TESTMOD_BASE)
    got = format_raw(load_btf(TESTMOD_SPLIT, base=base))
    want = TESTMOD_SPLIT_RAW.read_text()
    assert got == want, _first_diff(got, want)


def test_goldens_are_all_covered() -> None:
    assert len(BPFTOOL_RAW_GOLDENS) >= 14


@pytest.mark.slow
def test_raw_equals_live_bpftool_on_kernel_btf() -> None:
    if not os.access(SYS_VMLINUX, os.R_OK):
        pytest.skip("needs a readable /sys/kernel/btf/vmlinux")
    want = bpftool_raw(SYS_VMLINUX)
    got = format_raw(load_vmlinux())
    assert got == want, _first_diff(got, want)
    assert len(got.splitlines()) > 100_000


@pytest.mark.parametrize("path", [MINIMAL_OBJ, KINDS_EL, VMLINUX_71_GZ], ids=lambda p: p.name)
def test_raw_equals_live_bpftool_on_corpus(path: Path, tmp_path: Path) -> None:
    if path.suffix == ".gz":  # bpftool reads raw BTF only
        import gzip

        raw = tmp_path / "vmlinux.btf"
        raw.write_bytes(gzip.decompress(path.read_bytes()))
        path = raw
        want = bpftool_raw(path)
        if not want.startswith("[1]"):
            pytest.skip("this bpftool cannot read the 32-byte BTF header")
    else:
        want = bpftool_raw(path)
    got = format_raw(load_btf(path))
    assert got == want, _first_diff(got, want)


def test_raw_split_live_bpftool(tmp_path: Path) -> None:
    want = bpftool_raw(TESTMOD_SPLIT, base=TESTMOD_BASE)
    got = format_raw(load_btf(TESTMOD_SPLIT, base=load_btf(TESTMOD_BASE)))
    assert got == want


PROGRAM_OBJECTS = sorted(DATA_PROGRAMS.glob("*.o")) if DATA_PROGRAMS.exists() else []


@pytest.mark.parametrize("path", PROGRAM_OBJECTS, ids=lambda p: p.name)
def test_raw_equals_live_bpftool_on_project_programs(path: Path) -> None:
    want = bpftool_raw(path)
    got = format_raw(load_btf(path))
    assert got == want, _first_diff(got, want)


def test_iter_raw_lines_selected_ids_and_base_ids() -> None:
    base = load_btf(TESTMOD_BASE)
    split = load_btf(TESTMOD_SPLIT, base=base)
    golden_base = (TESTMOD_BASE.parent / (TESTMOD_BASE.name + ".bpftool-raw.txt")).read_text()
    first_base_type = golden_base.split("\n[2]")[0] + "\n"
    assert list(iter_raw_lines(split, ids=[1])) == [first_base_type]
    golden = TESTMOD_SPLIT_RAW.read_text()
    last = "[" + golden.rsplit("\n[", 1)[1]
    assert list(iter_raw_lines(split, ids=[len(split) - 1])) == [last]


@pytest.mark.parametrize(
    "path",
    [KINDS_EL, MINIMAL_OBJ, pytest.param(VMLINUX_71_GZ, marks=pytest.mark.slow)],
    ids=lambda p: getattr(p, "name", "vmlinux71"),
)
def test_json_round_trips_every_field(path: Path) -> None:
    spec = load_btf(path)
    text = format_json(spec)
    doc = json.loads(text)
    assert doc["format"] == "bpfkit-btf" and doc["version"] == 1
    assert doc["first_id"] == spec.first_id
    assert len(doc["types"]) == len(spec) - spec.first_id
    assert parse_json(text) == list(spec)


def test_json_schema_fields() -> None:
    spec = load_btf(KINDS_EL)
    bits = spec.find_one("bits")
    assert isinstance(bits, Struct)
    d = type_to_dict(bits)
    assert d["kind"] == "STRUCT" and d["kind_flag"] is True
    assert d["members"][3] == {"name": "d", "type": 24, "bit_offset": 10, "bitfield_size": 40}
    neg = type_to_dict(spec.find_one("neg64"))
    assert neg["values"] == [{"name": "NEG64", "value": -4294967296}] and neg["signed"] is True


def test_parse_json_rejects_garbage() -> None:
    with pytest.raises(BTFError):
        parse_json("{")
    with pytest.raises(BTFError):
        parse_json('{"format": "bpfkit-btf", "types": [{"kind": "STRUCT", "id": 1}]}')


def main(argv: list[str]) -> int:
    """`bpfkit btf ...` through this package's own register(), as bpfkit.cli.main does, so a
    broken command group elsewhere does not hide what this one does."""
    parser = argparse.ArgumentParser(prog="bpfkit")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except BpfkitError as exc:
        print(f"bpfkit: error: {exc}", file=sys.stderr)
        return 1
    return code


def test_cli_dump_raw_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["btf", "dump", str(KINDS_EL)]) == 0
    out = capsys.readouterr().out
    assert out == Path(str(KINDS_EL)[:-2] + ".bpftool-raw.txt").read_text()
    assert main(["btf", "dump", str(TESTMOD_SPLIT), "--base", str(TESTMOD_BASE)]) == 0
    assert capsys.readouterr().out == TESTMOD_SPLIT_RAW.read_text()
    assert main(["btf", "dump", str(KINDS_EL), "--format", "json", "--type", "node"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in doc["types"]] == ["node"]
    assert main(["btf", "dump", str(KINDS_EL), "--type", "u32"]) == 0
    assert capsys.readouterr().out == "[20] TYPEDEF 'u32' type_id=21\n"


def test_cli_dump_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.btf"
    bad.write_bytes(b"\x9f\xeb\x01\x00" + b"\xff" * 30)
    assert main(["btf", "dump", str(bad)]) == 1
    assert "bpfkit: error:" in capsys.readouterr().err


def test_cli_dump_format_c_calls_cformat(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        from bpfkit.btf.cformat import format_c
    except ImportError:
        pytest.skip("bpfkit.btf.cformat (another engineer's) is not in this checkout")
    assert main(["btf", "dump", str(KINDS_EL), "--format", "c"]) == 0
    assert capsys.readouterr().out == format_c(load_btf(KINDS_EL), names=None)
    assert main(["btf", "dump", str(KINDS_EL), "--format", "c", "--type", "bits"]) == 0
    assert capsys.readouterr().out == format_c(load_btf(KINDS_EL), names=["bits"])


def test_python_m_bpfkit_btf(capsys: pytest.CaptureFixture[str]) -> None:
    from bpfkit.btf.__main__ import main as btf_main

    assert btf_main(["dump", str(KINDS_EL)]) == 0
    assert capsys.readouterr().out == Path(str(KINDS_EL)[:-2] + ".bpftool-raw.txt").read_text()
    assert btf_main(["dump", str(KINDS_EL) + ".missing"]) == 1
    assert "cannot read" in capsys.readouterr().err
