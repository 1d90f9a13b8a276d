"""The dynamic flow against what the kernel itself reported.

Oracles: the kernel's own ``Unreleased reference id=N alloc_insn=M`` line (every log of the
corpus and of data/logs that has one), the kernel's verdicts and expected mistakes of the
sample programs (data/programs/EXPECTED.tsv, logs captured on this 6.18 kernel), and the
object's instructions decoded independently by :mod:`bpfkit.obj`.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from bpfkit.obj import load_object
from bpfkit.ownership.dynamic import (
    events_frame,
    flow_graph,
    lifetimes_frame,
    sink_of_call,
    unreleased_refs,
)
from bpfkit.ownership.kfuncs import semantics
from bpfkit.verifier import load_log
from tests.corpus import CORPUS_LOG_FILES, DATA_EXPECTED, DATA_LOGS, DATA_PROGRAMS

LEAK_LOGS = [
    p
    for p in [*CORPUS_LOG_FILES, *sorted(DATA_LOGS.glob("*/*.log"))]
    if "Unreleased reference" in p.read_text(errors="replace")
]
EXPECTED = (
    {
        r["program"]: r
        for r in csv.DictReader(DATA_EXPECTED.read_text().splitlines(), delimiter="\t")
    }
    if DATA_EXPECTED.exists()
    else {}
)
L2_LOGS = sorted(DATA_LOGS.glob("*/*.l2.log"))


def test_there_are_leak_logs() -> None:
    assert len(LEAK_LOGS) >= 20, LEAK_LOGS


@pytest.mark.parametrize("path", LEAK_LOGS, ids=lambda p: p.name[:60])
def test_leaked_reference_matches_kernel_report(path: Path) -> None:
    for log in load_log(path):
        leaks = unreleased_refs(log)
        if not leaks:
            continue
        ev = events_frame(log)
        for rid, alloc in leaks:
            acq = ev[(ev["event"] == "acquire") & (ev["ref_obj_id"] == rid)]
            assert acq["insn_idx"].tolist() == [alloc], (rid, alloc, acq)
            un = ev[(ev["event"] == "unreleased") & (ev["ref_obj_id"] == rid)]
            assert len(un) == 1
            assert un["detail"].iloc[0] == f"alloc_insn={alloc}"


def _program_of(path: Path) -> str:
    return path.name.split(".")[0]


@pytest.mark.parametrize("path", L2_LOGS, ids=lambda p: p.name)
def test_sinks_agree_with_kernel_verdict(path: Path) -> None:
    prog = _program_of(path)
    row = EXPECTED[prog]
    [log] = load_log(path)
    lt = lifetimes_frame(log)
    sinks = set(lt["sink"])
    if row["mistake"] in ("leak", "leak_on_path"):
        assert "exit_leak" in sinks
        assert log.verdict == "reject"
    else:
        assert "exit_leak" not in sinks
    # every reference ends somewhere the verifier explains
    assert "other" not in sinks, lt[lt["sink"] == "other"]
    if row["mistake"] == "leak_on_path":
        # another path disposed of the same object properly
        assert sinks & {"drop", "release", "list_push", "rbtree_add", "kptr_xchg"}


@pytest.mark.parametrize("path", L2_LOGS, ids=lambda p: p.name)
def test_sites_and_sinks_are_the_objects_calls(path: Path) -> None:
    """Each acquisition and each hand-over happens at a call that the object's own decoded
    instruction names the same, and whose kfunc semantics agree (acquire / release / takes
    ownership)."""
    prog = _program_of(path)
    obj = load_object(DATA_PROGRAMS / EXPECTED[prog]["object"])
    program = obj.program(prog)
    [log] = load_log(path)
    ev = events_frame(log)
    checked = 0
    for _, e in ev[ev["event"].isin(["acquire", "transfer", "release"])].iterrows():
        insn = program.insn_at(int(e["insn_idx"]))
        assert insn.call is not None, (e.to_dict(), insn)
        assert insn.call.name == e["detail"], (e.to_dict(), insn.call)
        sem = semantics(insn.call.name)
        assert sem is not None, insn.call.name
        if e["event"] == "acquire":
            assert sem.acquire or insn.call.name == "bpf_kptr_xchg"
        elif e["event"] == "release":
            assert sem.release, insn.call.name
        else:
            assert sem.takes_ownership or insn.call.name == "bpf_kptr_xchg", insn.call.name
        checked += 1
    if len(lifetimes_frame(log)):
        assert checked > 0


def test_flow_graph_counts_paths() -> None:
    path = DATA_LOGS / "alloc" / "obj_new_leak_on_short_packet.l2.log"
    [log] = load_log(path)
    g = flow_graph(log)
    [(alloc,)] = [(a,) for _, a in unreleased_refs(log)]
    site = ("site", alloc)
    assert g.nodes[site]["call"] == "bpf_obj_new_impl"
    out = {g.nodes[t]["sink"]: d["count"] for _, t, d in g.out_edges(site, data=True)}
    assert out == {"drop": 1, "exit_leak": 1}


def test_sink_names() -> None:
    assert sink_of_call("bpf_rbtree_add_impl") == "rbtree_add"
    assert sink_of_call("bpf_cpumask_release") == "release"
    assert sink_of_call("bpf_percpu_obj_drop_impl") == "drop"
    assert sink_of_call(None) == "other"


ALL_LOGS = [*CORPUS_LOG_FILES, *sorted(DATA_LOGS.glob("*/*.log"))]


@pytest.mark.parametrize("path", ALL_LOGS, ids=lambda p: f"{p.parent.name}/{p.name[:50]}")
def test_every_reference_ends_once_per_path(path: Path) -> None:
    """On every log we have: each (path, reference) is acquired or inherited at most once and
    ends at most once, and every reference id is one the kernel printed (in ``refs=``, a
    register's ``ref_obj_id``, or its leak report)."""
    for log in load_log(path):
        ev = events_frame(log)
        if not len(ev):
            continue
        ends = ev[ev["event"].isin(["transfer", "release", "null", "unreleased", "held_at_end"])]
        dup = ends.groupby(["path", "ref_obj_id"]).size()
        assert (dup <= 1).all(), dup[dup > 1]
        text = path.read_text(errors="replace")
        printed = {int(x) for m in re.findall(r"\brefs=([\d,]+)", text) for x in m.split(",") if x}
        printed |= {int(x) for x in re.findall(r"\bref_obj_id=(\d+)", text)}
        printed |= {int(x) for x in re.findall(r"Unreleased reference id=(\d+)", text)}
        assert set(ev["ref_obj_id"]) <= printed


def test_garbage_log_gives_no_events() -> None:
    from bpfkit.verifier import parse_log

    text = "hello\n17: (85) call bpf_obj_new_impl#1 ; R0=garbage(((\nrefs=\nUnreleased reference\n"
    [log] = parse_log(text)
    ev = events_frame(log)
    assert set(ev["event"]) <= {"acquire", "inherited", "held_at_end", "release", "null", "copy"}
    g = flow_graph(log)
    assert all(d["kind"] in ("site", "sink") for _, d in g.nodes(data=True))


# non-owning references made by a push/add (a query such as bpf_rbtree_first returns a
# non-owning pointer that never had a reference id, so it has no reference events)
NON_OWNING_LOGS = [
    p
    for p in L2_LOGS
    if EXPECTED.get(_program_of(p), {}).get("mistake") == "non_owning_after_unlock"
    and re.search(r"call bpf_(list_push|rbtree_add)", p.read_text())
]


@pytest.mark.parametrize("path", NON_OWNING_LOGS, ids=lambda p: p.name)
def test_non_owning_use_after_unlock_names_the_kernels_register(path: Path) -> None:
    assert NON_OWNING_LOGS
    """The register the kernel rejects (``R6 invalid mem access 'scalar'``) is one whose
    non-owning reference bpf_spin_unlock invalidated, when that reference came from a
    push/add; non-owning pointers returned by bpf_rbtree_first carry no reference id."""
    [log] = load_log(path)
    m = re.match(r"R(\d+) invalid mem access 'scalar'", log.error or "")
    assert m, log.error
    ev = events_frame(log)
    invalidated = ev[ev["event"] == "invalidated"]
    assert f"r{m.group(1)}" in set(invalidated["detail"])
    converted = ev[ev["event"] == "non_owning"]
    assert set(invalidated["ref_obj_id"]) <= set(converted["ref_obj_id"])


ALL_NON_OWNING_MISTAKES = [
    p
    for p in L2_LOGS
    if EXPECTED.get(_program_of(p), {}).get("mistake") == "non_owning_after_unlock"
]


@pytest.mark.parametrize("path", ALL_NON_OWNING_MISTAKES, ids=lambda p: p.name)
def test_non_owning_views_end_at_unlock_before_the_kernels_error(path: Path) -> None:
    """Whatever made the non-owning pointer (a push, or bpf_rbtree_first), the register the
    kernel rejects held a non-owning view that bpf_spin_unlock ended before the failing
    instruction."""
    from bpfkit.ownership.dynamic import non_owning_frame

    assert len(ALL_NON_OWNING_MISTAKES) >= 2
    [log] = load_log(path)
    m = re.match(r"R(\d+) invalid mem access 'scalar'", log.error or "")
    assert m and log.error_insn is not None
    views = non_owning_frame(log)
    hit = views[(views["reg"] == f"r{m.group(1)}") & (views["end"] == "unlock")]
    assert len(hit) >= 1
    assert (hit["end_insn"] < log.error_insn).all()


MANIFEST_ROWS = (
    list(csv.DictReader((DATA_LOGS / "MANIFEST.tsv").read_text().splitlines(), delimiter="\t"))
    if (DATA_LOGS / "MANIFEST.tsv").exists()
    else []
)


def test_every_observed_flow_was_predicted_statically() -> None:
    """The flows the kernel explored (site -> sink at an instruction) are flows the static
    analysis of the object predicts; the static side may have more (paths the verifier
    pruned as equivalent). Two independent readings: the object's instructions vs the
    kernel's log."""
    from bpfkit.ownership.static import flows_frame

    objs: dict[str, object] = {}
    equal = total = 0
    for row in MANIFEST_ROWS:
        obj = objs.setdefault(row["object"], load_object(DATA_PROGRAMS / row["object"]))
        st = flows_frame(obj, row["program"])  # type: ignore[arg-type]
        predicted = {
            (int(a), str(b), int(c))
            for a, b, c in zip(st["site_insn"], st["sink"], st["sink_insn"], strict=True)
            if b != "refcount_acquire"
        }
        [log] = load_log(DATA_LOGS / row["l2_log"])
        lt = lifetimes_frame(log)
        observed = {
            (int(a), str(b), int(c))
            for a, b, c in zip(lt["site_insn"], lt["sink"], lt["end_insn"], strict=True)
            if b not in ("null", "held_at_end")
        }
        assert observed <= predicted, (row["program"], observed - predicted)
        equal += observed == predicted
        total += 1
    print(f"observed flows equal the static flows on {equal}/{total} programs")
    assert total == len(MANIFEST_ROWS) > 40
