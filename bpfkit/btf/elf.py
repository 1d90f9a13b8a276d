"""The ``.BTF`` and ``.BTF.ext`` sections of a BPF ELF object, read with pyelftools.

pyelftools' low-level failures (``ELFError``, ``struct.error``, ``IndexError``...) are caught
here, at one boundary, and raised as :class:`bpfkit.errors.ELFError`.

Examples
--------
>>> from tests.corpus import KINDS_EL
>>> spec, ext = load_elf_btf(KINDS_EL)
>>> spec.find_one("node").kind.name, sorted(ext.func_info)
('STRUCT', ['.text', 'kprobe/test'])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from bpfkit.errors import BpfkitError, ELFError

if TYPE_CHECKING:
    from bpfkit.btf.ext import Ext
    from bpfkit.btf.spec import Spec

__all__ = ["load_elf_btf", "read_elf_sections", "check_elf_layout"]

_SHT_NOBITS = 8
_SHF_COMPRESSED = 0x800
#: More sections than this is no BPF object (clang emits tens; libbpf reads ELF through libelf).
MAX_SECTIONS = 65536


def check_elf_layout(data: bytes, where: str) -> None:
    """Check an ELF file's header and section table against its size before pyelftools
    trusts any offset: the section header table and every section's bytes lie inside the
    file (pyelftools would seek to, or allocate, whatever a corrupt header claims).

    Raises
    ------
    ELFError
        Naming the section index, its claimed offset and size, and the file size.
    """
    import struct

    n = len(data)
    if n < 16 or data[:4] != b"\x7fELF":
        raise ELFError(
            f"{where}: not a readable ELF object: not an ELF file (magic {data[:4]!r} at byte offset 0)"
        )
    cls, enc = data[4], data[5]
    if cls not in (1, 2) or enc not in (1, 2):
        raise ELFError(
            f"{where}: not a readable ELF object: ELF class {cls} / data encoding {enc} at bytes 4-5: expected 1 or 2"
        )
    e = "<" if enc == 1 else ">"
    is64 = cls == 2
    hsize, entsize = (64, 64) if is64 else (52, 40)
    if n < hsize:
        raise ELFError(
            f"{where}: not a readable ELF object: ELF header needs {hsize} bytes, the file has {n}"
        )
    if is64:
        shoff, shentsize, shnum, shstrndx = (
            struct.unpack_from(e + "Q", data, 0x28)[0],
            *struct.unpack_from(e + "HHH", data, 0x3A),
        )
    else:
        shoff, shentsize, shnum, shstrndx = (
            struct.unpack_from(e + "I", data, 0x20)[0],
            *struct.unpack_from(e + "HHH", data, 0x2E),
        )
    if shoff == 0:
        return  # no section table: pyelftools sees no sections
    if shentsize != entsize:
        raise ELFError(
            f"{where}: not a readable ELF object: section header size {shentsize} at byte {0x3A if is64 else 0x2E}, "
            f"expected {entsize}"
        )
    if shoff + entsize > n:
        raise ELFError(
            f"{where}: not a readable ELF object: section header table at byte {shoff} ends past the end of the file "
            f"({n} bytes)"
        )
    fmt = e + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    if shnum == 0:  # extended numbering: the count is section 0's sh_size
        shnum = struct.unpack_from(fmt, data, shoff)[5]
    if shnum > MAX_SECTIONS or shoff + shnum * entsize > n:
        raise ELFError(
            f"{where}: not a readable ELF object: section header table at byte {shoff}: {shnum} sections of {entsize} "
            f"bytes end past the end of the file ({n} bytes)"
        )
    if shstrndx != 0xFFFF and shstrndx >= shnum and shnum:
        raise ELFError(
            f"{where}: not a readable ELF object: section name table index {shstrndx}, the file has {shnum} sections"
        )
    headers = [struct.unpack_from(fmt, data, shoff + i * entsize) for i in range(shnum)]
    names = b""
    if 0 < shstrndx < shnum:
        h = headers[shstrndx]
        if h[4] + h[5] <= n:
            names = data[h[4] : h[4] + h[5]]

    def name(i: int) -> str:
        off = headers[i][0]
        if off < len(names):
            end = names.find(b"\0", off)
            return names[off : end if end >= 0 else len(names)].decode("utf-8", "replace")
        return f"[{i}]"

    for i, hdr in enumerate(headers):
        sh_type, sh_flags, sh_offset, sh_size = hdr[1], hdr[2], hdr[4], hdr[5]
        if sh_type == _SHT_NOBITS or sh_size == 0:
            continue
        if sh_offset + sh_size > n:
            raise ELFError(
                f"{where}: not a readable ELF object: section {name(i)} at {sh_offset} + {sh_size} ends past the end of "
                f"the file ({n} bytes; section [{i}])"
            )
        if sh_flags & _SHF_COMPRESSED:
            raise ELFError(
                f"{where}: not a readable ELF object: section {name(i)} is compressed (SHF_COMPRESSED): not a BPF object"
            )


def read_elf_sections(path: str | os.PathLike[str], names: tuple[str, ...]) -> dict[str, bytes]:
    """The contents of the named sections of the ELF file at *path* (missing ones left out),
    and ``"__byte_order__"`` (``b"little"``/``b"big"``)."""
    import io

    from elftools.elf.elffile import ELFFile

    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read()
        check_elf_layout(data, str(p))
        with io.BytesIO(data) as fh:
            elf = ELFFile(fh)
            out: dict[str, bytes] = {"__byte_order__": b"little" if elf.little_endian else b"big"}
            for name in names:
                sec = elf.get_section_by_name(name)
                if sec is not None:
                    if sec.header["sh_type"] == "SHT_NOBITS":
                        continue
                    size = sec.header["sh_size"]
                    off = sec.header["sh_offset"]
                    file_size = len(data)
                    if off + size > file_size:  # checked before pyelftools reads (allocates)
                        raise ELFError(
                            f"{p}: section {name} at {off} + {size} ends past the end of the "
                            f"file ({file_size} bytes)"
                        )
                    out[name] = sec.data()
            return out
    except OSError as exc:
        raise ELFError(f"{p}: cannot read: {exc.strerror}") from None
    except BpfkitError:
        raise
    except (
        Exception
    ) as exc:  # pyelftools' own ELFError, struct.error, IndexError, ...: one boundary
        raise ELFError(f"{p}: not a readable ELF object: {type(exc).__name__}: {exc}") from None


def load_elf_btf(
    path: str | os.PathLike[str], *, base: Spec | None = None
) -> tuple[Spec, Ext | None]:
    """The ``.BTF`` (as a :class:`~bpfkit.btf.spec.Spec`) and ``.BTF.ext`` (as an
    :class:`~bpfkit.btf.ext.Ext`, or ``None`` when absent) of a BPF ELF object.

    A kernel module's ``.BTF`` is split BTF: its base is *base* if given, else the module's
    own distilled ``.BTF.base`` section when it has one.

    Raises
    ------
    ELFError
        The file is not a readable ELF object or has no ``.BTF`` section.
    BTFError
        The sections are not valid BTF / BTF.ext.
    """
    from bpfkit.btf.ext import parse_btf_ext
    from bpfkit.btf.spec import parse_btf

    p = Path(path)
    secs = read_elf_sections(p, (".BTF", ".BTF.ext", ".BTF.base"))
    if ".BTF" not in secs:
        raise ELFError(f"{p}: no .BTF section")
    if base is None and ".BTF.base" in secs:  # a kernel module's distilled base (6.12+)
        base = parse_btf(secs[".BTF.base"], name=f"{p}:.BTF.base")
    spec = parse_btf(secs[".BTF"], base=base, name=f"{p}:.BTF")
    ext = None
    if ".BTF.ext" in secs:
        ext = parse_btf_ext(
            secs[".BTF.ext"], spec, byte_order=secs["__byte_order__"].decode(), name=f"{p}:.BTF.ext"
        )
    return spec, ext
