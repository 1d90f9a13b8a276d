"""``bpfkit own OBJ [--program NAME] [--log LOG] [--json]``: ownership of program-allocated
objects in a BPF object.

Per program: the allocation sites, the flows to their sinks, the type-level ownership graph
summary, the predicted verdict and, with ``--log``, the flows the verifier explored. ``--json``
prints a list with, per program, ``program``, ``predicted`` (``accept`` / ``reject`` /
``unknown``) and ``mistakes`` (each with ``kind`` and ``insn``), plus ``reason``, ``findings``
and, with a log, ``observed``.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run_own"]


def register(subparsers: Any) -> None:
    """Add ``bpfkit own`` to the bpfkit parser."""
    p = subparsers.add_parser(
        "own",
        help="ownership of program-allocated objects: fields, graph, prediction, flows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("obj", metavar="OBJ", help="BPF ELF object with BTF")
    p.add_argument("--program", metavar="NAME", help="only this program")
    p.add_argument("--log", metavar="LOG", help="verifier log of the object's program(s)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_own)


def run_own(args: argparse.Namespace) -> int:
    """Handler of ``bpfkit own``; returns 0 (prediction and log printed, whatever they say)."""
    from bpfkit.ownership.model import analyze

    model = analyze(args.obj, args.program, args.log)
    if args.json:
        print(model.to_json_text())
    else:
        print(model.summary())
    return 0
