"""The verifier's error explained in context, from a parsed verifier ``Log``.

:func:`explain_error` answers the three questions a program author asks of a rejected log:
which instruction failed and which C line it came from, what the verifier believed about the
registers in the few instructions before it, and (for a reference leak) which reference leaked
and where it was acquired. Everything comes from the log itself (the ``; file:line`` source
annotations, the post-instruction register states, ``refs=`` and the kernel's
``Unreleased reference id=N alloc_insn=M`` line); nothing is guessed.

The log is duck-typed on the ``bpfkit.verifier.Log`` contract, so this module imports no
other stage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ContextInsn", "LeakedRef", "ErrorContext", "explain_error", "context_html"]

_UNRELEASED = re.compile(r"Unreleased reference id=(\d+),? alloc_insn=(\d+)")
_LEAK_WORDS = ("reference leak", "Unreleased reference")


@dataclass(frozen=True, slots=True)
class ContextInsn:
    """One instruction on the way to the error, as the verifier visited it.

    ``registers`` is the register state the log printed after the instruction (``R0=... R1=...``),
    ``path`` the explored path it belongs to (a new path starts at each ``from X to Y:``);
    ``branch`` is ``(X, Y)`` when this visit is the first of such a path.
    """

    step: int | None
    insn_idx: int
    path: int | None
    asm: str
    src: str | None
    src_text: str | None
    registers: str
    failing: bool
    branch: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class LeakedRef:
    """A reference held at the error, with the instruction that acquired it."""

    ref_obj_id: int
    alloc_insn: int | None
    asm: str | None
    src: str | None
    src_text: str | None


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """The verifier's error with the failing instruction, its C line and what led there."""

    error: str
    insn_idx: int | None
    asm: str | None
    src: str | None
    src_text: str | None
    preceding: tuple[ContextInsn, ...]
    leaks: tuple[LeakedRef, ...]

    def _repr_html_(self) -> str:
        return context_html(self)


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return text or None


class _Insns:
    """insn_idx -> (asm, "file:line", source text), from ``log.instructions``."""

    def __init__(self, log: Any) -> None:
        self.rows: dict[int, tuple[str | None, str | None, str | None]] = {}
        frame = log.instructions
        for rec in frame.itertuples(index=False):
            idx = _int_or_none(rec.insn_idx)
            if idx is None:
                continue
            line = _int_or_none(rec.src_line)
            file = _text_or_none(rec.src_file)
            src = f"{file or '?'}:{line}" if line is not None else None
            self.rows[idx] = (_text_or_none(rec.asm), src, _text_or_none(rec.src_text))

    def get(self, idx: int | None) -> tuple[str | None, str | None, str | None]:
        if idx is None:
            return (None, None, None)
        return self.rows.get(idx, (None, None, None))


def _register_texts(log: Any, steps: Iterable[int]) -> dict[int, str]:
    """step -> ``R0=... R1_w=...``: the registers each of *steps* printed (one pass over the
    registers table for all the steps)."""
    regs = log.registers
    wanted = set(steps)
    if regs.empty or not wanted:
        return {}
    # a step can print a register more than once (the "from X to Y:" state, then the state
    # after the instruction): the last one is the state after the instruction
    rows = regs[regs["step"].isin(wanted)].sort_values("line", kind="stable")
    last: dict[int, dict[tuple[int, int], str]] = {}
    for step, frame, reg, written, raw in zip(
        rows["step"].tolist(), rows["frame"].tolist(), rows["reg"].tolist(),
        rows["written"].tolist(), rows["raw"].tolist(), strict=True,
    ):
        value = _text_or_none(raw)
        key = (int(frame), int(reg))
        by_reg = last.setdefault(int(step), {})
        by_reg.pop(key, None)
        if value is not None:
            by_reg[key] = f"R{int(reg)}" + ("_w" if bool(written) else "") + f"={value}"
    return {step: " ".join(by_reg[k] for k in sorted(by_reg)) for step, by_reg in last.items()}


def explain_error(log: Any, *, before: int = 5) -> ErrorContext | None:
    """Return the error of *log* in context, or ``None`` when the log holds no error.

    Parameters
    ----------
    log
        A ``bpfkit.verifier.Log``.
    before
        How many instructions visited before the failing one to show.

    Returns
    -------
    ErrorContext or None
        The failing instruction (``insn_idx`` is the log's ``error_insn``, else the last
        instruction visited), the *before* preceding visits in verification order with their
        register states, and the leaked references with where each was acquired.
    Examples
    --------
    >>> from bpfkit.verifier import load_log
    >>> from tests.corpus import DATA_LOGS
    >>> (log,) = load_log(DATA_LOGS / "alloc" / "obj_new_leak.l2.log")
    >>> ctx = explain_error(log)
    >>> [(leak.ref_obj_id, leak.alloc_insn, leak.src) for leak in ctx.leaks]
    [(2, 4, 'alloc.bpf.c:44')]
    >>> ctx.preceding[-1].asm, ctx.preceding[-1].failing
    ('exit', True)
    """
    error = _text_or_none(getattr(log, "error", None))
    if error is None:
        return None
    insns = _Insns(log)
    steps = log.steps
    insn_idx = _int_or_none(getattr(log, "error_insn", None))
    if insn_idx is None and not steps.empty:
        insn_idx = _int_or_none(steps["insn_idx"].iloc[-1])

    preceding: list[ContextInsn] = []
    if not steps.empty:
        if insn_idx is not None and (steps["insn_idx"] == insn_idx).any():
            last = int(steps.loc[steps["insn_idx"] == insn_idx, "step"].max())
        else:
            last = int(steps["step"].max())
        window = steps[steps["step"] <= last].sort_values("step").tail(before + 1)
        branches: dict[int, tuple[int, int]] = {}
        br = log.branches
        if not br.empty:
            for b in br.itertuples(index=False):
                step_no = _int_or_none(b.step)
                a, z = _int_or_none(b.from_insn), _int_or_none(b.to_insn)
                if step_no is not None and a is not None and z is not None:
                    branches.setdefault(step_no, (a, z))
        texts = _register_texts(log, window["step"].tolist())
        for rec in window.itertuples(index=False):
            idx = int(rec.insn_idx)
            asm, src, text = insns.get(idx)
            preceding.append(
                ContextInsn(
                    step=int(rec.step),
                    insn_idx=idx,
                    path=_int_or_none(getattr(rec, "path", None)),
                    asm=asm or "",
                    src=src,
                    src_text=text,
                    registers=texts.get(int(rec.step), ""),
                    failing=int(rec.step) == last and idx == insn_idx,
                    branch=branches.get(int(rec.step)),
                )
            )

    asm, src, src_text = insns.get(insn_idx)
    return ErrorContext(
        error=error,
        insn_idx=insn_idx,
        asm=asm,
        src=src,
        src_text=src_text,
        preceding=tuple(preceding),
        leaks=tuple(_leaks(log, error, insns)),
    )


def _leaks(log: Any, error: str, insns: _Insns) -> list[LeakedRef]:
    if not any(word in error for word in _LEAK_WORDS):
        return []
    found: dict[int, int | None] = {}
    texts = [error]
    lines = log.lines
    if not lines.empty:
        texts.extend(str(t) for t in lines.loc[lines["kind"] == "error", "text"])
    for text in texts:
        for m in _UNRELEASED.finditer(text):
            found.setdefault(int(m.group(1)), int(m.group(2)))
    if not found:
        # Older kernels only say "reference leak": take the refs held at the last step and
        # the first instruction after which a register carried that ref_obj_id.
        refs = log.refs
        if not refs.empty:
            last = refs["step"].max()
            for ref in refs.loc[refs["step"] == last, "ref_obj_id"]:
                found.setdefault(int(ref), None)
        regs = log.registers
        for ref in list(found):
            if regs.empty:
                break
            holders = regs[regs["ref_obj_id"] == ref].sort_values("step")
            if not holders.empty:
                found[ref] = int(holders["insn_idx"].iloc[0])
    out = []
    for ref, alloc in sorted(found.items()):
        asm, src, src_text = insns.get(alloc)
        out.append(LeakedRef(ref_obj_id=ref, alloc_insn=alloc, asm=asm, src=src, src_text=src_text))
    return out


def context_html(ctx: ErrorContext) -> str:
    """Return *ctx* as the HTML section of a report page ("Why the verifier rejected it").

    The template is ``templates/context.html``. The classes (``context``, ``failing``,
    ``branch``, ``src``) are styled by the report's stylesheet; the failing row also carries an
    inline background so it stands out in a notebook; each row carries ``data-insn`` and
    ``data-step`` so the page's explorer can select it.
    """
    from bpfkit.report.templating import render

    leak_rows = [(x.ref_obj_id, x.alloc_insn, x.asm, x.src, x.src_text) for x in ctx.leaks]
    return render("context.html", ctx=ctx, leak_rows=leak_rows).strip()
