"""bpfkit.btf: BTF bytes to typed records.

Raw BTF (both byte orders, 24- or 32-byte header, base or split), ``.BTF.ext`` records, and
renderings (bpftool-identical raw text, JSON). See :mod:`bpfkit.btf.spec` for what is checked.

Examples
--------
>>> from bpfkit.btf import BTFKind, load_vmlinux
>>> load_vmlinux().find_one("bpf_spin_lock", BTFKind.STRUCT).size
4
"""

from bpfkit.btf.elf import load_elf_btf
from bpfkit.btf.encode import encode_btf
from bpfkit.btf.ext import CoreRelo, CoreReloKind, Ext, FuncInfo, LineInfo, parse_btf_ext
from bpfkit.btf.raw import format_json, format_raw, iter_raw_lines, parse_json
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


# Output and graph functions, imported on first use so that reading BTF does not pull in
# networkx or pandas (STYLE: tables and graphs are made where they are asked for).
_LAZY = {
    "format_c": "bpfkit.btf.cformat",
    "struct_layout": "bpfkit.btf.layout",
    "format_layout": "bpfkit.btf.layout",
    "type_graph": "bpfkit.btf.graph",
    "types_frame": "bpfkit.btf.graph",
    "members_frame": "bpfkit.btf.graph",
    "write_graph": "bpfkit.btf.graph",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bpfkit.btf' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
