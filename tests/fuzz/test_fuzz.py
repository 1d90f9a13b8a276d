"""Bad input never breaks bpfkit: every fuzz target on hypothesis-mutated real inputs, and
every committed finding (tests/fuzz/regressions/<target>/<defect-name>) as a regression.

A target returns normally when bpfkit answered (a result or a BpfkitError); an escaping
exception fails the test, and so does an input that takes more than 2 s of CPU time (a
hang). The mutations are those of ``make fuzz`` (tests/fuzz/run.py), driven by hypothesis
so a failure shrinks and replays. The budget is ~1 minute for all targets on this 2-core
machine; ``make fuzz`` runs the long, coverage-guided campaign.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfkit.btf import format_c, load_btf, struct_layout
from bpfkit.errors import BTFError
from tests.btf.conftest import kernel_btf_load
from tests.fuzz.run import mutate
from tests.fuzz.targets import HANG_SECONDS, TARGETS, regression_inputs, seeds


class _Hang(Exception):
    pass


@contextmanager
def cpu_budget(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Fail an input that takes more than *seconds* of CPU time (a hang)."""

    def alarm(_signum: int, _frame: object) -> None:
        raise _Hang(f"input took more than {seconds} s of CPU time")

    old = signal.signal(signal.SIGVTALRM, alarm)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, old)


@pytest.fixture(scope="module")
def warm() -> None:
    """Import what the targets import (pandas, networkx, matplotlib) outside the budget."""
    for name, fn in TARGETS.items():
        for s in seeds(name)[:1]:
            fn(s)


# per-target example counts: ~60 s in all on this machine
EXAMPLES = {
    "btf_raw": 250,
    "btf_split": 40,
    "btf_ext": 200,
    "elf_object": 80,
    "insns": 200,
    "ownership": 40,
    "log_text": 60,
    "log_file": 30,
    "report": 12,
}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_holds_on_mutated_seeds(target: str, warm: None) -> None:
    pool = seeds(target)
    if not pool:
        pytest.skip(f"no seeds for {target}: data/ or ../shared/corpus is missing")
    fn = TARGETS[target]

    @settings(
        max_examples=EXAMPLES[target],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(st.integers(0, 2**32 - 1))
    def check(seed: int) -> None:
        rng = random.Random(seed)
        data = mutate(rng.choice(pool), rng, pool)
        with cpu_budget():
            fn(data)

    check()


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_accepts_every_seed(target: str, warm: None) -> None:
    """The real inputs themselves go through every walk quickly (the logs: a sample)."""
    pool = seeds(target)
    for s in pool if not target.startswith(("log", "report")) else pool[::6]:
        with cpu_budget(10 * HANG_SECONDS):
            TARGETS[target](s)


REGRESSIONS = regression_inputs()


def test_every_finding_is_committed_with_a_name() -> None:
    assert REGRESSIONS, "tests/fuzz/regressions is empty"
    for target, path in REGRESSIONS:
        assert target in TARGETS, path
        assert "-" not in path.stem.split(".")[0][:1] and path.stem[0].isalpha(), path


@pytest.mark.parametrize(
    ("target", "path"), REGRESSIONS, ids=[f"{t}/{p.name}" for t, p in REGRESSIONS]
)
def test_regression(target: str, path: Path, warm: None) -> None:
    start = time.process_time()
    with cpu_budget():
        TARGETS[target](path.read_bytes())
    assert time.process_time() - start < HANG_SECONDS


LOOPS = sorted((p for t, p in REGRESSIONS if t == "btf_raw" and p.name.endswith(".btf")))


@pytest.mark.parametrize("path", LOOPS, ids=[p.name for p in LOOPS])
def test_loops_are_named_as_the_kernel_names_them(path: Path) -> None:
    """A loop of references is a BTFError naming the type ids (the kernel: "Loop
    detected"), from the layout and the C header alike; never a hang."""
    spec = load_btf(path)
    loop = next(
        (lp for tid in range(1, len(spec)) if (lp := spec.find_loop(tid)) is not None), None
    )
    assert loop is not None and loop[0] == loop[-1]
    pattern = r"reference loop \[\d+\] \w+ -> .*\[\d+\] \w+ .*Loop detected"
    with cpu_budget(), pytest.raises(BTFError, match=pattern):
        format_c(spec)
    structs = [t.id for t in spec if t.kind.name == "STRUCT"]
    if any(spec.find_loop(s) for s in structs):
        with cpu_budget(), pytest.raises(BTFError, match=pattern):
            struct_layout(spec, next(s for s in structs if spec.find_loop(s)))


@pytest.mark.live
@pytest.mark.parametrize("path", LOOPS, ids=[p.name for p in LOOPS])
def test_kernel_rejects_the_loops(path: Path) -> None:
    """The oracle: the kernel refuses each loop input with "Loop detected"."""
    accepted, log = kernel_btf_load(path.read_bytes())
    assert not accepted and "Loop detected" in log, log


def test_loop_check_is_linear_on_vmlinux() -> None:
    """Checking every type of the kernel's BTF for loops is one walk (ids remembered)."""
    from bpfkit.btf import load_vmlinux

    spec = load_vmlinux()
    start = time.process_time()
    assert all(spec.find_loop(t) is None for t in range(1, len(spec)))
    assert time.process_time() - start < 20  # ~2 s here, mostly decoding the 126k types


def _flagged() -> dict[str, tuple[bytes, str]]:
    """The tiny valid BTF with one info/data word changed, and the error each must give."""
    import struct

    from tests.btf.data.make_corrupt import blob, info, types

    def edit(at: int, word: int) -> bytes:
        t = bytearray(types())
        struct.pack_into("<I", t, at, word)
        return blob(bytes(t))

    return {
        "int_kind_flag": (edit(4, info(1, kflag=1)), r"type \[1\] INT at byte 24: kind_flag"),
        "ptr_vlen": (edit(16 + 4, info(2, vlen=3)), r"type \[2\] PTR at byte 40: vlen 3 must be 0"),
        "typedef_kind_flag": (
            edit(len(types()) - 8, info(8, kflag=1)),
            r"type \[4\] TYPEDEF at byte 88: kind_flag",
        ),
        "int_two_encodings": (edit(12, (3 << 24) | 32), r"type \[1\] INT .*int encoding 3"),
        "int_unknown_data_bits": (edit(12, (1 << 30) | 32), r"type \[1\] INT .*int data"),
        "unknown_kind_27": (edit(4, info(27)), r"type \[1\] at byte 24: unsupported BTF kind 27"),
    }


FLAGGED = _flagged()


@pytest.mark.parametrize("name", sorted(FLAGGED))
def test_unknown_kinds_and_flags_are_precise_errors(name: str) -> None:
    from bpfkit.btf import parse_btf

    data, pattern = FLAGGED[name]
    with pytest.raises(BTFError, match=pattern):
        parse_btf(data, name="flags")


@pytest.mark.live
@pytest.mark.parametrize("name", sorted(FLAGGED))
def test_kernel_rejects_the_flagged_inputs(name: str) -> None:
    accepted, log = kernel_btf_load(FLAGGED[name][0])
    assert not accepted, log
