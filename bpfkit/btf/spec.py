"""A parsed BTF blob: :class:`Spec`, and the functions that make one.

The design follows cilium/ebpf's ``btf`` package. Parsing only *indexes* the type section:
one pass over its 32-bit words records where each type starts (an ``array('I')`` of word
offsets, no per-type Python objects); a type is decoded into its record from
:mod:`bpfkit.btf.types` the first time it is asked for, and cached. Names are indexed on the
first :meth:`Spec.find`. Base and split BTF are one concept: a split spec's type ids and
string offsets continue from its base, and asking it for a base id answers from the base.

``btf_type.info`` is read as the current ``include/uapi/linux/btf.h`` lays it out: ``vlen`` in
bits 0-23, kind in bits 24-30, ``kind_flag`` in bit 31 (the uapi that added the layout section
widened ``vlen`` from 16 bits and kind from 5; valid older BTF, whose bits in between are zero,
reads the same either way).

What is checked before anything is trusted (after libbpf ``btf.c`` and the kernel's
``btf_check_*``), all at parse time:

* the header and the section bounds/overlap/alignment (:func:`~bpfkit.btf.header.parse_header`);
* the string section ends with ``\\0`` (and, for a base, starts with one);
* every type's kind is known (or stepped over through the layout section) and its ``vlen``
  records fit in the bytes that remain, checked before anything is allocated for them; the
  type section ends exactly at the last type;
* every ``name_off`` and type id in every record is in range and FUNC/VAR linkage is known
  (a scan that only finds the first bad type, vectorised with numpy for a large spec in a
  process that has numpy already, ~5 ms for a kernel's ~126k types; then
  :meth:`Spec._type_error` says what is wrong with that type, whichever scan found it).

So a :class:`Spec` that was made decodes every type (a kind > 19 stepped over through the
layout section is the exception: asking for it raises :class:`BTFError`). Reference cycles
(``typedef a -> typedef b -> a``, ``const -> const``) are valid BTF bytes; the walks that
follow chains (:meth:`Spec.resolve`, :meth:`Spec.sizeof`, :meth:`Spec.type_name`) stop after
:data:`MAX_RESOLVE_DEPTH` steps with a :class:`BTFError`.

Examples
--------
>>> from bpfkit.btf import load_vmlinux
>>> spec = load_vmlinux()
>>> spec.find_one("task_struct").kind.name
'STRUCT'
>>> spec.type_name(spec.find_one("bpf_map").id)
'struct bpf_map'
"""

from __future__ import annotations

import os
import sys
import zlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, cast

from bpfkit.btf.header import Header, Layout, parse_header, parse_layout
from bpfkit.btf.types import (
    MODIFIER_KINDS,
    QUALIFIER_KINDS,
    AnyType,
    Array,
    BTFKind,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    EnumValue,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    IntEncoding,
    Linkage,
    Member,
    Param,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Void,
    Volatile,
)
from bpfkit.errors import BTFError

__all__ = [
    "Spec",
    "TypeView",
    "decode_record",
    "parse_btf",
    "load_btf",
    "load_vmlinux",
    "read_btf_bytes",
    "MAX_RESOLVE_DEPTH",
    "EMBEDDED_VMLINUX",
    "KIND_NAMES",
    "NUMPY_MIN_TYPES",
]

#: Longest modifier/array chain followed before giving up (the kernel's ``MAX_RESOLVE_DEPTH``).
MAX_RESOLVE_DEPTH = 32
#: This machine's kernel BTF (6.18), shipped compressed for machines without /sys/kernel/btf.
EMBEDDED_VMLINUX = Path(__file__).resolve().parents[2] / "data" / "btf" / "vmlinux-6.18.btf.xz"
#: bpftool's spelling of each kind (``btf_kind_str``); unknown kinds print as ``UNKNOWN``.
KIND_NAMES: tuple[str, ...] = tuple(k.name if k else "UNKNOWN" for k in BTFKind)

_BIG = 1 << 40  # step for an unknown kind: ends the index loop at once, the check names it
_NATIVE_LITTLE = sys.byteorder == "little"
_U32 = next(code for code in "IL" if array(code).itemsize == 4)  # typecode of a 32-bit word
_MAX_DECOMPRESSED = 1 << 28  # 256 MiB: 50x a kernel BTF
_PTR_SIZE = 8

#: Below this many types, references are checked in plain Python even when numpy is loaded.
NUMPY_MIN_TYPES = 4096
# Kinds on which the kernel accepts kind_flag (btf_*_check_meta; DECL_TAG/TYPE_TAG since the
# 2025 "plain C attribute" flag); elsewhere it answers "Invalid btf_info kind_flag".
_KFLAG_KINDS = frozenset({4, 5, 6, 7, 17, 18, 19})
# Kinds whose vlen must be 0 ("vlen != 0"); FUNC's vlen is its linkage, checked apart.
_NO_VLEN_KINDS = frozenset({1, 2, 3, 8, 9, 10, 11, 14, 16, 17, 18})
# INT encodings: none, SIGNED, CHAR, BOOL, at most one (btf_int_check_meta)
_INT_ENCODINGS = frozenset({0, 1, 2, 4})
# Kinds whose btf_type.type is a type id.
_REF_KINDS = frozenset({2, 8, 9, 10, 11, 12, 13, 14, 17, 18})
# vlen records: kind -> (words per record, word of name_off or -1, word of type id or -1, what)
_VLEN_RECORDS = {
    4: (3, 0, 1, "member"),
    5: (3, 0, 1, "member"),
    6: (2, 0, -1, "enum value"),
    19: (3, 0, -1, "enum64 value"),
    13: (2, 0, 1, "param"),
    15: (3, -1, 0, "var"),
}
# Words after struct btf_type, and words per vlen element, per kind (uapi/linux/btf.h).
_INFO_WORDS = {1: 1, 3: 3, 14: 1, 17: 1}
_ELEM_WORDS = {4: 3, 5: 3, 6: 2, 13: 2, 15: 3, 19: 3}


def _step_tables(layout: tuple[Layout, ...], name: str) -> tuple[list[int], list[int]]:
    fixed = [_BIG] * 128
    per = [0] * 128
    for kind in range(1, 20):
        fixed[kind] = 3 + _INFO_WORDS.get(kind, 0)
        per[kind] = _ELEM_WORDS.get(kind, 0)
    for entry in layout:
        if entry.kind >= 128:
            break
        if entry.info_sz % 4 or entry.elem_sz % 4:
            raise BTFError(
                f"{name}: layout entry for kind {entry.kind} has info_sz={entry.info_sz} "
                f"elem_sz={entry.elem_sz}, not multiples of 4"
            )
        if 1 <= entry.kind <= 19:
            want = (_INFO_WORDS.get(entry.kind, 0) * 4, _ELEM_WORDS.get(entry.kind, 0) * 4)
            if (entry.info_sz, entry.elem_sz) != want:
                raise BTFError(
                    f"{name}: layout entry for kind {KIND_NAMES[entry.kind]} says info_sz="
                    f"{entry.info_sz} elem_sz={entry.elem_sz}, the kind has {want[0]}/{want[1]}"
                )
        elif entry.kind > 19:
            fixed[entry.kind] = 3 + entry.info_sz // 4
            per[entry.kind] = entry.elem_sz // 4
    return fixed, per


def _shape(info: int, n_ids: int) -> tuple[int, tuple[int, ...] | None]:
    """How :meth:`Spec._first_bad_py` checks the types with this ``info`` word: (the bound
    of the word after name and info: *n_ids* if it is a type id, 0 if the info word alone
    is wrong (kind_flag, vlen or FUNC linkage), else 2**32; and what else to check: None,
    ``()`` for :meth:`Spec._type_error`, or for the words after ``struct btf_type`` (the
    stride, the first name offset and the first type id (0: none), where they end), in
    words from the type's start)."""
    k, vlen = (info >> 24) & 0x7F, info & 0xFFFFFF
    if info & 0x80000000 and k not in _KFLAG_KINDS and k < 20:
        return 0, None
    if (vlen and k in _NO_VLEN_KINDS) or (k == 12 and vlen > 2):
        return 0, None
    limit = n_ids if k in _REF_KINDS else 1 << 32
    if k == 3:  # ARRAY: element and index type ids
        return limit, (1, 0, 3, 5)
    if k == 1 or k == 14:  # INT data, VAR linkage
        return limit, ()
    rec = _VLEN_RECORDS.get(k)
    if rec is None or not vlen:
        return limit, None
    size, name_at, type_at, _ = rec
    names_at = 3 + name_at if name_at >= 0 else 0
    types_at = 3 + type_at if type_at >= 0 else 0
    return limit, (size, names_at, types_at, 3 + size * vlen)


class _Steps(dict[int, int]):
    """``info`` word -> words of a type with that info (header, extra words, vlen records).

    A kernel has a few hundred distinct info words for 126k types, so the index loop looks
    each one up instead of decoding kind and vlen every time (twice as fast)."""

    def __init__(self, fixed: list[int], per: list[int]) -> None:
        super().__init__()
        self.fixed, self.per = fixed, per

    def __missing__(self, info: int) -> int:
        k = (info >> 24) & 0x7F
        step = self[info] = self.fixed[k] + self.per[k] * (info & 0xFFFFFF)
        return step


class Spec:
    """The types of one BTF blob (and of its base, for split BTF).

    Make one with :func:`parse_btf`, :func:`load_btf` or :func:`load_vmlinux`.
    ``spec[type_id]`` decodes lazily; ``len(spec)`` is the highest id + 1; ``iter(spec)``
    yields this spec's own types in id order (not the base's; see :meth:`all_types`).
    """

    __slots__ = (
        "name",
        "base",
        "header",
        "layout",
        "byte_order",
        "first_id",
        "_len",
        "_w",
        "_offs",
        "_strs",
        "_str_first",
        "_str_end",
        "_cache",
        "_strcache",
        "_allnames",
        "_names",
        "_decl_tags",
        "_acyclic",
        "_acyclic_ptr",
    )

    def __init__(self, data: bytes, *, base: Spec | None = None, name: str = "<bytes>") -> None:
        self.name = name
        self.base = base
        hdr = parse_header(data, name)
        self.header: Header = hdr
        self.byte_order: str = hdr.byte_order
        self.layout: tuple[Layout, ...] = parse_layout(data, hdr)
        self.first_id: int = len(base) if base is not None else 1
        # Strings: offsets of a split spec continue after the base's string section.
        start = hdr.hdr_len + hdr.str_off
        strs = data[start : start + hdr.str_len]
        where = f"{name}: invalid BTF string section at {hdr.str_off} + {hdr.str_len}"
        if base is None and (not strs or strs[0] != 0):
            raise BTFError(f"{where}: a base BTF's strings must start with \\0 (the empty name)")
        if strs and strs[-1] != 0:
            raise BTFError(f"{where}: does not end with \\0 (last byte {strs[-1]:#04x})")
        if hdr.str_len - 1 > 0x7FFFFFFF:
            raise BTFError(f"{name}: BTF string section of {hdr.str_len} bytes is too large")
        self._strs: bytes = strs
        self._str_first: int = base._str_end if base is not None else 0
        self._str_end: int = self._str_first + len(strs)
        # Types: one pass recording the word offset of each type.
        tstart = hdr.hdr_len + hdr.type_off
        section = memoryview(data)[tstart : tstart + hdr.type_len]
        words: memoryview | array[int]
        if (hdr.byte_order == "little") == _NATIVE_LITTLE and _U32 == "I":
            words = section.cast("I")  # read in place: no copy of the type section
        else:
            swapped = array(_U32)
            swapped.frombytes(section)
            swapped.byteswap()
            words = swapped
        self._w = words
        self._offs = self._index(words, hdr)
        self._len: int = self.first_id + len(self._offs)
        self._check_refs()
        self._cache: list[AnyType | None] = [None] * len(self._offs)
        self._strcache: dict[int, str] | None = None
        self._allnames: dict[int, str] | None = None
        self._names: dict[str, list[int]] | None = None
        self._decl_tags: dict[int, list[int]] | None = None
        self._acyclic: set[int] = set()  # ids whose by-value references reach no loop
        self._acyclic_ptr: set[int] = set()  # ids whose modifier/pointer chain has no loop

    def _index(self, w: Sequence[int], hdr: Header) -> array[int]:
        fixed, per = _step_tables(self.layout, self.name)
        steps = _Steps(fixed, per)
        n = len(w)
        offs = array(_U32)  # word offsets straight into an array: no int object kept per type
        append = offs.append
        pos = 0
        try:
            while pos < n:
                append(pos)
                pos += steps[w[pos + 1]]  # words of this type, from its info word
        except IndexError:  # a header cut short at the very end: reported below
            pass
        if pos != n:
            last = offs[-1]
            tid = self.first_id + len(offs) - 1
            at = hdr.hdr_len + hdr.type_off + last * 4
            remain = (n - last) * 4
            if remain < 12:
                raise BTFError(
                    f"{self.name}: type [{tid}] at byte {at}: struct btf_type needs 12 bytes, "
                    f"only {remain} remain in the type section"
                )
            info = w[last + 1]
            k = (info >> 24) & 0x7F
            if fixed[k] >= _BIG:
                raise BTFError(
                    f"{self.name}: type [{tid}] at byte {at}: unsupported BTF kind {k} "
                    f"(info {info:#010x}), no layout entry to step over it"
                )
            need = (fixed[k] + per[k] * (info & 0xFFFFFF)) * 4
            raise BTFError(
                f"{self.name}: type [{tid}] {KIND_NAMES[k] if k < 20 else k} at byte {at} "
                f"is malformed: vlen {info & 0xFFFFFF} needs {need} bytes, only {remain} "
                f"remain in the type section"
            )
        return offs

    def _ref_error(self, i: int, what: str, value: int) -> BTFError:
        tid = self.first_id + i
        k = (self._w[self._offs[i] + 1] >> 24) & 0x7F
        label = KIND_NAMES[k] if k < len(KIND_NAMES) else f"kind {k}"
        if what.endswith("name_off"):
            why = f"out of range: strings end at {self._str_end}"
        elif what == "linkage":
            why = "is not static (0), global (1) or extern (2)"
        elif what == "kind_flag":
            why = (
                "set: the kernel allows it only on STRUCT, UNION, FWD, ENUM, ENUM64, DECL_TAG "
                'and TYPE_TAG ("Invalid btf_info kind_flag")'
            )
        elif what == "vlen":
            why = 'must be 0 for this kind (the kernel: "vlen != 0")'
        elif what == "int encoding":
            why = 'is not one of none, SIGNED, CHAR, BOOL (the kernel: "Unsupported encoding")'
        elif what == "int data":
            why = 'has bits set outside encoding, offset and bits (the kernel: "Invalid int_data")'
        elif what == "info":
            why = "has bits set between vlen and kind that no kernel defines"
        else:
            why = f"beyond the last type id {self._len - 1}"
        at = self.header.hdr_len + self.header.type_off + 4 * self._offs[i]
        return BTFError(f"{self.name}: type [{tid}] {label} at byte {at}: {what} {value} {why}")

    def _check_refs(self) -> None:
        """Every name offset and type id in every record is in range, and FUNC/VAR linkage
        is known (libbpf's ``btf_validate_type``).

        A fast scan finds the first bad type, :meth:`_type_error` then says what is wrong
        with it, so both scans report the same error. The scan is vectorised with numpy for
        a large spec when this process has numpy already; otherwise it is plain Python,
        which costs less than importing numpy (a one-shot ``bpfkit btf dump``)."""
        if len(self._offs) >= NUMPY_MIN_TYPES and "numpy" in sys.modules:
            bad = self._first_bad_np()
        else:
            bad = self._first_bad_py()
        if bad is not None:
            raise self._type_error(bad) or BTFError(
                f"{self.name}: type [{self.first_id + bad}]: invalid (no check names why)"
            )

    def _type_error(self, i: int) -> BTFError | None:
        """What is wrong with this spec's *i*-th own type, if anything (all checks, in the
        order the kernel makes them)."""
        w, n_ids, str_end = self._w, self._len, self._str_end
        pos = self._offs[i]
        info = w[pos + 1]
        k, vlen = (info >> 24) & 0x7F, info & 0xFFFFFF
        if w[pos] >= str_end:
            return self._ref_error(i, "name_off", w[pos])
        if k in _REF_KINDS and w[pos + 2] >= n_ids:
            return self._ref_error(i, "type", w[pos + 2])
        if info & 0x80000000 and k not in _KFLAG_KINDS and k < 20:
            return self._ref_error(i, "kind_flag", info)
        if vlen and k in _NO_VLEN_KINDS:
            return self._ref_error(i, "vlen", vlen)
        if k == 1:
            data = w[pos + 3]
            if data & 0xF0000000:
                return self._ref_error(i, "int data", data)
            if (data >> 24) & 0xF not in _INT_ENCODINGS:
                return self._ref_error(i, "int encoding", (data >> 24) & 0xF)
        if k == 3:
            for j, what in ((3, "array type"), (4, "array index_type")):
                if w[pos + j] >= n_ids:
                    return self._ref_error(i, what, w[pos + j])
        elif k == 12 and vlen > 2:
            return self._ref_error(i, "linkage", vlen)
        elif k == 14 and w[pos + 3] > 2:
            return self._ref_error(i, "linkage", w[pos + 3])
        rec = _VLEN_RECORDS.get(k)
        if rec is None or not vlen:
            return None
        size, name_at, type_at, what = rec
        for j in range(vlen):
            q = pos + 3 + size * j
            if name_at >= 0 and w[q + name_at] >= str_end:
                return self._ref_error(i, f"{what} {j} name_off", w[q + name_at])
            if type_at >= 0 and w[q + type_at] >= n_ids:
                return self._ref_error(i, f"{what} {j} type", w[q + type_at])
        return None

    def _first_bad_py(self) -> int | None:
        """Index of the first own type :meth:`_type_error` faults, in plain Python.

        What a type's info word alone decides (kind_flag, vlen, FUNC linkage) is judged once
        per distinct info word (a kernel has ~300 for 126k types); then a type costs a name
        offset and a type id comparison, and its vlen records a ``max`` over strided slices.
        The rare kinds with more fields (INT, ARRAY, VAR) go through :meth:`_type_error`."""
        w, n_ids, str_end = self._w, self._len, self._str_end
        shapes: dict[int, tuple[int, tuple[int, ...] | None]] = {}
        for i, pos in enumerate(self._offs):
            info = w[pos + 1]
            try:
                limit, more = shapes[info]
            except KeyError:
                limit, more = shapes[info] = _shape(info, n_ids)
            if w[pos] >= str_end or w[pos + 2] >= limit:
                return i
            if more is None:
                continue
            if not more:
                if self._type_error(i) is not None:
                    return i
                continue
            step, names_at, types_at, end = more
            end += pos
            if names_at and max(w[pos + names_at : end : step]) >= str_end:
                return i
            if types_at and max(w[pos + types_at : end : step]) >= n_ids:
                return i
        return None

    def _first_bad_np(self) -> int | None:
        """:meth:`_first_bad_py` vectorised: one numpy pass per field over all types."""
        import numpy as np

        w = np.frombuffer(self._w, dtype=np.uint32)
        offs = np.frombuffer(self._offs, dtype=np.uint32).astype(np.int64)
        info = w[offs + 1]
        kind = (info >> 24) & 0x7F
        vlen = (info & 0xFFFFFF).astype(np.int64)
        n_ids, str_end = self._len, self._str_end

        def table(kinds: Any) -> Any:
            t = np.zeros(128, dtype=bool)
            t[list(kinds)] = True
            return t[kind]

        bad = w[offs] >= str_end
        bad |= ((info & 0x80000000) != 0) & ~table(_KFLAG_KINDS) & (kind < 20)
        bad |= (vlen != 0) & table(_NO_VLEN_KINDS)
        bad |= (kind == 12) & (vlen > 2)
        ref = np.flatnonzero(table(_REF_KINDS))
        bad[ref[w[offs[ref] + 2] >= n_ids]] = True
        sel = np.flatnonzero(kind == 3)
        bad[sel[(w[offs[sel] + 3] >= n_ids) | (w[offs[sel] + 4] >= n_ids)]] = True
        sel = np.flatnonzero(kind == 14)
        bad[sel[w[offs[sel] + 3] > 2]] = True
        sel = np.flatnonzero(kind == 1)
        data = w[offs[sel] + 3]
        encodings = np.zeros(16, dtype=bool)
        encodings[list(_INT_ENCODINGS)] = True
        bad[sel[(data >= 0x10000000) | ~encodings[(data >> 24) & 0xF]]] = True
        for k, (size, name_at, type_at, _) in _VLEN_RECORDS.items():
            sel = np.flatnonzero((kind == k) & (vlen > 0))
            if not sel.size:
                continue
            counts = vlen[sel]
            owner = np.repeat(sel, counts)
            within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            pos = offs[owner] + 3 + size * within
            if name_at >= 0:
                bad[owner[w[pos + name_at] >= str_end]] = True
            if type_at >= 0:
                bad[owner[w[pos + type_at] >= n_ids]] = True
        first = int(np.argmax(bad))
        return first if bad[first] else None

    # ----------------------------------------------------------------- basics

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        base = f", base={self.base.name!r}" if self.base is not None else ""
        return (
            f"<Spec {self.name!r}: types [{self.first_id}, {self._len}){base}, "
            f"{self.byte_order}-endian>"
        )

    def __iter__(self) -> Iterator[AnyType]:
        cache = self._cache
        if None not in cache:  # every type decoded already: no call per type
            return iter(cast("list[AnyType]", cache))
        return map(self.__getitem__, range(self.first_id, self._len))

    def iter_kind(self, *kinds: BTFKind) -> Iterator[AnyType]:
        """Yield this spec's own types of the given kinds, in id order, decoding only those
        (``spec.iter_kind(BTFKind.STRUCT, BTFKind.UNION)``)."""
        wanted = {int(k) for k in kinds}
        w, first = self._w, self.first_id
        for i, pos in enumerate(self._offs):
            if (w[pos + 1] >> 24) & 0x7F in wanted:
                yield self[first + i]

    def all_types(self) -> Iterator[AnyType]:
        """Yield every type from id 1: the base's, then this spec's own."""
        if self.base is not None:
            yield from self.base.all_types()
        yield from self

    def __getitem__(self, type_id: int) -> AnyType:
        i = type_id - self.first_id
        if i >= 0:
            if i >= len(self._offs):
                raise BTFError(
                    f"{self.name}: type id {type_id} out of range: ids go up to {self._len - 1}"
                )
            t = self._cache[i]
            if t is None:
                t = self._cache[i] = self._decode(type_id, self._offs[i])
            return t
        if self.base is not None:
            return self.base[type_id]
        if type_id == 0:
            return _VOID
        raise BTFError(f"{self.name}: type id {type_id} out of range: ids go up to {self._len - 1}")

    def validate(self) -> None:
        """Decode every type of this spec: raises :class:`BTFError` at the first bad one."""
        for _ in self:
            pass

    # ----------------------------------------------------------------- strings

    def string(self, offset: int) -> str:
        """The NUL-terminated string at *offset* (offsets of a split spec continue the base's).

        Raises
        ------
        BTFError
            *offset* is outside the string section(s).
        """
        local = offset - self._str_first
        if local < 0:
            if self.base is not None:
                return self.base.string(offset)
            raise BTFError(f"{self.name}: string offset {offset} is negative")
        strs = self._strs
        if local >= len(strs):
            raise BTFError(
                f"{self.name}: string offset {offset} out of range: the string section "
                f"covers [{self._str_first}, {self._str_end})"
            )
        cache = self._strcache
        if cache is not None:
            s = cache.get(offset)
            if s is not None:
                return s
        end = strs.index(b"\0", local)
        return strs[local:end].decode("utf-8", "surrogateescape")

    def _string_table(self) -> dict[int, str]:
        """Every string that starts right after a NUL, by offset (built once)."""
        if self._strcache is None:
            strs = self._strs
            if strs.isascii():  # char offsets are byte offsets: split once, in C
                parts = strs.decode("ascii").split("\0")
                sizes: Any = map(len, parts)
            else:  # offsets count bytes, not characters
                chunks = strs.split(b"\0")
                parts = [c.decode("utf-8", "surrogateescape") for c in chunks]
                sizes = map(len, chunks)
            starts = accumulate(map((1).__add__, sizes), initial=self._str_first)  # after each NUL
            table = dict(zip(starts, parts, strict=False))
            table.pop(self._str_end, None)  # the empty tail after the final NUL
            self._strcache = table
        return self._strcache

    # ----------------------------------------------------------------- decoding

    def names_by_offset(self) -> dict[int, str]:
        """Offset -> string for every string that starts right after a NUL, this spec's and
        its bases' (built once; offsets into the middle of a string are added on demand)."""
        if self._allnames is None:
            if self.base is None:  # shared with string(): both hold exact strings
                self._allnames = self._string_table()
            else:
                merged = dict(self.base.names_by_offset())
                merged.update(self._string_table())
                self._allnames = merged
        return self._allnames

    def _name_offsets(self, pos: int) -> Iterator[int]:
        """Every name offset in the record at word *pos* (header and vlen records)."""
        w = self._w
        info = w[pos + 1]
        k, vlen = (info >> 24) & 0x7F, info & 0xFFFFFF
        yield w[pos]
        size = _ELEM_WORDS.get(k, 0) if k != 15 else 0
        if size:
            yield from w[pos + 3 : pos + 3 + size * vlen : size]

    def _decode(self, tid: int, pos: int) -> AnyType:
        names = self._allnames if self._allnames is not None else self.names_by_offset()
        try:
            return self._decode_record(tid, pos, names)
        except KeyError:  # a name offset into the middle of a string: add them all, once
            for off in self._name_offsets(pos):
                if off not in names:
                    names[off] = self.string(off)
            return self._decode_record(tid, pos, names)

    def _decode_record(self, tid: int, pos: int, names: dict[int, str]) -> AnyType:
        # Offsets and ids were all range-checked at parse time (_check_refs).
        return decode_record(self._w, pos, tid, names, self.name)

    def kind_of(self, type_id: int) -> BTFKind | int:
        """The kind of *type_id* without decoding it (an ``int`` for a kind unknown here)."""
        i = type_id - self.first_id
        if i < 0:
            if self.base is not None:
                return self.base.kind_of(type_id)
            if type_id == 0:
                return BTFKind.UNKN
        if type_id >= self._len or type_id < 0:
            raise BTFError(
                f"{self.name}: type id {type_id} out of range: ids go up to {self._len - 1}"
            )
        k = (self._w[self._offs[i] + 1] >> 24) & 0x7F
        return BTFKind(k) if k < 20 else k

    # ----------------------------------------------------------------- lookups

    def _name_index(self) -> dict[str, list[int]]:
        if self._names is None:
            table = self.names_by_offset()
            w = self._w
            index: dict[str, list[int]] = {}
            first = self.first_id
            for i, pos in enumerate(self._offs):
                off = w[pos]
                if not off:
                    continue
                s = table.get(off)
                if s is None:
                    try:
                        s = self.string(off)
                    except BTFError:
                        continue
                lst = index.get(s)
                if lst is None:
                    index[s] = [first + i]
                else:
                    lst.append(first + i)
            self._names = index
        return self._names

    def find(self, name: str, kind: BTFKind | None = None) -> list[AnyType]:
        """All types named *name* (of *kind*, if given), the base's first, in id order."""
        found: list[AnyType] = self.base.find(name, kind) if self.base is not None else []
        for tid in self._name_index().get(name, ()):
            t = self[tid]
            if kind is None or t.kind == kind:
                found.append(t)
        return found

    def find_one(self, name: str, kind: BTFKind | None = None) -> AnyType:
        """The one type named *name* (of *kind*); :class:`BTFError` if none or several."""
        found = self.find(name, kind)
        what = f"{kind.name} " if kind is not None else ""
        if not found:
            raise BTFError(f"{self.name}: no {what}type named {name!r}")
        if len(found) > 1:
            ids = ", ".join(f"[{t.id}] {t.kind.name}" for t in found[:8])
            raise BTFError(f"{self.name}: {len(found)} {what}types named {name!r}: {ids}")
        return found[0]

    def resolve(self, type_id: int, *, typedefs: bool = True) -> AnyType:
        """Follow CONST/VOLATILE/RESTRICT/TYPE_TAG (and TYPEDEF if *typedefs*) from *type_id*."""
        skip = MODIFIER_KINDS if typedefs else QUALIFIER_KINDS
        t = self[type_id]
        for _ in range(MAX_RESOLVE_DEPTH):
            if t.kind not in skip:
                return t
            t = self[t.type]  # type: ignore[union-attr]
        self.check_no_loop(type_id)
        raise BTFError(
            f"{self.name}: resolving type [{type_id}]: chain longer than {MAX_RESOLVE_DEPTH} "
            f"types (the kernel's MAX_RESOLVE_DEPTH), stopped at [{t.id}] {t.kind.name}"
        )

    # ----------------------------------------------------------------- reference loops

    def _value_refs(self, tid: int, ptr_mode: bool) -> tuple[int, ...]:
        """The references the kernel's ``btf_resolve`` follows from *tid*, in its two modes
        (``env_type_is_resolve_sink``). Struct/array mode: a modifier's, typedef's, tag's,
        VAR's target, an array's element, a struct's or union's members (held by value).
        Pointer mode: a modifier's or pointer's target only (a struct is a sink there, so
        ``struct a { struct a *next; }`` is fine). FUNC_PROTOs are sinks in both."""
        if tid < self.first_id:
            return self.base._value_refs(tid, ptr_mode) if self.base is not None else ()
        try:
            t = self[tid]
        except BTFError:
            return ()
        k = t.kind
        if k in MODIFIER_KINDS:
            return (t.type,)  # type: ignore[union-attr]
        if ptr_mode:
            return (t.type,) if k == BTFKind.PTR else ()  # type: ignore[union-attr]
        if k in (BTFKind.VAR, BTFKind.DECL_TAG, BTFKind.ARRAY):
            return (t.type,)  # type: ignore[union-attr]
        if k in (BTFKind.STRUCT, BTFKind.UNION):
            return tuple(m.type for m in t.members)  # type: ignore[union-attr]
        return ()

    def find_loop(self, type_id: int) -> list[int] | None:
        """A loop of by-value references reachable from *type_id* (its type ids in order,
        the first repeated at the end), or None. Such BTF is what the kernel rejects with
        "Loop detected" (``btf_resolve``): a modifier or typedef chain that comes back to
        itself, an array of itself, a struct that contains itself, a pointer to itself
        through modifiers only. Ids found loop-free are
        remembered, so checking every type of a spec costs one walk over its references.
        """
        for ptr_mode in (False, True):
            loop = self._find_loop(type_id, ptr_mode)
            if loop is not None:
                return loop
        return None

    def _find_loop(self, type_id: int, ptr_mode: bool) -> list[int] | None:
        acyclic = self._acyclic_ptr if ptr_mode else self._acyclic
        if type_id in acyclic or type_id == 0:
            return None
        on_path: dict[int, int] = {}
        path: list[int] = []
        stack: list[tuple[int, Iterator[int]]] = []

        def enter(tid: int) -> None:
            on_path[tid] = len(path)
            path.append(tid)
            stack.append((tid, iter(self._value_refs(tid, ptr_mode))))

        enter(type_id)
        while stack:
            tid, refs = stack[-1]
            nxt = next(refs, None)
            if nxt is None:
                stack.pop()
                path.pop()
                del on_path[tid]
                acyclic.add(tid)
                continue
            if nxt == 0 or nxt in acyclic:
                continue
            if nxt in on_path:
                return [*path[on_path[nxt] :], nxt]
            if len(path) > 100_000:  # deeper than any real BTF nests: treat as a loop
                return [*path[-8:], nxt]
            enter(nxt)
        return None

    def check_no_loop(self, type_id: int) -> None:
        """Raise :class:`BTFError` naming the type ids if *type_id* reaches a loop of
        by-value references (:meth:`find_loop`), as the kernel rejects it."""
        loop = self.find_loop(type_id)
        if loop is None:
            return
        chain = " -> ".join(f"[{i}] {self._kind_label(i)}" for i in loop)
        raise BTFError(
            f"{self.name}: type [{type_id}]: reference loop {chain} "
            '(the kernel rejects this BTF: "Loop detected")'
        )

    def _kind_label(self, tid: int) -> str:
        k = self.kind_of(tid)
        return k.name if isinstance(k, BTFKind) else f"kind {k}"

    def type_tags(self, type_id: int) -> tuple[str, ...]:
        """TYPE_TAG names on the qualifier chain starting at *type_id* (e.g. ``("kptr",)``)."""
        tags: list[str] = []
        t = self[type_id]
        for _ in range(MAX_RESOLVE_DEPTH):
            if t.kind not in QUALIFIER_KINDS:
                return tuple(tags)
            if isinstance(t, TypeTag):
                tags.append(t.name)
            t = self[t.type]  # type: ignore[union-attr]
        self.check_no_loop(type_id)
        raise BTFError(
            f"{self.name}: type tags of [{type_id}]: chain longer than {MAX_RESOLVE_DEPTH} types"
        )

    def _decl_tag_index(self) -> dict[int, list[int]]:
        if self._decl_tags is None:
            index: dict[int, list[int]] = {}
            w = self._w
            first = self.first_id
            for i, pos in enumerate(self._offs):
                if (w[pos + 1] >> 24) & 0x7F == 17:
                    index.setdefault(w[pos + 2], []).append(first + i)
            self._decl_tags = index
        return self._decl_tags

    def decl_tags(self, type_id: int, component_idx: int | None = None) -> list[DeclTag]:
        """DECL_TAGs on *type_id* (``component_idx`` -1) or its member/param *component_idx*.

        With ``component_idx=None``, all tags on the type and its components.
        """
        found = self.base.decl_tags(type_id, component_idx) if self.base is not None else []
        for tid in self._decl_tag_index().get(type_id, ()):
            t = self[tid]
            assert isinstance(t, DeclTag)
            if component_idx is None or t.component_idx == component_idx:
                found.append(t)
        return found

    def kfuncs(self) -> list[Func]:
        """FUNCs tagged ``bpf_kfunc`` (a DECL_TAG on the function itself), in id order."""
        out: list[Func] = []
        seen: set[int] = set()
        spec: Spec | None = self
        specs = []
        while spec is not None:
            specs.append(spec)
            spec = spec.base
        for s in reversed(specs):
            for target, tags in sorted(s._decl_tag_index().items()):
                if target in seen:
                    continue
                for tid in tags:
                    tag = s[tid]
                    if tag.name == "bpf_kfunc" and tag.component_idx == -1:  # type: ignore[union-attr]
                        f = self[target]
                        if isinstance(f, Func):
                            out.append(f)
                            seen.add(target)
                        break
        out.sort(key=lambda f: f.id)
        return out

    # ----------------------------------------------------------------- sizes, names

    def sizeof(self, type_id: int) -> int:
        """Size in bytes of *type_id*, as libbpf's ``btf__resolve_size`` computes it.

        Pointers are 8 bytes (BPF is a 64-bit target); typedefs, qualifiers, type and decl
        tags and VARs are followed; arrays multiply. Checked against libbpf on every type of
        the kernel's BTF in ``tests/btf/test_spec.py``.

        Raises
        ------
        BTFError
            The type has no size (void, FUNC, FUNC_PROTO, FWD), its chain is longer than
            :data:`MAX_RESOLVE_DEPTH` (a cycle), or the size does not fit in 32 bits.
        """
        nelems = 1
        t = self[type_id]
        for _ in range(MAX_RESOLVE_DEPTH):
            k = t.kind
            if k in _SIZED_KINDS:
                size: int = t.size  # type: ignore[union-attr]
                break
            if k == BTFKind.PTR:
                size = _PTR_SIZE
                break
            if k == BTFKind.ARRAY:
                assert isinstance(t, Array)
                if nelems and t.nelems > 0xFFFFFFFF // nelems:
                    raise BTFError(f"{self.name}: size of type [{type_id}] overflows 32 bits")
                nelems *= t.nelems
                t = self[t.type]
            elif k in _FOLLOWED_FOR_SIZE:
                t = self[t.type]  # type: ignore[union-attr]
            else:
                raise BTFError(f"{self.name}: type [{t.id}] {k.name} has no size")
        else:
            self.check_no_loop(type_id)
            raise BTFError(
                f"{self.name}: size of type [{type_id}]: chain longer than {MAX_RESOLVE_DEPTH} "
                "types (the kernel's MAX_RESOLVE_DEPTH)"
            )
        if nelems and size > 0xFFFFFFFF // nelems:
            raise BTFError(f"{self.name}: size of type [{type_id}] overflows 32 bits")
        return nelems * size

    def type_name(self, type_id: int) -> str:
        """C spelling of *type_id*: ``"struct task_struct *"``, ``"int [4]"``, ``"u64"``."""
        return self._cname(type_id, "", 0)

    def _cname(self, type_id: int, decl: str, depth: int) -> str:
        if depth > MAX_RESOLVE_DEPTH:
            self.check_no_loop(type_id)
            raise BTFError(
                f"{self.name}: naming type [{type_id}]: chain longer than {MAX_RESOLVE_DEPTH} "
                "types (a reference cycle?)"
            )
        t = self[type_id]
        k = t.kind
        if isinstance(t, Void):
            return _join("void", decl)
        if k in (BTFKind.STRUCT, BTFKind.UNION, BTFKind.ENUM, BTFKind.ENUM64, BTFKind.FWD):
            word = {
                BTFKind.STRUCT: "struct",
                BTFKind.UNION: "union",
                BTFKind.ENUM: "enum",
                BTFKind.ENUM64: "enum",
            }.get(k)
            if isinstance(t, Fwd):
                word = "union" if t.union else "struct"
            return _join(f"{word} {t.name or '(anon)'}", decl)
        if isinstance(t, Ptr):
            inner = "*" + decl
            target = self[t.type]
            if isinstance(target, (Array, FuncProto)):
                inner = f"({inner})"
            return self._cname(t.type, inner, depth + 1)
        if isinstance(t, (Const, Volatile, Restrict)):
            q = {BTFKind.CONST: "const", BTFKind.VOLATILE: "volatile"}.get(k, "restrict")
            target = self[t.type]
            if isinstance(target, Ptr):
                return self._cname(t.type, f" {q}{' ' + decl if decl else ''}".rstrip(), depth + 1)
            # Like libbpf's btf_dump: the innermost qualifier is spelled first.
            inner = self._cname(t.type, decl, depth + 1)
            words = inner.split(" ")
            i = 0
            while i < len(words) - 1 and words[i] in ("const", "volatile", "restrict"):
                i += 1
            if q in words[:i]:  # e.g. const over an array of const: C says it once
                return inner
            return " ".join([*words[:i], q, *words[i:]])
        if isinstance(t, TypeTag):
            # kind_flag set: the tag is a plain C attribute (e.g. address_space(1))
            attr = (
                f" __attribute__(({t.name}))"
                if t.attr
                else f' __attribute__((btf_type_tag("{t.name}")))'
            )
            return self._cname(t.type, f"{attr} {decl}" if decl else attr, depth + 1)
        if isinstance(t, Array):
            return self._cname(t.type, f"{decl}[{t.nelems}]", depth + 1)
        if isinstance(t, FuncProto):
            args = []
            for prm in t.params:
                if prm.type == 0 and not prm.name:
                    args.append("...")
                else:
                    args.append(self._cname(prm.type, "", depth + 1))
            return self._cname(t.type, f"{decl}({', '.join(args) or 'void'})", depth + 1)
        return _join(t.name or "(anon)", decl)

    # ----------------------------------------------------------------- raw access

    def show(self, ref: int | str, kind: BTFKind | None = None) -> TypeView:
        """One type, for a notebook: shown as its C declaration and, for a struct or union,
        its pahole-style layout.

        *ref* is a type id or a name (of *kind*, if given; :class:`BTFError` unless exactly
        one type matches).

        Examples
        --------
        >>> spec = load_vmlinux()
        >>> view = spec.show("bpf_list_head")
        >>> view
        <bpf_list_head: STRUCT [...] of ...vmlinux...>
        >>> "struct bpf_list_head {" in view._repr_html_()
        True
        """
        type_id = ref if isinstance(ref, int) else self.find_one(ref, kind).id
        self[type_id]  # BTFError for an id out of range
        return TypeView(self, type_id)

    def raw_words(self, type_id: int) -> tuple[Sequence[int], int]:
        """The type section words (native order: read in place, or a swapped copy) and the word offset of *type_id*.

        For formatters that read fields the records do not keep (``name_off``, raw
        ``info``); *type_id* must belong to this spec, not its base.
        """
        i = type_id - self.first_id
        if not 0 <= i < len(self._offs):
            raise BTFError(f"{self.name}: type id {type_id} is not one of this spec's own")
        return self._w, self._offs[i]


@dataclass(frozen=True, slots=True)
class TypeView:
    """A type of a :class:`Spec` that Jupyter shows as HTML (:meth:`Spec.show`)."""

    spec: Spec
    type_id: int

    def __repr__(self) -> str:
        t = self.spec[self.type_id]
        return f"<{t.name or '(anon)'}: {t.kind.name} [{self.type_id}] of {self.spec.name}>"

    def _repr_html_(self) -> str:
        from bpfkit._repr import btf_type_html

        return btf_type_html(self.spec, self.type_id)


def decode_record(
    w: Sequence[int], pos: int, tid: int, names: Mapping[int, str], where: str
) -> AnyType:
    """The record of type *tid* whose ``struct btf_type`` starts at word *pos* of *w* (the
    type section as native-order 32-bit words), its names looked up in *names* (string
    offset -> string). The caller has checked offsets and ids; *where* names the BTF in the
    error for a kind bpfkit cannot decode. Shared by :class:`Spec` and the kernel BTF view
    of :mod:`bpfkit.kernel.kbtf`.
    """
    name_off, info, st = w[pos], w[pos + 1], w[pos + 2]
    k = (info >> 24) & 0x7F
    vlen = info & 0xFFFFFF
    kflag = bool(info >> 31)
    name = names[name_off] if name_off else ""
    p = pos + 3
    if k == 4 or k == 5:
        ws = w[p : p + 3 * vlen]
        if kflag:
            members = tuple(
                [
                    Member(names[a] if a else "", b, c & 0xFFFFFF, c >> 24)
                    for a, b, c in zip(ws[0::3], ws[1::3], ws[2::3], strict=True)
                ]
            )
        else:
            members = tuple(
                [
                    Member(names[a] if a else "", b, c, 0)
                    for a, b, c in zip(ws[0::3], ws[1::3], ws[2::3], strict=True)
                ]
            )
        return (Struct if k == 4 else Union)(tid, name, st, members, kflag)
    if k == 2:
        return Ptr(tid, name, st)
    if k == 13:
        ws = w[p : p + 2 * vlen]
        params = tuple(
            [Param(names[a] if a else "", b) for a, b in zip(ws[0::2], ws[1::2], strict=True)]
        )
        return FuncProto(tid, name, st, params)
    if k == 12:
        return Func(tid, name, st, _LINKAGES[vlen])
    if k == 1:
        v = w[p]
        return Int(tid, name, st, _ENCODINGS[(v >> 24) & 0x0F], (v >> 16) & 0xFF, v & 0xFF)
    if k == 8:
        return Typedef(tid, name, st)
    if k == 10:
        return Const(tid, name, st)
    if k == 9:
        return Volatile(tid, name, st)
    if k == 3:
        return Array(tid, name, w[p], w[p + 1], w[p + 2])
    if k == 6:
        ws = w[p : p + 2 * vlen]
        if kflag:
            values = tuple(
                [
                    EnumValue(names[a] if a else "", v - (1 << 32) if v >= 1 << 31 else v)
                    for a, v in zip(ws[0::2], ws[1::2], strict=True)
                ]
            )
        else:
            values = tuple(
                [
                    EnumValue(names[a] if a else "", v)
                    for a, v in zip(ws[0::2], ws[1::2], strict=True)
                ]
            )
        return Enum(tid, name, st, values, kflag)
    if k == 7:
        return Fwd(tid, name, kflag)
    if k == 11:
        return Restrict(tid, name, st)
    if k == 14:
        return Var(tid, name, st, _LINKAGES[w[p]])
    if k == 15:
        ws = w[p : p + 3 * vlen]
        secinfos = tuple(
            [VarSecinfo(a, b, c) for a, b, c in zip(ws[0::3], ws[1::3], ws[2::3], strict=True)]
        )
        return Datasec(tid, name, st, secinfos)
    if k == 16:
        return Float(tid, name, st)
    if k == 17:
        idx = w[p]
        return DeclTag(tid, name, st, idx - (1 << 32) if idx >= 1 << 31 else idx, kflag)
    if k == 18:
        return TypeTag(tid, name, st, kflag)
    if k == 19:
        vals = []
        for j in range(vlen):
            q = p + 3 * j
            val = w[q + 1] | (w[q + 2] << 32)
            if kflag and val >= 1 << 63:
                val -= 1 << 64
            vals.append(EnumValue(names[w[q]] if w[q] else "", val))
        return Enum64(tid, name, st, tuple(vals), kflag)
    raise BTFError(
        f"{where}: type [{tid}] has kind {k}, which bpfkit cannot decode "
        "(stepped over through the layout section)"
    )


def _join(base: str, decl: str) -> str:
    if not decl:
        return base
    if decl[0] in "*(" and not base.endswith("*"):
        return f"{base} {decl}"
    if decl[0] == "[":
        return f"{base} {decl}"
    return f"{base}{decl}" if base.endswith("*") or decl[0] == " " else f"{base} {decl}"


_VOID = Void(0, "")
_SIZED_KINDS = frozenset(
    {
        BTFKind.INT,
        BTFKind.STRUCT,
        BTFKind.UNION,
        BTFKind.ENUM,
        BTFKind.ENUM64,
        BTFKind.FLOAT,
        BTFKind.DATASEC,
    }
)
_FOLLOWED_FOR_SIZE = MODIFIER_KINDS | {BTFKind.VAR, BTFKind.DECL_TAG}
_LINKAGES = (Linkage.STATIC, Linkage.GLOBAL, Linkage.EXTERN)
_ENCODINGS = tuple(IntEncoding(i) for i in range(16))


def parse_btf(data: bytes, *, base: Spec | None = None, name: str = "<bytes>") -> Spec:
    """Parse raw BTF bytes (either byte order, 24- or 32-byte header) into a :class:`Spec`.

    Parameters
    ----------
    data
        The BTF blob (a ``.BTF`` section, ``/sys/kernel/btf/*``), not compressed.
    base
        For split BTF (kernel modules, ``.BTF.base``): the spec its ids and strings continue.
    name
        What to call the blob in error messages.

    Examples
    --------
    >>> import struct
    >>> strs = b"\\0int\\0"
    >>> types = struct.pack("<IIII", 1, 1 << 24, 4, 32 | (1 << 24))  # INT 'int' size=4 SIGNED
    >>> hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs))
    >>> spec = parse_btf(hdr + types + strs)
    >>> spec[1]
    Int(id=1, name='int', size=4, encoding=<IntEncoding.SIGNED: 1>, offset=0, bits=32)
    """
    return Spec(bytes(data), base=base, name=name)


def _decompress(data: bytes, name: str) -> bytes:
    if data[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(wbits=31)
        try:
            out = d.decompress(data, _MAX_DECOMPRESSED)
        except zlib.error as exc:
            raise BTFError(f"{name}: corrupt compressed data: {exc}") from None
        done = d.eof
    elif data[:6] == b"\xfd7zXZ\x00":
        import lzma  # here: most BTF is not xz, and the import costs a few ms

        # the decoder allocates the dictionary the header claims (up to 1.5 GiB) before
        # reading data: capped at what an xz -9 file needs (64 MiB) plus its overhead
        x = lzma.LZMADecompressor(memlimit=80 << 20)
        try:
            out = x.decompress(data, _MAX_DECOMPRESSED)
        except (lzma.LZMAError, EOFError) as exc:
            raise BTFError(f"{name}: corrupt compressed data: {exc}") from None
        done = x.eof
    else:
        return data
    if not done:
        if len(out) >= _MAX_DECOMPRESSED:
            raise BTFError(f"{name}: decompresses to more than {_MAX_DECOMPRESSED} bytes")
        raise BTFError(f"{name}: compressed data is truncated ({len(out)} bytes decompressed)")
    return out


def read_btf_bytes(path: str | os.PathLike[str]) -> bytes:
    """The raw BTF bytes at *path*, gunzipped/unxz'd when compressed (not for ELF files)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise BTFError(f"{p}: cannot read: {exc.strerror}") from None
    return _decompress(data, str(p))


def load_btf(path: str | os.PathLike[str], *, base: Spec | None = None) -> Spec:
    """Load BTF from *path*: raw BTF (plain, ``.gz``, ``.xz``), ``/sys/kernel/btf/*``, or a
    BPF ELF object (its ``.BTF`` section).

    A module under ``/sys/kernel/btf/`` gets :func:`load_vmlinux` as its base unless one is
    given (as bpftool does).
    """
    p = Path(path)
    data = read_btf_bytes(p)
    if data[:4] == b"\x7fELF":
        from bpfkit.btf.elf import load_elf_btf

        return load_elf_btf(p, base=base)[0]
    if base is None and str(p).startswith("/sys/kernel/btf/") and p.name != "vmlinux":
        base = load_vmlinux()
    return parse_btf(data, base=base, name=str(p))


_VMLINUX_CACHE: dict[str, Spec] = {}


def load_vmlinux() -> Spec:
    """The running kernel's BTF, cached per process.

    ``$BPFKIT_VMLINUX`` if set, else ``/sys/kernel/btf/vmlinux`` when readable, else the
    embedded :data:`EMBEDDED_VMLINUX` (this project's 6.18 kernel).
    """
    env = os.environ.get("BPFKIT_VMLINUX")
    if env:
        path = env
    elif os.access("/sys/kernel/btf/vmlinux", os.R_OK):
        path = "/sys/kernel/btf/vmlinux"
    else:
        path = str(EMBEDDED_VMLINUX)
    spec = _VMLINUX_CACHE.get(path)
    if spec is None:
        spec = _VMLINUX_CACHE[path] = load_btf(path)
    return spec
