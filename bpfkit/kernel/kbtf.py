"""The running kernel's BTF as libbpf loads it: :class:`KernelBTF`, fast and exact lookups.

bpfkit's own :func:`bpfkit.btf.parse_btf` indexes all of vmlinux BTF in Python (tens of
milliseconds, and its name index as much again); a loader that wants to stay near libbpf's
speed cannot pay that per process. :class:`KernelBTF` lets libbpf do the one full pass
(``btf__load_vmlinux_btf``: it validates the blob and builds the offset of every type in C),
keeps a copy of the raw bytes, and decodes a type into a :mod:`bpfkit.btf.types` record only
when it is asked for.

Candidate lookup by *essential name* (:meth:`KernelBTF.candidates`) is what CO-RE needs, and
what libbpf does by scanning every type. Here it is exact without a scan over types:

1. every string offset whose string has the wanted essential name is found by searching the
   string section for the name followed by ``\\0`` or ``___`` (``bytes.find``, in C); a
   string whose essential name differs (``a___b`` has essential name ``a``) is dropped;
2. every type whose ``name_off`` is one of those offsets is found by searching the type
   section for the 4-byte ``name_off`` at 4-aligned positions; a hit counts only when the
   ``info`` word that follows has a compatible kind and the position is where libbpf says a
   type starts (a binary search over ``btf__type_by_id``), so member, parameter and enum
   names that happen to share the string never count.

Examples
--------
>>> from bpfkit.btf import BTFKind
>>> kbtf = KernelBTF.vmlinux()  # doctest: +SKIP
>>> kbtf[kbtf.find("task_struct", BTFKind.STRUCT)].name  # doctest: +SKIP
'task_struct'
"""

from __future__ import annotations

import ctypes
import os
import struct
from array import array
from collections.abc import Iterator, Mapping
from operator import itemgetter
from pathlib import Path
from types import TracebackType

from bpfkit.btf.spec import decode_record
from bpfkit.btf.types import (
    AnyType,
    BTFKind,
    Void,
)
from bpfkit.errors import BTFError, KernelError
from bpfkit.kernel._libbpf import Libbpf, open_libbpf

__all__ = ["KernelBTF", "essential_name", "SYS_KERNEL_BTF"]

#: Where the kernel publishes its BTF (vmlinux, and one file per module with BTF).
SYS_KERNEL_BTF = Path("/sys/kernel/btf")

_BTF_MAGIC = 0xEB9F
_MAX_RESOLVE_DEPTH = 32
_ENUM_KINDS = frozenset({BTFKind.ENUM, BTFKind.ENUM64})

_libc = ctypes.CDLL(None)
_memmem = _libc.memmem
_memmem.restype = ctypes.c_void_p
_memmem.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]


def essential_name(name: str) -> str:
    """The name up to its last flavor separator, as libbpf's ``bpf_core_essential_name_len``.

    A flavor separator is ``X___Y`` with ``X`` and ``Y`` not underscores; the essential name
    keeps ``X``.

    Examples
    --------
    >>> essential_name("task_struct___old"), essential_name("a___b___c"), essential_name("x")
    ('task_struct', 'a___b', 'x')
    >>> essential_name("__x___y"), essential_name("x____y")
    ('__x', 'x____y')
    """
    for i in range(len(name) - 5, -1, -1):
        if name[i] != "_" and name[i + 1 : i + 4] == "___" and name[i + 4] != "_":
            return name[: i + 1]
    return name


class _Strings(Mapping[int, str]):
    """A KernelBTF's string section as the mapping :func:`decode_record` reads names from."""

    def __init__(self, kbtf: KernelBTF) -> None:
        self._kbtf = kbtf

    def __getitem__(self, offset: int) -> str:
        return self._kbtf.string(offset)

    def __iter__(self) -> Iterator[int]:
        raise TypeError("the string offsets of a KernelBTF are not listed")

    def __len__(self) -> int:
        return self._kbtf._str_len


class KernelBTF:
    """A view of one kernel BTF blob loaded by libbpf (``struct btf *``).

    Use :meth:`vmlinux` for the running kernel's BTF (opened once per process and cached);
    ``KernelBTF(path)`` opens another BTF file, raw or an ELF object's ``.BTF`` (libbpf's
    ``btf__parse``, as for its ``btf_custom_path``). ``kbtf[type_id]`` decodes one
    type into a :mod:`bpfkit.btf.types` record (cached); :meth:`find`,
    :meth:`candidates`, :meth:`sizeof` and :meth:`string` are the lookups CO-RE needs.
    Close with :meth:`close` or a ``with`` block (closing the cached vmlinux view drops it
    from the cache).

    Raises
    ------
    KernelError
        No libbpf, or no kernel BTF (or an unreadable file), saying which.
    """

    _vmlinux: KernelBTF | None = None

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, libbpf_path: str | None = None
    ) -> None:
        self._lib: Libbpf = open_libbpf(libbpf_path)
        lb = self._lib.lib
        vp, u32 = ctypes.c_void_p, ctypes.c_uint32
        sig: dict[str, tuple[object, list[object]]] = {
            "btf__load_vmlinux_btf": (vp, []),
            "btf__parse": (vp, [ctypes.c_char_p, vp]),
            "btf__free": (None, [vp]),
            "btf__type_cnt": (u32, [vp]),
            "btf__type_by_id": (vp, [vp, u32]),
            "btf__raw_data": (vp, [vp, ctypes.POINTER(u32)]),
            "btf__find_by_name_kind": (ctypes.c_int32, [vp, ctypes.c_char_p, u32]),
            "btf__resolve_size": (ctypes.c_int64, [vp, u32]),
            "btf__pointer_size": (ctypes.c_size_t, [vp]),
        }
        for fname, (restype, argtypes) in sig.items():
            try:
                fn = getattr(lb, fname)
            except AttributeError as exc:
                raise KernelError(
                    f"{self._lib.path} has no {fname}(): libbpf 1.0 or newer is needed"
                ) from exc
            fn.restype = restype
            fn.argtypes = argtypes
        ctypes.set_errno(0)
        #: True for the running kernel's BTF (libbpf then also searches module BTF).
        self.is_vmlinux = path is None
        if path is None:
            self.path = "vmlinux"
            vmlinux = SYS_KERNEL_BTF / "vmlinux"
            # No message capture here: a caller may hold libbpf's capture lock already.
            btf = lb.btf__load_vmlinux_btf()
            if not btf:
                err = ctypes.get_errno()
                raise KernelError(
                    "cannot load the kernel's BTF through libbpf"
                    + (f" ({self._lib.strerror(err)})" if err else "")
                    + (
                        f": {vmlinux} is missing (CONFIG_DEBUG_INFO_BTF=y is needed)"
                        if not vmlinux.exists()
                        else f" from {vmlinux}"
                    )
                )
        else:
            self.path = os.fspath(path)
            btf = lb.btf__parse(os.fsencode(path), None)  # raw BTF or an ELF's .BTF
            if not btf:
                err = ctypes.get_errno()
                raise KernelError(
                    f"{self.path}: libbpf cannot read this BTF file ({self._lib.strerror(err)})"
                )
        self._btf: int | None = int(btf)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        lb, btf = self._lib.lib, self._btf
        size = ctypes.c_uint32(0)
        ptr = lb.btf__raw_data(btf, ctypes.byref(size))
        if not ptr or size.value < 24:
            raise KernelError(f"{self.path}: libbpf gave no raw BTF data")
        # A view of libbpf's own copy (no 5.5 MB memcpy); valid until close() frees it.
        mv = memoryview((ctypes.c_ubyte * size.value).from_address(ptr)).cast("B")
        magic, _ver, _flags, hdr_len = struct.unpack_from("<HBBI", mv, 0)
        if magic != _BTF_MAGIC:
            raise KernelError(f"{self.path}: raw BTF is not little-endian (magic {magic:#06x})")
        type_off, type_len, str_off, str_len = struct.unpack_from("<4I", mv, 8)
        end = hdr_len + max(type_off + type_len, str_off + str_len)
        if end > size.value or type_len % 4 or (hdr_len + type_off) % 4 or not str_len:
            raise KernelError(f"{self.path}: raw BTF sections do not fit its {size.value} bytes")
        self._raw: memoryview | None = mv
        self._types_start: int = int(hdr_len + type_off)
        self._types_end: int = self._types_start + int(type_len)
        self._strs_ptr: int = int(ptr + hdr_len + str_off)
        self._str_len: int = int(str_len)
        self._n = int(lb.btf__type_cnt(btf))  # highest id + 1
        # libbpf's type records are the type section laid out contiguously (in raw_data for a
        # parsed blob): a record's pointer minus type 1's is its offset in the section.
        first = lb.btf__type_by_id(btf, 1) if self._n > 1 else None
        self._types_ptr = int(first) if first else ptr + self._types_start
        self._offs: array[int] | None = None
        self._names: bytes | None = None
        self._words: memoryview | None = None
        self._present: set[int] | None = None
        self._cache: dict[int, AnyType] = {}
        self._strcache: dict[int, str] = {}
        self._find_cache: dict[tuple[str, int], int] = {}
        self._cand_cache: dict[tuple[str, bool, int], tuple[int, ...]] = {}
        self._off_cache: dict[int, int] = {}
        self.ptr_size = int(lb.btf__pointer_size(btf)) or 8

    # ----------------------------------------------------------------- lifetime

    @classmethod
    def vmlinux(cls) -> KernelBTF:
        """The running kernel's BTF, loaded once per process by ``btf__load_vmlinux_btf``."""
        kbtf = cls._vmlinux
        if kbtf is None or kbtf._btf is None:
            kbtf = cls._vmlinux = cls()
        return kbtf

    @staticmethod
    def module_btfs() -> list[str]:
        """Names of the kernel modules that publish BTF (``/sys/kernel/btf/*`` but vmlinux)."""
        try:
            return sorted(p.name for p in SYS_KERNEL_BTF.iterdir() if p.name != "vmlinux")
        except OSError:
            return []

    def close(self) -> None:
        """Free libbpf's ``struct btf`` (idempotent)."""
        if self._btf is not None:
            self._raw = self._words = None  # the views point into memory libbpf frees now
            self._lib.lib.btf__free(self._btf)
            self._btf = None
        if KernelBTF._vmlinux is self:
            KernelBTF._vmlinux = None

    def __enter__(self) -> KernelBTF:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        state = "closed" if self._btf is None else f"{self._n - 1} types"
        return f"<KernelBTF {self.path}: {state}>"

    def _handle(self) -> int:
        if self._btf is None:
            raise KernelError(f"{self.path}: this KernelBTF was closed")
        return self._btf

    # ----------------------------------------------------------------- raw access

    def string(self, offset: int) -> str:
        """The NUL-terminated string at *offset* of the string section."""
        got = self._strcache.get(offset)
        if got is None:
            self._handle()
            if not 0 <= offset < self._str_len:
                raise BTFError(f"{self.path}: string offset {offset} outside [0, {self._str_len})")
            raw = ctypes.string_at(self._strs_ptr + offset)
            got = self._strcache[offset] = raw.decode("utf-8", "surrogateescape")
        return got

    def _view(self) -> memoryview:
        self._handle()
        assert self._raw is not None
        return self._raw

    def _find_all_strings(self, needle: bytes) -> list[int]:
        """Offsets of every occurrence of *needle* in the string section (libc ``memmem``)."""
        self._handle()
        out: list[int] = []
        base, size, pos = self._strs_ptr, self._str_len, 0
        while pos < size:
            hit = _memmem(base + pos, size - pos, needle, len(needle))
            if not hit:
                break
            out.append(hit - base)
            pos = hit - base + 1
        return out

    def _type_offsets(self) -> array[int]:
        """Byte offset of every type record in the type section (index = id - 1).

        libbpf keeps exactly this table (``struct btf``'s ``type_offs``); it is read from there
        when the fields around it prove to be where libbpf 1.x puts them (raw data pointer,
        types pointer and type count agree with the public API, and 256 ids spread over the
        table agree with ``btf__type_by_id``). Otherwise each id is asked for (slower).
        """
        if self._offs is not None:
            return self._offs
        lb, btf, n = self._lib.lib, self._handle(), self._n - 1
        offs: array[int] = array("I")
        try:
            raw_ptr = ctypes.c_void_p.from_address(btf).value
            types_data = ctypes.c_void_p.from_address(btf + 32).value
            table = ctypes.c_void_p.from_address(btf + 48).value
            nr_types = ctypes.c_uint32.from_address(btf + 64).value
            size = ctypes.c_uint32(0)
            ok = (
                table is not None
                and types_data == self._types_ptr
                and raw_ptr == lb.btf__raw_data(btf, ctypes.byref(size))
                and nr_types == n
            )
            if ok and n and table is not None:
                offs.frombytes(ctypes.string_at(table, 4 * n))
                step = max(1, n // 256)
                for tid in [*range(1, n + 1, step), n]:
                    if lb.btf__type_by_id(btf, tid) != self._types_ptr + offs[tid - 1]:
                        ok = False
                        break
        except (ValueError, OSError):
            ok = False
        if not ok:
            offs = array(
                "I", (lb.btf__type_by_id(btf, i) - self._types_ptr for i in range(1, n + 1))
            )
        self._offs = offs
        return offs

    def _offset(self, type_id: int) -> int:
        """Byte offset of *type_id*'s record in the raw blob."""
        if not 0 < type_id < self._n:
            raise BTFError(f"{self.path}: type id {type_id} out of range [0, {self._n})")
        offs = self._offs
        if offs is not None:
            return self._types_start + offs[type_id - 1]
        off = self._off_cache.get(type_id)
        if off is None:
            p = int(self._lib.lib.btf__type_by_id(self._handle(), type_id))
            off = p - self._types_ptr + self._types_start
            self._off_cache[type_id] = off
        return off

    def _name_table(self) -> bytes:
        """``name_off`` of every type, as little-endian u32s in id order (built once).

        The word index of each record is its byte offset / 4: one shift of the whole offset
        table read as a single integer (every offset is a multiple of 4, so no bits cross
        from one element into the next), then one C-level gather.
        """
        if self._names is None:
            offs = self._type_offsets()
            n = len(offs)
            if n:
                shifted = int.from_bytes(offs.tobytes(), "little") >> 2
                idx = array("I")
                idx.frombytes(shifted.to_bytes(4 * n, "little"))
                words = self._view()[self._types_start : self._types_end].cast("I")
                self._names = array("I", itemgetter(*idx.tolist())(words)).tobytes()
            else:
                self._names = b""
        return self._names

    def _present_names(self) -> set[int]:
        """Every ``name_off`` some type has (built once, with the name table)."""
        if self._present is None:
            self._present = set(memoryview(self._name_table()).cast("I"))
        return self._present

    def kind_of(self, type_id: int) -> int:
        """The kind number of *type_id* (``info >> 24 & 0x1f``, as libbpf 1.1 reads it)."""
        if type_id == 0:
            return 0
        (info,) = struct.unpack_from("<I", self._view(), self._offset(type_id) + 4)
        return int((info >> 24) & 0x1F)

    def __getitem__(self, type_id: int) -> AnyType:
        t = self._cache.get(type_id)
        if t is None:
            t = Void(0, "") if type_id == 0 else self._decode(type_id, self._offset(type_id))
            self._cache[type_id] = t
        return t

    def _decode(self, tid: int, pos: int) -> AnyType:
        """Decode the record at byte *pos* of the raw blob with bpfkit's record decoder."""
        if self._words is None:
            self._words = self._view()[self._types_start : self._types_end].cast("I")
        return decode_record(
            self._words, (pos - self._types_start) >> 2, tid, _Strings(self), str(self.path)
        )

    # ----------------------------------------------------------------- lookups

    def find(self, name: str, kind: BTFKind | int) -> int:
        """The first type id named *name* of *kind* (libbpf's ``btf__find_by_name_kind``),
        0 when there is none. Cached.

        Examples
        --------
        >>> kbtf = KernelBTF.vmlinux()  # doctest: +SKIP
        >>> kbtf.find("no_such_type_here", BTFKind.STRUCT)  # doctest: +SKIP
        0
        """
        key = (name, int(kind))
        tid = self._find_cache.get(key)
        if tid is None:
            r = self._lib.lib.btf__find_by_name_kind(self._handle(), name.encode(), int(kind))
            tid = self._find_cache[key] = max(int(r), 0)
        return tid

    def sizeof(self, type_id: int) -> int:
        """Size of *type_id* in bytes, from libbpf's ``btf__resolve_size``.

        Raises
        ------
        BTFError
            The type has no size (void, FUNC_PROTO, FWD...) or it overflows 32 bits.
        """
        r = int(self._lib.lib.btf__resolve_size(self._handle(), type_id))
        if r < 0:
            raise BTFError(f"{self.path}: type [{type_id}] has no size (libbpf error {r})")
        return r

    def name_offsets(self, essential: str) -> list[int]:
        """Every string offset whose string has essential name *essential* (ascending).

        Offsets into the middle of a longer string count too (``task_struct`` inside
        ``put_task_struct``): a type's ``name_off`` may point anywhere in the section.
        """
        want = essential.encode("utf-8", "surrogateescape")
        if not want or essential_name(essential) != essential:
            return []  # no string has this essential name (its own is shorter)
        found = self._find_all_strings(want + b"\0")
        for q in self._find_all_strings(want + b"___"):
            if essential_name(self.string(q)) == essential:
                found.append(q)
        return sorted(found)

    def types_named_at(self, name_off: int, kinds: frozenset[int]) -> list[int]:
        """Ids of the types whose ``name_off`` is *name_off* and whose kind is in *kinds*."""
        table = self._name_table()
        if self._present is not None and name_off not in self._present:
            return []
        raw = self._view()
        pat = struct.pack("<I", name_off)
        out: list[int] = []
        p = table.find(pat)
        while p >= 0:
            if p % 4 == 0:
                tid = p // 4 + 1
                (info,) = struct.unpack_from("<I", raw, self._offset(tid) + 4)
                if (info >> 24) & 0x1F in kinds:
                    out.append(tid)
            p = table.find(pat, p + 1)
        return out

    def candidates(self, name: str, kind: BTFKind | int) -> tuple[int, ...]:
        """Ids of every type whose essential name equals that of *name* and whose kind is CO-RE
        compatible with *kind* (the same, or both ENUM/ENUM64), ascending: exactly the
        candidates libbpf's ``bpf_core_add_cands`` collects by scanning all types. Cached.
        """
        ess = essential_name(name)
        is_enum = int(kind) in (BTFKind.ENUM, BTFKind.ENUM64)
        key = (ess, is_enum, int(kind) if not is_enum else -1)
        got = self._cand_cache.get(key)
        if got is None:
            kinds = frozenset(int(k) for k in _ENUM_KINDS) if is_enum else frozenset({int(kind)})
            ids: set[int] = set()
            present = self._present_names()
            for off in self.name_offsets(ess) if ess else []:
                if off not in present:
                    continue
                ids.update(self.types_named_at(off, kinds))
            got = self._cand_cache[key] = tuple(sorted(ids))
        return got

    def all_candidates_slow(self, name: str, kind: BTFKind | int) -> tuple[int, ...]:
        """:meth:`candidates` by libbpf's own method, a scan over every type (for tests)."""
        ess = essential_name(name)
        is_enum = int(kind) in (BTFKind.ENUM, BTFKind.ENUM64)
        raw = self._view()
        out = []
        for tid in range(1, self._n):
            pos = self._offset(tid)
            name_off, info = struct.unpack_from("<2I", raw, pos)
            k = (info >> 24) & 0x1F
            if not (k == int(kind) or (is_enum and k in (6, 19))) or not name_off:
                continue
            tname = self.string(name_off)
            if tname and essential_name(tname) == ess:
                out.append(tid)
        return tuple(out)
