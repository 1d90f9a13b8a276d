"""Unusable environments and bad inputs give a clear bpfkit error naming what is wrong.

These run everywhere: the environment failures are simulated (monkeypatched euid,
capabilities, BTF path, library path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bpfkit.kernel.load as load_mod
from bpfkit.cli import main
from bpfkit.errors import ELFError, KernelError, LogError
from bpfkit.kernel import check_environment, list_programs, load_programs, read_manifest
from bpfkit.kernel._libbpf import open_libbpf
from bpfkit.kernel.capture import read_captured_log
from bpfkit.kernel.expected import EXPECTED_COLUMNS, read_expected
from tests.corpus import DATA_LOGS_MANIFEST, DATA_PROGRAMS

ALLOC = DATA_PROGRAMS / "alloc.bpf.o"


def _libbpf_or_skip() -> None:
    try:
        open_libbpf()
    except KernelError as exc:
        pytest.skip(f"needs libbpf.so.1 to open objects: {exc}")


def test_not_root_without_cap_bpf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(load_mod, "_cap_eff", lambda: 0)
    with pytest.raises(KernelError, match=r"root or CAP_BPF.*data/logs"):
        check_environment()
    with pytest.raises(KernelError, match="root or CAP_BPF"):
        load_programs(ALLOC)


def test_not_root_but_cap_bpf_passes_that_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(load_mod, "_cap_eff", lambda: 1 << load_mod.CAP_BPF)
    monkeypatch.setattr(load_mod, "SYS_BTF_VMLINUX", Path("/nonexistent/vmlinux"))
    with pytest.raises(KernelError, match="no BTF"):  # the next check, not the capability one
        check_environment()


def test_kernel_without_btf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(load_mod, "SYS_BTF_VMLINUX", tmp_path / "vmlinux")
    with pytest.raises(KernelError, match=r"no BTF .*vmlinux is missing.*data/logs"):
        check_environment()


def test_missing_libbpf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(load_mod, "SYS_BTF_VMLINUX", Path(__file__))
    missing = str(tmp_path / "libbpf.so.1")
    with pytest.raises(KernelError, match=r"cannot load libbpf.*libbpf1.*data/logs"):
        check_environment(missing)
    with pytest.raises(KernelError, match="cannot load libbpf"):
        load_programs(ALLOC, libbpf_path=missing)


def test_cli_reports_environment_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(load_mod, "_cap_eff", lambda: 0)
    assert main(["load", str(ALLOC)]) == 1
    err = capsys.readouterr().err
    assert "root or CAP_BPF" in err and "data/logs" in err


def test_missing_object(tmp_path: Path) -> None:
    path = tmp_path / "absent.bpf.o"
    with pytest.raises(ELFError, match="absent.bpf.o: no such BPF object"):
        load_programs(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"not an ELF file at all\n" * 10, b"\x7fELF" + b"\x00" * 60],
    ids=["empty", "text", "bare-elf-header"],
)
def test_corrupt_object_names_the_file(tmp_path: Path, content: bytes) -> None:
    _libbpf_or_skip()
    path = tmp_path / "corrupt.bpf.o"
    path.write_bytes(content)
    with pytest.raises(ELFError, match=r"corrupt\.bpf\.o: libbpf cannot open"):
        list_programs(path)


def test_truncated_object_names_the_file(tmp_path: Path) -> None:
    _libbpf_or_skip()
    path = tmp_path / "truncated.bpf.o"
    path.write_bytes(ALLOC.read_bytes()[:2000])
    with pytest.raises(ELFError, match=r"truncated\.bpf\.o"):
        list_programs(path)


def test_unknown_program(monkeypatch: pytest.MonkeyPatch) -> None:
    _libbpf_or_skip()
    monkeypatch.setattr(load_mod, "check_environment", lambda path=None: open_libbpf(path))
    with pytest.raises(ELFError, match=r"no program named 'nope' \(has: obj_new_drop_ok"):
        load_programs(ALLOC, "nope")


def test_list_programs_without_kernel() -> None:
    _libbpf_or_skip()
    progs = list_programs(ALLOC)
    assert progs[0].program == "obj_new_drop_ok"
    assert {p.section for p in progs} == {"tc"}
    assert {p.prog_type for p in progs} == {"sched_cls"}
    assert all(p.insn_cnt > 0 for p in progs)


def test_bad_log_level() -> None:
    with pytest.raises(ValueError, match="log level"):
        load_mod.kernel_log_level(9)
    with pytest.raises(ValueError, match="log level"):
        load_mod.kernel_log_level("verbose")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "MANIFEST.tsv:1: expected header"),
        ("object\tprogram\n", ":1: expected header"),
        (None, ":2: expected 19 tab-separated cells, found 2"),
        ("BADINT", ":2: column errno expects an integer, found 'x'"),
    ],
)
def test_bad_manifest(tmp_path: Path, text: str | None, match: str) -> None:
    header = DATA_LOGS_MANIFEST.read_text().splitlines()[0]
    good = DATA_LOGS_MANIFEST.read_text().splitlines()[1].split("\t")
    if text is None:
        text = header + "\nalloc.bpf.o\tp\n"
    elif text == "BADINT":
        good[7] = "x"
        text = header + "\n" + "\t".join(good) + "\n"
    path = tmp_path / "MANIFEST.tsv"
    path.write_text(text)
    with pytest.raises(LogError, match=match):
        read_manifest(path)


def test_missing_manifest_and_bad_log(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="cannot read manifest"):
        read_manifest(tmp_path / "nope.tsv")
    bad = tmp_path / "x.l2.log.xz"
    bad.write_bytes(b"not xz")
    with pytest.raises(LogError, match=r"x\.l2\.log\.xz: cannot read captured log"):
        read_captured_log(bad)
    bin_log = tmp_path / "y.l1.log"
    bin_log.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LogError, match="y.l1.log"):
        read_captured_log(bin_log)


def test_compare_rejects_bad_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.json"
    a.write_text("{not json")
    assert main(["load", "--compare", str(a), str(a)]) == 1
    assert "a.json" in capsys.readouterr().err


def test_load_without_objects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load"]) == 2
    assert "at least one OBJ" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("x.bpf.o\tp\tmaybe\tnone\td\n", ":2: verdict must be accept or reject"),
        ("x.bpf.o\tp\treject\toops\td\n", ":2: unknown mistake kind 'oops'"),
        ("x.bpf.o\tp\n", ":2: expected 5 tab-separated cells, found 2"),
    ],
)
def test_bad_expected(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "EXPECTED.tsv"
    path.write_text("\t".join(EXPECTED_COLUMNS) + "\n" + body)
    with pytest.raises(LogError, match=match):
        read_expected(path)
    path.write_text("program\n")
    with pytest.raises(LogError, match=":1: expected header"):
        read_expected(path)


def test_xz_log_over_the_limit(tmp_path: Path) -> None:
    import lzma

    big = tmp_path / "big.l2.log.xz"
    # numbers that vary, as in a real log (identical lines would be a decompression bomb)
    text = "".join(f"{i}: (b7) r0 = {i * 7919 % 1000003}\n" for i in range(100_000))
    big.write_bytes(lzma.compress(text.encode()))
    assert read_captured_log(big).count("\n") == 100_000
    with pytest.raises(LogError, match=r"big\.l2\.log\.xz: .*more than 1,000 bytes"):
        read_captured_log(big, max_bytes=1000)
    cut = tmp_path / "cut.l2.log.xz"
    cut.write_bytes(big.read_bytes()[:-40])
    with pytest.raises(LogError, match=r"cut\.l2\.log\.xz"):
        read_captured_log(cut)


def test_tune_malloc_applies_on_glibc() -> None:
    import platform

    from bpfkit.kernel import tune_malloc

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt tuning is glibc-only")
    # In a child process: the setting is process-wide and would outlive this test.
    code = "from bpfkit.kernel import tune_malloc as t; print(t(), t())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
    assert callable(tune_malloc)


def test_captured_log_xz_memory_and_bomb_caps(tmp_path: Path) -> None:
    """A captured .xz log gets the log readers' caps: an xz header that claims a huge
    dictionary (the fuzz regression input) and a decompression bomb are LogErrors naming
    the file, before the memory is taken."""
    import lzma

    from tests.fuzz.targets import REGRESSIONS  # the committed regression inputs

    claims = REGRESSIONS / "log_file" / "xz_header_claims_2gib_dictionary.log.xz"
    with pytest.raises(LogError, match=r"claims_2gib.*decoder memory"):
        read_captured_log(claims)
    bomb = tmp_path / "bomb.l2.log.xz"
    bomb.write_bytes(lzma.compress(b"0: R1=ctx() R10=fp0\n" * 2_000_000))
    assert len(bomb.read_bytes()) * 400 < 40_000_000  # it expands more than 400x
    with pytest.raises(LogError, match=r"bomb\.l2\.log\.xz: cannot read captured log.*400x"):
        read_captured_log(bomb)
