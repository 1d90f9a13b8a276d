"""Shared helpers for the BTF tests: running bpftool / pahole live."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

BPFTOOL = shutil.which("bpftool") or next(
    (p for p in ("/usr/sbin/bpftool", "/sbin/bpftool") if Path(p).exists()), None
)
PAHOLE = shutil.which("pahole")


def bpftool_raw(path: Path, base: Path | None = None) -> str:
    """`bpftool btf dump file PATH format raw` (with `-B BASE`), run live."""
    if BPFTOOL is None:
        pytest.skip("needs bpftool (apt: bpftool / linux-tools) for the live golden dump")
    cmd = [BPFTOOL]
    if base is not None:
        cmd += ["-B", str(base)]
    cmd += ["btf", "dump", "file", str(path), "format", "raw"]
    res = subprocess.run(cmd, capture_output=True, text=True, errors="surrogateescape")
    assert res.returncode == 0, res.stderr
    return res.stdout
