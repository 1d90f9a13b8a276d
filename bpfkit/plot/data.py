"""The data behind each figure, as DataFrames and graphs (no matplotlib here).

Every ``plot_*`` function draws what one of these returns, so the numbers on a figure can be
checked (and reused) without looking at pixels.

State between printed states
----------------------------
The verifier prints a full state (``from 22 to 24: ...``) where a path starts, and otherwise
only the registers an instruction touched (``12: (bf) r1 = r6 ; R1_w=ctx()`` or, after
other messages, ``13: R0_w=...``); it never prints a register that is not initialized. The
per-step state here is reconstructed the same way: a full state replaces everything known
for its frame (registers it does not list are ``not_init``), a partial state updates the
registers it lists, a helper, kfunc or bpf-to-bpf call leaves R1-R5 ``not_init`` (the
calling convention), and every step carries the last state known before it. Registers of
a frame deeper than the current one are absent (NaN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from bpfkit.plot.palette import CATEGORIES, register_category

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FULL_STATE_KINDS",
    "STATE_KINDS",
    "LaneState",
    "lane_state",
    "register_lanes",
    "register_marks",
    "bin_codes",
    "range_series",
    "leaked_references",
    "reference_lifetimes",
    "reference_counts",
    "non_owning_refs",
    "visit_counts",
    "effort_series",
    "path_tree",
    "compare_logs",
    "compare_lines",
    "compare_stats",
    "lane_name",
    "state_line_steps",
    "lock_held",
    "allocated_types",
    "ALLOC_KFUNCS",
    "src_lines",
    "call_names",
    "reference_end_kinds",
    "TRANSFER_SINKS",
]

#: Line kinds whose registers are a full state of their frame (not only what changed):
#: ``from X to Y:`` prints every register (print_all); ``N: R...`` lines print only the
#: registers scratched since the last print, like the comment after an instruction.
FULL_STATE_KINDS: frozenset[str] = frozenset({"branch"})
#: Line kinds that print a state (possibly empty: ``32: (85) call ... ;``).
STATE_KINDS: frozenset[str] = frozenset({"branch", "state", "insn_state"})
_NREGS = 11
_NOT_INIT = -1
_ABSENT = -2
_UNRELEASED = re.compile(r"Unreleased reference id=(\d+),? alloc_insn=(\d+)")


def lane_name(frame: int, reg: int) -> str:
    """Return the label of a register lane: ``R6`` in frame 0, ``f1.R6`` in deeper frames.

    Examples
    --------
    >>> lane_name(0, 6), lane_name(2, 1)
    ('R6', 'f2.R1')
    """
    return f"R{reg}" if frame == 0 else f"f{frame}.R{reg}"


@dataclass(frozen=True, slots=True)
class LaneState:
    """Which register row describes each (step, lane): the reconstructed state per step.

    ``rows[i, j]`` is the position in :attr:`registers` of the row that describes lane *j* at
    step ``steps[i]``, or -1 for a register not initialized, -2 for a lane whose frame is
    not active. ``observed[i, j]`` is True where the log printed lane *j* at that step.
    """

    #: Step numbers, ascending.
    steps: np.ndarray
    #: Instruction index of each step.
    insn_idx: np.ndarray
    #: (frame, reg) of each lane, frames ascending then R0..R10.
    lanes: tuple[tuple[int, int], ...]
    #: Row positions (see above), shape (len(steps), len(lanes)).
    rows: np.ndarray
    #: Printed at that step, shape (len(steps), len(lanes)).
    observed: np.ndarray
    #: The log's registers table (reset to a 0..n-1 index).
    registers: pd.DataFrame
    #: Category code (index in CATEGORIES) of each register row.
    codes: np.ndarray


def _int_col(frame: pd.DataFrame, col: str, default: int = 0) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), default, dtype=np.int64)
    return np.asarray(frame[col].fillna(default).astype("int64").to_numpy())


#: Kfuncs whose result (R0) is an owning reference to a program-allocated object.
ALLOC_KFUNCS: tuple[str, ...] = (
    "bpf_obj_new_impl",
    "bpf_percpu_obj_new_impl",
    "bpf_refcount_acquire_impl",
    "bpf_list_pop_front",
    "bpf_list_pop_back",
    "bpf_rbtree_remove",
)


def allocated_types(log: Any) -> frozenset[str]:
    """Return the BTF type names the log shows as program-allocated objects (``MEM_ALLOC``).

    The kernel prints an owning reference to such an object as a plain ``ptr_<type>``, like a
    pointer to a kernel type; it tells them apart only for non-owning references. So a type
    counts as allocated where the log shows it as a non-owning reference, or as the result
    (R0) of one of :data:`ALLOC_KFUNCS`.

    Examples
    --------
    >>> from pathlib import Path
    >>> import bpfkit
    >>> from bpfkit.verifier import load_log
    >>> root = Path(bpfkit.__file__).parents[1]
    >>> sorted(allocated_types(load_log(root / "data/logs/alloc/obj_new_leak.l2.log")[0]))
    ['counter']
    """
    regs = log.registers
    if not len(regs) or "btf_type" not in regs.columns:
        return frozenset()
    out: set[str] = set()
    flags = regs["flags"].astype(str) if "flags" in regs.columns else None
    if flags is not None:
        hit = regs.loc[flags.str.contains("alloc", na=False), "btf_type"].dropna()
        out |= {str(t) for t in hit}
    ins = log.instructions
    if len(ins):
        pattern = "|".join(re.escape(k) for k in ALLOC_KFUNCS)
        calls = set(
            ins.loc[ins["asm"].astype(str).str.contains(pattern, na=False), "insn_idx"].astype(int)
        )
        if calls:
            steps = log.steps.sort_values("step")
            s = _int_col(steps, "step")
            after = {
                int(s[k + 1])
                for k, i in enumerate(_int_col(steps, "insn_idx")[:-1])
                if int(i) in calls
            }
            after |= {
                int(x)
                for x, i in zip(s, _int_col(steps, "insn_idx"), strict=True)
                if int(i) in calls
            }
            at = _remap_steps(regs, state_line_steps(log))
            r0 = regs[
                (np.isin(at, list(after)))
                & (_int_col(regs, "reg") == 0)
                & (regs["type"].astype(str) == "ptr_")
            ]
            out |= {str(t) for t in r0["btf_type"].dropna()}
    return frozenset(out)


def _register_codes(regs: pd.DataFrame, alloc_types: frozenset[str] = frozenset()) -> np.ndarray:
    """Category code of each register row (computed once per distinct combination)."""
    import pandas as pd

    if not len(regs):
        return np.zeros(0, dtype=np.int64)
    cols = ["type", "or_null", "flags", "non_own_ref"]
    key = pd.DataFrame({c: regs[c] if c in regs.columns else None for c in cols})
    if alloc_types and "btf_type" in regs.columns:
        # An owning reference to an allocated object: `ptr_<type>` with a ref_obj_id.
        owning = (
            (regs["type"].astype(str) == "ptr_")
            & regs["btf_type"].isin(list(alloc_types))
            & (
                regs["ref_obj_id"].fillna(0).astype("int64") > 0
                if "ref_obj_id" in regs.columns
                else False
            )
        ).to_numpy()
        if owning.any():
            f = key["flags"].astype(object).where(key["flags"].notna(), "").astype(str)
            key["flags"] = np.where(owning, np.where(f == "", "alloc", f + ",alloc"), f)
    smin = regs["smin"] if "smin" in regs.columns else pd.Series([None] * len(regs))
    smax = regs["smax"] if "smax" in regs.columns else pd.Series([None] * len(regs))
    key["const"] = (
        (smin.notna() & smax.notna() & (smin == smax)).fillna(False).astype(bool).to_numpy()
    )
    key = key.astype({"type": "object", "flags": "object"}).fillna({"flags": ""})
    key["or_null"] = key["or_null"].fillna(False).astype(bool)
    key["non_own_ref"] = key["non_own_ref"].fillna(False).astype(bool)
    index = {k: i for i, k in enumerate(CATEGORIES)}
    key["type"] = key["type"].astype(str)
    group = key.groupby(list(key.columns), sort=False, dropna=False).ngroup().to_numpy()
    firsts = key.drop_duplicates()
    first_group = group[firsts.index.to_numpy()]
    lut = np.zeros(int(group.max()) + 1 if len(group) else 0, dtype=np.int64)
    for g, (typ, or_null, flags, non_own, const) in zip(
        first_group, firsts.itertuples(index=False, name=None), strict=True
    ):
        cat = register_category(
            None if typ in ("None", "nan", "<NA>") else str(typ),
            or_null=bool(or_null),
            flags=str(flags) if flags else None,
            non_own_ref=bool(non_own),
            smin=0 if const else None,
            smax=0 if const else None,
        )
        lut[g] = index[cat]
    return lut[group]


def _call_positions(log: Any, insn: np.ndarray) -> np.ndarray:
    """Positions (into the sorted steps) of the steps that execute a call instruction."""
    ins = log.instructions
    if not len(ins) or "opcode" not in ins.columns:
        return np.zeros(0, dtype=np.int64)
    calls = set()
    for i, op in zip(ins["insn_idx"], ins["opcode"], strict=True):
        try:
            code = int(op, 16) if isinstance(op, str) else int(op)
        except (TypeError, ValueError):
            continue
        if code in (0x85, 0x8D):
            calls.add(int(i))
    if not calls:
        return np.zeros(0, dtype=np.int64)
    return np.nonzero(np.isin(insn, list(calls)))[0].astype(np.int64)


def lane_state(log: Any) -> LaneState:
    """Reconstruct the register state at every step of *log* (see the module docstring);
    kept for the last few logs, so the figures of one log share it."""
    st: LaneState = _memo(log, "lane_state", lambda: _lane_state_impl(log))
    return st


def _lane_state_impl(log: Any) -> LaneState:
    import pandas as pd

    steps_df = log.steps
    steps = _int_col(steps_df, "step")
    order = np.argsort(steps, kind="stable")
    steps = steps[order]
    insn = _int_col(steps_df, "insn_idx", -1)[order]
    step_frame = _int_col(steps_df, "frame")[order]
    regs = log.registers.reset_index(drop=True)
    codes = _register_codes(regs, allocated_types(log))
    n = len(steps)
    frames = sorted({int(f) for f in _int_col(regs, "frame")} | {int(f) for f in step_frame}) or [0]
    lanes = tuple((f, r) for f in frames for r in range(_NREGS))
    lane_of = {lane: j for j, lane in enumerate(lanes)}
    rows = np.full((n, len(lanes)), _NOT_INIT, dtype=np.int64)
    observed = np.zeros((n, len(lanes)), dtype=bool)
    if n == 0:
        return LaneState(steps, insn, lanes, rows, observed, regs, codes)
    if len(regs):
        kinds = log.lines.set_index("line")["kind"] if len(log.lines) else pd.Series(dtype=object)
        r_step = _remap_steps(regs, state_line_steps(log))
        r_line = _int_col(regs, "line")
        r_frame = _int_col(regs, "frame")
        r_reg = _int_col(regs, "reg")
        pos = np.searchsorted(steps, r_step)
        valid = (
            (pos < n) & (steps[np.minimum(pos, n - 1)] == r_step) & (r_reg >= 0) & (r_reg < _NREGS)
        )
        frame_rank = {f: k for k, f in enumerate(frames)}
        rank = np.array(
            [frame_rank.get(int(f), -1) for f in range(int(r_frame.max()) + 1)]
            if len(r_frame)
            else [],
            dtype=np.int64,
        )
        f_ok = (r_frame >= 0) & (r_frame < len(rank))
        lane_idx = np.where(
            f_ok & (r_reg >= 0) & (r_reg < _NREGS),
            rank[np.clip(r_frame, 0, max(len(rank) - 1, 0))] * _NREGS + r_reg,
            -1,
        )
        lane_idx = np.where(lane_idx >= 0, lane_idx, -1).astype(np.int64)
        valid &= lane_idx >= 0
        full_lines = kinds.index[kinds.isin(FULL_STATE_KINDS)].to_numpy()
        full = np.isin(r_line, full_lines)
        # Events: (position, lane, line, sub, value); a full state first resets its frame.
        ev_pos: list[np.ndarray] = []
        ev_lane: list[np.ndarray] = []
        ev_key: list[np.ndarray] = []
        ev_val: list[np.ndarray] = []
        fm = valid & full
        if fm.any():
            resets = pd.DataFrame(
                {"pos": pos[fm], "frame": r_frame[fm], "line": r_line[fm]}
            ).drop_duplicates()
            for reg in range(_NREGS):
                ev_pos.append(resets["pos"].to_numpy())
                ev_lane.append(
                    np.array([lane_of[(int(f), reg)] for f in resets["frame"]], dtype=np.int64)
                )
                ev_key.append(resets["line"].to_numpy() * 2)
                ev_val.append(np.full(len(resets), _NOT_INIT, dtype=np.int64))
        # Calls clobber R1-R5 of the calling frame (printed states never list them again).
        call_pos = _call_positions(log, insn)
        if len(call_pos):
            s_line = _int_col(steps_df, "line")[order]
            for reg in range(1, 6):
                lanes_j = np.array(
                    [lane_of.get((int(step_frame[p]), reg), -1) for p in call_pos], dtype=np.int64
                )
                ok = lanes_j >= 0
                ev_pos.append(call_pos[ok])
                ev_lane.append(lanes_j[ok])
                ev_key.append(s_line[call_pos[ok]] * 2)
                ev_val.append(np.full(int(ok.sum()), _NOT_INIT, dtype=np.int64))
        idx = np.nonzero(valid)[0]
        ev_pos.append(pos[idx])
        ev_lane.append(lane_idx[idx])
        ev_key.append(r_line[idx] * 2 + 1)
        ev_val.append(idx.astype(np.int64))
        e_pos = np.concatenate(ev_pos)
        e_lane = np.concatenate(ev_lane)
        e_key = np.concatenate(ev_key)
        e_val = np.concatenate(ev_val)
        rows, obs = _fill(n, len(lanes), e_pos, e_lane, e_key, e_val)
        # A bpf-to-bpf call starts a new frame: R1-R5 are the caller's arguments, R10 its
        # frame pointer, the rest not initialized (until the callee's state is printed).
        path = _int_col(steps_df, "path")[order]
        pushes = np.nonzero((step_frame[1:] > step_frame[:-1]) & (path[1:] == path[:-1]))[0] + 1
        if len(pushes):
            fp_row = len(regs)
            codes = np.append(codes, CATEGORIES.index("fp"))
            x_pos, x_lane, x_val = [], [], []
            for p_ in pushes:
                p = int(p_)
                callee, caller = int(step_frame[p]), int(step_frame[p - 1])
                for reg in range(_NREGS):
                    if reg in (1, 2, 3, 4, 5):
                        # The arguments as they were before the call (which clobbers them).
                        val = int(rows[p - 2, lane_of[(caller, reg)]]) if p >= 2 else _NOT_INIT
                    else:
                        val = fp_row if reg == 10 else _NOT_INIT
                    x_pos.append(p)
                    x_lane.append(lane_of[(callee, reg)])
                    x_val.append(val)
            e_pos = np.concatenate((e_pos, np.array(x_pos, dtype=np.int64)))
            e_lane = np.concatenate((e_lane, np.array(x_lane, dtype=np.int64)))
            e_key = np.concatenate((e_key, np.full(len(x_pos), -1, dtype=np.int64)))
            e_val = np.concatenate((e_val, np.array(x_val, dtype=np.int64)))
            rows, _ = _fill(n, len(lanes), e_pos, e_lane, e_key, e_val)
        observed = obs
    lane_frames = np.array([f for f, _ in lanes])
    rows[lane_frames[None, :] > step_frame[:, None]] = _ABSENT
    return LaneState(steps, insn, lanes, rows, observed, regs, codes)


def _fill(
    n: int, nl: int, e_pos: np.ndarray, e_lane: np.ndarray, e_key: np.ndarray, e_val: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply events (last one per position and lane by key) and carry them forward."""
    o = np.lexsort((e_key, e_lane, e_pos))
    e_pos, e_lane, e_val, e_key = e_pos[o], e_lane[o], e_val[o], e_key[o]
    last = np.ones(len(e_pos), dtype=bool)
    last[:-1] = (e_pos[1:] != e_pos[:-1]) | (e_lane[1:] != e_lane[:-1])
    e_pos, e_lane, e_val, e_key = e_pos[last], e_lane[last], e_val[last], e_key[last]
    event = np.zeros((n, nl), dtype=bool)
    event[e_pos, e_lane] = True
    value = np.full((n, nl), _NOT_INIT, dtype=np.int64)
    value[e_pos, e_lane] = e_val
    src = np.where(event, np.arange(n)[:, None], -1)
    src = np.maximum.accumulate(src, axis=0)
    cols = np.broadcast_to(np.arange(nl), src.shape)
    rows = np.where(src >= 0, value[np.maximum(src, 0), cols], _NOT_INIT)
    observed = np.zeros((n, nl), dtype=bool)
    observed[e_pos, e_lane] = (e_val >= 0) & (e_key >= 0)
    return rows, observed


def _state(log_or_state: Any) -> LaneState:
    """The LaneState of a log (the last few are kept: several figures share one)."""
    if isinstance(log_or_state, LaneState):
        return log_or_state
    return lane_state(log_or_state)


def register_lanes(log: Any) -> pd.DataFrame:
    """Return the register type category of every lane at every step.

    Parameters
    ----------
    log : bpfkit.verifier.Log or LaneState

    Returns
    -------
    DataFrame
        Index ``step``; one column per lane (``R0`` .. ``R10``, ``f1.R0`` .. for deeper frames),
        values categorical over :data:`bpfkit.plot.palette.CATEGORIES`, NaN where the lane's
        frame is not active; plus a column ``insn_idx``.
    """
    import pandas as pd

    st = _state(log)
    cats = np.array(CATEGORIES, dtype=object)
    codes = np.where(st.rows >= 0, st.codes[np.maximum(st.rows, 0)] if len(st.codes) else 0, 0)
    data: dict[str, Any] = {"insn_idx": st.insn_idx}
    for j, (f, r) in enumerate(st.lanes):
        col = cats[codes[:, j]].copy()
        col[st.rows[:, j] == _ABSENT] = None
        data[lane_name(f, r)] = pd.Categorical(col, categories=list(CATEGORIES))
    return pd.DataFrame(data, index=pd.Index(st.steps, name="step"))


def register_marks(log: Any) -> pd.DataFrame:
    """Return where the log marks a register written (``_w``) or precise (``P``).

    Returns
    -------
    DataFrame
        Columns ``step``, ``lane``, ``written``, ``precise``; one row per printed register
        that carries a mark.
    """
    import pandas as pd

    st = _state(log)
    regs = st.registers
    if not len(regs):
        return pd.DataFrame({"step": [], "lane": [], "written": [], "precise": []})
    written = (
        regs["written"].fillna(False).astype(bool)
        if "written" in regs
        else pd.Series(False, index=regs.index)
    )
    precise = (
        regs["precise"].fillna(False).astype(bool)
        if "precise" in regs
        else pd.Series(False, index=regs.index)
    )
    sel = written | precise
    sub = regs[sel]
    return pd.DataFrame(
        {
            "step": _int_col(sub, "step"),
            "lane": [
                lane_name(int(f), int(r))
                for f, r in zip(_int_col(sub, "frame"), _int_col(sub, "reg"), strict=True)
            ],
            "written": written[sel].to_numpy(),
            "precise": precise[sel].to_numpy(),
        }
    )


def bin_codes(codes: np.ndarray, max_columns: int) -> tuple[np.ndarray, int]:
    """Downsample a (steps x lanes) code matrix to at most *max_columns* rows by taking the
    most frequent code per bin of steps; return the binned matrix and the bin width.

    Negative codes (absent) count as a code too.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[1], [1], [2], [3], [3], [3]])
    >>> b, width = bin_codes(m, 2)
    >>> b.ravel().tolist(), width
    ([1, 3], 3)
    """
    n, lanes = codes.shape
    if n <= max_columns:
        return codes, 1
    width = -(-n // max_columns)
    nb = -(-n // width)
    shift = codes.astype(np.int64) + 2  # absent (-2) and not-init (-1) become 0 and 1
    ncode = int(shift.max()) + 1
    binned = np.empty((nb, lanes), dtype=np.int64)
    bins = np.arange(n) // width
    for j in range(lanes):
        counts = np.zeros((nb, ncode), dtype=np.int64)
        np.add.at(counts, (bins, shift[:, j]), 1)
        binned[:, j] = counts.argmax(axis=1) - 2
    return binned, width


_RANGE_COLS = (
    "smin",
    "smax",
    "umin",
    "umax",
    "smin32",
    "smax32",
    "umin32",
    "umax32",
    "var_off_value",
    "var_off_mask",
)


def range_series(
    log: Any, regs: list[int] | tuple[int, ...] | None = None, *, frame: int = 0
) -> pd.DataFrame:
    """Return the scalar bounds of the chosen registers at every step.

    Parameters
    ----------
    log : bpfkit.verifier.Log or LaneState
    regs : list of int, optional
        Register numbers; default: the (at most 4) registers of *frame* most often printed
        as a non-constant scalar.
    frame : int
        The frame whose registers are meant.

    Returns
    -------
    DataFrame
        Long form: ``step``, ``insn_idx``, ``reg``, the bounds ``smin .. umax32`` and
        ``var_off_value``/``var_off_mask`` as floats (NaN where the register is not a scalar),
        ``known_bits`` (64 minus the unknown bits of var_off), ``observed`` (printed at that
        step), ``change`` (``"narrow"``/``"widen"`` where a printed signed range is narrower or
        wider than at the step before, else ``""``) and ``category``.
    """
    import pandas as pd

    st = _state(log)
    cat_index = {k: i for i, k in enumerate(CATEGORIES)}
    scalar_codes = {cat_index["scalar"], cat_index["const"]}
    if regs is None:
        counts: dict[int, int] = {}
        for j, (f, r) in enumerate(st.lanes):
            if f != frame:
                continue
            obs = st.rows[:, j][st.observed[:, j]]
            counts[r] = int(np.sum(st.codes[obs] == cat_index["scalar"])) if len(obs) else 0
        regs = [r for r, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c > 0][:4]
    regs_df = st.registers
    values: dict[str, np.ndarray] = {}
    for col in _RANGE_COLS:
        if col in regs_df.columns:
            values[col] = pd.to_numeric(regs_df[col], errors="coerce").astype("float64").to_numpy()
        else:
            values[col] = np.full(len(regs_df), np.nan)
        # Rows past the table are synthesized (a callee's frame pointer): no bounds.
        values[col] = np.append(values[col], np.full(len(st.codes) - len(regs_df), np.nan))
    parts = []
    lane_of = {lane: j for j, lane in enumerate(st.lanes)}
    for r in regs:
        found = lane_of.get((frame, int(r)))
        if found is None:
            continue
        j = found
        if j < 0:
            continue
        rows = st.rows[:, j]
        ok = rows >= 0
        safe = np.maximum(rows, 0)
        codes = np.where(ok, st.codes[safe] if len(st.codes) else 0, -1)
        is_scalar = np.isin(codes, list(scalar_codes))
        part: dict[str, Any] = {
            "step": st.steps,
            "insn_idx": st.insn_idx,
            "reg": np.full(len(rows), int(r)),
        }
        for col in _RANGE_COLS:
            v = values[col][safe] if len(values[col]) else np.full(len(rows), np.nan)
            part[col] = np.where(ok & is_scalar, v, np.nan)
        mask = part["var_off_mask"]
        with np.errstate(invalid="ignore"):
            known = np.array(
                [64 - bin(int(m)).count("1") if m == m else np.nan for m in mask], dtype=float
            )
        part["known_bits"] = known
        part["observed"] = st.observed[:, j]
        width = part["smax"] - part["smin"]
        prev = np.concatenate(([np.nan], width[:-1]))
        with np.errstate(invalid="ignore"):
            part["change"] = np.where(
                st.observed[:, j] & (width < prev),
                "narrow",
                np.where(st.observed[:, j] & (width > prev), "widen", ""),
            )
        part["category"] = [CATEGORIES[c] if c >= 0 else "not_init" for c in codes]
        parts.append(pd.DataFrame(part))
    if not parts:
        cols = [
            "step",
            "insn_idx",
            "reg",
            *_RANGE_COLS,
            "known_bits",
            "observed",
            "change",
            "category",
        ]
        return pd.DataFrame({c: [] for c in cols})
    return pd.concat(parts, ignore_index=True)


def leaked_references(log: Any) -> dict[int, int]:
    """Return ``{ref_obj_id: alloc_insn}`` from the log's ``Unreleased reference`` message.

    Examples
    --------
    >>> class L:
    ...     error = "Unreleased reference id=2 alloc_insn=6"
    ...     lines = None
    >>> leaked_references(L())
    {2: 6}
    """
    texts = [str(log.error or "")]
    lines = getattr(log, "lines", None)
    if lines is not None and len(lines):
        sub = lines.loc[lines["kind"].isin(("error", "message")), "text"]
        texts.extend(sub[sub.str.contains("Unreleased reference", na=False)].tolist())
    out: dict[int, int] = {}
    for text in texts:
        for m in _UNRELEASED.finditer(text):
            out[int(m.group(1))] = int(m.group(2))
    return out


def state_line_steps(log: Any) -> dict[int, int]:
    """Return ``{line: step}`` for every line that prints a state: the step after which that
    state holds.

    The comment after an instruction (``7: (bf) r7 = r0 ; R7_w=...``) belongs to that
    instruction's step. A state on its own line (``8: R0_w=...``, printed when other messages
    came between) is the state after the previous step of the same path. A ``from X to Y:``
    state, and a state line right after it, belong to the first step of the new path.
    """
    return _memo(log, "state_line_steps", lambda: _state_line_steps(log))  # type: ignore[no-any-return]


def _state_line_steps(log: Any) -> dict[int, int]:
    lines = log.lines
    steps = log.steps
    if not len(lines) or not len(steps):
        return {}
    sel = lines[lines["kind"].isin(STATE_KINDS)]
    line = _int_col(sel, "line")
    kind = sel["kind"].astype(str).to_numpy()
    order = np.argsort(_int_col(steps, "line"), kind="stable")
    step_lines = _int_col(steps, "line")[order]
    step_nums = _int_col(steps, "step")[order]
    branch_lines = np.sort(lines.loc[lines["kind"] == "branch", "line"].astype("int64").to_numpy())
    n = len(step_lines)
    nxt = np.searchsorted(step_lines, line, side="left")
    nxt_c = np.minimum(nxt, n - 1)
    prev = nxt - 1
    prev_c = np.maximum(prev, 0)
    exact = (kind == "insn_state") & (nxt < n) & (step_lines[nxt_c] == line)
    # A branch between the previous instruction and this line starts a new path.
    b = np.searchsorted(branch_lines, step_lines[prev_c], side="right")
    b_line = np.where(
        b < len(branch_lines),
        branch_lines[np.minimum(b, max(len(branch_lines) - 1, 0))] if len(branch_lines) else 0,
        np.iinfo(np.int64).max,
    )
    no_branch = (b >= len(branch_lines)) | (b_line > line)
    use_prev = ~exact & (kind == "state") & (prev >= 0) & no_branch
    use_prev |= ~exact & (nxt >= n) & (prev >= 0)
    out_step = np.where(
        exact, step_nums[nxt_c], np.where(use_prev, step_nums[prev_c], step_nums[nxt_c])
    )
    keep = exact | use_prev | (nxt < n)
    return dict(zip(line[keep].tolist(), out_step[keep].tolist(), strict=True))


_MEMO: list[tuple[Any, dict[str, Any]]] = []


def _memo(log: Any, key: str, compute: Any) -> Any:
    """Results computed from one log, kept for the last few logs (figures share them)."""
    found = [store for obj, store in _MEMO if obj is log]
    if found:
        store = found[0]
    else:
        store = {}
        _MEMO.append((log, store))
        del _MEMO[:-4]
    if key not in store:
        store[key] = compute()
    return store[key]


def _remap_steps(table: pd.DataFrame, line_steps: dict[int, int]) -> np.ndarray:
    """The step of each row of a state-derived table (registers, refs), by its line."""
    import pandas as pd

    lines = pd.Series(_int_col(table, "line"))
    steps = _int_col(table, "step")
    mapped = lines.map(line_steps).to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(mapped), steps, mapped).astype(np.int64)


def _held_refs_impl(log: Any) -> dict[int, set[int]]:
    """``{step: references held after it}`` for every step after which a state was printed
    (the last state printed for a step wins): the ids ``refs=`` lists, and the
    ``ref_obj_id`` of every register in the state (the kernel leaves ``refs=`` out while a
    spin lock is held, but the registers still carry the id until it is released)."""
    line_steps = state_line_steps(log)
    refs = log.refs
    by_line: dict[int, set[int]] = {}
    if len(refs):
        ids = refs.groupby("line")["ref_obj_id"].agg(lambda x: set(int(v) for v in x))
        by_line = {int(k): v for k, v in ids.items()}
    held: dict[int, set[int]] = {}
    empty: set[int] = set()
    for line, step in sorted(line_steps.items()):
        held[step] = set(by_line[line]) if line in by_line else empty
    st = _state(log)
    regs = st.registers
    locked = lock_held(log)
    if held and locked.any() and len(regs) and "ref_obj_id" in regs.columns:
        rid = np.append(
            _int_col(regs, "ref_obj_id"), np.zeros(len(st.codes) - len(regs), dtype=np.int64)
        )
        at = np.array(sorted(held), dtype=np.int64)
        pos = np.searchsorted(st.steps, at)
        for k, step in enumerate(at):
            if not locked[pos[k]]:
                continue
            rows = st.rows[pos[k]]
            ids = rid[rows[rows >= 0]]
            if (ids > 0).any():
                held[int(step)] = held[int(step)] | {int(x) for x in ids[ids > 0]}
    return held


_LOCK = re.compile(r"call bpf_(?:res_)?spin_lock")
_UNLOCK = re.compile(r"call bpf_(?:res_)?spin_unlock")


def _lock_held_impl(log: Any) -> np.ndarray:
    """Return, per step (ascending), whether a spin lock is held after it.

    Walks the steps: ``call bpf_spin_lock`` takes it, ``call bpf_spin_unlock`` drops it, and a
    path resumed by ``from X to Y:`` starts with the lock state of its parent's visit of X.
    (While a lock is held the kernel's ``refs=`` can leave out the references held, so the
    reference figures also read ``ref_obj_id`` from the registers there.)
    """
    steps = log.steps.sort_values("step")
    insn = _int_col(steps, "insn_idx", -1)
    n = len(insn)
    out = np.zeros(n, dtype=bool)
    ins = log.instructions
    if not n or not len(ins):
        return out
    asm = dict(zip(ins["insn_idx"].astype(int), ins["asm"].astype(str), strict=True))
    lock_insns = {i for i, a in asm.items() if _LOCK.search(a)}
    if not lock_insns:
        return out
    unlock_insns = {i for i, a in asm.items() if _UNLOCK.search(a)}
    path = _int_col(steps, "path")
    tree = path_tree(log)
    s = _int_col(steps, "step")
    pos_of = {int(v): i for i, v in enumerate(s)}
    held = False
    for i in range(n):
        if i and path[i] != path[i - 1]:
            b = tree.nodes[int(path[i])].get("branch_step") if int(path[i]) in tree else None
            held = bool(out[pos_of[b]]) if b is not None and b in pos_of else False
        if int(insn[i]) in lock_insns:
            held = True
        elif int(insn[i]) in unlock_insns:
            held = False
        out[i] = held
    return out


def _src_lines(log: Any) -> dict[int, int]:
    ins = log.instructions
    if not len(ins) or "src_line" not in ins.columns:
        return {}
    sub = ins.dropna(subset=["src_line"]).drop_duplicates("insn_idx")
    return {int(i): int(s) for i, s in zip(sub["insn_idx"], sub["src_line"], strict=True)}


def src_lines(log: Any) -> dict[int, int]:
    """C source line of each instruction the log shows (``insn_idx -> line``)."""
    return _src_lines(log)


_CALL = re.compile(r"call ([A-Za-z_][\w.]*)")
#: Sinks that hand an object to a collection or map field (not a release).
TRANSFER_SINKS = frozenset({"list_push", "rbtree_add", "kptr_xchg"})


def present(v: Any) -> bool:
    """*v* is a value: not None, NaN or pandas' NA (``tolist()`` of a nullable column, e.g. the
    ``src_line`` of a log whose instructions have source lines only in part, gives NA, whose
    truth value raises)."""
    try:
        return v is not None and bool(v == v)
    except TypeError:
        return False


def call_names(log: Any) -> dict[int, str]:
    """The called function of each call instruction the log shows (``insn_idx -> name``)."""
    ins = log.instructions
    out: dict[int, str] = {}
    if not len(ins):
        return out
    for idx, asm in zip(ins["insn_idx"].tolist(), ins["asm"].tolist(), strict=False):
        m = _CALL.search(str(asm or ""))
        if m and present(idx):
            out[int(idx)] = m.group(1).split("#", 1)[0]
    return out


def reference_end_kinds(log: Any, lifetimes: pd.DataFrame) -> list[str]:
    """The ``end_kind`` of each row of *lifetimes* (:func:`reference_lifetimes`), with
    ``"release"`` told apart from ``"transfer"``: a call that hands the object to a list, an
    rbtree or a kptr field (``bpf_list_push_*``, ``bpf_rbtree_add*``, ``bpf_kptr_xchg``)
    ends the program's reference but not the object's life.
    """
    from bpfkit.ownership.dynamic import ref_events, sink_of_call

    calls = call_names(log)
    steps = log.steps
    step_insn = dict(zip(steps["step"].tolist(), steps["insn_idx"].tolist(), strict=False))
    # the verifier's own events: a transfer seen on the reference's registers (under a lock,
    # where refs= is not printed, the stretch runs on to the next printed refs=)
    transfers: dict[int, list[int]] = {}
    for ev in ref_events(log):
        if ev.event == "transfer":
            transfers.setdefault(ev.ref_obj_id, []).append(ev.step)
    out = []
    for rid, end_kind, end_insn, start_step, end_step in zip(
        lifetimes["ref_obj_id"].tolist(),
        lifetimes["end_kind"].tolist(),
        lifetimes["end_insn"].tolist(),
        lifetimes["start_step"].tolist(),
        lifetimes["end_step"].tolist(),
        strict=True,
    ):
        kind = end_kind
        if end_kind == "release":
            if any(start_step <= t <= end_step + 1 for t in transfers.get(int(rid), ())):
                kind = "transfer"
            for cand in (end_insn, step_insn.get(end_step)):
                name = calls.get(int(cand)) if cand is not None and present(cand) else None
                if name is not None:
                    if sink_of_call(name) in TRANSFER_SINKS:
                        kind = "transfer"
                    break
        out.append(kind)
    return out


def _ref_objects(log: Any) -> dict[int, str]:
    regs = log.registers
    if not len(regs) or "ref_obj_id" not in regs.columns:
        return {}
    sub = regs[regs["ref_obj_id"].fillna(0).astype("int64") > 0].drop_duplicates("ref_obj_id")
    out: dict[int, str] = {}
    for rec in sub.itertuples(index=False):
        btf = getattr(rec, "btf_type", None)
        flags = getattr(rec, "flags", None)
        if isinstance(btf, str) and btf:
            text = btf
        else:
            text = str(rec.type) + (f" ({flags})" if isinstance(flags, str) and flags else "")
        out[int(rec.ref_obj_id)] = text
    return out


def reference_counts(log: Any) -> pd.DataFrame:
    """Return the number of references held (``refs=``) after every step.

    Returns
    -------
    DataFrame
        ``step``, ``insn_idx``, ``path``, ``refs``; a step without a printed state carries
        the count of the last printed one.
    """
    import pandas as pd

    steps = log.steps.sort_values("step")
    s = _int_col(steps, "step")
    held = _held_refs(log)
    per = pd.Series({k: len(v) for k, v in sorted(held.items())}, dtype="int64")
    pos = np.searchsorted(per.index.to_numpy(), s, side="right") - 1
    vals = per.to_numpy()
    out = np.where(pos >= 0, vals[np.maximum(pos, 0)] if len(vals) else 0, 0)
    return pd.DataFrame(
        {
            "step": s,
            "insn_idx": _int_col(steps, "insn_idx", -1),
            "path": _int_col(steps, "path"),
            "refs": out.astype("int64"),
        }
    )


def reference_lifetimes(log: Any) -> pd.DataFrame:
    """Return one row per stretch of steps a reference is held within one explored path.

    A stretch starts where the reference first appears in ``refs=`` (``start_kind``
    ``"acquire"``) or at the start of a path that inherits it (``"inherited"``), and ends
    where a printed state no longer lists it (``"release"``), at the end of the path
    (``"leak"`` when the kernel reports it unreleased, ``"open"`` when the log is cut off,
    ``"path_end"`` otherwise: pruned or abandoned).

    Returns
    -------
    DataFrame
        ``ref_obj_id``, ``path``, ``start_step``, ``end_step`` (last step held), ``start_insn``,
        ``end_insn`` (the releasing instruction, or the last one of the path),
        ``start_src_line``, ``end_src_line``, ``start_kind``, ``end_kind``, ``alloc_insn``
        (from the kernel's ``Unreleased reference`` message, else NaN), ``object`` (what the
        reference points to: the BTF type, or the register type and flags).
    """
    # every figure of a log asks (references, summary, whether there is any): computed once
    frame: pd.DataFrame = _memo(log, "reference_lifetimes", lambda: _reference_lifetimes(log))
    return frame.copy()


def _reference_lifetimes(log: Any) -> pd.DataFrame:
    import pandas as pd

    steps = log.steps.sort_values("step")
    s = _int_col(steps, "step")
    insn = _int_col(steps, "insn_idx", -1)
    path = _int_col(steps, "path")
    src = _src_lines(log)
    leaks = leaked_references(log)
    held_at = _held_refs(log)
    objects = _ref_objects(log)
    pos_of = {int(v): i for i, v in enumerate(s)}
    rows: list[dict[str, Any]] = []
    open_: dict[int, tuple[int, str]] = {}  # ref -> (start position, start kind)
    n = len(s)
    truncated = bool(getattr(log, "truncated", False))

    def close(rid: int, end_pos: int, end_insn: int, kind: str) -> None:
        start, start_kind = open_.pop(rid)
        rows.append(
            {
                "ref_obj_id": rid,
                "path": int(path[start]),
                "start_step": int(s[start]),
                "end_step": int(s[end_pos]),
                "start_insn": int(insn[start]),
                "end_insn": end_insn,
                "start_src_line": src.get(int(insn[start])),
                "end_src_line": src.get(end_insn),
                "start_kind": start_kind,
                "end_kind": kind,
                "alloc_insn": leaks.get(rid),
                "object": objects.get(rid, ""),
            }
        )

    known_positions = sorted(pos_of[k] for k in held_at if k in pos_of)
    path_end = np.ones(n, dtype=bool)
    if n > 1:
        path_end[:-1] = path[1:] != path[:-1]
    last_path = int(path[-1]) if n else 0
    kp = 0
    for i in range(n):
        new_path = i == 0 or path[i] != path[i - 1]
        if kp < len(known_positions) and known_positions[kp] == i:
            kp += 1
            held = held_at[int(s[i])]
            if held.symmetric_difference(open_):
                for rid in sorted(set(open_) - held):
                    close(rid, i - 1 if i > 0 else i, int(insn[i]), "release")
            for rid in (
                sorted(held - open_.keys())
                if len(held) != len(open_) or held != open_.keys()
                else ()
            ):
                open_[rid] = (i, "inherited" if new_path and i > 0 else "acquire")
        if path_end[i] and open_:
            final = int(path[i]) == last_path and i == n - 1
            for rid in sorted(open_):
                if final and rid in leaks:
                    kind = "leak"
                elif final and truncated:
                    kind = "open"
                else:
                    kind = "path_end"
                close(rid, i, int(insn[i]), kind)
    cols = [
        "ref_obj_id",
        "path",
        "start_step",
        "end_step",
        "start_insn",
        "end_insn",
        "start_src_line",
        "end_src_line",
        "start_kind",
        "end_kind",
        "alloc_insn",
        "object",
    ]
    out = pd.DataFrame(rows, columns=cols)
    for col in ("start_src_line", "end_src_line", "alloc_insn"):
        out[col] = out[col].astype("Int64")
    return out.sort_values(["ref_obj_id", "start_step"], kind="stable").reset_index(drop=True)


def non_owning_refs(log: Any) -> pd.DataFrame:
    """Return the stretches of steps where a register holds a non-owning reference (also one
    that may be NULL, ``ptr_or_null_<type>(non_own_ref)``).

    Returns
    -------
    DataFrame
        ``lane``, ``frame``, ``reg``, ``start_step``, ``end_step``, ``start_insn``,
        ``end_insn``, ``btf_type`` (pointee type at the start).
    """
    import pandas as pd

    st = _state(log)
    regs = st.registers
    flag = np.zeros(len(st.codes), dtype=bool)
    if "non_own_ref" in regs.columns:
        flag[: len(regs)] = regs["non_own_ref"].fillna(False).astype(bool).to_numpy()
    btf = regs["btf_type"].tolist() if "btf_type" in regs.columns else [None] * len(regs)
    btf += [None] * (len(st.codes) - len(btf))
    rows = []
    for j, (f, r) in enumerate(st.lanes):
        col = st.rows[:, j]
        ok = col >= 0
        hit = np.zeros(len(col), dtype=bool)
        if len(st.codes):
            hit[ok] = flag[col[ok]]
        if not hit.any():
            continue
        edges = np.diff(np.concatenate(([0], hit.astype(np.int8), [0])))
        starts = np.nonzero(edges == 1)[0]
        ends = np.nonzero(edges == -1)[0] - 1
        for a, b in zip(starts, ends, strict=True):
            rows.append(
                {
                    "lane": lane_name(f, r),
                    "frame": f,
                    "reg": r,
                    "start_step": int(st.steps[a]),
                    "end_step": int(st.steps[b]),
                    "start_insn": int(st.insn_idx[a]),
                    "end_insn": int(st.insn_idx[b]),
                    "btf_type": btf[int(col[a])],
                }
            )
    cols = ["lane", "frame", "reg", "start_step", "end_step", "start_insn", "end_insn", "btf_type"]
    return pd.DataFrame(rows, columns=cols)


def visit_counts(log: Any) -> pd.DataFrame:
    """Return how many times the verifier visited each instruction.

    Returns
    -------
    DataFrame
        One row per instruction the log shows (visited or not), ascending ``insn_idx``:
        ``insn_idx``, ``visits``, ``asm``, ``src_file``, ``src_line``, ``src_text``.
        ``visits`` sums to the number of steps.
    """
    import pandas as pd

    steps = log.steps
    counts = (
        steps["insn_idx"].dropna().astype("int64").value_counts()
        if len(steps)
        else pd.Series(dtype="int64")
    )
    ins = (
        log.instructions.drop_duplicates("insn_idx") if len(log.instructions) else log.instructions
    )
    idx = (
        sorted({int(i) for i in ins["insn_idx"]} | {int(i) for i in counts.index})
        if len(ins) or len(counts)
        else []
    )
    out = pd.DataFrame({"insn_idx": np.array(idx, dtype=np.int64)})
    out["visits"] = out["insn_idx"].map(counts).fillna(0).astype("int64")
    info = ins.set_index("insn_idx") if len(ins) else None
    for col in ("asm", "src_file", "src_line", "src_text"):
        if info is not None and col in info.columns:
            out[col] = out["insn_idx"].map(info[col])
        else:
            out[col] = None
    out["src_line"] = pd.to_numeric(out["src_line"], errors="coerce").astype("Int64")
    return out


def effort_series(log: Any) -> pd.DataFrame:
    """Return the verifier's effort over steps: paths started, prunes and states printed.

    Returns
    -------
    DataFrame
        Per step: ``step``, ``insn_idx``, ``path``, ``paths`` (explored paths so far),
        ``prunes`` (``safe`` so far), ``states`` (full states printed so far) and ``refs``.
    """
    import pandas as pd

    rc = reference_counts(log)
    s = rc["step"].to_numpy()
    out = rc.rename(columns={"refs": "refs"}).copy()
    out["paths"] = (rc["path"].to_numpy() + 1) if len(rc) else []

    def cum(events: np.ndarray) -> np.ndarray:
        ev = np.sort(events)
        return np.searchsorted(ev, s, side="right")

    prunes = _int_col(log.prunes, "step") if len(log.prunes) else np.zeros(0, dtype=np.int64)
    out["prunes"] = cum(prunes)
    lines = log.lines
    regs = log.registers
    if len(regs) and len(lines):
        full_lines = set(lines.loc[lines["kind"].isin(FULL_STATE_KINDS), "line"].astype(int))
        sub = regs[regs["line"].isin(full_lines)].drop_duplicates("line")
        out["states"] = cum(_int_col(sub, "step"))
    else:
        out["states"] = 0
    return pd.DataFrame(out[["step", "insn_idx", "path", "paths", "prunes", "states", "refs"]])


def _path_tree_impl(log: Any) -> nx.DiGraph:
    """Return the explored paths as a tree: path *k* is a child of the path whose visit of
    ``from_insn`` pushed the branch it resumes (``from X to Y:``), matched last in, first out.

    Node attributes: ``path``, ``from_insn``, ``to_insn``, ``start_step``, ``end_step``,
    ``steps``, ``end_insn``, ``branch_step`` (the parent's step that pushed it, or None),
    ``depth``, ``end`` (``"prune"``: reached a state already verified safe, ``"exit"``,
    ``"error"``: the path the kernel rejected, ``"other"``). Edges run parent -> child with ``branch_step``.
    A branch pruned as soon as it was popped (``from X to Y: safe``) is a leaf with
    ``steps=0`` (it starts after the step before its line; ``end_step = start_step - 1``).
    Nodes are numbered as the log numbers paths: one per ``from X to Y`` line.
    """
    steps = log.steps.sort_values("step")
    s = _int_col(steps, "step")
    insn = _int_col(steps, "insn_idx", -1)
    path = _int_col(steps, "path")
    g = nx.DiGraph()
    if not len(s):
        return g
    lines_of = _int_col(steps, "line")
    prune_lines = (
        np.sort(_int_col(log.prunes, "line")) if len(log.prunes) else np.zeros(0, dtype=np.int64)
    )
    exits = set()
    ins = log.instructions
    if len(ins) and "opcode" in ins.columns:
        for i, op in zip(ins["insn_idx"], ins["opcode"], strict=True):
            if str(op).lower() == "95" or op == 0x95:
                exits.add(int(i))
    rejected = getattr(log, "verdict", None) == "reject"
    boundaries = np.nonzero(np.diff(path))[0] + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries - 1, [len(s) - 1]))
    # Replay the pushes and pops: every visit may have pushed a branch; a `from X to Y:`
    # line (also one pruned at once, `from X to Y: safe`) pops the latest unclaimed visit of X.
    visits: dict[int, list[int]] = {}
    parent_of: dict[int, tuple[int, int, int | None]] = {}
    # Branches pruned as soon as they were popped: (path number, from, to, claim, position).
    pruned: list[tuple[int, int, int, int, int]] = []
    br = log.branches
    prune_line_set = {int(x) for x in prune_lines}
    cursor = 0
    if len(br):
        order = np.argsort(_int_col(br, "line"), kind="stable")
        for k, (ln, fr, to) in enumerate(
            zip(
                _int_col(br, "line")[order],
                _int_col(br, "from_insn")[order],
                _int_col(br, "to_insn")[order],
                strict=True,
            )
        ):
            while cursor < len(s) and lines_of[cursor] < ln:
                visits.setdefault(int(insn[cursor]), []).append(cursor)
                cursor += 1
            stack = visits.get(int(fr))
            claim = stack.pop() if stack else None
            if int(ln) in prune_line_set:
                # Paths are numbered by `from X to Y:` lines, pruned ones included.
                if claim is not None:
                    pruned.append((k + 1, int(fr), int(to), claim, cursor))
                continue
            if cursor >= len(s):
                continue
            parent_of.setdefault(int(path[cursor]), (int(fr), int(to), claim))
    # `N: safe` ends the path it is in; `from X to Y: safe` is a popped branch pruned at once.
    branch_lines = set(_int_col(br, "line").tolist()) if len(br) else set()
    own_prunes = np.array([x for x in prune_lines if int(x) not in branch_lines], dtype=np.int64)
    for a, b in zip(starts, ends, strict=True):
        p = int(path[a])
        fr_, to_, parent_pos = parent_of.get(p, (None, None, None))
        fr, to = fr_, to_
        g.add_node(
            p,
            path=p,
            from_insn=None if fr is None else int(fr),
            to_insn=None if to is None else int(to),
            start_step=int(s[a]),
            end_step=int(s[b]),
            steps=int(b - a + 1),
            end_insn=int(insn[b]),
            branch_step=int(s[parent_pos]) if parent_pos is not None else None,
            depth=0,
            end=_path_end(int(b), len(s), lines_of, own_prunes, int(insn[b]) in exits, rejected),
        )
        if parent_pos is not None and int(path[parent_pos]) != p:
            parent = int(path[parent_pos])
            g.add_edge(parent, p, branch_step=int(s[parent_pos]))
            g.nodes[p]["depth"] = g.nodes[parent]["depth"] + 1
    for p, fr, to, claim, pos in pruned:
        parent = int(path[claim])
        if p in g or parent not in g:
            continue
        at = int(s[pos - 1]) + 1 if pos > 0 else 0  # popped after the step before it
        g.add_node(
            p,
            path=p,
            from_insn=fr,
            to_insn=to,
            start_step=at,
            end_step=at - 1,
            steps=0,
            end_insn=to,
            branch_step=int(s[claim]),
            depth=g.nodes[parent]["depth"] + 1,
            end="prune",
        )
        g.add_edge(parent, p, branch_step=int(s[claim]))
    return g


def _path_end(
    b: int, n: int, lines_of: np.ndarray, prune_lines: np.ndarray, is_exit: bool, rejected: bool
) -> str:
    """How the path whose last step is at position *b* ended."""
    after = lines_of[b + 1] if b + 1 < n else np.iinfo(np.int64).max
    k = int(np.searchsorted(prune_lines, lines_of[b], side="left"))
    if k < len(prune_lines) and prune_lines[k] < after:
        return "prune"
    if b == n - 1 and rejected:
        return "error"
    return "exit" if is_exit else "other"


def compare_logs(a: Any, b: Any) -> pd.DataFrame:
    """Return per-instruction visits of two logs side by side.

    Returns
    -------
    DataFrame
        ``insn_idx``, ``visits_a``, ``visits_b``, ``diff`` (b - a), ``src_line`` (from *a*,
        else *b*), ``asm_a``, ``asm_b`` (to see where the two builds differ).
    """
    va = visit_counts(a).set_index("insn_idx")
    vb = visit_counts(b).set_index("insn_idx")
    return _compare_by_insn(va, vb)


def compare_lines(a: Any, b: Any) -> pd.DataFrame:
    """Return visits per C source line of two logs side by side: the comparison for two
    builds of one program, whose instruction indices shift while the C lines stay.

    Returns
    -------
    DataFrame
        ``src_file``, ``src_line`` (-1 and ``""`` for instructions without line info),
        ``visits_a``, ``visits_b``, ``diff`` (b - a), ``insns_a``, ``insns_b`` (instructions
        of that line each log shows), ``src_text``. ``visits_a`` sums to the steps of *a*.
    """
    import pandas as pd

    def per_line(log: Any) -> pd.DataFrame:
        v = visit_counts(log)
        v["src_file"] = v["src_file"].fillna("").astype(str)
        v["src_line"] = v["src_line"].fillna(-1).astype("int64")
        return v.groupby(["src_file", "src_line"], sort=True).agg(
            visits=("visits", "sum"), insns=("insn_idx", "size"), src_text=("src_text", "first")
        )

    la, lb = per_line(a), per_line(b)
    idx = la.index.union(lb.index)
    out = pd.DataFrame(index=idx)
    out["visits_a"] = la["visits"].reindex(idx).fillna(0).astype("int64")
    out["visits_b"] = lb["visits"].reindex(idx).fillna(0).astype("int64")
    out["diff"] = out["visits_b"] - out["visits_a"]
    out["insns_a"] = la["insns"].reindex(idx).fillna(0).astype("int64")
    out["insns_b"] = lb["insns"].reindex(idx).fillna(0).astype("int64")
    out["src_text"] = la["src_text"].reindex(idx).combine_first(lb["src_text"].reindex(idx))
    return out.reset_index()


def _compare_by_insn(va: pd.DataFrame, vb: pd.DataFrame) -> pd.DataFrame:
    idx = va.index.union(vb.index)
    out = va.reindex(idx)[["visits"]].rename(columns={"visits": "visits_a"})
    out["visits_b"] = vb.reindex(idx)["visits"]
    out = out.fillna(0).astype("int64")
    out["diff"] = out["visits_b"] - out["visits_a"]
    out["src_line"] = (
        va.reindex(idx)["src_line"].combine_first(vb.reindex(idx)["src_line"]).astype("Int64")
    )
    out["asm_a"] = va.reindex(idx)["asm"]
    out["asm_b"] = vb.reindex(idx)["asm"]
    return out.reset_index()


_STAT_FIELDS = (
    "insns_processed",
    "total_states",
    "peak_states",
    "max_states_per_insn",
    "mark_read",
    "verification_time_usec",
)


def compare_stats(a: Any, b: Any) -> pd.DataFrame:
    """Return a ``veristat -C``-like table comparing the verdict and stats of two logs.

    Returns
    -------
    DataFrame
        One row per metric: ``metric``, ``a``, ``b``, ``diff`` (b - a) and ``pct``
        (100 * diff / a) where both are numbers.
    """
    import pandas as pd

    def stat(log: Any, name: str) -> Any:
        st = getattr(log, "stats", None)
        return getattr(st, name, None) if st is not None else None

    rows: list[dict[str, Any]] = [
        {"metric": "verdict", "a": a.verdict, "b": b.verdict, "diff": None, "pct": None}
    ]
    for f in _STAT_FIELDS:
        x, y = stat(a, f), stat(b, f)
        diff = y - x if isinstance(x, int) and isinstance(y, int) else None
        pct = 100.0 * diff / x if diff is not None and x else None
        rows.append({"metric": f, "a": x, "b": y, "diff": diff, "pct": pct})
    da, db = stat(a, "stack_depth"), stat(b, "stack_depth")
    sa = sum(da) if da else None
    sb = sum(db) if db else None
    diff = sb - sa if sa is not None and sb is not None else None
    rows.append(
        {
            "metric": "stack_depth",
            "a": sa,
            "b": sb,
            "diff": diff,
            "pct": 100.0 * diff / sa if diff is not None and sa else None,
        }
    )
    sa_n, sb_n = len(a.steps), len(b.steps)
    rows.append(
        {
            "metric": "steps_in_log",
            "a": sa_n,
            "b": sb_n,
            "diff": sb_n - sa_n,
            "pct": 100.0 * (sb_n - sa_n) / sa_n if sa_n else None,
        }
    )
    return pd.DataFrame(rows, columns=["metric", "a", "b", "diff", "pct"])


def path_tree(log: Any) -> nx.DiGraph:
    out: nx.DiGraph = _memo(log, "path_tree", lambda: _path_tree_impl(log))
    return out


def lock_held(log: Any) -> np.ndarray:
    out: np.ndarray = _memo(log, "lock_held", lambda: _lock_held_impl(log))
    return out


def _held_refs(log: Any) -> dict[int, set[int]]:
    out: dict[int, set[int]] = _memo(log, "_held_refs", lambda: _held_refs_impl(log))
    return out


path_tree.__doc__ = _path_tree_impl.__doc__
lock_held.__doc__ = _lock_held_impl.__doc__
