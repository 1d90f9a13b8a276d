"""One object's ownership story: fields, graph, static prediction and observed flows together.

:func:`analyze` loads a BPF object (and, optionally, verifier logs of its programs) and returns
an :class:`OwnershipModel`: the special fields the kernel will see, the type-level ownership
graph and its findings, the static prediction per program (:mod:`bpfkit.ownership.static`) and,
with a log, the flows the verifier really explored (:mod:`bpfkit.ownership.dynamic`).

Examples
--------
>>> from tests.corpus import MINIMAL_OBJ
>>> m = analyze(MINIMAL_OBJ)
>>> [(p["program"], p["predicted"]) for p in m.to_json()]
[('handle_tp', 'accept')]
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfkit.errors import BpfkitError
from bpfkit.ownership.dynamic import events_frame, flow_graph, lifetimes_frame, unreleased_refs
from bpfkit.ownership.fields import FieldRecord, all_records, fields_frame, records_frame
from bpfkit.ownership.typegraph import (
    Finding,
    check_ownership,
    findings_frame,
    graph_from_records,
)

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from bpfkit.btf.spec import Spec
    from bpfkit.obj import Object
    from bpfkit.ownership.static import Prediction
    from bpfkit.verifier import Log

__all__ = ["OwnershipModel", "analyze", "match_logs"]


@dataclass(slots=True)
class OwnershipModel:
    """Everything bpfkit knows about ownership in one object.

    Attributes
    ----------
    path : str
        The object file.
    obj : Object
        The loaded object.
    programs : list of str
        The programs analysed (all, or the one asked for).
    records : list of FieldRecord
        Special fields of map values, global sections and program-allocated types.
    graph : networkx.MultiDiGraph
        The type-level ownership graph (:mod:`bpfkit.ownership.typegraph`).
    findings : list of Finding
        What the kernel will refuse about who owns what.
    predictions : list of Prediction
        The static prediction per program.
    logs : dict of str to Log
        Verifier logs matched to programs by name.
    """

    path: str
    obj: Object
    programs: list[str]
    records: list[FieldRecord]
    graph: nx.MultiDiGraph
    findings: list[Finding]
    predictions: list[Prediction]
    logs: dict[str, Log] = field(default_factory=dict)

    # -- tables -----------------------------------------------------------------------------
    @property
    def fields(self) -> pd.DataFrame:
        """One row per special field (:func:`~bpfkit.ownership.fields.fields_frame`)."""
        return fields_frame(self.records)

    @property
    def containers(self) -> pd.DataFrame:
        """One row per container (:func:`~bpfkit.ownership.fields.records_frame`)."""
        return records_frame(self.records)

    @property
    def findings_table(self) -> pd.DataFrame:
        """The findings as a DataFrame."""
        return findings_frame(self.findings)

    def sites(self, program: str | None = None) -> pd.DataFrame:
        """Static allocation/acquisition sites (``static.sites_frame``)."""
        from bpfkit.ownership.static import sites_frame

        return sites_frame(self.obj, program)

    def flows(self, program: str | None = None) -> pd.DataFrame:
        """Static site -> sink flows (``static.flows_frame``)."""
        from bpfkit.ownership.static import flows_frame

        return flows_frame(self.obj, program)

    def events(self, program: str) -> pd.DataFrame:
        """Reference events the verifier logged for *program* (empty without a log)."""
        log = self.logs.get(program)
        if log is None:
            import pandas as pd

            from bpfkit.ownership.dynamic import RefEvent

            return pd.DataFrame(columns=list(RefEvent._fields))
        return events_frame(log)

    def observed_flows(self, program: str) -> pd.DataFrame:
        """Lifetimes (site -> sink per path) the verifier explored for *program*."""
        log = self.logs.get(program)
        if log is None:
            import pandas as pd

            return pd.DataFrame(
                columns=[
                    "path",
                    "ref_obj_id",
                    "btf_type",
                    "site_insn",
                    "site",
                    "end_insn",
                    "sink",
                    "end_detail",
                ]
            )
        return lifetimes_frame(log)

    def flow_graph(self, program: str) -> nx.DiGraph:
        """The observed flow graph of *program* (needs its log)."""
        log = self.logs.get(program)
        if log is None:
            raise BpfkitError(f"{self.path}: no verifier log for program {program!r}")
        return flow_graph(log)

    # -- output -----------------------------------------------------------------------------
    def prediction(self, program: str) -> Prediction | None:
        """The static prediction of *program*."""
        return next((p for p in self.predictions if p.program == program), None)

    def to_json(self) -> list[dict[str, Any]]:
        """Per program: ``program``, ``predicted``, ``mistakes`` [{kind, rule (the kernel rule:
        :data:`bpfkit.ownership.static.RULES`), insn (in the kernel's numbering, subprograms
        appended as the loader appends them), func and func_insn (the function and its own
        index), src_line,
        message}], ``reason``, ``findings`` (type level, shared by all programs of the
        object), and with a log ``observed`` {verdict, error, leaks [{id, alloc_insn}],
        flows [{site_insn, site, sink, sink_insn, paths}]}."""
        out: list[dict[str, Any]] = []
        findings = [
            {
                "code": f.code,
                "container": f.container,
                "errno": f.errno,
                "stage": f.stage,
                "message": f.message,
            }
            for f in self.findings
        ]
        for prog in self.programs:
            pred = self.prediction(prog)
            item: dict[str, Any] = {
                "program": prog,
                "predicted": pred.verdict if pred else "unknown",
                "mistakes": [
                    {
                        "kind": m.kind,
                        "rule": m.rule,
                        # None: refused at load, before any instruction
                        "insn": m.insn if m.insn >= 0 else None,
                        "func": m.func,
                        "func_insn": m.func_insn if m.func_insn >= 0 else None,
                        "src_line": m.src_line,
                        "message": m.message,
                    }
                    for m in (pred.mistakes if pred else ())
                ],
                "reason": pred.reason if pred else "",
                "findings": findings,
            }
            log = self.logs.get(prog)
            if log is not None:
                lt = lifetimes_frame(log)
                flows = []
                if len(lt):
                    grouped = lt.groupby(["site_insn", "site", "sink", "end_insn"], dropna=False)
                    for (site_insn, site, sink, end_insn), rows in grouped:
                        flows.append(
                            {
                                "site_insn": int(str(site_insn)),
                                "site": None if site != site else site,
                                "sink": sink,
                                "sink_insn": int(str(end_insn)),
                                "paths": int(len(rows)),
                            }
                        )
                item["observed"] = {
                    "verdict": log.verdict,
                    "error": log.error,
                    "leaks": [{"id": i, "alloc_insn": a} for i, a in unreleased_refs(log)],
                    "flows": flows,
                }
            out.append(item)
        return out

    def to_json_text(self) -> str:
        """:meth:`to_json` as indented JSON text."""
        return json.dumps(self.to_json(), indent=2, default=str)

    def summary(self) -> str:
        """A plain-text report (what ``bpfkit own`` prints)."""
        lines = [f"{self.path}: {len(self.programs)} program(s)"]
        lines.append(
            f"type graph: {self.graph.number_of_nodes()} nodes, "
            f"{self.graph.number_of_edges()} ownership edges"
        )
        for u, v, d in self.graph.edges(data=True):
            lines.append(
                f"  {self.graph.nodes[u]['label']} --{d['mechanism']}:{d['field']}--> "
                f"{self.graph.nodes[v]['label']}"
                + (f" [{d['resolved_in']}]" if d.get("resolved_in") else "")
            )
        if self.findings:
            lines.append("findings:")
            for f in self.findings:
                lines.append(f"  {f.code} {f.container} {f.errno or ''} ({f.stage}): {f.message}")
        sites = self.sites()
        flows = self.flows()
        for prog in self.programs:
            pred = self.prediction(prog)
            lines.append("")
            lines.append(
                f"program {prog}: predicted {pred.verdict if pred else 'unknown'}"
                + (f" ({pred.reason})" if pred and pred.reason else "")
            )
            for m in pred.mistakes if pred else ():
                where = f" line {m.src_line}" if m.src_line else ""
                in_func = f" ({m.func}+{m.func_insn})" if m.func and m.func != prog else ""
                at = f"at insn {m.insn}" if m.insn >= 0 else "at load (before any instruction)"
                lines.append(f"  mistake {m.kind} [{m.rule}] {at}{in_func}{where}: {m.message}")
            for r in sites[sites["program"] == prog].itertuples():
                lines.append(f"  site insn {r.insn_idx}: {r.kfunc} ({r.type})")
            for r in flows[flows["program"] == prog].itertuples():
                lines.append(
                    f"  flow insn {r.site_insn} {r.kfunc} -> {r.sink} at insn "
                    f"{r.sink_insn} {r.target} x{r.paths}"
                )
            log = self.logs.get(prog)
            if log is not None:
                lines.append(
                    f"  observed: {log.verdict}"
                    + (f" ({log.error.splitlines()[0]})" if log.error else "")
                )
                lt = lifetimes_frame(log)
                if len(lt):
                    grouped = lt.groupby(["site_insn", "site", "sink", "end_insn"], dropna=False)
                    for (site_insn, site, sink, end_insn), rows in grouped:
                        lines.append(
                            f"  observed flow insn {site_insn} {site} -> {sink} at insn "
                            f"{end_insn} x{len(rows)}"
                        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from bpfkit._repr import html_table, raw, verdict_badge

        parts = [f"<div><b>{_esc(os.path.basename(self.path))}</b>: ownership model</div>"]
        rows = []
        for prog in self.programs:
            pred = self.prediction(prog)
            log = self.logs.get(prog)
            rows.append(
                (
                    prog,
                    raw(verdict_badge(pred.verdict if pred else "unknown")),
                    "; ".join(f"{m.kind}@{m.insn_idx}" for m in (pred.mistakes if pred else ())),
                    raw(verdict_badge(log.verdict)) if log is not None else "",
                )
            )
        parts.append(html_table(["program", "predicted", "mistakes", "observed"], rows))
        edges = [
            (
                self.graph.nodes[u]["label"],
                d["field"],
                d["mechanism"],
                self.graph.nodes[v]["label"],
                d.get("resolved_in") or "",
            )
            for u, v, d in self.graph.edges(data=True)
        ]
        if edges:
            parts.append(
                html_table(
                    ["container", "field", "mechanism", "owns", "resolved in"],
                    edges,
                    caption="who can own what",
                )
            )
        if self.findings:
            parts.append(
                html_table(
                    ["code", "container", "errno", "stage", "message"],
                    [(f.code, f.container, f.errno, f.stage, f.message) for f in self.findings],
                )
            )
        else:
            parts.append("<div>no type-level findings: the kernel accepts every container</div>")
        return "\n".join(parts)


def _esc(text: str) -> str:
    import html

    return html.escape(text)


def match_logs(logs: Sequence[Log], programs: Sequence[str]) -> dict[str, Log]:
    """Logs by program name; a single unnamed (or differently named) log goes to a single
    program."""
    out: dict[str, Log] = {}
    for log in logs:
        if log.name in programs:
            out[str(log.name)] = log
    if not out and len(logs) == 1 and len(programs) == 1:
        out[programs[0]] = logs[0]
    return out


def analyze(
    obj_path: str | os.PathLike[str],
    program: str | None = None,
    log: str | os.PathLike[str] | Log | Sequence[Log] | None = None,
    *,
    kernel: Spec | None | bool = True,
) -> OwnershipModel:
    """Analyse the ownership of program-allocated objects in one BPF object.

    Parameters
    ----------
    obj_path : path
        A BPF ELF object with BTF.
    program : str, optional
        Restrict to one program.
    log : path or Log or list of Log, optional
        Verifier log(s) of the object's programs (matched by program name).
    kernel : Spec or bool
        Kernel BTF for the kptr lookup: ``True`` (default) loads ``load_vmlinux()``, ``False``
        or ``None`` skips it.
    """
    from bpfkit.obj import load_object
    from bpfkit.ownership.static import predict

    path = Path(obj_path)
    obj = load_object(path)
    if obj.btf is None:
        raise BpfkitError(f"{path}: the object has no .BTF section; ownership needs BTF")
    if kernel is True:
        from bpfkit.btf import load_vmlinux

        try:
            kspec: Spec | None = load_vmlinux()
        except BpfkitError:
            kspec = None
    else:
        kspec = kernel if kernel is not False else None
    names = [p.name for p in obj.programs if p.section != ".text"]
    if program is not None:
        if program not in names:
            raise BpfkitError(f"{path}: no program {program!r} (programs: {', '.join(names)})")
        names = [program]
    from bpfkit.ownership.static import sites_frame

    sites = sites_frame(obj, program)
    allocs = sites[sites["kfunc"].isin(["bpf_obj_new_impl", "bpf_percpu_obj_new_impl"])]
    alloc_types = [str(t) for t in allocs["type"].dropna().unique()]
    records = all_records(
        obj.btf, obj.maps, sections=obj.globals(), kernel=kspec, alloc_types=alloc_types
    )
    graph = graph_from_records(records)
    findings = check_ownership(obj.btf, obj.maps, sections=obj.globals(), kernel=kspec, graph=graph)
    predictions = predict(obj, program)
    logs: dict[str, Log] = {}
    if log is not None:
        if isinstance(log, (str, os.PathLike)):
            from bpfkit.verifier import load_log

            loaded = load_log(log)
        elif isinstance(log, (list, tuple)):
            loaded = list(log)
        else:
            loaded = [log]  # type: ignore[list-item]
        logs = match_logs(loaded, names)
    return OwnershipModel(str(path), obj, names, records, graph, findings, predictions, logs)
