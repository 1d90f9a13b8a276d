"""The static HTML report: ``bpfkit report [INPUT...] -o DIR``.

One page per program (figures, statistics, ownership findings, the verifier's error explained
in context) and an ``index.html`` table of every program; see :mod:`bpfkit.report.build`.

Examples
--------
>>> from bpfkit.report import build_report  # doctest: +SKIP
>>> build_report(["data"], "build/report").index  # doctest: +SKIP
PosixPath('build/report/index.html')
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from bpfkit._lazy import lazy_exports

if TYPE_CHECKING:
    from bpfkit.report.build import (
        DEFAULT_DATA,
        Figure,
        ProgramInput,
        ProgramReport,
        Report,
        ReportError,
        analyse_program,
        build_report,
        discover_inputs,
    )
    from bpfkit.report.explain import (
        ContextInsn,
        ErrorContext,
        LeakedRef,
        context_html,
        explain_error,
    )

__all__ = [
    "register",
    "build_report",
    "discover_inputs",
    "analyse_program",
    "explain_error",
    "context_html",
    "DEFAULT_DATA",
    "Figure",
    "ProgramInput",
    "ProgramReport",
    "Report",
    "ReportError",
    "ErrorContext",
    "ContextInsn",
    "LeakedRef",
]


# Imported on first use (bpfkit._lazy), so that `import bpfkit.report` and every
# `bpfkit ... --help` import no submodule and no heavy dependency.
_LAZY = {
    "build": (
        "DEFAULT_DATA",
        "Figure",
        "ProgramInput",
        "ProgramReport",
        "Report",
        "ReportError",
        "analyse_program",
        "build_report",
        "discover_inputs",
    ),
    "explain": ("ContextInsn", "ErrorContext", "LeakedRef", "context_html", "explain_error"),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


def register(subparsers: Any) -> None:
    """Add the ``report`` command to the ``bpfkit`` parser."""
    parser = subparsers.add_parser(
        "report",
        help="write the static HTML report (a page per program and an index)",
        description=(
            "Analyse BPF objects and verifier logs (default: the repository's data/) and write "
            "a static HTML report: index.html plus one page per program with its figures, "
            "statistics, ownership findings and the verifier's error explained in context."
        ),
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="data directory (with logs/MANIFEST.tsv), BPF object (.o) or verifier log",
    )
    parser.add_argument("-o", "--output", default="build/report", help="output directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "-j", "--jobs", type=int, default=None, help="worker processes (default: CPU count)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bpfkit.report.build import build_report, describe_timings

    progress = not args.no_progress and sys.stderr.isatty()  # a bar on a terminal only
    report = build_report(args.inputs or None, args.output, progress=progress, jobs=args.jobs)
    print(describe_timings(report), file=sys.stderr)
    print(report.index)
    return 0
