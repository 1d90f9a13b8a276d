"""Check that a change to the log parser leaves every table as it was: dump, then compare.

Run in each checkout (say main's and a branch's), then compare the two dumps::

    .venv/bin/python tests/bench/log_tables_ab.py dump /tmp/main.pkl      # in main's checkout
    .venv/bin/python tests/bench/log_tables_ab.py dump /tmp/branch.pkl    # in the branch's
    .venv/bin/python tests/bench/log_tables_ab.py compare /tmp/main.pkl /tmp/branch.pkl

``dump`` parses every log of ``data/logs`` and the corpus with the bpfkit of the checkout this
script is in, loose and strict (a LogError is kept as its text), and keeps each program's
verdict, error, stats, kinds and text with its nine tables; the level-2 logs are also streamed
by :func:`bpfkit.verifier.iter_frames` in small chunks. ``compare`` requires equal frames
(``DataFrame.equals``), dtypes, categories and the Python type of every object cell, and exits
1 on any difference.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.corpus import CORPUS_LOGS, DATA_LOGS  # noqa: E402

STREAM_CHUNK = 997  # lines: small, so that streamed logs span many chunks
#: Instruction lines whose text before " ;" repeats with and without a state after it, odd
#: spacing, a 6.1-era branch with its state on the line, a bad register: made up, to exercise
#: the parser's memos of instruction fields beside the real logs.
EDGE_HEADS = (
    "5: (05) goto pc+9",
    "5: (05)",
    "7: (07) r3 += 1",
    "7: (07) r3 += 1 ",
    "9: (55) if r3 != 0x258 goto pc+5",
    "3: (b7) r0 = 0 ;x",
    "4: (b7) r0 =;",
)
EDGE_TAILS = (
    "",
    " ; R3=1",
    " ;  R3=P2 R4_w=0x10",
    ";R1=0",
    " ;",
    " ; ;",
    "  ; R2=-1",
    " ; R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))",
    " 6: R1=1",
    " ; frame1: R1=ctx() refs=2",
    " ; R99=1",
)


def _files() -> list[Path]:
    return sorted(p for p in DATA_LOGS.rglob("*.log*") if p.is_file()) + sorted(
        p for p in CORPUS_LOGS.rglob("*.log") if p.is_file()
    )


def dump(out: Path) -> None:
    from bpfkit.errors import LogError
    from bpfkit.verifier import iter_frames, load_log, parse_log

    streamed = (
        "lines",
        "steps",
        "registers",
        "stack",
        "refs",
        "branches",
        "prunes",
        "backtracking",
    )
    res: dict[tuple[str, str], Any] = {}
    edge = "".join(
        f"{h}{t}\nmark_precise: frame0: regs=r3 stack= before 7: (07) r3 += 1\n"
        for t in EDGE_TAILS
        for h in EDGE_HEADS
    )
    for p in [None, *_files()]:
        name = "edge" if p is None else str(p.relative_to(p.parents[2]))
        for mode in ("loose", "strict"):
            try:
                strict = mode == "strict"
                logs = (
                    parse_log(edge, strict=strict)
                    if p is None
                    else load_log(p, lenient=True, strict=strict)
                )
            except LogError as exc:
                res[(name, mode)] = str(exc)
                continue
            res[(name, mode)] = [
                (
                    (
                        lg.name,
                        lg.verdict,
                        lg.error,
                        lg.error_insn,
                        lg.truncated,
                        lg.level,
                        lg.stats,
                        lg.kinds,
                        lg.text,
                    ),
                    lg.frames(),
                )
                for lg in logs
            ]
        if p is not None and ".l2." in p.name:
            try:
                res[(name, "stream")] = list(
                    iter_frames(p, tables=streamed, chunk_lines=STREAM_CHUNK)
                )
            except LogError as exc:
                res[(name, "stream")] = str(exc)
    with open(out, "wb") as f:
        pickle.dump(res, f)
    import bpfkit

    print(
        f"bpfkit of {Path(bpfkit.__file__).parent}: {len(_files())} files, {len(res)} parses -> {out}"
    )


def _same(a: Any, b: Any) -> bool:
    import pandas as pd

    if list(a.columns) != list(b.columns) or not a.dtypes.equals(b.dtypes) or not a.equals(b):
        return False
    for c in a.columns:
        if isinstance(a[c].dtype, pd.CategoricalDtype) and not a[c].cat.categories.equals(
            b[c].cat.categories
        ):
            return False
        if a[c].dtype == object and list(map(type, a[c])) != list(map(type, b[c])):
            return False
    return True


def compare(pa: Path, pb: Path) -> int:
    with open(pa, "rb") as f:
        a = pickle.load(f)
    with open(pb, "rb") as f:
        b = pickle.load(f)
    bad: list[str] = []
    if a.keys() != b.keys():
        bad.append(f"different parses: {sorted(set(a) ^ set(b))}")
    tables = 0
    for key in sorted(set(a) & set(b)):
        va, vb = a[key], b[key]
        if isinstance(va, str) or isinstance(vb, str) or len(va) != len(vb):
            if va != vb:
                bad.append(f"{key}: {str(va)[:80]!r} vs {str(vb)[:80]!r}")
            continue
        for i, (xa, xb) in enumerate(zip(va, vb, strict=True)):
            if key[1] == "stream":
                fa, fb = xa, xb
            else:
                (ma, fa), (mb, fb) = xa, xb
                if ma != mb:
                    bad.append(f"{key} program {i}: verdict, error, stats, kinds or text")
            for t in fa:
                tables += 1
                if not _same(fa[t], fb[t]):
                    bad.append(f"{key} {'chunk' if key[1] == 'stream' else 'program'} {i}: {t}")
    for line in bad:
        print("DIFFERENT", line)
    print(f"{len(a)} parses, {tables} tables compared, {len(bad)} differences")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.out)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
