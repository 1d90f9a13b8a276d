"""Issue #12's rule-pair corpus (tests/ownership/rules) against the live kernel.

Each ``f<NN>_*.bpf.c`` holds ok/mistake programs for one kernel rule family, written for bpfkit
from kernel/bpf/verifier.c and btf.c (not from bpfkit's model: they are held-out evidence). The
committed objects are loaded into the running kernel one program at a time
(:func:`bpfkit.kernel.load.load_programs`), whose verdict is the oracle, and
:func:`bpfkit.ownership.static.predict` is asked for its own. Nothing here stores a verdict.

The live test prints per-family agreement and asserts that the overall verdict agreement is at
least :data:`AGREEMENT_FLOOR`, which the model's owner raises as the model improves.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from bpfkit.obj import load_object
from tests.corpus import RULE_PAIRS
from tests.kernel.conftest import live_skip_reason

#: Overall verdict agreement (kernel vs predict) the rule pairs must reach: the model agreed on
#: 265 of 280 (95%) on Linux 6.18 when this was set (before the model's rewrite: 140 of 265,
#: 53%); the floor leaves room for another kernel build's verdicts, not for regressions.
AGREEMENT_FLOOR = 0.93

SOURCES = sorted(RULE_PAIRS.glob("f*.bpf.c"))
FAMILY = re.compile(r"^f(\d+)")
SEC_FUNC = re.compile(r'^SEC\("([^"]+)"\)\n(?:int BPF_PROG\((\w+)|int (\w+)\()', re.M)
#: Programs stamped out by a family's own macro, e.g. ``F08_ADD(name, less)``.
MACRO_PROG = re.compile(r"^F\d+_[A-Z]+\((\w+),", re.M)


INSN_LINE = re.compile(r"^(\d+): \(", re.M)


def _kernel_insn(log: str) -> int | None:
    """The instruction the verifier stopped at: the last one its log printed."""
    found = INSN_LINE.findall(log)
    return int(found[-1]) if found else None


def _family(path: Path) -> str:
    m = FAMILY.match(path.name)
    assert m, path
    return f"f{m.group(1)}"


def _programs(source: Path) -> dict[str, int]:
    """Program name -> line of its SEC() in *source*."""
    text = source.read_text()
    progs = {
        (m.group(2) or m.group(3)): text.count("\n", 0, m.start()) + 1
        for m in SEC_FUNC.finditer(text)
        if m.group(1) != "license"
    }
    progs.update(
        {m.group(1): text.count("\n", 0, m.start()) + 1 for m in MACRO_PROG.finditer(text)}
    )
    return progs


def test_rule_pairs_cover_the_thirteen_families() -> None:
    families = {_family(s) for s in SOURCES}
    assert families == {f"f{n:02d}" for n in range(1, 14)}, families


def test_every_program_says_what_it_exercises() -> None:
    """A comment ends right above each SEC(): the kernel rule and message the program aims at."""
    for source in SOURCES:
        lines = source.read_text().splitlines()
        for name, line in _programs(source).items():
            above = lines[line - 2].rstrip()
            assert above.endswith("*/"), f"{source.name}:{line} {name}: no comment above SEC()"


def test_committed_objects_match_their_sources() -> None:
    """Every source has its committed object, with exactly the programs the source defines."""
    for source in SOURCES:
        obj = source.with_suffix(".o")
        assert obj.exists(), f"{obj.name} missing: run make -C tests/ownership/rules"
        assert obj.stat().st_size > 0
        names = {p.name for p in load_object(obj).programs if p.section != ".text"}
        assert names == set(_programs(source)), (obj.name, names ^ set(_programs(source)))


@pytest.mark.live
def test_rule_pairs_agree_with_the_live_kernel() -> None:
    reason = live_skip_reason()
    if reason:
        pytest.skip(f"{reason} (the live kernel is the oracle of the rule pairs)")
    from bpfkit.kernel.load import load_programs
    from bpfkit.ownership.static import predict

    per_family: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    shared = at_insn = 0
    disagreements: list[str] = []
    for source in SOURCES:
        obj = source.with_suffix(".o")
        preds = {p.program: p for p in predict(load_object(obj))}
        fam = per_family[_family(source)]
        for r in load_programs(obj, log_level=1):
            p = preds[r.program]
            fam[0] += 1
            fam[1] += r.verdict == "accept"
            fam[2] += p.verdict == r.verdict
            fam[3] += p.verdict == "unknown"
            if r.verdict == p.verdict == "reject" and p.mistakes:
                m = p.mistakes[0]
                shared += 1
                at_insn += getattr(m, "insn_idx", getattr(m, "insn", None)) == _kernel_insn(r.log)
            if p.verdict != r.verdict:
                disagreements.append(
                    f"  {r.program}: kernel {r.verdict} ({r.error[:70]}) model {p.verdict}"
                )
    total = [sum(v[i] for v in per_family.values()) for i in range(4)]
    print("\nfamily programs kernel-accepted agree unknown")
    for name in sorted(per_family):
        n, acc, agree, unk = per_family[name]
        print(f"{name:6s} {n:8d} {acc:15d} {agree:5d} {unk:7d}  {agree / n:.0%}")
    print(
        f"all    {total[0]:8d} {total[1]:15d} {total[2]:5d} {total[3]:7d}  {total[2] / total[0]:.0%}"
    )
    print(f"shared rejections at the kernel's instruction: {at_insn}/{shared}")
    print("\n".join(disagreements))
    # The pairs split: the oracle accepts some programs of the corpus and rejects others.
    assert 0 < total[1] < total[0]
    assert total[2] / total[0] >= AGREEMENT_FLOOR, f"agreement {total[2]}/{total[0]}"
