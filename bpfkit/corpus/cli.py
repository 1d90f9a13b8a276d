"""Command-line group for :mod:`bpfkit.corpus`: ``bpfkit corpus run|parse|compare``.

``bpfkit corpus run OBJ... -o RUN [--log-level 1|2]`` loads every program of every object
into the running kernel and writes the dataset RUN (resumable: run it again after an
interruption). ``bpfkit corpus parse LOG... -o DATASET [--workers N | --scheduler ADDRESS]``
parses many logs in parallel into the same layout. ``bpfkit corpus compare RUN_A RUN_B``
prints a ``veristat -C``-like comparison (``-f 'insns_pct>10'``, ``-s insns_diff:desc``,
``--format table|csv|md``) and with ``--figures DIR`` writes its figures.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``corpus`` command group to the bpfkit parser."""
    corpus = subparsers.add_parser(
        "corpus",
        help="many programs, many runs: load or parse a corpus into Parquet, compare two runs",
    )
    sub = corpus.add_subparsers(dest="corpus_command", metavar="SUBCOMMAND")

    run = sub.add_parser(
        "run",
        help="load every program of every object into the running kernel; write a dataset",
        description="Load each program of each object on its own (as `bpfkit load`), keep "
        "verdict, error, the verifier's stats, the log and the static ownership prediction, "
        "and write a partitioned Parquet dataset with a manifest. Running it again on the same "
        "RUN resumes: objects already done are skipped.",
    )
    run.add_argument(
        "objects", nargs="+", metavar="OBJ", help="BPF objects (or directories of *.o)"
    )
    run.add_argument("-o", "--out", required=True, metavar="RUN", help="dataset directory")
    run.add_argument(
        "-l",
        "--log-level",
        type=int,
        default=2,
        choices=(1, 2),
        help="verifier log level (stats always added); default 2",
    )
    run.add_argument(
        "--tables",
        default=",".join(("instructions", "steps")),
        help="per-instruction tables to write, comma-separated "
        "(instructions,steps,registers,stack,refs,branches,prunes,backtracking,lines)",
    )
    run.add_argument(
        "--loader",
        default="auto",
        choices=("auto", "bpfkit", "libbpf"),
        help="as `bpfkit load --loader`",
    )
    run.add_argument("--no-predict", action="store_true", help="skip the static prediction")
    run.add_argument("--restart", action="store_true", help="redo every object (no resume)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)

    parse = sub.add_parser(
        "parse",
        help="parse many verifier logs in parallel into a dataset",
        description="Parse verifier logs (plain, libbpf/bpftool wrappers, veristat -v, "
        "`bpfkit load --json`; .gz/.xz; directories searched recursively) into a partitioned "
        "Parquet dataset: per-program summary and per-instruction tables. Local worker "
        "processes by default; --scheduler runs the same tasks on a dask.distributed cluster.",
    )
    parse.add_argument("logs", nargs="+", metavar="LOG", help="log files or directories")
    parse.add_argument("-o", "--out", required=True, metavar="DATASET", help="dataset directory")
    parse.add_argument(
        "-j",
        "--workers",
        type=int,
        default=None,
        help="local worker processes (default: CPU count; 0: in this process)",
    )
    parse.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask.distributed scheduler, e.g. tcp://host:8786 (workers must see "
        "the logs and DATASET under the same paths)",
    )
    parse.add_argument(
        "--tables",
        default=",".join(("instructions", "steps")),
        help="per-instruction tables, comma-separated (as for run)",
    )
    parse.add_argument(
        "-l",
        "--log-level",
        type=int,
        default=2,
        choices=(1, 2),
        help="which logs of a `bpfkit load --capture` directory; default 2",
    )
    parse.add_argument("--restart", action="store_true", help="redo every task (no resume)")
    parse.add_argument("--no-progress", action="store_true", help="no progress bar")
    parse.set_defaults(func=_parse)

    cmp = sub.add_parser(
        "compare",
        help="compare two datasets like veristat -C; table, CSV, Markdown, figures",
        description="Join two datasets on (object, program): per stat <stat>_a, _b, _diff, "
        "_pct; verdict changes first; programs in one run only are listed.",
    )
    cmp.add_argument("run_a", metavar="RUN_A")
    cmp.add_argument("run_b", metavar="RUN_B")
    cmp.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="EXPR",
        help="keep rows where EXPR holds, e.g. 'insns_pct>10', 'verdict_b=reject', "
        "'!states_diff=0' (repeatable; all must hold)",
    )
    cmp.add_argument(
        "-s",
        "--sort",
        action="append",
        default=[],
        metavar="KEY",
        help="sort key: a column or stat (insns_diff, abs(insns_pct)), ':desc' for "
        "descending (repeatable; verdict changes stay first)",
    )
    cmp.add_argument(
        "-e",
        "--stats",
        default="insns,states,peak_states,duration",
        help="stats shown in the table (comma-separated; CSV has all)",
    )
    cmp.add_argument("--format", default="table", choices=("table", "csv", "md"))
    cmp.add_argument("--figures", metavar="DIR", help="write the comparison figures here")
    cmp.add_argument(
        "--evolution",
        type=int,
        default=3,
        metavar="N",
        help="with --figures: state-evolution figures of the N most changed programs",
    )
    cmp.add_argument("--labels", nargs=2, metavar=("A", "B"), help="names of the two runs")
    cmp.add_argument("--style", default="paper", choices=("paper", "talk"))
    cmp.set_defaults(func=_compare)

    corpus.set_defaults(func=lambda args: _usage(corpus))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _tables(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _run(args: argparse.Namespace) -> int:
    from bpfkit.corpus.run import run_objects

    s = run_objects(
        args.objects,
        args.out,
        level=args.log_level,
        loader=args.loader,
        tables=_tables(args.tables),
        resume=not args.restart,
        progress=False if args.no_progress else None,
        predict=not args.no_predict,
    )
    for e in s.errors:
        print(f"failed: {e}", file=sys.stderr)
    print(
        f"{s.out}: {s.objects} objects ({s.skipped} already done), {s.programs} programs "
        f"({s.accepted} accepted, {s.rejected} rejected), {s.failed} failed, "
        f"{s.seconds:.1f} s"
    )
    return 0


def _parse(args: argparse.Namespace) -> int:
    from bpfkit.corpus.parse import parse_logs

    s = parse_logs(
        args.logs,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        tables=_tables(args.tables),
        level=args.log_level,
        resume=not args.restart,
        progress=False if args.no_progress else None,
    )
    for r in s.results:
        for e in r.errors:
            print(f"failed: {e}", file=sys.stderr)
    rss = max(s.workers.values(), default=0) / 1024
    print(
        f"{s.out}: {s.inputs} logs in {s.tasks} tasks ({s.skipped_tasks} already done), "
        f"{s.programs} programs, {s.failed} failed, {s.lines:,} lines in {s.seconds:.1f} s "
        f"({s.lines_per_second:,.0f} lines/s), {len(s.workers)} workers, "
        f"peak RSS per worker {rss:.0f} MiB"
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from bpfkit.corpus.compare import compare_runs, filter_frame, format_compare, sort_frame
    from bpfkit.corpus.dataset import open_corpus

    a, b = open_corpus(args.run_a), open_corpus(args.run_b)
    full = compare_runs(a, b)
    df = sort_frame(filter_frame(full, args.filter), args.sort)
    stats = _tables(args.stats)
    sys.stdout.write(format_compare(df, args.format, stats=stats))
    out = sys.stderr if args.format != "table" else sys.stdout
    only_a = full[full["side"] == "A"]
    only_b = full[full["side"] == "B"]
    changed = int(full["verdict_changed"].sum())
    print(
        f"\n{int((full['side'] == 'both').sum())} programs in both runs, {changed} verdict "
        f"changes, {len(only_a)} only in A, {len(only_b)} only in B; {len(df)} rows shown",
        file=out,
    )
    for side, rows in (("A", only_a), ("B", only_b)):
        for r in rows.itertuples(index=False):
            print(f"only in {side}: {r.object}/{r.program}", file=out)
    for name, run in (("A", a), ("B", b)):
        fails = run.failures
        if len(fails):
            print(f"{len(fails)} failed inputs in {name} ({run.path})", file=out)
    if args.figures:
        from bpfkit.corpus.figures import write_compare_figures

        labels = tuple(args.labels) if args.labels else ("A", "B")
        paths = write_compare_figures(
            a,
            b,
            full,
            args.figures,
            evolution=args.evolution,
            labels=labels,  # type: ignore[arg-type]
            style_name=args.style,
        )
        print(f"wrote {len(paths)} figures to {args.figures}", file=out)
    return 0
