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

__all__ = ["load_elf_btf", "read_elf_sections"]


def read_elf_sections(path: str | os.PathLike[str], names: tuple[str, ...]) -> dict[str, bytes]:
    """The contents of the named sections of the ELF file at *path* (missing ones left out),
    and ``"__byte_order__"`` (``b"little"``/``b"big"``)."""
    from elftools.elf.elffile import ELFFile

    p = Path(path)
    try:
        with p.open("rb") as fh:
            elf = ELFFile(fh)
            out: dict[str, bytes] = {"__byte_order__": b"little" if elf.little_endian else b"big"}
            for name in names:
                sec = elf.get_section_by_name(name)
                if sec is not None:
                    if sec.header["sh_type"] == "SHT_NOBITS":
                        continue
                    size = sec.header["sh_size"]
                    off = sec.header["sh_offset"]
                    file_size = os.fstat(fh.fileno()).st_size
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
