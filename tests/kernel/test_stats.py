"""The summary-line reader on real logs nobody here wrote, on random text, and the manifest
writer/reader round trip."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfkit.errors import LogError
from bpfkit.kernel import (
    parse_verifier_stats,
    read_captured_log,
    read_manifest,
    verifier_error_line,
)
from bpfkit.kernel.capture import write_manifest
from bpfkit.kernel.stats import VerifierStats
from tests.corpus import CORPUS_LOGS, DATA_LOG_FILES, DATA_LOGS_MANIFEST

#: Corpus sources whose files are the kernel's log as the bpf() syscall returned it (no
#: libbpf/bpftool text around it); the manifest's "failure: ..." names the error line.
RAW_SOURCES = ("kernel-docs", "bpfix-selftests", "cilium-ebpf")


def _corpus_failures() -> list[tuple[str, str]]:
    manifest = CORPUS_LOGS / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        (r["file"], r["outcome"].removeprefix("failure: "))
        for r in rows
        if r["file"].split("/")[0] in RAW_SOURCES
        and r["outcome"].startswith("failure: ")
        and r["log_level"] != "n/a"
    ]


CORPUS_FAILURES = _corpus_failures()


@pytest.mark.skipif(not CORPUS_FAILURES, reason="needs the shared corpus (../shared/corpus)")
@pytest.mark.parametrize(("name", "want"), CORPUS_FAILURES, ids=[f for f, _ in CORPUS_FAILURES])
def test_error_line_of_corpus_logs(name: str, want: str) -> None:
    text = (CORPUS_LOGS / name).read_text(errors="replace")
    got = verifier_error_line(text)
    # The corpus manifest sometimes shortens the message ("invalid bpf_context access").
    assert got.startswith(want.removesuffix("..."))


@pytest.mark.skipif(not CORPUS_FAILURES, reason="needs the shared corpus (../shared/corpus)")
def test_stats_of_corpus_logs_with_summary() -> None:
    seen = 0
    for name, _ in CORPUS_FAILURES:
        text = (CORPUS_LOGS / name).read_text(errors="replace")
        lines = [ln.strip(" \0") for ln in text.splitlines() if ln.strip(" \0")]
        summary = [ln for ln in lines if ln.startswith("processed ") and " insns (limit " in ln]
        s = parse_verifier_stats(text)
        if summary and lines[-1] == summary[-1]:
            seen += 1
            assert s.insns_processed == int(summary[-1].split()[1])
            assert s.insn_limit == 1_000_000
        else:
            assert s.insns_processed is None  # old-format logs have no summary at the end
    assert seen >= 5


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_random_text_never_raises(text: str) -> None:
    s = parse_verifier_stats(text)
    assert isinstance(s, VerifierStats)
    line = verifier_error_line(text)
    assert line == "" or line in text


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 10**7),
    st.integers(0, 10**6),
    st.lists(st.text(alphabet="abc R=0123'", max_size=20), max_size=5),
)
def test_summary_numbers_round_trip(insns: int, states: int, body: list[str]) -> None:
    log = "\n".join(
        [
            *body,
            "some error",
            f"verification time {states} usec",
            "stack depth 8+16 0",
            f"processed {insns} insns (limit 1000000) max_states_per_insn 3"
            f" total_states {states} peak_states {states // 2} mark_read 1",
            "",
        ]
    )
    s = parse_verifier_stats(log)
    assert (s.insns_processed, s.total_states, s.peak_states) == (insns, states, states // 2)
    assert (s.verification_time_usec, s.stack_depth) == (states, "8+16 0")
    assert verifier_error_line(log) == "some error"


def test_manifest_round_trip(tmp_path: Path) -> None:
    rows = read_manifest(DATA_LOGS_MANIFEST)
    out = tmp_path / "MANIFEST.tsv"
    write_manifest(rows, out)
    assert read_manifest(out) == rows
    assert out.read_text() == DATA_LOGS_MANIFEST.read_text()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_manifest_is_rows_or_log_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("m") / "MANIFEST.tsv"
    header = DATA_LOGS_MANIFEST.read_bytes().split(b"\n", 1)[0] + b"\n"
    for blob in (data, header + data):
        path.write_bytes(blob)
        try:
            rows = read_manifest(path)
        except LogError:
            continue
        assert all(len(r) == 19 for r in rows)


@pytest.mark.parametrize("path", DATA_LOG_FILES, ids=lambda p: p.name)
def test_reading_only_the_tail_gives_what_the_whole_log_gives(path: Path) -> None:
    """Stats and error line come from the last lines only; on every captured log that is
    exactly what splitting the whole log gives, and for the end cut at every one of the last
    40 line breaks too."""
    from bpfkit.kernel import stats as mod

    text = read_captured_log(path)

    def whole(log: str) -> tuple[object, str]:
        lines = log.splitlines()
        end = mod._summary_tail(lines)
        fields = mod.parse_verifier_stats("\n".join(lines[end:]))
        return fields, (lines[end - 1].strip(mod._BLANK) if end > 0 else "")

    ends = [len(text)]
    while len(ends) < 41 and ends[-1] > 0:
        ends.append(max(text.rfind("\n", 0, ends[-1]), 0))
    for end in ends:
        log = text[:end]
        assert (parse_verifier_stats(log), verifier_error_line(log)) == whole(log)


def test_stack_depth_of_three_subprograms_is_a_summary_line() -> None:
    """A program with two subprograms (e.g. a bpf_rbtree_add less() callback) ends its log in
    ``stack depth 0+0+0``; the error is the line before the summary, not that line
    (tests/ownership/rules/f08_rbtree_less.bpf.c, Linux 6.18)."""
    log = "\n".join(
        [
            "29: (85) call bpf_obj_new_impl#65057",
            "function calls are not allowed while holding a lock",
            "verification time 314 usec",
            "stack depth 0+0+0",
            "processed 24 insns (limit 1000000) max_states_per_insn 0 total_states 2"
            " peak_states 2 mark_read 0",
            "",
        ]
    )
    assert verifier_error_line(log) == "function calls are not allowed while holding a lock"
    assert parse_verifier_stats(log).stack_depth == "0+0+0"
