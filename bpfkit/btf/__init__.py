"""bpfkit.btf: BTF bytes to typed records.

Raw BTF (both byte orders, 24- or 32-byte header, base or split), ``.BTF.ext`` records, and
renderings (bpftool-identical raw text, JSON). See :mod:`bpfkit.btf.spec` for what is checked.

Examples
--------
>>> from bpfkit.btf import BTFKind, load_vmlinux
>>> load_vmlinux().find_one("bpf_spin_lock", BTFKind.STRUCT).size
4
"""

from typing import TYPE_CHECKING

from bpfkit._lazy import lazy_exports

if TYPE_CHECKING:
    from bpfkit.btf.cformat import format_c
    from bpfkit.btf.elf import load_elf_btf
    from bpfkit.btf.encode import encode_btf
    from bpfkit.btf.ext import CoreRelo, CoreReloKind, Ext, FuncInfo, LineInfo, parse_btf_ext
    from bpfkit.btf.graph import members_frame, type_graph, types_frame, write_graph
    from bpfkit.btf.layout import format_layout, struct_layout
    from bpfkit.btf.raw import format_json, format_raw, iter_raw_chunks, iter_raw_lines, parse_json
    from bpfkit.btf.spec import Spec, TypeView, load_btf, load_vmlinux, parse_btf
    from bpfkit.btf.types import (
        AnyType,
        Array,
        BTFKind,
        Const,
        Datasec,
        DeclTag,
        Enum,
        Enum64,
        EnumValue,
        Float,
        Func,
        FuncProto,
        Fwd,
        Int,
        IntEncoding,
        Linkage,
        Member,
        Param,
        Ptr,
        Restrict,
        Struct,
        Type,
        Typedef,
        TypeTag,
        Union,
        Var,
        VarSecinfo,
        Void,
        Volatile,
    )

__all__ = [
    "format_c",
    "struct_layout",
    "format_layout",
    "type_graph",
    "types_frame",
    "members_frame",
    "write_graph",
    "parse_btf",
    "load_btf",
    "load_vmlinux",
    "load_elf_btf",
    "parse_btf_ext",
    "encode_btf",
    "format_raw",
    "iter_raw_chunks",
    "iter_raw_lines",
    "format_json",
    "parse_json",
    "Spec",
    "TypeView",
    "Ext",
    "FuncInfo",
    "LineInfo",
    "CoreRelo",
    "CoreReloKind",
    "AnyType",
    "Array",
    "BTFKind",
    "Const",
    "Datasec",
    "DeclTag",
    "Enum",
    "Enum64",
    "EnumValue",
    "Float",
    "Func",
    "FuncProto",
    "Fwd",
    "Int",
    "IntEncoding",
    "Linkage",
    "Member",
    "Param",
    "Ptr",
    "Restrict",
    "Struct",
    "Type",
    "Typedef",
    "TypeTag",
    "Union",
    "Var",
    "VarSecinfo",
    "Void",
    "Volatile",
]


# Imported on first use (bpfkit._lazy), so that `import bpfkit.btf` and every
# `bpfkit ... --help` import no submodule and no heavy dependency.
_LAZY = {
    "elf": ("load_elf_btf",),
    "encode": ("encode_btf",),
    "ext": ("CoreRelo", "CoreReloKind", "Ext", "FuncInfo", "LineInfo", "parse_btf_ext"),
    "raw": ("format_json", "format_raw", "iter_raw_chunks", "iter_raw_lines", "parse_json"),
    "spec": ("Spec", "TypeView", "load_btf", "load_vmlinux", "parse_btf"),
    "types": (
        "AnyType",
        "Array",
        "BTFKind",
        "Const",
        "Datasec",
        "DeclTag",
        "Enum",
        "Enum64",
        "EnumValue",
        "Float",
        "Func",
        "FuncProto",
        "Fwd",
        "Int",
        "IntEncoding",
        "Linkage",
        "Member",
        "Param",
        "Ptr",
        "Restrict",
        "Struct",
        "Type",
        "TypeTag",
        "Typedef",
        "Union",
        "Var",
        "VarSecinfo",
        "Void",
        "Volatile",
    ),
    "cformat": ("format_c",),
    "layout": ("format_layout", "struct_layout"),
    "graph": ("members_frame", "type_graph", "types_frame", "write_graph"),
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
