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
    """Handler of ``bpfkit own``; returns 0 (prediction and log printed, whatever they say).
    With ``--log``, a prediction that differs from what the log shows is flagged: a line
    ``DIFFERS: ...`` per difference, or ``differs`` in each JSON record."""
    import json

    from bpfkit.ownership.logcheck import prediction_differences
    from bpfkit.ownership.model import analyze

    model = analyze(args.obj, args.program, args.log)
    diffs: dict[str, list[Any]] = {}
    for prog in model.programs:
        pred, log = model.prediction(prog), model.logs.get(prog)
        if pred is not None and log is not None:
            diffs[prog] = prediction_differences(pred, log)
    if args.json:
        items = model.to_json()
        for item in items:
            if item["program"] in diffs:
                item["differs"] = [d._asdict() for d in diffs[item["program"]]]
        print(json.dumps(items, indent=2, default=str))
    else:
        print(model.summary())
        for found in diffs.values():
            for d in found:
                print(f"DIFFERS: {d.message}")
    return 0
