"""Prepare a BPF object once and load each of its programs with one ``BPF_PROG_LOAD``.

libbpf 1.1 prepares an object anew for every program it loads: it re-reads the ELF, re-parses
the 5.5 MB kernel BTF and re-runs every relocation: 5.5 ms per program here, where the
verifier takes 0.15 ms on a small one. This module does libbpf's preparation once per object, exactly as
libbpf 1.1 does it (``tools/lib/bpf/libbpf.c``: ``bpf_object__open``, ``bpf_object__load``),
and then, per program, creates the object's maps afresh, fills in their file descriptors and
calls ``bpf(BPF_PROG_LOAD)``. The kernel therefore sees the same program, the same BTF, the
same maps (names, flags, BTF ids, contents, frozen ``.rodata``) and the same func and line info
as when libbpf loads it, so logs and statistics are the same; ``tests/kernel/test_direct.py``
checks that against libbpf on every program it can find.

What libbpf does per object, in order, and done here:

- programs: every ``STT_FUNC`` symbol of an executable section, sorted by section and
  offset; those in ``.text`` are subprograms;
- BTF fix-ups: a ``dummy_ksym`` VAR for extern functions, ``.ksyms`` entries turned into
  4-byte allocated variables, DATASEC sizes and variable offsets from the ELF, hidden
  variables and subprograms marked static, variables sorted by offset; then ``BPF_BTF_LOAD``;
- maps: BTF-defined maps of ``.maps`` (``type``, ``key``/``value`` or sizes,
  ``max_entries``, ``map_flags``, ``numa_node``, ``map_extra``), then one array map per
  global data section (``.data*``, ``.rodata*``, ``.bss``) named as libbpf names it, with
  ``BPF_F_MMAPABLE`` when a variable is not static and ``BPF_F_RDONLY_PROG`` plus a freeze
  for ``.rodata``; a map the kernel refuses with BTF is created again without, as libbpf does;
- CO-RE relocations (:mod:`bpfkit.kernel.core`) of the program and of every ``.text``
  subprogram, called or not, in ``.BTF.ext`` order with one candidate cache per load;
- subprograms appended depth first in order of first reference, calls and callback
  addresses patched, func and line info carried along;
- map, global data and kfunc relocations; kfunc BTF ids from the running kernel's BTF.

What it does not prepare (``.kconfig`` externs, typeless ksyms, map-in-map ``values``,
pinning, struct_ops, a global data section without its DATASEC, a CO-RE relocation libbpf
would poison): :class:`Unsupported` is raised while preparing, and
:func:`bpfkit.kernel.load_programs` loads that object through libbpf instead.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import platform
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bpfkit.btf import BTFKind, Spec, parse_btf
from bpfkit.btf.ext import CoreRelo, CoreReloKind, RawExt, parse_btf_ext_raw
from bpfkit.btf.types import Array, Datasec, Func, Int, Ptr, Struct, Var
from bpfkit.errors import BpfkitError, BTFError, ELFError, KernelError
from bpfkit.kernel._libbpf import Libbpf, open_libbpf
from bpfkit.kernel.core import (
    CoreReloSite,
    CoreUnsupported,
    apply_core_relos,
    types_are_compat,
)
from bpfkit.kernel.kbtf import KernelBTF

__all__ = [
    "Unsupported",
    "PreparedObject",
    "PreparedProgram",
    "MapSpec",
    "prepare_object",
    "kernel_version_code",
    "BPF_F_SLEEPABLE",
]

#: ``bpf()`` commands (``include/uapi/linux/bpf.h``).
BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_PROG_LOAD, BPF_BTF_LOAD, BPF_MAP_FREEZE = 0, 2, 5, 18, 22
BPF_F_SLEEPABLE = 1 << 4
BPF_F_XDP_HAS_FRAGS = 1 << 5
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_MMAPABLE = 1 << 10
BPF_F_NUMA_NODE = 1 << 2
BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE = 1, 2
BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_FUNC = 1, 2, 4
_SYS_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "s390x": 351, "ppc64le": 361}
#: Sizes of ``union bpf_attr`` libbpf 1.1 passes per command (up to the last field it knows).
_ATTR_SIZE = {BPF_MAP_CREATE: 72, BPF_PROG_LOAD: 128, BPF_BTF_LOAD: 28}

#: Map types whose key and value libbpf 1.1 creates without BTF ids.
_NO_BTF_MAP_TYPES = frozenset({4, 7, 8, 12, 13, 14, 15, 16, 17, 18, 22, 23, 25})
#: BPF_MAP_TYPE_PERF_EVENT_ARRAY, RINGBUF, USER_RINGBUF.
_PERF_EVENT_ARRAY, _RINGBUF, _USER_RINGBUF = 4, 27, 31
_ARRAY = 2

_SHT_PROGBITS, _SHT_SYMTAB, _SHT_NOBITS, _SHT_REL = 1, 2, 8, 9
_SHF_EXECINSTR = 0x4
_STT_OBJECT, _STT_FUNC, _STT_SECTION = 1, 2, 3
_STB_LOCAL, _STB_GLOBAL, _STB_WEAK = 0, 1, 2
_STV_INTERNAL, _STV_HIDDEN = 1, 2
_SHN_UNDEF, _SHN_LORESERVE = 0, 0xFF00
_LD_IMM64 = 0x18
_CALL = 0x85
_BTF_VAR_STATIC, _BTF_VAR_GLOBAL_ALLOCATED, _BTF_VAR_GLOBAL_EXTERN = 0, 1, 2
_BTF_FUNC_STATIC, _BTF_FUNC_GLOBAL = 0, 1


class Unsupported(KernelError):
    """The object uses something this loader does not prepare; libbpf has to load it."""


# ------------------------------------------------------------------------------------ ELF


@dataclass(frozen=True, slots=True)
class _Section:
    idx: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int


@dataclass(frozen=True, slots=True)
class _Symbol:
    idx: int
    name: str
    value: int
    size: int
    type: int
    bind: int
    visibility: int
    shndx: int


class _Elf:
    """The few parts of a little-endian ELF64 BPF object a loader reads."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        try:
            self._parse()
        except (struct.error, IndexError, UnicodeDecodeError, ValueError) as exc:
            raise ELFError(f"{path}: malformed ELF ({type(exc).__name__}: {exc})") from None

    def _parse(self) -> None:
        d, path = self.data, self.path
        if d[:4] != b"\x7fELF":
            raise ELFError(f"{path}: not an ELF file (magic {d[:4].hex()})")
        if d[4] != 2 or d[5] != 1:
            raise Unsupported(f"{path}: only little-endian ELF64 objects are prepared here")
        machine = struct.unpack_from("<H", d, 18)[0]
        if machine != 247:
            raise ELFError(f"{path}: ELF machine {machine}, not BPF (247)")
        (shoff,) = struct.unpack_from("<Q", d, 40)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 58)
        if shentsize != 64 or shoff + shnum * 64 > len(d):
            raise ELFError(
                f"{path}: section headers at {shoff} ({shnum} x {shentsize} bytes) do not fit "
                f"in the file's {len(d)} bytes"
            )
        raw = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * 64) for i in range(shnum)]
        names_off, names_size = raw[shstrndx][4], raw[shstrndx][5]
        self._check(names_off, names_size, "section name table")
        names = d[names_off : names_off + names_size]

        def cstr(tab: bytes, off: int) -> str:
            end = tab.index(b"\0", off)
            return tab[off:end].decode()

        self.sections = [
            _Section(i, cstr(names, r[0]), r[1], r[2], r[4], r[5], r[6], r[7])
            for i, r in enumerate(raw)
        ]
        for s in self.sections:
            if s.type != _SHT_NOBITS:
                self._check(s.offset, s.size, f"section {s.name!r}")
        self.by_name = {s.name: s for s in self.sections}
        symtab = next((s for s in self.sections if s.type == _SHT_SYMTAB), None)
        self.symbols: list[_Symbol] = []
        if symtab is not None:
            strtab = self.bytes(self.sections[symtab.link])
            for i, (st_name, info, other, shndx, value, size) in enumerate(
                struct.iter_unpack("<IBBHQQ", self.bytes(symtab))
            ):
                self.symbols.append(
                    _Symbol(
                        i,
                        cstr(strtab, st_name),
                        value,
                        size,
                        info & 0xF,
                        info >> 4,
                        other & 3,
                        shndx,
                    )
                )

    def _check(self, off: int, size: int, what: str) -> None:
        if off + size > len(self.data):
            raise ELFError(
                f"{self.path}: {what} at {off} + {size} ends past the file's {len(self.data)} bytes"
            )

    def bytes(self, sec: _Section) -> bytes:
        """The section's contents in the file (none for SHT_NOBITS: its size is no promise
        of memory, so nothing is allocated for it)."""
        if sec.type == _SHT_NOBITS:
            return b""
        return self.data[sec.offset : sec.offset + sec.size]

    def relocations(self, target: int) -> Iterator[tuple[int, int]]:
        """``(offset, symbol index)`` of the SHT_REL sections that apply to *target*."""
        for s in self.sections:
            if s.type == _SHT_REL and s.info == target:
                for off, info in struct.iter_unpack("<QQ", self.bytes(s)):
                    yield off, info >> 32


# ------------------------------------------------------------------------------------ BTF


class _BtfEdit:
    """The object's ``.BTF`` as libbpf rewrites it before ``BPF_BTF_LOAD``."""

    def __init__(self, raw: bytes, spec: Spec) -> None:
        self.spec = spec
        self.hdr_len, self.type_off, self.type_len, self.str_off, self.str_len = struct.unpack_from(
            "<IIIII", raw, 4
        )
        t0 = self.hdr_len + self.type_off
        s0 = self.hdr_len + self.str_off
        self.types = bytearray(raw[t0 : t0 + self.type_len])
        self.strs = bytearray(raw[s0 : s0 + self.str_len])
        self.head = bytearray(raw[: self.hdr_len])
        self.appended: list[int] = []  # byte offsets of the types appended, by id order

    def pos(self, type_id: int) -> int:
        """Byte offset of *type_id*'s record in the type section."""
        if type_id >= len(self.spec):
            return self.appended[type_id - len(self.spec)]
        _, word = self.spec.raw_words(type_id)
        return word * 4

    def word(self, off: int) -> int:
        return int.from_bytes(self.types[off : off + 4], "little")

    def set_word(self, off: int, value: int) -> None:
        self.types[off : off + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")

    def add_string(self, s: str) -> int:
        needle = b"\0" + s.encode() + b"\0"
        at = bytes(self.strs).find(needle)
        if at >= 0:
            return at + 1
        off = len(self.strs)
        self.strs += s.encode() + b"\0"
        return off

    def add_var(self, name: str, type_id: int, linkage: int) -> int:
        name_off = self.add_string(name)
        self.appended.append(len(self.types))
        self.types += struct.pack("<IIII", name_off, int(BTFKind.VAR) << 24, type_id, linkage)
        return len(self.spec) - 1 + len(self.appended)

    def raw(self) -> bytes:
        head = bytearray(self.head)
        struct.pack_into("<IIII", head, 8, 0, len(self.types), len(self.types), len(self.strs))
        return bytes(head) + bytes(self.types) + bytes(self.strs)


# ------------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class MapSpec:
    """A map as libbpf 1.1 creates it for this object (``BPF_MAP_CREATE`` attributes)."""

    name: str
    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int
    btf_key_type_id: int
    btf_value_type_id: int
    numa_node: int = 0
    map_extra: int = 0
    section: int = -1
    sec_offset: int = 0
    initial: bytes | None = None
    freeze: bool = False


@dataclass(frozen=True, slots=True)
class PreparedProgram:
    """One main program with its subprograms appended, ready for ``BPF_PROG_LOAD``.

    ``map_relos`` are ``(insn_idx, map index, is_value)``: the fd to put in the
    ``ld_imm64`` at ``insn_idx`` (``BPF_PSEUDO_MAP_VALUE`` when ``is_value``).
    """

    name: str
    section: str
    prog_type: int
    prog_type_name: str
    expected_attach_type: int
    prog_flags: int
    attach_btf_id: int
    insns: bytes
    map_relos: tuple[tuple[int, int, bool], ...]
    func_info: bytes
    line_info: bytes

    @property
    def insn_cnt(self) -> int:
        """Number of 8-byte instructions after subprogram appending."""
        return len(self.insns) // 8


@dataclass
class PreparedObject:
    """A BPF object prepared once: its BTF, maps and programs, as libbpf 1.1 would load them."""

    path: Path
    name: str
    license: bytes
    kern_version: int
    btf: bytes
    maps: list[MapSpec]
    programs: list[PreparedProgram]
    program_names: list[str] = field(default_factory=list)
    #: What the last :meth:`create_maps` had to work around (a map created without BTF).
    notes: list[str] = field(default_factory=list)
    _btf_fd: int = field(default=-1, repr=False)

    def program(self, name: str) -> PreparedProgram:
        """The program called *name*; :class:`ELFError` when there is none."""
        for p in self.programs:
            if p.name == name:
                return p
        raise ELFError(f"{self.path}: no program named {name!r}")

    # -------------------------------------------------------------------- kernel side

    def btf_fd(self) -> int:
        """The object's BTF loaded into the kernel (once; closed by :meth:`close`)."""
        if self._btf_fd < 0:
            buf = ctypes.create_string_buffer(self.btf, len(self.btf))
            attr = struct.pack("<QQIII", ctypes.addressof(buf), 0, len(self.btf), 0, 0)
            fd = _sys_bpf(BPF_BTF_LOAD, attr)
            if fd < 0:
                err = -fd
                raise Unsupported(
                    f"{self.path}: the kernel refuses the object's BTF "
                    f"({os.strerror(err)}, errno {err}); libbpf goes on without it"
                )
            self._btf_fd = fd
        return self._btf_fd

    def close(self) -> None:
        """Close the BTF file descriptor, if open."""
        if self._btf_fd >= 0:
            os.close(self._btf_fd)
            self._btf_fd = -1

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> PreparedObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_maps(self) -> list[int]:
        """Create every map of the object, as libbpf does on each load; return the fds."""
        fds: list[int] = []
        self.notes = []
        try:
            for m in self.maps:
                fds.append(self._create_map(m))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def _create_map(self, m: MapSpec) -> int:
        name = m.name.encode()[:15]
        btf_fd = self.btf_fd() if (m.btf_key_type_id or m.btf_value_type_id) else 0
        flags = m.map_flags | (BPF_F_NUMA_NODE if m.numa_node else 0)

        def attr(fd: int, key: int, value: int) -> bytes:
            return struct.pack(
                "<IIIIIII16sIIIIIQ",
                m.map_type,
                m.key_size,
                m.value_size,
                m.max_entries,
                flags,
                0,
                m.numa_node,
                name,
                0,
                fd,
                key,
                value,
                0,
                m.map_extra,
            )

        fd = _sys_bpf(BPF_MAP_CREATE, attr(btf_fd, m.btf_key_type_id, m.btf_value_type_id))
        if fd < 0 and btf_fd:
            err = -fd
            fd = _sys_bpf(BPF_MAP_CREATE, attr(0, 0, 0))  # libbpf: "Retrying without BTF."
            self.notes.append(
                f"bpfkit: map {m.name!r}: the kernel refuses its BTF ({_errno.errorcode.get(err, err)}"
                f", -{err}); created again without BTF, as libbpf does"
            )
        if fd < 0:
            err = -fd
            raise KernelError(
                f"{self.path}: cannot create map {m.name!r} ({os.strerror(err)}, errno {err})"
            )
        try:
            if m.initial is not None:
                key = ctypes.c_uint32(0)
                val = ctypes.create_string_buffer(m.initial, len(m.initial))
                a = struct.pack("<IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(val), 0)
                r = _sys_bpf(BPF_MAP_UPDATE_ELEM, a)
                if r < 0:
                    raise KernelError(
                        f"{self.path}: cannot fill map {m.name!r} ({os.strerror(-r)})"
                    )
            if m.freeze:
                r = _sys_bpf(BPF_MAP_FREEZE, struct.pack("<I", fd))
                if r < 0:
                    raise KernelError(
                        f"{self.path}: cannot freeze map {m.name!r} ({os.strerror(-r)})"
                    )
        except BaseException:
            os.close(fd)
            raise
        return fd

    def load(
        self,
        prog: PreparedProgram,
        log_level: int,
        log_buf: ctypes.Array[ctypes.c_char] | None,
        log_size: int,
    ) -> int:
        """Create the maps, load *prog*, close everything; return 0 or ``-errno``.

        The verifier's log is left in *log_buf*.
        """
        fds = self.create_maps()
        try:
            insns = bytearray(prog.insns)
            for idx, map_idx, is_value in prog.map_relos:
                off = idx * 8
                insns[off + 1] = (insns[off + 1] & 0x0F) | (
                    (BPF_PSEUDO_MAP_VALUE if is_value else BPF_PSEUDO_MAP_FD) << 4
                )
                struct.pack_into("<i", insns, off + 4, fds[map_idx])
            ibuf = ctypes.create_string_buffer(bytes(insns), len(insns))
            lic = ctypes.create_string_buffer(self.license)
            fi = ctypes.create_string_buffer(prog.func_info, len(prog.func_info) or 1)
            li = ctypes.create_string_buffer(prog.line_info, len(prog.line_info) or 1)
            btf_fd = self.btf_fd()
            attr = struct.pack(
                "<IIQQIIQII16sIIIIQIIQIIIIQ",
                prog.prog_type,
                prog.insn_cnt,
                ctypes.addressof(ibuf),
                ctypes.addressof(lic),
                log_level if log_buf is not None else 0,
                log_size if log_buf is not None else 0,
                ctypes.addressof(log_buf) if log_buf is not None else 0,
                self.kern_version,
                prog.prog_flags,
                prog.name.encode()[:15],
                0,
                prog.expected_attach_type,
                btf_fd,
                8 if prog.func_info else 0,
                ctypes.addressof(fi) if prog.func_info else 0,
                len(prog.func_info) // 8,
                16 if prog.line_info else 0,
                ctypes.addressof(li) if prog.line_info else 0,
                len(prog.line_info) // 16,
                prog.attach_btf_id,
                0,
                0,
                0,
            )
            for _ in range(5):  # libbpf retries EAGAIN up to 5 times
                fd = _sys_bpf(BPF_PROG_LOAD, attr)
                if fd != -_errno.EAGAIN:
                    break
            if fd >= 0:
                os.close(fd)
                return 0
            return fd
        finally:
            for f in fds:
                os.close(f)


# ------------------------------------------------------------------------------------ syscall

_libc: ctypes.CDLL | None = None


def _sys_bpf(cmd: int, attr: bytes) -> int:
    """``bpf(cmd, attr, size)``: the result, or ``-errno``."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise Unsupported(f"no bpf() syscall number known for {platform.machine()}")
    size = _ATTR_SIZE.get(cmd, len(attr))
    buf = ctypes.create_string_buffer(attr.ljust(size, b"\0"), max(size, len(attr)))
    r = int(_libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), buf, ctypes.c_uint(size)))
    if r < 0:
        return -ctypes.get_errno()
    return r


def kernel_version_code(release: str | None = None) -> int:
    """``KERNEL_VERSION(major, minor, patch)`` as libbpf 1.1 passes it: parsed from the start
    of ``uname -r`` (0 when that is not ``N.N.N``), patch capped at 255.

    Examples
    --------
    >>> hex(kernel_version_code("6.18.44-fc-v669")), kernel_version_code("6.18-rc1")
    ('0x6122c', 0)
    """
    rel = release if release is not None else os.uname().release
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", rel)
    if m is None:
        return 0
    major, minor, patch = (int(g) for g in m.groups())
    return (major << 16) + (minor << 8) + min(patch, 255)


# ------------------------------------------------------------------------------------ prepare


@dataclass
class _Func:
    """A function of an executable section (``sec_off``/``cnt`` in instructions)."""

    name: str
    sec: _Section
    sec_off: int
    cnt: int
    sym: _Symbol
    insns: bytearray = field(default_factory=bytearray)
    relos: dict[int, tuple[str, int]] = field(default_factory=dict)  # insn idx -> (kind, arg)
    func_info: list[tuple[int, ...]] = field(default_factory=list)
    line_info: list[tuple[int, ...]] = field(default_factory=list)
    #: CO-RE sites, with the rank of their .BTF.ext section (libbpf's order).
    core: list[tuple[int, CoreReloSite]] = field(default_factory=list)
    subprog: bool = False


@dataclass
class _Extern:
    name: str
    sym: _Symbol
    btf_id: int
    weak: bool
    kernel_id: int = 0


def _func_at(funcs: list[_Func], idx: int) -> _Func | None:
    """The function of *funcs* (one section's) that holds instruction *idx*."""
    for f in funcs:
        if f.sec_off <= idx < f.sec_off + f.cnt:
            return f
    return None


def _object_name(path: Path) -> str:
    """libbpf's object name: the file name cut to 15 characters, then at the first dot."""
    return path.name[:15].split(".", 1)[0]


def _internal_map_name(obj_name: str, real_name: str) -> str:
    """libbpf 1.1's ``internal_map_name()``: ``kptr_sta.bss``, ``.data.Q``.

    Examples
    --------
    >>> _internal_map_name("kptr_stash", ".bss"), _internal_map_name("list", ".data.Q")
    ('kptr_sta.bss', '.data.Q')
    >>> _internal_map_name("loops", ".rodata")
    'loops.rodata'
    """
    sfx_len = max(7, len(real_name))
    pfx_len = 0 if "." in real_name[1:] else min(16 - sfx_len - 1, len(obj_name))
    name = (obj_name[: max(pfx_len, 0)] + real_name[:sfx_len])[:15]
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name)


def _possible_cpus() -> int:
    text = Path("/sys/devices/system/cpu/possible").read_text().strip()
    n = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        n += (int(hi) if hi else int(lo)) - int(lo) + 1
    return n


class _Preparer:
    def __init__(self, path: Path, kernel: _KernelLookup) -> None:
        self.path = path
        self.kernel = kernel
        data = path.read_bytes()
        self.elf = _Elf(path, data)
        self.name = _object_name(path)

    # ---------------------------------------------------------------- main
    def run(self) -> tuple[PreparedObject, dict[str, str]]:
        elf, path = self.elf, self.path
        btf_sec = elf.by_name.get(".BTF")
        if btf_sec is None:
            raise Unsupported(f"{path}: no .BTF section (libbpf loads such objects without BTF)")
        raw_btf = elf.bytes(btf_sec)
        try:
            self.spec = parse_btf(raw_btf, name=f"{path}:.BTF")
        except BpfkitError as exc:
            raise Unsupported(f"{path}: {exc}") from None
        self.edit = _BtfEdit(raw_btf, self.spec)
        self.text = elf.by_name.get(".text")
        self.funcs = self._functions()
        self.externs = self._externs()
        self._fixup_datasecs()
        self._mark_hidden_subprogs_static()
        self.maps = self._btf_maps() + self._data_maps()
        self._collect_relos()
        self._collect_ext()
        lic_sec = elf.by_name.get("license")
        lic = elf.bytes(lic_sec).split(b"\0", 1)[0][:63] if lic_sec is not None else b""
        programs: list[PreparedProgram] = []
        fallback: dict[str, str] = {}
        for f in self.funcs:
            if f.subprog:
                continue
            try:
                programs.append(self._program(f))
            except Unsupported as exc:
                fallback[f.name] = str(exc)
        obj = PreparedObject(
            path=path,
            name=self.name,
            license=lic,
            kern_version=kernel_version_code(),
            btf=self.edit.raw(),
            maps=self.maps,
            programs=programs,
            program_names=[f.name for f in self.funcs if not f.subprog],
        )
        return obj, fallback

    # ---------------------------------------------------------------- functions
    def _functions(self) -> list[_Func]:
        elf = self.elf
        funcs: list[_Func] = []
        for sec in elf.sections:
            if sec.type != _SHT_PROGBITS or not sec.flags & _SHF_EXECINSTR or not sec.size:
                continue
            code = elf.bytes(sec)
            for sym in elf.symbols:
                if sym.shndx != sec.idx or sym.type != _STT_FUNC:
                    continue
                if sym.value % 8 or sym.size % 8 or sym.value + sym.size > sec.size:
                    raise ELFError(
                        f"{self.path}: function {sym.name!r} at {sym.value} + {sym.size} does not "
                        f"fit section {sec.name!r} ({sec.size} bytes) in whole instructions"
                    )
                if sec is not self.text and sym.bind == _STB_LOCAL:
                    raise Unsupported(
                        f"{self.path}: program {sym.name!r} is static (libbpf refuses)"
                    )
                f = _Func(sym.name, sec, sym.value // 8, sym.size // 8, sym)
                f.insns = bytearray(code[sym.value : sym.value + sym.size])
                funcs.append(f)
        funcs.sort(key=lambda f: (f.sec.idx, f.sec_off))
        if len(funcs) > 1 and self.text is not None:
            for f in funcs:
                f.subprog = f.sec is self.text
        return funcs

    def _find_func(self, sec: _Section, insn_idx: int) -> _Func | None:
        return _func_at([f for f in self.funcs if f.sec is sec], insn_idx)

    # ---------------------------------------------------------------- BTF
    def _externs(self) -> list[_Extern]:
        spec, edit = self.spec, self.edit
        ksyms = [t for t in _datasecs(spec) if t.name == ".ksyms"]
        kconfig = [t for t in _datasecs(spec) if t.name == ".kconfig"]
        if kconfig:
            raise Unsupported(f"{self.path}: .kconfig externs are prepared by libbpf only")
        dummy = 0
        int_id = next(
            (t.id for t in spec.iter_kind(BTFKind.INT) if isinstance(t, Int) and t.bits == 32), 0
        )
        if ksyms and any(spec.kind_of(v.type) == BTFKind.FUNC for v in ksyms[0].vars):
            dummy = edit.add_var("dummy_ksym", int_id, _BTF_VAR_GLOBAL_ALLOCATED)
        externs: list[_Extern] = []
        by_name: dict[str, int] = {}
        for t in spec.iter_kind(BTFKind.VAR, BTFKind.FUNC):
            extern_var = isinstance(t, Var) and t.linkage == _BTF_VAR_GLOBAL_EXTERN
            if extern_var or (isinstance(t, Func) and t.linkage == 2):  # BTF_FUNC_EXTERN
                by_name.setdefault(t.name, t.id)
        for sym in self.elf.symbols:
            if not (
                sym.shndx == _SHN_UNDEF
                and sym.bind in (_STB_GLOBAL, _STB_WEAK)
                and sym.type == 0
                and sym.name
            ):
                continue
            btf_id = by_name.get(sym.name, 0)
            if not btf_id:
                raise Unsupported(f"{self.path}: no BTF for extern {sym.name!r}")
            if not ksyms or not any(v.type == btf_id for v in ksyms[0].vars):
                raise Unsupported(f"{self.path}: extern {sym.name!r} is not in .ksyms")
            if not isinstance(spec[btf_id], Func):
                raise Unsupported(f"{self.path}: ksym variable {sym.name!r} (typed or not)")
            externs.append(_Extern(sym.name, sym, btf_id, sym.bind == _STB_WEAK))
        if ksyms:
            sec = ksyms[0]
            base = edit.pos(sec.id)
            dummy_name = struct.unpack_from("<I", edit.types, edit.pos(dummy))[0] if dummy else 0
            for i, v in enumerate(sec.vars):
                vs = base + 12 + 12 * i
                vt = spec[v.type]
                if isinstance(vt, Func):
                    proto_pos = edit.pos(vt.type)
                    vlen = edit.word(proto_pos + 4) & 0xFFFF
                    for j in range(vlen):
                        p = proto_pos + 12 + 8 * j
                        if edit.word(p + 4) and not edit.word(p):
                            edit.set_word(p, dummy_name)
                    edit.set_word(vs, dummy)
                    fpos = edit.pos(vt.id)
                    edit.set_word(fpos + 4, (edit.word(fpos + 4) & ~0xFFFF) | _BTF_FUNC_GLOBAL)
                else:
                    vpos = edit.pos(vt.id)
                    edit.set_word(vpos + 12, _BTF_VAR_GLOBAL_ALLOCATED)
                    edit.set_word(vpos + 8, int_id)
                edit.set_word(vs + 4, 4 * i)
                edit.set_word(vs + 8, 4)
            edit.set_word(base + 8, 4 * len(sec.vars))
        for ext in externs:
            ext.kernel_id = self._resolve_kfunc(ext)
        return externs

    def _resolve_kfunc(self, ext: _Extern) -> int:
        kid = self.kernel.find(ext.name, BTFKind.FUNC)
        if not kid:
            if ext.weak:
                return 0
            raise Unsupported(f"{self.path}: kfunc {ext.name!r} is not in the kernel's BTF")
        func = self.spec[ext.btf_id]
        local_proto = func.type if isinstance(func, Func) else 0
        if not self.kernel.func_compatible(self.spec, local_proto, kid):
            raise Unsupported(
                f"{self.path}: kfunc {ext.name!r}: local prototype [{local_proto}] does not match "
                f"the prototype of the kernel's FUNC [{kid}] (libbpf refuses the object)"
            )
        return kid

    def _fixup_datasecs(self) -> None:
        elf, spec, edit = self.elf, self.spec, self.edit
        syms: dict[str, _Symbol] = {}
        for s in elf.symbols:
            if s.type == _STT_OBJECT and s.bind in (_STB_GLOBAL, _STB_WEAK):
                syms.setdefault(s.name, s)
        for sec in _datasecs(spec):
            pos = edit.pos(sec.id)
            vlen = len(sec.vars)
            if sec.name not in (".ksyms", ".kconfig"):
                fix_offsets = False
                if edit.word(pos + 8) == 0:
                    elf_sec = elf.by_name.get(sec.name)
                    if elf_sec is None or not elf_sec.size:
                        raise Unsupported(
                            f"{self.path}: DATASEC {sec.name!r} has no ELF section to size it"
                        )
                    edit.set_word(pos + 8, elf_sec.size)
                    fix_offsets = True
                for i in range(vlen):
                    vs = pos + 12 + 12 * i
                    var_id = edit.word(vs)
                    if spec.kind_of(var_id) != BTFKind.VAR:
                        raise Unsupported(f"{self.path}: DATASEC {sec.name!r} holds a non-VAR")
                    vpos = edit.pos(var_id)
                    linkage = edit.word(vpos + 12)
                    if linkage in (_BTF_VAR_STATIC, _BTF_VAR_GLOBAL_EXTERN):
                        continue
                    vname = spec[var_id].name
                    sym = syms.get(vname)
                    if sym is None:
                        raise Unsupported(f"{self.path}: no ELF symbol for variable {vname!r}")
                    if fix_offsets:
                        edit.set_word(vs + 4, sym.value)
                    if sym.visibility in (_STV_HIDDEN, _STV_INTERNAL):
                        edit.set_word(vpos + 12, _BTF_VAR_STATIC)
            entries = [
                bytes(edit.types[pos + 12 + 12 * i : pos + 24 + 12 * i]) for i in range(vlen)
            ]
            entries.sort(key=lambda e: struct.unpack_from("<I", e, 4)[0])
            edit.types[pos + 12 : pos + 12 + 12 * vlen] = b"".join(entries)

    def _mark_hidden_subprogs_static(self) -> None:
        edit = self.edit
        for f in self.funcs:
            if not (
                f.subprog
                and f.sym.bind in (_STB_GLOBAL, _STB_WEAK)
                and f.sym.visibility in (_STV_HIDDEN, _STV_INTERNAL)
            ):
                continue
            for t in self.spec.iter_kind(BTFKind.FUNC):
                if isinstance(t, Func) and t.name == f.name and t.linkage == _BTF_FUNC_GLOBAL:
                    pos = edit.pos(t.id)
                    edit.set_word(pos + 4, (int(BTFKind.FUNC) << 24) | _BTF_FUNC_STATIC)
                    break

    def _datasec(self, name: str) -> tuple[int, list[tuple[int, int, int]]]:
        """Id and (var id, offset, size) entries of the DATASEC *name*, as fixed up."""
        for t in _datasecs(self.spec):
            if t.name == name:
                pos = self.edit.pos(t.id)
                n = len(t.vars)
                return t.id, [
                    struct.unpack_from("<III", self.edit.types, pos + 12 + 12 * i) for i in range(n)
                ]
        return 0, []

    # ---------------------------------------------------------------- maps
    def _btf_maps(self) -> list[MapSpec]:
        spec = self.spec
        sec = self.elf.by_name.get(".maps")
        if self.elf.by_name.get("maps") is not None:
            raise Unsupported(f"{self.path}: legacy 'maps' section")
        if sec is None:
            return []
        _, entries = self._datasec(".maps")
        maps: list[MapSpec] = []
        for var_id, offset, _size in entries:
            var = spec[var_id]
            st = spec.resolve(var.type) if isinstance(var, Var) else var
            if not isinstance(st, Struct):
                raise Unsupported(f"{self.path}: map {var.name!r} is not a struct")
            vals: dict[str, int] = {}
            key_id = value_id = 0
            for m in st.members:
                mt = spec.resolve(m.type)
                if m.name in ("key", "value"):
                    if not isinstance(mt, Ptr):
                        raise Unsupported(f"{self.path}: map {var.name!r}: {m.name} not a pointer")
                    if m.name == "key":
                        key_id = mt.type
                    else:
                        value_id = mt.type
                    continue
                if m.name in ("values", "inner"):
                    raise Unsupported(f"{self.path}: map {var.name!r}: map-in-map / values")
                if not isinstance(mt, Ptr):
                    raise Unsupported(f"{self.path}: map {var.name!r}: unknown member {m.name!r}")
                arr = spec[mt.type]
                if not isinstance(arr, Array):
                    raise Unsupported(f"{self.path}: map {var.name!r}: {m.name} is not __uint()")
                vals[m.name] = arr.nelems
            known = {
                "type",
                "max_entries",
                "map_flags",
                "numa_node",
                "key_size",
                "value_size",
                "map_extra",
                "pinning",
            }
            if set(vals) - known or vals.get("pinning", 0):
                raise Unsupported(f"{self.path}: map {var.name!r}: {sorted(set(vals) - known)}")
            key_size = vals.get("key_size", 0)
            value_size = vals.get("value_size", 0)
            if key_id:
                ks = spec.sizeof(key_id)
                if key_size and key_size != ks:
                    raise Unsupported(f"{self.path}: map {var.name!r}: key size conflict")
                key_size = ks
            if value_id:
                vsz = spec.sizeof(value_id)
                if value_size and value_size != vsz:
                    raise Unsupported(f"{self.path}: map {var.name!r}: value size conflict")
                value_size = vsz
            mtype = vals.get("type", 0)
            max_entries = vals.get("max_entries", 0)
            if mtype == _PERF_EVENT_ARRAY and not max_entries:
                max_entries = _possible_cpus()
            if mtype in (_RINGBUF, _USER_RINGBUF):
                page = os.sysconf("SC_PAGE_SIZE")
                if max_entries % page or max_entries & (max_entries - 1):
                    raise Unsupported(f"{self.path}: ring buffer {var.name!r} size needs adjusting")
                key_size = value_size = 0
            if mtype in _NO_BTF_MAP_TYPES or mtype in (_RINGBUF, _USER_RINGBUF):
                key_id = value_id = 0
            maps.append(
                MapSpec(
                    name=var.name,
                    map_type=mtype,
                    key_size=key_size,
                    value_size=value_size,
                    max_entries=max_entries,
                    map_flags=vals.get("map_flags", 0),
                    btf_key_type_id=key_id,
                    btf_value_type_id=value_id,
                    numa_node=vals.get("numa_node", 0),
                    map_extra=vals.get("map_extra", 0),
                    section=sec.idx,
                    sec_offset=offset,
                )
            )
        return maps

    def _data_maps(self) -> list[MapSpec]:
        maps: list[MapSpec] = []
        for sec in self.elf.sections:
            n = sec.name
            if sec.type == _SHT_PROGBITS and sec.size and not sec.flags & _SHF_EXECINSTR:
                if n == ".data" or n.startswith(".data."):
                    rodata = False
                elif n == ".rodata" or n.startswith(".rodata."):
                    rodata = True
                else:
                    continue
                initial: bytes | None = self.elf.bytes(sec)
            elif sec.type == _SHT_NOBITS and (n == ".bss" or n.startswith(".bss.")):
                rodata, initial = False, None  # zeros: libbpf's update changes nothing
            else:
                continue
            ds_id, entries = self._datasec(n)
            if not ds_id:
                raise Unsupported(f"{self.path}: section {n!r} has no DATASEC in .BTF")
            mmapable = False
            if ds_id:
                spec = self.spec
                mmapable = any(
                    spec.kind_of(v) == BTFKind.VAR
                    and struct.unpack_from("<I", self.edit.types, self.edit.pos(v) + 12)[0]
                    != _BTF_VAR_STATIC
                    for v, _, _ in entries
                )
            flags = (BPF_F_RDONLY_PROG if rodata else 0) | (BPF_F_MMAPABLE if mmapable else 0)
            maps.append(
                MapSpec(
                    name=_internal_map_name(self.name, n),
                    map_type=_ARRAY,
                    key_size=4,
                    value_size=sec.size,
                    max_entries=1,
                    map_flags=flags,
                    btf_key_type_id=0,
                    btf_value_type_id=ds_id,
                    section=sec.idx,
                    initial=initial,
                    freeze=rodata,
                )
            )
        return maps

    # ---------------------------------------------------------------- relocations
    def _collect_relos(self) -> None:
        elf = self.elf
        text_idx = self.text.idx if self.text is not None else -1
        ext_by_sym = {e.sym.idx: i for i, e in enumerate(self.externs)}
        maps_idx = elf.by_name[".maps"].idx if ".maps" in elf.by_name else -2
        map_at = {
            (m.section, m.sec_offset): i for i, m in enumerate(self.maps) if m.section == maps_idx
        }
        data_map = {m.section: i for i, m in enumerate(self.maps) if m.section != maps_idx}
        for sec in {f.sec.idx: f.sec for f in self.funcs}.values():
            for off, sym_idx in elf.relocations(sec.idx):
                if sym_idx >= len(elf.symbols):
                    raise ELFError(f"{self.path}: relocation at {sec.name}+{off}: bad symbol")
                sym = elf.symbols[sym_idx]
                idx = off // 8
                f = self._find_func(sec, idx)
                if f is None or off % 8:
                    continue  # libbpf ignores relocations outside any function
                i = idx - f.sec_off
                code = f.insns[i * 8]
                where = f"{self.path}: {f.name}+{i}"
                if code not in (_CALL, _LD_IMM64):
                    raise Unsupported(f"{where}: relocation against {sym.name!r} on insn {code:#x}")
                if (
                    sym.shndx == _SHN_UNDEF
                    and sym.bind in (_STB_GLOBAL, _STB_WEAK)
                    and sym.type == 0
                ):
                    if sym_idx not in ext_by_sym or code != _CALL:
                        raise Unsupported(f"{where}: extern {sym.name!r}")
                    f.relos[i] = ("kfunc", ext_by_sym[sym_idx])
                elif code == _CALL:
                    if f.insns[i * 8 + 1] >> 4 != BPF_PSEUDO_CALL or sym.shndx != text_idx:
                        raise Unsupported(f"{where}: bad call relocation against {sym.name!r}")
                    f.relos[i] = ("call", sym.value)
                elif not sym.shndx or sym.shndx >= _SHN_LORESERVE:
                    raise Unsupported(
                        f"{where}: relocation against {sym.name!r} in a special section"
                    )
                elif sym.shndx == text_idx and (
                    (sym.bind == _STB_LOCAL and sym.type == _STT_SECTION)
                    or (sym.bind == _STB_GLOBAL and sym.type == _STT_FUNC)
                ):
                    f.relos[i] = ("subprog_addr", sym.value)
                    f.insns[i * 8 + 1] = (f.insns[i * 8 + 1] & 0x0F) | (BPF_PSEUDO_FUNC << 4)
                elif sym.shndx == maps_idx:
                    mi = map_at.get((sym.shndx, sym.value))
                    if mi is None:
                        raise Unsupported(f"{where}: no map at .maps+{sym.value}")
                    f.relos[i] = ("map", mi)
                elif sym.shndx in data_map:
                    f.relos[i] = ("data", (data_map[sym.shndx] << 32) | sym.value)
                else:
                    raise Unsupported(
                        f"{where}: relocation against {sym.name!r} in section "
                        f"{elf.sections[sym.shndx].name!r}"
                    )

    def _collect_ext(self) -> None:
        ext_sec = self.elf.by_name.get(".BTF.ext")
        if ext_sec is None:
            raise Unsupported(f"{self.path}: no .BTF.ext (no func/line info)")
        try:
            raw: RawExt = parse_btf_ext_raw(
                self.elf.bytes(ext_sec), self.spec, name=f"{self.path}:.BTF.ext"
            )
        except BpfkitError as exc:
            raise Unsupported(str(exc)) from None
        by_sec: dict[str, list[_Func]] = {}
        for f in self.funcs:
            by_sec.setdefault(f.sec.name, []).append(f)
        for block in ("func_info", "line_info", "core_relo"):
            for rank, (sec_name, recs) in enumerate(raw.get(block, {}).items()):
                for relo_idx, rec in enumerate(recs):
                    idx = rec[0] // 8
                    owner = _func_at(by_sec.get(sec_name, []), idx)
                    if owner is None:
                        continue
                    f = owner
                    local = idx - f.sec_off
                    if block == "func_info":
                        f.func_info.append((local, rec[1]))
                    elif block == "line_info":
                        f.line_info.append((local, *rec[1:4]))
                    else:
                        _, type_id, access_off, kind = rec
                        try:
                            relo = CoreRelo(
                                local, type_id, self.spec.string(access_off), CoreReloKind(kind)
                            )
                        except (BpfkitError, ValueError) as exc:
                            raise Unsupported(f"{self.path}: CO-RE relocation: {exc}") from None
                        f.core.append((rank, CoreReloSite(local, relo, relo_idx, f.name, local)))

    # ---------------------------------------------------------------- one program
    def _program(self, main: _Func) -> PreparedProgram:
        sec_name = main.sec.name
        ptype, attach = self.kernel.prog_type(sec_name)
        flags = 0
        prefix = sec_name.split("/", 1)[0]
        if sec_name == "syscall" or prefix.endswith(".s"):
            flags |= BPF_F_SLEEPABLE
        if prefix.startswith("xdp.frags") or prefix.endswith(".frags"):
            flags |= BPF_F_XDP_HAS_FRAGS
        attach_btf_id = 0
        if attach in (23, 24, 25, 26, 27, 28) or ptype in (26, 28, 29):
            target = sec_name.split("/", 1)[1] if "/" in sec_name else ""
            if not target or ptype == 28:
                raise Unsupported(f"{self.path}: {main.name}: section {sec_name!r} needs a target")
            lookup = {
                23: ("btf_trace_", BTFKind.TYPEDEF),
                27: ("bpf_lsm_", BTFKind.FUNC),
                28: ("bpf_iter_", BTFKind.FUNC),
            }.get(attach, ("", BTFKind.FUNC))
            attach_btf_id = self.kernel.find(lookup[0] + target, lookup[1])
            if not attach_btf_id:
                raise Unsupported(f"{self.path}: {main.name}: no kernel BTF for {sec_name!r}")
        # CO-RE on each function's own instructions, then append subprograms depth first.
        code = bytearray()
        relos: list[tuple[int, str, int]] = []
        func_info: list[tuple[int, ...]] = []
        line_info: list[tuple[int, ...]] = []
        placed: dict[str, int] = {}

        # CO-RE, as libbpf 1.1 does when this program is the only one loaded: the program and
        # every .text subprogram (called or not), records in .BTF.ext order, one candidate
        # cache for the whole load; each function's own instructions, before appending.
        own: dict[str, bytearray] = {}
        sites = sorted(
            ((rank, site.relo_idx, f, site) for f in self.funcs if f is main or f.subprog
             for rank, site in f.core),
            key=lambda k: (k[0], k[1]),
        )  # fmt: skip
        cand_cache: dict[int, list[int]] = {}
        group: list[CoreReloSite] = []
        for i, (_, _, f, site) in enumerate(sites):
            group.append(site)
            if i + 1 == len(sites) or sites[i + 1][2] is not f:
                buf = own.setdefault(f.name, bytearray(f.insns))
                self.kernel.apply_core(buf, group, self.spec, f.name, cand_cache)
                group = []

        def relocated(f: _Func) -> bytearray:
            return own.get(f.name) or bytearray(f.insns)

        def append(f: _Func) -> int:
            start = len(code) // 8
            placed[f.name] = start
            code.extend(relocated(f))
            if not f.func_info or not f.line_info:
                raise Unsupported(f"{self.path}: {f.name}: no .BTF.ext func or line info")
            func_info.extend((start + r[0], *r[1:]) for r in f.func_info)
            line_info.extend((start + r[0], *r[1:]) for r in f.line_info)
            reloc_code(f, start)
            return start

        def reloc_code(f: _Func, start: int) -> None:
            for i in range(f.cnt):
                at = (start + i) * 8
                opcode, regs = code[at], code[at + 1]
                src = regs >> 4
                is_call = opcode == _CALL and src == BPF_PSEUDO_CALL
                is_func = opcode == _LD_IMM64 and src == BPF_PSEUDO_FUNC
                relo = f.relos.get(i)
                if relo is not None and relo[0] not in ("call", "subprog_addr"):
                    relos.append((start + i, *relo))
                if not is_call and not is_func:
                    continue
                if relo is not None and relo[0] == "kfunc":
                    continue
                imm = struct.unpack_from("<i", code, at + 4)[0]
                if relo is not None and relo[0] == "call":
                    target = relo[1] // 8 + imm + 1
                elif relo is not None and relo[0] == "subprog_addr":
                    target = (relo[1] + imm) // 8
                elif is_func:
                    raise Unsupported(f"{self.path}: {f.name}+{i}: callback address without relo")
                else:
                    target = f.sec_off + i + imm + 1
                    if f.sec is not self.text:
                        raise Unsupported(f"{self.path}: {f.name}+{i}: call outside .text")
                sub = self._find_func(self.text, target) if self.text is not None else None
                if sub is None or sub.sec_off != target:
                    raise Unsupported(f"{self.path}: {f.name}+{i}: no subprogram at .text+{target}")
                where = placed.get(sub.name)
                if where is None:
                    where = append(sub)
                struct.pack_into("<i", code, at + 4, where - (start + i) - 1)

        append(main)
        map_relos: list[tuple[int, int, bool]] = []
        for idx, kind, arg in relos:
            at = idx * 8
            if kind == "map":
                map_relos.append((idx, arg, False))
            elif kind == "data":
                map_idx, sym_off = arg >> 32, arg & 0xFFFFFFFF
                imm0 = struct.unpack_from("<i", code, at + 4)[0]
                struct.pack_into("<I", code, at + 12, (imm0 + sym_off) & 0xFFFFFFFF)
                map_relos.append((idx, map_idx, True))
            elif kind == "kfunc":
                ext = self.externs[arg]
                code[at + 1] = (code[at + 1] & 0x0F) | (BPF_PSEUDO_KFUNC_CALL << 4)
                struct.pack_into("<hi", code, at + 2, 0, ext.kernel_id)
        return PreparedProgram(
            name=main.name,
            section=sec_name,
            prog_type=ptype,
            prog_type_name=self.kernel.prog_type_name(ptype),
            expected_attach_type=attach,
            prog_flags=flags,
            attach_btf_id=attach_btf_id,
            insns=bytes(code),
            map_relos=tuple(map_relos),
            func_info=b"".join(struct.pack("<II", *r) for r in func_info),
            line_info=b"".join(struct.pack("<IIII", *r) for r in line_info),
        )


# ------------------------------------------------------------------------------------ kernel


_MODS = frozenset(
    {BTFKind.CONST, BTFKind.VOLATILE, BTFKind.RESTRICT, BTFKind.TYPEDEF, BTFKind.TYPE_TAG}
)


def _datasecs(spec: Spec) -> list[Datasec]:
    return [t for t in spec.iter_kind(BTFKind.DATASEC) if isinstance(t, Datasec)]


class _KernelLookup:
    """What preparing needs from the running kernel: its BTF (opened on first use), libbpf's
    section table, and CO-RE relocation."""

    def __init__(self, lib: Libbpf) -> None:
        self.lib = lib
        self._kbtf: KernelBTF | None = None
        fn = lib.lib.libbpf_prog_type_by_name
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        self._by_name = fn
        self._sections: dict[str, tuple[int, int]] = {}

    @property
    def kbtf(self) -> KernelBTF:
        if self._kbtf is None:
            self._kbtf = KernelBTF.vmlinux()
        return self._kbtf

    def find(self, name: str, kind: BTFKind) -> int:
        return self.kbtf.find(name, kind)

    def prog_type(self, section: str) -> tuple[int, int]:
        """``(prog_type, expected_attach_type)`` of a section name, from libbpf's table."""
        got = self._sections.get(section)
        if got is None:
            pt, at = ctypes.c_int(0), ctypes.c_int(0)
            if self._by_name(section.encode(), ctypes.byref(pt), ctypes.byref(at)) != 0:
                raise Unsupported(f"section {section!r} is not a program type libbpf knows")
            got = self._sections[section] = (pt.value, at.value)
        return got

    def prog_type_name(self, prog_type: int) -> str:
        name = self.lib.lib.libbpf_bpf_prog_type_str(prog_type)
        return name.decode() if name else str(prog_type)

    def func_compatible(self, local: Spec, local_id: int, kernel_id: int) -> bool:
        """libbpf 1.1's ``bpf_core_types_are_compat()`` of a local FUNC_PROTO and the kernel
        FUNC *kernel_id*'s prototype."""
        kb = self.kbtf
        func = kb[kernel_id]
        if not isinstance(func, Func):
            return False
        try:
            return types_are_compat(local, local_id, kb, func.type)
        except CoreUnsupported as exc:
            raise Unsupported(str(exc)) from None

    def apply_core(
        self,
        insns: bytearray,
        sites: list[CoreReloSite],
        local: Spec,
        func: str,
        cand_cache: dict[int, list[int]],
    ) -> None:
        try:
            apply_core_relos(insns, sites, local, self._lazy_target, func, cand_cache=cand_cache)
        except CoreUnsupported as exc:
            raise Unsupported(str(exc)) from None

    def _lazy_target(self) -> KernelBTF:
        return self.kbtf


def prepare_object(
    path: str | os.PathLike[str], *, libbpf_path: str | None = None
) -> tuple[PreparedObject, dict[str, str]]:
    """Prepare a BPF object as libbpf 1.1 would for loading, once for all its programs.

    Returns
    -------
    (PreparedObject, dict)
        The prepared object, and the programs it could not prepare itself, each with the
        reason (those go through libbpf).

    Raises
    ------
    Unsupported
        The object as a whole needs libbpf (a ``.kconfig`` extern, legacy maps, ...).
    ELFError
        Missing or malformed file.
    KernelError
        No libbpf, or no kernel BTF when the object needs it.
    """
    p = Path(path)
    if not p.is_file():
        raise ELFError(f"{p}: no such BPF object file")
    kernel = _KernelLookup(open_libbpf(libbpf_path))
    try:
        return _Preparer(p, kernel).run()
    except BTFError as exc:  # the program's BTF, read further than parse_btf checks it
        raise Unsupported(f"{p}: {exc}") from None
    except (struct.error, IndexError, KeyError, ValueError, UnicodeDecodeError) as exc:
        # Malformed in a way the checks above did not name: libbpf gets the last word.
        raise Unsupported(f"{p}: cannot prepare ({type(exc).__name__}: {exc})") from None
