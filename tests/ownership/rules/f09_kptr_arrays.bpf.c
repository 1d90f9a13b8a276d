// SPDX-License-Identifier: GPL-2.0
/*
 * f09_kptr_arrays.bpf.c: rule family 9 of issue #12, arrays of __kptr (1-D, 2-D, inside
 * nested structs) in map values and in global data. btf_find_field() repeats a kptr field
 * for every element of an array (and of an array of structs that hold kptrs), so every
 * element is its own kptr at its own constant offset. Kernel: btf_find_nested_struct(),
 * btf_repeat_fields(), check_map_access() / process_kptr_func() ("off=%d doesn't point to
 * kptr", "kptr has to be at the constant offset"), map_kptr_match_type().
 * Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f09_obj {
	__u64 key;
};

struct f09_inner {
	__u64 tag;
	struct f09_obj __kptr *p;
};

/* Ten kptr fields per value: BTF_FIELDS_MAX (11) bounds the special fields of one value
 * (f09x_many_kptrs.bpf.c goes past it), so the nested ones have a map of their own. */
struct f09_value {
	struct f09_obj __kptr *row[4];		/* off 0..31 */
	struct f09_obj __kptr *grid[2][3];	/* off 32..79 */
};

struct f09_nested_value {
	struct f09_inner in[3];			/* off 0..47 */
	struct task_struct __kptr *tasks[2];	/* off 48..63 */
};

BPFKIT_ARRAY1(f09_map, struct f09_value);
BPFKIT_ARRAY1(f09_nested_map, struct f09_nested_value);

/* kptrs in global data: a .data.<name> section is its own array map. */
private(F09G) struct f09_obj __kptr *f09_global_row[2];
private(F09G) struct f09_inner f09_global_in[2];

__u64 f09_sink;

static __always_inline int f09_stash(struct f09_obj __kptr **slot, __u64 key)
{
	struct f09_obj *o = bpf_obj_new(struct f09_obj);

	if (!o)
		return 0;
	o->key = key;
	o = bpf_kptr_xchg(slot, o);
	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* 1-D array: element 2 exchanged at its constant offset. */
SEC("tc")
int f09_row_element_ok(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);

	if (!v)
		return 0;
	return f09_stash(&v->row[2], skb->len);
}

/* 1-D array: the last element. */
SEC("tc")
int f09_row_last_element_ok(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);

	if (!v)
		return 0;
	return f09_stash(&v->row[3], skb->len);
}

/* 1-D array: an element picked by a bounded but variable index ("kptr has to be at the
 * constant offset"). */
SEC("tc")
int f09_row_variable_index(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);
	__u32 i = skb->len & 3;

	if (!v)
		return 0;
	return f09_stash(&v->row[i], skb->len);
}

/* 1-D array: a plain load of one element, NULL-checked, then read. */
SEC("tc")
int f09_row_load_checked_ok(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);
	struct f09_obj *o;

	if (!v)
		return 0;
	o = v->row[1];
	if (o)
		f09_sink = o->key;
	return 0;
}

/* 1-D array: the plain load of an element used before a NULL check. */
SEC("tc")
int f09_row_load_unchecked(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);
	struct f09_obj *o;

	if (!v)
		return 0;
	o = v->row[1];
	f09_sink = o->key;
	return 0;
}

/* 1-D array: the plain load's pointer released (never acquired). */
SEC("tc")
int f09_row_load_dropped(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);
	struct f09_obj *o;

	if (!v)
		return 0;
	o = v->row[0];
	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* 1-D array: an exchange pointer 4 bytes into element 1 (misaligned kptr offset). */
SEC("tc")
int f09_row_misaligned_slot(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);

	if (!v)
		return 0;
	return f09_stash((struct f09_obj __kptr **)((char *)&v->row[1] + 4), skb->len);
}

/* 2-D array: grid[1][2] exchanged. */
SEC("tc")
int f09_grid_element_ok(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);

	if (!v)
		return 0;
	return f09_stash(&v->grid[1][2], skb->len);
}

/* 2-D array: grid[0][1] exchanged and taken back out. */
SEC("tc")
int f09_grid_roundtrip_ok(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);
	struct f09_obj *o;

	if (!v)
		return 0;
	f09_stash(&v->grid[0][1], skb->len);
	o = bpf_kptr_xchg(&v->grid[0][1], NULL);
	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* 2-D array: the object taken out of grid[1][0] is leaked. */
SEC("tc")
int f09_grid_take_leak(struct __sk_buff *skb)
{
	struct f09_value *v = slot0(&f09_map);
	struct f09_obj *o;

	if (!v)
		return 0;
	o = bpf_kptr_xchg(&v->grid[1][0], NULL);
	if (o)
		f09_sink = o->key;
	return 0;
}

/* Array of structs: the kptr of in[2]. */
SEC("tc")
int f09_nested_kptr_ok(struct __sk_buff *skb)
{
	struct f09_nested_value *v = slot0(&f09_nested_map);

	if (!v)
		return 0;
	return f09_stash(&v->in[2].p, skb->len);
}

/* Array of structs: bpf_kptr_xchg on in[1].tag, the plain u64 beside the kptr
 * ("doesn't point to kptr"). */
SEC("tc")
int f09_nested_plain_field(struct __sk_buff *skb)
{
	struct f09_nested_value *v = slot0(&f09_nested_map);

	if (!v)
		return 0;
	return f09_stash((struct f09_obj __kptr **)&v->in[1].tag, skb->len);
}

/* Array of structs: a plain store into in[0].p (a referenced kptr). */
SEC("tc")
int f09_nested_plain_store(struct __sk_buff *skb)
{
	struct f09_nested_value *v = slot0(&f09_nested_map);

	if (!v)
		return 0;
	*(volatile __u64 *)&v->in[0].p = 0;
	return 0;
}

/* Array of structs: the tags are plain data, written freely. */
SEC("tc")
int f09_nested_tag_write_ok(struct __sk_buff *skb)
{
	struct f09_nested_value *v = slot0(&f09_nested_map);

	if (!v)
		return 0;
	v->in[0].tag = 1;
	v->in[2].tag = 3;
	return 0;
}

/* Array of task kptrs: a task from bpf_task_from_pid into tasks[1]. */
SEC("tc")
int f09_task_array_ok(struct __sk_buff *skb)
{
	struct f09_nested_value *v = slot0(&f09_nested_map);
	struct task_struct *t;

	if (!v)
		return 0;
	t = bpf_task_from_pid(1);
	if (!t)
		return 0;
	t = bpf_kptr_xchg(&v->tasks[1], t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* Array of task kptrs: a program object into a task element (type of the element). */
SEC("tc")
int f09_task_array_wrong_type(struct __sk_buff *skb)
{
	struct f09_nested_value *v = slot0(&f09_nested_map);

	if (!v)
		return 0;
	return f09_stash((struct f09_obj __kptr **)&v->tasks[0], skb->len);
}

/* Global data: element 1 of a global kptr array. */
SEC("tc")
int f09_global_row_ok(struct __sk_buff *skb)
{
	return f09_stash(&f09_global_row[1], skb->len);
}

/* Global data: the kptr of a global array of structs. */
SEC("tc")
int f09_global_nested_ok(struct __sk_buff *skb)
{
	return f09_stash(&f09_global_in[1].p, skb->len);
}

/* Global data: the tag of a global struct, not a kptr. */
SEC("tc")
int f09_global_nested_tag(struct __sk_buff *skb)
{
	return f09_stash((struct f09_obj __kptr **)&f09_global_in[0].tag, skb->len);
}

/* Global data: the global kptr element taken out and leaked. */
SEC("tc")
int f09_global_take_leak(struct __sk_buff *skb)
{
	struct f09_obj *o = bpf_kptr_xchg(&f09_global_row[0], NULL);

	if (o)
		f09_sink = o->key;
	return 0;
}

char _license[] SEC("license") = "GPL";
