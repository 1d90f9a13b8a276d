"""The kernel's instruction numbering of a program: the main program first, then each
subprogram it reaches appended depth first in order of first reference, as libbpf's
``bpf_object__reloc_code`` (and bpfkit's own loader, :mod:`bpfkit.kernel.direct`) append them.
The verifier log counts instructions this way, so a finding at ``(func, idx)`` is at
``layout[func] + idx`` in the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpfkit.obj import Object, Program

__all__ = ["kernel_layout", "callees", "reloc_index", "text_function_at"]


def text_function_at(obj: Object, byte_off: int) -> str:
    """The ``.text`` function starting at byte ``byte_off`` ("" when none does)."""
    for p in obj.programs:
        if p.subprog and p.start * 8 == byte_off:
            return p.name
    return ""


_RELOCS: dict[int, tuple[Any, dict[tuple[str, int], Any]]] = {}


def reloc_index(obj: Object) -> dict[tuple[str, int], Any]:
    """(section, byte offset) -> the object's relocation there; built once per object (its
    relocation list, which copies of the object share)."""
    hit = _RELOCS.get(id(obj.relocs))
    if hit is not None and hit[0] is obj.relocs:
        return hit[1]
    got = {(r.section, r.offset): r for r in obj.relocs}
    if len(_RELOCS) > 16:
        _RELOCS.clear()
    _RELOCS[id(obj.relocs)] = (obj.relocs, got)
    return got


def callees(obj: Object, prog: Program) -> list[str]:
    """The functions ``prog``'s instructions refer to, in instruction order: subprogram calls
    and callback addresses (``ld_imm64`` of a ``.text`` function)."""
    out: list[str] = []
    relocs = reloc_index(obj)
    text = {p.start: p.name for p in obj.programs if p.subprog}
    for insn in prog.insns:
        call = insn.call
        if call is not None and call.kind == "subprog":
            out.append(call.name)
        elif insn.is_ld_imm64:  # a .text address: a callback (libbpf's BPF_PSEUDO_FUNC)
            rel = relocs.get((prog.section, (prog.start + insn.idx) * 8))
            if rel is not None and rel.symbol_section == ".text":
                base = rel.symbol_value if rel.symbol != ".text" else 0
                name = text.get((base + insn.imm) // 8)
                if name is not None:
                    out.append(name)
    return out


def kernel_layout(obj: Object, prog: Program) -> dict[str, int]:
    """Start of each function in the kernel's numbering of program ``prog``.

    Examples
    --------
    >>> from bpfkit.obj import load_object
    >>> from tests.corpus import DATA_PROGRAMS
    >>> obj = load_object(DATA_PROGRAMS / "alloc.bpf.o")
    >>> kernel_layout(obj, obj.programs[0])[obj.programs[0].name]
    0
    """
    layout: dict[str, int] = {}
    end = 0

    def place(p: Program) -> None:
        nonlocal end
        layout[p.name] = end
        end += max((i.idx + i.nslots for i in p.insns), default=0)
        for name in callees(obj, p):
            if name in layout:
                continue
            try:
                sub = obj.program(name)
            except Exception:  # noqa: BLE001 - an unresolvable callee is reported by the walk
                continue
            place(sub)

    place(prog)
    return layout
