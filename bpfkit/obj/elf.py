"""BPF ELF objects through pyelftools: programs, subprograms, relocations, call targets.

Layout, as libbpf reads it (``tools/lib/bpf/libbpf.c``: ``bpf_object__init_prog``,
``bpf_program__record_reloc``): every ``STT_FUNC`` symbol in an executable section is a program;
those in ``.text`` are subprograms. Instruction indexes here are relative to the program's first
instruction (byte offset from the symbol's ``st_value`` // 8), which is how the verifier numbers
a main program; ``.BTF.ext`` records use section-relative indexes and are translated.

Calls are resolved as libbpf resolves them: ``src_reg=0`` is a helper by id; ``src_reg=2``
(``BPF_PSEUDO_KFUNC_CALL``) names its kfunc through an ``R_BPF_64_32`` relocation to an extern
symbol; ``src_reg=1`` (``BPF_PSEUDO_CALL``) targets ``insn + imm + 1`` in its own section, or,
with a relocation to a symbol, ``st_value / 8 + imm + 1`` in the symbol's section.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bpfkit.errors import BpfkitError, ELFError
from bpfkit.obj.insn import (
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_KFUNC_CALL,
    CallTarget,
    Insn,
    decode_insns,
)

if TYPE_CHECKING:
    from bpfkit.btf import Ext, LineInfo, Spec
    from bpfkit.obj.maps import GlobalVar, MapDef

__all__ = ["Object", "Program", "Reloc", "load_object", "prog_type_of"]

EM_BPF = 247
SHF_EXECINSTR = 0x4


def prog_type_of(section: str) -> str:
    """The program type word of an ELF section name, as libbpf's ``SEC()`` prefixes spell it.

    Examples
    --------
    >>> prog_type_of("tp_btf/task_newtask"), prog_type_of("tc"), prog_type_of("syscall")
    ('tp_btf', 'tc', 'syscall')
    """
    return section.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Reloc:
    """An ELF relocation in an executable section (``offset`` in bytes from the section start)."""

    section: str
    offset: int
    type: int
    symbol: str
    symbol_section: str | None
    symbol_value: int


@dataclass(frozen=True, slots=True)
class Program:
    """One function of a BPF object: a program, or a ``.text`` subprogram.

    ``insns`` are numbered from the program's first instruction; ``start`` is that instruction's
    index in ``section``. ``calls`` maps a call instruction's index to its target.
    """

    name: str
    section: str
    prog_type: str
    start: int
    insns: tuple[Insn, ...]
    line_info: tuple[LineInfo, ...] = ()
    func_names: tuple[tuple[int, str], ...] = ()
    subprog: bool = False
    #: A global (STB_GLOBAL) function: a ``.text`` one is a global subprogram, which the
    #: verifier checks on its own instead of in each caller's context.
    is_global: bool = False

    def source(self, insn_idx: int) -> LineInfo | None:
        """The ``.BTF.ext`` line record in force at ``insn_idx`` (program-relative), or None."""
        want = insn_idx + self.start
        best: LineInfo | None = None
        for li in self.line_info:
            if li.insn_idx <= want:
                best = li
            else:
                break
        return best

    def func_name(self, insn_idx: int) -> str:
        """The function (from ``.BTF.ext`` func_info, else the symbol) holding ``insn_idx``."""
        want = insn_idx + self.start
        name = self.name
        for idx, fname in self.func_names:
            if idx <= want:
                name = fname
        return name

    def insn_at(self, insn_idx: int) -> Insn:
        """The instruction starting at slot ``insn_idx`` (KeyError-free: ELFError when none)."""
        for insn in self.insns:
            if insn.idx == insn_idx:
                return insn
        raise ELFError(f"program {self.name}: no instruction starts at index {insn_idx}")

    @property
    def calls(self) -> dict[int, CallTarget]:
        return {i.idx: i.call for i in self.insns if i.call is not None}


@dataclass(frozen=True, slots=True)
class Object:
    """A loaded BPF ELF object."""

    path: Path
    byte_order: Literal["little", "big"]
    btf: Spec | None
    ext: Ext | None
    programs: tuple[Program, ...]
    maps: tuple[MapDef, ...] = ()
    relocs: tuple[Reloc, ...] = field(default=(), repr=False)
    #: ``{(section, name): (st_value, st_size)}`` of the STT_OBJECT symbols.
    data_symbols: Mapping[tuple[str, str], tuple[int, int]] = field(
        default_factory=dict, repr=False
    )

    def globals(self) -> list[tuple[str, list[GlobalVar]]]:
        """:func:`bpfkit.obj.global_sections` with offsets fixed from the symbol table."""
        if self.btf is None:
            return []
        from bpfkit.obj.maps import global_sections

        return global_sections(self.btf, symbols=self.data_symbols)

    def program(self, name: str) -> Program:
        """The program or subprogram called ``name``."""
        for prog in self.programs:
            if prog.name == name:
                return prog
        names = ", ".join(p.name for p in self.programs)
        raise ELFError(f"{self.path}: no program named {name!r} (has: {names})")

    def __iter__(self) -> Iterator[Program]:
        return iter(self.programs)


def load_object(path: str | Path) -> Object:
    """Read a BPF ELF object: its programs, decoded instructions, relocations, BTF and maps.

    Parameters
    ----------
    path
        A BPF ELF relocatable object (``clang -target bpf -c``).

    Returns
    -------
    Object

    Raises
    ------
    ELFError
        Not an ELF, not EM_BPF, truncated or corrupt sections; the message names the file,
        the section and the byte offset where known.

    Examples
    --------
    >>> from tests.corpus import MINIMAL_OBJ
    >>> obj = load_object(MINIMAL_OBJ)
    >>> [p.name for p in obj.programs], obj.programs[0].insns[0].text
    (['handle_tp'], 'call 0xe')
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ELFError(f"{path}: cannot read: {exc}") from exc
    try:
        return _load(path, data)
    except BpfkitError:
        raise
    except (
        struct.error,
        IndexError,
        KeyError,
        ValueError,
        UnicodeDecodeError,
        AttributeError,
        OverflowError,
        ZeroDivisionError,
        TypeError,
    ) as exc:
        raise ELFError(f"{path}: corrupt ELF: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        # pyelftools raises its own ELFError/ELFParseError (and construct errors) on bad input.
        if type(exc).__module__.startswith(("elftools", "construct")):
            raise ELFError(f"{path}: corrupt ELF: {exc}") from exc
        raise


def _load(path: Path, data: bytes) -> Object:
    import io

    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    from elftools.elf.sections import SymbolTableSection

    from bpfkit.btf.elf import check_elf_layout

    check_elf_layout(data, str(path))  # offsets and sizes checked before pyelftools seeks
    elf = ELFFile(io.BytesIO(data))
    if elf["e_machine"] not in ("EM_BPF", EM_BPF):
        raise ELFError(f"{path}: e_machine is {elf['e_machine']}, expected EM_BPF (247)")
    byte_order: Literal["little", "big"] = "little" if elf.little_endian else "big"

    sections = list(elf.iter_sections())
    symtab = elf.get_section_by_name(".symtab")
    symbols = list(symtab.iter_symbols()) if isinstance(symtab, SymbolTableSection) else []

    def section_name(index: Any) -> str | None:
        if isinstance(index, int) and 0 < index < len(sections):
            return str(sections[index].name)
        return None

    # Relocations of executable sections, by (section, byte offset).
    relocs: list[Reloc] = []
    for sec in sections:
        if not isinstance(sec, RelocationSection):
            continue
        target = section_name(sec["sh_info"])
        if target is None or not (sections[sec["sh_info"]]["sh_flags"] & SHF_EXECINSTR):
            continue
        for rel in sec.iter_relocations():
            sym_index = rel["r_info_sym"]
            if not 0 <= sym_index < len(symbols):
                raise ELFError(
                    f"{path}: section {sec.name}: relocation at byte offset {rel['r_offset']} "
                    f"names symbol {sym_index}, the symbol table has {len(symbols)}"
                )
            sym = symbols[sym_index]
            sym_sec = section_name(sym["st_shndx"])
            name = sym.name or (sym_sec or "")
            relocs.append(
                Reloc(target, rel["r_offset"], rel["r_info_type"], name, sym_sec, sym["st_value"])
            )
    by_site = {(r.section, r.offset): r for r in relocs}

    btf: Spec | None = None
    ext: Ext | None = None
    if elf.get_section_by_name(".BTF") is not None:
        from bpfkit.btf import load_elf_btf

        btf, ext = load_elf_btf(path)

    # Decode every executable section once.
    decoded: dict[str, list[Insn]] = {}
    for sec in sections:
        if not (sec["sh_flags"] & SHF_EXECINSTR) or sec["sh_type"] != "SHT_PROGBITS":
            continue
        if sec["sh_offset"] + sec["sh_size"] > len(data):
            raise ELFError(
                f"{path}: section {sec.name} claims bytes {sec['sh_offset']} + {sec['sh_size']}, "
                f"the file has {len(data)}"
            )
        raw = sec.data()
        decoded[sec.name] = decode_insns(raw, byte_order, where=f"{path} section {sec.name}")

    # Function symbols per executable section, in address order.
    funcs: dict[str, list[tuple[int, int, str, bool]]] = {}
    for sym in symbols:
        if sym["st_info"]["type"] != "STT_FUNC":
            continue
        sec_name = section_name(sym["st_shndx"])
        if sec_name not in decoded:
            continue
        is_global = sym["st_info"]["bind"] != "STB_LOCAL"
        funcs.setdefault(sec_name, []).append(
            (sym["st_value"], sym["st_size"], sym.name, is_global)
        )
    func_at: dict[tuple[str, int], str] = {}
    for sec_name, lst in funcs.items():
        lst.sort()
        for value, _size, name, _g in lst:
            func_at[(sec_name, value // 8)] = name

    kfunc_ids: dict[str, int] = {}

    def kfunc_id(name: str) -> int:
        if btf is None:
            return -1
        if name not in kfunc_ids:
            from bpfkit.btf.types import BTFKind

            found = btf.find(name, BTFKind.FUNC)
            kfunc_ids[name] = found[0].id if found else -1
        return kfunc_ids[name]

    from bpfkit.obj.helpers import helper_name

    programs: list[Program] = []
    for sec_name, lst in funcs.items():
        insns = decoded[sec_name]
        line_info = tuple(ext.line_info.get(sec_name, ())) if ext is not None else ()
        func_names: tuple[tuple[int, str], ...] = ()
        if ext is not None and btf is not None:
            func_names = tuple(
                (fi.insn_idx, btf[fi.type_id].name) for fi in ext.func_info.get(sec_name, ())
            )
        for k, (value, size, name, is_global) in enumerate(lst):
            start = value // 8
            end = (
                (value + size) // 8
                if size
                else (lst[k + 1][0] // 8 if k + 1 < len(lst) else 1 << 62)
            )
            own: list[Insn] = []
            for insn in insns:
                if not start <= insn.idx < end:
                    continue
                site = by_site.get((sec_name, insn.idx * 8))
                call: CallTarget | None = None
                if insn.is_call:
                    call = _call_target(insn, site, sec_name, func_at, kfunc_id, helper_name)
                own.append(_replace(insn, insn.idx - start, site.symbol if site else None, call))
            programs.append(
                Program(
                    name=name,
                    section=sec_name,
                    prog_type=prog_type_of(sec_name),
                    start=start,
                    insns=tuple(own),
                    line_info=line_info,
                    func_names=func_names,
                    subprog=sec_name == ".text",
                    is_global=is_global,
                )
            )

    maps: tuple[MapDef, ...] = ()
    if btf is not None:
        from bpfkit.obj.maps import map_defs

        maps = tuple(map_defs(btf))
    data_symbols: dict[tuple[str, str], tuple[int, int]] = {}
    for sym in symbols:
        if sym["st_info"]["type"] == "STT_OBJECT":
            sec_name = section_name(sym["st_shndx"])
            if sec_name is not None:
                data_symbols[(sec_name, sym.name)] = (sym["st_value"], sym["st_size"])
    return Object(path, byte_order, btf, ext, tuple(programs), maps, tuple(relocs), data_symbols)


def _replace(insn: Insn, idx: int, reloc: str | None, call: CallTarget | None) -> Insn:
    return Insn(
        idx,
        insn.code,
        insn.cls,
        insn.op,
        insn.src_reg,
        insn.dst_reg,
        insn.off,
        insn.imm,
        insn.imm64,
        insn.text,
        reloc,
        call,
    )


def _call_target(
    insn: Insn,
    rel: Reloc | None,
    sec_name: str,
    func_at: dict[tuple[str, int], str],
    kfunc_id: Any,
    helper_name: Any,
) -> CallTarget:
    if rel is not None and rel.symbol_section is None:
        # A call relocated to an undefined (extern __ksym) symbol: libbpf turns it into
        # BPF_PSEUDO_KFUNC_CALL (clang emits src_reg=1, imm=-1 in the object).
        return CallTarget("kfunc", rel.symbol, kfunc_id(rel.symbol))
    if insn.src_reg == BPF_PSEUDO_KFUNC_CALL:
        return CallTarget("kfunc", f"kfunc#{insn.imm}", insn.imm)
    if insn.src_reg == BPF_PSEUDO_CALL:
        if rel is not None and rel.symbol_section is not None:
            target_sec = rel.symbol_section
            target = rel.symbol_value // 8 + insn.imm + 1
        else:
            target_sec = sec_name
            target = insn.idx + insn.imm + 1
        name = func_at.get((target_sec, target), f"{target_sec}+{target}")
        return CallTarget("subprog", name, target)
    return CallTarget("helper", helper_name(insn.imm), insn.imm)
