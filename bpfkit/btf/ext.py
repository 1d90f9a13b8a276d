"""``.BTF.ext``: per-section func_info, line_info and CO-RE relocation records.

Layout (libbpf ``struct btf_ext_header``): magic ``0xeB9F``, version 1, flags, ``hdr_len``,
then ``func_info_off/len``, ``line_info_off/len`` and, when ``hdr_len >= 32``,
``core_relo_off/len`` (offsets relative to the end of the header). Each info block is a
``u32 rec_size`` followed by ``struct btf_ext_info_sec {u32 sec_name_off; u32 num_info;}``
entries, each with ``num_info`` records of ``rec_size`` bytes (a record may be longer than
bpfkit knows; the extra bytes are skipped, as libbpf does). Record ``insn_off`` is a byte
offset into the ELF section; ``insn_idx`` is ``insn_off // 8``.

Examples
--------
>>> from tests.corpus import KINDS_EL
>>> from bpfkit.btf.elf import load_elf_btf
>>> spec, ext = load_elf_btf(KINDS_EL)
>>> ext
<Ext func_info 2 in 2 sections, line_info 22 in 2 sections, core_relos 6 in 1 sections>
>>> ext.core_relos["kprobe/test"][1]
CoreRelo(insn_idx=1, type_id=5, access_str='0:0', kind=<CoreReloKind.FIELD_EXISTS: 2>)
>>> ext.line_info["kprobe/test"][0].line, ext.line_info["kprobe/test"][0].file
(23, './kinds.c')
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from bpfkit.errors import BTFError

if TYPE_CHECKING:
    from bpfkit.btf.spec import Spec

__all__ = [
    "CoreReloKind",
    "FuncInfo",
    "LineInfo",
    "CoreRelo",
    "Ext",
    "RawExt",
    "parse_btf_ext",
    "parse_btf_ext_raw",
]


class CoreReloKind(enum.IntEnum):
    """``enum bpf_core_relo_kind`` (``include/uapi/linux/bpf.h``)."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


class FuncInfo(NamedTuple):
    """``struct bpf_func_info``: the FUNC type of the function starting at ``insn_idx``."""

    insn_idx: int
    type_id: int


class LineInfo(NamedTuple):
    """``struct bpf_line_info``: source position of the instruction at ``insn_idx``;
    ``source`` is the text of the line as clang stored it in the string section."""

    insn_idx: int
    file: str
    line: int
    col: int
    source: str


class CoreRelo(NamedTuple):
    """``struct bpf_core_relo``: a CO-RE relocation of the instruction at ``insn_idx``
    against local type ``type_id``; ``access_str`` is e.g. ``"0:1:2"``."""

    insn_idx: int
    type_id: int
    access_str: str
    kind: CoreReloKind


@dataclass(frozen=True, slots=True, repr=False)
class Ext:
    """The records of one ``.BTF.ext``, by ELF section name (``"tc"``, ``".text"``...)."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)
    byte_order: str = "little"
    hdr_len: int = 32

    def __repr__(self) -> str:
        def count(d: dict[str, list[Any]]) -> str:
            return f"{sum(map(len, d.values()))} in {len(d)} sections"

        return (
            f"<Ext func_info {count(self.func_info)}, line_info {count(self.line_info)}, "
            f"core_relos {count(self.core_relos)}>"
        )


_MIN_REC = {"func_info": 8, "line_info": 16, "core_relo": 16}


def parse_btf_ext(
    data: bytes,
    spec: Spec,
    *,
    byte_order: str | None = None,
    name: str = "<.BTF.ext>",
) -> Ext:
    """Parse ``.BTF.ext`` bytes whose strings and type ids refer to *spec*.

    Parameters
    ----------
    data
        The section contents.
    spec
        The object's ``.BTF``, for section names, file names, source lines, access strings.
    byte_order
        ``"little"`` or ``"big"``; by default taken from the magic.
    name
        What to call the section in error messages.

    Raises
    ------
    BTFError
        Bad header, blocks out of bounds, record size too small or unaligned, an empty or
        truncated section entry, string offsets or type ids out of range, an unknown relo kind.
    """
    out = _parse_blocks(data, spec, byte_order, name)
    return Ext(
        func_info=_func_info(out["func_info"], spec, name),
        line_info=_line_info(out["line_info"], spec, name),
        core_relos=_core_relos(out.get("core_relo", {}), spec, name),
        byte_order=out.byte_order,
        hdr_len=out.hdr_len,
    )


class RawExt(dict[str, dict[str, list[tuple[int, ...]]]]):
    """The raw records of a ``.BTF.ext`` by block (``func_info``, ``line_info``, ``core_relo``)
    and ELF section name, as tuples of the record's words in file order (``insn_off`` in
    bytes, string offsets unresolved); what a loader hands to the kernel."""

    byte_order: str = "little"
    hdr_len: int = 32


def parse_btf_ext_raw(
    data: bytes, spec: Spec, *, byte_order: str | None = None, name: str = "<.BTF.ext>"
) -> RawExt:
    """Validate ``.BTF.ext`` bytes like :func:`parse_btf_ext`, keep the records raw.

    Each record is the tuple of its first 2 (func_info) or 4 (line_info, core_relo) words;
    the section names are checked against *spec*'s strings.

    Raises
    ------
    BTFError
        As :func:`parse_btf_ext`, for the header and block layout.
    """
    return _parse_blocks(data, spec, byte_order, name)


def _parse_blocks(data: bytes, spec: Spec, byte_order: str | None, name: str) -> RawExt:
    data = bytes(data)
    size = len(data)
    if size < 24:
        raise BTFError(f"{name}: .BTF.ext header not found: need 24 bytes, have {size}")
    magic = data[:2]
    detected = {b"\x9f\xeb": "little", b"\xeb\x9f": "big"}.get(magic)
    if detected is None:
        raise BTFError(f"{name}: invalid .BTF.ext magic {magic.hex()} at byte 0 (expected 0xeb9f)")
    if byte_order is not None and byte_order != detected:
        raise BTFError(f"{name}: .BTF.ext is {detected}-endian, the ELF object {byte_order}-endian")
    e = "<" if detected == "little" else ">"
    _, version, flags, hdr_len = struct.unpack_from(e + "HBBI", data, 0)
    if version != 1:
        raise BTFError(f"{name}: unsupported .BTF.ext version {version} (expected 1)")
    if flags:
        raise BTFError(f"{name}: unsupported .BTF.ext flags {flags:#x} (expected 0)")
    if hdr_len < 24 or hdr_len > size:
        raise BTFError(f"{name}: .BTF.ext header length {hdr_len} not in [24, {size}]")
    fi_off, fi_len, li_off, li_len = struct.unpack_from(e + "IIII", data, 8)
    blocks = [("func_info", fi_off, fi_len), ("line_info", li_off, li_len)]
    if hdr_len >= 32:
        cr_off, cr_len = struct.unpack_from(e + "II", data, 24)
        blocks.append(("core_relo", cr_off, cr_len))
    out = RawExt()
    out.byte_order = detected
    out.hdr_len = hdr_len
    for what, off, length in blocks:
        out[what] = _parse_block(data, e, hdr_len, what, off, length, spec, name)
    return out


def _parse_block(
    data: bytes,
    e: str,
    hdr_len: int,
    what: str,
    off: int,
    length: int,
    spec: Spec,
    name: str,
) -> dict[str, list[tuple[int, ...]]]:
    secs: dict[str, list[tuple[int, ...]]] = {}
    if length == 0:
        return secs
    start = hdr_len + off
    end = start + length
    if end > len(data):
        raise BTFError(
            f"{name}: {what} at {off} + {length} ends past the {len(data) - hdr_len} bytes "
            f"after the {hdr_len}-byte header"
        )
    if length < 4:
        raise BTFError(f"{name}: {what} at byte {start}: {length} bytes, no room for rec_size")
    (rec_size,) = struct.unpack_from(e + "I", data, start)
    need = _MIN_REC[what]
    if rec_size < need or rec_size % 4:
        raise BTFError(
            f"{name}: {what} at byte {start}: record size {rec_size}, expected a multiple of "
            f"4 that is at least {need}"
        )
    pos = start + 4
    nwords = need // 4
    fmt = e + "I" * nwords
    while pos < end:
        if end - pos < 8:
            raise BTFError(
                f"{name}: {what} at byte {pos}: section header needs 8 bytes, {end - pos} remain"
            )
        sec_off, num = struct.unpack_from(e + "II", data, pos)
        try:
            sec = spec.string(sec_off)
        except BTFError as exc:
            raise BTFError(f"{name}: {what} at byte {pos}: bad section name: {exc}") from None
        if num == 0:
            raise BTFError(f"{name}: {what} at byte {pos}: section {sec!r} has no records")
        pos += 8
        if num * rec_size > end - pos:
            raise BTFError(
                f"{name}: {what} at byte {pos}: section {sec!r} claims {num} records of "
                f"{rec_size} bytes, only {end - pos} bytes remain"
            )
        recs = secs.setdefault(sec, [])
        if rec_size == need:
            recs.extend(struct.iter_unpack(fmt, data[pos : pos + num * rec_size]))
        else:
            recs.extend(struct.unpack_from(fmt, data, pos + i * rec_size) for i in range(num))
        pos += num * rec_size
    return secs


def _ref(spec: Spec, tid: int, what: str, name: str) -> int:
    if tid >= len(spec):
        raise BTFError(f"{name}: {what} refers to type id {tid}, beyond the last {len(spec) - 1}")
    return tid


def _str(spec: Spec, off: int, what: str, name: str) -> str:
    try:
        return spec.string(off)
    except BTFError as exc:
        raise BTFError(f"{name}: {what}: {exc}") from None


def _func_info(
    secs: dict[str, list[tuple[int, ...]]], spec: Spec, name: str
) -> dict[str, list[FuncInfo]]:
    return {
        sec: [FuncInfo(r[0] // 8, _ref(spec, r[1], f"func_info of {sec!r}", name)) for r in recs]
        for sec, recs in secs.items()
    }


def _line_info(
    secs: dict[str, list[tuple[int, ...]]], spec: Spec, name: str
) -> dict[str, list[LineInfo]]:
    out: dict[str, list[LineInfo]] = {}
    for sec, recs in secs.items():
        lst = out[sec] = []
        for insn_off, file_off, line_off, line_col in recs:
            what = f"line_info of {sec!r} at insn {insn_off // 8}"
            lst.append(
                LineInfo(
                    insn_off // 8,
                    _str(spec, file_off, what, name),
                    line_col >> 10,
                    line_col & 0x3FF,
                    _str(spec, line_off, what, name),
                )
            )
    return out


def _core_relos(
    secs: dict[str, list[tuple[int, ...]]], spec: Spec, name: str
) -> dict[str, list[CoreRelo]]:
    out: dict[str, list[CoreRelo]] = {}
    for sec, recs in secs.items():
        lst = out[sec] = []
        for insn_off, type_id, access_off, kind in recs:
            what = f"core_relo of {sec!r} at insn {insn_off // 8}"
            try:
                k = CoreReloKind(kind)
            except ValueError:
                raise BTFError(f"{name}: {what}: unknown relocation kind {kind}") from None
            lst.append(
                CoreRelo(
                    insn_off // 8,
                    _ref(spec, type_id, what, name),
                    _str(spec, access_off, what, name),
                    k,
                )
            )
    return out
