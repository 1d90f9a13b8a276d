"""Fuzz targets: one function per reader, each also walking everything the reader returns.

A target takes the input bytes and returns normally when bpfkit answered (a result, or a
:class:`~bpfkit.errors.BpfkitError` naming what was wrong). Anything else that escapes is a
finding: an uncaught exception (a traceback a user would see) or, as the runners enforce, a
hang (an input that takes more than :data:`HANG_SECONDS` of CPU time).

The same targets run three ways: in ``make test`` (hypothesis-mutated seeds, regression
inputs: ``tests/fuzz/test_fuzz.py``), in ``make fuzz`` (``tests/fuzz/run.py``: atheris's
coverage-guided libFuzzer, or bpfkit's own coverage-guided mutator when atheris is missing)
and by hand (``python -m tests.fuzz.run --target btf_raw --seconds 3600``).

The invariant of the BTF targets is cilium/ebpf's: an error, or a spec whose every type can
be decoded, named, sized, formatted as C, laid out and put in a graph.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bpfkit.errors import BpfkitError
from tests.corpus import CORPUS, CORPUS_BTF, DATA, TESTMOD_BASE

#: An input that takes longer than this (CPU seconds) is a hang.
HANG_SECONDS = 2.0
#: Walk at most this many types of a parsed spec (the seeds are small; mutants stay small).
MAX_TYPES = 1000
#: Above this many types, the C header and the graph are made of a sample of the types.
MAX_WHOLE = 300

#: The long campaign (``tests/fuzz/run.py --engine fast``) walks a log's pandas tables, the
#: report's tables and the streaming frames on one input in this many (every input in
#: ``make test``): the bytes reach the line grammar, the wrappers and the file readers on
#: every input; the tables are a function of the parsed rows (~3 ms of pandas per log).
TABLES_EVERY = 1
_count = [0]

HERE = Path(__file__).resolve().parent
REGRESSIONS = HERE / "regressions"
_SCRATCH = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else Path(tempfile.gettempdir())


@contextlib.contextmanager
def _as_file(data: bytes, suffix: str) -> Iterator[Path]:
    """The readers that take a path get the input through a file on tmpfs."""
    fd, name = tempfile.mkstemp(suffix=suffix, dir=_SCRATCH, prefix="bpfkit-fuzz-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield Path(name)
    finally:
        os.unlink(name)


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call *fn*; a BpfkitError is an answer (None), anything else propagates (a finding)."""
    try:
        return fn(*args, **kwargs)
    except BpfkitError:
        return None


# --------------------------------------------------------------------------- BTF


def walk_spec(spec: Any) -> None:
    """Everything a user may do with a spec that parsed: decode, resolve, size, name every
    type; the raw dump; the C header; every struct's layout; the type graph."""
    from bpfkit.btf import format_c, format_layout, format_raw, struct_layout, type_graph
    from bpfkit.btf.types import BTFKind

    n = min(len(spec), spec.first_id + MAX_TYPES)
    structs: list[int] = []
    for tid in range(spec.first_id, n):
        t = _quiet(spec.__getitem__, tid)
        if t is None:
            continue
        for call in (spec.resolve, spec.sizeof, spec.type_name, spec.type_tags):
            _quiet(call, tid)
        _quiet(spec.decl_tags, tid)
        if t.kind in (BTFKind.STRUCT, BTFKind.UNION):
            structs.append(tid)
    _quiet(format_raw, spec)
    _quiet(spec.kfuncs)
    own = len(spec) - spec.first_id
    if own <= MAX_WHOLE:
        _quiet(format_c, spec)
        _quiet(type_graph, spec)
    else:  # a sample: what the structs need, and the graph around them
        sample = structs[:: max(1, len(structs) // 20)][:20]
        _quiet(format_c, spec, sample)
        _quiet(type_graph, spec, roots=sample, depth=2)
    for tid in structs[:50]:
        lay = _quiet(struct_layout, spec, tid)
        if lay is not None:
            _quiet(format_layout, lay, spec)


def btf_raw(data: bytes) -> None:
    """Raw BTF (``/sys/kernel/btf/vmlinux`` style) and every walk over the spec."""
    from bpfkit.btf import parse_btf

    spec = _quiet(parse_btf, data, name="fuzz")
    if spec is not None:
        _quiet(spec.validate)
        walk_spec(spec)


@functools.cache
def _testmod_base() -> Any:
    from bpfkit.btf import parse_btf

    return parse_btf(TESTMOD_BASE.read_bytes(), name="base") if TESTMOD_BASE.exists() else None


def btf_split(data: bytes) -> None:
    """Split BTF on a base (bpf_testmod's distilled base) and every walk over it."""
    from bpfkit.btf import parse_btf

    base = _testmod_base()
    if base is None:
        return
    spec = _quiet(parse_btf, data, base=base, name="fuzz-split")
    if spec is not None:
        walk_spec(spec)


@functools.cache
def _ext_spec() -> Any:
    from bpfkit.btf import parse_btf

    kinds = CORPUS_BTF / "kinds" / "kinds-el.BTF.bin"
    return parse_btf(kinds.read_bytes(), name="kinds") if kinds.exists() else None


def btf_ext(data: bytes) -> None:
    """``.BTF.ext`` against the BTF it came with (kinds-el.o), every record read."""
    from bpfkit.btf import parse_btf_ext

    spec = _ext_spec()
    if spec is None:
        return
    ext = _quiet(parse_btf_ext, data, spec, name="fuzz.BTF.ext")
    if ext is not None:
        for table in (ext.func_info, ext.line_info, ext.core_relos):
            for sec, recs in table.items():
                assert isinstance(sec, str)
                list(recs)


# --------------------------------------------------------------------------- ELF objects


def walk_object(obj: Any) -> None:
    """Programs, instructions (both text forms), maps, relocations, globals of an object."""
    from bpfkit.obj import format_insn_kernel, global_sections

    for prog in obj.programs:
        for insn in prog.insns:
            _quiet(format_insn_kernel, insn)
    for m in obj.maps:
        repr(m)
    for r in obj.relocs:
        repr(r)
    if obj.btf is not None:
        _quiet(global_sections, obj.btf, symbols=obj.data_symbols)


def elf_object(data: bytes) -> None:
    """A BPF ELF object: programs, maps, relocations, instruction decoding, .BTF/.BTF.ext."""
    from bpfkit.btf import load_elf_btf
    from bpfkit.obj import load_object

    with _as_file(data, ".o") as path:
        obj = _quiet(load_object, path)
        if obj is not None:
            walk_object(obj)
        _quiet(load_elf_btf, path)


def insns(data: bytes) -> None:
    """Raw instruction bytes, both byte orders, each instruction in both text forms."""
    from bpfkit.obj import decode_insns, format_insn_kernel

    for order in ("little", "big"):
        decoded = _quiet(decode_insns, data, order)
        for insn in decoded or ():
            _quiet(format_insn_kernel, insn)


def ownership(data: bytes) -> None:
    """The static ownership analysis on an object (the public API only:
    :func:`bpfkit.ownership.static.predict` / ``analyze``)."""
    from bpfkit.obj import load_object
    from bpfkit.ownership.static import analyze, predict

    with _as_file(data, ".o") as path:
        obj = _quiet(load_object, path)
    if obj is None:
        return
    preds = _quiet(predict, obj)
    for p in preds or ():
        repr(p)
    for prog in obj.programs[:4]:
        _quiet(analyze, obj, prog.name)


# --------------------------------------------------------------------------- verifier logs

_TABLES = ("lines", "instructions", "steps", "registers", "stack", "refs", "branches",
           "prunes", "backtracking")


def _tables_now() -> bool:
    _count[0] += 1
    return TABLES_EVERY <= 1 or _count[0] % TABLES_EVERY == 0


def walk_log(lg: Any, tables: bool = True) -> None:
    """Every table of a Log (when *tables*), and its summary fields."""
    if tables:
        for t in _TABLES:
            getattr(lg, t)
    repr(lg)
    repr((lg.verdict, lg.error, lg.stats, lg.level, lg.kinds))


def log_text(data: bytes) -> None:
    """A verifier log as text: best effort (every wrapper: libbpf, veristat, bpfkit's JSON,
    pasted prefixes), strict, and the not-a-log check."""
    from bpfkit.verifier import parse_log

    text = data.decode("utf-8", "replace")
    tables = _tables_now()
    for lg in parse_log(text, name="fuzz"):
        walk_log(lg, tables)
    _quiet(parse_log, text, strict=True)
    _quiet(parse_log, text, lenient=False)


def _log_suffix(data: bytes) -> str:
    if data[:2] == b"\x1f\x8b":
        return ".log.gz"
    if data[:6] == b"\xfd7zXZ\x00":
        return ".log.xz"
    return ".log"


def log_file(data: bytes) -> None:
    """A log file (plain, .gz, .xz by magic): load_log, the streaming readers."""
    from bpfkit.verifier import iter_frames, iter_logs, load_log

    tables = _tables_now()
    with _as_file(data, _log_suffix(data)) as path:
        whole: list[Any] | None = None
        for lenient in (False, True):
            whole = _quiet(load_log, path, lenient=lenient)
            for lg in whole or ():
                walk_log(lg, tables)
        with contextlib.suppress(BpfkitError):
            for lg in iter_logs(path):
                lg.verdict  # noqa: B018
        if whole is not None:  # the streaming reader splits the same programs
            with contextlib.suppress(BpfkitError):
                streamed = [(lg.name, lg.text, lg.kinds) for lg in iter_logs(path, lenient=True)]
                want = [(lg.name, lg.text, lg.kinds) for lg in whole]
                assert streamed == want, "iter_logs and load_log read different programs"
        if tables:
            with contextlib.suppress(BpfkitError):
                for chunk in iter_frames(path, chunk_lines=64):
                    assert set(chunk) == {"lines", "steps", "registers"}


def report(data: bytes) -> None:
    """The report's page of one program whose log is the input (no figures written)."""
    from bpfkit.report import ProgramInput, analyse_program

    with _as_file(data, _log_suffix(data)) as path:
        item = ProgramInput("fuzz", None, "fuzz", None, ((2, path),))
        _quiet(analyse_program, item, None)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "btf_raw": btf_raw,
    "btf_split": btf_split,
    "btf_ext": btf_ext,
    "elf_object": elf_object,
    "insns": insns,
    "ownership": ownership,
    "log_text": log_text,
    "log_file": log_file,
    "report": report,
}

# --------------------------------------------------------------------------- seeds

_MAX_SEED = 256 * 1024
_MAX_LOG_SEED = 16 * 1024  # a log's head: mutants of big logs only run slower


def _files(*globs: tuple[Path, str]) -> list[Path]:
    out: list[Path] = []
    for root, pattern in globs:
        if root.exists():
            out += sorted(p for p in root.glob(pattern) if p.is_file())
    return out


def _log_windows(text: bytes, lines: int = 24) -> list[bytes]:
    """The head, a middle and the tail of a log, *lines* lines each (the tail holds the
    error and the summary)."""
    rows = text.split(b"\n")
    if len(rows) <= lines:
        return [text]
    mid = len(rows) // 2
    return [b"\n".join(w) for w in (rows[:lines], rows[mid : mid + lines], rows[-lines:])]


#: Payload bytes after the 12-byte common part of a BTF type, by kind: fixed, per vlen item.
_BTF_EXTRA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8),
              14: (4, 0), 15: (0, 12), 17: (4, 0), 19: (0, 12)}


def _btf_prefixes(raw: bytes, base: Any = None, most: int = 4, limit: int = 160) -> list[bytes]:
    """Smaller BTF made of the first types of *raw* (little-endian), header and strings
    kept, cut where no type refers past the cut (so it still parses and the walks go deep):
    up to *most* such cuts below *limit* types."""
    import struct

    from bpfkit.btf import parse_btf

    if len(raw) < 24 or raw[:2] != b"\x9f\xeb":
        return []
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<5I", raw, 4)
    types = raw[hdr_len + type_off : hdr_len + type_off + type_len]
    strings = raw[hdr_len + str_off : hdr_len + str_off + str_len]
    out: list[bytes] = []
    pos = 0
    n = 0
    refs: list[int] = []  # offsets of type-id words
    first = len(base) if base is not None else 1
    while pos + 12 <= len(types) and n < limit and len(out) < most:
        info = struct.unpack_from("<I", types, pos + 4)[0]
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        fixed, per = _BTF_EXTRA.get(kind, (0, 0))
        if kind in (2, 8, 9, 10, 11, 12, 13, 14, 17, 18):  # refs and FUNC(_PROTO), VAR, tags
            refs.append(pos + 8)
        if kind == 3:  # ARRAY: elem, index
            refs += [pos + 16, pos + 20]
        step = {4: 4, 5: 4, 13: 4, 15: 0}.get(kind)
        if step is not None:  # STRUCT/UNION member, FUNC_PROTO param, DATASEC var: a type id
            refs += [pos + 12 + i * per + step for i in range(vlen)]
        pos += 12 + fixed + per * vlen
        n += 1
        t = bytearray(types[:pos])
        for off in refs:  # a type past the cut becomes void
            if off + 4 <= pos and struct.unpack_from("<I", t, off)[0] >= first + n:
                struct.pack_into("<I", t, off, 0)
        cut = raw[:4] + struct.pack("<5I", 24, 0, len(t), len(t), len(strings)) + t + strings
        try:
            parse_btf(cut, base=base, name="seed")
        except BpfkitError:
            continue
        if n >= 2 * (len(out) + 1) ** 2:  # spread out: cuts of >= 2, 8, 18, 32 types
            out.append(cut)
    return out


def seeds(target: str, small: bool = False) -> list[bytes]:
    """Real inputs from data/ and ../shared/corpus (each cut to 256 KiB) for *target*.

    *small* (the long campaign): windows of 24 lines of each log, BTF made of a real BTF's
    first types, objects and BTF up to 64 KiB: the same forms at many more inputs a second.
    """
    if small:
        return _small_seeds(target)
    import gzip
    import lzma

    from bpfkit.btf.elf import read_elf_sections

    btf_data = HERE.parent / "btf" / "data"
    objects = _files((DATA / "programs", "*.o"), (CORPUS_BTF, "**/*.o"), (CORPUS_BTF, "**/*.elf"))
    logs = _files((DATA / "logs", "**/*.log"), (CORPUS / "logs", "*/*.log"))
    out: list[bytes] = []
    if target == "btf_raw":
        out = [p.read_bytes() for p in _files((btf_data, "*.btf"), (CORPUS_BTF, "**/*.bin"))
               if not p.name.endswith(".ext.bin")]
        for o in objects:
            with contextlib.suppress(BpfkitError):
                sec = read_elf_sections(o, (".BTF",)).get(".BTF")
                if sec:
                    out.append(sec)
    elif target == "btf_split":
        out = [p.read_bytes() for p in _files((CORPUS_BTF, "cilium_ebpf/btf_testmod.btf"))]
    elif target == "btf_ext":
        out = [p.read_bytes() for p in _files((CORPUS_BTF, "kinds/*.BTF.ext.bin"))]
    elif target in ("elf_object", "ownership"):
        out = [p.read_bytes() for p in objects]
        out += [p.read_bytes() for p in _files((btf_data, "*.o"))]
    elif target == "insns":
        for o in objects:
            with contextlib.suppress(BpfkitError):
                secs = read_elf_sections(o, ("tc", ".text", "kprobe/test", "tp/syscalls"))
                out += [v for k, v in secs.items() if not k.startswith("__")]
    elif target in ("log_text", "log_file", "report"):
        texts = [p.read_bytes()[:_MAX_LOG_SEED] for p in logs]
        out = list(texts)
        if target != "log_text":
            out += [gzip.compress(t[:8192]) for t in texts[:6]]
            out += [lzma.compress(t[:8192]) for t in texts[:6]]
    return [s[:_MAX_SEED] for s in out if s]


def _small_seeds(target: str) -> list[bytes]:
    import gzip
    import lzma

    full = seeds(target)
    if target in ("log_text", "log_file", "report"):
        logs = _files((DATA / "logs", "**/*.log"), (CORPUS / "logs", "*/*.log"))
        out = [w for p in logs for w in _log_windows(p.read_bytes()[: 4 * _MAX_LOG_SEED])]
        if target != "log_text":
            out += [gzip.compress(w) for w in out[:: max(1, len(out) // 8)]]
            out += [lzma.compress(w) for w in out[1 :: max(1, len(out) // 8)]]
        return [w for w in out if w.strip()]
    if target == "btf_split":
        return [p for s in full for p in _btf_prefixes(s, _testmod_base())] + full
    if target == "btf_raw":
        small = [s for s in full if len(s) <= 16 * 1024]
        return small + [p for s in full if len(s) > 16 * 1024 for p in _btf_prefixes(s)]
    if target in ("elf_object", "ownership"):
        return [s for s in full if len(s) <= 64 * 1024]
    return full


def regression_inputs(target: str | None = None) -> list[tuple[str, Path]]:
    """Committed findings: ``regressions/<target>/<defect-name>``."""
    out: list[tuple[str, Path]] = []
    if not REGRESSIONS.exists():
        return out
    for d in sorted(REGRESSIONS.iterdir()):
        if d.is_dir() and (target is None or d.name == target):
            out += [(d.name, p) for p in sorted(d.iterdir()) if p.is_file()]
    return out
