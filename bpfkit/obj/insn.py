"""The eBPF instruction decoder: bytes -> :class:`Insn` records with llvm-objdump-style text.

Encoding follows ``include/uapi/linux/bpf.h`` and ``Documentation/bpf/standardization/
instruction-set.rst``: 8-byte slots ``code:8 dst_reg:4 src_reg:4 off:16 imm:32``; the register
nibbles swap places in big-endian objects; ``BPF_LD | BPF_IMM | BPF_DW`` (ld_imm64) takes two
slots and its ``src_reg`` names a pseudo kind (map fd, map value, BTF id, func, ...).

The text matches ``llvm-objdump-19 -d --no-show-raw-insn`` (default CPU): hexadecimal
immediates and offsets, ``r`` registers for sub-64-bit loads and stores, ``w`` registers for
32-bit ALU, JMP32 and 32-bit atomics. Forms llvm-objdump does not know (ld_imm64 with a pseudo
``src_reg``) are rendered as the kernel's ``kernel/bpf/disasm.c`` would.

Examples
--------
>>> insns = decode_insns(bytes.fromhex("b701000005000000" "9500000000000000"))
>>> [i.text for i in insns]
['r1 = 0x5', 'exit']
>>> decode_insns(bytes.fromhex("18010000ffffffff" "0000000000000000"))[0].imm64
4294967295
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from bpfkit.errors import ELFError

__all__ = [
    "BPF_LD",
    "BPF_LDX",
    "BPF_ST",
    "BPF_STX",
    "BPF_ALU",
    "BPF_JMP",
    "BPF_JMP32",
    "BPF_ALU64",
    "BPF_PSEUDO_MAP_FD",
    "BPF_PSEUDO_MAP_VALUE",
    "BPF_PSEUDO_BTF_ID",
    "BPF_PSEUDO_FUNC",
    "BPF_PSEUDO_MAP_IDX",
    "BPF_PSEUDO_MAP_IDX_VALUE",
    "BPF_PSEUDO_CALL",
    "BPF_PSEUDO_KFUNC_CALL",
    "ATOMIC_OPS",
    "CallTarget",
    "Insn",
    "decode_insns",
    "format_insn",
    "format_insn_kernel",
]

# Instruction classes (code & 0x07).
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_JMP32 = 0x06
BPF_ALU64 = 0x07

# ld_imm64 src_reg pseudo kinds (include/uapi/linux/bpf.h).
BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_MAP_VALUE = 2
BPF_PSEUDO_BTF_ID = 3
BPF_PSEUDO_FUNC = 4
BPF_PSEUDO_MAP_IDX = 5
BPF_PSEUDO_MAP_IDX_VALUE = 6
# call src_reg kinds.
BPF_PSEUDO_CALL = 1
BPF_PSEUDO_KFUNC_CALL = 2

_SIZES = {0x00: 32, 0x08: 16, 0x10: 8, 0x18: 64}  # BPF_W, BPF_H, BPF_B, BPF_DW (in bits)
_MODE_IMM, _MODE_ABS, _MODE_IND, _MODE_MEM, _MODE_MEMSX, _MODE_ATOMIC = (
    0x00,
    0x20,
    0x40,
    0x60,
    0x80,
    0xC0,
)

_ALU_OPS = {
    0x00: "+=",
    0x10: "-=",
    0x20: "*=",
    0x30: "/=",
    0x40: "|=",
    0x50: "&=",
    0x60: "<<=",
    0x70: ">>=",
    0x90: "%=",
    0xA0: "^=",
    0xC0: "s>>=",
}
_JMP_OPS = {
    0x10: "==",
    0x20: ">",
    0x30: ">=",
    0x40: "&",
    0x50: "!=",
    0x60: "s>",
    0x70: "s>=",
    0xA0: "<",
    0xB0: "<=",
    0xC0: "s<",
    0xD0: "s<=",
}
#: ``BPF_ATOMIC`` operations by ``imm`` (``BPF_FETCH`` = 0x01 is part of the value).
ATOMIC_OPS: dict[int, str] = {
    0x00: "add",
    0x40: "or",
    0x50: "and",
    0xA0: "xor",
    0x01: "fetch_add",
    0x41: "fetch_or",
    0x51: "fetch_and",
    0xA1: "fetch_xor",
    0xE1: "xchg",
    0xF1: "cmpxchg",
    0x100: "load_acquire",
    0x110: "store_release",
}
_ATOMIC_SYMBOL = {"add": "+=", "or": "|=", "and": "&=", "xor": "^="}
_PSEUDO_LD = {
    BPF_PSEUDO_MAP_FD: "map_fd",
    BPF_PSEUDO_MAP_VALUE: "map_value",
    BPF_PSEUDO_BTF_ID: "btf_id",
    BPF_PSEUDO_FUNC: "func",
    BPF_PSEUDO_MAP_IDX: "map_idx",
    BPF_PSEUDO_MAP_IDX_VALUE: "map_idx_value",
}


@dataclass(frozen=True, slots=True)
class CallTarget:
    """What a ``call`` instruction calls.

    ``kind`` is ``"helper"`` (``id`` = helper id, ``name`` from ``enum bpf_func_id``),
    ``"kfunc"`` (``name`` = the extern symbol; ``id`` = its FUNC type id in the object's BTF,
    or -1), or ``"subprog"`` (``name`` = the callee's symbol; ``id`` = its instruction index in
    its section).
    """

    kind: Literal["helper", "kfunc", "subprog"]
    name: str
    id: int


@dataclass(frozen=True, slots=True)
class Insn:
    """One decoded instruction (an ld_imm64 is one Insn covering two slots).

    ``op`` is ``code & 0xf0`` for ALU/JMP classes and the mode ``code & 0xe0`` for the
    load/store classes. ``imm64`` is the full unsigned 64-bit constant of an ld_imm64, else None.
    ``reloc`` is the symbol of an ELF relocation at this instruction; ``call`` is filled in for
    calls by :func:`bpfkit.obj.load_object`.
    """

    idx: int
    code: int
    cls: int
    op: int
    src_reg: int
    dst_reg: int
    off: int
    imm: int
    imm64: int | None
    text: str
    reloc: str | None = None
    call: CallTarget | None = None

    @property
    def size(self) -> int:
        """Access size in bits of a load/store (``code & 0x18``)."""
        return _SIZES[self.code & 0x18]

    @property
    def nslots(self) -> int:
        """8-byte slots taken: 2 for ld_imm64, else 1."""
        return 2 if self.imm64 is not None else 1

    @property
    def is_reg_source(self) -> bool:
        """``BPF_X``: the second operand is ``src_reg`` (ALU/JMP classes)."""
        return bool(self.code & 0x08)

    @property
    def is_call(self) -> bool:
        return self.code == BPF_JMP | 0x80

    @property
    def is_exit(self) -> bool:
        return self.code == BPF_JMP | 0x90

    @property
    def is_ld_imm64(self) -> bool:
        return self.imm64 is not None

    @property
    def is_jump(self) -> bool:
        """A jump with a target (ja, gotol, conditional, may_goto); not call/exit/callx."""
        if self.cls not in (BPF_JMP, BPF_JMP32):
            return False
        return self.op not in (0x80, 0x90)

    @property
    def is_cond_jump(self) -> bool:
        return self.is_jump and self.op != 0x00

    @property
    def jump_target(self) -> int | None:
        """Index of the jump target (``gotol`` uses ``imm``), else None."""
        if not self.is_jump:
            return None
        if self.cls == BPF_JMP32 and self.op == 0x00:
            return self.idx + self.imm + 1
        return self.idx + self.off + 1


def _hex(value: int) -> str:
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def _rel(value: int) -> str:
    return f"-{-value:#x}" if value < 0 else f"+{value:#x}"


def _mem(reg: int, off: int) -> str:
    return f"r{reg} - {-off:#x}" if off < 0 else f"r{reg} + {off:#x}"


def format_insn(code: int, dst: int, src: int, off: int, imm: int, imm64: int | None = None) -> str:
    """Render one instruction as ``llvm-objdump-19 -d --no-show-raw-insn`` prints it.

    Parameters
    ----------
    code, dst, src, off, imm
        The fields of the (first) slot; ``off`` and ``imm`` signed.
    imm64
        The unsigned 64-bit constant of an ld_imm64.

    Returns
    -------
    str
        The assembly text, or ``"<unknown>"`` for an encoding that is not an instruction.

    Examples
    --------
    >>> format_insn(0x7B, 10, 1, -8, 0)
    '*(u64 *)(r10 - 0x8) = r1'
    >>> format_insn(0xDB, 1, 2, 0, 0xE1)
    'r2 = xchg_64(r1 + 0x0, r2)'
    """
    cls = code & 0x07
    if cls in (BPF_ALU, BPF_ALU64):
        return _format_alu(code, cls, dst, src, off, imm)
    if cls in (BPF_JMP, BPF_JMP32):
        return _format_jmp(code, cls, dst, src, off, imm)
    mode = code & 0xE0
    bits = _SIZES[code & 0x18]
    if cls == BPF_LD:
        if code == 0x18 and imm64 is not None:
            if src == 0:
                signed = imm64 - (1 << 64) if imm64 >> 63 else imm64
                return f"r{dst} = {_hex(signed)} ll"
            return f"ld_pseudo r{dst}, {src:#x}, {imm & 0xFFFFFFFF:#x}"
        if mode == _MODE_ABS and bits != 64:
            return f"r0 = *(u{bits} *)skb[{_hex(imm)}]"
        if mode == _MODE_IND and bits != 64:
            return f"r0 = *(u{bits} *)skb[r{src}]"
        return "<unknown>"
    if cls == BPF_LDX:
        if mode == _MODE_MEM:
            return f"r{dst} = *(u{bits} *)({_mem(src, off)})"
        if mode == _MODE_MEMSX and bits != 64:
            return f"r{dst} = *(s{bits} *)({_mem(src, off)})"
        return "<unknown>"
    if cls == BPF_ST:
        if mode == _MODE_MEM:
            return f"*(u{bits} *)({_mem(dst, off)}) = {_hex(imm)}"
        return "<unknown>"
    # BPF_STX
    if mode == _MODE_MEM:
        return f"*(u{bits} *)({_mem(dst, off)}) = r{src}"
    if mode == _MODE_ATOMIC and bits in (32, 64):
        return _format_atomic(bits, dst, src, off, imm)
    return "<unknown>"


def _format_atomic(bits: int, dst: int, src: int, off: int, imm: int) -> str:
    name = ATOMIC_OPS.get(imm)
    if name is None:
        return "<unknown>"
    r = "w" if bits == 32 else "r"
    where = _mem(dst, off)
    # load-acquire / store-release (kernel 6.15) postdate llvm-19: rendered as kernel/bpf/disasm.c
    if name == "load_acquire":
        return f"r{dst} = load_acquire((u{bits} *)({_mem(src, off)}))"
    if name == "store_release":
        return f"store_release((u{bits} *)({where}), r{src})"
    if name in _ATOMIC_SYMBOL:
        return f"lock *(u{bits} *)({where}) {_ATOMIC_SYMBOL[name]} {r}{src}"
    if name.startswith("fetch_"):
        return f"{r}{src} = atomic_{name}((u{bits} *)({where}), {r}{src})"
    suffix = "32_32" if bits == 32 else "_64"
    if name == "xchg":
        return f"{r}{src} = xchg{suffix}({where}, {r}{src})"
    return f"{r}0 = cmpxchg{suffix}({where}, {r}0, {r}{src})"


def _format_alu(code: int, cls: int, dst: int, src: int, off: int, imm: int) -> str:
    op = code & 0xF0
    x = bool(code & 0x08)
    r = "r" if cls == BPF_ALU64 else "w"
    if op == 0x80:  # neg
        return f"{r}{dst} = -{r}{dst}"
    if op == 0xD0:  # endianness / bswap
        if imm not in (16, 32, 64):
            return "<unknown>"
        if cls == BPF_ALU:
            return f"r{dst} = {'be' if x else 'le'}{imm} r{dst}"
        if x:
            return "<unknown>"
        return f"r{dst} = bswap{imm} r{dst}"
    if op == 0xB0:  # mov, movsx
        if not x:
            return f"{r}{dst} = {_hex(imm)}" if off == 0 else "<unknown>"
        if off == 0:
            return f"{r}{dst} = {r}{src}"
        if off == 1 and cls == BPF_ALU64:  # BPF_ADDR_SPACE_CAST (arena pointers)
            return f"r{dst} = addr_space_cast(r{src}, {(imm >> 16) & 0xFFFF:#x}, {imm & 0xFFFF:#x})"
        if off in (8, 16) or (off == 32 and cls == BPF_ALU64):
            return f"{r}{dst} = (s{off}){r}{src}"
        return "<unknown>"
    sym = _ALU_OPS.get(op)
    if sym is None:
        return "<unknown>"
    if op in (0x30, 0x90):
        if off not in (0, 1):
            return "<unknown>"
        if off == 1:
            sym = "s" + sym
    elif off != 0:
        return "<unknown>"
    rhs = f"{r}{src}" if x else _hex(imm)
    return f"{r}{dst} {sym} {rhs}"


def _format_jmp(code: int, cls: int, dst: int, src: int, off: int, imm: int) -> str:
    op = code & 0xF0
    x = bool(code & 0x08)
    if cls == BPF_JMP:
        if code == 0x05:
            return f"goto {_rel(off)}"
        if code == 0x85:
            return f"call {_hex(imm)}"
        if code == 0x8D:
            return f"callx r{dst}"
        if code == 0x95:
            return "exit"
        if code == 0xE5:
            return f"may_goto {_rel(off)}"
    elif code == 0x06:
        return f"gotol {_rel(imm)}"
    sym = _JMP_OPS.get(op)
    if sym is None:
        return "<unknown>"
    r = "r" if cls == BPF_JMP else "w"
    rhs = f"{r}{src}" if x else _hex(imm)
    return f"if {r}{dst} {sym} {rhs} goto {_rel(off)}"


def decode_insns(
    data: bytes,
    byte_order: Literal["little", "big"] = "little",
    *,
    where: str = "<bytes>",
) -> list[Insn]:
    """Decode a run of eBPF instructions.

    Parameters
    ----------
    data
        The raw instruction bytes (a multiple of 8).
    byte_order
        ``"little"`` (bpfel) or ``"big"`` (bpfeb).
    where
        Named in error messages (e.g. ``"prog.o section tc"``).

    Returns
    -------
    list of Insn
        ``idx`` is the slot index (byte offset // 8), so an ld_imm64 at 2 is followed by 4.

    Raises
    ------
    ELFError
        When the length is not a multiple of 8 or an ld_imm64 misses its second slot.

    Examples
    --------
    >>> [i.text for i in decode_insns(bytes.fromhex("bf160000000000001d12020000000000"))]
    ['r6 = r1', 'if r2 == r1 goto +0x2']
    """
    if len(data) % 8:
        raise ELFError(f"{where}: instruction bytes length {len(data)} is not a multiple of 8")
    fmt = "<BBhi" if byte_order == "little" else ">BBhi"
    unpack = struct.Struct(fmt).unpack_from
    out: list[Insn] = []
    n = len(data) // 8
    i = 0
    while i < n:
        code, regs, off, imm = unpack(data, i * 8)
        if byte_order == "little":
            dst, src = regs & 0x0F, regs >> 4
        else:
            dst, src = regs >> 4, regs & 0x0F
        cls = code & 0x07
        op = code & (0xE0 if cls in (BPF_LD, BPF_LDX, BPF_ST, BPF_STX) else 0xF0)
        imm64: int | None = None
        if code == 0x18:
            if i + 1 >= n:
                raise ELFError(
                    f"{where}: ld_imm64 at insn {i} (byte offset {i * 8}) has no second slot"
                )
            imm_hi = unpack(data, (i + 1) * 8)[3]
            imm64 = (imm & 0xFFFFFFFF) | ((imm_hi & 0xFFFFFFFF) << 32)
        text = format_insn(code, dst, src, off, imm, imm64)
        out.append(Insn(i, code, cls, op, src, dst, off, imm, imm64, text))
        i += 2 if imm64 is not None else 1
    return out


_KERNEL_SIZES = {32: "u32", 16: "u16", 8: "u8", 64: "u64"}


def _koff(reg: int, off: int) -> str:
    return f"r{reg} {off:+d}"


def format_insn_kernel(insn: Insn, *, kfunc_id: int | None = None) -> str:
    """Render ``insn`` as the kernel's verifier log does (``kernel/bpf/disasm.c``), without the
    ``(code)`` prefix: decimal immediates, ``goto pc+N``, ``call name#id``.

    Parameters
    ----------
    insn
        A decoded instruction; calls use ``insn.call`` for the name.
    kfunc_id
        The kernel (vmlinux) BTF id to print after a kfunc's name; the log prints the id the
        kernel resolved, which a static object cannot know.

    Examples
    --------
    >>> [format_insn_kernel(i) for i in decode_insns(bytes.fromhex(
    ...     "7961080000000000" "1506080000000000" "07020000fcffffff"))]
    ['r1 = *(u64 *)(r6 +8)', 'if r6 == 0x0 goto pc+8', 'r2 += -4']
    """
    code, cls, dst, src, off, imm = (
        insn.code,
        insn.cls,
        insn.dst_reg,
        insn.src_reg,
        insn.off,
        insn.imm,
    )
    op = code & 0xF0
    x = bool(code & 0x08)
    if cls in (BPF_ALU, BPF_ALU64):
        r = "r" if cls == BPF_ALU64 else "w"
        if op == 0x80:
            return f"{r}{dst} = -{r}{dst}"
        if op == 0xD0:
            if cls == BPF_ALU:
                return f"r{dst} = {'be' if x else 'le'}{imm} r{dst}"
            return f"r{dst} = bswap{imm} r{dst}"
        if op == 0xB0:
            if not x:
                return f"{r}{dst} = {imm}"
            if off == 1 and cls == BPF_ALU64 and imm:
                return f"r{dst} = addr_space_cast(r{src}, {imm >> 16}, {imm & 0xFFFF})"
            if off in (8, 16, 32):
                return f"{r}{dst} = (s{off}){r}{src}"
            return f"{r}{dst} = {r}{src}"
        sym = _ALU_OPS.get(op, "?")
        if op in (0x30, 0x90) and off == 1:
            sym = "s" + sym
        return f"{r}{dst} {sym} {r + str(src) if x else imm}"
    if cls in (BPF_JMP, BPF_JMP32):
        if code == 0x05:
            return f"goto pc{off:+d}"
        if code == 0x06:
            return f"gotol pc{imm:+d}"
        if code == 0xE5:
            return f"may_goto pc{off:+d}"
        if code == 0x95:
            return "exit"
        if code == 0x8D:
            return f"callx r{dst}"
        if code == 0x85:
            call = insn.call
            if src == BPF_PSEUDO_CALL and (call is None or call.kind == "subprog"):
                return f"call pc{imm:+d}"
            if call is not None and call.kind == "kfunc":
                return f"call {call.name}#{kfunc_id if kfunc_id is not None else call.id}"
            if call is not None:
                return f"call {call.name}#{imm}"
            return f"call #{imm}"
        r = "r" if cls == BPF_JMP else "w"
        sym = _JMP_OPS.get(op, "?")
        rhs = f"{r}{src}" if x else f"{imm & 0xFFFFFFFF:#x}"
        return f"if {r}{dst} {sym} {rhs} goto pc{off:+d}"
    bits = _SIZES[code & 0x18]
    size = _KERNEL_SIZES[bits]
    mode = code & 0xE0
    if cls == BPF_LD:
        if insn.imm64 is not None:
            return f"r{dst} = {insn.imm64:#x}"
        if mode == _MODE_ABS:
            return f"r0 = *({size} *)skb[{imm}]"
        return f"r0 = *({size} *)skb[r{src} + {imm}]"
    if cls == BPF_LDX:
        kind = "s" if mode == _MODE_MEMSX else "u"
        return f"r{dst} = *({kind}{bits} *)({_koff(src, off)})"
    if cls == BPF_ST:
        return f"*({size} *)({_koff(dst, off)}) = {imm}"
    if mode == _MODE_ATOMIC:
        name = ATOMIC_OPS.get(imm, "?")
        width = "64" if bits == 64 else ""
        where = f"({size} *)({_koff(dst, off)})"
        if name in _ATOMIC_SYMBOL:
            return f"lock *{where} {_ATOMIC_SYMBOL[name]} r{src}"
        if name.startswith("fetch_"):
            return f"r{src} = atomic{width}_{name}({where}, r{src})"
        if name == "xchg":
            return f"r{src} = atomic{width}_xchg({where}, r{src})"
        if name == "cmpxchg":
            return f"r0 = atomic{width}_cmpxchg({where}, r0, r{src})"
        if name == "load_acquire":
            return f"r{dst} = load_acquire(({size} *)({_koff(src, off)}))"
        if name == "store_release":
            return f"store_release({where}, r{src})"
        return "<unknown>"
    return f"*({size} *)({_koff(dst, off)}) = r{src}"
