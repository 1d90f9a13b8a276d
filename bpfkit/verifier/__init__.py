"""Verifier logs into tables: every line of every kernel's log, per program.

:func:`parse_log` / :func:`load_log` return one :class:`Log` per program (libbpf and
``bpftool -d`` wrappers, veristat ``-v`` output, ``bpfkit load --json`` records, plain logs);
:func:`iter_logs` yields them one at a time and :func:`iter_frames` / :func:`write_parquet`
stream a huge log in chunks. A Log's tables (``lines``, ``instructions``, ``steps``,
``registers``, ``stack``, ``refs``, ``branches``, ``prunes``, ``backtracking``) are pandas
DataFrames built on first use. The line grammar is :mod:`bpfkit.verifier.grammar` (every line
gets a kind; unknown lines are ``"unrecognized"``, never an exception); register and stack
states decode to records in :mod:`bpfkit.verifier.values` and render back to the kernel's text.

Examples
--------
>>> [log] = parse_log('''func#0 @0
... 0: R1=ctx() R10=fp0
... 0: (18) r1 = 0x13                     ; R1=19
... 2: (b7) r2 = 0                        ; R2=0
... 3: (85) call bpf_obj_new_impl#65214   ; R0=ptr_or_null_counter(id=2,ref_obj_id=2) refs=2
... 4: (95) exit
... Unreleased reference id=2 alloc_insn=3
... BPF_EXIT instruction in main prog would lead to reference leak
... processed 4 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
... ''', name="leak")
>>> log.verdict, log.error_insn, log.stats.insns_processed
('reject', 4, 4)
>>> r0 = log.registers.query("reg == 0").iloc[0]
>>> r0.type, bool(r0.or_null), r0.btf_type, int(r0.ref_obj_id)
('ptr_', True, 'counter', 2)
>>> log.refs.ref_obj_id.tolist()
[2]
"""

from typing import TYPE_CHECKING

from bpfkit._lazy import lazy_exports

if TYPE_CHECKING:
    from bpfkit.verifier.grammar import KINDS, UNRECOGNIZED, classify
    from bpfkit.verifier.log import (
        Log,
        LogStats,
        iter_frames,
        iter_logs,
        load_log,
        parse_log,
        write_parquet,
    )
    from bpfkit.verifier.values import (
        RegState,
        StackSlot,
        StateLine,
        parse_reg,
        parse_slot,
        parse_state,
    )

__all__ = [
    "Log",
    "LogStats",
    "parse_log",
    "load_log",
    "iter_logs",
    "iter_frames",
    "write_parquet",
    "classify",
    "KINDS",
    "UNRECOGNIZED",
    "RegState",
    "StackSlot",
    "StateLine",
    "parse_reg",
    "parse_slot",
    "parse_state",
]

# Imported on first use (bpfkit._lazy), so that `import bpfkit.verifier` and every
# `bpfkit ... --help` import no submodule and no heavy dependency.
_LAZY = {
    "grammar": ("KINDS", "UNRECOGNIZED", "classify"),
    "log": (
        "Log",
        "LogStats",
        "iter_frames",
        "iter_logs",
        "load_log",
        "parse_log",
        "write_parquet",
    ),
    "values": ("RegState", "StackSlot", "StateLine", "parse_reg", "parse_slot", "parse_state"),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
