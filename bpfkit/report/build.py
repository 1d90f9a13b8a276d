"""Build the static HTML report: one page per program and an ``index.html``.

The pipeline runs on files alone (no root, no kernel): BPF objects and the verifier logs the
kernel produced for them. For every program it gathers

- the kernel's verdict, error and statistics from its verifier log (``bpfkit.verifier``),
- the static ownership prediction, allocation sites and flows (``bpfkit.obj``,
  ``bpfkit.ownership``),
- the figures of its verifier states (``bpfkit.plot``), written as SVG next to the page,
- the error explained in context (:mod:`bpfkit.report.explain`),

and writes self-contained pages (inline CSS, relative links only) from the Jinja2 templates in
``bpfkit/report/templates`` (:mod:`bpfkit.report.templating`).

A component that fails stops the build with a :class:`ReportError` that names the component
and the program; only inputs that genuinely lack something (an accepted program has no error,
a bare log has no object to predict from) produce a shorter page.
"""

from __future__ import annotations

import contextlib
import csv
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpfkit.errors import BpfkitError
from bpfkit.report.explain import ErrorContext, context_html, explain_error
from bpfkit.report.templating import render, stylesheet

__all__ = [
    "ReportError",
    "ProgramInput",
    "Figure",
    "Table",
    "ProgramReport",
    "Report",
    "DEFAULT_DATA",
    "discover_inputs",
    "analyse_program",
    "build_report",
    "describe_timings",
]

#: The repository's ``data/`` directory (the default input; ``./data`` when bpfkit is not run
#: from a checkout).
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "data"
if not DEFAULT_DATA.is_dir():  # pragma: no cover - installed outside the repository
    DEFAULT_DATA = Path("data")

_LOG_NAME = re.compile(r"\.(?:log|txt)(?:\.xz|\.gz)?$")
_OBJ_SUFFIXES = (".o",)


class ReportError(BpfkitError):
    """A component of the report failed (the message names the component and the program)."""


@dataclass(frozen=True, slots=True)
class ProgramInput:
    """One program to report on: where its object and verifier logs are.

    ``logs`` maps a log level (1, 2; 0 when unknown) to the log file; ``kernel_verdict`` is the
    verdict a manifest recorded, if any (the log's own verdict is used otherwise).
    """

    key: str
    object_name: str | None
    program: str
    object_path: Path | None
    logs: tuple[tuple[int, Path], ...]
    kernel_verdict: str | None = None

    @property
    def best_log(self) -> Path | None:
        """The most detailed log (highest level)."""
        if not self.logs:
            return None
        return max(self.logs, key=lambda item: item[0])[1]


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure written next to a program page (``file`` is relative to the report dir)."""

    title: str
    file: str
    section: str = "states"


@dataclass(frozen=True, slots=True)
class Table:
    """A table a page shows: column names and rows of plain values (escaped when rendered)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True, slots=True)
class ProgramReport:
    """Everything one program page shows; the index is built from these."""

    input: ProgramInput
    page: str
    kernel_verdict: str
    predicted_verdict: str | None
    prediction_reason: str | None
    error: str | None
    insns_processed: int | None
    total_states: int | None
    stats: tuple[tuple[str, Any], ...]
    figures: tuple[Figure, ...]
    mistakes: tuple[tuple[Any, ...], ...]
    sites: Table | None
    flows: Table | None
    context: ErrorContext | None

    @property
    def agrees(self) -> bool:
        """The static prediction is the kernel's verdict."""
        return self.predicted_verdict == self.kernel_verdict


@dataclass(frozen=True, slots=True)
class Report:
    """A built report: its directory, index page and program pages."""

    out_dir: Path
    index: Path
    programs: tuple[ProgramReport, ...]
    #: Where the time went: ``("stage:<name>", wall seconds)`` and ``("stage-cpu:<name>",
    #: CPU seconds of this process and its workers)`` for inputs, objects, pages, gallery and
    #: index; ``("total:wall", s)``, ``("total:cpu", s)`` for the whole build (the workers
    #: included); then ``(component, wall seconds)`` and ``("cpu:<component>", CPU seconds)``
    #: summed over the worker processes.
    timings: tuple[tuple[str, float], ...] = ()


#: Seconds spent in each component by this process since the last :func:`_take_times`.
_TIMES: dict[str, float] = {}


@contextlib.contextmanager
def _component(name: str, key: str) -> Iterator[None]:
    """Re-raise any failure inside as a :class:`ReportError` naming *name* and *key*; add
    the time spent to ``_TIMES[name]`` (wall) and ``_TIMES["cpu:" + name]`` (CPU)."""
    start = time.perf_counter()
    cpu = time.process_time()
    try:
        yield
    except ReportError:
        raise
    except Exception as exc:
        raise ReportError(
            f"report component {name!r} failed on {key}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        _TIMES[name] = _TIMES.get(name, 0.0) + time.perf_counter() - start
        key = f"cpu:{name}"
        _TIMES[key] = _TIMES.get(key, 0.0) + time.process_time() - cpu


def _take_times() -> dict[str, float]:
    """The component times gathered so far in this process, and start afresh."""
    got = dict(_TIMES)
    _TIMES.clear()
    return got


def _add_times(total: dict[str, float], more: dict[str, float]) -> None:
    for name, seconds in more.items():
        total[name] = total.get(name, 0.0) + seconds


# --------------------------------------------------------------------------------------------
# inputs


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "program"


def _level_of(text: str) -> int:
    m = re.search(r"(?:^|[._-])l(?:evel)?[-_]?([12])(?:[._-]|$)", text, re.IGNORECASE)
    return int(m.group(1)) if m else 0


def _log_program(name: str) -> str:
    """The program a log file is named after: ``prog.l2.log.xz`` -> ``prog``."""
    base = _LOG_NAME.sub("", name)
    return re.sub(r"\.(?:l(?:evel)?[-_]?[12]|verifier)$", "", base, flags=re.IGNORECASE)


def _pick(row: dict[str, str], *names: str) -> str | None:
    for name in names:
        value = row.get(name)
        if value not in (None, "", "-"):
            return value
    return None


def _read_manifest(path: Path) -> list[ProgramInput]:
    """Read a logs ``MANIFEST.tsv``: one row per captured log (object, program, level, file)."""
    base = path.parent
    root = base.parent
    groups: dict[tuple[str | None, str], dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not UTF-8 text (byte offset {exc.start})") from exc
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    for lineno, row in enumerate(reader, start=2):
        program = _pick(row, "program", "prog", "name")
        # one row per program with l1_log/l2_log columns, or one row per log file
        logs_of_row: list[tuple[int, str]] = [
            (lvl, rel) for lvl in (1, 2) if (rel := _pick(row, f"l{lvl}_log")) is not None
        ]
        if not logs_of_row:
            single = _pick(row, "log", "file", "path", "log_path")
            if single is not None:
                level_text = _pick(row, "level", "log_level")
                level = (
                    int(level_text) if level_text and level_text.isdigit() else _level_of(single)
                )
                logs_of_row = [(level, single)]
        if not logs_of_row or program is None:
            raise ReportError(
                f"{path}:{lineno}: expected 'program' and log columns "
                f"(l1_log/l2_log or log), found {sorted(row)}"
            )
        obj_rel = _pick(row, "object", "obj", "object_path")
        obj_path: Path | None = None
        if obj_rel is not None:
            for cand in (root / obj_rel, base / obj_rel, root / "programs" / obj_rel):
                if cand.exists():
                    obj_path = cand
                    break
        obj_name = Path(obj_rel).name if obj_rel else None
        entry = groups.setdefault(
            (obj_name, program),
            {"object_path": obj_path, "logs": {}, "verdict": None},
        )
        for level, log_rel in logs_of_row:
            log_path = base / log_rel if (base / log_rel).exists() else root / log_rel
            if not log_path.is_file():
                raise ReportError(f"{path}:{lineno}: log file {log_rel} does not exist")
            entry["logs"][level] = log_path
        verdict = _pick(row, "verdict", "kernel_verdict", "outcome")
        if verdict:
            entry["verdict"] = verdict
    out = []
    for (obj_name, program), entry in groups.items():
        stem = obj_name.split(".")[0] if obj_name else None
        key = _slug(f"{stem}--{program}" if stem else program)
        out.append(
            ProgramInput(
                key=key,
                object_name=obj_name,
                program=program,
                object_path=entry["object_path"],
                logs=tuple(sorted(entry["logs"].items())),
                kernel_verdict=entry["verdict"],
            )
        )
    return out


def _object_programs(path: Path) -> list[str]:
    from bpfkit.obj import load_object

    with _component("obj.load_object", str(path)):
        obj = load_object(path)
        return [p.name for p in obj.programs if p.section != ".text"]


def discover_inputs(paths: Sequence[str | Path] | None = None) -> list[ProgramInput]:
    """Return the programs to report on, found in *paths* (default: the repository's ``data/``).

    A directory with ``logs/MANIFEST.tsv`` (or a ``MANIFEST.tsv``) is read through its
    manifest, pairing each program's logs with its object; any other directory is searched for
    ``*.o`` objects and ``*.log`` files. A ``.o`` file contributes each of its programs; any
    other file is a verifier log (one page per program it holds).
    """
    if not paths:
        paths = [DEFAULT_DATA]
    found: dict[str, ProgramInput] = {}

    def add(item: ProgramInput) -> None:
        key = item.key
        n = 2
        while key in found:
            key = f"{item.key}-{n}"
            n += 1
        if key != item.key:
            item = ProgramInput(
                key, item.object_name, item.program, item.object_path, item.logs,
                item.kernel_verdict,
            )  # fmt: skip
        found[key] = item

    loose_objs: list[Path] = []
    loose_logs: list[Path] = []
    groups: list[tuple[list[Path], list[Path]]] = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            raise ReportError(f"report input {path} does not exist")
        if path.is_dir():
            manifest = next(
                (m for m in (path / "logs" / "MANIFEST.tsv", path / "MANIFEST.tsv") if m.exists()),
                None,
            )
            if manifest is not None:
                for item in _read_manifest(manifest):
                    add(item)
                continue
            files = sorted(p for p in path.rglob("*") if p.is_file())
            groups.append(
                (
                    [p for p in files if p.suffix in _OBJ_SUFFIXES],
                    [p for p in files if _LOG_NAME.search(p.name)],
                )
            )
        elif path.suffix in _OBJ_SUFFIXES:
            loose_objs.append(path)
        else:
            loose_logs.append(path)
    if loose_objs or loose_logs:  # `bpfkit report OBJ LOG`: files given together pair up
        groups.append((loose_objs, loose_logs))
    from bpfkit.report.pairing import pair_logs

    for objs, logs in groups:
        # a log of a program of an object found with it (by file name or the name the log
        # itself gives) joins that program's page
        programs = {obj: _object_programs(obj) for obj in objs}
        pairs, alone = pair_logs(programs, logs)
        for obj, progs in programs.items():
            for prog in progs:
                stem = obj.name.split(".")[0]
                mine = pairs.get((obj, prog), [])
                levels = tuple(sorted({_level_of(lg.name): lg for lg in mine}.items()))
                add(ProgramInput(_slug(f"{stem}--{prog}"), obj.name, prog, obj, levels))
        for log in alone:
            prog = _log_program(log.name)
            add(ProgramInput(_slug(prog), None, prog, None, ((_level_of(log.name), log),)))
    return list(found.values())


# --------------------------------------------------------------------------------------------
# analysis


def _log_bytes(path: Path) -> bytes:
    """The bytes of a log file, decompressed when it is ``.xz`` or ``.gz`` (a decompression
    bomb is a LogError: :data:`bpfkit.verifier.log.MAX_EXPANSION`)."""
    from bpfkit.verifier.log import read_bytes

    return read_bytes(path)


def _load_log(item: ProgramInput, path: Path) -> Any:
    from bpfkit.verifier import load_log

    with _component("verifier.load_log", f"{item.key} ({path})"):
        logs = load_log(path)
        if not logs:
            raise ValueError(f"no verifier log in {path}")
        named = [lg for lg in logs if lg.name == item.program]
        return named[0] if named else logs[0]


_STAT_FIELDS = (
    "insns_processed",
    "insn_limit",
    "max_states_per_insn",
    "total_states",
    "peak_states",
    "mark_read",
    "verification_time_usec",
    "stack_depth",
)


def _stats_of(log: Any) -> tuple[tuple[str, Any], ...]:
    stats = log.stats
    out = []
    for name in _STAT_FIELDS:
        value = getattr(stats, name, None)
        if isinstance(value, tuple):
            value = "+".join(str(v) for v in value) if value else None
        out.append((name, value))
    return tuple(out)


def _predict(item: ProgramInput) -> tuple[Any, Table | None, Table | None, Any]:
    """(prediction or None, sites table, flows table, flows frame) from the program's object."""
    if item.object_path is None:
        return None, None, None, None
    from bpfkit.obj import load_object
    from bpfkit.ownership import static

    with _component("obj.load_object", f"{item.key} ({item.object_path})"):
        obj = load_object(item.object_path)
    with _component("ownership.static.predict", item.key):
        preds = static.predict(obj, item.program)
        pred = preds[0] if preds else None
    with _component("ownership.static.sites_frame", item.key):
        sites = static.sites_frame(obj, item.program)
    with _component("ownership.static.flows_frame", item.key):
        flows = static.flows_frame(obj, item.program)
    return pred, _table(sites), _table(flows), flows


def _object_section(path: Path, out: Path) -> str:
    """The ownership section shared by the pages of one object: its ownership graph figure,
    special fields and type-level findings (written once, linked from every page)."""
    from bpfkit.ownership import analyze

    stem = path.name.split(".")[0]
    with _component("ownership.analyze", str(path)):
        model = analyze(path)
    fig_rel = None
    if model.graph.number_of_edges():
        from bpfkit.report import figures

        fig_rel = f"objects/{stem}-ownership.svg"
        (out / "objects").mkdir(parents=True, exist_ok=True)
        with _component("plot.ownership_graph", str(path)):
            figures.ownership_graph_figure(model.graph, out / fig_rel, title=path.name)
    fields = model.fields
    cols = [c for c in ("container", "container_kind", "kind", "offset", "size",
                        "kptr_type", "contains_type", "contains_field", "resolved_in")
            if c in fields.columns]  # fmt: skip
    with _component("report.render", str(path)):
        return render(
            "object.html",
            name=path.name,
            figure=fig_rel,
            fields=_table(fields[cols]) if len(fields) else None,
            findings=_table(model.findings_table),
        )


def _table(frame: Any) -> Table | None:
    """A DataFrame as a :class:`Table` (None when empty)."""
    if frame is None or len(frame) == 0:
        return None
    rows = tuple(tuple(r) for r in frame.itertuples(index=False))
    return Table(tuple(str(c) for c in frame.columns), rows)


def _figures(item: ProgramInput, log: Any, flows: Any, out_dir: Path) -> tuple[Figure, ...]:
    from bpfkit.report import figures

    fig_dir = out_dir / item.key
    fig_dir.mkdir(parents=True, exist_ok=True)
    from bpfkit.report import cache

    out = []
    inputs = [p for _lvl, p in item.logs]
    if item.object_path is not None:
        inputs.append(item.object_path)
    for title, name, draw in figures.program_figures(log, flows, program=item.program):
        with _component(f"plot.{name}", item.key):
            path = fig_dir / f"{name}.svg"
            key = cache.figure_key(name, figures.STYLE, inputs, extra=item.program)
            drawn = cache.fresh(path, key) or draw(path)
            if drawn:
                cache.remember(path, key)
                section = "ownership" if name in ("flows", "ownership", "chain") else "states"
                out.append(Figure(title, f"{item.key}/{name}.svg", section))
    return tuple(out)


def analyse_program(item: ProgramInput, out_dir: Path | None = None) -> ProgramReport:
    """Gather everything the page of *item* shows; write its figures under *out_dir*."""
    return _analyse(item, out_dir)[0]


def _analyse(item: ProgramInput, out_dir: Path | None) -> tuple[ProgramReport, Any]:
    """The program's report and its parsed log (None without one)."""
    log = None
    log_path = item.best_log
    if log_path is not None:
        log = _load_log(item, log_path)
    pred, sites, flows_table, flows = _predict(item)

    kernel_verdict = "unknown"
    error = None
    stats: tuple[tuple[str, Any], ...] = ()
    context = None
    if log is not None:
        kernel_verdict = str(log.verdict)
        error = log.error
        stats = _stats_of(log)
        with _component("report.explain_error", item.key):
            context = explain_error(log)
    if kernel_verdict == "unknown" and item.kernel_verdict in ("accept", "reject"):
        kernel_verdict = item.kernel_verdict
    figures: tuple[Figure, ...] = ()
    if out_dir is not None:
        figures = _figures(item, log, flows, out_dir)
    mistakes: tuple[tuple[Any, ...], ...] = ()
    if pred is not None:
        mistakes = tuple((m.kind, m.insn_idx, m.src_line, m.message) for m in pred.mistakes)
    stat = dict(stats)
    rep = ProgramReport(
        input=item,
        page=f"{item.key}.html",
        kernel_verdict=kernel_verdict,
        predicted_verdict=None if pred is None else str(pred.verdict),
        prediction_reason=None if pred is None else str(pred.reason),
        error=error,
        insns_processed=stat.get("insns_processed"),
        total_states=stat.get("total_states"),
        stats=stats,
        figures=figures,
        mistakes=mistakes,
        sites=sites,
        flows=flows_table,
        context=context,
    )
    return rep, log


# --------------------------------------------------------------------------------------------
# rendering


def _page_context(sources: str, index_href: str) -> dict[str, Any]:
    from bpfkit import __version__

    return {"css": stylesheet(), "version": __version__, "sources": sources,
            "index_href": index_href}  # fmt: skip


def _page_html(
    rep: ProgramReport, sources: str, object_html: str = "", explorer_html: str = ""
) -> str:
    """The program page of *rep* (``program.html``)."""
    from markupsafe import Markup

    return render(
        "program.html",
        rep=rep,
        title=rep.input.program,
        context_html=Markup(context_html(rep.context)) if rep.context is not None else "",
        object_html=Markup(object_html),
        explorer_html=Markup(explorer_html),
        **_page_context(sources, "index.html"),
    )


def _index_html(
    reports: Sequence[ProgramReport], out: Path, sources: str, *, gallery: bool = False
) -> str:
    """The index page: a row per object and per program (``index.html``)."""
    per: dict[str, list[ProgramReport]] = {}
    for r in reports:
        if r.input.object_name is not None:
            per.setdefault(r.input.object_name, []).append(r)
    objects = []
    for name, progs in per.items():
        fig = f"objects/{name.split('.')[0]}-ownership.svg"
        objects.append(
            {
                "name": name,
                "programs": len(progs),
                "rejected": sum(p.kernel_verdict == "reject" for p in progs),
                "agree": sum(p.agrees for p in progs),
                "figure": fig if (out / fig).is_file() else None,
            }
        )
    return render(
        "index.html",
        reports=list(reports),
        objects=objects,
        gallery=gallery,
        title="programs",
        **_page_context(sources, ""),
    )


def _write_page(
    item: ProgramInput, out: Path, sources: str, object_html: str = ""
) -> ProgramReport:
    """Analyse one program and write its page, logs and figures under *out*."""
    (out / item.key).mkdir(parents=True, exist_ok=True)
    for level, path in item.logs:
        with _component("report.copy_log", f"{item.key} ({path})"):
            (out / item.key / f"verifier-l{level}.log").write_bytes(_log_bytes(path))
    rep, log = _analyse(item, out)
    explorer = ""
    if log is not None:
        from bpfkit import explorer as ex

        with _component("explorer.explorer_data", item.key):
            ex.write_data_script(log, out / item.key / "explorer-data.js", item.key)
            explorer = ex.explorer_html(item.key, data_src=f"{item.key}/explorer-data.js")
    with _component("report.render", item.key):
        page = _page_html(rep, sources, object_html, explorer)
    (out / rep.page).write_text(page, encoding="utf-8")
    return rep


def _object_task(path: Path, out: Path) -> tuple[str, dict[str, float]]:
    return _object_section(path, out), _take_times()


def _page_task(
    item: ProgramInput, out: Path, sources: str, object_html: str
) -> tuple[ProgramReport, dict[str, float]]:
    return _write_page(item, out, sources, object_html), _take_times()


@contextlib.contextmanager
def _workers(jobs: int) -> Iterator[Any]:
    """A pool of *jobs* worker processes, kept for every task of the build (each worker
    imports pandas, matplotlib and the kernel BTF once); None for one job: work here."""
    if jobs <= 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        yield pool


def _run_all(
    pool: Any, fn: Any, calls: Sequence[tuple[Any, ...]], bar: Any, times: dict[str, float]
) -> list[Any]:
    """``fn(*args)`` for each *args* of *calls* (in *pool* if not None), in order; each task
    returns (result, component times), the times are added to *times*."""
    done: list[tuple[Any, dict[str, float]]]
    if pool is None:
        done = []
        for args in calls:
            done.append(fn(*args))
            if bar is not None:
                bar.update()
    else:
        from concurrent.futures import as_completed

        futures = [pool.submit(fn, *args) for args in calls]
        try:
            for fut in as_completed(futures):
                fut.result()  # the first failure stops the build
                if bar is not None:
                    bar.update()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        done = [f.result() for f in futures]
    for _result, took in done:
        _add_times(times, took)
    return [result for result, _took in done]


def describe_timings(report: Report) -> str:
    """Where the time of a build went, as a few lines of text (``bpfkit report`` prints it):
    the wall and CPU time of the build and of each stage (CPU: this process and its worker
    processes; on a shared machine the CPU seconds are the figure to compare), then each
    component's CPU and wall seconds summed over the workers."""
    t = dict(report.timings)
    stages = [k.removeprefix("stage:") for k in t if k.startswith("stage:")]
    wall = t.get("total:wall", sum(t[f"stage:{k}"] for k in stages))
    head = f"bpfkit report: {wall:.1f} s wall"
    if "total:cpu" in t:
        head += f", {t['total:cpu']:.1f} s CPU (this process and its workers)"
    lines = [head]
    lines.append("  stages (wall / CPU s): " + ", ".join(
        f"{k} {t[f'stage:{k}']:.1f}" + (f" / {t[f'stage-cpu:{k}']:.1f}"
                                        if f"stage-cpu:{k}" in t else "")
        for k in stages))  # fmt: skip
    cpu = [(k.removeprefix("cpu:"), v) for k, v in t.items() if k.startswith("cpu:")]
    parts = [(k, v) for k, v in t.items() if ":" not in k]
    for what, items in (("CPU", cpu), ("wall", parts)):
        if items:
            lines.append(
                f"  components, {what} seconds summed over workers "
                f"({sum(v for _, v in items):.1f} s): "
                + ", ".join(f"{k} {v:.1f}" for k, v in sorted(items, key=lambda kv: -kv[1]))
            )
    return "\n".join(lines)


def _gallery(
    out: Path,
    inputs: Sequence[str | Path] | None,
    sources: str,
    progress: bool,
    pool: Any,
    times: dict[str, float],
    reports: Sequence[ProgramReport] = (),
) -> bool:
    """Write the figure gallery (its figures drawn in *pool*, their times added to *times*;
    those the pages of *reports* show already copied from them) when a data directory is
    among the *inputs*; whether it was written."""
    data_dirs = [Path(p) for p in (inputs or [DEFAULT_DATA])]
    data_dir = next((d for d in data_dirs if (d / "logs" / "MANIFEST.tsv").is_file()), None)
    if data_dir is None:
        return False
    from bpfkit.report import figures
    from bpfkit.report import gallery as gal

    drawn = {  # the pages' figures: each drawn from its program's own log file
        (rep.input.best_log.resolve(), Path(f.file).stem, figures.STYLE): out / f.file
        for rep in reports
        if rep.input.best_log is not None
        for f in rep.figures
        if f.file.endswith(".svg") and (out / f.file).is_file()
    }
    with _component("report.gallery", str(data_dir)):
        entries = gal.write_gallery(
            out / "gallery", data_dir, progress=progress, pool=pool, times=times,
            drawn_already=drawn,
        )  # fmt: skip
        (out / "gallery.html").write_text(gal.gallery_html(entries, sources), "utf-8")
    return True


def build_report(
    inputs: Sequence[str | Path] | None = None,
    out_dir: str | Path = "build/report",
    *,
    progress: bool = True,
    jobs: int | None = None,
) -> Report:
    """Analyse *inputs* (default: the repository's ``data/``) and write the report to *out_dir*.

    Parameters
    ----------
    inputs
        Data directories (with ``logs/MANIFEST.tsv``), BPF objects or verifier logs.
    out_dir
        Where ``index.html``, the program pages and their figures and logs go.
    progress
        Show a tqdm progress bar on stderr.
    jobs
        Worker processes for the program pages (default: the number of CPUs); 1 works in
        this process.

    Returns
    -------
    Report
        The index path and one :class:`ProgramReport` per program page, in input order.

    Raises
    ------
    ReportError
        When a component fails (the message names it and the program) or an input is missing.
    """
    import os
    import resource

    stages: dict[str, float] = {}
    times: dict[str, float] = {}
    begin = start = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = cpu = time.process_time()
    workers_cpu = 0.0  # CPU seconds the workers reported so far

    def stage(name: str) -> None:
        """End stage *name*: its wall time, and its CPU time here and in the workers."""
        nonlocal start, cpu, workers_cpu
        now, now_cpu = time.perf_counter(), time.process_time()
        reported = sum(v for k, v in times.items() if k.startswith("cpu:")) if pool else 0.0
        stages[f"stage:{name}"] = now - start
        stages[f"stage-cpu:{name}"] = now_cpu - cpu + reported - workers_cpu
        start, cpu, workers_cpu = now, now_cpu, reported

    pool: Any = None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = discover_inputs(inputs)
    if not items:
        raise ReportError(f"no programs found in {', '.join(map(str, inputs or [DEFAULT_DATA]))}")
    sources = ", ".join(str(p) for p in (inputs or [DEFAULT_DATA]))
    from bpfkit.explorer import write_assets

    write_assets(out)
    n_jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    paths = list(dict.fromkeys(i.object_path for i in items if i.object_path is not None))
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths) + len(items), desc="bpfkit report", file=sys.stderr)
    stage("inputs")
    try:
        with _workers(n_jobs if len(items) > 1 else 1) as pool:
            # the objects' sections first (in parallel): every page of an object shows it
            sections = _run_all(pool, _object_task, [(p, out) for p in paths], bar, times)
            by_object = dict(zip(paths, sections, strict=True))
            stage("objects")
            calls = [
                (item, out, sources, by_object[item.object_path] if item.object_path else "")
                for item in items
            ]
            reports = _run_all(pool, _page_task, calls, bar, times)
            stage("pages")
            if bar is not None:
                bar.close()
                bar = None
            # the gallery's figures are drawn by the workers too
            gallery = _gallery(out, inputs, sources, progress, pool, times, reports)
            stage("gallery")
    finally:
        if bar is not None:
            bar.close()
    index = out / "index.html"
    with _component("report.render", "index"):
        index.write_text(_index_html(reports, out, sources, gallery=gallery), encoding="utf-8")
    stage("index")
    done = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers have exited
    total_cpu = (time.process_time() - cpu0 + done.ru_utime - children.ru_utime
                 + done.ru_stime - children.ru_stime)  # fmt: skip
    totals = {"total:wall": time.perf_counter() - begin, "total:cpu": total_cpu}
    timings = (*stages.items(), *totals.items(), *sorted(times.items()))
    return Report(out_dir=out, index=index, programs=tuple(reports), timings=timings)
