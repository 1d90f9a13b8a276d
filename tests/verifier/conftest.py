"""Shared helpers for the verifier-log tests: all log files, and a per-kind line tally that
is printed at the end of the run (the issue asks for the count per kind in the test output)."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

from bpfkit.verifier import Log, load_log
from tests.corpus import CORPUS_LOG_FILES, DATA_LOG_FILES

#: Every log the quality bar covers: data/logs (6.18, live) and the shared corpus.
ALL_LOG_FILES: list[Path] = [*DATA_LOG_FILES, *CORPUS_LOG_FILES]

KIND_TALLY: Counter[str] = Counter()
RENDER_TALLY: Counter[str] = Counter()


@functools.cache
def cached_logs(path: Path) -> tuple[Log, ...]:
    """load_log(path), parsed once per test session (Logs are read-only)."""
    return tuple(load_log(path))


def log_id(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if KIND_TALLY:
        tr = terminalreporter
        tr.section("verifier log lines per kind (data/logs + corpus)")
        for kind, n in sorted(KIND_TALLY.items(), key=lambda kv: -kv[1]):
            tr.write_line(f"{kind:>14} {n}")
    if RENDER_TALLY:
        tr = terminalreporter
        tr.section("register/stack tokens rendered back")
        for k, n in sorted(RENDER_TALLY.items()):
            tr.write_line(f"{k:>24} {n}")
