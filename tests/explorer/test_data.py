"""The explorer's data against the Log's own tables, on every level-2 log of data/, and the
notebook host (the anywidget widget) without a browser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpfkit.errors import BpfkitError
from bpfkit.explorer import FORMAT_VERSION, explorer_data, front_end, jump_target
from bpfkit.obj import load_object
from bpfkit.verifier import Log, load_log
from tests.corpus import DATA_LOG_FILES, DATA_LOGS, DATA_PROGRAMS

L2_LOGS = [p for p in DATA_LOG_FILES if ".l2." in p.name and p.suffix == ".log"]


def _log(path: Path) -> Log:
    return load_log(path)[0]


@pytest.mark.parametrize("path", L2_LOGS, ids=lambda p: p.stem)
def test_the_data_is_the_logs_tables(path: Path) -> None:
    """Decoding the states back (tokens at their offsets) gives the registers and stack
    tables row for row, the visits are the steps table's counts, and full states are the
    kernel's full prints."""
    log = _log(path)
    d = explorer_data(log, events=False)  # the events are dynamic.ref_events' own
    assert d["v"] == FORMAT_VERSION
    json.dumps(d, allow_nan=False)  # plain JSON
    st, tok = d["states"], d["tokens"]
    got = []
    for i, line in enumerate(st["line"]):
        for c in d["codes"][st["start"][i] : st["start"][i + 1]]:
            got.append((st["step"][i], line, tok["key"][c], tok["text"][c]))
    regs = log.registers
    want = [(int(s), int(ln), f"R{r}", raw)
            for s, ln, r, raw in zip(regs["step"], regs["line"], regs["reg"], regs["raw"],
                                     strict=True)]  # fmt: skip
    stack = log.stack
    want += [(int(s), int(ln), f"fp{o}", raw)
             for s, ln, o, raw in zip(stack["step"], stack["line"], stack["off"], stack["raw"],
                                      strict=True)]  # fmt: skip
    assert sorted(got) == sorted(want)
    counts = log.steps["insn_idx"].value_counts()
    assert d["insns"]["visits"] == [int(counts.get(i, 0)) for i in d["insns"]["idx"]]
    assert d["steps"]["insn"] == log.steps["insn_idx"].tolist()
    # references: the registers that carry a ref_obj_id keep it in the token table
    carried = {(f"R{r}", raw): int(ref) for r, raw, ref in
               zip(regs["reg"], regs["raw"], regs["ref_obj_id"], strict=True)}  # fmt: skip
    for k, text, ref in zip(tok["key"], tok["text"], tok["ref"], strict=True):
        if k.startswith("R"):
            assert carried[(k, text)] == ref
    # A state is full exactly when the kernel printed every register: after "from X to Y:"
    # and at the "N: ..." of a checkpoint, which both show R10; the registers an instruction
    # changed are never full.
    lines = log.lines.set_index("line")
    for line, full in zip(d["states"]["line"], d["states"]["full"], strict=True):
        text = lines.at[line, "text"]
        kind = lines.at[line, "kind"]
        if text.startswith("from "):
            assert full == 1, text
        if kind == "insn_state":
            assert full == 0, text
        if full:
            assert " R10=" in text or text.split(":", 1)[1].lstrip().startswith("R10="), text


def test_jump_targets_are_the_decoders_branch_targets() -> None:
    """``goto pc+N`` in the log against bpfkit's own instruction decoder of the object."""
    log = _log(DATA_LOGS / "loops" / "bucket_branches_ok.l2.log")
    obj = load_object(DATA_PROGRAMS / "loops.bpf.o")
    (prog,) = [p for p in obj.programs if p.name == "bucket_branches_ok"]
    d = explorer_data(log)
    by_idx = {i.idx: i for i in prog.insns}
    checked = 0
    for idx, asm, target in zip(d["insns"]["idx"], d["insns"]["asm"], d["insns"]["targets"],
                                strict=True):  # fmt: skip
        if "goto" not in (asm or ""):
            assert target == -1
            continue
        assert target == idx + 1 + by_idx[idx].off, asm
        checked += 1
    assert checked >= 2
    assert jump_target(0, "call bpf_map_lookup_elem#1") is None


def test_the_widget_carries_the_data_and_the_step() -> None:
    pytest.importorskip("anywidget")
    import bpfkit

    path = DATA_LOGS / "alloc" / "obj_new_leak.l2.log"
    w = bpfkit.explore(path, step=3)
    d = json.loads(w.data)
    assert d["meta"]["name"] == "obj_new_leak" and d["v"] == FORMAT_VERSION
    assert w.step == 3
    assert w._esm == front_end()[0] and "export default" in w._esm


def test_bad_input_is_a_bpfkit_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.log"
    bad.write_text("")
    with pytest.raises(BpfkitError):
        import bpfkit

        bpfkit.explore(tmp_path / "missing.log")
    with pytest.raises(BpfkitError):
        import bpfkit

        bpfkit.explore(bad, program="nothere")


def test_every_corpus_log_gives_plain_json() -> None:
    """Logs from other kernels and tools (kernel docs 4.x, bpfvv fragments, veristat, cut
    logs): the explorer's data is made for each, as plain JSON, whatever the log lacks."""
    from tests.corpus import CORPUS_LOG_FILES

    if not CORPUS_LOG_FILES:
        pytest.skip("the shared corpus is not present (set BPFKIT_CORPUS)")
    n = 0
    for path in CORPUS_LOG_FILES:
        for log in load_log(path):
            d = explorer_data(log)
            json.dumps(d, allow_nan=False)
            assert len(d["steps"]["insn"]) == len(log.steps)
            n += 1
    assert n >= len(CORPUS_LOG_FILES)
