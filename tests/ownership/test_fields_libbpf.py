"""Map values of real objects, created by libbpf in the running kernel.

Each object declares BTF-defined maps (``SEC(".maps")``) whose value types hold special
fields in map types that may or may not take them. libbpf creates the maps when it loads the
program; when the kernel refuses a map with its BTF, libbpf says so ("Error in
bpf_create_map_xattr(NAME):...(-ERRNO). Retrying without BTF.") and creates it without BTF.
bpfkit's records of the same object (through :func:`bpfkit.obj.map_defs`) must predict
exactly those refusals.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bpfkit.obj import load_object
from bpfkit.ownership.fields import map_value_records

MAPS = {
    # name: (map type, value struct)
    "timer_percpu_hash": ("BPF_MAP_TYPE_PERCPU_HASH", "struct tval"),
    "timer_lru_hash": ("BPF_MAP_TYPE_LRU_HASH", "struct tval"),
    "lock_lru_hash": ("BPF_MAP_TYPE_LRU_HASH", "struct lval"),
    "lock_array": ("BPF_MAP_TYPE_ARRAY", "struct lval"),
    "kptr_percpu_array": ("BPF_MAP_TYPE_PERCPU_ARRAY", "struct kval"),
    "list_percpu_hash": ("BPF_MAP_TYPE_PERCPU_HASH", "struct qval"),
    "list_hash": ("BPF_MAP_TYPE_HASH", "struct qval"),
    "wq_array": ("BPF_MAP_TYPE_ARRAY", "struct wval"),
    "wq_percpu_array": ("BPF_MAP_TYPE_PERCPU_ARRAY", "struct wval"),
}

HEAD = r"""
#include "bpfkit_alloc.h"
struct item { __u64 v; struct bpf_list_node node; };
struct tval { __u64 x; struct bpf_timer t; };
struct lval { struct bpf_spin_lock l; __u64 x; };
struct kval { __u64 x; struct item __kptr *p; };
struct qval { struct bpf_spin_lock l; struct bpf_list_head h __contains(item, node); };
struct wval { __u64 x; struct bpf_wq w; };
"""


def _source() -> str:
    parts = [HEAD]
    for name, (mtype, value) in MAPS.items():
        parts.append(
            f"struct {{ __uint(type, {mtype}); __uint(max_entries, 2); __type(key, int);"
            f' __type(value, {value}); }} {name} SEC(".maps");'
        )
    uses = "\n".join(f"\tif (bpf_map_lookup_elem(&{n}, &k)) n++;" for n in MAPS)
    parts.append(
        'SEC("tc") int use_maps(struct __sk_buff *skb)\n{\n\tint k = 0, n = 0;\n'
        f"{uses}\n\treturn n & 0;\n}}\n"
        "/* keep struct item complete in BTF */\n"
        'SEC("tc") int touch(struct __sk_buff *skb) { struct item *i = bpf_obj_new(struct item);'
        " if (i) bpf_obj_drop(i); return 0; }\n"
        'char LICENSE[] SEC("license") = "GPL";\n'
    )
    return "\n".join(parts)


def test_map_refusals_match_libbpf(tmp_path: Path, compile_bpf: Callable[[str, str], Path]) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for bpf() (libbpf creates the maps)")
    from bpfkit.kernel import load_programs

    obj_path = compile_bpf("maps", _source())
    results = load_programs(obj_path, "use_maps", loader="libbpf")
    messages = [m for r in results for _, m in r.libbpf_messages]
    kernel: dict[str, str | None] = dict.fromkeys(MAPS)
    for m in messages:
        hit = re.search(r"bpf_create_map_xattr\((\w+)\):.*\(-(\d+)\)\. Retrying without BTF", m)
        if hit:
            kernel[hit.group(1)] = errno.errorcode[int(hit.group(2))].replace(
                "ENOTSUP", "EOPNOTSUPP"
            )
    obj = load_object(obj_path)
    assert obj.btf is not None
    predicted = {
        r.container: (r.errno if r.rejected else None)
        for r in map_value_records(obj.btf, obj.maps)
        if r.container in MAPS
    }
    assert predicted == kernel, messages
    # the cases cover both outcomes
    assert None in kernel.values() and "EOPNOTSUPP" in kernel.values()


GLOBALS_SRC = r"""
#include "bpfkit_alloc.h"
struct tval { __u64 x; struct bpf_timer t; };
struct item { __u64 v; struct bpf_list_node node; };
SEC(".rodata") struct tval ro_timer;
private(A) struct bpf_list_head nolock_head __contains(item, node);
private(B) struct bpf_spin_lock b_lock;
private(B) struct bpf_list_head b_head __contains(item, node);
SEC("tc") int use(struct __sk_buff *skb)
{
    return ro_timer.x + (long)&nolock_head + (long)&b_head + (long)&b_lock == 0;
}
SEC("tc") int touch(struct __sk_buff *skb)
{
    struct item *i = bpf_obj_new(struct item);
    if (i)
        bpf_obj_drop(i);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_global_sections_match_libbpf(
    tmp_path: Path, compile_bpf: Callable[[str, str], Path]
) -> None:
    """A timer in .rodata: libbpf creates the section read-only to programs and the kernel
    refuses special fields there (EACCES); a list head without a lock in its own section is
    dropped silently (no refusal); a lock and a list head together are fine."""
    from bpfkit.ownership.fields import global_section_records

    if os.geteuid() != 0:
        pytest.skip("needs root for bpf() (libbpf creates the maps)")
    from bpfkit.kernel import load_programs

    obj_path = compile_bpf("ro", GLOBALS_SRC)
    messages = [
        m for r in load_programs(obj_path, "use", loader="libbpf") for _, m in r.libbpf_messages
    ]
    refused = {}
    for m in messages:
        hit = re.search(r"bpf_create_map_xattr\(([\w.]+)\):.*\(-(\d+)\)\. Retrying without BTF", m)
        if hit:
            refused[hit.group(1)] = errno.errorcode[int(hit.group(2))]
    obj = load_object(obj_path)
    assert obj.btf is not None
    recs = {r.container: r for r in global_section_records(obj.btf, obj.globals())}
    assert set(recs) >= {".rodata", ".data.A", ".data.B"}
    for name, rec in recs.items():
        kernel = next((e for mapname, e in refused.items() if mapname.endswith(name)), None)
        assert (rec.errno if rec.rejected else None) == kernel, (name, rec, messages)
    assert recs[".data.A"].dropped and recs[".data.A"].code == "collection_without_lock"
    assert recs[".data.B"].ok and recs[".data.B"].kinds() == {"spin_lock", "list_head"}
