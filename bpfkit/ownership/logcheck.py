"""Where the static prediction and the verifier's log disagree.

``bpfkit own OBJ --log LOG`` prints the prediction beside what the log shows; this module
says where they differ, so that the command can flag it:

``verdict``
    predicted ``accept`` and the kernel rejected, or the other way round;
``error_insn``
    both reject, at different instructions (the first predicted mistake against the
    instruction the kernel stopped at);
``leak_sites``
    the allocation sites of the predicted leaks are not those of the kernel's
    ``Unreleased reference id=N alloc_insn=M`` lines.

Examples
--------
>>> from types import SimpleNamespace as NS
>>> pred = NS(program="p", verdict="accept", mistakes=())
>>> log = NS(verdict="reject", error="R1 must be referenced", error_insn=14)
>>> [d.what for d in prediction_differences(pred, log)]
['verdict']
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["LogDifference", "prediction_differences"]


class LogDifference(NamedTuple):
    """One way a prediction differs from the log of the same program."""

    program: str
    what: str
    predicted: str
    observed: str

    @property
    def message(self) -> str:
        return f"{self.program}: {self.what} differs: predicted {self.predicted}, log shows {self.observed}"


def prediction_differences(pred: Any, log: Any) -> list[LogDifference]:
    """The differences between prediction *pred* (``static.Prediction``) and *log*."""
    from bpfkit.ownership.dynamic import unreleased_refs

    out: list[LogDifference] = []
    prog = str(getattr(pred, "program", "") or getattr(log, "name", "") or "program")
    pv, lv = str(pred.verdict), str(log.verdict)
    if pv in ("accept", "reject") and lv in ("accept", "reject") and pv != lv:
        out.append(LogDifference(prog, "verdict", pv, lv))
        return out
    if pv != "reject" or lv != "reject":
        return out
    mistakes = list(pred.mistakes)
    err = getattr(log, "error_insn", None)
    if mistakes and err is not None and mistakes[0].insn_idx != err:
        out.append(LogDifference(prog, "error_insn", f"insn {mistakes[0].insn_idx}", f"insn {err}"))
    observed = sorted({a for _i, a in unreleased_refs(log)})
    predicted = sorted(
        {m.site for m in mistakes if "leak" in str(m.kind) and getattr(m, "site", None) is not None}
    )
    if (observed or predicted) and observed != predicted:
        fmt = ", ".join
        out.append(
            LogDifference(
                prog,
                "leak_sites",
                fmt(f"alloc insn {a}" for a in predicted) or "no leak",
                fmt(f"alloc insn {a}" for a in observed) or "no leak",
            )
        )
    return out
