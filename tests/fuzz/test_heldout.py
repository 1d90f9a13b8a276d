"""The held-out mutators (tests/fuzz/mutators.py) in ``make test``: every target on
structure-aware mutants of its small seeds (a BTF field, an ELF header/symbol/reloc field, an
instruction field, log lines spliced/cut/duplicated, a compressed log cut), driven by
hypothesis so a failure shrinks and replays. The long held-out campaign is
``python -m tests.fuzz.run --engine own --mutator struct`` (README, "Bad input").

Also: the mutators change what they claim to change (a mutant of a valid BTF still starts
with the BTF magic, an ELF mutant keeps the ELF magic), so the held-out campaign is not
throwing random bytes at the readers' first check.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.mutators import mutate_btf, mutate_elf, mutate_structure
from tests.fuzz.targets import TARGETS, seeds
from tests.fuzz.test_fuzz import cpu_budget

# ~20 s in all on this machine
EXAMPLES = {
    "btf_raw": 120,
    "btf_split": 12,
    "btf_ext": 150,
    "elf_object": 30,
    "insns": 120,
    "ownership": 15,
    "log_text": 30,
    "log_file": 15,
    "report": 6,
}


@pytest.fixture(scope="module")
def small() -> dict[str, list[bytes]]:
    out = {t: seeds(t, small=True) for t in TARGETS}
    for t, pool in out.items():  # imports outside the budget
        if pool:
            TARGETS[t](pool[0])
    return out


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_holds_on_structure_aware_mutants(target: str, small: dict[str, list[bytes]]
                                                 ) -> None:
    pool = small[target]
    if not pool:
        pytest.skip(f"no seeds for {target}: data/ or ../shared/corpus is missing")
    fn = TARGETS[target]

    @settings(max_examples=EXAMPLES[target], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(0, 2**32 - 1))
    def check(seed: int) -> None:
        rng = random.Random(seed)
        data = mutate_structure(rng.choice(pool), rng, pool, target=target)
        with cpu_budget():
            fn(data)

    check()


def test_the_mutants_keep_their_format() -> None:
    rng = random.Random(5)
    btf = [s for s in seeds("btf_raw", small=True) if s[:2] == b"\x9f\xeb" and len(s) >= 24]
    elf = seeds("elf_object", small=True)
    if not btf or not elf:
        pytest.skip("no BTF or ELF seeds (data/ or ../shared/corpus is missing)")
    changed = magic = 0
    for _ in range(300):
        s = rng.choice(btf)
        m = mutate_btf(s, rng)
        assert m[:2] == b"\x9f\xeb"
        changed += m != s
        e = rng.choice(elf)
        me = mutate_elf(e, rng)
        assert len(me) == len(e)  # fields change in place
        magic += me[:4] == b"\x7fELF"  # (a table whose header says offset 0 overwrites it)
        changed += me != e
    assert changed > 500 and magic > 280
