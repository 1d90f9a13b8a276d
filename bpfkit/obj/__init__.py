"""BPF ELF objects: programs, maps, relocations and the instruction decoder.

``load_object(path)`` gives an :class:`Object` with its :class:`Program` s, each a tuple of
decoded :class:`Insn` records with call targets resolved through the object's relocations.
"""

from bpfkit.obj.elf import Object, Program, Reloc, load_object, prog_type_of
from bpfkit.obj.insn import CallTarget, Insn, decode_insns, format_insn, format_insn_kernel
from bpfkit.obj.maps import GlobalVar, MapDef, global_sections, map_defs

__all__ = [
    "CallTarget",
    "GlobalVar",
    "Insn",
    "MapDef",
    "Object",
    "Program",
    "Reloc",
    "decode_insns",
    "format_insn",
    "format_insn_kernel",
    "global_sections",
    "load_object",
    "map_defs",
    "prog_type_of",
]
