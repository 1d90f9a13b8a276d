"""Command-line group for :mod:`bpfkit.verifier`: ``bpfkit log parse|stats``.

``bpfkit log parse LOG [--program NAME] [--out DIR [--csv]] [--json]`` parses a verifier log
(plain, ``.gz`` or ``.xz``; libbpf/bpftool/veristat output with several programs) and prints a
summary per program, or with ``--json`` a list with, per program, ``program``, ``kinds``,
``insns_processed``, ``verdict`` and ``error``. ``--out DIR`` writes every table of every
program as ``DIR/<program>/<table>.parquet`` (``.csv`` with ``--csv``).

``bpfkit log stats LOG...`` prints a veristat-like table from the summary lines.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``log`` command group to the bpfkit parser."""
    log = subparsers.add_parser("log", help="verifier logs: parse into tables, summary stats")
    sub = log.add_subparsers(dest="log_command", metavar="SUBCOMMAND")

    parse = sub.add_parser("parse", help="parse a verifier log into tables")
    parse.add_argument("log", help="verifier log file (.gz/.xz ok); several programs allowed")
    parse.add_argument("--program", metavar="NAME", help="only the program of this name")
    parse.add_argument("--out", metavar="DIR", help="write the tables under DIR/<program>/")
    parse.add_argument("--csv", action="store_true", help="with --out: CSV instead of Parquet")
    parse.add_argument("--json", action="store_true", help="print a JSON summary per program")
    parse.add_argument("--strict", action="store_true", help="fail on an unrecognized line")
    parse.add_argument(
        "--lenient",
        action="store_true",
        help="read a file that holds no verifier log (empty, other text) best-effort",
    )
    parse.set_defaults(func=_parse)

    stats = sub.add_parser("stats", help="veristat-like table of the summary lines")
    stats.add_argument("logs", nargs="+", metavar="LOG", help="verifier log files")
    stats.add_argument(
        "--lenient", action="store_true", help="read files that hold no verifier log too"
    )
    stats.set_defaults(func=_stats)

    log.set_defaults(func=lambda args: _usage(log))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "log"


def _parse(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bpfkit.verifier.log import load_log

    logs = load_log(args.log, program=args.program, strict=args.strict, lenient=args.lenient)
    if args.out:
        out = Path(args.out)
        seen: dict[str, int] = {}
        for lg in logs:
            base = _safe(lg.name or "log")
            seen[base] = seen.get(base, 0) + 1
            d = out / (base if seen[base] == 1 else f"{base}.{seen[base]}")
            d.mkdir(parents=True, exist_ok=True)
            for table, df in lg.frames().items():
                if args.csv:
                    df.to_csv(d / f"{table}.csv", index=False)
                else:
                    df.to_parquet(d / f"{table}.parquet", index=False)
    if args.json:
        import json

        doc = [
            {
                "program": lg.name,
                "kinds": lg.kinds,
                "insns_processed": lg.stats.insns_processed,
                "verdict": lg.verdict,
                "error": lg.error,
            }
            for lg in logs
        ]
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not args.out:
        for lg in logs:
            kinds = " ".join(f"{k}={v}" for k, v in sorted(lg.kinds.items()))
            print(
                f"{lg.name}: {lg.verdict}, {lg.stats.insns_processed} insns processed, level {lg.level}"
            )
            if lg.error:
                print("  error: " + lg.error.replace("\n", "\n         "))
            print(f"  lines: {kinds}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bpfkit.verifier.log import iter_logs

    header = (
        "File",
        "Program",
        "Verdict",
        "Duration (us)",
        "Insns",
        "Limit",
        "States",
        "Peak states",
        "Max states/insn",
        "Mark read",
        "Stack depth",
    )
    rows: list[tuple[str, ...]] = []

    def cell(v: object) -> str:
        return "-" if v is None else str(v)

    for path in args.logs:
        for lg in iter_logs(path, lenient=args.lenient):
            s = lg.stats
            depth = "+".join(str(d) for d in s.stack_depth) if s.stack_depth else None
            rows.append(
                (
                    Path(path).name,
                    cell(lg.name),
                    lg.verdict,
                    cell(s.verification_time_usec),
                    cell(s.insns_processed),
                    cell(s.insn_limit),
                    cell(s.total_states),
                    cell(s.peak_states),
                    cell(s.max_states_per_insn),
                    cell(s.mark_read),
                    cell(depth),
                )
            )
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0
