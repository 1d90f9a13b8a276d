// SPDX-License-Identifier: GPL-2.0
/*
 * f09x_many_kptrs.bpf.c: rule family 9 of issue #12. A map value with an array of 16 __kptr
 * elements: btf_parse_fields() counts every element as a field, against BTF_FIELDS_MAX. Aimed
 * at: whether the kernel takes the value (and the object's BTF) with that many kptr fields,
 * and what a program exchanging one element then gets. Written for bpfkit; comments name the
 * rule aimed at, never the verdict.
 */
#include "rules.h"

struct f09x_obj {
	__u64 key;
};

struct f09x_value {
	struct f09x_obj __kptr *slots[16];
};

BPFKIT_ARRAY1(f09x_map, struct f09x_value);

/* One element of the 16-element kptr array exchanged and its old value dropped. */
SEC("tc")
int f09x_sixteen_slots_one_used(struct __sk_buff *skb)
{
	struct f09x_value *v = slot0(&f09x_map);
	struct f09x_obj *o;

	if (!v)
		return 0;
	o = bpf_obj_new(struct f09x_obj);
	if (!o)
		return 0;
	o = bpf_kptr_xchg(&v->slots[5], o);
	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* A program of the same object that allocates and drops, without the map. */
SEC("tc")
int f09x_object_without_map(struct __sk_buff *skb)
{
	struct f09x_obj *o = bpf_obj_new(struct f09x_obj);

	if (o)
		bpf_obj_drop(o);
	return 0;
}

char _license[] SEC("license") = "GPL";
