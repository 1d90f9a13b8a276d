"""Memory bounded by the input: each reader's peak on a large real input, and compressed logs
that expand hugely (decompression bombs) refused with a LogError before their text is held.

The contract (issue #17): peak memory under 10x the input plus a constant. Peaks are what
tracemalloc sees (Python objects, numpy and pandas buffers), measured after a warm-up so
imports and caches are not counted. For a compressed log "the input" is its text: a
whole-file reader holds it, and a file may expand at most ``MAX_EXPANSION`` times
(``bpfkit.verifier.log``), so the bound in compressed bytes is 10 x 400 x the file + C.
The long campaign samples the same bound on fuzzed inputs (``run.py --mem-every``).
"""

from __future__ import annotations

import gc
import gzip
import lzma
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bpfkit.btf import parse_btf
from bpfkit.errors import LogError
from bpfkit.obj import load_object
from bpfkit.verifier import iter_frames, iter_logs, load_log, parse_log
from bpfkit.verifier.log import MAX_EXPANSION, read_text
from tests.corpus import DATA, VMLINUX_618_XZ
from tests.fuzz.run import MEM_CONSTANT, MEM_RATIO
from tests.fuzz.targets import REGRESSIONS

LONG_LOG_XZ = DATA / "logs" / "loops" / "long_loop_ok.l2.log.xz"
BIG_OBJECT = DATA / "programs" / "kptr_stash.bpf.o"
#: The constant of the bound for these tests: what a reader keeps whatever the input's size
#: (small tables, interned tokens, regex caches). The campaign allows 32 MiB.
CONSTANT = 8 << 20


def peak_of(fn: Callable[[], Any]) -> tuple[Any, int]:
    gc.collect()
    tracemalloc.start()
    try:
        out = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return out, peak


def test_the_campaign_bound_is_the_issues() -> None:
    assert MEM_RATIO == 10 and MEM_CONSTANT <= 96 << 20


@pytest.fixture(scope="module")
def long_text() -> str:
    if not LONG_LOG_XZ.exists():
        pytest.skip(f"{LONG_LOG_XZ} is missing (data/ is part of the checkout)")
    return lzma.decompress(LONG_LOG_XZ.read_bytes()).decode()[: 2 << 20]


def test_a_log_and_its_tables_stay_under_10x_its_text(long_text: str) -> None:
    parse_log(long_text[:20000])[0].registers  # noqa: B018 - imports and caches outside
    logs, p_parse = peak_of(lambda: parse_log(long_text))
    assert p_parse < MEM_RATIO * len(long_text) + CONSTANT, p_parse / len(long_text)
    # the tables come on top of the parsed log, which stays alive beside them
    _, p_tables = peak_of(lambda: [(lg.lines, lg.steps, lg.registers) for lg in logs])
    total = p_parse + p_tables
    assert total < MEM_RATIO * len(long_text) + CONSTANT, total / len(long_text)


#: Texts of very short lines (issue #17): a line costs the parser a few bytes whatever its
#: length, so each must parse under 10x too. What each line is, and the kind it must keep.
SHORT_LINES = {
    "blank": ("\n", "blank"),
    "one-character": ("x\n", "error"),  # kernel messages; the last run is the error
    "refs-only state": ("157: refs=7\n", "state"),
    "8-byte state": ("1: R1=0\n", "state"),
    "exit instruction": ("0: (95) exit\n", "insn"),
}


@pytest.mark.parametrize("name", sorted(SHORT_LINES))
def test_a_text_of_short_lines_parses_under_10x(name: str) -> None:
    """512 KiB of one short line repeated: parse_log's peak stays under 10x the text plus a
    small constant (2 MiB: the memos and the chunk of lines being split), and every line is
    kept, with its kind and its text. (Before the line rows became columns a line took
    ~130-400 bytes whatever its length: blank lines peaked at ~150x their text, these
    refs-only states at ~25x.)"""
    line, kind = SHORT_LINES[name]
    text = line * ((512 << 10) // len(line))
    parse_log(line * 1000)  # imports and caches outside
    logs, peak = peak_of(lambda: parse_log(text))
    assert peak < MEM_RATIO * len(text) + (2 << 20), (peak, peak / len(text))
    assert [lg.kinds for lg in logs] == [{kind: text.count("\n"), "unrecognized": 0}]
    assert logs[0].text == text[:-1]


@pytest.mark.parametrize("name", sorted(SHORT_LINES))
def test_a_file_of_short_lines_streams_under_10x(name: str, tmp_path: Path) -> None:
    """The same texts as a file read by iter_logs (lenient: the blank one is no log): the
    lines a program holds until its Log takes them are kept as text, not as a string per
    line (which was 16-24x these files: ~57 bytes for a blank line's slot and object)."""
    line, kind = SHORT_LINES[name]
    path = tmp_path / "short.log"
    path.write_text(line * ((512 << 10) // len(line)))
    size = path.stat().st_size
    list(iter_logs(path, lenient=True))  # imports and caches outside
    logs, peak = peak_of(lambda: list(iter_logs(path, lenient=True)))
    assert peak < MEM_RATIO * size + (2 << 20), (peak, peak / size)
    assert [lg.kinds for lg in logs] == [{kind: size // len(line), "unrecognized": 0}]


def test_kernel_btf_parse_stays_under_10x() -> None:
    raw = lzma.decompress(VMLINUX_618_XZ.read_bytes())
    spec, peak = peak_of(lambda: parse_btf(raw, name="vmlinux"))
    assert len(spec) > 10000
    assert peak < MEM_RATIO * len(raw) + CONSTANT, peak / len(raw)


def test_an_object_load_stays_under_10x() -> None:
    if not BIG_OBJECT.exists():
        pytest.skip(f"{BIG_OBJECT} is missing")
    load_object(BIG_OBJECT)
    obj, peak = peak_of(lambda: load_object(BIG_OBJECT))
    size = BIG_OBJECT.stat().st_size
    assert obj.programs
    assert peak < MEM_RATIO * size + CONSTANT, peak / size


# --------------------------------------------------------------------------- bombs


def _bombs(tmp: Path) -> list[Path]:
    """A gzip of 48 MiB of one byte (one endless line, ~1000x) and an xz of 1 M identical
    verifier lines of a real line's length (~10000x): neither is a log anyone wrote."""
    gz = tmp / "bomb.log.gz"
    gz.write_bytes(gzip.compress(b"A" * (48 << 20), compresslevel=9))
    xz = tmp / "bomb.log.xz"
    line = b"12: (bf) r1 = r6                      ; R1_w=ctx() R6=ctx() R10=fp0 fp-8=mmmmmmmm\n"
    xz.write_bytes(lzma.compress(line * (1 << 20)))
    return [gz, xz]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _bombs(tmp_path_factory.mktemp("bombs"))


READERS: dict[str, Callable[[Path], Any]] = {
    "read_text": read_text,
    "load_log": load_log,
    "iter_logs": lambda p: list(iter_logs(p)),
    # the streaming reader's memory is its chunk's (chunk_lines: 200,000 lines by default)
    "iter_frames": lambda p: [None for _ in iter_frames(p, chunk_lines=8192)],
}


def _error_of(fn: Callable[[Path], Any], path: Path) -> str:
    try:
        fn(path)
    except LogError as exc:
        return str(exc)
    return "no error"


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_decompression_bomb_is_a_log_error_in_bounded_memory(
    bombs: list[Path], reader: str
) -> None:
    for path in bombs:
        limit = MAX_EXPANSION * path.stat().st_size + (1 << 20)
        start = time.process_time()
        msg, peak = peak_of(lambda: _error_of(READERS[reader], path))  # noqa: B023
        assert "decompresses to more than" in msg and "decompression bomb" in msg, msg
        assert str(path) in msg
        assert time.process_time() - start < 30
        # what the reader held: at most the capped text (bytes, then str) and its parse
        assert peak < MEM_RATIO * limit + CONSTANT, (peak, limit)


def test_a_compressed_real_log_reads_whole(long_text: str, tmp_path: Path) -> None:
    """The limit is far above what real logs compress to (the 7.6 MB loop log: ~96x)."""
    p = tmp_path / "long.log.xz"
    p.write_bytes(LONG_LOG_XZ.read_bytes())
    text = read_text(p)
    assert text.startswith(long_text[:1000]) and len(text) > 7_000_000
    g = tmp_path / "long.log.gz"
    g.write_bytes(gzip.compress(text.encode(), compresslevel=9))
    assert read_text(g) == text


BOMB_REGRESSIONS = sorted((REGRESSIONS / "log_file").glob("*bomb*"))


@pytest.mark.parametrize("path", BOMB_REGRESSIONS, ids=[p.name for p in BOMB_REGRESSIONS])
def test_the_committed_bombs_are_refused(path: Path) -> None:
    """The committed bombs (a 4 KB gzip of one 4 MiB line, a 776-byte xz of 50,000 state
    lines; made with gzip.compress(b"A" * (4 << 20), 9) and lzma.compress(line * 50000, 9))
    are refused by every reader, and by the report's log copy."""
    from bpfkit.report.build import _log_bytes

    for reader in (*READERS.values(), _log_bytes):
        assert "decompression bomb" in _error_of(reader, path)


XZ_BIG_DICT = REGRESSIONS / "log_file" / "xz_header_claims_2gib_dictionary.log.xz"


def test_an_xz_header_cannot_make_the_decoder_allocate_gigabytes() -> None:
    """A 100-byte xz file whose LZMA2 filter claims a 2 GiB dictionary (its block header's
    CRC recomputed): the decoder allocated it before reading a byte (tracemalloc: 2.1 GB;
    found by the campaign's memory bound on a 743-byte mutant claiming 64 MiB). Now every
    reader stops at 80 MiB of decoder memory with a LogError that says so, and an xz -9 log
    (64 MiB) still reads."""
    from bpfkit.btf.spec import _decompress
    from bpfkit.errors import BTFError
    from bpfkit.verifier.log import XZ_MEMLIMIT

    data = XZ_BIG_DICT.read_bytes()
    assert len(data) < 200
    for reader in READERS.values():
        msg, peak = peak_of(lambda: _error_of(reader, XZ_BIG_DICT))  # noqa: B023
        assert "xz header asks for more than 80 MiB" in msg, msg
        assert peak < XZ_MEMLIMIT + CONSTANT, peak
    with pytest.raises(BTFError, match="Memory usage limit exceeded"):
        _decompress(data, "bigdict.btf.xz")  # load_btf's .xz path
    assert read_text(LONG_LOG_XZ).startswith("func#0") or len(read_text(LONG_LOG_XZ)) > 7e6
