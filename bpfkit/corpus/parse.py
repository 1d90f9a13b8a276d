"""``bpfkit corpus parse``: many verifier logs into one dataset, in parallel.

Inputs are log files (plain, libbpf/``bpftool -d`` wrappers, veristat ``-v`` output,
``bpfkit load --json --with-log``; ``.gz``/``.xz``) or directories of them. A directory with
a ``MANIFEST.tsv`` of ``bpfkit load --capture`` names each log's object and program from it
(and only the logs of the chosen level are read), so a parsed capture compares with a
``corpus run`` of the same objects.

The logs are packed, in a fixed order, into tasks of at most :data:`TASK_BYTES` bytes (and
:data:`TASK_FILES` files); each task is one unit of work that writes one part of each table
(:mod:`bpfkit.corpus.dataset`). Tasks run in local worker processes (the default) or on a
``dask.distributed`` cluster (``scheduler=``: an address such as ``tcp://host:8786``, or a
``distributed.Client``); workers must see the inputs and the output directory under the same
paths (a shared file system). A task holds one program's log at a time and writes its
tables as it goes, so a worker's memory is bounded by the largest program; a plain log larger
than ``stream_bytes`` is streamed in chunks of lines (:func:`bpfkit.verifier.iter_frames`)
and its summary read from its tail, so even a 1 GiB log of one program fits (such a log
gets no ``instructions`` rows: only the whole-log parse collects them).
"""

from __future__ import annotations

import hashlib
import os
import resource
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bpfkit.corpus.dataset import (
    DEFAULT_TABLES,
    FORMAT,
    TABLES,
    CorpusError,
    PartWriter,
    done_parts,
    programs_frame,
    read_table,
    write_manifest,
)

__all__ = [
    "LogInput",
    "ParseTask",
    "TaskResult",
    "ParseSummary",
    "discover_logs",
    "plan_tasks",
    "parse_task",
    "parse_logs",
    "TASK_BYTES",
    "TASK_FILES",
    "STREAM_BYTES",
    "LOG_SUFFIXES",
    "CONNECT_TIMEOUT",
    "MIN_TASKS",
]

#: A task gathers logs up to this many bytes (on disk; fewer when the corpus is small, so
#: that it makes at least :data:`MIN_TASKS` tasks) ...
TASK_BYTES = 16 << 20
#: A corpus is cut into at least this many tasks when its files allow (workers stay busy).
MIN_TASKS = 64
#: ... and at most this many files.
TASK_FILES = 32
#: Seconds to wait for a dask scheduler given by its address.
CONNECT_TIMEOUT = 10
#: A plain log larger than this (decompressed, estimated) is streamed in chunks of lines.
STREAM_BYTES = 256 << 20
#: File names read from a directory.
LOG_SUFFIXES: tuple[str, ...] = (".log", ".log.gz", ".log.xz", ".txt", ".txt.gz", ".txt.xz")
_STRIP = (".gz", ".xz", ".log", ".txt", ".l1", ".l2", ".stats")
#: Line kinds only a verifier log has: a file with none of them holds no program (free text
#: reads as kernel "message" lines, a BTF load log as "btf" lines).
_STRUCTURAL = frozenset(
    (
        "insn",
        "insn_state",
        "state",
        "branch",
        "prune",
        "source",
        "backtrack",
        "liveness",
        "scc",
        "func",
        "call",
        "summary",
        "diagnostic",
    )
)


@dataclass(frozen=True, slots=True)
class LogInput:
    """A log file to parse: its path, the ``object`` its programs are filed under and, from
    a capture manifest, the program's name."""

    path: str
    object: str
    program: str | None = None
    size: int = 0


@dataclass(frozen=True, slots=True)
class ParseTask:
    """One unit of work: some logs, the dataset directory, the part id, the tables."""

    part: str
    out: str
    inputs: tuple[LogInput, ...]
    tables: tuple[str, ...] = DEFAULT_TABLES
    stream_bytes: int = STREAM_BYTES
    chunk_lines: int = 200_000


@dataclass(slots=True)
class TaskResult:
    """What a task did: counts, the inputs' hashes, the worker's pid and peak RSS (KiB)."""

    part: str
    programs: int = 0
    failed: int = 0
    lines: int = 0
    bytes: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    pid: int = 0
    host: str = ""
    peak_rss_kib: int = 0
    hashes: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ParseSummary:
    """The outcome of :func:`parse_logs`."""

    out: Path
    inputs: int
    tasks: int
    skipped_tasks: int
    programs: int
    failed: int
    lines: int
    bytes: int
    seconds: float
    workers: dict[str, int]
    results: list[TaskResult]

    @property
    def lines_per_second(self) -> float:
        """Lines parsed per wall-clock second (tasks skipped on resume not counted)."""
        return self.lines / self.seconds if self.seconds > 0 else 0.0


def _object_name(rel: str) -> str:
    name = rel
    changed = True
    while changed:
        changed = False
        for s in _STRIP:
            if name.endswith(s) and len(name) > len(s):
                name = name[: -len(s)]
                changed = True
    return name


def _capture_inputs(d: Path, level: int) -> list[LogInput] | None:
    """The logs a ``bpfkit load --capture`` manifest names, or None if *d* has none."""
    if not (d / "MANIFEST.tsv").is_file():
        return None
    from bpfkit.errors import LogError
    from bpfkit.kernel.capture import read_manifest

    try:
        rows = read_manifest(d)
    except LogError:
        return None  # some other MANIFEST.tsv: read the directory as plain logs
    out = []
    for r in rows:
        rel = r.l2_log if level == 2 else r.l1_log
        p = d / rel
        out.append(LogInput(str(p), r.object, r.program, _size(p)))
    return out


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def discover_logs(inputs: Iterable[str | os.PathLike[str]], *, level: int = 2) -> list[LogInput]:
    """The log files named by *inputs* (files, or directories searched recursively).

    A directory's logs are filed under their path relative to it, with ``.gz``/``.xz``,
    ``.log``/``.txt`` and a level tag (``.l1``/``.l2``) removed from the end: ``logs/a/x.l2.log``
    given as ``logs`` is object ``a/x``. A file given by itself is filed under its name.
    A directory with a ``bpfkit load --capture`` ``MANIFEST.tsv`` gives its level-*level*
    logs, filed under the manifest's object and program.
    """
    found: list[LogInput] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            cap = _capture_inputs(p, level)
            if cap is not None:
                found += cap
                continue
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.name.endswith(LOG_SUFFIXES):
                    rel = f.relative_to(p).as_posix()
                    found.append(LogInput(str(f), _object_name(rel), None, _size(f)))
        else:  # a missing file is kept: it becomes a failed row
            found.append(LogInput(str(p), _object_name(p.name), None, _size(p)))
    return found


def plan_tasks(
    logs: Sequence[LogInput],
    out: str | os.PathLike[str],
    *,
    tables: Sequence[str] = DEFAULT_TABLES,
    task_bytes: int = TASK_BYTES,
    task_files: int = TASK_FILES,
    stream_bytes: int = STREAM_BYTES,
) -> list[ParseTask]:
    """Pack *logs*, in order, into tasks; a task's part id depends only on its inputs, so
    the same inputs give the same parts (which is what resuming relies on)."""
    tasks: list[ParseTask] = []
    group: list[LogInput] = []
    size = 0
    # the same inputs always give the same tasks (resuming relies on it): the size depends
    # on the inputs alone, never on the number of workers
    total = sum(g.size for g in logs)
    task_bytes = max(1 << 16, min(task_bytes, total // MIN_TASKS))

    def flush() -> None:
        nonlocal group, size
        if group:
            h = hashlib.sha1("\0".join(f"{g.path}|{g.object}" for g in group).encode())
            tasks.append(
                ParseTask(
                    part=f"{len(tasks):05d}-{h.hexdigest()[:10]}",
                    out=str(out),
                    inputs=tuple(group),
                    tables=tuple(tables),
                    stream_bytes=stream_bytes,
                )
            )
        group, size = [], 0

    for log in logs:
        if group and (size + log.size > task_bytes or len(group) >= task_files):
            flush()
        group.append(log)
        size += log.size
    flush()
    return tasks


# ----------------------------------------------------------------------------- one task


def _file_hash(path: str) -> str:
    from bpfkit.corpus.dataset import sha256_file

    return sha256_file(path)


def _depth(depth: Any) -> tuple[str | None, int | None]:
    if depth is None:
        return None, None
    if isinstance(depth, str):
        nums = [int(x) for part in depth.split() for x in part.split("+") if x.isdigit()]
        return depth, sum(nums) if nums else None
    nums = [int(x) for x in depth]
    return "+".join(str(x) for x in nums), sum(nums)


def log_row(lg: Any, *, object: str, program: str | None, source: str, part: str) -> dict[str, Any]:
    """A ``programs`` row from a :class:`bpfkit.verifier.Log`."""
    s = lg.stats
    depth, total = _depth(s.stack_depth)
    kernel_lines = sum(v for k, v in lg.kinds.items() if k in _STRUCTURAL)
    return {
        "object": object,
        "program": program or lg.name,
        "source": source,
        "part": part,
        "status": "ok",
        "verdict": lg.verdict,
        "error": lg.error,
        "error_insn": lg.error_insn,
        "insns_processed": s.insns_processed,
        "insn_limit": s.insn_limit,
        "max_states_per_insn": s.max_states_per_insn,
        "total_states": s.total_states,
        "peak_states": s.peak_states,
        "mark_read": s.mark_read,
        "verification_time_usec": s.verification_time_usec,
        "stack_depth": depth,
        "stack_depth_total": total,
        "log_level": lg.level,
        "log_lines": sum(lg.kinds.values()),
        "unrecognized_lines": lg.kinds.get("unrecognized", 0),
        "truncated": bool(lg.truncated),
        "_kernel_lines": kernel_lines,
    }


def failed_row(
    *, object: str, source: str, part: str, error: str, program: str | None = None
) -> dict[str, Any]:
    """A ``programs`` row for an input that gave no program: ``status == "failed"``."""
    return {
        "object": object,
        "program": program,
        "source": source,
        "part": part,
        "status": "failed",
        "verdict": "failed",
        "error": error,
    }


def _open_binary(path: str) -> Any:
    import gzip

    if path.endswith(".xz"):
        from pathlib import Path

        from bpfkit.verifier.log import _XZFile  # the decoder's memory capped (XZ_MEMLIMIT)

        return _XZFile(Path(path))
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")  # noqa: SIM115


def _head(path: str, n: int) -> bytes | None:
    import lzma

    try:
        with _open_binary(path) as f:
            data: bytes = f.read(n)
            return data
    except (OSError, EOFError, lzma.LZMAError):
        return None  # the log reader says what is wrong


def _is_binary(path: str) -> bool:
    head = _head(path, 4096)
    # a raw kernel log buffer ends in its NUL terminator: only NULs inside the text count
    return head is not None and b"\0" in head.rstrip(b"\0")


def _is_plain(path: str) -> bool:
    """True when the first MiB shows no program wrappers (one plain program log)."""
    head = _head(path, 1 << 20)
    if head is None:
        return False
    return (
        b"PROG LOAD LOG --" not in head
        and b"PROCESSING " not in head
        and not head.lstrip().startswith(b"[")
    )


def _estimated_size(inp: LogInput) -> int:
    factor = 10 if inp.path.endswith((".gz", ".xz")) else 1
    return inp.size * factor


def _stream_one(inp: LogInput, task: ParseTask, pw: PartWriter) -> dict[str, Any]:
    """A huge plain log: tables in chunks, the summary from a parse of its tail."""
    from collections import deque

    from bpfkit.verifier import iter_frames, parse_log

    name = inp.program or Path(inp.path).name.split(".")[0]
    tables = [t for t in task.tables if t != "instructions"]
    lines = 0
    if tables:
        for chunk in iter_frames(inp.path, tables=tables, chunk_lines=task.chunk_lines):
            for t, df in chunk.items():
                if len(df):
                    pw.write(t, df, {"object": inp.object, "program": name})
    import lzma

    from bpfkit.errors import LogError

    tail: deque[bytes] = deque(maxlen=2000)
    try:
        with _open_binary(inp.path) as f:
            for raw in f:
                lines += 1
                tail.append(raw)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise LogError(f"cannot read verifier log {inp.path!r}: {exc}") from None
    logs = parse_log(b"".join(tail).decode("utf-8", "replace"), name=name)
    lg = logs[-1]
    row = log_row(lg, object=inp.object, program=name, source=f"{inp.path}#0", part=task.part)
    # the tail starts mid-log: judge the verdict from the kernel's last lines only
    row["verdict"] = (
        "reject" if lg.error else "accept" if lg.stats.insns_processed is not None else "unknown"
    )
    row["log_lines"] = lines
    row["log_level"] = lg.level
    row["truncated"] = lg.stats.insns_processed is None and not lg.error
    return row


def _parse_one(inp: LogInput, task: ParseTask, pw: PartWriter) -> tuple[list[dict[str, Any]], int]:
    from bpfkit.errors import BpfkitError
    from bpfkit.verifier import iter_logs

    rows: list[dict[str, Any]] = []
    lines = 0
    if not Path(inp.path).is_file():
        return [
            failed_row(
                object=inp.object,
                source=inp.path,
                part=task.part,
                error=f"{inp.path}: no such file",
            )
        ], 0
    if _is_binary(inp.path):
        return [
            failed_row(
                object=inp.object,
                source=inp.path,
                part=task.part,
                program=inp.program,
                error=f"{inp.path}: not a verifier log (binary data in the first 4 KiB)",
            )
        ], 0
    if _estimated_size(inp) > task.stream_bytes and _is_plain(inp.path):
        try:
            row = _stream_one(inp, task, pw)
        except BpfkitError as exc:
            return [
                failed_row(
                    object=inp.object,
                    source=inp.path,
                    part=task.part,
                    program=inp.program,
                    error=str(exc),
                )
            ], 0
        return [row], int(row["log_lines"] or 0)
    try:
        for i, lg in enumerate(iter_logs(inp.path)):
            program = inp.program if inp.program is not None else lg.name
            row = log_row(
                lg, object=inp.object, program=program, source=f"{inp.path}#{i}", part=task.part
            )
            lines += int(row["log_lines"])
            if not row["_kernel_lines"]:
                rows.append(
                    failed_row(
                        object=inp.object,
                        source=f"{inp.path}#{i}",
                        part=task.part,
                        program=program,
                        error=f"{inp.path}: no verifier log: no instruction, state or "
                        f"summary line in {row['log_lines']} lines",
                    )
                )
                continue
            rows.append(row)
            for t in task.tables:
                df = getattr(lg, t)
                if len(df):
                    pw.write(t, df, {"object": inp.object, "program": str(program)})
            del lg
    except BpfkitError as exc:
        rows.append(
            failed_row(
                object=inp.object,
                source=inp.path,
                part=task.part,
                program=inp.program,
                error=str(exc),
            )
        )
        return rows, lines
    if not rows:
        rows.append(
            failed_row(
                object=inp.object,
                source=inp.path,
                part=task.part,
                program=inp.program,
                error=f"{inp.path}: no programs (empty file)",
            )
        )
    return rows, lines


def parse_task(task: ParseTask) -> TaskResult:
    """Run one task (in any process, on any host that sees the paths): parse its logs and
    write one part of each table. Every input gives at least one row; an input that cannot
    be read, is not a log or holds no program gives a ``failed`` row with the reason."""
    import gc
    import socket

    t0 = time.perf_counter()
    c0 = time.process_time()
    res = TaskResult(part=task.part, pid=os.getpid(), host=socket.gethostname())
    rows: list[dict[str, Any]] = []
    with PartWriter(Path(task.out), task.part) as pw:
        for inp in task.inputs:
            got, lines = _parse_one(inp, task, pw)
            res.lines += lines
            res.bytes += inp.size
            res.hashes[inp.path] = _file_hash(inp.path)
            for r in got:
                r.pop("_kernel_lines", None)
                if r["status"] == "failed":
                    res.failed += 1
                    res.errors.append(str(r["error"]))
                else:
                    res.programs += 1
            rows += got
            gc.collect(0)
        pw.commit(programs_frame(rows))
    res.seconds = time.perf_counter() - t0
    res.cpu_seconds = time.process_time() - c0
    res.peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return res


# ----------------------------------------------------------------------------- the driver


def _local(tasks: Sequence[ParseTask], workers: int) -> Iterator[TaskResult]:
    if workers <= 0:
        for t in tasks:
            yield parse_task(t)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(parse_task, t) for t in tasks]
        for f in as_completed(futures):
            yield f.result()


def _distributed(tasks: Sequence[ParseTask], scheduler: Any) -> Iterator[TaskResult]:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover
        raise CorpusError(
            "--scheduler needs dask.distributed (pip install 'bpfkit[corpus]')"
        ) from None
    own = isinstance(scheduler, str)
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT) if own else scheduler  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise CorpusError(f"cannot reach the dask scheduler at {scheduler!r}: {exc}") from None
    try:
        futures = client.map(parse_task, list(tasks), pure=False)
        for f in as_completed(futures):  # type: ignore[no-untyped-call]
            yield f.result()
    finally:
        if own:
            client.close()


def parse_logs(
    inputs: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: Any = None,
    tables: Sequence[str] = DEFAULT_TABLES,
    level: int = 2,
    resume: bool = True,
    progress: bool | None = None,
    task_bytes: int = TASK_BYTES,
    task_files: int = TASK_FILES,
    stream_bytes: int = STREAM_BYTES,
) -> ParseSummary:
    """Parse many logs into the dataset *out* (see :mod:`bpfkit.corpus.dataset`).

    Parameters
    ----------
    inputs
        Log files and directories (:func:`discover_logs`).
    workers
        Local worker processes (default: the CPU count; 0 parses in this process).
    scheduler
        A dask.distributed scheduler address (``tcp://host:8786``) or a ``Client``; the
        tasks then run on its workers instead.
    tables
        Per-instruction tables to write (:data:`~bpfkit.corpus.dataset.TABLES`).
    level
        Which logs of a ``bpfkit load --capture`` directory to read (1 or 2).
    resume
        Keep the parts already in *out* and run only the missing tasks.

    Returns
    -------
    ParseSummary
    """
    import bpfkit

    for t in tables:
        if t not in TABLES:
            raise CorpusError(f"unknown table {t!r}; choose from {', '.join(TABLES)}")
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    logs = discover_logs(inputs, level=level)
    if not logs:
        raise CorpusError("no log files found in the inputs")
    tasks = plan_tasks(
        logs,
        outp,
        tables=tables,
        task_bytes=task_bytes,
        task_files=task_files,
        stream_bytes=stream_bytes,
    )
    done = done_parts(outp) if resume else set()
    todo = [t for t in tasks if t.part not in done]
    if workers is None:
        workers = os.cpu_count() or 1
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "kind": "parse",
        "bpfkit_version": bpfkit.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel_release": None,
        "clang_version": None,
        "log_level": level,
        "tables": list(tables),
        "engine": "dask.distributed" if scheduler is not None else f"local processes ({workers})",
        "inputs": [
            {"path": g.path, "object": g.object, "program": g.program, "size": g.size} for g in logs
        ],
        "complete": False,
    }
    _capture_facts(logs, manifest)
    write_manifest(outp, manifest)
    from tqdm import tqdm

    bar = tqdm(
        total=sum(len(t.inputs) for t in todo),
        unit="log",
        desc="parse",
        disable=(not _tty()) if progress is None else not progress,
    )
    results: list[TaskResult] = []
    t0 = time.perf_counter()
    runner = _distributed(todo, scheduler) if scheduler is not None else _local(todo, workers)
    with bar:
        for res in runner:
            results.append(res)
            bar.update(len(next(t for t in todo if t.part == res.part).inputs))
            bar.set_postfix(failed=sum(r.failed for r in results), refresh=False)
    seconds = time.perf_counter() - t0
    peak: dict[str, int] = {}
    for r in results:
        key = f"{r.host}:{r.pid}"
        peak[key] = max(peak.get(key, 0), r.peak_rss_kib)
    hashes = {p: h for r in results for p, h in r.hashes.items()}
    for entry in manifest["inputs"]:
        if entry["path"] in hashes:
            entry["sha256"] = hashes[entry["path"]]
    # count what is on disk (resumed parts included)
    df = read_table(outp, "programs", columns=["status", "log_lines"])
    manifest["counts"] = {
        "inputs": len(logs),
        "programs": int((df["status"] == "ok").sum()),
        "failed": int((df["status"] == "failed").sum()),
        "lines": int(df["log_lines"].fillna(0).sum()),
    }
    manifest["peak_rss_kib_per_worker"] = peak
    manifest["complete"] = True
    write_manifest(outp, manifest)
    return ParseSummary(
        out=outp,
        inputs=len(logs),
        tasks=len(tasks),
        skipped_tasks=len(tasks) - len(todo),
        programs=sum(r.programs for r in results),
        failed=sum(r.failed for r in results),
        lines=sum(r.lines for r in results),
        bytes=sum(r.bytes for r in results),
        seconds=seconds,
        workers=peak,
        results=results,
    )


def _capture_facts(logs: Sequence[LogInput], manifest: dict[str, Any]) -> None:
    """Kernel release and clang version from ``bpfkit load --capture`` manifests, if any."""
    from bpfkit.errors import LogError
    from bpfkit.kernel.capture import read_manifest

    dirs = {Path(g.path).parent.parent for g in logs if g.program is not None}
    kernels: set[str] = set()
    clangs: set[str] = set()
    for d in dirs:
        try:
            for r in read_manifest(d):
                kernels.add(r.kernel_release)
                clangs.add(r.clang_version)
        except LogError:
            continue
    if kernels:
        manifest["kernel_release"] = ", ".join(sorted(kernels))
    if clangs:
        manifest["clang_version"] = ", ".join(sorted(clangs))


def _tty() -> bool:
    import sys

    return sys.stderr.isatty()
