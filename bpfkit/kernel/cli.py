"""Command-line group for :mod:`bpfkit.kernel`: ``bpfkit load``.

``bpfkit load OBJ... [--program NAME] [--log-level 1|2|stats] [--out DIR] [--json]`` loads each
program of each object into the running kernel, one at a time, and prints a veristat-like
table (or, with ``--json``, a list of records). ``--out DIR`` also writes one log file per
program, ``DIR/<object stem>/<program>.<level>.log``. ``--compare A.json B.json`` puts two
``--json`` runs side by side like ``veristat -C``. ``--capture DIR`` writes level-1 and level-2
logs of every program and ``DIR/MANIFEST.tsv`` (this is what ``make -C data logs`` runs).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register", "TABLE_COLUMNS"]

#: Columns of the default table, with veristat-like headers.
TABLE_COLUMNS: dict[str, str] = {
    "object": "File",
    "program": "Program",
    "verdict": "Verdict",
    "verification_time_usec": "Duration (us)",
    "insns_processed": "Insns",
    "total_states": "States",
    "peak_states": "Peak states",
    "error": "Error",
}


def register(subparsers: Any) -> None:
    """Add the ``load`` command to the bpfkit parser."""
    p = subparsers.add_parser(
        "load",
        help="load BPF programs into the running kernel; verdicts, stats, verifier logs",
        description="Load each program of each BPF object on its own (nothing left loaded) "
        "and report the verifier's verdict, error line and stats.",
    )
    p.add_argument("objects", nargs="*", metavar="OBJ", help="BPF ELF objects")
    p.add_argument("--program", "-p", help="only this program (function name)")
    p.add_argument(
        "--log-level",
        "-l",
        default="1",
        choices=("1", "2", "stats"),
        help="verifier log level (the stats bit is always added); default 1",
    )
    p.add_argument("--out", "-o", metavar="DIR", help="write one log file per program here")
    p.add_argument("--json", action="store_true", help="print a JSON list of records")
    p.add_argument("--with-log", action="store_true", help="include the log text in --json")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("A.json", "B.json"),
        help="compare two --json runs: per program A, B and B - A (like veristat -C)",
    )
    p.add_argument(
        "--capture",
        metavar="DIR",
        help="write level-1 and level-2 logs of every program and DIR/MANIFEST.tsv",
    )
    p.add_argument(
        "--loader",
        default="auto",
        choices=("auto", "bpfkit", "libbpf"),
        help="bpfkit: prepare each object once as libbpf 1.1 would and issue BPF_PROG_LOAD per "
        "program (the kernel sees what libbpf would hand it; a seventh of libbpf's overhead on "
        "data/); libbpf: one libbpf object load per program; auto (default): bpfkit, and "
        "libbpf for what bpfkit does not prepare",
    )
    p.add_argument("--libbpf", metavar="PATH", help="path of libbpf.so.1 (default: system)")
    p.set_defaults(func=_load)


def _read_json(path: str) -> list[dict[str, Any]]:
    import json
    from pathlib import Path

    from bpfkit.errors import LogError

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LogError(f"{path}: cannot read a `bpfkit load --json` file: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise LogError(f"{path}: expected a JSON list of records from `bpfkit load --json`")
    return data


_COMPARE_LABELS = {
    "insns_processed": "Insns",
    "total_states": "States",
    "peak_states": "Peak states",
    "verification_time_usec": "Duration (us)",
}


def _diff_cell(diff: Any, pct: Any) -> str:
    import pandas as pd

    if pd.isna(diff):
        return "N/A"
    return f"{int(diff):+d}" + ("" if pd.isna(pct) else f" ({float(pct):+.2f}%)")


def _compare(a: str, b: str) -> int:
    import pandas as pd

    from bpfkit.kernel.frames import compare_frame

    df = compare_frame(_read_json(a), _read_json(b), metrics=list(_COMPARE_LABELS))
    out = pd.DataFrame(index=df.index)
    out["Verdict (A)"] = df["verdict_a"].fillna("N/A")
    out["Verdict (B)"] = df["verdict_b"].fillna("N/A")
    for metric, label in _COMPARE_LABELS.items():
        out[f"{label} (A)"] = df[f"{metric}_a"].astype("string").fillna("N/A")
        out[f"{label} (B)"] = df[f"{metric}_b"].astype("string").fillna("N/A")
        out[f"{label} (DIFF)"] = [
            _diff_cell(d, p) for d, p in zip(df[f"{metric}_diff"], df[f"{metric}_pct"], strict=True)
        ]
    out = out.reset_index().rename(columns={"object": "File", "program": "Program"})
    with pd.option_context("display.width", 400, "display.max_columns", None):
        print(out.to_string(index=False))
    return 0


def _load(args: argparse.Namespace) -> int:
    if args.compare:
        return _compare(*args.compare)
    if not args.objects:
        print(
            "bpfkit load: error: give at least one OBJ (or --compare A.json B.json)",
            file=sys.stderr,
        )
        return 2
    from bpfkit.kernel import tune_malloc

    tune_malloc()  # this process only loads programs: keep libbpf's BTF buffers in the heap
    if args.capture:
        from bpfkit.kernel.capture import capture_logs

        rows = capture_logs(args.objects, args.capture, libbpf_path=args.libbpf)
        accepted = sum(r.verdict == "accept" for r in rows)
        print(
            f"captured {len(rows)} programs ({accepted} accepted, {len(rows) - accepted} "
            f"rejected) into {args.capture}/MANIFEST.tsv"
        )
        return 0

    from bpfkit.kernel.capture import log_file_name
    from bpfkit.kernel.load import load_programs

    level: int | str = args.log_level if args.log_level == "stats" else int(args.log_level)
    results = []
    objects = list(args.objects)
    if args.program and len(objects) > 1:  # like veristat: the objects that have it
        from bpfkit.kernel.load import list_programs

        objects = [
            o
            for o in objects
            if any(p.program == args.program for p in list_programs(o, libbpf_path=args.libbpf))
        ]
        if not objects:
            from bpfkit.errors import ELFError

            raise ELFError(f"no program named {args.program!r} in {', '.join(args.objects)}")
    for obj in objects:
        results += load_programs(
            obj, args.program, level, libbpf_path=args.libbpf, loader=args.loader
        )
    if args.out:
        from pathlib import Path

        tag = "stats" if level == "stats" else f"l{level}"
        for r in results:
            sub = Path(args.out) / r.object.removesuffix(".o").removesuffix(".bpf")
            sub.mkdir(parents=True, exist_ok=True)
            (sub / log_file_name(r.program, tag)).write_text(r.log)
    if args.json:
        import json

        json.dump([r.to_dict(with_log=args.with_log) for r in results], sys.stdout, indent=1)
        print()
        return 0
    import pandas as pd

    from bpfkit.kernel.frames import results_frame

    df = results_frame(results)[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    with pd.option_context("display.width", 250, "display.max_colwidth", 90):
        print(df.to_string(index=False))
    return 0
