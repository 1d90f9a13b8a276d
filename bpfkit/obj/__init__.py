"""BPF ELF objects: programs, maps, relocations and the instruction decoder.

``load_object(path)`` gives an :class:`Object` with its :class:`Program` s, each a tuple of
decoded :class:`Insn` records with call targets resolved through the object's relocations.
"""

from typing import TYPE_CHECKING

from bpfkit._lazy import lazy_exports

if TYPE_CHECKING:
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

# Imported on first use (bpfkit._lazy), so that `import bpfkit.obj` and every
# `bpfkit ... --help` import no submodule and no heavy dependency.
_LAZY = {
    "elf": ("Object", "Program", "Reloc", "load_object", "prog_type_of"),
    "insn": ("CallTarget", "Insn", "decode_insns", "format_insn", "format_insn_kernel"),
    "maps": ("GlobalVar", "MapDef", "global_sections", "map_defs"),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
