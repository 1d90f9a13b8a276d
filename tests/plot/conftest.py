"""Fixtures of the figure tests: big real logs made here (the list push/pop loops of
tests/plot/programs/big_list.bpf.c, compiled with clang-19 and loaded into the running kernel
at log level 2), built once per session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.corpus import DATA_PROGRAMS

PROGRAMS = Path(__file__).parent / "programs"


def generated_logs(out: Path) -> dict[str, Path]:
    """Compile big_list.bpf.c with clang-19 and load it at log level 2 with bpfkit's loader;
    return program name -> level-2 log file (skips without clang-19, bpftool or BPF)."""
    from bpfkit.errors import KernelError
    from bpfkit.kernel.load import check_environment

    clang = shutil.which("clang-19")
    bpftool = shutil.which("bpftool")
    if clang is None or bpftool is None:
        pytest.skip("needs clang-19 and bpftool to build tests/plot/programs/big_list.bpf.c")
    try:
        check_environment()
    except KernelError as exc:
        pytest.skip(f"needs a kernel that can load BPF programs: {exc}")
    out.mkdir(parents=True, exist_ok=True)
    vmlinux_h = out / "vmlinux.h"
    with vmlinux_h.open("w") as f:
        subprocess.run(
            [bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
            stdout=f,
            check=True,
        )
    obj = out / "big_list.bpf.o"
    subprocess.run(
        [clang, "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", f"-I{out}",
         f"-I{DATA_PROGRAMS}", "-c", str(PROGRAMS / "big_list.bpf.c"), "-o", str(obj)],
        check=True,
    )  # fmt: skip
    from bpfkit.kernel import load_programs

    paths = {}
    for res in load_programs(obj, log_level=2):
        p = out / f"{res.program}.l2.log"
        p.write_text(res.log)
        paths[res.program] = p
    return paths


@pytest.fixture(scope="session")
def big_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The level-2 logs of big_list.bpf.c's programs, by program name."""
    return generated_logs(tmp_path_factory.mktemp("big_list"))
