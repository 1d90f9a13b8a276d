"""The ownership graph and its checks, against the kernel's verdicts.

Each case of :mod:`tests.ownership.test_fields` is judged by the live kernel (BPF_BTF_LOAD,
then BPF_MAP_CREATE of the value type); :func:`check_records` must report a finding at the
same stage with the same errno, and nothing when the kernel accepts. The sample programs in
data/ loaded on this kernel (their BTF was accepted), so they must give no finding.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bpfkit.btf import load_btf, load_vmlinux
from bpfkit.obj import load_object
from bpfkit.ownership.fields import check_map_type, parse_fields, struct_metas
from bpfkit.ownership.typegraph import (
    check_ownership,
    check_records,
    findings_frame,
    graph_from_records,
    ownership_graph,
)
from tests.corpus import DATA_LOGS_MANIFEST, DATA_OBJECTS
from tests.ownership import kernel_oracle as ko
from tests.ownership.test_fields import CASES, _kernel_verdict


def _records(obj: Path, value: str, map_type: str) -> list:  # type: ignore[type-arg]
    spec = load_btf(obj)
    kernel = load_vmlinux()
    metas = struct_metas(spec, kernel=kernel)
    val = check_map_type(parse_fields(spec, spec.find_one(value).id, kernel=kernel), map_type)
    return [*metas, val]


@pytest.mark.skipif(not ko.have_toolchain(), reason="needs clang-19 and bpftool")
@pytest.mark.parametrize("case", sorted(CASES))
def test_findings_match_kernel(case: str, tmp_path: Path) -> None:
    if not ko.have_bpf():
        pytest.skip("needs root and libbpf for bpf(BPF_BTF_LOAD/BPF_MAP_CREATE)")
    body, value, map_type = CASES[case]
    obj = ko.compile_bpf(body, tmp_path / f"{case}.o", types=(value,))
    stage, errno, _probe = _kernel_verdict(obj, value, map_type)
    findings = check_records(_records(obj, value, map_type))
    fatal = [f for f in findings if f.stage in ("btf_load", "map_create")]
    if errno is None:
        assert fatal == [], fatal
    else:
        assert [(f.stage, f.errno) for f in fatal][:1] == [(stage, errno)], findings


@pytest.mark.skipif(not ko.have_toolchain(), reason="needs clang-19 and bpftool")
@pytest.mark.parametrize("case", ["self_cycle", "chain_too_deep"])
def test_cycles_found_on_the_graph(case: str, tmp_path: Path) -> None:
    body, value, _ = CASES[case]
    obj = ko.compile_bpf(body, tmp_path / f"{case}.o", types=(value,))
    spec = load_btf(obj)
    recs = struct_metas(spec)
    g = graph_from_records(recs)
    codes = {f.code for f in check_ownership(spec, maps=[], graph=g)}
    assert "ownership_cycle" in codes or "nesting_too_deep" in codes


@pytest.mark.skipif(not ko.have_toolchain(), reason="needs clang-19 and bpftool")
def test_accepted_chain_graph(tmp_path: Path) -> None:
    body, value, _ = CASES["chain_root_rootnode_node_ok"]
    obj = ko.compile_bpf(body, tmp_path / "chain.o", types=(value,))
    spec = load_btf(obj)
    g = ownership_graph(spec, maps=[])
    edges = {
        (g.nodes[u]["label"], g.nodes[v]["label"], d["mechanism"]) for u, v, d in g.edges(data=True)
    }
    assert edges == {("val", "mid", "list"), ("mid", "node_t", "list")}
    assert g.nodes[("type", "mid")]["roles"] == {"root", "node", "lock"}
    assert check_ownership(spec, maps=[]) == []


def _loaded_objects() -> set[str]:
    with open(DATA_LOGS_MANIFEST) as f:
        return {r["object"] for r in csv.DictReader(f, delimiter="\t") if r["verdict"] == "accept"}


@pytest.mark.parametrize("path", DATA_OBJECTS, ids=lambda p: p.name)
def test_data_objects_have_no_findings(path: Path) -> None:
    assert path.name in _loaded_objects(), "the kernel accepted a program of it, so its BTF"
    obj = load_object(path)
    assert obj.btf is not None
    findings = check_ownership(obj.btf, obj.maps, sections=obj.globals(), kernel=load_vmlinux())
    assert findings == [], findings_frame(findings)


def test_list_object_graph() -> None:
    obj = load_object(next(p for p in DATA_OBJECTS if p.name == "list.bpf.o"))
    assert obj.btf is not None
    g = ownership_graph(obj.btf, obj.maps, sections=obj.globals())
    got = {
        (u, g.nodes[v]["label"], d["mechanism"], d["node_field"]) for u, v, d in g.edges(data=True)
    }
    # from list.bpf.c: the map value's list, two private(...) globals, a batch owning jobs
    assert ((("map", "queues"), "job", "list", "node")) in got
    assert ((("global", ".data.Q"), "job", "list", "node")) in got
    assert ((("global", ".data.B"), "batch", "list", "node")) in got
    assert ((("type", "batch"), "job", "list", "node")) in got


def test_refcount_self_loop() -> None:
    """refcount.bpf.c's struct flow has a bpf_refcount and sits in a tree and a list at once."""
    obj = load_object(next(p for p in DATA_OBJECTS if p.name == "refcount.bpf.o"))
    assert obj.btf is not None
    g = ownership_graph(obj.btf, obj.maps, sections=obj.globals())
    flow = ("type", "flow")
    loops = [d for u, v, d in g.edges(data=True) if u == v == flow]
    assert [d["mechanism"] for d in loops] == ["refcount"]
    owners = {d["mechanism"] for u, v, d in g.in_edges(flow, data=True) if u != flow}
    assert owners >= {"list", "rbtree"}
    assert all(d["refcount"] for _, _, d in g.in_edges(flow, data=True))
    assert check_ownership(obj.btf, obj.maps, sections=obj.globals()) == []
