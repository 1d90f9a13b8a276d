"""The ``__kptr`` field rules of the static analysis (:mod:`bpfkit.ownership.static.kptr`)
against the live kernel: small programs compiled with clang-19 and loaded through bpf(); the
kernel's verdict and, when both reject, its error line are the oracle (the first mistake's rule
must be the kernel's message). The C sources sit here; nothing says what the kernel answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfkit.btf import Spec, load_vmlinux
from bpfkit.errors import BpfkitError
from bpfkit.obj import load_object
from bpfkit.ownership.fields import kptr_dtor_types, kptr_dtors
from bpfkit.ownership.static import match_kernel_message, predict
from tests.ownership.test_static_live import compile_bpf, live_verdicts

pytestmark = pytest.mark.live

# Field access (check_map_access / check_map_kptr_access), stores (map_kptr_match_type),
# bpf_kptr_xchg (process_kptr_func, check_reg_type), arrays of kptrs (1-D, 2-D, in nested
# structs, in a map value and in .bss), helper / global-function access, what a kptr load
# gives inside and outside RCU (tc: always in_rcu_cs; syscall: sleepable), rcu lock pairing.
KPTR_RULES_C = r"""
#include "bpfkit_alloc.h"

struct item { __u64 key; __u64 val; };
struct nest { struct task_struct __kptr *t2[2]; };
struct kv {
	char buf[8];
	struct task_struct __kptr_untrusted *u;
	struct task_struct __kptr *t;
	struct item __kptr *it;
	struct item __kptr *arr[2];
	struct nest nest[2];
};
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct kv); } kvs SEC(".maps");
struct task_struct __kptr *g_tasks[2][2];
struct item __kptr *g_item;
__u64 out;

static struct kv *kv0(void) { __u32 k = 0; return bpf_map_lookup_elem(&kvs, &k); }

SEC("tc") int size_not_dw(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; *(volatile __u32 *)&v->u = 0; return 0; }
SEC("tc") int misaligned_write(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; *(volatile __u64 *)((void *)v + 7) = 0; return 0; }
SEC("tc") int misaligned_read(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; return *(volatile __u64 *)((void *)v + 9); }
SEC("tc") int var_off_store(struct __sk_buff *skb)
{ struct kv *v = kv0(); __u32 id = skb->protocol; if (!v) return 0; if (id < 4 || id > 12) return 0;
  *(volatile __u64 *)((void *)v + id) = 0; return 0; }
SEC("tc") int var_off_buf_only_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); __u32 id = skb->protocol; if (!v) return 0; if (id > 7) return 0;
  *(volatile __u8 *)((void *)v + id) = 0; return 0; }
SEC("tc") int store_to_ref(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *p; if (!v) return 0; p = v->t; if (!p) return 0;
  *(struct task_struct * volatile *)&v->t = p; return 0; }
SEC("tc") int store_null_to_ref(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; *(struct task_struct * volatile *)&v->t = 0; return 0; }
SEC("tc") int st_imm_untrusted(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; *(volatile __u64 *)&v->u = 1; return 0; }
SEC("tc") int store_null_untrusted_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; *(struct task_struct * volatile *)&v->u = 0; return 0; }
SEC("tp_btf/task_newtask") int store_current_untrusted_ok(void *ctx)
{ struct kv *v = kv0(); if (!v) return 0; v->u = bpf_get_current_task_btf(); return 0; }
SEC("tc") int store_mapval_untrusted(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; *(void * volatile *)&v->u = v; return 0; }
SEC("tc") int store_loaded_untrusted_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *p; if (!v) return 0; p = v->t; v->u = p; return 0; }
SEC("tc") int xchg_maybe_null_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *t, *old; if (!v) return 0;
  t = bpf_task_from_pid(1); old = bpf_kptr_xchg(&v->t, t); if (old) bpf_task_release(old); return 0; }
SEC("tc") int xchg_untrusted_value(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *p, *old; if (!v) return 0; p = v->u; if (!p) return 0;
  old = bpf_kptr_xchg(&v->t, p); if (old) bpf_task_release(old); return 0; }
SEC("tc") int xchg_rcu_value(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *p, *old; if (!v) return 0; p = v->t; if (!p) return 0;
  old = bpf_kptr_xchg(&v->t, p); if (old) bpf_task_release(old); return 0; }
SEC("syscall") int xchg_sleepable_value(void *ctx)
{ struct kv *v = kv0(); struct task_struct *p, *old; if (!v) return 0; p = v->t; if (!p) return 0;
  old = bpf_kptr_xchg(&v->t, p); if (old) bpf_task_release(old); return 0; }
SEC("syscall") int xchg_sleepable_rcu_value(void *ctx)
{ struct kv *v = kv0(); struct task_struct *p, *old; if (!v) return 0; bpf_rcu_read_lock(); p = v->t;
  if (!p) { bpf_rcu_read_unlock(); return 0; }
  old = bpf_kptr_xchg(&v->t, p); bpf_rcu_read_unlock(); if (old) bpf_task_release(old); return 0; }
SEC("tc") int xchg_on_untrusted_field(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *old; if (!v) return 0; old = bpf_kptr_xchg(&v->u, NULL);
  if (old) bpf_task_release(old); return 0; }
SEC("tc") int xchg_array_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct item *it, *old; if (!v) return 0; it = bpf_obj_new(struct item); if (!it) return 0;
  old = bpf_kptr_xchg(&v->arr[1], it); if (old) bpf_obj_drop(old); return 0; }
SEC("tc") int xchg_nested_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *t, *old; if (!v) return 0; t = bpf_task_from_pid(1); if (!t) return 0;
  old = bpf_kptr_xchg(&v->nest[1].t2[1], t); if (old) bpf_task_release(old); return 0; }
SEC("tc") int xchg_nested_wrong_type(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct item *it, *old; if (!v) return 0; it = bpf_obj_new(struct item); if (!it) return 0;
  old = bpf_kptr_xchg((void *)&v->nest[1].t2[0], it); if (old) bpf_obj_drop(old); return 0; }
SEC("tc") int xchg_global_2d_ok(struct __sk_buff *skb)
{ struct task_struct *t, *old; t = bpf_task_from_pid(1); if (!t) return 0;
  old = bpf_kptr_xchg(&g_tasks[1][0], t); if (old) bpf_task_release(old); return 0; }
SEC("tc") int xchg_global_item_ok(struct __sk_buff *skb)
{ struct item *it = bpf_obj_new(struct item), *old; if (!it) return 0;
  old = bpf_kptr_xchg(&g_item, it); if (old) bpf_obj_drop(old); return 0; }
SEC("tc") int xchg_between_fields(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct item *old; if (!v) return 0; old = bpf_kptr_xchg((void *)v + 12, NULL);
  if (old) bpf_obj_drop(old); return 0; }
SEC("tc") int helper_over_kptr(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; bpf_probe_read_kernel(v, 16, &skb->len); return 0; }
SEC("tc") int helper_buf_only_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; bpf_probe_read_kernel(v, 8, &skb->len); return 0; }
__noinline int write_func(int *p) { return p ? *p = 42 : 0; }
SEC("tc") int global_func_over_kptr(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; return write_func((void *)v + 6); }
SEC("tc") int global_func_buf_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); if (!v) return 0; return write_func((void *)v + 4); }
SEC("tc") int deref_maybe_null_kptr(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *p; if (!v) return 0; p = v->u; return p->pid; }
SEC("tc") int deref_checked_kptr_ok(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct task_struct *p; if (!v) return 0; p = v->u; if (!p) return 0; return p->pid; }
SEC("syscall") int rcu_unlock_unmatched(void *ctx) { bpf_rcu_read_unlock(); return 0; }
SEC("syscall") int rcu_exit_locked(void *ctx) { bpf_rcu_read_lock(); return 0; }
SEC("syscall") int rcu_nested(void *ctx) { bpf_rcu_read_lock(); bpf_rcu_read_lock(); bpf_rcu_read_unlock(); bpf_rcu_read_unlock(); return 0; }
SEC("tc") int xchg_local_maybe_null(struct __sk_buff *skb)
{ struct kv *v = kv0(); struct item *it, *old; if (!v) return 0; it = bpf_obj_new(struct item);
  old = bpf_kptr_xchg(&v->it, it); if (old) bpf_obj_drop(old); return 0; }
// kptr fields of a program-allocated object: bpf_kptr_xchg only (btf_struct_access)
struct inner { __u64 x; };
struct holder { __u64 key; struct inner __kptr *in; struct bpf_refcount rc; };
struct slot { struct holder __kptr *h; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct slot); } slots SEC(".maps");
SEC("tc") int read_kptr_of_alloc(struct __sk_buff *skb)
{ struct holder *h = bpf_obj_new(struct holder); __u64 r; if (!h) return 0; r = (__u64)h->in; bpf_obj_drop(h); return r != 0; }
SEC("tc") int write_kptr_of_alloc(struct __sk_buff *skb)
{ struct holder *h = bpf_obj_new(struct holder); if (!h) return 0; *(volatile __u64 *)&h->in = 0; bpf_obj_drop(h); return 0; }
SEC("tc") int key_of_alloc_ok(struct __sk_buff *skb)
{ struct holder *h = bpf_obj_new(struct holder); if (!h) return 0; h->key = 1; bpf_obj_drop(h); return 0; }
SEC("tc") int xchg_into_alloc_ok(struct __sk_buff *skb)
{ struct holder *h = bpf_obj_new(struct holder); struct inner *i, *old; if (!h) return 0;
  i = bpf_obj_new(struct inner); if (!i) { bpf_obj_drop(h); return 0; }
  old = bpf_kptr_xchg(&h->in, i); if (old) bpf_obj_drop(old); bpf_obj_drop(h); return 0; }
// a pointer loaded from a field, moved and stored back (map_kptr_match_type, __check_ptr_off_reg)
struct mv { struct task_struct __kptr_untrusted *u; struct task_struct __kptr *t; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct mv); } mvs SEC(".maps");
SEC("tc") int store_moved_loaded(struct __sk_buff *skb)
{ __u32 k = 0; struct mv *v = bpf_map_lookup_elem(&mvs, &k); struct task_struct *p; if (!v) return 0;
  p = v->u; if (!p) return 0; v->u = (void *)p + 4; return 0; }
SEC("tc") int store_var_moved_loaded(struct __sk_buff *skb)
{ __u32 k = 0, id = skb->protocol; struct mv *v = bpf_map_lookup_elem(&mvs, &k); struct task_struct *p; if (!v) return 0;
  p = v->u; if (!p) return 0; if (id > 12) return 0; v->u = (void *)p + id; return 0; }
SEC("tc") int store_loaded_back_ok(struct __sk_buff *skb)
{ __u32 k = 0; struct mv *v = bpf_map_lookup_elem(&mvs, &k); struct task_struct *p; if (!v) return 0;
  p = v->t; if (!p) return 0; v->u = p; return 0; }
SEC("tc") int deref_loaded_field_ok(struct __sk_buff *skb)
{ __u32 k = 0; struct mv *v = bpf_map_lookup_elem(&mvs, &k); struct task_struct *p; if (!v) return 0;
  p = v->t; if (!p) return 0; return p->tgid + p->pid; }
char _license[] SEC("license") = "GPL";
"""

# Map values whose kptr record the kernel drops whole (a kernel type without a destructor, an
# unknown type tag; arrays keep the structs from being program-allocated types, whose errors
# would fail the BTF load instead), beside one whose test-kfunc type has a destructor.
KPTR_DROPPED_C = r"""
#include "bpfkit_alloc.h"

struct sock *unused_sock;
struct bad { struct task_struct __kptr *t[1]; struct sock __kptr *s[1]; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct bad); } bads SEC(".maps");
struct tagged { struct task_struct __kptr *t[1]; struct task_struct __attribute__((btf_type_tag("kptr_ref"))) *r; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct tagged); } tags SEC(".maps");
SEC("tc") int xchg_into_dropped_record(struct __sk_buff *skb)
{ __u32 k = 0; struct bad *b = bpf_map_lookup_elem(&bads, &k); struct task_struct *old; if (!b) return 0;
  old = bpf_kptr_xchg(&b->t[0], NULL); if (old) bpf_task_release(old); return 0; }
SEC("tc") int xchg_unknown_tag_record(struct __sk_buff *skb)
{ __u32 k = 0; struct tagged *b = bpf_map_lookup_elem(&tags, &k); struct task_struct *old; if (!b) return 0;
  old = bpf_kptr_xchg(&b->t[0], NULL); if (old) bpf_task_release(old); return 0; }
struct good { struct task_struct __kptr *t[1]; struct prog_test_ref_kfunc __kptr *p[1]; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct good); } goods SEC(".maps");
SEC("tc") int xchg_test_kfunc_type_ok(struct __sk_buff *skb)
{ __u32 k = 0; struct good *b = bpf_map_lookup_elem(&goods, &k); struct task_struct *old; if (!b) return 0;
  old = bpf_kptr_xchg(&b->t[0], NULL); if (old) bpf_task_release(old); return 0; }
SEC("tc") int load_dropped_field(struct __sk_buff *skb)
{ __u32 k = 0; struct bad *b = bpf_map_lookup_elem(&bads, &k); struct task_struct *t; if (!b) return 0;
  t = b->t[0]; if (!t) return 0; return t->pid; }
SEC("tc") int load_kept_field_ok(struct __sk_buff *skb)
{ __u32 k = 0; struct good *b = bpf_map_lookup_elem(&goods, &k); struct task_struct *t; if (!b) return 0;
  t = b->t[0]; if (!t) return 0; return t->pid; }
char _license[] SEC("license") = "GPL";
"""


def _compare(obj_path: Path) -> list[tuple[str, str, str, str, str, bool]]:
    kernel = live_verdicts(obj_path)
    preds = {p.program: p for p in predict(load_object(obj_path))}
    assert set(preds) == set(kernel)
    rows = []
    for name, (verdict, error) in sorted(kernel.items()):
        p = preds[name]
        m0 = p.mistakes[0] if p.mistakes else None
        same_rule = verdict != "reject" or (
            m0 is not None and match_kernel_message(m0.rule, error or "")
        )
        rows.append(
            (name, verdict, p.verdict, error[:70], m0.rule if m0 else p.reason[:60], same_rule)
        )
    print()
    for row in rows:
        print(
            ("ok  " if row[1] == row[2] and row[5] else "DIFF")
            + "  "
            + "  ".join(map(str, row[:5]))
        )
    return rows


def test_kptr_field_rules_agree_with_the_live_kernel(tmp_path: Path) -> None:
    rows = _compare(compile_bpf(tmp_path, "kptr_rules", KPTR_RULES_C))
    assert len(rows) >= 30
    assert {r[1] for r in rows} == {"accept", "reject"}  # the oracle splits the programs
    bad = [r for r in rows if r[1] != r[2] or not r[5]]
    assert not bad, bad


def test_dropped_kptr_records_agree_with_the_live_kernel(tmp_path: Path) -> None:
    rows = _compare(compile_bpf(tmp_path, "kptr_dropped", KPTR_DROPPED_C))
    assert {r[1] for r in rows} == {"accept", "reject"}
    bad = [r for r in rows if r[1] != r[2] or not r[5]]
    assert not bad, bad


def _kernel_btf() -> Spec:
    try:
        return load_vmlinux()
    except BpfkitError as exc:
        pytest.skip(f"needs the kernel BTF: {exc}")


def test_kptr_destructors_come_from_the_kernel_btf(tmp_path: Path) -> None:
    """Every type the kernel BTF shows a destructor for can be a referenced kptr: the live
    kernel keeps the field (bpf_kptr_xchg on it is not "has no valid kptr"; the release kfunc
    bpfkit paired with the type is called after it) and so does bpfkit's record."""
    kernel = _kernel_btf()
    dtors = kptr_dtors(kernel)
    names, known = kptr_dtor_types(kernel)
    if not known:
        pytest.skip("this kernel's BTF shows no <release kfunc>_dtor functions (before 6.9)")
    assert names == frozenset(dtors)
    parts = ['#include "bpfkit_alloc.h"']
    for i, (tname, release) in enumerate(sorted(dtors.items())):
        parts.append(
            f"extern void {release}(struct {tname} *p) __ksym;\n"
            f"struct v{i} {{ struct {tname} __kptr *p[1]; }};\n"
            f"struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); "
            f'__type(key, __u32); __type(value, struct v{i}); }} m{i} SEC(".maps");\n'
            f'SEC("syscall") int take_{tname}(void *ctx)\n'
            f"{{ __u32 k = 0; struct v{i} *v = bpf_map_lookup_elem(&m{i}, &k);\n"
            f"  struct {tname} *old; if (!v) return 0;\n"
            f"  old = bpf_kptr_xchg(&v->p[0], NULL); if (old) {release}(old); return 0; }}\n"
        )
    parts.append('char _license[] SEC("license") = "GPL";')
    path = compile_bpf(tmp_path, "kptr_dtors", "\n".join(parts))
    kernel_says = live_verdicts(path)
    assert len(kernel_says) == len(dtors) >= 4
    dropped = {n: e for n, (_, e) in kernel_says.items() if "has no valid kptr" in (e or "")}
    assert not dropped, dropped
    from bpfkit.ownership.fields import all_records

    obj = load_object(path)
    assert obj.btf is not None
    recs = [
        r for r in all_records(obj.btf, obj.maps, kernel=kernel) if r.container_kind == "map_value"
    ]
    assert len(recs) == len(dtors)
    assert all(r.ok and [f.kind for f in r.fields] == ["kptr"] for r in recs), recs
