"""``bpfkit own OBJ [--program NAME] [--log LOG] [--json]``: ownership of program-allocated
objects in a BPF object.

``bpfkit own --against-kernel OBJ_OR_DIR... [--program NAME] [--repeat N] [--by COL]
[--json | --csv]``: load every program into the running kernel and put the model's verdict
beside the kernel's (:func:`bpfkit.ownership.agreement.agreement_frame`); prints the programs
where they disagree and the summary table (overall and per ``--by`` group). ``--json`` prints
``{"programs": [...], "summary": [...]}``, ``--csv`` the per-program rows. Needs root.

Per program: the allocation sites, the flows to their sinks, the type-level ownership graph
summary, the predicted verdict and, with ``--log``, the flows the verifier explored. ``--json``
prints a list with, per program, ``program``, ``predicted`` (``accept`` / ``reject`` /
``unknown``) and ``mistakes`` (each with ``kind`` and ``insn``), plus ``reason``, ``findings``
and, with a log, ``observed``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register", "run_own", "run_against_kernel"]


def register(subparsers: Any) -> None:
    """Add ``bpfkit own`` to the bpfkit parser."""
    p = subparsers.add_parser(
        "own",
        help="ownership of program-allocated objects: fields, graph, prediction, flows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("obj", metavar="OBJ", help="BPF ELF object with BTF")
    p.add_argument(
        "more", metavar="OBJ", nargs="*", help="more objects or directories (--against-kernel)"
    )
    p.add_argument(
        "--against-kernel",
        action="store_true",
        help="compare the predicted verdicts with the running kernel's, per program",
    )
    p.add_argument("--csv", action="store_true", help="with --against-kernel: per-program CSV")
    p.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="analysis runs per program (fastest)"
    )
    p.add_argument("--by", default="family", metavar="COL", help="summary groups (default: family)")
    p.add_argument("--program", metavar="NAME", help="only this program")
    p.add_argument("--log", metavar="LOG", help="verifier log of the object's program(s)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_own)


def run_own(args: argparse.Namespace) -> int:
    """Handler of ``bpfkit own``; returns 0 (prediction and log printed, whatever they say).
    With ``--log``, a prediction that differs from what the log shows is flagged: a line
    ``DIFFERS: ...`` per difference, or ``differs`` in each JSON record."""
    if args.against_kernel:
        return run_against_kernel(args)
    if args.more:
        print(
            "bpfkit own: one object at a time (several objects only with --against-kernel)",
            file=sys.stderr,
        )
        return 2
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


def run_against_kernel(args: argparse.Namespace) -> int:
    """Handler of ``bpfkit own --against-kernel``; returns 0 (disagreements are output, not
    an error), 2 when the kernel or an input is not usable."""
    import json

    import pandas as pd

    from bpfkit.errors import BpfkitError
    from bpfkit.ownership.agreement import (
        agreement_frame,
        agreement_summary,
        disagreements_frame,
    )

    try:
        df = agreement_frame(
            [args.obj, *args.more], program=args.program, repeat=max(1, args.repeat)
        )
    except BpfkitError as exc:
        print(f"bpfkit own --against-kernel: {exc}", file=sys.stderr)
        return 2
    if args.by not in df.columns:
        print(f"bpfkit own --against-kernel: no column {args.by!r} to group by", file=sys.stderr)
        return 2
    summary = agreement_summary(df, by=args.by)
    if args.csv:
        df.to_csv(sys.stdout, index=False)
        return 0
    if args.json:
        out = {
            "programs": json.loads(df.to_json(orient="records")),
            "summary": json.loads(summary.to_json(orient="records")),
        }
        print(json.dumps(out, indent=1))
        return 0
    bad = disagreements_frame(df)
    cols = [
        "object",
        "program",
        "kernel_verdict",
        "kernel_insn",
        "kernel_error",
        "predicted",
        "pred_insn",
        "pred_message",
    ]
    with pd.option_context("display.width", 200, "display.max_colwidth", 70):
        if len(bad):
            print(f"== {len(bad)} disagreement(s)")
            print(bad[cols].to_string(index=False))
        else:
            print("== no disagreement")
        excluded = df[df["excluded"]]
        if len(excluded):
            print(f"== {len(excluded)} program(s) the verifier never judged (excluded)")
            print(excluded[["object", "program", "reason"]].to_string(index=False))
        print("== summary")
        print(summary.to_string(index=False))
    return 0
