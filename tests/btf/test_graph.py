"""The type graph and the type/member tables.

Oracles: bpftool's raw dump of kinds-el.o (the golden records every edge must match) and,
for the kernel, the records themselves counted independently (one member edge per member,
one param edge per non-varargs parameter, ...); networkx's own shortest paths for the
roots/depth semantics; networkx's readers for GraphML/GEXF round trips.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

import networkx as nx
import pytest

from bpfkit.btf import load_btf, parse_btf
from bpfkit.btf.graph import members_frame, type_graph, types_frame, write_graph
from bpfkit.btf.spec import Spec
from bpfkit.btf.types import (
    Array,
    Const,
    Datasec,
    DeclTag,
    Func,
    FuncProto,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    Volatile,
)
from bpfkit.cli import main
from bpfkit.errors import BpfkitError, BTFError
from tests.corpus import DATA_OBJECTS, KINDS_EL, KINDS_EL_RAW, TAGS_EL, TESTMOD_BASE, TESTMOD_SPLIT

VMLINUX = Path("/sys/kernel/btf/vmlinux")
MODIFIERS = (Typedef, Const, Volatile, Restrict, TypeTag)


@pytest.fixture(scope="module")
def kernel() -> Spec:
    if not VMLINUX.exists():
        pytest.skip("needs /sys/kernel/btf/vmlinux")
    return load_btf(VMLINUX)


@pytest.fixture(scope="module")
def full(kernel: Spec) -> nx.MultiDiGraph:
    return type_graph(kernel)


def _raw_golden() -> dict[int, tuple[str, list[tuple[str, int, int]]]]:
    """bpftool's raw dump: id -> (kind, [(member name, type_id, bits_offset)])."""
    out: dict[int, tuple[str, list[tuple[str, int, int]]]] = {}
    cur: list[tuple[str, int, int]] = []
    for line in KINDS_EL_RAW.read_text().splitlines():
        m = re.match(r"^\[(\d+)\] (\w+) ", line)
        if m:
            cur = []
            out[int(m.group(1))] = (m.group(2), cur)
            continue
        mm = re.match(r"^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)", line)
        if mm:
            cur.append((mm.group(1), int(mm.group(2)), int(mm.group(3))))
    return out


def test_kinds_graph_matches_bpftool_records() -> None:
    spec = load_btf(KINDS_EL)
    G = type_graph(spec)
    golden = _raw_golden()
    assert G.number_of_nodes() == len(golden) + 1 == len(spec)
    assert G.nodes[0]["kind"] == "VOID"
    for tid, (kind, members) in golden.items():
        assert G.nodes[tid]["kind"] == kind
        if kind in ("STRUCT", "UNION"):
            got = sorted(
                (d["name"], v, d["bit_offset"])
                for _, v, d in G.out_edges(tid, data=True)
                if d["rel"] == "member"
            )
            assert got == sorted(members), tid
    # one PTR -> pointee edge each, FUNC -> proto, VAR -> type, DECL_TAG -> target
    assert G.has_edge(4, 5) and next(iter(G[4][5].values()))["rel"] == "pointee"
    assert next(iter(G[37][36].values()))["rel"] == "target"
    assert next(iter(G[44][5].values()))["rel"] == "var_type"
    assert next(iter(G[38][37].values())) == {"rel": "tag", "component_idx": 0}
    assert next(iter(G[29][28].values())) == {"rel": "element", "index_type": 30, "nelems": 3}
    # varargs FUNC_PROTO of varfn_t: one param edge (int), the "..." has none
    varfn = spec.find_one("varfn_t")
    proto = spec[spec[varfn.type].type]  # type: ignore[union-attr]
    assert isinstance(proto, FuncProto) and proto.params[-1].type == 0
    rels = sorted(d["rel"] for _, _, d in G.out_edges(proto.id, data=True))
    assert rels == ["param", "return"]


def _expected_edge_counts(spec: Spec) -> collections.Counter[str]:
    want: collections.Counter[str] = collections.Counter()
    for t in spec.all_types():
        if isinstance(t, (Struct, Union)):
            want["member"] += len(t.members)
        elif isinstance(t, Ptr):
            want["pointee"] += 1
        elif isinstance(t, Array):
            want["element"] += 1
        elif isinstance(t, (*MODIFIERS, Func)):
            want["target"] += 1
        elif isinstance(t, FuncProto):
            want["return"] += 1
            n = len(t.params)
            if n and t.params[-1].type == 0 and not t.params[-1].name:
                n -= 1
            want["param"] += n
        elif isinstance(t, Var):
            want["var_type"] += 1
        elif isinstance(t, DeclTag):
            want["tag"] += 1
        elif isinstance(t, Datasec):
            want["datasec_entry"] += len(t.vars)
    return want


def test_kernel_graph_has_a_node_per_type_and_an_edge_per_reference(
    kernel: Spec, full: nx.MultiDiGraph
) -> None:
    G = full
    assert G.number_of_nodes() == len(kernel)
    got = collections.Counter(d["rel"] for _, _, d in G.edges(data=True))
    assert got == _expected_edge_counts(kernel)
    ts = kernel.find_one("task_struct")
    assert G.nodes[ts.id] == {
        "kind": "STRUCT",
        "name": "task_struct",
        "size": ts.size,
        "vlen": len(ts.members),  # type: ignore[union-attr]
        "kind_flag": ts.kind_flag,  # type: ignore[union-attr]
    }


def test_split_graph_includes_base(tmp_path: Path) -> None:
    base = load_btf(TESTMOD_BASE)
    split = load_btf(TESTMOD_SPLIT, base=base)
    G = type_graph(split)
    assert G.number_of_nodes() == len(split)
    assert collections.Counter(d["rel"] for _, _, d in G.edges(data=True)) == (
        _expected_edge_counts(split)
    )


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_roots_and_depth_keep_what_networkx_finds_within_depth(
    kernel: Spec, full: nx.MultiDiGraph, depth: int
) -> None:
    root = kernel.find_one("bpf_map").id
    sub = type_graph(kernel, roots=["bpf_map"], depth=depth)
    want = set(nx.single_source_shortest_path_length(full, root, cutoff=depth))
    assert set(sub) == want
    assert sub.number_of_edges() == full.subgraph(want).number_of_edges()


def test_roots_without_depth_is_the_reachable_set(kernel: Spec, full: nx.MultiDiGraph) -> None:
    root = kernel.find_one("bpf_list_head").id
    sub = type_graph(kernel, roots=[root])
    assert set(sub) == nx.descendants(full, root) | {root}


def test_unknown_root() -> None:
    with pytest.raises(BTFError, match="no type named 'nope'"):
        type_graph(load_btf(KINDS_EL), roots=["nope"])


def test_fold_modifiers(kernel: Spec, full: nx.MultiDiGraph) -> None:
    raw = full
    G = type_graph(kernel, fold_modifiers=True)
    kept = [n for n, d in raw.nodes(data=True) if d["kind"] not in MODIFIER_NAMES]
    assert set(G) == set(kept)
    assert G.number_of_edges() == sum(
        1 for u, _, _ in raw.edges(data=True) if raw.nodes[u]["kind"] not in MODIFIER_NAMES
    )
    for _, v in G.edges():
        assert G.nodes[v]["kind"] not in MODIFIER_NAMES
    # kinds.c: `int __ttag("user") *uptr`: PTR [8] -> TYPE_TAG 'user' [7] -> INT [1]
    kinds = load_btf(KINDS_EL)
    F = type_graph(kinds, fold_modifiers=True)
    (edge,) = F[8][1].values()
    assert edge == {"rel": "pointee", "via": "type_tag user", "tags": "user"}
    assert edge["tags"] == ",".join(kinds.type_tags(7))
    assert 7 not in F
    # a member typed u64: typedef chain folded to the INT
    m0 = kernel.find_one("bpf_list_head").members[0]  # type: ignore[union-attr]
    arr = kernel[m0.type]
    assert isinstance(arr, Array)
    (e,) = G[arr.id][kernel.resolve(arr.type).id].values()
    assert e["via"].startswith("typedef __u64")


MODIFIER_NAMES = {"TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"}


def test_fold_with_roots_starts_at_the_folded_root(kernel: Spec) -> None:
    G = type_graph(kernel, roots=["u64"], depth=0, fold_modifiers=True)
    assert [G.nodes[n]["name"] for n in G] == ["long long unsigned int"]


def test_aggregates_only(kernel: Spec) -> None:
    A = type_graph(kernel, aggregates_only=True)
    assert {d["kind"] for _, d in A.nodes(data=True)} == {"STRUCT", "UNION"}
    ts = kernel.find_one("task_struct").id
    thread = kernel.find_one("thread_struct").id
    rels = {(v, d["name"]): d["rel"] for _, v, d in A.out_edges(ts, data=True)}
    assert rels[(thread, "thread")] == "embeds"
    assert rels[(ts, "real_parent")] == "points_to"  # through TYPE_TAG rcu and a pointer
    # the function pointers of bpf_map_ops are not followed: no edges at all
    ops = kernel.find_one("bpf_map_ops").id
    members = kernel[ops].members  # type: ignore[union-attr]
    assert A.out_degree(ops) == sum(1 for m in members if _reaches_aggregate(kernel, m.type))


def _reaches_aggregate(spec: Spec, tid: int) -> bool:
    t = spec[tid]
    for _ in range(64):
        if isinstance(t, (Struct, Union)):
            return True
        if not isinstance(t, (Ptr, Array, *MODIFIERS)):
            return False
        t = spec[t.type]
    return False


@pytest.mark.parametrize("suffix", [".graphml", ".gexf"])
@pytest.mark.parametrize("mode", ["raw", "fold", "aggregates"])
def test_write_graph_reads_back(kernel: Spec, tmp_path: Path, suffix: str, mode: str) -> None:
    G = type_graph(
        kernel,
        roots=["bpf_map"],
        depth=2,
        fold_modifiers=mode == "fold",
        aggregates_only=mode == "aggregates",
    )
    path = tmp_path / f"g{suffix}"
    write_graph(G, path)
    H = nx.read_graphml(path) if suffix == ".graphml" else nx.read_gexf(path)
    assert H.number_of_nodes() == G.number_of_nodes()
    assert H.number_of_edges() == G.number_of_edges()
    root = str(kernel.find_one("bpf_map").id)
    assert H.nodes[root]["name"] == "bpf_map"
    rels = collections.Counter(d["rel"] for _, _, d in H.edges(data=True))
    assert rels == collections.Counter(d["rel"] for _, _, d in G.edges(data=True))


def test_write_graph_rejects_bad_suffix_and_values(tmp_path: Path) -> None:
    G = type_graph(load_btf(KINDS_EL))
    with pytest.raises(BpfkitError, match="unknown graph format '.dot'"):
        write_graph(G, tmp_path / "g.dot")
    G.nodes[1]["bad"] = (1, 2)
    with pytest.raises(BpfkitError, match="attribute 'bad' is a tuple"):
        write_graph(G, tmp_path / "g.graphml")


def test_types_frame_matches_bpftool_kinds() -> None:
    spec = load_btf(KINDS_EL)
    df = types_frame(spec)
    golden = _raw_golden()
    assert len(df) == len(spec)
    assert dict(collections.Counter(k for k, _ in golden.values())) == (
        df[df.id > 0].kind.value_counts().loc[lambda s: s > 0].to_dict()
    )
    row = df.set_index("id").loc[5]
    assert (row["name"], row["size"], row["vlen"], row["c_name"]) == (
        "node",
        112,
        13,
        "struct node",
    )


def test_members_frame_matches_bpftool_members() -> None:
    spec = load_btf(KINDS_EL)
    df = members_frame(spec)
    golden = _raw_golden()
    want = sorted(
        (tid, name, type_id, bits)
        for tid, (kind, members) in golden.items()
        for name, type_id, bits in members
        if kind in ("STRUCT", "UNION")
    )
    got = sorted(zip(df.struct_id, df.name, df.type_id, df.bit_offset, strict=True))
    assert got == want
    d = df[(df.struct_name == "bits") & (df.name == "d")].iloc[0]
    assert (d.bitfield_size, d.byte_offset, d["size"], d.type_name) == (40, 1, 8, "u64")


def test_members_frame_kernel_rows(kernel: Spec) -> None:
    df = members_frame(kernel)
    assert len(df) == sum(
        len(t.members) for t in kernel.all_types() if isinstance(t, (Struct, Union))
    )
    ts = df[df.struct_name == "task_struct"]
    assert ts["index"].tolist() == list(range(len(ts)))


def test_tags_object_decl_tag_edges() -> None:
    spec = load_btf(TAGS_EL)
    G = type_graph(spec)
    tags = [t for t in spec if isinstance(t, DeclTag)]
    assert tags
    for t in tags:
        (d,) = G[t.id][t.type].values()
        assert d == {"rel": "tag", "component_idx": t.component_idx}


def test_cli_graph_and_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.graphml"
    assert (
        main(["btf", "graph", str(KINDS_EL), "--root", "node", "--depth", "1", "-o", str(out)]) == 0
    )
    H = nx.read_graphml(out)
    assert H.nodes["5"]["name"] == "node" and H.number_of_nodes() == 14
    out2 = tmp_path / "a.gexf"
    assert main(["btf", "graph", str(KINDS_EL), "--aggregates", "--fold", "-o", str(out2)]) == 0
    A = nx.read_gexf(out2)
    assert {d["kind"] for _, d in A.nodes(data=True)} == {"STRUCT", "UNION"}
    capsys.readouterr()
    assert main(["btf", "layout", str(KINDS_EL), "--type", "bits"]) == 0
    text = capsys.readouterr().out
    assert "u64                        d:40;" in text and "/* size: 8, cachelines: 1" in text
    assert main(["btf", "layout", str(KINDS_EL), "--type", "nope"]) == 1


def test_non_utf8_names_are_escaped_in_graphs_and_frames(tmp_path: Path) -> None:
    data = (Path(__file__).parent / "data" / "valid_name_not_utf8.btf").read_bytes()
    spec = parse_btf(data)
    raw = [t.name for t in spec if not t.name.isascii()]
    assert raw  # the parser keeps the bytes as surrogate escapes
    want = raw[0].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    assert "\\x" in want
    G = type_graph(spec)
    assert want in {d["name"] for _, d in G.nodes(data=True)}
    write_graph(G, tmp_path / "g.graphml")
    assert want in {d["name"] for _, d in nx.read_graphml(tmp_path / "g.graphml").nodes(data=True)}
    assert want in set(types_frame(spec).name)
    members_frame(spec)


@pytest.mark.parametrize(
    "name", ["const_self_cycle.btf", "typedef_cycle.btf", "array_of_itself.btf"]
)
def test_cyclic_btf_gives_a_graph_or_btf_error(name: str) -> None:
    """Reference cycles (invalid BTF the parser accepts lazily) never hang or crash."""
    spec = parse_btf((Path(__file__).parent / "data" / name).read_bytes())
    for fold in (False, True):
        try:
            G = type_graph(spec, fold_modifiers=fold)
        except BTFError as exc:
            assert "cycle" in str(exc)
        else:
            assert G.number_of_nodes() <= len(spec)


def test_kptr_fields_of_a_real_object() -> None:
    """data/programs/kptr_stash.bpf.c: `struct stash { struct session __kptr *sess;
    struct pcpu_hits __percpu_kptr *hits; struct task_struct __kptr *task;
    struct bpf_cpumask __kptr *mask; }` (clang-19 output)."""
    path = next((p for p in DATA_OBJECTS if p.name == "kptr_stash.bpf.o"), None)
    if path is None:
        pytest.skip("data/programs/kptr_stash.bpf.o not built")
    spec = load_btf(path)
    stash = spec.find_one("stash")
    F = type_graph(spec, roots=["stash"], depth=2, fold_modifiers=True)
    A = type_graph(spec, roots=["stash"], depth=1, aggregates_only=True)
    want = {
        "sess": ("session", "kptr"),
        "hits": ("pcpu_hits", "percpu_kptr"),
        "task": ("task_struct", "kptr"),
        "mask": ("bpf_cpumask", "kptr"),
    }
    for m in stash.members:  # type: ignore[union-attr]
        ptr = spec[m.type]
        assert isinstance(ptr, Ptr)
        (edge,) = F[ptr.id][spec.resolve(ptr.type).id].values()
        assert (spec[spec.resolve(ptr.type).id].name, edge["tags"]) == want[m.name]
        assert edge["tags"] == ",".join(spec.type_tags(ptr.type))
    got = {
        d["name"]: (A.nodes[v]["name"], d["rel"]) for _, v, d in A.out_edges(stash.id, data=True)
    }
    assert got == {k: (v[0], "points_to") for k, v in want.items()}
