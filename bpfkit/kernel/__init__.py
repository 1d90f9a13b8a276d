"""bpfkit.kernel: the live kernel through libbpf (ctypes), and the logs captured from it.

Load each program of a BPF object on its own into the running kernel and keep what the
verifier said (:func:`load_programs` -> :class:`LoadResult`; bpfkit prepares each object once
as libbpf 1.1 would, :func:`prepare_object`, with userspace CO-RE against :class:`KernelBTF`,
and hands libbpf what it does not prepare itself), tabulate and compare runs
(:func:`results_frame`, :func:`compare_frame`), capture logs with a manifest
(:func:`capture_logs`) and read them back anywhere (:func:`read_manifest`,
:func:`read_captured_log`); the sample programs' ground truth (:func:`read_expected`,
:func:`expected_frame`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfkit._lazy import lazy_exports

if TYPE_CHECKING:
    from bpfkit.kernel._libbpf import tune_malloc
    from bpfkit.kernel.capture import (
        ManifestRow,
        capture_logs,
        manifest_frame,
        read_captured_log,
        read_manifest,
    )
    from bpfkit.kernel.core import CoreUnsupported, apply_core_relos
    from bpfkit.kernel.direct import PreparedObject, Unsupported, prepare_object
    from bpfkit.kernel.expected import ExpectedRow, expected_frame, read_expected
    from bpfkit.kernel.frames import compare_frame, results_frame
    from bpfkit.kernel.kbtf import KernelBTF
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
    "CoreUnsupported",
    "ExpectedRow",
    "KernelBTF",
    "LoadResult",
    "ManifestRow",
    "PreparedObject",
    "ProgramInfo",
    "Unsupported",
    "VerifierStats",
    "apply_core_relos",
    "capture_logs",
    "check_environment",
    "compare_frame",
    "expected_frame",
    "kernel_log_level",
    "list_programs",
    "load_programs",
    "manifest_frame",
    "parse_verifier_stats",
    "prepare_object",
    "read_captured_log",
    "read_expected",
    "read_manifest",
    "results_frame",
    "tune_malloc",
    "verifier_error_line",
]

# Imported on first use (bpfkit._lazy), so that `import bpfkit.kernel` and every
# `bpfkit ... --help` import no submodule and no heavy dependency.
_LAZY = {
    "_libbpf": ("tune_malloc",),
    "capture": (
        "ManifestRow",
        "capture_logs",
        "manifest_frame",
        "read_captured_log",
        "read_manifest",
    ),
    "core": ("CoreUnsupported", "apply_core_relos"),
    "direct": ("PreparedObject", "Unsupported", "prepare_object"),
    "expected": ("ExpectedRow", "expected_frame", "read_expected"),
    "frames": ("compare_frame", "results_frame"),
    "kbtf": ("KernelBTF",),
    "load": (
        "LoadResult",
        "ProgramInfo",
        "check_environment",
        "kernel_log_level",
        "list_programs",
        "load_programs",
    ),
    "stats": ("VerifierStats", "parse_verifier_stats", "verifier_error_line"),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
