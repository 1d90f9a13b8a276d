"""Verifier logs into tables: every line of every kernel's log, per program.

:func:`parse_log` / :func:`load_log` return one :class:`Log` per program; a Log's tables
(``lines``, ``instructions``, ``steps``, ``registers``, ``stack``, ``refs``, ``branches``,
``prunes``, ``backtracking``) are pandas DataFrames built on first use. The line grammar is in
:mod:`bpfkit.verifier.grammar`, the register/stack value decoder in
:mod:`bpfkit.verifier.values`.
"""

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
