"""Who can own what, from BTF alone: a type-level ownership graph and the kernel's checks.

:func:`ownership_graph` turns the special-field records of :mod:`bpfkit.ownership.fields` into a
networkx ``MultiDiGraph``: containers (map values, global sections, program-allocated types)
point to the types they can own, one edge per field. :func:`check_ownership` lists, as
:class:`Finding` records, the problems the kernel also finds (and when it finds them).

Node keys and attributes
------------------------
``("map", name)`` / ``("global", section)`` / ``("type", struct name)``; attributes ``kind``
(``"map_value"``, ``"global"``, ``"alloc"``, ``"kernel"``, ``"program"``), ``label``,
``type_id``, ``size``, ``roles`` (subset of ``{"root", "node", "refcounted", "lock"}``),
``errno`` / ``reason`` when the kernel rejects the container.

Edge attributes
---------------
``field`` (member path), ``offset``, ``mechanism`` (``"kptr"``, ``"kptr_untrusted"``,
``"percpu_kptr"``, ``"uptr"``, ``"list"``, ``"rbtree"``, and ``"refcount"`` for the self-loop
of a type with a ``bpf_refcount``: ``bpf_refcount_acquire`` makes more owning references to
one object, so it may be owned through several edges at once), ``node_field`` (the element's
node member, for lists and trees), ``refcount`` (True when the owned type has a
``bpf_refcount``), ``resolved_in`` (kptrs: the two-stage lookup).
The edge key is the field path.

Examples
--------
>>> from bpfkit.obj import load_object
>>> from tests.corpus import DATA_PROGRAMS
>>> obj = load_object(DATA_PROGRAMS / "list.bpf.o")
>>> g = ownership_graph(obj.btf, obj.maps, sections=obj.globals())
>>> sorted((g.nodes[u]["label"], d["mechanism"], g.nodes[v]["label"])
...        for u, v, d in g.edges(data=True))[:2]
[('.data.B', 'list', 'batch'), ('.data.Q', 'list', 'job')]
>>> check_ownership(obj.btf, obj.maps, sections=obj.globals())
[]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bpfkit.ownership.fields import FieldRecord, all_records

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from bpfkit.btf.spec import Spec

__all__ = [
    "Finding",
    "MECHANISM",
    "ownership_graph",
    "graph_from_records",
    "check_ownership",
    "check_records",
    "findings_frame",
    "MAX_OWNERSHIP_DEPTH",
]

#: Field kind -> ownership mechanism on the edge.
MECHANISM: dict[str, str] = {
    "kptr": "kptr",
    "kptr_untrusted": "kptr_untrusted",
    "percpu_kptr": "percpu_kptr",
    "uptr": "uptr",
    "list_head": "list",
    "rb_root": "rbtree",
}
#: Longest chain of collection edges among program-allocated types the kernel accepts
#: (``btf_check_and_fixup_fields()``: root -> root+node -> node, i.e. two edges).
MAX_OWNERSHIP_DEPTH = 2


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem with who may own what, and what the kernel does about it.

    ``code`` names the rule (see :class:`~bpfkit.ownership.fields.FieldRecord`), ``container``
    the map, section or type, ``field`` the member (or ""), ``errno`` the kernel's error,
    ``stage`` when the kernel reports it (``"btf_load"``: BPF_BTF_LOAD fails, and with it
    every program of the object; ``"map_create"``: map creation fails; ``"dropped"``: the map
    is created without any special field and the program fails later, when it uses one).
    """

    code: str
    container: str
    field: str
    errno: str | None
    stage: str
    message: str


def _roles(rec: FieldRecord) -> set[str]:
    kinds = rec.kinds()
    roles = set()
    if kinds & {"list_head", "rb_root"}:
        roles.add("root")
    if kinds & {"list_node", "rb_node"}:
        roles.add("node")
    if "refcount" in kinds:
        roles.add("refcounted")
    if kinds & {"spin_lock", "res_spin_lock"}:
        roles.add("lock")
    return roles


def _key(rec: FieldRecord) -> tuple[str, str]:
    if rec.container_kind == "map_value":
        return ("map", rec.container)
    if rec.container_kind == "global":
        return ("global", rec.container)
    return ("type", rec.container)


def graph_from_records(records: Iterable[FieldRecord]) -> nx.MultiDiGraph:
    """Build the ownership graph from field records (see the module docstring)."""
    import networkx as nx

    records = list(records)
    g = nx.MultiDiGraph()
    refcounted = {
        r.container for r in records if r.container_kind == "alloc" and "refcount" in r.kinds()
    }
    for rec in records:
        key = _key(rec)
        g.add_node(
            key,
            kind=rec.container_kind,
            label=rec.container,
            type_id=rec.type_id,
            size=rec.size,
            roles=frozenset(_roles(rec)),
            errno=rec.errno,
            reason=rec.reason,
            code=rec.code,
        )
    for rec in records:
        src = _key(rec)
        for f in rec.fields:
            if f.kind == "refcount" and rec.container_kind == "alloc":
                # bpf_refcount_acquire: more owning references to the same object, so several
                # containers may own it at once; drawn as a self-loop on the type
                g.add_edge(
                    src,
                    src,
                    key=f.source,
                    field=f.source,
                    offset=f.offset,
                    mechanism="refcount",
                    node_field=None,
                    refcount=True,
                    resolved_in=None,
                )
                continue
            mech = MECHANISM.get(f.kind)
            if mech is None:
                continue
            target = (
                f.kptr_type
                if f.kind in ("kptr", "kptr_untrusted", "percpu_kptr", "uptr")
                else f.contains_type
            )
            if not target:
                continue
            dst = ("type", target)
            if dst not in g:
                origin = "kernel" if f.resolved_in in ("kernel", "both(kernel wins)") else "program"
                g.add_node(
                    dst,
                    kind=origin,
                    label=target,
                    type_id=f.kptr_type_id or f.contains_type_id,
                    size=None,
                    roles=frozenset(),
                    errno=None,
                    reason=None,
                    code=None,
                )
            g.add_edge(
                src,
                dst,
                key=f.source,
                field=f.source,
                offset=f.offset,
                mechanism=mech,
                node_field=f.contains_field,
                refcount=target in refcounted,
                resolved_in=f.resolved_in,
            )
    return g


def ownership_graph(
    spec: Spec,
    maps: Iterable[Any] | None = None,
    *,
    sections: Iterable[tuple[str, Iterable[Any]]] | None = None,
    kernel: Spec | None = None,
    alloc_types: Iterable[str] = (),
) -> nx.MultiDiGraph:
    """The type-level ownership graph of one program BTF.

    Parameters
    ----------
    spec : Spec
        The object's BTF.
    maps : iterable of MapDef, optional
        BTF-defined maps (default: ``bpfkit.obj.map_defs(spec)``).
    sections : list of (name, [GlobalVar]), optional
        ``Object.globals()``, for the real offsets of global variables.
    kernel : Spec, optional
        vmlinux BTF for the two-stage kptr lookup.
    alloc_types : iterable of str
        Types passed to ``bpf_obj_new`` (added as nodes even without special fields).
    """
    recs = all_records(spec, maps, sections=sections, kernel=kernel, alloc_types=alloc_types)
    return graph_from_records(recs)


def _stage(rec: FieldRecord) -> str:
    if rec.stage == "btf_load":
        return "btf_load"
    return "map_create" if rec.rejected else "dropped"


def check_records(records: Iterable[FieldRecord]) -> list[Finding]:
    """Findings from field records: every container the kernel rejects (or strips)."""
    out = []
    for rec in records:
        if rec.errno is None:
            continue
        field = ""
        reason = rec.reason or ""
        head = reason.split(":", 1)[0]
        if ":" in reason and " " not in head:
            field = head
        out.append(
            Finding(rec.code or "other", rec.container, field, rec.errno, _stage(rec), reason)
        )
    return out


def check_ownership(
    spec: Spec,
    maps: Iterable[Any] | None = None,
    *,
    sections: Iterable[tuple[str, Iterable[Any]]] | None = None,
    kernel: Spec | None = None,
    graph: nx.MultiDiGraph | None = None,
) -> list[Finding]:
    """What the kernel will refuse about who owns what in this BTF.

    The per-container rules come from :mod:`~bpfkit.ownership.fields` (a collection without a
    lock in the same container, a ``contains`` target type or field that does not exist or has
    the wrong node kind, nesting, field limits, kptrs to kernel types without a destructor,
    map types); on the graph, ownership cycles among program-allocated types and chains
    longer than the kernel allows (``ownership_cycle``, ``nesting_too_deep``), which the kernel
    reports as ``ELOOP`` when it loads the BTF.
    """
    import networkx as nx

    recs = all_records(spec, maps, sections=sections, kernel=kernel)
    findings = check_records(recs)
    g = graph if graph is not None else graph_from_records(recs)
    seen = {(f.code, f.container) for f in findings}
    alloc = g.subgraph([n for n, d in g.nodes(data=True) if d.get("kind") in ("alloc", "program")])
    coll = nx.DiGraph()
    coll.add_nodes_from(alloc.nodes)
    for u, v, d in alloc.edges(data=True):
        if d["mechanism"] in ("list", "rbtree"):
            coll.add_edge(u, v)
    for cycle in nx.simple_cycles(coll):
        name = g.nodes[cycle[0]]["label"]
        if ("ownership_cycle", name) not in seen:
            path = " -> ".join(g.nodes[n]["label"] for n in [*cycle, cycle[0]])
            findings.append(
                Finding("ownership_cycle", name, "", "ELOOP", "btf_load", f"ownership cycle {path}")
            )
            seen.add(("ownership_cycle", name))
    if nx.is_directed_acyclic_graph(coll) and coll.number_of_edges():
        longest = nx.dag_longest_path(coll)
        if len(longest) - 1 > MAX_OWNERSHIP_DEPTH:
            name = g.nodes[longest[1]]["label"]
            if not any(f.code in ("ownership_cycle", "nesting_too_deep") for f in findings):
                path = " -> ".join(g.nodes[n]["label"] for n in longest)
                findings.append(
                    Finding(
                        "nesting_too_deep",
                        name,
                        "",
                        "ELOOP",
                        "btf_load",
                        f"ownership chain {path} is {len(longest) - 1} collections deep; the kernel "
                        f"allows {MAX_OWNERSHIP_DEPTH} (root -> root+node -> node)",
                    )
                )
    return findings


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Findings as a DataFrame (columns of :class:`Finding`)."""
    import pandas as pd

    cols = ["code", "container", "field", "errno", "stage", "message"]
    return pd.DataFrame.from_records(
        [(f.code, f.container, f.field, f.errno, f.stage, f.message) for f in findings],
        columns=cols,
    )
