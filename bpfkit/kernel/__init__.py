"""bpfkit.kernel: the live kernel through libbpf (ctypes), and the logs captured from it.

Load each program of a BPF object on its own into the running kernel and keep what the
verifier said (:func:`load_programs` -> :class:`LoadResult`), tabulate and compare runs
(:func:`results_frame`, :func:`compare_frame`), capture logs with a manifest
(:func:`capture_logs`) and read them back anywhere (:func:`read_manifest`,
:func:`read_captured_log`); the sample programs' ground truth (:func:`read_expected`,
:func:`expected_frame`).
"""

from __future__ import annotations

from bpfkit.kernel._libbpf import tune_malloc
from bpfkit.kernel.capture import (
    ManifestRow,
    capture_logs,
    manifest_frame,
    read_captured_log,
    read_manifest,
)
from bpfkit.kernel.expected import ExpectedRow, expected_frame, read_expected
from bpfkit.kernel.frames import compare_frame, results_frame
from bpfkit.kernel.load import (
    LoadResult,
    ProgramInfo,
    check_environment,
    kernel_log_level,
    list_programs,
    load_programs,
)
from bpfkit.kernel.stats import VerifierStats, parse_verifier_stats, verifier_error_line

__all__ = [
    "ExpectedRow",
    "LoadResult",
    "ManifestRow",
    "ProgramInfo",
    "VerifierStats",
    "capture_logs",
    "check_environment",
    "compare_frame",
    "expected_frame",
    "kernel_log_level",
    "list_programs",
    "load_programs",
    "manifest_frame",
    "parse_verifier_stats",
    "read_captured_log",
    "read_expected",
    "read_manifest",
    "results_frame",
    "tune_malloc",
    "verifier_error_line",
]
