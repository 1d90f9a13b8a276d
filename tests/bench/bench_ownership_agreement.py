"""Benchmark: the static ownership model beside the kernel's verifier, program by program.

For every program of the given objects (default: data/programs and, when built, the objects
of tests/kernel/programs, and the rule pairs of tests/ownership/rules): bpfkit's analysis time (``bpfkit.ownership.static.predict``, fastest
of ``--repeat`` runs on a fresh copy of the object) beside the kernel's own verification time
of the same program in the same run (``verification time N usec`` of a level-1 log,
``bpfkit.kernel.load_programs``), the ratio, both verdicts; then the agreement summary
(``bpfkit.ownership.agreement.agreement_summary``). The bar of issue #12: every program within
10x of the kernel's time, none over 1 s.

Run: .venv/bin/python tests/bench/bench_ownership_agreement.py [DIR_OR_OBJ...] [--repeat N]
(needs root for the kernel column; without it the script says so and exits 0).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_DIRS = [
    ROOT / "data" / "programs",
    ROOT / "tests" / "kernel" / "programs",
    ROOT / "tests" / "ownership" / "rules",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("paths", nargs="*", help="objects or directories of *.bpf.o")
    ap.add_argument("--repeat", type=int, default=3, help="analysis runs per program (fastest)")
    ap.add_argument("--by", default="family", help="summary groups")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_ownership_agreement: skipped, loading BPF programs needs root")
        return 0
    import pandas as pd

    from bpfkit.ownership.agreement import agreement_frame, agreement_summary

    paths = [Path(p) for p in args.paths] or [
        d for d in DEFAULT_DIRS if d.is_dir() and (any(d.glob("*.bpf.o")) or any(d.glob("*.o")))
    ]
    print("== objects:", ", ".join(str(p) for p in paths))
    df = agreement_frame(paths, repeat=args.repeat)
    judged = df[~df["excluded"]].copy()
    judged["ratio"] = judged["analysis_ms"] / judged["kernel_ms"]
    cols = ["object", "program", "kernel_verdict", "predicted", "kernel_ms", "analysis_ms", "ratio"]
    with pd.option_context(
        "display.width", 200, "display.max_rows", 10_000, "display.float_format", "{:.3f}".format
    ):
        print("== per program: bpfkit analysis vs kernel verification (same run), ms")
        print(judged[cols].to_string(index=False))
        excluded = df[df["excluded"]]
        if len(excluded):
            print(f"== {len(excluded)} program(s) never verified (excluded)")
            print(excluded[["object", "program", "reason"]].to_string(index=False))
        ratio = judged["ratio"].dropna()
        print(
            f"== totals: bpfkit {judged['analysis_ms'].sum():.1f} ms, kernel "
            f"{judged['kernel_ms'].sum():.1f} ms over {len(judged)} programs; ratio median "
            f"{ratio.median():.2f}, max {ratio.max():.2f}; within 10x: {(ratio <= 10).sum()}/{len(ratio)}; "
            f"over 1 s: {(judged['analysis_ms'] > 1000).sum()}"
        )
        print("== summary")
        print(agreement_summary(df, by=args.by).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
