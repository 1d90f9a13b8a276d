"""Load BPF programs into the running kernel through libbpf and keep what the verifier said.

Each program of an object is loaded on its own: the object is opened, only that program is
marked for autoload, the object is loaded (its maps are created with it), and the object is
closed again, which destroys maps and program. Nothing is pinned or left loaded.

The log buffer starts at a size suited to the log level and grows fourfold when the kernel
answers ``ENOSPC`` (log truncated), up to ``max_log_size``; the program is then loaded again.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bpfkit.errors import ELFError, KernelError
from bpfkit.kernel._libbpf import Libbpf, open_libbpf
from bpfkit.kernel._libbpf import tune_malloc as _tune_malloc
from bpfkit.kernel.direct import PreparedObject, PreparedProgram, Unsupported, prepare_object
from bpfkit.kernel.stats import parse_verifier_stats, verifier_error_line

__all__ = [
    "LoadResult",
    "ProgramInfo",
    "check_environment",
    "list_programs",
    "load_programs",
    "kernel_log_level",
    "kernel_release",
    "SYS_BTF_VMLINUX",
    "CAP_BPF",
    "CAP_SYS_ADMIN",
    "DEFAULT_LOG_SIZE",
    "MAX_LOG_SIZE",
]

#: The running kernel's BTF; libbpf needs it for kfuncs, kptrs and CO-RE.
SYS_BTF_VMLINUX = Path("/sys/kernel/btf/vmlinux")
#: Capability bits (``include/uapi/linux/capability.h``).
CAP_SYS_ADMIN = 21
CAP_BPF = 39
#: Initial log buffer size per kernel log level bit set (level 2 logs are long).
DEFAULT_LOG_SIZE: dict[int, int] = {1: 1 << 20, 2: 64 << 20, 4: 64 << 10}
#: The largest log buffer tried before giving up on ENOSPC (the kernel caps at UINT_MAX >> 2).
MAX_LOG_SIZE = 1 << 30

_ENOSPC = 28
_HINT = (
    " The same analysis works offline from the captured logs and verdicts in data/logs "
    "(bpfkit.kernel.read_manifest, bpfkit.kernel.read_captured_log)."
)


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """A program of an object as libbpf sees it before loading."""

    object: str
    program: str
    section: str
    prog_type: str
    insn_cnt: int


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What loading one program into the running kernel produced.

    Attributes
    ----------
    object : str
        File name of the ELF object (no directory), e.g. ``alloc.bpf.o``.
    program, section, prog_type : str
        Program (function) name, ELF section (``tc``), libbpf's type name (``sched_cls``).
    verdict : str
        ``"accept"`` or ``"reject"``.
    errno : int
        0 when accepted, else the positive errno of the failed load (13 = EACCES, 22 = EINVAL).
    error : str
        For a rejection, the kernel's error line (the last line before the summary) or,
        when the kernel wrote no log, libbpf's last warning. Empty when accepted.
    insns_processed, total_states, peak_states, max_states_per_insn, mark_read : int or None
        The verifier's ``processed ...`` summary line.
    verification_time_usec : int or None
        ``verification time N usec`` (log level bit 4).
    stack_depth : str or None
        ``stack depth`` line, one ``N+M`` per subprogram.
    log : str
        The whole verifier log.
    log_level : int
        The kernel log level used (bit 1 = level 1, 2 = level 2, 4 = stats).
    kernel_release : str
        ``uname -r`` of the kernel that verified the program.
    libbpf_messages : tuple of (str, str)
        libbpf's own ``(level, text)`` messages during open and load; with bpfkit's loader,
        its notes in the same form (``bpfkit: map 'x': the kernel refuses its BTF ...``).
    loader : str
        ``"bpfkit"`` when bpfkit prepared the object and issued ``BPF_PROG_LOAD`` itself
        (:mod:`bpfkit.kernel.direct`), ``"libbpf"`` when libbpf loaded it.
    """

    object: str
    program: str
    section: str
    prog_type: str
    verdict: str
    errno: int
    error: str
    insns_processed: int | None
    total_states: int | None
    peak_states: int | None
    max_states_per_insn: int | None
    mark_read: int | None
    verification_time_usec: int | None
    stack_depth: str | None
    log: str
    log_level: int
    kernel_release: str
    libbpf_messages: tuple[tuple[str, str], ...] = ()
    loader: str = "libbpf"

    @property
    def accepted(self) -> bool:
        """``True`` when the verifier accepted the program."""
        return self.verdict == "accept"

    def to_dict(self, *, with_log: bool = True) -> dict[str, Any]:
        """The record as a JSON-ready dict (``libbpf_messages`` as lists)."""
        d: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        d["libbpf_messages"] = [list(m) for m in self.libbpf_messages]
        if not with_log:
            del d["log"]
        return d


def kernel_log_level(level: int | str, *, stats: bool = True) -> int:
    """The kernel's ``log_level`` for ``1``, ``2``, ``"stats"`` (or a raw bit mask 1..7).

    Examples
    --------
    >>> kernel_log_level(1), kernel_log_level(2), kernel_log_level("stats")
    (5, 6, 4)
    >>> kernel_log_level(2, stats=False)
    2
    """
    if level == "stats":
        return 4
    if isinstance(level, str):
        if not level.isdigit():
            raise ValueError(f"log level must be 1, 2 or 'stats', not {level!r}")
        level = int(level)
    if not 1 <= level <= 7:
        raise ValueError(f"log level must be 1, 2 or 'stats' (bit mask 1..7), not {level}")
    return level | 4 if stats else level


def _cap_eff() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_environment(libbpf_path: str | None = None) -> Libbpf:
    """Check that this process can load BPF programs; return the libbpf binding.

    Raises
    ------
    KernelError
        Saying which requirement is missing: root or CAP_BPF, ``libbpf.so.1``, or the
        kernel's BTF at ``/sys/kernel/btf/vmlinux``; and pointing at ``data/logs``.
    """
    if os.geteuid() != 0:
        caps = _cap_eff()
        if caps is None or not caps & ((1 << CAP_BPF) | (1 << CAP_SYS_ADMIN)):
            raise KernelError(
                f"loading BPF programs needs root or CAP_BPF (euid {os.geteuid()}, "
                f"CapEff {caps:#x})." + _HINT
                if caps is not None
                else f"loading BPF programs needs root or CAP_BPF (euid {os.geteuid()})." + _HINT
            )
    if not SYS_BTF_VMLINUX.exists():
        raise KernelError(
            f"this kernel has no BTF ({SYS_BTF_VMLINUX} is missing; CONFIG_DEBUG_INFO_BTF=y "
            "is needed for kfuncs, kptrs and CO-RE)." + _HINT
        )
    return open_libbpf(libbpf_path)  # its error names the paths tried and points at data/logs


def kernel_release() -> str:
    """``uname -r`` of the running kernel."""
    return os.uname().release


def _open(lib: Libbpf, path: Path, messages: list[tuple[str, str]]) -> int:
    ctypes.set_errno(0)
    obj = lib.lib.bpf_object__open_file(os.fsencode(path), None)
    if not obj:
        err = ctypes.get_errno()
        why = "; ".join(text.removeprefix("libbpf: ") for lvl, text in messages if lvl == "warn")
        raise ELFError(
            f"{path}: libbpf cannot open this BPF object"
            + (f" ({lib.strerror(err)}, errno {err})" if err else "")
            + (f": {why}" if why else "")
        )
    return int(obj)


def _programs(lib: Libbpf, obj: int) -> list[int]:
    progs: list[int] = []
    prog = lib.lib.bpf_object__next_program(obj, None)
    while prog:
        progs.append(int(prog))
        prog = lib.lib.bpf_object__next_program(obj, prog)
    return progs


def _info(lib: Libbpf, path: Path, prog: int) -> ProgramInfo:
    lb = lib.lib
    ptype = int(lb.bpf_program__type(prog))
    tname = lb.libbpf_bpf_prog_type_str(ptype)
    return ProgramInfo(
        object=path.name,
        program=(lb.bpf_program__name(prog) or b"").decode(),
        section=(lb.bpf_program__section_name(prog) or b"").decode(),
        prog_type=tname.decode() if tname else str(ptype),
        insn_cnt=int(lb.bpf_program__insn_cnt(prog)),
    )


def list_programs(
    obj_path: str | os.PathLike[str], *, libbpf_path: str | None = None
) -> list[ProgramInfo]:
    """The programs of a BPF object as libbpf reads them (no kernel access needed).

    Raises
    ------
    ELFError
        When the file is missing or libbpf cannot open it (the message names the file).
    KernelError
        When libbpf itself cannot be loaded.
    """
    path = _existing(obj_path)
    lib = open_libbpf(libbpf_path)
    with lib.capture() as messages:
        obj = _open(lib, path, messages)
        try:
            return [_info(lib, path, p) for p in _programs(lib, obj)]
        finally:
            lib.lib.bpf_object__close(obj)


def _existing(obj_path: str | os.PathLike[str]) -> Path:
    path = Path(obj_path)
    if not path.is_file():
        raise ELFError(f"{path}: no such BPF object file")
    return path


class _LogBuffer:
    """One reusable ctypes buffer, regrown only when a larger one is asked for.

    Buffers up to :data:`_KEEP_LOG_BUFFER` bytes are kept between loads (allocating and
    page-faulting 64 MiB per level-2 load would cost more than small programs take to
    verify); larger ones, grown for one huge log, are dropped after that load.
    """

    def __init__(self) -> None:
        self.buf: ctypes.Array[ctypes.c_char] | None = None
        self._map: mmap.mmap | None = None

    def get(self, size: int) -> ctypes.Array[ctypes.c_char]:
        if self.buf is None or len(self.buf) < size:
            self._drop()
            # Anonymous memory: zero pages on first touch, nothing written up front (a
            # zero-filled 64 MiB ctypes buffer costs ~25 ms before the first load).
            self._map = mmap.mmap(-1, size)
            self.buf = (ctypes.c_char * size).from_buffer(self._map)
        self.buf[0] = b"\0"
        return self.buf

    def _drop(self) -> None:
        self.buf = None
        if self._map is not None:
            # BufferError: a caller still holds the array; the mapping goes with it.
            with contextlib.suppress(BufferError):
                self._map.close()
            self._map = None

    def trim(self) -> None:
        if self.buf is not None and len(self.buf) > _KEEP_LOG_BUFFER:
            self._drop()


_KEEP_LOG_BUFFER = 64 << 20
_BUFFER = _LogBuffer()


def _initial_size(level: int) -> int:
    return max(size for bit, size in DEFAULT_LOG_SIZE.items() if level & bit)


def _load_one(
    lib: Libbpf,
    path: Path,
    name: str,
    level: int,
    size: int,
    max_size: int,
    release: str,
    debug: bool,
    exact: bool,
) -> LoadResult:
    lb = lib.lib

    def attempt(
        buf: ctypes.Array[ctypes.c_char], size: int, messages: list[tuple[str, str]]
    ) -> tuple[int, ProgramInfo]:
        obj = _open(lib, path, messages)
        try:
            target = None
            for prog in _programs(lib, obj):
                pname = (lb.bpf_program__name(prog) or b"").decode()
                mine = pname == name
                lb.bpf_program__set_autoload(prog, mine)
                if mine:
                    target = prog
            if target is None:
                raise ELFError(f"{path}: no program named {name!r}")
            info = _info(lib, path, target)
            lb.bpf_program__set_log_level(target, level)
            lb.bpf_program__set_log_buf(target, ctypes.addressof(buf), size)
            return int(lb.bpf_object__load(obj)), info
        finally:
            lb.bpf_object__close(obj)

    err, raw, msgs, size, info = _growing_log(lib, size, max_size, exact, debug, attempt)
    return _result(info, err, raw, msgs, level, release, size, lib)


_T = TypeVar("_T")


def _growing_log(
    lib: Libbpf,
    size: int,
    max_size: int,
    exact: bool,
    debug: bool,
    attempt: Callable[[ctypes.Array[ctypes.c_char], int, list[tuple[str, str]]], tuple[int, _T]],
) -> tuple[int, bytes, tuple[tuple[str, str], ...], int, _T]:
    """Run ``attempt(buf, size, messages) -> (err, x)`` with the shared log buffer; again with
    a buffer four times larger while the kernel answers ENOSPC (the log did not fit: at level
    1 the kernel may have discarded most of it already, but a path's log overflowed), up to
    *max_size*. Returns ``(err, log bytes, messages, size used, x)``."""
    while True:
        with lib.capture(debug=debug) as messages:  # also serializes use of the log buffer
            buf = _BUFFER.get(size)
            if not exact:
                size = len(buf)  # a kept buffer may be larger than asked: use all of it
            err, extra = attempt(buf, size, messages)
            msgs = tuple(messages)
            raw = buf.value
            del buf
        if err != -_ENOSPC or size >= max_size:
            _BUFFER.trim()
            return err, raw, msgs, size, extra
        size = min(size * 4, max_size)


def _result(
    info: ProgramInfo,
    err: int,
    raw: bytes,
    msgs: tuple[tuple[str, str], ...],
    level: int,
    release: str,
    size: int,
    lib: Libbpf,
    loader: str = "libbpf",
) -> LoadResult:
    log = raw.decode("utf-8", "replace")
    stats = parse_verifier_stats(log)
    errno = -err if err < 0 else 0
    error = ""
    if errno:
        error = verifier_error_line(log) if log.strip() else ""
        if errno == _ENOSPC:
            error = f"verifier log does not fit in {size} bytes (ENOSPC): verdict unknown"
        elif not error:
            error = _libbpf_error(msgs) or lib.strerror(errno)
    return LoadResult(
        object=info.object,
        program=info.program,
        section=info.section,
        prog_type=info.prog_type,
        verdict="accept" if err == 0 else "reject",
        errno=errno,
        error=error,
        insns_processed=stats.insns_processed,
        total_states=stats.total_states,
        peak_states=stats.peak_states,
        max_states_per_insn=stats.max_states_per_insn,
        mark_read=stats.mark_read,
        verification_time_usec=stats.verification_time_usec,
        stack_depth=stats.stack_depth,
        log=log,
        log_level=level,
        kernel_release=release,
        libbpf_messages=msgs,
        loader=loader,
    )


def _load_direct(
    lib: Libbpf,
    obj: PreparedObject,
    prog: PreparedProgram,
    level: int,
    size: int,
    max_size: int,
    release: str,
    exact: bool,
) -> LoadResult:
    info = ProgramInfo(
        object=obj.path.name,
        program=prog.name,
        section=prog.section,
        prog_type=prog.prog_type_name,
        insn_cnt=prog.insn_cnt,
    )

    def attempt(
        buf: ctypes.Array[ctypes.c_char], size: int, messages: list[tuple[str, str]]
    ) -> tuple[int, None]:
        err = obj.load(prog, level, buf, size)
        messages.extend(("warn", n) for n in obj.notes)
        return err, None

    err, raw, msgs, size, _ = _growing_log(lib, size, max_size, exact, False, attempt)
    return _result(info, err, raw, msgs, level, release, size, lib, loader="bpfkit")


_GENERIC_WARNING = re.compile(r"failed to load( object '.*'|: -\d+)$")


def _libbpf_error(messages: tuple[tuple[str, str], ...]) -> str:
    """libbpf's most specific warning (it failed before the kernel wrote a log)."""
    warns = [text.removeprefix("libbpf: ") for lvl, text in messages if lvl == "warn"]
    specific = [w for w in warns if not _GENERIC_WARNING.search(w)]
    return (specific or warns or [""])[0]


def load_programs(
    obj_path: str | os.PathLike[str],
    program: str | None = None,
    log_level: int | str = 1,
    *,
    stats: bool = True,
    log_size: int | None = None,
    max_log_size: int = MAX_LOG_SIZE,
    libbpf_path: str | None = None,
    libbpf_debug: bool = False,
    tune_malloc: bool = False,
    loader: str = "auto",
) -> list[LoadResult]:
    """Load the programs of a BPF object one at a time; return what the verifier said.

    Parameters
    ----------
    obj_path : path
        A BPF ELF object (``clang -target bpf -g``).
    program : str, optional
        Load only this program (function name); default: every program, in ELF order.
    log_level : {1, 2, "stats"} or int
        Verifier log level; ``stats`` (bit 4) is added unless ``stats=False``.
    log_size : int, optional
        Initial log buffer size (default by level: 1 MiB at level 1, 64 MiB at level 2, or the
        larger buffer kept from an earlier load); grown fourfold on ENOSPC up to
        ``max_log_size``. A log that does not fit even then gives a ``reject`` with errno 28
        (ENOSPC) and an error saying so.
    libbpf_path : str, optional
        Path of ``libbpf.so.1`` if not the system's.
    libbpf_debug : bool
        Also keep libbpf's debug messages in ``libbpf_messages`` (warnings and info always).
    tune_malloc : bool
        Apply :func:`bpfkit.kernel.tune_malloc` first (process-wide; faster repeated loads).
    loader : {"auto", "bpfkit", "libbpf"}
        ``"bpfkit"``: prepare the object once and issue ``BPF_PROG_LOAD`` per program
        (:mod:`bpfkit.kernel.direct`; the kernel sees what libbpf would give it, with a seventh
        of libbpf's overhead); ``"libbpf"``: let libbpf open and load the object once per program;
        ``"auto"`` (default): bpfkit's loader, and libbpf for the objects or programs it does
        not prepare itself (a ``.kconfig`` extern, map-in-map, a CO-RE relocation libbpf would
        poison...). ``libbpf_debug=True`` implies ``"libbpf"``. ``LoadResult.loader`` says
        which loaded each program.

    Returns
    -------
    list of LoadResult
        One per program, accepted or rejected; a rejection is a result, not an exception.

    Raises
    ------
    KernelError
        Not root/CAP_BPF, no kernel BTF, or no libbpf.
    ELFError
        Missing or corrupt object, or no program named ``program``.

    Examples
    --------
    >>> from pathlib import Path
    >>> [r.verdict for r in load_programs(
    ...     "data/programs/alloc.bpf.o", "obj_new_leak")]  # doctest: +SKIP
    ['reject']
    """
    path = _existing(obj_path)
    lib = check_environment(libbpf_path)
    level = kernel_log_level(log_level, stats=stats)
    if loader not in ("auto", "bpfkit", "libbpf"):
        raise ValueError(f"loader must be 'auto', 'bpfkit' or 'libbpf', not {loader!r}")
    if tune_malloc:
        _tune_malloc()
    size = log_size or _initial_size(level)
    exact = log_size is not None
    release = kernel_release()
    prepared: PreparedObject | None = None
    fallback: dict[str, str] = {}
    if loader != "libbpf" and not libbpf_debug:
        try:
            prepared, fallback = prepare_object(path, libbpf_path=libbpf_path)
            prepared.btf_fd()  # a BTF the kernel refuses: libbpf goes on without it
        except Unsupported:
            if prepared is not None:
                prepared.close()
                prepared = None
            if loader == "bpfkit":
                raise
    if prepared is not None:
        names = prepared.program_names
        if loader == "bpfkit" and fallback:
            name, why = next(iter(fallback.items()))
            raise Unsupported(why)
    else:
        names = [p.program for p in list_programs(path, libbpf_path=libbpf_path)]
    if program is not None:
        if program not in names:
            raise ELFError(f"{path}: no program named {program!r} (has: {', '.join(names)})")
        names = [program]
    results = []
    try:
        for n in names:
            if prepared is not None and n not in fallback:
                prog = prepared.program(n)
                results.append(
                    _load_direct(lib, prepared, prog, level, size, max_log_size, release, exact)
                )
            else:
                results.append(
                    _load_one(lib, path, n, level, size, max_log_size, release, libbpf_debug, exact)
                )
    finally:
        if prepared is not None:
            prepared.close()
    return results
