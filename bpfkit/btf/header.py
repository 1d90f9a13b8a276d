"""The BTF header and the section checks made before any offset in it is trusted.

Two header sizes exist: the original 24 bytes (``include/uapi/linux/btf.h`` since 4.18) and
32 bytes, which adds a *layout* section (``layout_off``, ``layout_len``): one 4-byte
``struct btf_layout {u8 info_sz; u8 elem_sz; u16 flags;}`` per kind known to the encoder, so
a reader can step over kinds it does not know (kernel 7.1 BTF carries it; see the corpus file
``cilium_ebpf/vmlinux.btf.gz``). The checks follow libbpf's ``btf_parse_hdr`` and the
kernel's ``btf_check_sec_info``; every message carries the numbers.

Examples
--------
>>> import struct
>>> blob = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 0, 0, 1) + b"\\0"
>>> parse_header(blob).byte_order
'little'
>>> parse_header(blob[:10])
Traceback (most recent call last):
...
bpfkit.errors.BTFError: <bytes>: BTF header not found: need at least 24 bytes, have 10
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bpfkit.errors import BTFError

__all__ = ["BTF_MAGIC", "Header", "parse_header", "Layout", "parse_layout"]

#: ``BTF_MAGIC``; it reads as bytes ``9f eb`` in a little-endian blob, ``eb 9f`` in a big one.
BTF_MAGIC = 0xEB9F

_HDR_MIN = 24
_HDR_LAYOUT = 32


@dataclass(frozen=True, slots=True)
class Header:
    """A validated ``struct btf_header``. Offsets are relative to the end of the header
    (``hdr_len``); ``layout_off``/``layout_len`` are 0 for a 24-byte header."""

    byte_order: str
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int
    layout_off: int = 0
    layout_len: int = 0

    @property
    def endian(self) -> str:
        """The :mod:`struct` prefix for this blob's byte order (``"<"`` or ``">"``)."""
        return "<" if self.byte_order == "little" else ">"


@dataclass(frozen=True, slots=True)
class Layout:
    """One entry of the layout section: for a kind, the bytes after ``struct btf_type``
    (``info_sz``) and the size of each of its ``vlen`` elements (``elem_sz``)."""

    kind: int
    info_sz: int
    elem_sz: int
    flags: int


def parse_header(data: bytes | memoryview, name: str = "<bytes>") -> Header:
    """Read and validate the BTF header of *data* (libbpf ``btf_parse_hdr`` checks).

    Raises
    ------
    BTFError
        Short data, wrong magic/version/flags, a header length out of range, non-zero
        unknown header bytes, sections past the end, overlapping or misaligned sections.
    """
    size = len(data)
    if size < _HDR_MIN:
        raise BTFError(f"{name}: BTF header not found: need at least {_HDR_MIN} bytes, have {size}")
    raw_magic = bytes(data[0:2])
    if raw_magic == b"\x9f\xeb":
        order, e = "little", "<"
    elif raw_magic == b"\xeb\x9f":
        order, e = "big", ">"
    else:
        raise BTFError(
            f"{name}: invalid BTF magic {raw_magic.hex()} at byte 0: "
            f"expected 0xeb9f (bytes 9f eb little-endian or eb 9f big-endian)"
        )
    _, version, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        e + "HBBIIIII", data, 0
    )
    if version != 1:
        raise BTFError(f"{name}: unsupported BTF version {version} at byte 2 (expected 1)")
    if flags != 0:
        raise BTFError(f"{name}: unsupported BTF header flags {flags:#x} at byte 3 (expected 0)")
    if hdr_len < _HDR_MIN:
        raise BTFError(f"{name}: BTF header length {hdr_len} smaller than {_HDR_MIN}")
    if hdr_len > size:
        raise BTFError(f"{name}: BTF header length {hdr_len} larger than data size {size}")
    layout_off = layout_len = 0
    known = _HDR_MIN
    if hdr_len >= _HDR_LAYOUT:
        layout_off, layout_len = struct.unpack_from(e + "II", data, _HDR_MIN)
        known = _HDR_LAYOUT
    extra = bytes(data[known:hdr_len])
    if extra.strip(b"\0"):
        bad = known + next(i for i, b in enumerate(extra) if b)
        raise BTFError(
            f"{name}: unsupported BTF header: header is {hdr_len} bytes, bytes past the "
            f"known {known} must be zero, byte {bad} is {data[bad]:#04x}"
        )
    meta = size - hdr_len
    sections = [("type data", type_off, type_len), ("strings", str_off, str_len)]
    if layout_len:
        sections.insert(1, ("layout", layout_off, layout_len))
    for what, off, length in sections:
        if off + length > meta:
            raise BTFError(
                f"{name}: invalid BTF total size: {what} at {off} + {length} end past the "
                f"{meta} bytes after the {hdr_len}-byte header (file size {size})"
            )
    ordered = sorted(sections, key=lambda s: (s[1], s[2]))
    for (w1, o1, l1), (w2, o2, l2) in zip(ordered, ordered[1:], strict=False):
        if o1 + l1 > o2 and l1 and l2:
            raise BTFError(
                f"{name}: invalid BTF data sections layout: {w1} at {o1} + {l1}, "
                f"{w2} at {o2} + {l2} overlap"
            )
    if type_off % 4:
        raise BTFError(f"{name}: BTF type section at {type_off} is not aligned to 4 bytes")
    if type_len % 4:
        raise BTFError(f"{name}: BTF type section length {type_len} is not a multiple of 4")
    if layout_len and (layout_off % 4 or layout_len % 4):
        raise BTFError(
            f"{name}: BTF layout section at {layout_off} + {layout_len} is not made of "
            f"4-byte entries aligned to 4 bytes"
        )
    return Header(
        order, version, flags, hdr_len, type_off, type_len, str_off, str_len, layout_off, layout_len
    )


def parse_layout(data: bytes | memoryview, header: Header) -> tuple[Layout, ...]:
    """The layout section of *data* (empty for a 24-byte header), one entry per kind."""
    if not header.layout_len:
        return ()
    start = header.hdr_len + header.layout_off
    chunk = bytes(data[start : start + header.layout_len])
    return tuple(
        Layout(kind, info_sz, elem_sz, flags)
        for kind, (info_sz, elem_sz, flags) in enumerate(
            struct.iter_unpack(header.endian + "BBH", chunk)
        )
    )
