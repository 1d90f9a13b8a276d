"""Pair verifier logs with the programs of BPF objects, by program name.

``bpfkit report OBJ LOG`` gives one page per program of OBJ, and a LOG joins the page of the
program it is the log of: the program named by its file (``prog.l2.log``, ``prog.log.xz``)
or, when the file name says nothing (``verifier.log``), the program(s) the log itself names
(a ``bpfkit load`` / veristat / libbpf log carries the program name). A log that names no
program of the objects stays a page of its own.

Examples
--------
>>> log_program_name("list_push_pop_ok.l2.log.xz")
'list_push_pop_ok'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["log_program_name", "log_level_of", "pair_logs"]

_LOG_NAME = re.compile(r"\.(?:log|txt)(?:\.xz|\.gz)?$")


def log_program_name(name: str) -> str:
    """The program a log file is named after: ``prog.l2.log.xz`` -> ``prog``."""
    base = _LOG_NAME.sub("", name)
    return re.sub(r"\.(?:l(?:evel)?[-_]?[12]|verifier)$", "", base, flags=re.IGNORECASE)


def log_level_of(text: str) -> int:
    """The log level a file name says (``.l2.``, ``level1``), 0 when it says none."""
    m = re.search(r"(?:^|[._-])l(?:evel)?[-_]?([12])(?:[._-]|$)", text, re.IGNORECASE)
    return int(m.group(1)) if m else 0


def _names_in_log(path: Path) -> list[str]:
    from bpfkit.errors import BpfkitError
    from bpfkit.verifier import load_log

    try:
        return [str(lg.name) for lg in load_log(path) if lg.name]
    except BpfkitError:
        return []


def pair_logs(
    programs: dict[Path, list[str]], logs: Sequence[Path]
) -> tuple[dict[tuple[Path, str], list[Path]], list[Path]]:
    """Pair *logs* with the programs of the objects in *programs* (object path -> program
    names): returns ``{(object, program): [logs]}`` and the logs that name none of them."""
    owner: dict[str, tuple[Path, str]] = {}
    for obj, progs in programs.items():
        for prog in progs:
            owner.setdefault(prog, (obj, prog))
    pairs: dict[tuple[Path, str], list[Path]] = {}
    alone: list[Path] = []
    for log in logs:
        key = owner.get(log_program_name(log.name))
        if key is None:
            named = [owner[n] for n in _names_in_log(log) if n in owner]
            key = named[0] if named else None
        if key is None:
            alone.append(log)
        else:
            pairs.setdefault(key, []).append(log)
    return pairs, alone
