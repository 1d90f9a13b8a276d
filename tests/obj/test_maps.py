"""map_defs against libbpf itself (ctypes on libbpf.so.1: bpf_object__open_file, no load), and
global_sections against the ELF symbol table."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import pytest

from bpfkit.obj import global_sections, load_object, map_defs
from bpfkit.obj.maps import MAP_TYPES
from tests.obj.test_insn import objects


def _libbpf() -> ctypes.CDLL:
    name = ctypes.util.find_library("bpf") or "libbpf.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        pytest.skip("needs libbpf.so.1 (libbpf1) for the reference map definitions")
    lib.bpf_object__open_file.restype = ctypes.c_void_p
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.bpf_object__next_map.restype = ctypes.c_void_p
    lib.bpf_object__next_map.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    for fn, res in [
        ("bpf_map__name", ctypes.c_char_p),
        ("bpf_map__type", ctypes.c_int),
        ("bpf_map__max_entries", ctypes.c_uint32),
        ("bpf_map__map_flags", ctypes.c_uint32),
        ("bpf_map__key_size", ctypes.c_uint32),
        ("bpf_map__value_size", ctypes.c_uint32),
    ]:
        getattr(lib, fn).restype = res
        getattr(lib, fn).argtypes = [ctypes.c_void_p]
    lib.bpf_object__close.argtypes = [ctypes.c_void_p]
    lib.libbpf_get_error.argtypes = [ctypes.c_void_p]
    lib.libbpf_get_error.restype = ctypes.c_long
    return lib


def _libbpf_maps(path: Path) -> dict[str, tuple[str, int, int, int, int]] | None:
    lib = _libbpf()
    obj = lib.bpf_object__open_file(str(path).encode(), None)
    if not obj or lib.libbpf_get_error(obj):
        return None
    out = {}
    m = lib.bpf_object__next_map(obj, None)
    while m:
        name = lib.bpf_map__name(m).decode()
        kind = lib.bpf_map__type(m)
        out[name] = (
            MAP_TYPES[kind] if kind < len(MAP_TYPES) else f"type#{kind}",
            lib.bpf_map__max_entries(m),
            lib.bpf_map__map_flags(m),
            lib.bpf_map__key_size(m),
            lib.bpf_map__value_size(m),
        )
        m = lib.bpf_object__next_map(obj, m)
    lib.bpf_object__close(obj)
    return out


_BTF_OBJECTS = [p for p in objects() if "relocs_read_tgt" not in p.name]


@pytest.mark.parametrize("path", _BTF_OBJECTS, ids=lambda p: p.name)
def test_map_defs_match_libbpf(path: Path) -> None:
    obj = load_object(path)
    if obj.btf is None:
        pytest.skip(f"{path.name} has no .BTF")
    ref = _libbpf_maps(path)
    if ref is None:
        pytest.skip(
            f"libbpf 1.1 refuses to open {path.name} (bpf_object__open_file failed), no reference"
        )
    ours = map_defs(obj.btf)
    assert [m.name for m in obj.maps] == [m.name for m in ours]
    for m in ours:
        assert m.name in ref, f"libbpf has no map {m.name}"
        mtype, max_entries, flags, key_size, value_size = ref[m.name]
        assert (m.map_type, m.max_entries, m.flags) == (mtype, max_entries, flags)
        if m.key_type is not None:
            assert obj.btf.sizeof(m.key_type) == key_size
        if m.value_type is not None:
            assert obj.btf.sizeof(m.value_type) == value_size
    # libbpf's other maps are the internal ones, one per global section
    internal = set(ref) - {m.name for m in ours}
    sections = {name for name, _ in global_sections(obj.btf)}
    assert len(internal) <= len(sections) + sum(1 for n in ref if n.endswith(".kconfig"))


@pytest.mark.parametrize("path", _BTF_OBJECTS, ids=lambda p: p.name)
def test_global_sections_match_symbols(path: Path) -> None:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    obj = load_object(path)
    if obj.btf is None:
        pytest.skip(f"{path.name} has no .BTF")
    with path.open("rb") as f:
        elf = ELFFile(f)
        secnames = [s.name for s in elf.iter_sections()]
        symtab = elf.get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        syms = {
            (secnames[s["st_shndx"]], s.name, s["st_value"], s["st_size"])
            for s in symtab.iter_symbols()
            if s["st_info"]["type"] == "STT_OBJECT" and isinstance(s["st_shndx"], int)
        }
    fixed = obj.globals()
    assert [(sec, [v.name for v in rows]) for sec, rows in fixed] == [
        (sec, [v.name for v in rows]) for sec, rows in global_sections(obj.btf)
    ]
    for sec, rows in fixed:
        for var in rows:
            assert (sec, var.name, var.offset, var.size) in syms
            assert obj.btf.sizeof(var.type) == var.size
