"""``bpfkit corpus run``: every program of many objects through the running kernel, kept.

Each object is one unit of work: its programs are loaded one at a time as ``bpfkit load``
does (:func:`bpfkit.kernel.load_programs`, nothing left loaded), at log level 1 or 2 with the
stats bit, and the kernel's verdict, errno, error line, every number of its summary and the
whole log are kept, beside the static ownership prediction of the same program
(:func:`bpfkit.ownership.static.predict`). The object's parts are written when it is done, so
an interrupted run resumes where it stopped (an object is identified by its SHA-256 and the
log level). An object that cannot be read or loaded is a ``failed`` row with its error; the
run goes on.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterable, Sequence
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
    sha256_file,
    write_manifest,
)
from bpfkit.corpus.parse import failed_row, log_row

__all__ = ["RunSummary", "run_objects", "run_object", "clang_version"]


@dataclass(slots=True)
class RunSummary:
    """The outcome of :func:`run_objects` (counts over the whole dataset, resumed parts
    included; ``skipped`` objects were already done)."""

    out: Path
    objects: int
    skipped: int
    programs: int
    accepted: int
    rejected: int
    failed: int
    seconds: float
    errors: list[str] = field(default_factory=list)


def clang_version() -> str:
    """``clang-19 --version``'s first line (or ``clang``'s), ``""`` when there is none."""
    import shutil
    import subprocess

    for exe in ("clang-19", "clang"):
        path = shutil.which(exe)
        if path is None:
            continue
        try:
            out = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=30, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        return out.splitlines()[0] if out else ""
    return ""


def _predictions(path: str) -> tuple[dict[str, Any], str | None]:
    """Static predictions by program name, or the reason there are none."""
    from bpfkit.errors import BpfkitError
    from bpfkit.obj import load_object
    from bpfkit.ownership.static import predict

    try:
        preds = predict(load_object(path))
    except BpfkitError as exc:
        return {}, f"no prediction: {exc}"
    except Exception as exc:  # noqa: BLE001 - a model bug must not stop a corpus run
        return {}, f"no prediction: {type(exc).__name__}: {exc}"
    return {p.program: p for p in preds}, None


def run_object(
    path: str,
    out: Path,
    part: str,
    *,
    level: int = 2,
    loader: str = "auto",
    tables: Sequence[str] = DEFAULT_TABLES,
    predict: bool = True,
) -> list[dict[str, Any]]:
    """Load every program of one object and write its parts; return its ``programs`` rows."""
    from bpfkit.errors import BpfkitError
    from bpfkit.kernel import load_programs
    from bpfkit.verifier import parse_log

    name = Path(path).name
    rows: list[dict[str, Any]] = []
    with PartWriter(out, part) as pw:
        try:
            results = load_programs(path, log_level=level, loader=loader)
        except BpfkitError as exc:
            rows.append(failed_row(object=name, source=path, part=part, error=str(exc)))
            pw.commit(programs_frame(rows))
            return rows
        preds, why = _predictions(path) if predict else ({}, "prediction not asked for")
        if not results:
            rows.append(
                failed_row(object=name, source=path, part=part, error=f"{path}: no programs")
            )
        for r in results:
            logs = parse_log(r.log, name=r.program)
            lg = next((x for x in logs if x.name == r.program), logs[-1])
            row = log_row(lg, object=r.object, program=r.program, source=path, part=part)
            row.pop("_kernel_lines", None)
            # the kernel's own answer, not the log's reading of it
            depth = r.stack_depth
            nums = [int(x) for x in (depth or "").replace("+", " ").split() if x.isdigit()]
            row.update(
                section=r.section,
                prog_type=r.prog_type,
                verdict=r.verdict,
                errno=r.errno,
                error=r.error or None,
                insns_processed=r.insns_processed,
                total_states=r.total_states,
                peak_states=r.peak_states,
                max_states_per_insn=r.max_states_per_insn,
                mark_read=r.mark_read,
                verification_time_usec=r.verification_time_usec,
                stack_depth=depth,
                stack_depth_total=sum(nums) if nums else None,
                loader=r.loader,
                kernel_release=r.kernel_release,
            )
            p = preds.get(r.program)
            if p is not None:
                row["predicted_verdict"] = p.verdict
                row["predicted_mistakes"] = ",".join(m.kind for m in p.mistakes) or None
                row["predicted_reason"] = p.reason
            else:
                row["predicted_reason"] = why or "no prediction for this program"
            rows.append(row)
            import pandas as pd

            pw.write(
                "logs",
                pd.DataFrame({"object": [r.object], "program": [r.program], "log": [r.log]}),
            )
            for t in tables:
                df = getattr(lg, t)
                if len(df):
                    pw.write(t, df, {"object": r.object, "program": r.program})
        pw.commit(programs_frame(rows))
    return rows


def run_objects(
    objects: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    level: int = 2,
    loader: str = "auto",
    tables: Sequence[str] = DEFAULT_TABLES,
    resume: bool = True,
    progress: bool | None = None,
    predict: bool = True,
    libbpf_path: str | None = None,
) -> RunSummary:
    """Load every program of every object into the running kernel; write the dataset *out*.

    Parameters
    ----------
    objects
        BPF ELF objects (a directory stands for its ``*.o`` files).
    level
        Verifier log level, 1 or 2 (the stats bit is always added).
    loader
        As :func:`bpfkit.kernel.load_programs`.
    tables
        Per-instruction tables to write besides ``programs`` and ``logs``.
    resume
        Skip the objects already in *out* (same bytes, same level).
    predict
        Add the static ownership prediction of each program.

    Raises
    ------
    KernelError
        When this process cannot load programs (not root/CAP_BPF, no kernel BTF, no libbpf):
        parse captured logs with :func:`bpfkit.corpus.parse_logs` instead.
    """
    import bpfkit
    from bpfkit.kernel import check_environment
    from bpfkit.kernel.capture import object_compiler
    from bpfkit.kernel.load import kernel_release

    if level not in (1, 2):
        raise CorpusError(f"log level must be 1 or 2, not {level!r}")
    for t in tables:
        if t not in TABLES:
            raise CorpusError(f"unknown table {t!r}; choose from {', '.join(TABLES)}")
    check_environment(libbpf_path)
    paths: list[str] = []
    for o in objects:
        p = Path(o)
        paths += [str(x) for x in sorted(p.glob("*.o"))] if p.is_dir() else [str(p)]
    if not paths:
        raise CorpusError("no objects given")
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in paths:
        sha = sha256_file(path)
        try:
            clang = object_compiler(path)
        except bpfkit.BpfkitError:
            clang = ""
        size = Path(path).stat().st_size if Path(path).is_file() else 0
        if sha:
            part = f"{sha[:16]}-l{level}"
        else:  # unreadable: tried again on every resume, under a name of its path
            part = f"missing-{hashlib.sha1(path.encode()).hexdigest()[:10]}-l{level}"
        entries.append(
            {
                "path": path,
                "object": Path(path).name,
                "sha256": sha,
                "size": size,
                "clang": clang,
                "part": part,
            }
        )
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "kind": "run",
        "bpfkit_version": bpfkit.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel_release": kernel_release(),
        "clang_version": clang_version(),
        "object_compilers": sorted({e["clang"] for e in entries if e["clang"]}),
        "log_level": level,
        "loader": loader,
        "tables": ["logs", *tables],
        "inputs": entries,
        "complete": False,
    }
    write_manifest(outp, manifest)
    done = done_parts(outp) if resume else set()
    todo = [e for e in entries if e["part"] not in done or not e["sha256"]]
    from tqdm import tqdm

    t0 = time.perf_counter()
    errors: list[str] = []
    bar = tqdm(
        todo,
        unit="obj",
        desc="run",
        disable=(not sys.stderr.isatty()) if progress is None else not progress,
    )
    for e in bar:
        bar.set_postfix_str(e["object"], refresh=False)
        rows = run_object(
            e["path"], outp, e["part"], level=level, loader=loader, tables=tables, predict=predict
        )
        errors += [f"{r['object']}: {r['error']}" for r in rows if r["status"] == "failed"]
    seconds = time.perf_counter() - t0
    df = read_table(outp, "programs", columns=["status", "verdict"])
    counts = {
        "objects": len(entries),
        "programs": int((df["status"] == "ok").sum()),
        "accepted": int((df["verdict"] == "accept").sum()),
        "rejected": int((df["verdict"] == "reject").sum()),
        "failed": int((df["status"] == "failed").sum()),
    }
    manifest["counts"] = counts
    manifest["complete"] = True
    write_manifest(outp, manifest)
    return RunSummary(
        out=outp,
        objects=len(entries),
        skipped=len(entries) - len(todo),
        programs=counts["programs"],
        accepted=counts["accepted"],
        rejected=counts["rejected"],
        failed=counts["failed"],
        seconds=seconds,
        errors=errors,
    )
