"""The held-out campaign's mutators: structure-aware, independent of the main fuzzer's.

The main campaign (:func:`tests.fuzz.run.mutate`) edits bytes: bit flips, interesting words,
chunks, splices, line swaps. These mutators instead read the format first and change one
field of it, so a mutant stays well-formed everywhere else and reaches the checks deep
inside a reader:

- **BTF** (``btf_raw``, ``btf_split``): header fields (lengths, offsets, overlapping or past
  the end), one type record's ``info`` word (kind, ``kind_flag``, ``vlen``), its
  ``size``/``type`` word (its own id, the next id, 0, the last id + 1, 2^32 - 1), a member's
  or parameter's type id and bit offset, ``name_off``, records duplicated, dropped or swapped
  (the header's lengths kept consistent), the string section's terminators removed.
- **.BTF.ext** (``btf_ext``): header offsets and lengths, ``rec_size``, a section's
  ``sec_name_off`` and ``num_info``, a record's words.
- **ELF** (``elf_object``, ``ownership``): ``e_shoff``/``e_shnum``/``e_shstrndx``/
  ``e_shentsize``, one section header's ``sh_type``/``sh_offset``/``sh_size``/``sh_link``/
  ``sh_info``/``sh_entsize``/``sh_name``, one symbol's ``st_name``/``st_shndx``/``st_value``/
  ``st_size``, one relocation's ``r_offset`` and symbol index.
- **Instructions** (``insns``): one instruction's opcode, registers, offset or immediate; a
  ``ld_imm64`` cut in half.
- **Logs** (``log_text``, ``log_file``, ``report``): lines spliced from another log, a block
  duplicated, a line cut mid-way, its numbers replaced by extreme ones, a state's parentheses
  cut, CRLF, NUL and very long lines; for files the result is then compressed (gzip, xz,
  concatenated gzip members, a cut compressed stream).

Every mutator is a plain function of (data, rng, pool); :func:`mutate_structure` picks the
ones for a target. A mutant that the format walk cannot read falls back to a field write at
a random aligned offset, never to the main fuzzer's byte operations.
"""

from __future__ import annotations

import gzip
import lzma
import random
import re
import struct
import zlib

__all__ = ["mutate_structure", "mutate_btf", "mutate_btf_ext", "mutate_elf", "mutate_insns",
           "mutate_log", "mutate_log_file"]

_EDGE32 = (0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000, 24, 4096)
_BTF_EXTRA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8),
              14: (4, 0), 15: (0, 12), 17: (4, 0), 19: (0, 12)}


def _u32(b: bytearray, off: int, v: int, order: str = "<") -> None:
    if off >= 0 and off + 4 <= len(b):
        struct.pack_into(order + "I", b, off, v & 0xFFFFFFFF)


def _u64(b: bytearray, off: int, v: int, order: str = "<") -> None:
    if off >= 0 and off + 8 <= len(b):
        struct.pack_into(order + "Q", b, off, v & 0xFFFFFFFFFFFFFFFF)


def _aligned_write(b: bytearray, rng: random.Random) -> bytes:
    if len(b) >= 4:
        _u32(b, rng.randrange(len(b) // 4) * 4, rng.choice(_EDGE32))
    return bytes(b)


# --------------------------------------------------------------------------- BTF


def _btf_records(b: bytes, hdr_len: int, type_off: int, type_len: int) -> list[tuple[int, int]]:
    """(offset, length) of each type record, in file offsets."""
    out: list[tuple[int, int]] = []
    pos = hdr_len + type_off
    end = min(len(b), pos + type_len)
    while pos + 12 <= end and len(out) < 100_000:
        info = struct.unpack_from("<I", b, pos + 4)[0]
        fixed, per = _BTF_EXTRA.get((info >> 24) & 0x1F, (0, 0))
        size = 12 + fixed + per * (info & 0xFFFF)
        out.append((pos, size))
        pos += size
    return out


def mutate_btf(data: bytes, rng: random.Random, first_id: int = 1) -> bytes:
    """One field of a raw BTF changed (see the module docstring)."""
    b = bytearray(data)
    if len(b) < 24 or b[:2] != b"\x9f\xeb":
        return _aligned_write(b, rng)
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<5I", b, 4)
    recs = _btf_records(b, hdr_len, type_off, type_len)
    op = rng.randrange(10)
    if op == 0 or not recs:  # a header field
        field = rng.randrange(5)
        old = (hdr_len, type_off, type_len, str_off, str_len)[field]
        new = rng.choice((0, old + 1, old - 1, old + 4, old - 4, old * 2, len(b), len(b) + 1,
                          type_off if field == 3 else str_off, *_EDGE32[:4]))
        _u32(b, 4 + 4 * field, new)
        return bytes(b)
    i = rng.randrange(len(recs))
    pos, size = recs[i]
    tid = first_id + i
    if op == 1:  # the info word: kind, kind_flag, vlen
        info = struct.unpack_from("<I", b, pos + 4)[0]
        part = rng.randrange(3)
        if part == 0:
            info = (info & ~(0x1F << 24)) | (rng.randrange(32) << 24)
        elif part == 1:
            info ^= 1 << 31
        else:
            info = (info & ~0xFFFF) | rng.choice((0, 1, 2, 0xFFFF, (info & 0xFFFF) + 1))
        _u32(b, pos + 4, info)
    elif op in (2, 3):  # size/type: itself, the next, void, past the end
        last = first_id + len(recs) - 1
        _u32(b, pos + 8, rng.choice((tid, tid, tid + 1, tid - 1, 0, last, last + 1, 0xFFFFFFFF)))
    elif op == 4 and size > 12:  # a member/param/var/elem type id or an offset word
        word = pos + 12 + 4 * rng.randrange((size - 12) // 4)
        last = first_id + len(recs) - 1
        _u32(b, word, rng.choice((tid, tid, 0, last + 1, 0xFFFFFFFF, 1 << 24 | 7, 0x80000000)))
    elif op == 5:  # name_off: past the strings, mid-string, the last byte
        _u32(b, pos, rng.choice((str_len, str_len + 1, max(0, str_len - 1), 1, 0xFFFFFFFF)))
    elif op == 6:  # duplicate a record (type_len follows, strings shift with it)
        rec = bytes(b[pos : pos + size])
        b[pos:pos] = rec
        _u32(b, 12, type_len + size)
        if str_off >= type_off + type_len:
            _u32(b, 16, str_off + size)
    elif op == 7:  # drop a record: every later id shifts down by one
        del b[pos : pos + size]
        _u32(b, 12, max(0, type_len - size))
        if str_off >= type_off + type_len:
            _u32(b, 16, max(0, str_off - size))
    elif op == 8 and len(recs) > 1:  # swap two records (ids no longer match their users)
        j = rng.randrange(len(recs))
        (p1, s1), (p2, s2) = sorted(((pos, size), recs[j]))
        if p1 + s1 <= p2:
            r1, r2 = bytes(b[p1 : p1 + s1]), bytes(b[p2 : p2 + s2])
            b[p2 : p2 + s2] = r1
            b[p1 : p1 + s1] = r2
    else:  # strings: a terminator removed, or the section's last byte
        s0 = hdr_len + str_off
        nuls = [k for k in range(s0, min(len(b), s0 + str_len)) if b[k] == 0][:4096]
        if nuls:
            b[rng.choice(nuls)] = ord("A")
    return bytes(b)


def mutate_btf_ext(data: bytes, rng: random.Random) -> bytes:
    """One field of a .BTF.ext changed: header offsets/lengths, rec_size, a section header."""
    b = bytearray(data)
    if len(b) < 32 or b[:2] != b"\x9f\xeb":
        return _aligned_write(b, rng)
    hdr_len = b[4] | b[5] << 8 | b[6] << 16 | b[7] << 24
    op = rng.randrange(4)
    if op == 0:  # func_info_off/len, line_info_off/len, core_relo_off/len
        field = 8 + 4 * rng.randrange(max(1, (min(hdr_len, 32) - 8) // 4))
        old = struct.unpack_from("<I", b, field)[0]
        _u32(b, field, rng.choice((0, old + 4, old - 4, old + 1, len(b), *_EDGE32[:5])))
    elif op == 1:  # hdr_len
        _u32(b, 4, rng.choice((0, 8, 24, 31, 32, 33, len(b), 0xFFFFFFFF)))
    else:  # a rec_size / sec_name_off / num_info / record word in the info area
        if len(b) > hdr_len + 4:
            word = hdr_len + 4 * rng.randrange((len(b) - hdr_len) // 4)
            _u32(b, word, rng.choice((0, 1, 4, 7, 8, 12, 16, 0xFFFF, 0xFFFFFFFF, 0x40000000)))
    return bytes(b)


# --------------------------------------------------------------------------- ELF


def mutate_elf(data: bytes, rng: random.Random) -> bytes:
    """One field of a 64-bit ELF's header, a section header, a symbol or a relocation."""
    b = bytearray(data)
    if len(b) < 64 or b[:4] != b"\x7fELF" or b[4] != 2:
        return _aligned_write(b, rng)
    o = "<" if b[5] == 1 else ">"
    shoff = struct.unpack_from(o + "Q", b, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from(o + "3H", b, 0x3A)
    shdrs = [shoff + 64 * k for k in range(shnum) if shoff + 64 * (k + 1) <= len(b)]
    op = rng.randrange(8)
    if op == 0 or not shdrs:
        which = rng.randrange(4)
        if which == 0:
            _u64(b, 0x28, rng.choice((0, shoff + 1, len(b), len(b) - 8,
                                       1 << 62, 0xFFFFFFFFFFFFFFFF)), o)
        else:
            off = (0x3A, 0x3C, 0x3E)[which - 1]
            old = (shentsize, shnum, shstrndx)[which - 1]
            v = rng.choice((0, 1, old + 1, old - 1, 0xFFFF, 0xFF00, 63, 65))
            struct.pack_into(o + "H", b, off, v & 0xFFFF)
        return bytes(b)
    sh = rng.choice(shdrs)
    sh_type = struct.unpack_from(o + "I", b, sh + 4)[0]
    if op in (1, 2):  # sh_name, sh_type, sh_link, sh_info (32-bit fields)
        field = rng.choice((0, 4, 40, 44))
        _u32(b, sh + field, rng.choice((0, 1, 2, 3, 4, 9, 11, shnum, shnum + 1, 0xFFFF,
                                        0xFFFFFFFF)), o)
        return bytes(b)
    if op in (3, 4):  # sh_offset, sh_size, sh_entsize (64-bit)
        field = rng.choice((24, 32, 56))
        old = struct.unpack_from(o + "Q", b, sh + field)[0]
        _u64(b, sh + field, rng.choice(
            (0, 1, old + 1, old + 8, max(0, old - 8), len(b), len(b) + 1, 1 << 40,
             0xFFFFFFFFFFFFFFFF)), o)
        return bytes(b)
    # a record of a symbol table (type 2) or relocation section (type 9/4)
    tabs = [s for s in shdrs if struct.unpack_from(o + "I", b, s + 4)[0] in (2, 4, 9)]
    if not tabs:
        _u32(b, sh + 4, rng.choice((2, 9, 4)), o)  # claim a table where there is none
        return bytes(b)
    sh = rng.choice(tabs)
    sh_type = struct.unpack_from(o + "I", b, sh + 4)[0]
    start, size = struct.unpack_from(o + "QQ", b, sh + 24)
    ent = 24 if sh_type != 9 else 16
    n = min(size, max(0, len(b) - start)) // ent
    if n == 0:
        return _aligned_write(b, rng)
    rec = start + ent * rng.randrange(n)
    if sh_type == 2:  # st_name, (st_info, st_other), st_shndx, st_value, st_size
        which = rng.randrange(4)
        if which == 0:
            _u32(b, rec, rng.choice((0, 0xFFFFFFFF, 1 << 20)), o)
        elif which == 1:
            v = rng.choice((0, shnum, shnum + 1, 0xFFF1, 0xFFF2, 0xFFFF))
            struct.pack_into(o + "H", b, rec + 6, v & 0xFFFF)
        else:
            _u64(b, rec + (8 if which == 2 else 16), rng.choice(
                (0, 1, 7, 1 << 32, 0xFFFFFFFFFFFFFFF8, 0xFFFFFFFFFFFFFFFF)), o)
    else:  # r_offset, r_info (symbol index << 32 | type)
        if rng.randrange(2):
            _u64(b, rec, rng.choice((1, 7, 1 << 32, 0xFFFFFFFFFFFFFFF8)), o)
        else:
            info = struct.unpack_from(o + "Q", b, rec + 8)[0]
            sym = rng.choice((0, 0xFFFFFFFF, (info >> 32) + 1, 1 << 20))
            _u64(b, rec + 8, sym << 32 | (info & 0xFFFFFFFF), o)
    return bytes(b)


# --------------------------------------------------------------------------- instructions


def mutate_insns(data: bytes, rng: random.Random) -> bytes:
    """One field of one 8-byte instruction; or a ld_imm64 cut in half."""
    b = bytearray(data)
    n = len(b) // 8
    if n == 0:
        return bytes(b) + bytes([0x18, 0x01, 0, 0, 1, 0, 0, 0])
    k = 8 * rng.randrange(n)
    op = rng.randrange(5)
    if op == 0:  # opcode: any class, any op/mode, any size
        b[k] = rng.choice((0x18, 0x85, 0x95, 0xDB, 0xC3, 0xD4, 0xDC, 0x8D, 0x07, 0x3F, 0xE5,
                           rng.randrange(256)))
    elif op == 1:  # dst/src registers, also the ones that do not exist
        b[k + 1] = rng.randrange(16) | rng.randrange(16) << 4
    elif op == 2:
        struct.pack_into("<h", b, k + 2, rng.choice((0, 1, -1, 0x7FFF, -0x8000, 8, -8)))
    elif op == 3:
        struct.pack_into("<i", b, k + 4, rng.choice((0, 1, -1, 0x7FFFFFFF, -0x80000000, 12,
                                                     0xF0 - 0x100, 0xE1, 0xD2)))
    else:  # a wide instruction whose second half is missing or is another instruction
        b[k] = 0x18
        if rng.randrange(2):
            del b[k + 8 :]
    return bytes(b)


# --------------------------------------------------------------------------- logs

_NUM_RE = re.compile(rb"\d+")
_EXTREME = (b"0", b"4294967295", b"18446744073709551615", b"-9223372036854775808",
            b"99999999999999999999999", b"1000000", b"0x")


def mutate_log(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """Line-level: splice, duplicate, cut, extreme numbers, broken states, odd bytes."""
    lines = data.split(b"\n") or [b""]
    op = rng.randrange(9)
    i = rng.randrange(len(lines))
    if op == 0 and pool:  # splice lines of another log in
        other = rng.choice(pool).split(b"\n")
        j = rng.randrange(len(other))
        lines[i:i] = other[j : j + rng.randint(1, 12)]
    elif op == 1:  # duplicate a block (a state or a path seen again)
        lines[i:i] = lines[i : i + rng.randint(1, 8)] * rng.randint(1, 3)
    elif op == 2:  # cut a line mid-way (the log buffer, a paste)
        ln = lines[i]
        lines[i] = ln[: rng.randrange(len(ln) + 1)]
        if rng.randrange(2):
            del lines[i + 1 :]
    elif op == 3:  # a number replaced by an extreme one
        ln = lines[i]
        nums = list(_NUM_RE.finditer(ln))
        if nums:
            m = rng.choice(nums)
            lines[i] = ln[: m.start()] + rng.choice(_EXTREME) + ln[m.end() :]
    elif op == 4:  # a state's parentheses or '=' broken
        ln = lines[i]
        for ch in (b"(", b")", b"=", b","):
            k = ln.find(ch)
            if k >= 0 and rng.randrange(2):
                ln = ln[:k] + ln[k + 1 :]
        lines[i] = ln
    elif op == 5:  # CRLF, NUL, tabs, invalid UTF-8
        lines[i] += rng.choice((b"\r", b"\x00", b"\t", b"\xff\xfe", b"\xe2\x80"))
    elif op == 6:  # a very long line
        lines[i] = lines[i] * rng.randint(50, 400)
    elif op == 7:  # drop a block
        del lines[i : i + rng.randint(1, 10)]
    else:  # lines reordered within a block
        blk = lines[i : i + 6]
        rng.shuffle(blk)
        lines[i : i + 6] = blk
    return b"\n".join(lines)[: 1 << 20]


def _decompressed(data: bytes) -> bytes:
    """The text inside a compressed seed (at most 1 MiB of it); the bytes as they are when
    they do not decompress."""
    try:
        if data[:2] == b"\x1f\x8b":
            return zlib.decompressobj(wbits=31).decompress(data, 1 << 20)
        if data[:6] == b"\xfd7zXZ\x00":
            return lzma.LZMADecompressor().decompress(data, 1 << 20)
    except (zlib.error, lzma.LZMAError, EOFError, ValueError):
        pass
    return data


def mutate_log_file(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """A log mutant, stored plain, gzip, xz, as concatenated gzip members or with its
    compressed stream cut or a byte of it changed."""
    text = mutate_log(_decompressed(data), rng, pool)
    op = rng.randrange(6)
    if op <= 1:
        return text
    packed = gzip.compress(text, compresslevel=1) if op in (2, 4, 5) else lzma.compress(text)
    if op == 4:  # two gzip members
        packed += gzip.compress(text[: len(text) // 2], compresslevel=1)
    elif op == 5 and len(packed) > 20:  # the stream cut, or one byte of it changed
        k = rng.randrange(10, len(packed))
        packed = packed[:k] if rng.randrange(2) else (
            packed[:k] + bytes([packed[k] ^ 0x40]) + packed[k + 1 :])
    return packed


# --------------------------------------------------------------------------- dispatch


def mutate_structure(data: bytes, rng: random.Random, pool: list[bytes], *, target: str) -> bytes:
    """One to three structure-aware mutations of *data* for *target*."""
    out = data
    for _ in range(rng.randint(1, 3)):
        if target == "btf_raw":
            out = mutate_btf(out, rng)
        elif target == "btf_split":
            out = mutate_btf(out, rng, first_id=_split_first_id())
        elif target == "btf_ext":
            out = mutate_btf_ext(out, rng)
        elif target in ("elf_object", "ownership"):
            out = mutate_elf(out, rng)
        elif target == "insns":
            out = mutate_insns(out, rng)
        elif target == "log_text":
            out = mutate_log(out, rng, pool)
        else:
            out = mutate_log_file(out, rng, pool)
    return out


def _split_first_id() -> int:
    from tests.fuzz.targets import _testmod_base

    base = _testmod_base()
    return len(base) if base is not None else 1
