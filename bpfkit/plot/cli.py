"""``bpfkit plot LOG [--program NAME] [--style talk|paper] [--format svg|pdf|png] -o DIR``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]

_FIGURES = ("lanes", "ranges", "references", "effort", "cfg", "summary", "ownership", "chain")
_WINDOWS = "auto, all, error, busiest, start, end"


def register(subparsers: Any) -> None:
    """Add the ``plot`` command to the bpfkit parser."""
    p = subparsers.add_parser(
        "plot",
        help="draw verifier state evolution figures for every program in a log",
        description=(
            "Draw every figure (register lanes, scalar ranges, references, effort, CFG, summary, "
            "ownership timeline, ownership flow chain) for every program in LOG, as DIR/<program>-<figure>.<format>. "
            "Logs of more than 3,000 steps are drawn as a window of 3,000 steps (where the error "
            "is, else the busiest), and the figures say so; --window chooses another."
        ),
    )
    p.add_argument(
        "log", metavar="LOG", help="verifier log (plain, libbpf, veristat, bpftool; .gz/.xz)"
    )
    p.add_argument("--program", metavar="NAME", help="only the program of this name")
    p.add_argument(
        "--lenient",
        action="store_true",
        help="read a file that holds no verifier log (empty, other text) best-effort",
    )
    p.add_argument(
        "--style", choices=("talk", "paper"), default="talk", help="figure style (default: talk)"
    )
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("svg", "pdf", "png"),
        default="svg",
        help="file format (default: svg)",
    )
    p.add_argument(
        "--figure", action="append", choices=_FIGURES, help="only this figure (repeatable)"
    )
    p.add_argument(
        "--compare",
        metavar="LOG2",
        help="also draw LOG vs LOG2 (first program of each): <program>-compare.<format>",
    )
    p.add_argument(
        "--regs",
        metavar="N,N",
        type=_regs,
        help="registers for the scalar-ranges figure, e.g. 1,6 (default: the busiest scalars)",
    )
    p.add_argument(
        "--window",
        metavar="WHICH",
        help=f"steps of the per-step figures: START:STOP or one of {_WINDOWS} "
        "(default auto: every step up to 3,000, else the erroring or busiest window)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--dpi", type=float, default=None, help="PNG resolution (default: the style's)")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="output directory")
    p.set_defaults(func=_run)


def _regs(text: str) -> list[int]:
    try:
        regs = [int(x.strip().lstrip("rR")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected register numbers like 1,6, got {text!r}"
        ) from None
    if not regs or any(not 0 <= r <= 10 for r in regs):
        raise argparse.ArgumentTypeError(f"registers are 0..10, got {text!r}")
    return regs


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bpfkit.plot.compare import plot_compare
    from bpfkit.plot.output import write_figures
    from bpfkit.plot.style import sanitize_filename, savefig, style
    from bpfkit.plot.window import parse_window
    from bpfkit.verifier import load_log

    window = parse_window(args.window)  # a bad --window fails before the log is read

    logs = load_log(args.log, program=args.program, lenient=args.lenient)
    if not logs:
        what = f"program {args.program!r}" if args.program else "any program"
        print(f"bpfkit: error: {args.log}: no {what} in the log", file=sys.stderr)
        return 1
    drawable = [lg for lg in logs if len(lg.steps)]
    if not drawable:  # never write empty figures
        print(
            f"bpfkit: error: {args.log}: nothing to draw: no program in the log has an "
            "instruction (a log of level 1 or 2 prints them)",
            file=sys.stderr,
        )
        return 1
    logs = drawable
    skipped: list[str] = []
    written = write_figures(
        logs,
        args.output,
        style_name=args.style,
        fmt=args.fmt,
        figures=args.figure,
        dpi=args.dpi,
        regs=args.regs,
        window=window,
        progress=not args.no_progress and sys.stderr.isatty(),
        skipped=skipped,
    )
    for why in skipped:  # a figure with nothing to show is not written
        print(f"bpfkit: {why}: not written", file=sys.stderr)
    if args.compare:
        other = load_log(args.compare, program=args.program, lenient=args.lenient)
        if not other:
            print(f"bpfkit: error: {args.compare}: no program to compare", file=sys.stderr)
            return 1
        with style(args.style):
            fig = plot_compare(
                logs[0], other[0], labels=(Path(args.log).name, Path(args.compare).name)
            )
            name = sanitize_filename(logs[0].name or "program")
            written.append(
                savefig(fig, Path(args.output) / f"{name}-compare.{args.fmt}", dpi=args.dpi)
            )
    for path in written:
        print(path)
    return 0
