"""Build minimal BPF ELF relocatable objects around raw instruction bytes, for tests that run
llvm-objdump-19 on encodings no compiler emits."""

from __future__ import annotations

import struct

__all__ = ["make_elf"]


def make_elf(text: bytes, *, section: str = "prog", big_endian: bool = False) -> bytes:
    """An ELF64 ET_REL for EM_BPF with one executable section holding ``text``."""
    e = ">" if big_endian else "<"
    shstr = b"\0" + section.encode() + b"\0.shstrtab\0"
    name_prog, name_shstr = 1, 2 + len(section)
    ehsize, shentsize = 64, 64
    text_off = ehsize
    shstr_off = text_off + len(text)
    sh_off = (shstr_off + len(shstr) + 7) & ~7
    ident = b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1, 0]) + b"\0" * 8
    header = ident + struct.pack(
        e + "HHIQQQIHHHHHH", 1, 247, 1, 0, 0, sh_off, 0, ehsize, 0, 0, shentsize, 3, 2
    )
    null = b"\0" * shentsize
    prog = struct.pack(e + "IIQQQQIIQQ", name_prog, 1, 0x6, 0, text_off, len(text), 0, 0, 8, 0)
    strs = struct.pack(e + "IIQQQQIIQQ", name_shstr, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
    body = header + text + shstr
    body += b"\0" * (sh_off - len(body))
    return body + null + prog + strs
