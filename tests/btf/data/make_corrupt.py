"""Build the small corrupt inputs in this directory, each named for what is wrong with it.

Every blob is assembled here from scratch (struct.pack), starting from one tiny valid BTF
(``INT 'int'``, ``PTR -> int``, ``STRUCT 'pair' {int a; int *b;}``, ``TYPEDEF 'pair_t'``), so
nothing in them is copied from anywhere. Run ``python tests/btf/data/make_corrupt.py`` to
rebuild; ``test_bad_input.py`` says which error each one must give.
"""

from __future__ import annotations

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
STRS = b"\0int\0pair\0a\0b\0pair_t\0"
OFF = {"int": 1, "pair": 5, "a": 10, "b": 12, "pair_t": 14}


def info(kind: int, vlen: int = 0, kflag: int = 0) -> int:
    return (kflag << 31) | (kind << 24) | vlen


def types(e: str = "<") -> bytes:
    return b"".join(
        [
            struct.pack(e + "IIII", OFF["int"], info(1), 4, (1 << 24) | 32),  # [1] INT int
            struct.pack(e + "III", 0, info(2), 1),  # [2] PTR -> 1
            struct.pack(e + "III", OFF["pair"], info(4, 2), 16),  # [3] STRUCT pair
            struct.pack(e + "III", OFF["a"], 1, 0),
            struct.pack(e + "III", OFF["b"], 2, 64),
            struct.pack(e + "III", OFF["pair_t"], info(8), 3),  # [4] TYPEDEF pair_t -> 3
        ]
    )


def blob(t: bytes, s: bytes = STRS, *, e: str = "<", hdr: bytes | None = None) -> bytes:
    if hdr is None:
        hdr = struct.pack(e + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(t), len(t), len(s))
    return hdr + t + s


def hdr24(type_off: int, type_len: int, str_off: int, str_len: int, **kw: int) -> bytes:
    return struct.pack(
        "<HBBIIIII",
        kw.get("magic", 0xEB9F),
        kw.get("version", 1),
        kw.get("flags", 0),
        kw.get("hdr_len", 24),
        type_off,
        type_len,
        str_off,
        str_len,
    )


def elf_with_sections(
    sections: list[tuple[bytes, bytes]], btf_size_override: int | None = None
) -> bytes:
    """A little-endian ELF64 BPF relocatable object holding *sections* (name, bytes)."""
    names = b"\0.shstrtab\0" + b"".join(n + b"\0" for n, _ in sections)
    body = bytearray()
    headers = [bytes(64)]  # SHN_UNDEF
    offset = 64
    name_off = 11
    for name, data in sections:
        size = btf_size_override if (name == b".BTF" and btf_size_override) else len(data)
        headers.append(struct.pack("<IIQQQQIIQQ", name_off, 1, 0, 0, offset, size, 0, 0, 1, 0))
        body += data
        offset += len(data)
        name_off += len(name) + 1
    headers.append(struct.pack("<IIQQQQIIQQ", 1, 3, 0, 0, offset, len(names), 0, 0, 1, 0))
    body += names
    offset += len(names)
    shoff = offset
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH", 1, 247, 1, 0, 0, shoff, 0, 64, 0, 0, 64, len(headers), len(headers) - 1
    )
    return ehdr + bytes(body) + b"".join(headers)


def build() -> dict[str, bytes]:
    t = types()
    n, s = len(t), len(STRS)
    out: dict[str, bytes] = {}
    out["valid_tiny.btf"] = blob(t)
    out["valid_tiny_big_endian.btf"] = blob(types(">"), e=">")
    mid = bytearray(t)
    struct.pack_into("<I", mid, 16 + 12 + 12, OFF["pair"] + 1)  # member a named "air"
    struct.pack_into("<I", mid, 0, OFF["int"] + 2)  # [1] INT named "t"
    out["valid_name_mid_string.btf"] = blob(bytes(mid))
    # kind_flag on TYPE_TAG / DECL_TAG: a plain C attribute (since 2025), e.g. address_space(1)
    attr_strs = STRS + b"address_space(1)\0"
    a_off = len(STRS)
    tagged = t + struct.pack("<III", a_off, info(18, 0, 1), 1)  # [5] TYPE_TAG attr -> int
    tagged += struct.pack("<III", 0, info(2), 5)  # [6] PTR -> [5]
    tagged += struct.pack("<IIII", a_off, info(17, 0, 1), 3, 0xFFFFFFFF)  # [7] DECL_TAG attr on [3]
    out["valid_tag_attr_kind_flag.btf"] = blob(tagged, attr_strs)
    # a name that is not UTF-8 (libbpf and bpftool pass the bytes through)
    odd = STRS + b"caf\xe9_\xff\0"
    odd_t = bytearray(t)
    struct.pack_into("<I", odd_t, 16 + 12, len(STRS))  # [3] STRUCT named caf\xe9_\xff
    out["valid_name_not_utf8.btf"] = blob(bytes(odd_t), odd)
    out["truncated_header.btf"] = blob(t)[:10]
    out["bad_magic.btf"] = blob(t, hdr=hdr24(0, n, n, s, magic=0x1234))
    out["bad_version.btf"] = blob(t, hdr=hdr24(0, n, n, s, version=2))
    out["hdr_len_past_end.btf"] = hdr24(0, 0, 0, 1, hdr_len=4096) + b"\0"
    out["strings_past_end.btf"] = blob(t, hdr=hdr24(0, n, n, s + 100))
    out["types_overlap_strings.btf"] = blob(t, hdr=hdr24(0, n + 8, n, s))
    out["type_section_unaligned.btf"] = hdr24(2, n, n + 2, s) + b"\0\0" + t + STRS
    out["strings_not_nul_terminated.btf"] = blob(t, STRS[:-1] + b"x")
    out["base_strings_not_starting_with_nul.btf"] = blob(t, b"x" + STRS[1:])
    out["header_padding_not_zero.btf"] = (
        struct.pack("<HBBIIIIIII", 0xEB9F, 1, 0, 36, 0, n, n, s, 0, 0) + b"\x01\0\0\0" + t + STRS
    )
    big_vlen = bytearray(t)
    struct.pack_into("<I", big_vlen, 16 + 12 + 4, info(4, 1000))  # STRUCT claims 1000 members
    out["struct_vlen_past_end.btf"] = blob(bytes(big_vlen))
    huge = bytearray(t)
    struct.pack_into("<I", huge, 16 + 12 + 4, info(4, 0xFFFFFF))  # the largest 24-bit vlen
    out["struct_vlen_huge.btf"] = blob(bytes(huge))
    out["type_truncated_mid_record.btf"] = blob(t[:-4], hdr=hdr24(0, n - 4, n - 4, s))
    unk = bytearray(t)
    struct.pack_into("<I", unk, 16 + 4, info(25))  # [2] has kind 25, no layout section
    out["unknown_kind_25.btf"] = blob(bytes(unk))
    dangling = bytearray(t)
    struct.pack_into("<I", dangling, 16 + 8, 99)  # [2] PTR -> 99
    out["dangling_type_id.btf"] = blob(bytes(dangling))
    member = bytearray(t)
    struct.pack_into("<I", member, 16 + 12 + 12 + 12 + 4, 77)  # member b -> 77
    out["dangling_member_type_id.btf"] = blob(bytes(member))
    name = bytearray(t)
    struct.pack_into("<I", name, 0, 5000)  # [1] name_off past the strings
    out["dangling_name_off.btf"] = blob(bytes(name))
    loop = bytearray(t)
    struct.pack_into("<III", loop, 16, 0, info(10), 2)  # [2] CONST -> itself
    out["const_self_cycle.btf"] = blob(bytes(loop))
    cyc = bytearray(t)
    struct.pack_into("<I", cyc, len(t) - 4, 5)  # [4] TYPEDEF -> [5]
    cyc += struct.pack("<III", OFF["pair"], info(8), 4)  # [5] TYPEDEF -> [4]
    out["typedef_cycle.btf"] = blob(bytes(cyc))
    arr = t + struct.pack("<IIIIII", 0, info(3), 0, 5, 1, 4)  # [5] ARRAY of [5]
    out["array_of_itself.btf"] = blob(arr)
    # info_sz / elem_sz of kinds 0..19 as include/uapi/linux/btf.h defines them
    sizes = [
        (0, 0),
        (4, 0),
        (0, 0),
        (12, 0),
        (0, 12),
        (0, 12),
        (0, 8),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 8),
        (4, 0),
        (0, 12),
        (0, 0),
        (4, 0),
        (0, 0),
        (0, 12),
    ]
    lay = b"".join(struct.pack("<BBH", i, e, 0) for i, e in sizes)
    lay_bad = bytearray(lay)
    lay_bad[4 * 4 + 1] = 8  # STRUCT elem_sz 8 (it is 12)
    out["layout_disagrees_with_kind.btf"] = (
        struct.pack("<HBBIIIIIII", 0xEB9F, 1, 0, 32, 0, n, n + 80, s, n, 80)
        + t
        + bytes(lay_bad)
        + STRS
    )
    # A kind this reader does not know (20), stepped over through a 21-entry layout section
    # that says it has one 4-byte word after struct btf_type and 4 bytes per vlen element.
    lay21 = lay + struct.pack("<BBH", 4, 4, 0)
    t20 = t + struct.pack("<IIIIII", OFF["a"], info(20, 2), 0, 7, 8, 9)  # [5] kind 20, vlen 2
    out["unknown_kind_20_with_layout.btf"] = (
        struct.pack("<HBBIIIIIII", 0xEB9F, 1, 0, 32, 0, len(t20), len(t20) + 84, s, len(t20), 84)
        + t20
        + lay21
        + STRS
    )
    # ELF: an ELF64 header whose section header table lies past the end of the file.
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    out["elf_section_table_past_end.o"] = ident + struct.pack(
        "<HHIQQQIHHHHHH", 1, 247, 1, 0, 0, 4096, 0, 64, 0, 0, 64, 5, 1
    )
    out["elf_truncated_header.o"] = ident + b"\0" * 6
    out["valid_tiny_in_elf.o"] = elf_with_sections([(b".text", bytes(8)), (b".BTF", blob(t))])
    out["elf_without_btf.o"] = elf_with_sections([(b".text", bytes(8))])
    out["elf_btf_section_past_end.o"] = elf_with_sections(
        [(b".BTF", blob(t))], btf_size_override=1 << 20
    )
    return out


def main() -> None:
    for name, data in build().items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
