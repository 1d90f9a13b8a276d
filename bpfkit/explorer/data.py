"""The explorer's data: one verifier ``Log`` as compact columns, ready for the browser.

:func:`explorer_data` turns the Log's DataFrames into a JSON-able dict of parallel arrays
(one array per column, integers coded into small tables of distinct strings), the form the
front end (``explorer.js``) reads without building one object per log line. Nothing here
re-parses the log: every value comes from :class:`bpfkit.verifier.Log`'s tables and the
reference events of :func:`bpfkit.ownership.dynamic.ref_events`, so what the explorer shows
can be checked against those tables.

Keys of the result (``"v": 1``):

``meta``
    name, verdict, error, error_insn, level, stats.
``insns``
    the instructions seen, in program order: ``idx``, ``asm``, ``src`` (index into
    ``sources`` or -1), ``visits`` (steps that visited it), ``targets`` (jump target or -1).
``sources``
    distinct C lines ``[file, line, text]`` in file and line order.
``steps``
    one entry per verification step: ``insn``, ``frame``, ``path``, ``line`` (line number in
    the log text).
``tokens``
    distinct register and stack-slot tokens: ``key`` (``R0``..``R10``, ``fp-8``...), ``text``
    (what the log printed after ``=``), ``ref`` (its ``ref_obj_id``, 0 for none), ``type``.
``states``
    every state the log printed, in log order: ``step``, ``line``, ``frame``, ``full`` (1 for a
    full state, ``from X to Y: ...`` and the ``N: R1=... R10=fp0`` of a checkpoint; 0 for the
    registers an instruction changed, printed after it or, when other lines came in between,
    as ``N: R0=...`` before the next one), ``start`` (offset into ``codes``; the
    state's tokens are ``codes[start[i]:start[i+1]]``) and ``refs`` (the ``refs=`` list).
``branches``, ``prunes``
    ``step``/``from``/``to`` of each ``from X to Y:``; ``step``/``insn`` of each ``safe``.
``backtrack``
    precision backtracking lines (level 2): ``step`` (the step they follow), ``insn``,
    ``frame``, ``what`` (index into ``bt_text``: ``regs=r3 stack=-8``, or the line itself
    for the ``last_idx ... first_idx`` and ``parent state`` lines, whose ``insn`` is -1).
``events``
    the ownership model's reference events (:class:`bpfkit.ownership.dynamic.RefEvent`):
    ``path``, ``step``, ``insn``, ``ref``, ``event``, ``sink``, ``detail``, ``btf_type``.
``leaks``
    ``[ref_obj_id, alloc_insn]`` from the kernel's ``Unreleased reference`` lines.

Examples
--------
>>> from bpfkit.verifier import parse_log
>>> text = '''0: R1=ctx() R10=fp0
... 0: (b7) r0 = 0                       ; R0_w=0
... 1: (95) exit
... processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
... '''
>>> d = explorer_data(parse_log(text)[0])
>>> d["steps"]["insn"], d["states"]["full"], [d["tokens"]["key"][c] for c in d["codes"]]
([0, 1], [1, 0], ['R1', 'R10', 'R0'])
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpfkit.verifier import Log

__all__ = ["FORMAT_VERSION", "explorer_data", "jump_target"]

#: Version of the dict :func:`explorer_data` returns (the front end checks it).
FORMAT_VERSION = 1

_JUMP_RE = re.compile(r"goto pc([+-]\d+)")
_CALL_PC_RE = re.compile(r"call pc([+-]\d+)")


def jump_target(insn_idx: int, asm: str | None) -> int | None:
    """The instruction a jump or a subprogram call at *insn_idx* goes to, else None.

    Examples
    --------
    >>> jump_target(5, "goto pc+9"), jump_target(24, "goto pc-19"), jump_target(3, "exit")
    (15, 6, None)
    >>> jump_target(2, "if r3 != 0x258 goto pc+5"), jump_target(7, "call pc+10")
    (8, 18)
    """
    if not asm:
        return None
    m = _JUMP_RE.search(asm) or _CALL_PC_RE.search(asm)
    if m is None:
        return None
    return insn_idx + 1 + int(m.group(1))


def _ints(values: Any) -> list[int]:
    """A column (nullable or not) as a list of Python ints, missing values as -1."""
    import pandas as pd

    s = pd.Series(values)
    if s.dtype == object or str(s.dtype)[0] in "IUF":
        s = s.astype("Float64").fillna(-1)
    return [int(v) for v in s.to_numpy(dtype="int64")]


def _strs(values: Any) -> list[str | None]:
    return [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values]


def explorer_data(log: Log, *, events: bool = True) -> dict[str, Any]:
    """Return *log* as the explorer's compact columns (see the module docstring).

    Parameters
    ----------
    log
        A parsed verifier log (:func:`bpfkit.verifier.parse_log`).
    events
        Include the ownership model's reference events (:mod:`bpfkit.ownership.dynamic`).
    """
    import numpy as np
    import pandas as pd

    insns = log.instructions
    steps = log.steps
    regs = log.registers
    stack = log.stack
    lines = log.lines

    # C source lines: distinct (file, line, text), in file then line order
    src_keys: dict[tuple[str, int, str], int] = {}
    has_src = insns["src_line"].notna().to_numpy()
    files = insns["src_file"].to_numpy()
    src_lines = insns["src_line"].to_numpy(dtype=object)
    src_texts = insns["src_text"].to_numpy()
    keys = sorted(
        {
            (str(files[i] or ""), int(src_lines[i]), str(src_texts[i] or ""))
            for i in np.flatnonzero(has_src)
        }
    )
    for i, k in enumerate(keys):
        src_keys[k] = i
    insn_src = [
        src_keys[(str(files[i] or ""), int(src_lines[i]), str(src_texts[i] or ""))]
        if has_src[i]
        else -1
        for i in range(len(insns))
    ]
    idx = insns["insn_idx"].to_numpy()
    asm = insns["asm"].to_numpy()
    visit_counts = steps["insn_idx"].value_counts()
    visits = [int(visit_counts.get(int(i), 0)) for i in idx]
    targets = [jump_target(int(i), a) for i, a in zip(idx, asm, strict=True)]

    # states: register and stack tokens of every printed state, in log order
    reg_part = pd.DataFrame(
        {
            "line": regs["line"].to_numpy(),
            "step": regs["step"].to_numpy(),
            "frame": regs["frame"].to_numpy(),
            "order": regs["reg"].to_numpy(),
            "key": "R" + regs["reg"].astype(str),
            "text": regs["raw"].astype(object),
            "ref": regs["ref_obj_id"].to_numpy(),
            "type": regs["type"].astype(object),
        }
    )
    st_part = pd.DataFrame(
        {
            "line": stack["line"].to_numpy(),
            "step": stack["step"].to_numpy(),
            "frame": stack["frame"].to_numpy(),
            "order": 100 - stack["off"].to_numpy() // 8,
            "key": "fp" + stack["off"].astype(str),
            "text": stack["raw"].astype(object),
            "ref": np.zeros(len(stack), dtype=np.int64),
            "type": stack["slot_types"].astype(object),
        }
    )
    both = pd.concat([reg_part, st_part], ignore_index=True)
    both = both.sort_values(["line", "order"], kind="stable", ignore_index=True)
    tok_text = both["key"] + "\0" + both["text"].astype(str)
    codes, uniques = pd.factorize(tok_text, sort=False)
    first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    tokens = {
        "key": both["key"].to_numpy()[first].tolist(),
        "text": both["text"].to_numpy()[first].tolist(),
        "ref": _ints(both["ref"].to_numpy()[first]),
        "type": _strs(both["type"].to_numpy()[first]),
    }
    line_arr = both["line"].to_numpy()
    bounds: Any = (
        np.flatnonzero(np.r_[True, line_arr[1:] != line_arr[:-1]]) if len(line_arr) else []
    )
    occ_line = line_arr[bounds] if len(line_arr) else np.zeros(0, dtype=np.int64)
    # full state or the registers changed by an instruction?
    kind_of_line = pd.Series(lines["kind"].astype(str).to_numpy(), index=lines["line"].to_numpy())
    occ_kind = kind_of_line.reindex(occ_line).to_numpy()
    # A "N: R0=..." line is a full state when the verifier printed every register (after
    # "from X to Y:", at a checkpoint), else the registers an instruction changed, printed
    # with the next index because other lines came in between (print_insn_state). A full
    # state always shows the frame pointer R10.
    fp_lines = set(regs["line"].to_numpy()[regs["reg"].to_numpy() == 10].tolist())
    occ_has_fp = [int(ln) in fp_lines for ln in occ_line]
    refs = log.refs
    refs_by_line: dict[int, list[int]] = {}
    for ln, r in zip(refs["line"].to_numpy(), refs["ref_obj_id"].to_numpy(), strict=True):
        refs_by_line.setdefault(int(ln), []).append(int(r))
    states = {
        "step": both["step"].to_numpy()[bounds].tolist() if len(line_arr) else [],
        "line": occ_line.tolist(),
        "frame": both["frame"].to_numpy()[bounds].tolist() if len(line_arr) else [],
        "full": [int(k != "insn_state" and f) for k, f in zip(occ_kind, occ_has_fp, strict=True)],
        "start": [int(b) for b in bounds] + [len(codes)],
        "refs": [refs_by_line.get(int(ln), []) for ln in occ_line],
    }

    step_lines = steps["line"].to_numpy()
    bt = log.backtracking
    bt_step = np.searchsorted(step_lines, bt["line"].to_numpy(), side="right") - 1
    bt_what = (
        "regs=" + bt["regs"].fillna("").astype(str) + " stack=" + bt["stack"].fillna("").astype(str)
    ).where(bt["insn_idx"].notna(), bt["text"].astype(str).str.replace("mark_precise: ", ""))
    bt_codes, bt_uniques = pd.factorize(bt_what, sort=False)
    branches = log.branches
    prunes = log.prunes
    out: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "meta": {
            "name": log.name,
            "verdict": log.verdict,
            "error": log.error,
            "error_insn": log.error_insn,
            "level": log.level,
            "stats": {k: v for k, v in log.stats._asdict().items() if v is not None},
            "lines": int(len(lines)),
        },
        "insns": {
            "idx": idx.tolist(),
            "asm": _strs(asm),
            "src": insn_src,
            "visits": visits,
            "targets": [-1 if t is None else t for t in targets],
        },
        "sources": [list(k) for k in keys],
        "steps": {
            "insn": steps["insn_idx"].tolist(),
            "frame": steps["frame"].tolist(),
            "path": steps["path"].tolist(),
            "line": step_lines.tolist(),
        },
        "tokens": tokens,
        "states": states,
        "codes": codes.tolist(),
        "branches": {
            "step": branches["step"].tolist(),
            "from": _ints(branches["from_insn"]),
            "to": branches["to_insn"].tolist(),
        },
        "prunes": {"step": prunes["step"].tolist(), "insn": _ints(prunes["insn_idx"])},
        "backtrack": {
            "step": bt_step.tolist(),
            "insn": _ints(bt["insn_idx"]),
            "frame": _ints(bt["frame"]),
            "what": bt_codes.tolist(),
        },
        "bt_text": [str(u) for u in bt_uniques],
        "events": _events(log) if events else _events_empty(),
        "leaks": _leaks(log),
    }
    return out


def _events_empty() -> dict[str, list[Any]]:
    return {k: [] for k in ("path", "step", "insn", "ref", "event", "sink", "detail", "btf_type")}


def _events(log: Log) -> dict[str, list[Any]]:
    from bpfkit.ownership.dynamic import ref_events

    out = _events_empty()
    for ev in ref_events(log):
        out["path"].append(ev.path)
        out["step"].append(ev.step)
        out["insn"].append(ev.insn_idx)
        out["ref"].append(ev.ref_obj_id)
        out["event"].append(ev.event)
        out["sink"].append(ev.sink)
        out["detail"].append(ev.detail)
        out["btf_type"].append(ev.btf_type)
    return out


def _leaks(log: Log) -> list[list[int]]:
    from bpfkit.ownership.dynamic import unreleased_refs

    return [[int(r), int(a)] for r, a in unreleased_refs(log)]
