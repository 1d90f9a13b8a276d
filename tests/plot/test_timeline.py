"""The data behind the ownership timeline and the flow chains, on logs the kernel wrote
(data/logs): transfers are not releases, the second drop of a double release and the branch
that leads to a leak are found, and collections are named from the program's C source."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from bpfkit.plot import data as D
from bpfkit.plot.chain import flow_chain_frame
from bpfkit.plot.timeline import ownership_timeline
from bpfkit.verifier import Log, load_log
from tests.corpus import DATA_LOGS


@functools.cache
def _log(rel: str) -> Log:
    return load_log(DATA_LOGS / rel)[0]


@pytest.mark.parametrize(
    ("rel", "call", "kind", "owner"),
    [
        ("list/list_push_pop_ok.l2.log", "bpf_list_push_back_impl", "list", "list q_jobs"),
        ("kptr_stash/stash_session_ok.l2.log", "bpf_kptr_xchg", "kptr", "kptr v->sess"),
        ("rbtree/rbtree_add_first_remove_ok.l2.log", "bpf_rbtree_add_impl", "rbtree", None),
    ],
)
def test_transfers_are_not_releases(rel: str, call: str, kind: str, owner: str | None) -> None:
    log = _log(rel)
    tl = ownership_timeline(log)
    assert (tl.marks["mark"] == "push").any()
    coll = tl.segments[tl.segments["kind"] == kind]
    assert len(coll), f"no stretch owned by a {kind}"
    if owner is not None:
        assert set(coll["owner"]) == {owner}
    # the C source line of the transfer names the collection the timeline shows
    ins = log.instructions
    src = ins.loc[ins["asm"].str.contains(call, regex=False), "src_text"].iloc[0]
    assert coll["owner"].iloc[0].split(" ", 1)[1] in src
    # the reference-lifetime figure agrees: the lifetime that ends at the call is a transfer
    life = D.reference_lifetimes(log)
    ends = D.reference_end_kinds(log, life)
    assert "transfer" in ends


def test_second_release_of_a_double_drop_is_drawn() -> None:
    log = _log("alloc/obj_drop_twice.l2.log")
    tl = ownership_timeline(log)
    second = tl.marks[tl.marks["mark"] == "second release"]
    assert len(second) == 1
    assert int(second["insn_idx"].iloc[0]) == log.error_insn
    first = tl.marks[tl.marks["mark"] == "release"]
    assert second["ref_obj_id"].iloc[0] == first["ref_obj_id"].iloc[0]


def test_leak_names_the_branch_that_leads_to_it() -> None:
    log = _log("alloc/obj_new_leak_on_short_packet.l2.log")
    tl = ownership_timeline(log)
    assert (tl.marks["mark"] == "leak").sum() == 1
    (note,) = tl.notes
    # the fork of the leaking path, as the log prints it: from X to Y
    br = log.branches.dropna(subset=["from_insn"])
    x = int(br["from_insn"].iloc[-1])
    assert f"insn {x} " in note and "taken" in note
    src = log.instructions.set_index("insn_idx").loc[x, "src_text"]
    assert str(src).strip() in note


def test_chain_joins_push_pop_drop_through_the_list() -> None:
    df = flow_chain_frame(_log("list/list_push_pop_ok.l2.log"))
    cols = list(zip(df["source_col"], df["target_col"], strict=True))
    assert cols == [("acquire", "collection"), ("collection", "take_out"), ("take_out", "end")]
    assert df["target"].iloc[0] == df["source"].iloc[1] == "list q_jobs"


def test_every_data_log_has_a_timeline() -> None:
    for path in sorted(Path(DATA_LOGS).rglob("*.l2.log")):
        log = load_log(path)[0]
        tl = ownership_timeline(log)
        assert (tl.segments["end_step"] >= tl.segments["start_step"]).all(), path.name
        if "leak" in path.name and log.verdict == "reject":
            assert (tl.marks["mark"] == "leak").any(), path.name


@pytest.mark.parametrize(
    "rel", ["alloc/obj_new_leak_on_short_packet.l2.log", "list/list_push_pop_ok.l2.log"]
)
def test_a_log_without_source_lines_draws_every_figure(rel: str) -> None:
    """A log of a program built without line info (old kernels, bcc, no BTF.ext) has no
    source lines: the instructions' ``src_line`` column is all NA, which every figure must
    take (``ln == ln`` on pandas' NA raised in the ownership timeline)."""
    import matplotlib.pyplot as plt

    from bpfkit.plot.output import FIGURES, NothingToDraw, render_figure
    from bpfkit.verifier import parse_log

    text = (DATA_LOGS / rel).read_text()
    bare = "\n".join(ln for ln in text.splitlines() if not ln.startswith("; "))
    (log,) = parse_log(bare)
    assert log.instructions["src_line"].isna().all()
    drawn = 0
    for name in FIGURES:
        try:
            fig = render_figure(log, name)
        except NothingToDraw:
            continue
        drawn += 1
        plt.close(fig)
    assert drawn >= 5
    assert (ownership_timeline(log).segments["end_step"] >= 0).all()
