// SPDX-License-Identifier: GPL-2.0
/*
 * f10_null_flags.bpf.c: rule family 10 of issue #12, NULL-ness carried through another
 * register. The verifier follows each path of `w1 = (p == NULL)` separately (the compare
 * that computes the flag is itself a branch on p: mark_ptr_or_null_regs() makes p non-NULL on
 * one side, NULL on the other), and copies of p share its id, so a later `if w1 goto` or a check
 * of a copy decides p too. A flag whose link to p is lost (it went through memory that is not
 * a spill slot, through a global function, or belongs to another pointer) decides nothing.
 * Kernel: check_cond_jmp_op(), mark_ptr_or_null_regs(), find_equal_scalars() /
 * sync_linked_regs(), is_state_visited() (states are not merged across different flags).
 * Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f10_obj {
	__u64 key;
	__u64 val;
};

struct f10_slot {
	struct f10_obj __kptr *obj;
	__u32 flag;
};

BPFKIT_ARRAY1(f10_map, struct f10_slot);

struct f10_flags {
	__u32 flag;
	__u32 count;
};

BPFKIT_ARRAY1(f10_flags_map, struct f10_flags);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct f10_flags);
} f10_flags_hash SEC(".maps");

__u64 f10_sink;

/* The ordinary NULL check on the pointer itself. */
SEC("tc")
int f10_direct_check_ok(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj);

	if (!p)
		return 0;
	p->key = skb->len;
	bpf_obj_drop(p);
	return 0;
}

/* w1 = (p == NULL) computed with a compare-and-branch, kept opaque to the compiler, then
 * `if w1 goto out`: the object is used and dropped on the flag's non-NULL side. */
SEC("tc")
int f10_flag_register_ok(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj);
	__u32 isnull = p == NULL;

	bpfkit_barrier_var(isnull);
	if (isnull)
		return 0;
	p->key = skb->len;
	bpf_obj_drop(p);
	return 0;
}

/* The flag tested with the wrong sense: the object is used on the side where it is NULL. */
SEC("tc")
int f10_flag_inverted(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj);
	__u32 isnull = p == NULL;

	bpfkit_barrier_var(isnull);
	if (!isnull)
		return 0;
	p->key = skb->len;
	bpf_obj_drop(p);
	return 0;
}

/* The flag survives a helper call in a callee-saved register before it is tested. */
SEC("tc")
int f10_flag_across_call_ok(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj);
	__u32 ok = p != NULL;

	bpfkit_barrier_var(ok);
	f10_sink = bpf_ktime_get_ns();
	if (!ok)
		return 0;
	p->val = f10_sink;
	bpf_obj_drop(p);
	return 0;
}

/* The flag goes through a map value (not a stack spill): reloaded, it is an unknown scalar. */
SEC("tc")
int f10_flag_through_map(struct __sk_buff *skb)
{
	struct f10_slot *v = slot0(&f10_map);
	struct f10_obj *p;

	if (!v)
		return 0;
	p = bpf_obj_new(struct f10_obj);
	*(volatile __u32 *)&v->flag = p != NULL;
	if (!*(volatile __u32 *)&v->flag) {
		if (p)
			bpf_obj_drop(p);
		return 0;
	}
	p->key = 1;
	bpf_obj_drop(p);
	return 0;
}

/* The flag belongs to another pointer (the map value), not the object. */
SEC("tc")
int f10_flag_of_other_pointer(struct __sk_buff *skb)
{
	struct f10_slot *v = slot0(&f10_map);
	struct f10_obj *p = bpf_obj_new(struct f10_obj);
	__u32 ok = v != NULL;

	bpfkit_barrier_var(ok);
	if (!ok) {
		if (p)
			bpf_obj_drop(p);
		return 0;
	}
	p->key = 1;
	bpf_obj_drop(p);
	return 0;
}

/* A global function decides NULL-ness: its result is a scalar with no link to the pointer
 * (a maybe-NULL map value may be passed to it, if it holds no kptr; a referenced object may
 * not). */
__noinline int f10_is_present(struct f10_flags *v)
{
	return v != NULL;
}

/* The hash map value used after the global function said it is present. */
SEC("tc")
int f10_flag_from_global_func(struct __sk_buff *skb)
{
	struct f10_flags *v = slot0(&f10_flags_hash);

	if (!f10_is_present(v))
		return 0;
	v->flag = 1;
	return 0;
}

/* An array map value with a constant in-bounds key, used after the same global function
 * (the lookup itself may be known non-NULL). */
SEC("tc")
int f10_flag_from_global_func_array(struct __sk_buff *skb)
{
	struct f10_flags *v = slot0(&f10_flags_map);

	if (!f10_is_present(v))
		return 0;
	v->flag = 1;
	return 0;
}

/* The hash map value, checked directly after the global function's answer. */
SEC("tc")
int f10_global_func_then_check_ok(struct __sk_buff *skb)
{
	struct f10_flags *v = slot0(&f10_flags_hash);

	if (!f10_is_present(v) || !v)
		return 0;
	v->flag = 1;
	return 0;
}

/* A copy of the pointer checked, the original used: copies share the pointer's id. */
SEC("tc")
int f10_check_copy_use_original_ok(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj), *q = p;

	bpfkit_barrier_var(q);
	if (!q)
		return 0;
	p->key = skb->len;
	bpf_obj_drop(p);
	return 0;
}

/* The pointer spilled to the stack and reloaded before the check. */
SEC("tc")
int f10_check_after_spill_ok(struct __sk_buff *skb)
{
	struct f10_obj *volatile slot;
	struct f10_obj *p;

	slot = bpf_obj_new(struct f10_obj);
	p = slot;
	if (!p)
		return 0;
	p->key = skb->len;
	bpf_obj_drop(p);
	return 0;
}

/* Two objects, the first checked, the second used. */
SEC("tc")
int f10_check_one_use_other(struct __sk_buff *skb)
{
	struct f10_obj *a = bpf_obj_new(struct f10_obj);
	struct f10_obj *b = bpf_obj_new(struct f10_obj);

	if (!a) {
		if (b)
			bpf_obj_drop(b);
		return 0;
	}
	b->key = 1;
	bpf_obj_drop(a);
	bpf_obj_drop(b);
	return 0;
}

/* A combined condition `if (!p || skb->len > 100) return` guards the use. */
SEC("tc")
int f10_combined_condition_ok(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj);

	if (!p || skb->len > 100) {
		if (p)
			bpf_obj_drop(p);
		return 0;
	}
	p->key = skb->len;
	bpf_obj_drop(p);
	return 0;
}

/* The flag drives the release: dropped only where non-NULL, nothing to release otherwise. */
SEC("tc")
int f10_flag_guards_release_ok(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj);
	__u32 have = p != NULL;

	bpfkit_barrier_var(have);
	if (have)
		bpf_obj_drop(p);
	return 0;
}

/* The flag drives the release the wrong way round: the object leaks where it exists. */
SEC("tc")
int f10_flag_guards_release_inverted(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj);
	__u32 have = p != NULL;

	bpfkit_barrier_var(have);
	if (!have)
		return 0;
	if (skb->len > 1000)
		return 1;
	bpf_obj_drop(p);
	return 0;
}

/* A maybe-NULL task compared equal to the tracepoint's (non-NULL, trusted) task, then read. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f10_equal_to_nonnull_pointer, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (t == task)
		f10_sink = t->pid;
	if (t)
		bpf_task_release(t);
	return 0;
}

/* The flag of the kptr exchange's result: the old object is dropped only if present. */
SEC("tc")
int f10_xchg_result_flag_ok(struct __sk_buff *skb)
{
	struct f10_slot *v = slot0(&f10_map);
	struct f10_obj *old;
	__u32 isnull;

	if (!v)
		return 0;
	old = bpf_kptr_xchg(&v->obj, NULL);
	isnull = old == NULL;
	bpfkit_barrier_var(isnull);
	if (isnull)
		return 0;
	bpf_obj_drop(old);
	return 0;
}

/* The flag tested twice, the pointer used between the tests on a path where it is NULL. */
SEC("tc")
int f10_flag_second_test_wrong(struct __sk_buff *skb)
{
	struct f10_obj *p = bpf_obj_new(struct f10_obj);
	__u32 isnull = p == NULL;

	bpfkit_barrier_var(isnull);
	if (skb->len > 10 && !isnull)
		p->key = 1;
	if (skb->len <= 10)
		p->val = 2;
	if (!isnull)
		bpf_obj_drop(p);
	return 0;
}

char _license[] SEC("license") = "GPL";
