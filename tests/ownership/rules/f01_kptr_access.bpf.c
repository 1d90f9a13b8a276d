// SPDX-License-Identifier: GPL-2.0
/*
 * f01_kptr_access.bpf.c: rule family 1 of issue #12, how a program may touch a __kptr field of
 * a map value. Kernel: check_map_access() (size, alignment, constant offset, helpers),
 * check_map_kptr_access() (instruction mode and class, stores), map_kptr_match_type() (the
 * stored pointer's type and offset), process_kptr_func() and the bpf_kptr_xchg() argument
 * checks. Written for bpfkit; each comment names the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f01_obj {
	__u64 key;
	__u64 val;
};

struct slots {
	__u32 lo;				/* off 0 */
	__u32 hi;				/* off 4 */
	struct f01_obj __kptr *ref;		/* off 8: referenced, program-allocated */
	struct task_struct __kptr_untrusted *seen;	/* off 16: unreferenced */
	struct task_struct __kptr *task;	/* off 24: referenced kernel object */
	__u64 plain;				/* off 32 */
};

BPFKIT_ARRAY1(slot_map, struct slots);
BPFKIT_ARRAY1(copy_map, struct slots);

__u64 sink;

/* check_map_kptr_access: an 8-byte BPF_LDX of a kptr field, the plain load (btf_ld_kptr_type:
 * maybe-NULL, RCU or untrusted), read after its NULL check. */
SEC("tc")
int f01_load_dw_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct f01_obj *s;

	if (!v)
		return 0;
	s = v->ref;
	if (s)
		sink = s->val;
	return 0;
}

/* check_map_access: "kptr access size must be BPF_DW" (a 4-byte load of a kptr field). */
SEC("tc")
int f01_load_word_of_kptr(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	sink = *(volatile __u32 *)&v->ref;
	return 0;
}

/* check_map_access: "kptr access misaligned expected=8 off=4" (an 8-byte load that
 * straddles the end of `hi` and the start of the kptr). */
SEC("tc")
int f01_load_misaligned(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	sink = *(volatile __u64 *)((char *)v + 4);
	return 0;
}

/* check_map_access: the u32 halves before the kptr are plain data at a constant offset. */
SEC("tc")
int f01_load_neighbour_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	sink = v->hi + v->plain;
	return 0;
}

/* check_map_access: "kptr access cannot have variable offset" (an index known only to lie
 * in [0, 3] picks one of the u64 slots 1..4, some of which are kptrs). */
SEC("tc")
int f01_load_variable_offset(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	__u64 i = skb->len & 3;

	if (!v)
		return 0;
	sink = ((volatile __u64 *)v)[1 + i];
	return 0;
}

/* check_map_access: the same variable index, but only over the non-kptr u32 at off 0..4. */
SEC("tc")
int f01_load_variable_plain_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	__u64 i = skb->len & 1;

	if (!v)
		return 0;
	sink = ((volatile __u32 *)v)[i];
	return 0;
}

/* check_map_kptr_access: "store to referenced kptr disallowed" (a plain store of an owned
 * object; only bpf_kptr_xchg moves a reference into the field). The object also leaks. */
SEC("tc")
int f01_plain_store_referenced(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct f01_obj *s;

	if (!v)
		return 0;
	s = bpf_obj_new(struct f01_obj);
	if (!s)
		return 0;
	v->ref = s;
	return 0;
}

/* bpf_kptr_xchg: the same store done right, the old object dropped. */
SEC("tc")
int f01_xchg_store_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct f01_obj *s;

	if (!v)
		return 0;
	s = bpf_obj_new(struct f01_obj);
	if (!s)
		return 0;
	s->key = skb->len;
	s = bpf_kptr_xchg(&v->ref, s);
	if (s)
		bpf_obj_drop(s);
	return 0;
}

/* check_map_kptr_access: even storing NULL with a plain store into a referenced kptr is
 * "store to referenced kptr disallowed" (the check is on the class, before the value). */
SEC("tc")
int f01_plain_store_null_referenced(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	*(struct f01_obj *volatile *)&v->ref = NULL;
	return 0;
}

/* check_map_kptr_access, BPF_ST: an immediate zero into an unreferenced kptr. */
SEC("tc")
int f01_st_zero_untrusted_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	asm volatile("*(u64 *)(%[v] + 16) = 0" :: [v] "r"(v) : "memory");
	return 0;
}

/* check_map_kptr_access: "BPF_ST imm must be 0 when storing to kptr at off=16". */
SEC("tc")
int f01_st_nonzero_untrusted(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	asm volatile("*(u64 *)(%[v] + 16) = 1" :: [v] "r"(v) : "memory");
	return 0;
}

/* check_map_kptr_access: "kptr in map can only be accessed using BPF_MEM instruction mode"
 * (an atomic add on the kptr field). */
SEC("tc")
int f01_atomic_on_kptr(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	__sync_fetch_and_add((__u64 *)&v->seen, 1);
	return 0;
}

/* check_map_access(ACCESS_HELPER): "kptr cannot be accessed indirectly by helper" (the
 * kptr field as a helper's destination buffer). */
SEC("tc")
int f01_helper_writes_kptr(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	bpf_probe_read_kernel(&v->seen, sizeof(v->seen), &sink);
	return 0;
}

/* The same helper writing the plain u64 beside the kptrs. */
SEC("tc")
int f01_helper_writes_plain_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	bpf_probe_read_kernel(&v->plain, sizeof(v->plain), &sink);
	return 0;
}

/* check_map_access(ACCESS_HELPER): a whole map value with kptrs handed to
 * bpf_map_update_elem as the value to copy. */
SEC("tc")
int f01_helper_reads_value_with_kptr(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	__u32 key = 0;

	if (!v)
		return 0;
	bpf_map_update_elem(&copy_map, &key, v, BPF_ANY);
	return 0;
}

/* A global function's pointer argument is checked like a helper's memory argument, for
 * the size of its pointee (check_mem_reg -> check_map_access(ACCESS_HELPER)). */
__noinline int f01_global_read(__u64 *word)
{
	if (!word)
		return 0;
	return *word & 0xff;
}

/* "kptr cannot be accessed indirectly by helper" (then "Caller passes invalid args into func"):
 * the kptr field handed to a global function. */
SEC("tc")
int f01_global_func_kptr_mem(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	return f01_global_read((__u64 *)&v->ref);
}

/* The plain u64 of the same value handed to the same global function. */
SEC("tc")
int f01_global_func_plain_mem_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	return f01_global_read(&v->plain);
}

/* bpf_kptr_xchg argument: a task_struct pushed into the sample field (BTF type mismatch). */
SEC("tc")
int f01_xchg_wrong_type(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct task_struct *t;

	if (!v)
		return 0;
	t = bpf_task_from_pid(1);
	if (!t)
		return 0;
	t = bpf_kptr_xchg(&v->ref, t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* bpf_kptr_xchg into the task field with a referenced task: the matching type. */
SEC("tc")
int f01_xchg_task_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct task_struct *t;

	if (!v)
		return 0;
	t = bpf_task_from_pid(1);
	if (!t)
		return 0;
	t = bpf_kptr_xchg(&v->task, t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* process_kptr_func: bpf_kptr_xchg on a field that is not a kptr ("off=32 doesn't point
 * to kptr"). */
SEC("tc")
int f01_xchg_on_plain_field(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct f01_obj *s;

	if (!v)
		return 0;
	s = bpf_obj_new(struct f01_obj);
	if (!s)
		return 0;
	s = bpf_kptr_xchg((void *)&v->plain, s);
	if (s)
		bpf_obj_drop(s);
	return 0;
}

/* process_kptr_func: bpf_kptr_xchg on an unreferenced kptr ("kptr isn't referenced kptr"). */
SEC("tc")
int f01_xchg_on_untrusted_field(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct task_struct *t;

	if (!v)
		return 0;
	t = bpf_task_from_pid(1);
	if (!t)
		return 0;
	t = bpf_kptr_xchg(&v->seen, t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* bpf_kptr_xchg with an object pointer moved 8 bytes into the object: a released argument
 * must have offset 0 (check_func_arg_reg_off / "must have zero offset"). */
SEC("tc")
int f01_xchg_modified_pointer(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct f01_obj *s;
	void *old;

	if (!v)
		return 0;
	s = bpf_obj_new(struct f01_obj);
	if (!s)
		return 0;
	old = bpf_kptr_xchg(&v->ref, (void *)&s->val);
	if (old)
		bpf_obj_drop(old);
	return 0;
}

/* map_kptr_match_type: a plain store of the tracepoint's trusted task into the
 * unreferenced kptr of the same type. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f01_store_untrusted_ok, struct task_struct *task, u64 clone_flags)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	v->seen = task;
	return 0;
}

/* map_kptr_match_type: "invalid kptr access, R.. type=ptr_cgroup expected=ptr_task_struct"
 * (a cgroup pointer stored in a task_struct field). */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f01_store_untrusted_wrong_type, struct cgroup *cgrp, const char *path)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	*(struct cgroup **)&v->seen = cgrp;
	return 0;
}

/* map_kptr_match_type: the stored pointer must be unmodified (task + 8 is not a
 * task_struct at offset 0). */
SEC("tp_btf/task_newtask")
int BPF_PROG(f01_store_untrusted_moved_pointer, struct task_struct *task, u64 clone_flags)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	v->seen = (struct task_struct *)((char *)task + 8);
	return 0;
}

/* map_kptr_match_type: a scalar stored in an unreferenced kptr field. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f01_store_untrusted_scalar, struct task_struct *task, u64 clone_flags)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	*(volatile __u64 *)&v->seen = clone_flags;
	return 0;
}

/* bpf_kptr_xchg of NULL out of the field and the same object back in. */
SEC("tc")
int f01_xchg_out_and_back_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);
	struct f01_obj *s;

	if (!v)
		return 0;
	s = bpf_kptr_xchg(&v->ref, NULL);
	if (!s)
		return 0;
	s->val++;
	s = bpf_kptr_xchg(&v->ref, s);
	if (s)
		bpf_obj_drop(s);
	return 0;
}

/* map_kptr_match_type: storing NULL into the unreferenced kptr with a register store. */
SEC("tc")
int f01_store_null_untrusted_ok(struct __sk_buff *skb)
{
	struct slots *v = slot0(&slot_map);

	if (!v)
		return 0;
	*(struct task_struct *volatile *)&v->seen = NULL;
	return 0;
}

char _license[] SEC("license") = "GPL";
