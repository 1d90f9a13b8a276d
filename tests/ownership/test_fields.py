"""Special fields: bpfkit's prediction against the kernel's own verdict.

Each case is a small BPF C source compiled with clang-19; the kernel judges it with
BPF_BTF_LOAD (program-allocated "struct metas" are checked there) and BPF_MAP_CREATE (map
values). bpfkit must predict the same accept/reject and errno; the offsets of accepted fields are
checked against bpftool's raw dump.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from bpfkit.btf import load_btf, load_vmlinux
from bpfkit.ownership.fields import (
    BTF_FIELDS_MAX,
    KIND_SIZE,
    STRUCT_KIND,
    FieldRecord,
    check_map_type,
    fields_frame,
    parse_fields,
    records_frame,
    resolve_depth_problems,
    resolve_kptr,
    struct_metas,
)
from tests.ownership import kernel_oracle as ko

pytestmark = pytest.mark.skipif(not ko.have_toolchain(), reason="needs clang-19 and bpftool")

NODE = "struct node_t { long v; struct bpf_list_node node; };\n"
RBNODE = "struct rnode_t { long v; struct bpf_rb_node rb; };\n"

# name -> (C body, value struct, map type, types to mention in the program)
CASES: dict[str, tuple[str, str, str]] = {
    "list_ok": (
        NODE + "struct val { struct bpf_spin_lock lock; "
        "struct bpf_list_head head __contains(node_t, node); };",
        "val",
        "hash",
    ),
    "list_without_lock": (
        NODE + "struct val { long x; struct bpf_list_head head __contains(node_t, node); };",
        "val",
        "hash",
    ),
    "contains_missing_type": (
        NODE + "struct val { struct bpf_spin_lock lock; "
        "struct bpf_list_head head __contains(nosuch, node); };",
        "val",
        "hash",
    ),
    "contains_missing_field": (
        NODE + "struct val { struct bpf_spin_lock lock; "
        "struct bpf_list_head head __contains(node_t, nosuch); };",
        "val",
        "hash",
    ),
    "contains_wrong_node_kind": (
        NODE + "struct val { struct bpf_spin_lock lock; "
        "struct bpf_rb_root root __contains(node_t, node); };",
        "val",
        "hash",
    ),
    "rbtree_ok": (
        RBNODE + "struct val { struct bpf_spin_lock lock; "
        "struct bpf_rb_root root __contains(rnode_t, rb); };",
        "val",
        "array",
    ),
    "self_cycle": (
        "struct val { struct bpf_spin_lock lock; struct bpf_list_head head __contains(val, node);"
        " struct bpf_list_node node; };",
        "val",
        "hash",
    ),
    "chain_root_rootnode_node_ok": (
        NODE + "struct mid { struct bpf_spin_lock lock; struct bpf_list_head h __contains(node_t,"
        " node); struct bpf_list_node node; };\n"
        "struct val { struct bpf_spin_lock lock; struct bpf_list_head h __contains(mid, node); };",
        "val",
        "hash",
    ),
    "chain_too_deep": (
        NODE + "struct mid2 { struct bpf_spin_lock lock; struct bpf_list_head h __contains(node_t,"
        " node); struct bpf_list_node node; };\n"
        "struct mid { struct bpf_spin_lock lock; struct bpf_list_head h __contains(mid2, node);"
        " struct bpf_list_node node; };\n"
        "struct val { struct bpf_spin_lock lock; struct bpf_list_head h __contains(mid, node); };",
        "val",
        "hash",
    ),
    "list_and_rb_node_without_refcount": (
        "struct val { long v; struct bpf_list_node l; struct bpf_rb_node r; };",
        "val",
        "hash",
    ),
    "list_and_rb_node_with_refcount": (
        "struct val { long v; struct bpf_refcount rc; struct bpf_list_node l;"
        " struct bpf_rb_node r; };",
        "val",
        "hash",
    ),
    "two_spin_locks": (
        "struct val { struct bpf_spin_lock a; struct bpf_spin_lock b; };",
        "val",
        "hash",
    ),
    "spin_and_res_spin_lock": (
        "struct val { struct bpf_spin_lock a; struct bpf_res_spin_lock b; };",
        "val",
        "hash",
    ),
    "local_kptr": (
        NODE + "struct val { struct node_t __kptr *p; };",
        "val",
        "array",
    ),
    "kptr_array": (
        NODE + "struct val { long x; struct node_t __kptr *p[3]; };",
        "val",
        "hash",
    ),
    "max_fields": (
        NODE
        + f"struct val {{ struct bpf_timer t; struct node_t __kptr *p[{BTF_FIELDS_MAX - 1}]; }};",
        "val",
        "hash",
    ),
    "too_many_fields": (
        NODE + f"struct val {{ struct bpf_timer t; struct node_t __kptr *p[{BTF_FIELDS_MAX}]; }};",
        "val",
        "hash",
    ),
    "spin_lock_array": (
        "struct val { struct bpf_spin_lock l[2]; };",
        "val",
        "hash",
    ),
    "timer_in_percpu_array": (
        "struct val { long x; struct bpf_timer t; };",
        "val",
        "percpu_array",
    ),
    "timer_in_hash": (
        "struct val { long x; struct bpf_timer t; };",
        "val",
        "hash",
    ),
    "unknown_type_tag": (
        NODE + 'struct val { struct node_t __attribute__((btf_type_tag("foo"))) *p;'
        " struct bpf_timer t; };",
        "val",
        "hash",
    ),
    "nested_struct_kptr_and_lock": (
        NODE + "struct inner { long a; struct node_t __kptr *p; };\n"
        "struct val { struct bpf_spin_lock lock; struct inner in[2]; };",
        "val",
        "hash",
    ),
    "nested_list_head_lock_outside": (
        NODE + "struct inner { struct bpf_list_head h __contains(node_t, node); };\n"
        "struct val { struct bpf_spin_lock lock; struct inner in; };",
        "val",
        "hash",
    ),
    "bitfields_and_lock": (
        "struct val { int a : 3; int b : 5; struct bpf_spin_lock lock; };",
        "val",
        "hash",
    ),
    "two_timers": (
        "struct val { long x; struct bpf_timer t; struct bpf_timer u; };",
        "val",
        "hash",
    ),
    "two_wqs": (
        "struct val { long x; struct bpf_wq t; struct bpf_wq u; };",
        "val",
        "hash",
    ),
    "two_res_spin_locks": (
        "struct val { struct bpf_res_spin_lock a; struct bpf_res_spin_lock b; };",
        "val",
        "hash",
    ),
    "two_refcounts": (
        "struct val { struct bpf_refcount a; struct bpf_refcount b; };",
        "val",
        "hash",
    ),
    "bitfields_only": (
        "struct val { int a : 3; int b : 5; long c; struct bpf_timer t; };",
        "val",
        "hash",
    ),
    "spin_lock_array_percpu": (
        "struct val { struct bpf_spin_lock l[2]; };",
        "val",
        "percpu_array",
    ),
    "kptr_to_forward_declaration": (
        "struct node_t;\nstruct val { struct node_t __kptr *p; struct bpf_timer t; };",
        "val",
        "hash",
    ),
    "program_type_named_like_a_kernel_type": (
        "struct callback_head { long zz_mine; struct bpf_refcount rc; };\n"
        "struct val { struct callback_head __kptr *p; struct bpf_timer t; };",
        "val",
        "hash",
    ),
    "twelve_kptr_members": (
        NODE
        + "struct val { "
        + " ".join(f"struct node_t __kptr *p{i};" for i in range(BTF_FIELDS_MAX + 1))
        + " };",
        "val",
        "hash",
    ),
    "eleven_kptrs_then_a_bad_tag": (
        NODE
        + "struct val { "
        + " ".join(f"struct node_t __kptr *p{i};" for i in range(BTF_FIELDS_MAX))
        + ' struct node_t __attribute__((btf_type_tag("foo"))) *bad; };',
        "val",
        "hash",
    ),
    "bad_tag_pointer_aligned": (
        NODE + "struct val { struct bpf_refcount rc; "
        'struct node_t __attribute__((btf_type_tag("foo"))) *p; };',
        "val",
        "hash",
    ),
    "bad_tag_pointer_misaligned_is_ignored": (
        NODE + "struct val { struct bpf_refcount rc; "
        'struct node_t __attribute__((btf_type_tag("foo"))) *p; } __attribute__((packed));',
        "val",
        "hash",
    ),
    "kptr_to_int": (
        "struct val { int __kptr *p; struct bpf_timer t; };",
        "val",
        "hash",
    ),
    "kptr_two_tags": (
        NODE + "struct val { struct node_t __kptr __kptr_untrusted *p; struct bpf_timer t; };",
        "val",
        "hash",
    ),
    "kptr_to_kernel_type_without_dtor": (
        "struct file { int f_flags_not_real; };\nstruct val { struct file __kptr *f; };",
        "val",
        "hash",
    ),
}


def _kernel_verdict(obj: Path, value: str, map_type: str) -> tuple[str, str | None, str | None]:
    """What the kernel says about value type *value* of *obj*: (stage, errno, errno of the
    same value in a PERCPU_ARRAY, which refuses locks and timers only if it sees them)."""
    fd, err, log = ko.btf_load(ko.raw_btf(obj))
    if fd is None:
        return "btf_load", err, None
    try:
        ids = ko.bpftool_ids(obj)
        size = int(re.search(rf"STRUCT '{value}' size=(\d+)", _raw(obj)).group(1))  # type: ignore[union-attr]
        got = ko.map_create(fd, ids["int"], ids[value], size, map_type)
        probe = ko.map_create(fd, ids["int"], ids[value], size, "percpu_array")
        return "map_create", got, probe
    finally:
        os.close(fd)


def _raw(obj: Path) -> str:
    assert ko.BPFTOOL is not None
    return subprocess.run(
        [ko.BPFTOOL, "btf", "dump", "file", str(obj), "format", "raw"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _predict(
    obj: Path, value: str, map_type: str
) -> tuple[tuple[str, str | None, str | None], FieldRecord]:
    spec = load_btf(obj)
    kernel = load_vmlinux()
    for meta in [*resolve_depth_problems(spec), *struct_metas(spec, kernel=kernel)]:
        if meta.rejected:
            return ("btf_load", meta.errno, None), meta
    vid = spec.find_one(value).id
    rec = parse_fields(spec, vid, kernel=kernel)
    got = check_map_type(rec, map_type)
    probe = check_map_type(rec, "percpu_array")
    return (
        "map_create",
        got.errno if got.rejected else None,
        probe.errno if probe.rejected else None,
    ), got


@pytest.mark.parametrize("case", sorted(CASES))
def test_fields_agree_with_kernel(case: str, tmp_path: Path) -> None:
    if not ko.have_bpf():
        pytest.skip("needs root and libbpf for bpf(BPF_BTF_LOAD/BPF_MAP_CREATE)")
    body, value, map_type = CASES[case]
    obj = ko.compile_bpf(body, tmp_path / f"{case}.o", types=(value,))
    kernel = _kernel_verdict(obj, value, map_type)
    predicted, rec = _predict(obj, value, map_type)
    assert predicted == kernel, (
        f"{case}: bpfkit predicts {predicted} ({rec.reason}), kernel says {kernel}"
    )


def test_field_offsets_match_bpftool(tmp_path: Path) -> None:
    body, value, _ = CASES["nested_struct_kptr_and_lock"]
    obj = ko.compile_bpf(body, tmp_path / "n.o", types=(value,))
    spec = load_btf(obj)
    rec = parse_fields(spec, spec.find_one("val").id)
    assert rec.ok, rec.reason
    raw = _raw(obj)
    # offsets from bpftool: val.in at bits_offset, inner.p at bits_offset, sizeof(inner)
    in_off = int(re.search(r"'in' type_id=\d+ bits_offset=(\d+)", raw).group(1)) // 8  # type: ignore[union-attr]
    p_off = int(re.search(r"'p' type_id=\d+ bits_offset=(\d+)", raw).group(1)) // 8  # type: ignore[union-attr]
    inner = int(re.search(r"STRUCT 'inner' size=(\d+)", raw).group(1))  # type: ignore[union-attr]
    lock_off = int(re.search(r"'lock' type_id=\d+ bits_offset=(\d+)", raw).group(1)) // 8  # type: ignore[union-attr]
    got = [(f.kind, f.offset, f.source) for f in rec.fields]
    assert got == [
        ("spin_lock", lock_off, "lock"),
        ("kptr", in_off + p_off, "in.p"),
        ("kptr", in_off + inner + p_off, "in[1].p"),
    ]
    frame = fields_frame([rec])
    assert list(frame["kptr_type"].dropna()) == ["node_t", "node_t"]
    assert list(records_frame([rec])["n_fields"]) == [3]


def test_contains_target_resolved(tmp_path: Path) -> None:
    body, value, _ = CASES["list_ok"]
    obj = ko.compile_bpf(body, tmp_path / "l.o", types=(value,))
    spec = load_btf(obj)
    rec = parse_fields(spec, spec.find_one("val").id)
    head = [f for f in rec.fields if f.kind == "list_head"][0]
    raw = _raw(obj)
    node_off = int(re.search(r"'node' type_id=\d+ bits_offset=(\d+)", raw).group(1)) // 8  # type: ignore[union-attr]
    assert (head.contains_type, head.contains_field, head.contains_offset) == (
        "node_t",
        "node",
        node_off,
    )
    metas = {m.container: m for m in struct_metas(spec)}
    assert set(metas) == {"node_t", "val"}
    assert metas["node_t"].kinds() == {"list_node"}


def test_sizes_match_kernel_btf() -> None:
    vmlinux = load_vmlinux()
    for sname, kind in STRUCT_KIND.items():
        found = vmlinux.find(sname)
        if not found:
            continue
        assert found[0].size == KIND_SIZE[kind], sname  # type: ignore[union-attr]


VMLINUX_KPTRS = r"""
struct node_local { long v; struct bpf_refcount rc; };
struct val {
    struct task_struct __kptr *task;
    struct bpf_cpumask __kptr *mask;
    struct node_local __kptr *mine;
    struct file __kptr_untrusted *f;
};
"""


def _vmlinux_h(tmp_path: Path) -> Path:
    assert ko.BPFTOOL is not None
    h = tmp_path / "vmlinux.h"
    with open(h, "w") as f:
        subprocess.run(
            [ko.BPFTOOL, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
            check=True,
            stdout=f,
        )
    return h


@pytest.mark.skipif(not Path("/sys/kernel/btf/vmlinux").exists(), reason="needs kernel BTF")
def test_two_stage_kptr_lookup(tmp_path: Path) -> None:
    h = _vmlinux_h(tmp_path)
    src = tmp_path / "k.c"
    src.write_text(
        '#include "vmlinux.h"\n#define __kptr __attribute__((btf_type_tag("kptr")))\n'
        '#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))\n'
        + VMLINUX_KPTRS
        + '\n__attribute__((section("tc"), used)) int prog(struct val *v, struct node_local *n,'
        " struct task_struct *t, struct bpf_cpumask *m, struct file *f) { return 0; }\n"
    )
    obj = tmp_path / "k.o"
    assert ko.CLANG is not None
    subprocess.run(
        [
            ko.CLANG,
            "-g",
            "-O2",
            "-target",
            "bpf",
            "-I",
            str(h.parent),
            "-c",
            str(src),
            "-o",
            str(obj),
        ],
        check=True,
    )
    spec = load_btf(obj)
    kernel = load_vmlinux()
    rec = parse_fields(spec, spec.find_one("val").id, kernel=kernel)
    assert rec.ok, rec.reason
    got = {f.source: (f.kind, f.kptr_type, f.resolved_in) for f in rec.fields}
    assert got == {
        "task": ("kptr", "task_struct", "kernel"),
        "mask": ("kptr", "bpf_cpumask", "kernel"),
        "mine": ("kptr", "node_local", "program"),
        "f": ("kptr_untrusted", "file", "kernel"),
    }
    if ko.have_bpf():
        fd, err, log = ko.btf_load(ko.raw_btf(obj))
        assert err is None, log
        ids = ko.bpftool_ids(obj)
        try:
            assert ko.map_create(fd, ids["int"], ids["val"], rec.size, "hash") is None
        finally:
            os.close(fd)


def _nested(depth: int) -> str:
    """struct val { timer; n{depth-1} } with n{i} { long; n{i-1} } and n0 holding a kptr."""
    s = "struct node_t { long v; };\nstruct n0 { long x; struct node_t __kptr *p; };\n"
    for i in range(1, depth):
        s += f"struct n{i} {{ long y; struct n{i - 1} in; }};\n"
    return s + f"struct val {{ struct bpf_timer t; struct n{depth - 1} in; }};\n"


@pytest.mark.parametrize("depth", [30, 31, 32, 33])
@pytest.mark.parametrize("outer_first", [True, False], ids=["outer_first", "inner_first"])
def test_nesting_depth_agrees_with_kernel(depth: int, outer_first: bool, tmp_path: Path) -> None:
    """Outer struct first in BTF: the BTF verifier's resolve stack overflows (BTF load E2BIG).
    Inner first: BTF loads, and ``btf_find_nested_struct`` gives up at level 32, so the map's
    fields are dropped (seen through the PERCPU_ARRAY probe: the timer is no longer refused)."""
    if not ko.have_bpf():
        pytest.skip("needs root and libbpf for bpf(BPF_BTF_LOAD/BPF_MAP_CREATE)")
    obj = ko.compile_bpf(
        _nested(depth), tmp_path / f"n{depth}.o", types=("val",) if outer_first else ()
    )
    kernel = _kernel_verdict(obj, "val", "hash")
    predicted, rec = _predict(obj, "val", "hash")
    assert predicted == kernel, (predicted, rec.reason, kernel)


def test_forward_declared_kptr_is_explained(tmp_path: Path) -> None:
    body, value, _ = CASES["kptr_to_forward_declaration"]
    obj = ko.compile_bpf(body, tmp_path / "fwd.o", types=(value,))
    rec = parse_fields(load_btf(obj), load_btf(obj).find_one("val").id)
    assert rec.dropped and rec.code == "bad_kptr"
    assert rec.reason is not None and "forward declaration of struct node_t" in rec.reason


def test_program_type_shadowed_by_kernel_type(tmp_path: Path) -> None:
    """A program's own struct named like a kernel struct: the kernel resolves the kptr to its
    own type first (and then wants a destructor for it); the record says so."""
    body, value, _ = CASES["program_type_named_like_a_kernel_type"]
    obj = ko.compile_bpf(body, tmp_path / "shadow.o", types=(value,))
    spec = load_btf(obj)
    metas = {m.container: m for m in struct_metas(spec, kernel=load_vmlinux())}
    assert metas["val"].code == "kptr_kernel_type_without_dtor"
    rec = parse_fields(
        spec, spec.find_one("val").id, kernel=load_vmlinux(), kinds=["kptr", "timer"]
    )
    assert rec.errno == "ENOENT"
    assert resolve_kptr("callback_head", spec, load_vmlinux()) == "both(kernel wins)"
