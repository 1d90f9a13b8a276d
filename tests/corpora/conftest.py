"""Fixtures of tests/corpora (bpfkit.corpus; tests/corpus.py names the shared inputs): datasets parsed from data/ once per session, and a live run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfkit.errors import KernelError
from tests.corpus import DATA, DATA_LOGS

#: The sample programs built with -mcpu=v4 and captured on 6.18 (data/logs-mcpu-v4/README.md).
DATA_LOGS_V4 = DATA / "logs-mcpu-v4"


@pytest.fixture(scope="session")
def parsed_l2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/logs (level 2) parsed in this process."""
    from bpfkit.corpus import parse_logs

    out = tmp_path_factory.mktemp("corpus") / "l2"
    parse_logs([DATA_LOGS], out, workers=0, progress=False)
    return out


@pytest.fixture(scope="session")
def parsed_v4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/logs-mcpu-v4 (level 2) parsed in this process."""
    from bpfkit.corpus import parse_logs

    out = tmp_path_factory.mktemp("corpus") / "v4"
    parse_logs([DATA_LOGS_V4], out, workers=0, progress=False)
    return out


@pytest.fixture(scope="session")
def live_ok() -> None:
    """Skip unless this process can load BPF programs."""
    from bpfkit.kernel import check_environment

    try:
        check_environment()
    except KernelError as exc:
        pytest.skip(f"needs a kernel that can load BPF programs: {exc}")
