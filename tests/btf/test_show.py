"""Spec.show: a BTF type as Jupyter shows it (C declaration and, for structs, the layout)."""

from __future__ import annotations

import pytest

from bpfkit.btf import BTFKind, load_vmlinux
from bpfkit.errors import BTFError
from tests.corpus import DATA_OBJECTS


def test_show_by_name_and_id_render_the_declaration_and_layout() -> None:
    from bpfkit.btf import load_elf_btf

    spec, _ = load_elf_btf(next(p for p in DATA_OBJECTS if p.name == "list.bpf.o"))
    t = spec.find_one("bpf_list_head", BTFKind.STRUCT)
    by_name, by_id = spec.show("bpf_list_head", BTFKind.STRUCT), spec.show(t.id)
    assert by_name == by_id
    html = by_name._repr_html_()
    assert "struct bpf_list_head {" in html
    assert "__opaque" in html  # the member, in the declaration and the layout table
    assert repr(by_name).startswith(f"<bpf_list_head: STRUCT [{t.id}] of ")


def test_show_refuses_unknown_names_and_ids() -> None:
    spec = load_vmlinux()
    with pytest.raises(BTFError, match="no type named 'no_such_type'"):
        spec.show("no_such_type")
    with pytest.raises(BTFError, match="out of range"):
        spec.show(len(spec) + 5)
