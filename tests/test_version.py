"""``bpfkit --version`` prints the version pyproject.toml declares (and ``bpfkit.__version__``)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import bpfkit
from tests.corpus import ROOT


def test_version() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = subprocess.run(
        [sys.executable, "-m", "bpfkit.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert out == f"bpfkit {declared}\n"
    assert bpfkit.__version__ == declared
