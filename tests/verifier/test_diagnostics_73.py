"""Logs of 7.3+ kernels: the failure report after a failed verification parses, every line
classified, the kernel's error and the summary unchanged.

Linux 7.3 (commit ce7c9f6c599b, "Redesign Verification Log") appends a report to the log of
every failed load at log level >= 1. The lines below are written as the kernel's
diagnostics code prints them (kernel/bpf/diagnostics.c of that commit):

- ``bpf_diag_header()``: ``"\\nVerification failed: %s: %c%s\\n"`` (category, problem with
  its first letter upper-cased), or ``"\\nVerification failed: %s\\n"`` without a problem;
  the category is "Verifier Error" when none is given.
- ``diag_section()``: ``"\\n%s:\\n"`` (Reason, At, Causal path, Suggestion; ``bpf_diag_lock()``
  adds "Active lock"); ``diag_reason()``/``diag_suggestion()`` print their text through
  ``diag_print_wrapped_prefixed()`` (two-space indent, wrapped at 100 columns), and
  ``diag_suggestion()`` ends with an empty line.
- ``bpf_diag_source()`` without line info: ``"  insn %u\\n"``, the annotation of
  ``diag_print_source_annotation()`` (``"  %*s | %*s^-- "`` with width line_width + 4, then
  ``"<label>: <msg>"``), and ``diag_print_insn_context()``: ``"  Instruction context:\\n"``
  and up to five rows ``"  %s%*d | %s\\n"`` (``">>> "`` on the failing insn, else four
  spaces; the index as wide as the last insn's). With line info: ``"  %s @ %s:%d:%d\\n"``
  (function, file, line, column), ``"  Source context:\\n"``, source lanes
  ``"  " + "%s%*d | " + text`` and the annotation under the failing line.
- ``diag_print_history()``: ``"Causal path"`` and one ``bpf_diag_source()`` block per
  event, blank lines between; ``"  no retained diagnostic events on this path\\n"``,
  ``"  %u intermediate causal-history events omitted\\n"``.
- ``print_verification_stats()`` (kernel/bpf/verifier.c) follows, unchanged:
  ``verification time``/``stack depth`` at BPF_LOG_STATS, and ``processed N insns ...``.

The first example is also the one cilium/ebpf quotes for 7.3 (cilium/ebpf#2105, #2111).
"""

from __future__ import annotations

import pytest

from bpfkit.verifier import iter_frames, parse_log
from bpfkit.verifier.grammar import classify

UNREADABLE_R0 = """\
0: R1=ctx() R10=fp0
0: (95) exit
R0 !read_ok

Verification failed: Register Type Safety: Unreadable register

Reason:
  R0 has never been initialized on this path, so the verifier cannot use it as an input.

At:
  insn 0
      | ^-- error: R0 is not readable
  Instruction context:
  >>> 0 | (95) exit

Causal path:
  no retained diagnostic events on this path

Suggestion:
  Initialize R0 on every path before this instruction.

processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""

# bpf_diag_leak() on a program with line info: the function and source lanes, then the
# causal path of the reference (acquired, a branch), then the statistics of level 2.
LEAK_WITH_SOURCE = """\
func#0 @0
0: R1=ctx() R10=fp0
; struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0); @ leak.bpf.c:14
0: (18) r1 = 0xffff888100a1b000       ; R1_w=map_ptr(map=rb,ks=0,vs=0)
2: (b7) r2 = 16                       ; R2_w=16
3: (b7) r3 = 0                        ; R3_w=0
4: (85) call bpf_ringbuf_reserve#131          ; R0=ringbuf_mem_or_null(id=2,ref_obj_id=2,sz=16) refs=2
; if (!e) @ leak.bpf.c:15
5: (15) if r0 == 0x0 goto pc+2        ; R0=ringbuf_mem(ref_obj_id=2,sz=16) refs=2
; return 0; @ leak.bpf.c:17
6: (b7) r0 = 0                        ; R0_w=0 refs=2
7: (95) exit
Unreleased reference id=2 alloc_insn=4

Verification failed: Resource Lifetime Safety: Unreleased resource

Reason:
  Owned resource (id=2) was acquired at instruction 4 and still needs to be released before this
  exit path.

At:
  handle_exec @ leak.bpf.c:17:2
  Source context:
      15 |         if (!e)
      16 |                 return 1;
  >>> 17 |         return 0;
        |         ^-- error: owned resource (id=2) still needs release
      18 | }
  Instruction context:
      5 | (15) if r0 == 0x0 goto pc+2
      6 | (b7) r0 = 0
  >>> 7 | (95) exit

Causal path:
  handle_exec @ leak.bpf.c:14:6
  Source context:
      12 | {
      13 |         struct event *e;
  >>> 14 |         e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
        |         ^-- acquired: owned resource (id=2)
      15 |         if (!e)
      16 |                 return 1;
  Instruction context:
      2 | (b7) r2 = 16
      3 | (b7) r3 = 0
  >>> 4 | (85) call bpf_ringbuf_reserve#131
      5 | (15) if r0 == 0x0 goto pc+2
      6 | (b7) r0 = 0

  insn 5
      | ^-- branch: took the false branch of this conditional, goto not followed
  Instruction context:
      3 | (b7) r3 = 0
      4 | (85) call bpf_ringbuf_reserve#131
  >>> 5 | (15) if r0 == 0x0 goto pc+2
      6 | (b7) r0 = 0
      7 | (95) exit

Suggestion:
  Release or transfer ownership of the acquired resource on every path before the program exits.

verification time 35 usec
stack depth 0
processed 8 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
"""

# bpf_diag_mem_bounds() with many events (the omitted line) and a lock report's extra
# section, then a header without a problem (the "Verifier Error" default).
BOUNDS_MANY_EVENTS = """\
0: R1=ctx() R10=fp0
8: (79) r0 = *(u64 *)(r1 +64)
invalid access to map value, value_size=64 off=64 size=8
R1 min value is outside of the allowed memory range

Verification failed: Memory Safety: Access outside bounds

Reason:
  The verifier cannot prove offset + access_size <= object_size. Here, the access starts past the
  end of the object. R1 is a map value pointer; offset is constant 64; access_size is 8; object_size
  is 64.

At:
  insn 8
      | ^-- error: access may be outside object bounds
  Instruction context:
      6 | (07) r1 += 64
      7 | (b7) r2 = 0
  >>> 8 | (79) r0 = *(u64 *)(r1 +64)
      9 | (95) exit

Causal path:
  insn 6
      | ^-- update: R1 changed from map value from counts at offset 0 to map value from counts at offset 64
  Instruction context:
      4 | (bf) r1 = r0
      5 | (b7) r3 = 1
  >>> 6 | (07) r1 += 64
      7 | (b7) r2 = 0
      8 | (79) r0 = *(u64 *)(r1 +64)

  70 intermediate causal-history events omitted

Suggestion:
  Add or adjust a bounds check that proves offset + access_size stays within the object.

processed 9 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""

LOCK_AND_BARE_HEADER = """\
0: R1=ctx() R10=fp0
12: (85) call bpf_spin_lock#93
function calls are not allowed while holding a lock

Verification failed: Resource Lifetime Safety: Lock already held

Reason:
  A bpf_spin_lock is already held on this path.

At:
  insn 12
      | ^-- error: lock already held
  Instruction context:
     10 | (bf) r1 = r6
     11 | (07) r1 += 4
  >>> 12 | (85) call bpf_spin_lock#93
     13 | (95) exit

Active lock:
  insn 9
      | ^-- acquired: active bpf_spin_lock has verifier identity 3
  Instruction context:
      7 | (bf) r1 = r6
      8 | (07) r1 += 4
  >>>  9 | (85) call bpf_spin_lock#93
     10 | (bf) r1 = r6
     11 | (07) r1 += 4

Suggestion:
  Release the active lock before acquiring another one.

processed 13 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""

BARE_HEADER = """\
0: (95) exit
R0 !read_ok

Verification failed: Verifier Error

processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""

CASES = {
    "unreadable_r0": (UNREADABLE_R0, "R0 !read_ok", 1),
    "leak_with_source": (LEAK_WITH_SOURCE, "Unreleased reference id=2 alloc_insn=4", 8),
    "bounds_many_events": (
        BOUNDS_MANY_EVENTS,
        "invalid access to map value, value_size=64 off=64 size=8\n"
        "R1 min value is outside of the allowed memory range",
        9,
    ),
    "lock": (LOCK_AND_BARE_HEADER, "function calls are not allowed while holding a lock", 13),
    "bare_header": (BARE_HEADER, "R0 !read_ok", 1),
}


def _block(text: str) -> list[str]:
    """The report's lines: from the header to the summary (blank lines excluded)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Verification failed: "))
    end = next(i for i, ln in enumerate(lines) if i > start and ln.startswith(
        ("processed ", "verification time ")))
    return [ln for ln in lines[start:end] if ln.strip()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_73_report_is_classified_and_the_error_is_the_kernels(case: str) -> None:
    text, error, processed = CASES[case]
    [lg] = parse_log(text, strict=True)  # strict: an unrecognized line raises
    assert lg.verdict == "reject"
    assert lg.error == error
    assert lg.stats.insns_processed == processed
    assert lg.kinds.get("unrecognized", 0) == 0
    assert lg.kinds.get("message", 0) == 0  # no report line taken for a kernel message
    lines = lg.lines
    diag = lines[lines["kind"] == "diagnostic"]["text"].tolist()
    assert diag == _block(text)
    # what is before the report keeps its kinds
    assert (lines["kind"] == "error").sum() == error.count("\n") + 1


def test_the_report_header_alone_is_a_diagnostic_line() -> None:
    assert classify("Verification failed: Register Type Safety: Unreadable register").kind == (
        "diagnostic")
    assert classify("Causal path:").kind == "diagnostic"
    # and an older kernel's message that merely contains the words stays a message
    assert classify("verification failed").kind == "message"


def test_the_level2_stats_after_the_report_are_read() -> None:
    [lg] = parse_log(LEAK_WITH_SOURCE)
    assert lg.stats.verification_time_usec == 35
    assert lg.stats.stack_depth is not None
    assert lg.level == 2
    assert lg.instructions["insn_idx"].tolist() == [0, 2, 3, 4, 5, 6, 7]


def test_a_pasted_report_reads_too() -> None:
    """cilium/ebpf prints the log with a tab before each line (``%+v``); journald adds its
    prefix: the report is still the report, the error still the kernel's."""
    tabbed = "\n".join("\t" + ln if ln else "\t" for ln in UNREADABLE_R0.splitlines())
    journald = "\n".join(f"Dec 03 10:00:01 host kernel: {ln}" for ln in
                         LEAK_WITH_SOURCE.splitlines())
    for text, error in ((tabbed, "R0 !read_ok"), (journald, "Unreleased reference id=2 "
                                                 "alloc_insn=4")):
        [lg] = parse_log(text, strict=True)
        assert lg.kinds.get("unrecognized", 0) == 0 and lg.kinds.get("message", 0) == 0
        assert lg.error is not None and lg.error.endswith(error)
        assert lg.kinds["diagnostic"] >= 10


def test_streamed_the_report_has_the_same_kinds(tmp_path: pytest.TempPathFactory) -> None:
    p = tmp_path / "leak.log"  # type: ignore[operator]
    p.write_text(LEAK_WITH_SOURCE)
    chunks = list(iter_frames(p, tables=("lines",), chunk_lines=7))
    kinds = [k for c in chunks for k in c["lines"]["kind"].tolist()]
    [lg] = parse_log(LEAK_WITH_SOURCE)
    whole = lg.lines["kind"].tolist()
    # streamed, the final error lines are "message" (known only at the end: iter_frames' doc)
    assert [("message" if k == "error" else k) for k in whole] == kinds
