"""The BTF type graph in networkx, and the type/member tables in pandas.

:func:`type_graph` makes a :class:`networkx.MultiDiGraph` with one node per type id
(``0`` is void) and one edge per reference a type record makes. Attributes are plain
values (str, int, bool), so every graph can be written as GraphML or GEXF
(:func:`write_graph`).

Node attributes
---------------
``kind`` (str)
    ``"INT"``, ``"STRUCT"``, ... ; ``"VOID"`` for id 0.
``name`` (str)
    ``""`` when anonymous. Bytes of a name that are not UTF-8 are written ``\\xNN`` here
    and in the tables (GraphML, GEXF and Arrow strings need valid Unicode).
``size`` (int)
    INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC only.
``vlen`` (int)
    STRUCT/UNION (members), ENUM/ENUM64 (values), FUNC_PROTO (params), DATASEC (vars).
``kind_flag`` (bool)
    STRUCT/UNION (bitfield sizes in members), ENUM/ENUM64 (signed values), FWD (union),
    DECL_TAG/TYPE_TAG (a plain C attribute).
``encoding``, ``bits``, ``bit_offset``
    INT only: ``"SIGNED"``/``"CHAR"``/``"BOOL"``/``""``, ``nr_bits``, ``bits_offset``.
``nelems`` (int)
    ARRAY only.
``linkage`` (str)
    FUNC and VAR: ``"static"``, ``"global"``, ``"extern"``.
``component_idx`` (int)
    DECL_TAG only.

Edge attributes (``rel`` is on every edge)
------------------------------------------
``rel="member"``: STRUCT/UNION to the member's type; ``name``, ``index``, ``bit_offset``,
``bitfield_size``. ``rel="pointee"``: PTR to its target. ``rel="element"``: ARRAY to its
element type; ``index_type``, ``nelems``. ``rel="param"``: FUNC_PROTO to a parameter's
type; ``name``, ``position`` (a varargs ``...`` has no edge). ``rel="return"``: FUNC_PROTO
to its return type (``0`` for void). ``rel="target"``: TYPEDEF, CONST, VOLATILE, RESTRICT,
TYPE_TAG to the type they name, and FUNC to its FUNC_PROTO. ``rel="tag"``: DECL_TAG to the
type it is on; ``component_idx``. ``rel="var_type"``: VAR to its type.
``rel="datasec_entry"``: DATASEC to a VAR (or FUNC); ``offset``, ``size``.

With ``fold_modifiers=True`` the TYPEDEF/CONST/VOLATILE/RESTRICT/TYPE_TAG nodes are
gone: an edge that pointed at one points at the end of the chain instead, with ``via``
(the folded links, comma-separated: ``"typedef u64,const"``) and ``tags`` (the type tags
met: ``"kptr"``); both are ``""`` on edges that folded nothing.

With ``aggregates_only=True`` only STRUCT and UNION nodes remain, with an edge per member
that reaches one: ``rel="embeds"`` (directly, or through arrays, typedefs, qualifiers) or
``rel="points_to"`` (through at least one pointer; function pointers are not followed);
attributes ``name``, ``index``, ``bit_offset``.

Examples
--------
>>> from bpfkit.btf import load_vmlinux
>>> spec = load_vmlinux()
>>> G = type_graph(spec, roots=["bpf_list_head"], depth=1)
>>> root = spec.find_one("bpf_list_head").id
>>> [d["name"] for _, _, d in G.out_edges(root, data=True)]
['__opaque']
>>> A = type_graph(spec, roots=["bpf_map"], depth=1, aggregates_only=True)
>>> sorted({d["rel"] for _, _, d in A.edges(data=True)})
['embeds', 'points_to']
"""

from __future__ import annotations

import gc
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bpfkit.btf.types import (
    AnyType,
    Array,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    IntEncoding,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    Void,
    Volatile,
)
from bpfkit.errors import BpfkitError, BTFError

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from bpfkit.btf.spec import Spec

__all__ = ["type_graph", "types_frame", "members_frame", "write_graph", "node_attrs"]

Edge = tuple[int, int, dict[str, Any]]

_MODIFIERS = (Typedef, Const, Volatile, Restrict, TypeTag)
_LINKAGE = ("static", "global", "extern")
_MAX_CHAIN = 64


def _text(name: str) -> str:
    """*name* as valid Unicode: bytes that were not UTF-8 (kept by the parser as surrogate
    escapes) become ``\\xNN``, so GraphML/GEXF writers and Arrow-backed frames accept it."""
    if name.isascii():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _encoding(enc: int) -> str:
    if enc & IntEncoding.BOOL:
        return "BOOL"
    if enc & IntEncoding.CHAR:
        return "CHAR"
    return "SIGNED" if enc & IntEncoding.SIGNED else ""


_ENCODINGS = tuple(_encoding(i) for i in range(8))


def _linkage(value: int) -> str:
    return _LINKAGE[value] if 0 <= value < 3 else str(int(value))


# One function per record class: a dict lookup on type(t) instead of an isinstance chain
# (the graph of vmlinux calls these 126k times).
_NODE: dict[type, Callable[[Any], dict[str, Any]]] = {
    Void: lambda t: {"kind": "VOID", "name": "void"},
    Int: lambda t: {
        "kind": "INT",
        "name": t.name,
        "size": t.size,
        "encoding": _ENCODINGS[t.encoding & 7],
        "bits": t.bits,
        "bit_offset": t.offset,
    },
    Struct: lambda t: {
        "kind": "STRUCT",
        "name": t.name,
        "size": t.size,
        "vlen": len(t.members),
        "kind_flag": t.kind_flag,
    },
    Union: lambda t: {
        "kind": "UNION",
        "name": t.name,
        "size": t.size,
        "vlen": len(t.members),
        "kind_flag": t.kind_flag,
    },
    Enum: lambda t: {
        "kind": "ENUM",
        "name": t.name,
        "size": t.size,
        "vlen": len(t.values),
        "kind_flag": t.signed,
    },
    Enum64: lambda t: {
        "kind": "ENUM64",
        "name": t.name,
        "size": t.size,
        "vlen": len(t.values),
        "kind_flag": t.signed,
    },
    Array: lambda t: {"kind": "ARRAY", "name": t.name, "nelems": t.nelems},
    FuncProto: lambda t: {"kind": "FUNC_PROTO", "name": t.name, "vlen": len(t.params)},
    Func: lambda t: {"kind": "FUNC", "name": t.name, "linkage": _linkage(t.linkage)},
    Var: lambda t: {"kind": "VAR", "name": t.name, "linkage": _linkage(t.linkage)},
    Datasec: lambda t: {"kind": "DATASEC", "name": t.name, "size": t.size, "vlen": len(t.vars)},
    Float: lambda t: {"kind": "FLOAT", "name": t.name, "size": t.size},
    Fwd: lambda t: {"kind": "FWD", "name": t.name, "kind_flag": t.union},
    DeclTag: lambda t: {
        "kind": "DECL_TAG",
        "name": t.name,
        "component_idx": t.component_idx,
        "kind_flag": t.attr,
    },
    TypeTag: lambda t: {"kind": "TYPE_TAG", "name": t.name, "kind_flag": t.attr},
    Ptr: lambda t: {"kind": "PTR", "name": t.name},
    Typedef: lambda t: {"kind": "TYPEDEF", "name": t.name},
    Const: lambda t: {"kind": "CONST", "name": t.name},
    Volatile: lambda t: {"kind": "VOLATILE", "name": t.name},
    Restrict: lambda t: {"kind": "RESTRICT", "name": t.name},
}


def node_attrs(t: AnyType) -> dict[str, Any]:
    """The node attribute dict of type *t* (keys documented in the module docstring).

    Examples
    --------
    >>> from bpfkit.btf.types import Int, IntEncoding
    >>> node_attrs(Int(id=1, name="int", size=4, encoding=IntEncoding.SIGNED, offset=0, bits=32))
    {'kind': 'INT', 'name': 'int', 'size': 4, 'encoding': 'SIGNED', 'bits': 32, 'bit_offset': 0}
    """
    fn = _NODE.get(type(t))
    d = {"kind": t.kind.name, "name": t.name} if fn is None else fn(t)
    if not t.name.isascii():
        d["name"] = _text(t.name)
    return d


def _e_members(t: Struct | Union) -> list[Edge]:
    u = t.id
    return [
        (
            u,
            m.type,
            {
                "rel": "member",
                "name": m.name if m.name.isascii() else _text(m.name),
                "index": i,
                "bit_offset": m.bit_offset,
                "bitfield_size": m.bitfield_size,
            },
        )
        for i, m in enumerate(t.members)
    ]


def _e_proto(t: FuncProto) -> list[Edge]:
    u = t.id
    out: list[Edge] = [(u, t.type, {"rel": "return"})]
    params = t.params
    last = len(params) - 1
    for i, p in enumerate(params):
        if i == last and p.type == 0 and not p.name:
            break  # varargs
        name = p.name if p.name.isascii() else _text(p.name)
        out.append((u, p.type, {"rel": "param", "name": name, "position": i}))
    return out


def _e_target(t: Any) -> list[Edge]:
    return [(t.id, t.type, {"rel": "target"})]


_EDGE: dict[type, Callable[[Any], list[Edge]]] = {
    Struct: _e_members,
    Union: _e_members,
    Ptr: lambda t: [(t.id, t.type, {"rel": "pointee"})],
    Array: lambda t: [
        (t.id, t.type, {"rel": "element", "index_type": t.index_type, "nelems": t.nelems})
    ],
    Typedef: _e_target,
    Const: _e_target,
    Volatile: _e_target,
    Restrict: _e_target,
    TypeTag: _e_target,
    Func: _e_target,
    FuncProto: _e_proto,
    Var: lambda t: [(t.id, t.type, {"rel": "var_type"})],
    DeclTag: lambda t: [(t.id, t.type, {"rel": "tag", "component_idx": t.component_idx})],
    Datasec: lambda t: [
        (t.id, v.type, {"rel": "datasec_entry", "offset": v.offset, "size": v.size}) for v in t.vars
    ],
}


def _edges(t: AnyType) -> list[Edge]:
    """The edges type *t* makes (the raw graph)."""
    fn = _EDGE.get(type(t))
    return fn(t) if fn is not None else []


class _Folder:
    """Follows modifier chains to their end, memoized."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.memo: dict[int, tuple[int, str, str]] = {}

    def fold(self, tid: int) -> tuple[int, str, str]:
        got = self.memo.get(tid)
        if got is not None:
            return got
        via: list[str] = []
        tags: list[str] = []
        t = self.spec[tid]
        for _ in range(_MAX_CHAIN):
            if not isinstance(t, _MODIFIERS):
                break
            if isinstance(t, Typedef):
                via.append(f"typedef {t.name}")
            elif isinstance(t, TypeTag):
                via.append(f"type_tag {t.name}")
                tags.append(t.name)
            else:
                via.append(t.kind.name.lower())
            t = self.spec[t.type]
        else:
            raise BTFError(
                f"{self.spec.name}: folding modifiers of type [{tid}]: chain longer than "
                f"{_MAX_CHAIN} (a reference cycle?)"
            )
        got = (t.id, ",".join(via), ",".join(tags))
        self.memo[tid] = got
        return got


def _aggregate_edges(
    spec: Spec, t: AnyType, memo: dict[int, tuple[int, bool] | None]
) -> list[Edge]:
    if not isinstance(t, (Struct, Union)):
        return []
    out: list[Edge] = []
    for i, m in enumerate(t.members):
        if m.type in memo:
            hit = memo[m.type]
        else:
            hit = memo[m.type] = _reach_aggregate(spec, m.type)
        if hit is not None:
            v, through_ptr = hit
            rel = "points_to" if through_ptr else "embeds"
            out.append(
                (
                    t.id,
                    v,
                    {"rel": rel, "name": _text(m.name), "index": i, "bit_offset": m.bit_offset},
                )
            )
    return out


def _reach_aggregate(spec: Spec, tid: int) -> tuple[int, bool] | None:
    through_ptr = False
    t = spec[tid]
    for _ in range(_MAX_CHAIN):
        if isinstance(t, (Struct, Union)):
            return t.id, through_ptr
        if isinstance(t, Ptr):
            through_ptr = True
        elif not isinstance(t, (Array, *_MODIFIERS)):
            return None
        t = spec[t.type]  # type: ignore[union-attr]
    return None


def _root_ids(spec: Spec, roots: Sequence[str | int]) -> list[int]:
    ids: list[int] = []
    for r in roots:
        if isinstance(r, int):
            if not 0 <= r < len(spec):
                raise BTFError(f"{spec.name}: root type id {r} out of range (0..{len(spec) - 1})")
            ids.append(r)
            continue
        found = spec.find(r)
        if not found:
            raise BTFError(f"{spec.name}: no type named {r!r} (graph root)")
        ids.extend(t.id for t in found)
    return ids


def type_graph(
    spec: Spec,
    *,
    roots: Sequence[str | int] | None = None,
    depth: int | None = None,
    fold_modifiers: bool = False,
    aggregates_only: bool = False,
) -> nx.MultiDiGraph:
    """The type graph of *spec* (base types included for a split spec).

    Parameters
    ----------
    spec : Spec
        Parsed BTF.
    roots : sequence of str or int, optional
        Keep only what is reachable from these types (names: every type of that name;
        ints: type ids), following edges forward.
    depth : int, optional
        With *roots*: at most this many edges away from a root (0 keeps just the roots).
    fold_modifiers : bool
        Fold TYPEDEF/CONST/VOLATILE/RESTRICT/TYPE_TAG chains into the edges (``via``,
        ``tags`` edge attributes); their nodes are left out.
    aggregates_only : bool
        Only STRUCT/UNION nodes, with ``embeds``/``points_to`` edges.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes are type ids; attributes are documented in the module docstring.

    Raises
    ------
    BTFError
        An unknown root, or a reference chain that does not end.
    """
    import networkx as nx

    if aggregates_only:
        amemo: dict[int, tuple[int, bool] | None] = {}

        def edges_of(t: AnyType) -> list[Edge]:
            return _aggregate_edges(spec, t, amemo)

        def keep(t: AnyType) -> bool:
            return isinstance(t, (Struct, Union))

    elif fold_modifiers:
        folder = _Folder(spec)

        def edges_of(t: AnyType) -> list[Edge]:
            out = []
            for u, v, d in _edges(t):
                v, d["via"], d["tags"] = folder.fold(v)
                out.append((u, v, d))
            return out

        def keep(t: AnyType) -> bool:
            return not isinstance(t, _MODIFIERS)

    else:
        edges_of = _edges

        def keep(t: AnyType) -> bool:
            return True

    def start_of(tid: int) -> int | None:
        if fold_modifiers and not aggregates_only:
            return folder.fold(tid)[0]
        return tid if keep(spec[tid]) else None

    G = nx.MultiDiGraph()
    with _gc_paused():
        _fill(G, spec, roots, depth, start_of, edges_of, keep)
    return G


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: building ~400k small dicts otherwise triggers repeated full
    collections over the whole heap, which more than doubles the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _fill(
    G: nx.MultiDiGraph,
    spec: Spec,
    roots: Sequence[str | int] | None,
    depth: int | None,
    start_of: Callable[[int], int | None],
    edges_of: Callable[[AnyType], list[Edge]],
    keep: Callable[[AnyType], bool],
) -> None:
    nodes: list[tuple[int, dict[str, Any]]] = []
    edges: list[Edge] = []
    if roots is None and edges_of is _edges:  # the whole raw graph: the hot path
        node_fns, edge_fns = _NODE, _EDGE
        for t in _all_types(spec):
            cls = type(t)
            fn = node_fns.get(cls)
            if fn is None or not t.name.isascii():
                nodes.append((t.id, node_attrs(t)))
            else:
                nodes.append((t.id, fn(t)))
            efn = edge_fns.get(cls)
            if efn is not None:
                edges.extend(efn(t))
    elif roots is None:
        for t in _all_types(spec):
            if keep(t):
                nodes.append((t.id, node_attrs(t)))
                edges.extend(edges_of(t))
    else:
        seen: dict[int, int] = {}
        queue: deque[int] = deque()
        for root in _root_ids(spec, roots):
            r = start_of(root)
            if r is not None and r not in seen:
                seen[r] = 0
                queue.append(r)
        pending: list[Edge] = []
        while queue:
            u = queue.popleft()
            t = spec[u]
            nodes.append((u, node_attrs(t)))
            du = seen[u]
            for e in edges_of(t):
                v = e[1]
                if v not in seen:
                    if depth is not None and du >= depth:
                        continue
                    seen[v] = du + 1
                    queue.append(v)
                pending.append(e)
        edges = [e for e in pending if e[1] in seen]
    _build(G, nodes, edges)


def _build(G: nx.MultiDiGraph, nodes: list[tuple[int, dict[str, Any]]], edges: list[Edge]) -> None:
    """Fill the empty *G* in bulk.

    ``add_edges_from`` of a MultiDiGraph costs several dict lookups through views per
    edge (about 3 s for vmlinux's 260k edges here); filling the adjacency dicts the way
    ``MultiDiGraph.add_edge`` does, in one loop, takes a tenth of that. Edge keys are
    0, 1, ... per (u, v) pair, as networkx would number them. Falls back to the public
    API if the graph class does not keep its adjacency in the usual dicts.
    """
    node = getattr(G, "_node", None)
    succ = getattr(G, "_succ", None)
    pred = getattr(G, "_pred", None)
    if len(G) or not (isinstance(node, dict) and isinstance(succ, dict) and isinstance(pred, dict)):
        G.add_nodes_from(nodes)
        G.add_edges_from(edges)
        return
    node_d: dict[int, dict[str, Any]] = node
    succ_d: dict[int, dict[int, dict[int, dict[str, Any]]]] = succ
    pred_d: dict[int, dict[int, dict[int, dict[str, Any]]]] = pred
    for n, d in nodes:
        node_d[n] = d
        succ_d[n] = {}
        pred_d[n] = {}
    last_u = None
    out: dict[int, dict[int, dict[str, Any]]] = {}
    for u, v, d in edges:  # grouped by u: the source's adjacency is looked up once
        if u != last_u:
            got = succ_d.get(u)
            if got is None:
                node_d[u], got, pred_d[u] = {}, {}, {}
                succ_d[u] = got
            out, last_u = got, u
        into = pred_d.get(v)
        if into is None:
            node_d[v], succ_d[v], into = {}, {}, {}
            pred_d[v] = into
        keydict = out.get(v)
        if keydict is None:
            out[v] = into[u] = {0: d}
        else:
            keydict[len(keydict)] = d


def _all_types(spec: Spec) -> Iterator[AnyType]:
    yield spec[0]
    yield from spec.all_types()


def types_frame(spec: Spec) -> pd.DataFrame:
    """One row per type (void included): ``id, kind, name, size, vlen, type, c_name``.

    ``size`` is the size in bytes where the type has one (pointers 8, arrays their whole
    size, typedefs that of their target) and ``<NA>`` otherwise; ``type`` is the id the
    record refers to (``<NA>`` for kinds without one); ``c_name`` is the C spelling.

    Examples
    --------
    >>> from bpfkit.btf import load_vmlinux
    >>> df = types_frame(load_vmlinux())
    >>> df.loc[df.name == "task_struct", ["kind", "c_name"]].iloc[0].tolist()
    ['STRUCT', 'struct task_struct']
    """
    import pandas as pd

    ids: list[int] = []
    kinds: list[str] = []
    names: list[str] = []
    sizes: list[int | None] = []
    vlens: list[int | None] = []
    refs: list[int | None] = []
    cnames: list[str] = []
    for t in _all_types(spec):
        ids.append(t.id)
        kinds.append("VOID" if t.id == 0 else t.kind.name)
        names.append(_text(t.name))
        try:
            sizes.append(spec.sizeof(t.id) if t.id else None)
        except BTFError:
            sizes.append(None)
        vl = getattr(t, "members", None) or getattr(t, "values", None)
        if vl is None:
            vl = getattr(t, "params", None) or getattr(t, "vars", None)
        vlens.append(len(vl) if vl is not None else None)
        refs.append(getattr(t, "type", None))
        try:
            cnames.append(_text(_c_name(spec, t)))
        except BTFError:
            cnames.append("")
    return pd.DataFrame(
        {
            "id": pd.array(ids, dtype="int64"),
            "kind": pd.Categorical(kinds),
            "name": names,
            "size": pd.array(sizes, dtype="Int64"),
            "vlen": pd.array(vlens, dtype="Int64"),
            "type": pd.array(refs, dtype="Int64"),
            "c_name": cnames,
        }
    )


def _c_name(spec: Spec, t: AnyType) -> str:
    if isinstance(t, (Func, Var, Datasec, DeclTag)):
        return t.name
    return spec.type_name(t.id)


def members_frame(spec: Spec) -> pd.DataFrame:
    """One row per struct/union member of *spec* (base included).

    Columns: ``struct_id, struct_name, struct_kind, index, name, type_id, type_name,
    bit_offset, bitfield_size, byte_offset, size``. ``byte_offset`` is
    ``bit_offset // 8``; ``size`` is the member type's size in bytes (of its storage unit
    for a bitfield; ``<NA>`` if it has none, e.g. a flexible array of an incomplete type).

    Examples
    --------
    >>> from bpfkit.btf import load_vmlinux
    >>> df = members_frame(load_vmlinux())
    >>> df[df.struct_name == "bpf_list_node"][["name", "type_name", "byte_offset", "size"]].values.tolist()
    [['__opaque', '__u64 [3]', 0, 24]]
    """
    import pandas as pd

    from bpfkit.btf.cformat import member_bitfield

    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "struct_id",
            "struct_name",
            "struct_kind",
            "index",
            "name",
            "type_id",
            "type_name",
            "bit_offset",
            "bitfield_size",
            "byte_offset",
            "size",
        )
    }
    tname: dict[int, str] = {}
    tsize: dict[int, int | None] = {}
    for t in spec.all_types():
        if not isinstance(t, (Struct, Union)):
            continue
        kind = t.kind.name
        for i, m in enumerate(t.members):
            tid = m.type
            if tid not in tname:
                try:
                    tname[tid] = _text(spec.type_name(tid))
                except BTFError:
                    tname[tid] = ""
                try:
                    tsize[tid] = spec.sizeof(tid)
                except BTFError:
                    tsize[tid] = None
            off, bits = member_bitfield(spec, m)
            cols["struct_id"].append(t.id)
            cols["struct_name"].append(_text(t.name))
            cols["struct_kind"].append(kind)
            cols["index"].append(i)
            cols["name"].append(_text(m.name))
            cols["type_id"].append(tid)
            cols["type_name"].append(tname[tid])
            cols["bit_offset"].append(off)
            cols["bitfield_size"].append(bits)
            cols["byte_offset"].append(off // 8)
            cols["size"].append(tsize[tid])
    df = pd.DataFrame(cols)
    df["size"] = pd.array(cols["size"], dtype="Int64")
    df["struct_kind"] = pd.Categorical(df["struct_kind"])
    for c in ("struct_id", "index", "type_id", "bit_offset", "bitfield_size", "byte_offset"):
        df[c] = df[c].astype("int64")
    return df


def write_graph(G: nx.Graph, path: str | os.PathLike[str]) -> None:
    """Write *G* as GraphML (``.graphml``) or GEXF (``.gexf``), chosen by suffix.

    Raises
    ------
    BpfkitError
        Another suffix, or an attribute value GraphML/GEXF cannot hold (None, tuple...).
    """
    import networkx as nx

    p = os.fspath(path)
    suffix = os.path.splitext(p)[1].lower()
    _check_attrs(G.nodes(data=True), "node")
    _check_attrs(((u, v, d) for u, v, d in G.edges(data=True)), "edge")
    if suffix == ".graphml":
        nx.write_graphml(G, p)
    elif suffix == ".gexf":
        nx.write_gexf(G, p)
    else:
        raise BpfkitError(f"{p}: unknown graph format {suffix!r} (use .graphml or .gexf)")


def _check_attrs(items: Iterable[Any], what: str) -> None:
    for item in items:
        if not item:
            continue
        d = item[-1]
        if not isinstance(d, dict):
            continue
        for k, v in d.items():
            if not isinstance(v, (str, int, float, bool)):
                raise BpfkitError(
                    f"{what} {item[:-1]!r} attribute {k!r} is a {type(v).__name__}; "
                    "GraphML/GEXF hold only str, int, float, bool"
                )
