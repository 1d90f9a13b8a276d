"""The error explained in context, checked against what the kernel itself wrote in real logs."""

from __future__ import annotations

import re

import pytest

from bpfkit.report.explain import explain_error
from tests.corpus import DATA_LOGS, LOG_DOC_UNRELEASED_REF, LOG_KPTR_XCHG_SKB, LOG_RINGBUF_REF_LEAK

verifier = pytest.importorskip("bpfkit.verifier")


def _log(path):  # type: ignore[no-untyped-def]
    if not path.exists():
        pytest.skip(f"corpus file {path} not present (set BPFKIT_CORPUS)")
    logs = verifier.load_log(path)
    assert len(logs) == 1
    return logs[0]


def _kernel_line(path, pattern: str) -> re.Match[str]:  # type: ignore[no-untyped-def]
    m = re.search(pattern, path.read_text(), re.MULTILINE)
    assert m, pattern
    return m


def test_ref_leak_names_the_acquiring_instruction_and_c_line() -> None:
    log = _log(LOG_RINGBUF_REF_LEAK)
    ctx = explain_error(log)
    assert ctx is not None
    # oracle: the kernel's own line, and the log's text of that instruction and its C line
    m = _kernel_line(LOG_RINGBUF_REF_LEAK, r"^Unreleased reference id=(\d+) alloc_insn=(\d+)$")
    ref, alloc = int(m.group(1)), int(m.group(2))
    insn_text = _kernel_line(LOG_RINGBUF_REF_LEAK, rf"^{alloc}: \(\w\w\) (.*?)\s*(;|$)").group(1)
    assert [(lk.ref_obj_id, lk.alloc_insn) for lk in ctx.leaks] == [(ref, alloc)]
    leak = ctx.leaks[0]
    assert leak.asm is not None and insn_text.strip() in leak.asm
    assert leak.src is not None and leak.src.endswith("buggy.bpf.c:31")
    assert "bpf_ringbuf_reserve" in (leak.src_text or "")
    assert "reference leak" in ctx.error


def test_failing_instruction_has_register_states_before_it() -> None:
    log = _log(LOG_KPTR_XCHG_SKB)
    ctx = explain_error(log, before=4)
    assert ctx is not None
    # oracle: the last instruction the kernel printed before its error line
    last = _kernel_line(LOG_KPTR_XCHG_SKB, r"^(\d+): \(85\) call bpf_skb_release#\d+$")
    assert ctx.insn_idx == int(last.group(1))
    assert ctx.preceding[-1].insn_idx == ctx.insn_idx and ctx.preceding[-1].failing
    assert [c.insn_idx for c in ctx.preceding] == [33, 34, 35, 36, 37]
    by_insn = {c.insn_idx: c for c in ctx.preceding}
    assert "R1_w=ptr_sk_buff(ref_obj_id=3)" in by_insn[36].registers
    assert ctx.src is not None and ctx.src.endswith("bpf_bpf.c:161")
    assert ctx.leaks == ()


def test_old_format_leak_from_documentation() -> None:
    log = _log(LOG_DOC_UNRELEASED_REF)
    ctx = explain_error(log)
    assert ctx is not None
    assert [(lk.ref_obj_id, lk.alloc_insn) for lk in ctx.leaks] == [(1, 7)]
    assert "bpf_sk_lookup_tcp" in (ctx.leaks[0].asm or "")


def test_path_switch_before_the_error_is_the_logs_branch() -> None:
    path = DATA_LOGS / "alloc" / "obj_new_leak_on_short_packet.l2.log"
    (log,) = verifier.load_log(path)
    ctx = explain_error(log)
    assert ctx is not None
    # oracle: the kernel's "from X to Y:" line, the last one before the error
    jumps = re.findall(r"^from (\d+) to (\d+):", path.read_text(), re.MULTILINE)
    starts = [c.branch for c in ctx.preceding if c.branch is not None]
    assert starts == [(int(jumps[-1][0]), int(jumps[-1][1]))]
    first_of_path = next(c for c in ctx.preceding if c.branch is not None)
    assert first_of_path.insn_idx == int(jumps[-1][1])


def test_accepted_program_of_data_has_no_error_context() -> None:
    (log,) = verifier.load_log(DATA_LOGS / "alloc" / "obj_new_drop_ok.l2.log")
    assert log.verdict == "accept"
    assert explain_error(log) is None


def test_context_renders_the_kernels_facts_in_html() -> None:
    path = DATA_LOGS / "alloc" / "obj_new_leak_on_short_packet.l2.log"
    (log,) = verifier.load_log(path)
    ctx = explain_error(log)
    assert ctx is not None
    out = ctx._repr_html_()
    text = path.read_text()
    alloc = re.search(r"alloc_insn=(\d+)", text).group(1)  # type: ignore[union-attr]
    jump = re.findall(r"^from (\d+) to (\d+):", text, re.MULTILINE)[-1]
    assert f"<td>{alloc}</td>" in out
    assert f"from {jump[0]} to {jump[1]}" in out
    assert out.count('class="failing"') == 1
    assert "would lead to reference leak" in out
