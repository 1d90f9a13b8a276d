"""Benchmark: ``bpfkit corpus parse`` on >= 1,000 logs / 10 million lines, 1 and 2 workers.

Run: ``.venv/bin/python tests/bench/bench_corpus.py [--files 1000] [--lines 10000000]``

The corpus is made of real level-2 logs, in a temporary directory: the 600-iteration loop
of data/logs (116,570 lines) as a plain log, and libbpf-wrapped files of five programs each
drawn from the other level-2 logs of data/logs and data/logs-mcpu-v4 (every seventh of those
gzip'd), until both the file and the line targets are met. It is parsed into a dataset three
times, the same code and tasks each time:

1. local worker processes, 1 worker;
2. local worker processes, 2 workers (the target: >= 1.8x the lines/s of 1 worker);
3. a ``dask.distributed.LocalCluster`` of 2 worker processes (1 thread each), the tasks sent
   by the scheduler address exactly as ``--scheduler tcp://...`` sends them to a real
   cluster (cluster start-up timed apart).

Each prints wall time, lines per second and the peak RSS of each worker process
(``ru_maxrss`` measured inside the worker at the end of each task). The reference, in the
same run: ``cat`` of every file into ``wc -l`` (reading the bytes, gzip'd files decompressed
by ``zcat``), the floor any parser stands on.
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.corpus import DATA, DATA_LONG_LOOP_L2  # noqa: E402

TARGET_SPEEDUP = 1.8


def _texts() -> tuple[str, list[tuple[str, str]]]:
    big = lzma.decompress(DATA_LONG_LOOP_L2.read_bytes()).decode()
    small: list[tuple[str, str]] = []
    for d in (DATA / "logs", DATA / "logs-mcpu-v4"):
        for p in sorted(d.rglob("*.l2.log*")):
            if p.name.startswith("long_loop_ok"):
                continue
            raw = p.read_bytes()
            text = (lzma.decompress(raw) if p.suffix == ".xz" else raw).decode()
            small.append((p.name.split(".")[0], text))
    return big, small


def make_corpus(out: Path, files: int, lines: int) -> tuple[int, int]:
    """Write the corpus; return (files, lines)."""
    big, small = _texts()
    big_lines = big.count("\n")
    rng = random.Random(13)
    n_files = n_lines = 0
    out.mkdir(parents=True, exist_ok=True)
    while n_files < files or n_lines < lines:
        # as many loops as needed to reach the line target over the file count
        need_big = n_lines < lines and (n_files % max(1, files // max(1, lines // big_lines)) == 0)
        if need_big:
            (out / f"f{n_files:05d}-long_loop_ok.log").write_text(big)
            n_lines += big_lines
        else:
            parts = []
            for name, text in rng.sample(small, 5):
                parts.append(f"libbpf: prog '{name}': -- BEGIN PROG LOAD LOG --\n")
                parts.append(text if text.endswith("\n") else text + "\n")
                parts.append("-- END PROG LOAD LOG --\n")
                parts.append(f"libbpf: prog '{name}': failed to load: -13\n")
            body = "".join(parts)
            n_lines += body.count("\n")
            path = out / f"f{n_files:05d}-wrapped.log"
            if n_files % 7 == 3:
                path.with_name(path.name + ".gz").write_bytes(gzip.compress(body.encode(), 1))
            else:
                path.write_text(body)
        n_files += 1
    return n_files, n_lines


def _reference(corpus: Path) -> tuple[float, int]:
    t = time.perf_counter()
    plain = sorted(str(p) for p in corpus.glob("*.log"))
    gz = sorted(str(p) for p in corpus.glob("*.gz"))
    n = 0
    for chunk in (plain[i : i + 200] for i in range(0, len(plain), 200)):
        n += int(
            subprocess.run(
                f"cat {' '.join(chunk)} | wc -l",
                shell=True,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
    for chunk in (gz[i : i + 200] for i in range(0, len(gz), 200)):
        n += int(
            subprocess.run(
                f"zcat {' '.join(chunk)} | wc -l",
                shell=True,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
    return time.perf_counter() - t, n


def _row(label: str, s: object, wall: float, base: float | None) -> str:
    lines = s.lines  # type: ignore[attr-defined]
    lps = lines / wall
    rss = ", ".join(f"{v / 1024:.0f}" for v in sorted(s.workers.values()))  # type: ignore[attr-defined]
    cpu = sum(r.cpu_seconds for r in s.results)  # type: ignore[attr-defined]
    speed = "" if base is None else f"{lps / base:.2f}x"
    return (
        f"{label:<34} {wall:8.1f} s {lps:>12,.0f} lines/s {speed:>6}   "
        f"CPU in tasks {cpu:.1f} s ({lines / cpu:,.0f} lines per CPU-s)   "
        f"peak RSS per worker (MiB): {rss}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--dir", help="work directory (default: a temporary one, removed)")
    ap.add_argument("--no-dask", action="store_true", help="skip the LocalCluster run")
    args = ap.parse_args()
    from bpfkit.corpus import parse_logs

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bpfkit-bench-corpus-"))
    try:
        corpus = work / "logs"
        t = time.perf_counter()
        files, lines = make_corpus(corpus, args.files, args.lines)
        size = sum(p.stat().st_size for p in corpus.iterdir())
        print(
            f"corpus: {files:,} files, {lines:,} lines, {size / 2**20:,.0f} MiB on disk, "
            f"written in {time.perf_counter() - t:.1f} s ({os.cpu_count()} CPUs)"
        )
        ref, ref_lines = _reference(corpus)
        print(f"{'reference: cat/zcat | wc -l':<34} {ref:8.1f} s {ref_lines / ref:>12,.0f} lines/s")
        results = []
        base = None
        for label, kw in (
            ("local processes, 1 worker", {"workers": 1}),
            ("local processes, 2 workers", {"workers": 2}),
        ):
            out = work / f"out-{kw['workers']}"
            t = time.perf_counter()
            s = parse_logs([corpus], out, progress=False, resume=False, **kw)
            wall = time.perf_counter() - t
            assert s.failed == 0, s.results[0].errors[:3]
            results.append((label, s, wall))
            print(_row(label, s, wall, base), flush=True)
            base = base or s.lines / wall
            shutil.rmtree(out)
        if not args.no_dask:
            from distributed import LocalCluster

            t = time.perf_counter()
            with LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster:
                start = time.perf_counter() - t
                t = time.perf_counter()
                s = parse_logs(
                    [corpus],
                    work / "out-dask",
                    progress=False,
                    resume=False,
                    scheduler=cluster.scheduler_address,
                )
                wall = time.perf_counter() - t
            print(
                _row("dask LocalCluster, 2 workers", s, wall, base)
                + f"   (cluster start-up {start:.1f} s)"
            )
            results.append(("dask", s, wall))
        one, two = results[0], results[1]
        speed = (two[1].lines / two[2]) / (one[1].lines / one[2])
        print(
            f"2 local workers against 1: {speed:.2f}x "
            f"(target >= {TARGET_SPEEDUP}x: {'met' if speed >= TARGET_SPEEDUP else 'NOT met'})"
        )
        if len(results) > 2:
            d = (results[2][1].lines / results[2][2]) / (one[1].lines / one[2])
            print(f"dask LocalCluster, 2 workers against 1 local worker: {d:.2f}x")
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
