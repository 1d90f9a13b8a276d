"""``make fuzz``: a coverage-guided campaign over every fuzz target of tests/fuzz/targets.py.

Usage::

    python -m tests.fuzz.run                         # every target, 60 s each
    python -m tests.fuzz.run --seconds 3600 -j 2     # an hour per target, two at a time
    python -m tests.fuzz.run --target btf_raw --seconds 28800 --engine atheris

Each target runs in a child process, seeded from data/ and ../shared/corpus
(:func:`tests.fuzz.targets.seeds`), with its corpus kept in ``build/fuzz/corpus/<target>``
(so a later run goes on where the last stopped). Engines:

``atheris``  Google's atheris (libFuzzer over Python bytecode coverage), when it imports
             (``pip install atheris``; ``make fuzz`` installs it from PyPI).
``own``      bpfkit's own coverage-guided mutator: line-pair coverage of bpfkit's modules
             through ``sys.settrace``, a corpus of inputs that found new coverage, and
             byte-level, BTF-aware and line-aware mutations. Slower per input than atheris;
             used when atheris cannot be installed.

A finding is an exception other than BpfkitError, or an input that takes more than 2 s of
CPU time. Each distinct finding (exception type and the innermost bpfkit frame) is written
to ``build/fuzz/findings/<target>/`` with its traceback; commit it under
``tests/fuzz/regressions/<target>/<defect-name>`` with the fix. The campaign prints, per
target: inputs run, inputs/s, corpus size and findings, and appends them to
``build/fuzz/campaign.tsv``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Corpus, findings, stats: build/fuzz, or $BPFKIT_FUZZ_DIR (a campaign kept outside the tree).
BUILD = Path(os.environ.get("BPFKIT_FUZZ_DIR") or ROOT / "build" / "fuzz")


class Hang(Exception):
    """Raised by the CPU-time alarm inside a target."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise Hang(f"more than {HANG_SECONDS} s of CPU time")


HANG_SECONDS = 2.0


# --------------------------------------------------------------------------- findings


class Findings:
    """Distinct findings of one target, written to build/fuzz/findings/<target>/."""

    def __init__(self, target: str) -> None:
        self.dir = BUILD / "findings" / target
        self.seen: set[str] = set()
        self.total = 0

    def record(self, data: bytes, exc: BaseException) -> None:
        self.total += 1
        tb = traceback.extract_tb(exc.__traceback__)
        where = next(
            (f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb) if "/bpfkit/" in f.filename),
            "?",
        )
        key = f"{type(exc).__name__}-{where}"
        if key in self.seen:
            return
        self.seen.add(key)
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{key.replace(':', '-')}-{hashlib.sha1(data).hexdigest()[:10]}"
        (self.dir / name).write_bytes(data)
        (self.dir / (name + ".txt")).write_text(
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        )
        print(f"  finding: {key} -> {self.dir / name}", file=sys.stderr, flush=True)


def _checked(fn: Callable[[bytes], None], findings: Findings) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        signal.setitimer(signal.ITIMER_VIRTUAL, HANG_SECONDS)
        try:
            fn(data)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - every escape is a finding
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            findings.record(data, exc)
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)

    return run


# --------------------------------------------------------------------------- own engine

_INTERESTING = (0, 1, 2, 3, 4, 7, 8, 16, 24, 31, 32, 63, 64, 127, 128, 255, 256, 0x7FFF, 0xFFFF,
                0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """One to eight stacked mutations: bit flips, interesting 8/16/32-bit words (both byte
    orders, at 4-aligned offsets too: BTF header and type words), truncation, chunk
    duplication/insertion/deletion, splicing with another input, line-level edits."""
    b = bytearray(data or b"\0")
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(11)
        n = len(b)
        if n == 0:
            b += bytes([rng.randrange(256)])
            continue
        i = rng.randrange(n)
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i] = rng.randrange(256)
        elif op in (2, 3):
            width = rng.choice((1, 2, 4))
            v = rng.choice(_INTERESTING) & ((1 << (8 * width)) - 1)
            if op == 3:
                i -= i % 4
            b[i : i + width] = v.to_bytes(width, rng.choice(("little", "big")))
        elif op == 4:
            del b[rng.randrange(n) :]
        elif op == 5:
            j = rng.randrange(n)
            k = min(n, j + rng.randint(1, 64))
            b[i:i] = b[j:k]
        elif op == 6:
            j = min(n, i + rng.randint(1, 64))
            del b[i:j]
        elif op == 7 and pool:
            other = rng.choice(pool)
            if other:
                j = rng.randrange(len(other))
                b[i:] = other[j : j + rng.randint(1, 4096)]
        elif op == 8:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 9:  # a type id / offset pointing at itself or near the word's position
            i -= i % 4
            b[i : i + 4] = (i // 4 % 256).to_bytes(4, "little")
        else:  # line level: duplicate, drop or swap lines (logs)
            lines = bytes(b).split(b"\n")
            if len(lines) > 1:
                a, c = rng.randrange(len(lines)), rng.randrange(len(lines))
                choice = rng.randrange(3)
                if choice == 0:
                    lines.insert(a, lines[c])
                elif choice == 1:
                    del lines[a]
                else:
                    lines[a], lines[c] = lines[c], lines[a]
                b = bytearray(b"\n".join(lines))
    return bytes(b[: 1 << 20])


class Coverage:
    """Line-pair coverage of bpfkit's own modules through sys.settrace."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, int, int]] = set()
        self.new = 0
        self._prefix = str(ROOT / "bpfkit")

    def _global(self, frame: Any, event: str, arg: Any) -> Any:
        if not frame.f_code.co_filename.startswith(self._prefix):
            return None
        code = id(frame.f_code)
        prev = [frame.f_lineno]
        seen = self.seen

        def local(f: Any, ev: str, a: Any) -> Any:
            if ev == "line":
                key = (code, prev[0], f.f_lineno)
                if key not in seen:
                    seen.add(key)
                    self.new += 1
                prev[0] = f.f_lineno
            return local

        return local

    def run(self, fn: Callable[[bytes], None], data: bytes) -> int:
        self.new = 0
        sys.settrace(self._global)
        try:
            fn(data)
        finally:
            sys.settrace(None)
        return self.new


class Memory:
    """Peak memory of sampled inputs (tracemalloc: what Python, numpy and pandas allocate),
    against the contract: at most :data:`MEM_RATIO` x the input plus :data:`MEM_CONSTANT`."""

    def __init__(self) -> None:
        self.sampled = 0
        self.worst_peak = 0  # bytes, the largest peak of any sampled input
        self.worst_len = 0  # its input's length
        self.worst_ratio = 0.0  # peak / input length, over inputs of >= 4 KiB
        self.over = 0  # inputs over the bound

    def run(self, fn: Callable[[bytes], None], data: bytes, findings: Findings) -> None:
        import tracemalloc

        tracemalloc.start()
        try:
            fn(data)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.sampled += 1
        if peak > self.worst_peak:
            self.worst_peak, self.worst_len = peak, len(data)
        if len(data) >= 4096:
            self.worst_ratio = max(self.worst_ratio, peak / len(data))
        if peak > MEM_RATIO * len(data) + MEM_CONSTANT:
            self.over += 1
            findings.record(data, MemoryError(
                f"peak {peak} bytes > {MEM_RATIO} x {len(data)} + {MEM_CONSTANT}"))

    def doc(self) -> dict[str, Any]:
        return {"mem_sampled": self.sampled, "mem_worst_peak": self.worst_peak,
                "mem_worst_len": self.worst_len, "mem_worst_ratio": round(self.worst_ratio, 2),
                "mem_over": self.over}


#: The memory contract (issue #17): peak <= MEM_RATIO x input + MEM_CONSTANT. The constant
#: holds the xz decoder's dictionary: 64 MiB for an ``xz -9`` file, whatever its size (the
#: readers cap it at 80 MiB: bpfkit.verifier.log.XZ_MEMLIMIT), and 32 MiB for the rest.
MEM_RATIO = 10
MEM_CONSTANT = 96 << 20


def run_own(
    target: str,
    seconds: float,
    stats_path: Path,
    seed: int,
    *,
    trace_every: int = 4,
    mem_every: int = 0,
    max_inputs: int = 0,
    small: bool = False,
    mutator: str = "main",
) -> None:
    from tests.fuzz import targets as tg

    findings = Findings(target)
    fn = _checked(tg.TARGETS[target], findings)
    corpus_dir = BUILD / "corpus" / (target if mutator == "main" else f"{target}-{mutator}")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    pool = tg.seeds(target, small=small)
    pool += [p.read_bytes() for p in sorted(corpus_dir.iterdir())]
    pool += [p.read_bytes() for _, p in tg.regression_inputs(target)]
    mut: Callable[[bytes, random.Random, list[bytes]], bytes] = mutate
    if mutator == "struct":
        from tests.fuzz.mutators import mutate_structure

        mut = functools.partial(mutate_structure, target=target)
    rng = random.Random(seed)
    cov = Coverage()
    mem = Memory()
    for s in pool:
        cov.run(fn, s)
    start = time.monotonic()
    n = 0
    last = start
    extra = {"mutator": mutator, "small_seeds": small, "trace_every": trace_every,
             "tables_every": tg.TABLES_EVERY}
    while time.monotonic() - start < seconds and (not max_inputs or n < max_inputs):
        parent = rng.choice(pool)
        try:
            child = mut(parent, rng, pool)
        except Exception:  # noqa: BLE001 - a mutator's bug must not end a campaign
            traceback.print_exc()
            child = parent
        n += 1
        # coverage on every trace_every-th input (tracing is the slow part); the rest run plain
        if trace_every and n % trace_every == 0:
            if cov.run(fn, child) and len(pool) < 20000:
                pool.append(child)
                (corpus_dir / hashlib.sha1(child).hexdigest()).write_bytes(child)
        elif mem_every and n % mem_every == 1:
            mem.run(fn, child, findings)
        else:
            fn(child)
        now = time.monotonic()
        if now - last > 5:
            last = now
            _write_stats(stats_path, target, "own", n, now - start, len(pool), findings,
                         {**extra, **mem.doc()})
    _write_stats(stats_path, target, "own", n, time.monotonic() - start, len(pool), findings,
                 {**extra, **mem.doc()})


def _write_stats(
    path: Path, target: str, engine: str, n: int, secs: float, corpus: int, f: Findings,
    extra: dict[str, Any] | None = None,
) -> None:
    doc: dict[str, Any] = {
        "target": target,
        "engine": engine,
        "inputs": n,
        "seconds": round(secs, 1),
        "corpus": corpus,
        "findings": sorted(f.seen),
        "finding_inputs": f.total,
        "cpu_seconds": round(time.process_time(), 1),
        **(extra or {}),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)


# --------------------------------------------------------------------------- atheris engine


def run_atheris(target: str, seconds: float, stats_path: Path, seed: int) -> None:
    import atheris

    with atheris.instrument_imports(include=["bpfkit"]):
        import bpfkit.btf  # noqa: F401
        import bpfkit.btf.cformat  # noqa: F401
        import bpfkit.btf.ext  # noqa: F401
        import bpfkit.btf.graph  # noqa: F401
        import bpfkit.btf.layout  # noqa: F401
        import bpfkit.btf.raw  # noqa: F401
        import bpfkit.obj  # noqa: F401
        import bpfkit.obj.elf  # noqa: F401
        import bpfkit.obj.insn  # noqa: F401
        import bpfkit.verifier  # noqa: F401
        import bpfkit.verifier.grammar  # noqa: F401
        import bpfkit.verifier.log  # noqa: F401
        import bpfkit.verifier.values  # noqa: F401

        if target == "ownership":
            import bpfkit.ownership.static  # noqa: F401
        if target == "report":
            import bpfkit.report.build  # noqa: F401
    from tests.fuzz.targets import TARGETS, regression_inputs, seeds

    findings = Findings(target)
    fn = _checked(TARGETS[target], findings)
    corpus_dir = BUILD / "corpus" / target
    seed_dir = BUILD / "seeds" / target
    for d in (corpus_dir, seed_dir):
        d.mkdir(parents=True, exist_ok=True)
    for s in seeds(target) + [p.read_bytes() for _, p in regression_inputs(target)]:
        (seed_dir / hashlib.sha1(s).hexdigest()).write_bytes(s)
    state = {"n": 0, "start": time.monotonic(), "last": time.monotonic()}

    def one(data: bytes) -> None:
        fn(data)
        state["n"] += 1
        now = time.monotonic()
        if now - state["last"] > 2:
            state["last"] = now
            corpus = sum(1 for _ in corpus_dir.iterdir())
            _write_stats(stats_path, target, "atheris", int(state["n"]), now - state["start"],
                         corpus, findings)

    max_len = max((len(s) for s in seeds(target)), default=4096)
    argv = [
        sys.argv[0],
        str(corpus_dir),
        str(seed_dir),
        f"-max_total_time={int(seconds)}",
        f"-seed={seed}",
        f"-max_len={min(max_len + 1024, 1 << 20)}",
        "-timeout=30",  # our own 2 s CPU alarm finds hangs; this is libFuzzer's last resort
        "-rss_limit_mb=3072",
        "-print_final_stats=1",
    ]
    atheris.Setup(argv, one)
    atheris.Fuzz()


# --------------------------------------------------------------------------- driver


def _child(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGVTALRM, _alarm)
    stats = Path(args.stats)
    if args.engine == "atheris":
        run_atheris(args.target, args.seconds, stats, args.seed)
    else:
        from tests.fuzz import targets

        targets.TABLES_EVERY = args.tables_every
        run_own(args.target, args.seconds, stats, args.seed, trace_every=args.trace_every,
                mem_every=args.mem_every, max_inputs=args.max_inputs, small=args.small_seeds,
                mutator=args.mutator)
    return 0


def _have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    from tests.fuzz.targets import TARGETS

    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n")[0])
    ap.add_argument("--target", action="append", choices=sorted(TARGETS),
                    help="a target (repeatable); default: all")
    ap.add_argument("--seconds", type=float, default=60, help="per target (default 60)")
    ap.add_argument("--engine", choices=("auto", "atheris", "own"), default="auto")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="targets run at once")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-inputs", type=int, default=0,
                    help="own engine: stop a target after this many inputs (0: time only)")
    ap.add_argument("--trace-every", type=int, default=4,
                    help="own engine: coverage traced on one input in N (default 4)")
    ap.add_argument("--mem-every", type=int, default=0,
                    help="own engine: peak memory (tracemalloc) of one input in N (0: off)")
    ap.add_argument("--tables-every", type=int, default=1,
                    help="own engine: log tables walked on one input in N (default 1)")
    ap.add_argument("--small-seeds", action="store_true",
                    help="own engine: small seeds (24-line log windows, cut BTF, objects <= 64K)")
    ap.add_argument("--mutator", choices=("main", "struct"), default="main",
                    help="own engine: the main mutator, or the independent structure-aware "
                    "one of tests/fuzz/mutators.py (the held-out campaign)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.target = args.target[0]
        return _child(args)
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if _have_atheris() else "own"
    targets = args.target or list(TARGETS)
    BUILD.mkdir(parents=True, exist_ok=True)
    print(f"fuzz: engine {engine}, {args.seconds:g} s per target, {args.jobs} at a time",
          flush=True)
    pending = list(targets)
    running: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    results: list[dict[str, Any]] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            t = pending.pop(0)
            stats = BUILD / f"stats-{t}-{args.mutator}.json"
            with contextlib.suppress(FileNotFoundError):
                stats.unlink()
            cmd = [sys.executable, "-m", "tests.fuzz.run", "--child", "--target", t,
                   "--seconds", str(args.seconds), "--engine", engine, "--stats", str(stats),
                   "--seed", str(args.seed), "--max-inputs", str(args.max_inputs),
                   "--trace-every", str(args.trace_every), "--mem-every", str(args.mem_every),
                   "--tables-every", str(args.tables_every), "--mutator", args.mutator]
            if args.small_seeds:
                cmd.append("--small-seeds")
            log = open(BUILD / f"{t}-{args.mutator}.log", "wb")  # noqa: SIM115
            running.append((t, subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=log), stats))
        time.sleep(0.5)
        for item in list(running):
            t, proc, stats = item
            if proc.poll() is None:
                continue
            running.remove(item)
            doc = json.loads(stats.read_text()) if stats.exists() else {"target": t}
            doc["exit"] = proc.returncode
            results.append(doc)
            _print_row(doc)
    _append_tsv(results)
    total = sum(len(r.get("findings", [])) for r in results)
    bad = [r["target"] for r in results if r.get("exit") not in (0, None)]
    if bad:
        print(f"fuzz: children exited abnormally: {', '.join(bad)} (see build/fuzz/<target>.log)")
    return 1 if total or bad else 0


def _print_row(d: dict[str, Any]) -> None:
    n = d.get("inputs", 0)
    s = d.get("seconds", 0) or 1
    print(
        f"{d['target']:<11} {n:>10,} inputs  {n / s:>8,.0f} inputs/s  {s:>7,.0f} s  "
        f"corpus {d.get('corpus', 0):>6,}  findings {len(d.get('findings', []))}"
        + (f": {', '.join(d['findings'])}" if d.get("findings") else "")
        + (f"  memory: {d['mem_sampled']} sampled, worst peak {d['mem_worst_peak'] / 1e6:.1f} MB "
           f"(input {d['mem_worst_len']} B), over the bound {d['mem_over']}"
           if d.get("mem_sampled") else ""),
        flush=True,
    )


def _append_tsv(results: list[dict[str, Any]]) -> None:
    path = BUILD / "campaign.tsv"
    new = not path.exists()
    with path.open("a") as f:
        if new:
            f.write("date\ttarget\tengine\tinputs\tseconds\tinputs_per_s\tcorpus\tfindings\n")
        for d in results:
            n, s = d.get("inputs", 0), d.get("seconds", 0) or 1
            f.write(
                f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\t{d['target']}\t{d.get('engine')}\t{n}\t"
                f"{s}\t{n / s:.0f}\t{d.get('corpus', 0)}\t{';'.join(d.get('findings', []))}\n"
            )


if __name__ == "__main__":
    sys.exit(main())
