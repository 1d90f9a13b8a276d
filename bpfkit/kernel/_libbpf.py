"""ctypes bindings to the few libbpf 1.x functions the loader needs (private).

Signatures follow ``/usr/include/bpf/libbpf.h`` of libbpf 1.1 (Debian's ``libbpf1``);
every function used here exists since libbpf 1.0. Objects are opaque ``void *``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bpfkit.errors import KernelError

__all__ = ["Libbpf", "open_libbpf", "tune_malloc", "LIBBPF_NAMES"]

#: Sonames tried in order when no explicit path is given.
LIBBPF_NAMES: tuple[str, ...] = ("libbpf.so.1",)

_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_LEVELS = {0: "warn", 1: "info", 2: "debug"}


class Libbpf:
    """A loaded ``libbpf.so.1`` with typed functions and a message capture.

    libbpf's print callback is process-global, so messages go to whichever
    :meth:`capture` block is active (one at a time, guarded by a lock).
    """

    def __init__(self, lib: ctypes.CDLL, path: str) -> None:
        self.path = path
        self.lib = lib
        vp, cp, i, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
        u32 = ctypes.c_uint32
        sig: dict[str, tuple[object, list[object]]] = {
            "bpf_object__open_file": (vp, [cp, vp]),
            "bpf_object__next_program": (vp, [vp, vp]),
            "bpf_object__load": (i, [vp]),
            "bpf_object__close": (None, [vp]),
            "bpf_program__name": (cp, [vp]),
            "bpf_program__section_name": (cp, [vp]),
            "bpf_program__type": (i, [vp]),
            "bpf_program__set_autoload": (i, [vp, ctypes.c_bool]),
            "bpf_program__set_log_level": (i, [vp, u32]),
            "bpf_program__set_log_buf": (i, [vp, vp, sz]),
            "bpf_program__fd": (i, [vp]),
            "bpf_program__insn_cnt": (sz, [vp]),
            "libbpf_bpf_prog_type_str": (cp, [i]),
            "libbpf_set_print": (vp, [_PRINT_FN]),
            "libbpf_strerror": (i, [i, cp, sz]),
        }
        for name, (restype, argtypes) in sig.items():
            try:
                fn = getattr(lib, name)
            except AttributeError as exc:
                raise KernelError(f"{path} has no {name}(): libbpf 1.0 or newer is needed") from exc
            fn.restype = restype
            fn.argtypes = argtypes
        libc = ctypes.CDLL(None, use_errno=True)
        self._vsnprintf = libc.vsnprintf
        self._vsnprintf.restype = ctypes.c_int
        self._vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, vp]
        self._fmt_buf = ctypes.create_string_buffer(4096)
        self._messages: list[tuple[str, str]] | None = None
        self._max_level = 1
        self._lock = threading.Lock()
        self._print_cb = _PRINT_FN(self._on_print)  # keep a reference: libbpf holds the pointer
        lib.libbpf_set_print(self._print_cb)

    def _on_print(self, level: int, fmt: bytes | None, ap: int | None) -> int:
        sink = self._messages
        if sink is None or fmt is None or level > self._max_level:
            return 0
        # x86-64 (and aarch64) pass va_list by pointer, so libc's vsnprintf can take it.
        n = self._vsnprintf(self._fmt_buf, len(self._fmt_buf), fmt, ap)
        text = self._fmt_buf.value.decode("utf-8", "replace") if n >= 0 else fmt.decode()
        sink.append((_LEVELS.get(level, str(level)), text.rstrip("\n")))
        return 0

    @contextmanager
    def capture(self, *, debug: bool = False) -> Iterator[list[tuple[str, str]]]:
        """Collect libbpf's messages as ``(level, text)`` pairs while the block runs.

        Warnings and info messages always; libbpf's debug messages (about a hundred per
        object load, each formatted through a Python callback) only with ``debug=True``.
        """
        with self._lock:
            self._messages = []
            self._max_level = 2 if debug else 1
            try:
                yield self._messages
            finally:
                self._messages = None

    def strerror(self, err: int) -> str:
        """libbpf's text for an error code (its own codes 4000-4013 included)."""
        buf = ctypes.create_string_buffer(256)
        self.lib.libbpf_strerror(err, buf, len(buf))
        return buf.value.decode("utf-8", "replace")


_CACHE: dict[str, Libbpf] = {}


def open_libbpf(path: str | None = None) -> Libbpf:
    """Load libbpf (``path`` or the system's ``libbpf.so.1``), once per path.

    Raises
    ------
    KernelError
        When the library cannot be loaded, saying which paths were tried.
    """
    names = (path,) if path else LIBBPF_NAMES
    key = path or ""
    if key in _CACHE:
        return _CACHE[key]
    errors = []
    for name in names:
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError as exc:
            errors.append(f"{name}: {exc}")
            continue
        _CACHE[key] = Libbpf(lib, name)
        return _CACHE[key]
    raise KernelError(
        "cannot load libbpf ("
        + "; ".join(errors)
        + "): install Debian's libbpf1 package. The same analysis works offline from the "
        "captured logs and verdicts in data/logs (bpfkit.kernel.read_manifest, "
        "bpfkit.kernel.read_captured_log)."
    )


_MALLOC_TUNED = False


def tune_malloc() -> bool:
    """Keep freed heap memory for reuse (glibc ``mallopt``); return whether it was applied.

    Each object load makes libbpf read and parse the 5.5 MB kernel BTF into freshly allocated
    memory. With glibc's defaults those buffers are returned to the kernel after each load and
    page-faulted in again on the next one; raising the mmap and trim thresholds keeps them in
    the heap. This is a process-wide setting (it also turns off glibc's dynamic mmap
    threshold), so the library only applies it when asked: ``bpfkit load`` does.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return True
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc
    mallopt.restype = ctypes.c_int
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = bool(
        mallopt(m_mmap_threshold, 64 << 20) == 1 and mallopt(m_trim_threshold, 512 << 20) == 1
    )
    _MALLOC_TUNED = ok
    return ok
