"""What the static ownership analysis reports: mistakes, predictions, sites and flows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from bpfkit.ownership.static.values import RefInfo

__all__ = ["MISTAKE_KINDS", "Mistake", "Prediction", "Site", "Flow", "Analysis", "classify"]

MISTAKE_KINDS = (
    "leak",
    "leak_on_path",
    "use_after_release",
    "double_release",
    "push_without_lock",
    "non_owning_after_unlock",
    "kptr_type_mismatch",
    "wrong_contains_node",
    "other",
)


@dataclass(frozen=True, slots=True)
class Mistake:
    """A mistake the verifier would stop at.

    ``insn_idx`` is the index in ``func``'s own instructions (as ``func_insn``); ``insn`` is the
    same instruction in the kernel's numbering: the program with its subprograms appended as
    the loader appends them, as the verifier log counts. ``rule`` names the kernel rule
    (:data:`bpfkit.ownership.static.rules.RULES`) and so the kernel's message.
    """

    kind: str
    insn_idx: int
    src_line: int | None
    message: str
    program: str = ""
    site: int | None = None
    site_func: str | None = None
    rule: str = ""
    func: str = ""
    func_insn: int = -1
    insn: int = -1


@dataclass(frozen=True, slots=True)
class Prediction:
    """The predicted verdict of one program: ``accept``, ``reject`` or ``unknown``."""

    program: str
    verdict: Literal["accept", "reject", "unknown"]
    mistakes: tuple[Mistake, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Site:
    """An allocation or acquisition: the call at ``insn_idx`` of ``func``."""

    program: str
    func: str
    insn_idx: int
    src_line: int | None
    kfunc: str
    type_name: str


@dataclass(frozen=True, slots=True)
class Flow:
    """A site reaching a sink, ``paths`` times over the explored paths. ``site_func`` and
    ``sink_func`` name the function whose instruction numbering the indexes use."""

    program: str
    site_insn: int
    kfunc: str
    type: str
    sink: str
    sink_insn: int
    target: str
    paths: int
    site_func: str
    sink_func: str


@dataclass
class Analysis:
    """The result of interpreting one program: mistakes, sites, flows and exploration stats."""

    program: str
    mistakes: list[Mistake] = field(default_factory=list)
    sites: dict[int, Site] = field(default_factory=dict)
    #: (site func, site insn, sink, sink func, sink insn, target) -> times seen
    flows: dict[tuple[str, int, str, str, int, str], int] = field(default_factory=dict)
    ref_info: dict[int, RefInfo] = field(default_factory=dict)
    leaks: dict[int, list[int]] = field(default_factory=dict)  # site -> exit insns
    steps: int = 0
    paths: int = 0
    complete: bool = True
    unknown_reasons: list[str] = field(default_factory=list)

    def prediction(self) -> Prediction:
        mistakes = classify(self)
        if mistakes:
            first = mistakes[0]
            return Prediction(
                self.program,
                "reject",
                tuple(mistakes),
                f"{first.kind} "
                + (f"at insn {first.insn_idx}" if first.insn_idx >= 0 else "at load")
                + f": {first.message}",
            )
        if not self.complete or self.unknown_reasons:
            why = "; ".join(dict.fromkeys(self.unknown_reasons)) or "exploration incomplete"
            return Prediction(self.program, "unknown", (), why)
        return Prediction(
            self.program,
            "accept",
            (),
            f"no ownership mistake on {self.paths} explored paths ({self.steps} insns)",
        )


def classify(an: Analysis) -> list[Mistake]:
    """Turn the raw leak records into leak / leak_on_path and order mistakes by discovery."""
    out: list[Mistake] = []
    seen: set[tuple[str, int, int]] = set()
    for m in an.mistakes:
        if m.kind == "leak":
            sunk = any(
                (k[0], k[1]) == (m.site_func, m.site)
                and k[2] not in ("exit_leak", "refcount_acquire")
                for k in an.flows
            )
            kind = "leak_on_path" if sunk else "leak"
            m = replace(m, kind=kind)
        key = (m.kind, m.insn_idx, hash(m.message))
        if key in seen:
            continue
        seen.add(key)
        out.append(m)
    return out
