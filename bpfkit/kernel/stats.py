"""The verifier's own summary lines: stats and the error line of a log.

The kernel ends every log with a summary (``print_verification_stats`` in
``kernel/bpf/verifier.c``)::

    verification time 38 usec                      (log level & 4 only)
    stack depth 16+0                               (log level & 4 only)
    processed 23 insns (limit 1000000) max_states_per_insn 0 total_states 2 peak_states 2 mark_read 1

This module reads just those lines and the line before them (the kernel's error message for
a rejected program). The full log grammar is :mod:`bpfkit.verifier`'s job; this small parser
keeps :mod:`bpfkit.kernel` independent of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["VerifierStats", "parse_verifier_stats", "verifier_error_line", "SUMMARY_PATTERNS"]

_PROCESSED = re.compile(
    r"^processed (?P<insns>\d+) insns \(limit (?P<limit>\d+)\)"
    r" max_states_per_insn (?P<max>\d+) total_states (?P<total>\d+)"
    r" peak_states (?P<peak>\d+) mark_read (?P<mark>\d+)\s*$"
)
_TIME = re.compile(r"^verification time (?P<usec>\d+) usec\s*$")
_STACK = re.compile(r"^stack depth(?P<depth>(?: \d+(?:\+\d+)*)*)\s*$")  # 0+0+0: a callback subprog

#: The regular expressions of the summary lines, by name (for other readers of logs).
SUMMARY_PATTERNS: dict[str, re.Pattern[str]] = {
    "processed": _PROCESSED,
    "verification_time": _TIME,
    "stack_depth": _STACK,
}


@dataclass(frozen=True, slots=True)
class VerifierStats:
    """The numbers of the verifier's summary; ``None`` where the log does not say.

    Attributes
    ----------
    insns_processed : int or None
        ``processed N insns``: instructions the verifier walked.
    insn_limit : int or None
        ``(limit N)``: the complexity limit (1000000 for privileged loads).
    max_states_per_insn, total_states, peak_states, mark_read : int or None
        The rest of the ``processed`` line.
    verification_time_usec : int or None
        ``verification time N usec`` (only with log level bit 4, "stats").
    stack_depth : str or None
        ``stack depth 16+0``: one ``main+subprogs`` entry per subprogram, space separated.
    """

    insns_processed: int | None = None
    insn_limit: int | None = None
    max_states_per_insn: int | None = None
    total_states: int | None = None
    peak_states: int | None = None
    mark_read: int | None = None
    verification_time_usec: int | None = None
    stack_depth: str | None = None


_BLANK = " \t\r\n\0"  # a raw log buffer may end in its NUL terminator


def _summary_tail(lines: list[str]) -> int:
    """Index of the first summary line of the trailing summary block (len(lines) if none)."""
    i = len(lines)
    while i > 0:
        line = lines[i - 1].strip(_BLANK)
        if not line or any(p.match(line) for p in SUMMARY_PATTERNS.values()):
            i -= 1
            continue
        break
    return i


def _tail_lines(log: str) -> list[str]:
    """The last lines of *log*, enough to hold its trailing summary block and the line before
    it (a level-2 log has 100,000+ lines; only the end matters here)."""
    n = 32
    while True:
        cut = len(log)
        for _ in range(n):
            cut = log.rfind("\n", 0, cut)
            if cut < 0:
                return log.splitlines()
        lines = log[cut + 1 :].splitlines()
        if _summary_tail(lines) > 0:
            return lines
        n *= 4


def parse_verifier_stats(log: str) -> VerifierStats:
    """Read the summary lines at the end of a verifier log.

    Parameters
    ----------
    log : str
        A verifier log (any level). Only its trailing summary block is read.

    Returns
    -------
    VerifierStats
        Fields the summary does not give (for example the time, below log level 4) are ``None``.

    Examples
    --------
    >>> s = parse_verifier_stats(
    ...     "0: (b7) r0 = 0\\n1: (95) exit\\n"
    ...     "verification time 7 usec\\nstack depth 0\\n"
    ...     "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0"
    ...     " peak_states 0 mark_read 0\\n")
    >>> s.insns_processed, s.verification_time_usec, s.stack_depth
    (2, 7, '0')
    """
    lines = _tail_lines(log)
    fields: dict[str, int | str | None] = {}
    for line in lines[_summary_tail(lines) :]:
        line = line.strip(_BLANK)
        if m := _PROCESSED.match(line):
            fields.update(
                insns_processed=int(m["insns"]),
                insn_limit=int(m["limit"]),
                max_states_per_insn=int(m["max"]),
                total_states=int(m["total"]),
                peak_states=int(m["peak"]),
                mark_read=int(m["mark"]),
            )
        elif m := _TIME.match(line):
            fields["verification_time_usec"] = int(m["usec"])
        elif m := _STACK.match(line):
            fields["stack_depth"] = m["depth"].strip()
    return VerifierStats(**fields)  # type: ignore[arg-type]


def verifier_error_line(log: str) -> str:
    """The last meaningful line before the summary: the kernel's message for a rejection.

    For an accepted program this is the last instruction or state line of the log, so
    callers use it only when the load failed.

    Examples
    --------
    >>> verifier_error_line(
    ...     "7: (95) exit\\nUnreleased reference id=2 alloc_insn=3\\n"
    ...     "processed 8 insns (limit 1000000) max_states_per_insn 0 total_states 0"
    ...     " peak_states 0 mark_read 0\\n")
    'Unreleased reference id=2 alloc_insn=3'
    >>> verifier_error_line("")
    ''
    """
    lines = _tail_lines(log)
    end = _summary_tail(lines)
    return lines[end - 1].strip(_BLANK) if end > 0 else ""
