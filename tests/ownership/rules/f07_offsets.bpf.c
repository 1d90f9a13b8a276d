// SPDX-License-Identifier: GPL-2.0
/*
 * f07_offsets.bpf.c: rule family 7 of issue #12, offsets. Kernel: check_func_arg_reg_off()
 * ("R%d must have zero offset when passed to release func or trusted arg to kfunc"),
 * __process_kf_arg_ptr_to_graph_root() ("doesn't have constant offset", "bpf_list_head not
 * found at offset"), __process_kf_arg_ptr_to_graph_node() ("expected bpf_list_node at
 * offset=... but arg is at offset="), check_map_access() / btf_struct_access() (no direct
 * load or store of bpf_spin_lock, bpf_list_head, bpf_list_node, bpf_rb_node), and
 * check_kfunc_call() for bpf_obj_new (the type must be a struct of the program's BTF; a flexible
 * array adds no bytes). Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f07_item {
	__u64 key;
	struct bpf_list_node ln;
	struct bpf_list_node ln2;
	struct bpf_refcount rc;
};

struct f07_flex {
	__u64 len;
	__u64 data[];
};

struct f07_bucket {
	struct bpf_spin_lock lock;
	__u32 count;
	struct bpf_list_head head __contains(f07_item, ln);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct f07_bucket);
} f07_buckets SEC(".maps");

private(F07) struct bpf_spin_lock f07_lock;
private(F07) struct bpf_list_head f07_list __contains(f07_item, ln);
private(F07) struct bpf_list_head f07_list2 __contains(f07_item, ln2);

__u64 f07_sink;

static struct f07_bucket *f07_bucket(__u32 idx)
{
	return bpf_map_lookup_elem(&f07_buckets, &idx);
}

/* Push an item into the list of a map value, under the value's own lock. */
SEC("tc")
int f07_map_list_push_ok(struct __sk_buff *skb)
{
	struct f07_bucket *b = f07_bucket(0);
	struct f07_item *it;

	if (!b)
		return 0;
	it = bpf_obj_new(struct f07_item);
	if (!it)
		return 0;
	it->key = skb->len;
	bpf_spin_lock(&b->lock);
	bpf_list_push_back(&b->head, &it->ln);
	b->count++;
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* __process_kf_arg_ptr_to_graph_root: the list head 8 bytes past where it is
 * ("bpf_list_head not found at offset"). */
SEC("tc")
int f07_head_wrong_offset(struct __sk_buff *skb)
{
	struct f07_bucket *b = f07_bucket(0);
	struct f07_item *it;

	if (!b)
		return 0;
	it = bpf_obj_new(struct f07_item);
	if (!it)
		return 0;
	bpf_spin_lock(&b->lock);
	bpf_list_push_back((struct bpf_list_head *)((char *)&b->head + 8), &it->ln);
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* __process_kf_arg_ptr_to_graph_root: a list head at a variable offset (which bucket of a
 * value-sized stride is not known). */
SEC("tc")
int f07_head_variable_offset(struct __sk_buff *skb)
{
	struct f07_bucket *b = f07_bucket(0);
	struct f07_item *it;
	__u64 off = (skb->len & 1) * 8;

	if (!b)
		return 0;
	it = bpf_obj_new(struct f07_item);
	if (!it)
		return 0;
	bpf_spin_lock(&b->lock);
	bpf_list_push_back((struct bpf_list_head *)((char *)&b->head + off), &it->ln);
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* __process_kf_arg_ptr_to_graph_node: the item pushed through its second node, which the
 * head's __contains does not name. */
SEC("tc")
int f07_node_wrong_field(struct __sk_buff *skb)
{
	struct f07_item *it = bpf_obj_new(struct f07_item);

	if (!it)
		return 0;
	bpf_spin_lock(&f07_lock);
	bpf_list_push_back(&f07_list, &it->ln2);
	bpf_spin_unlock(&f07_lock);
	return 0;
}

/* The second node into the list whose __contains names it. */
SEC("tc")
int f07_node_second_list_ok(struct __sk_buff *skb)
{
	struct f07_item *it = bpf_obj_new(struct f07_item);

	if (!it)
		return 0;
	bpf_spin_lock(&f07_lock);
	bpf_list_push_back(&f07_list2, &it->ln2);
	bpf_spin_unlock(&f07_lock);
	return 0;
}

/* __process_kf_arg_ptr_to_graph_node: a node pointer that is not at the node's offset (the
 * object itself passed as the node). */
SEC("tc")
int f07_node_object_as_node(struct __sk_buff *skb)
{
	struct f07_item *it = bpf_obj_new(struct f07_item);

	if (!it)
		return 0;
	bpf_spin_lock(&f07_lock);
	bpf_list_push_back(&f07_list, (struct bpf_list_node *)it);
	bpf_spin_unlock(&f07_lock);
	return 0;
}

/* Pop an item and drop it through container_of (node offset 8 taken back to 0). */
SEC("tc")
int f07_pop_container_of_ok(struct __sk_buff *skb)
{
	struct bpf_list_node *n;

	bpf_spin_lock(&f07_lock);
	n = bpf_list_pop_front(&f07_list);
	bpf_spin_unlock(&f07_lock);
	if (!n)
		return 0;
	bpf_obj_drop(container_of(n, struct f07_item, ln));
	return 0;
}

/* check_func_arg_reg_off: dropping the popped node pointer itself (offset 8 into the item). */
SEC("tc")
int f07_drop_node_pointer(struct __sk_buff *skb)
{
	struct bpf_list_node *n;

	bpf_spin_lock(&f07_lock);
	n = bpf_list_pop_front(&f07_list);
	bpf_spin_unlock(&f07_lock);
	if (!n)
		return 0;
	bpf_obj_drop(n);
	return 0;
}

/* check_func_arg_reg_off: bpf_refcount_acquire of the popped node pointer (offset 8). */
SEC("tc")
int f07_refcount_acquire_node_pointer(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct f07_item *m;

	bpf_spin_lock(&f07_lock);
	n = bpf_list_pop_front(&f07_list);
	bpf_spin_unlock(&f07_lock);
	if (!n)
		return 0;
	m = bpf_refcount_acquire((struct f07_item *)n);
	if (m)
		bpf_obj_drop(m);
	bpf_obj_drop(container_of(n, struct f07_item, ln));
	return 0;
}

/* bpf_refcount_acquire of the popped item at offset 0. */
SEC("tc")
int f07_refcount_acquire_container_ok(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct f07_item *it, *m;

	bpf_spin_lock(&f07_lock);
	n = bpf_list_pop_front(&f07_list);
	bpf_spin_unlock(&f07_lock);
	if (!n)
		return 0;
	it = container_of(n, struct f07_item, ln);
	m = bpf_refcount_acquire(it);
	if (m)
		bpf_obj_drop(m);
	bpf_obj_drop(it);
	return 0;
}

/* check_map_access: "bpf_spin_lock cannot be accessed directly by load/store". */
SEC("tc")
int f07_read_lock_word(struct __sk_buff *skb)
{
	struct f07_bucket *b = f07_bucket(1);

	if (!b)
		return 0;
	f07_sink = *(volatile __u32 *)&b->lock;
	return 0;
}

/* check_map_access: "bpf_list_head cannot be accessed directly by load/store". */
SEC("tc")
int f07_write_list_head(struct __sk_buff *skb)
{
	struct f07_bucket *b = f07_bucket(1);

	if (!b)
		return 0;
	*(volatile __u64 *)&b->head = 0;
	return 0;
}

/* The counter beside the lock and the head is plain data. */
SEC("tc")
int f07_read_counter_ok(struct __sk_buff *skb)
{
	struct f07_bucket *b = f07_bucket(1);

	if (!b)
		return 0;
	f07_sink = b->count;
	return 0;
}

/* btf_struct_access: a bpf_list_node inside an allocated object is not plain data. */
SEC("tc")
int f07_read_node_word(struct __sk_buff *skb)
{
	struct f07_item *it = bpf_obj_new(struct f07_item);

	if (!it)
		return 0;
	f07_sink = *(volatile __u64 *)&it->ln;
	bpf_obj_drop(it);
	return 0;
}

/* check_kfunc_call(bpf_obj_new): a struct ending in a flexible array, its fixed part used. */
SEC("tc")
int f07_flex_new_header_ok(struct __sk_buff *skb)
{
	struct f07_flex *f = bpf_obj_new(struct f07_flex);

	if (!f)
		return 0;
	f->len = skb->len;
	f07_sink = f->len;
	bpf_obj_drop(f);
	return 0;
}

/* The flexible array of the bpf_obj_new object has no bytes: data[0] is past the object. */
SEC("tc")
int f07_flex_new_write_array(struct __sk_buff *skb)
{
	struct f07_flex *f = bpf_obj_new(struct f07_flex);

	if (!f)
		return 0;
	f->data[0] = skb->len;
	bpf_obj_drop(f);
	return 0;
}

/* check_kfunc_call(bpf_obj_new): the type id of a scalar type, not a struct. */
SEC("tc")
int f07_obj_new_of_scalar(struct __sk_buff *skb)
{
	__u64 *p = bpf_obj_new_impl(bpf_core_type_id_local(__u64), NULL);

	if (!p)
		return 0;
	*p = 1;
	bpf_obj_drop(p);
	return 0;
}

/* process_spin_lock / check_reg_allocation_locked: the list of bucket 1 pushed while holding
 * the lock of bucket 0 (different map values). */
SEC("tc")
int f07_lock_of_other_value(struct __sk_buff *skb)
{
	struct f07_bucket *a = f07_bucket(0), *b = f07_bucket(1);
	struct f07_item *it;

	if (!a || !b)
		return 0;
	it = bpf_obj_new(struct f07_item);
	if (!it)
		return 0;
	bpf_spin_lock(&a->lock);
	bpf_list_push_back(&b->head, &it->ln);
	bpf_spin_unlock(&a->lock);
	return 0;
}

/* Pop from the back of a map value's list under its lock, drop through container_of. */
SEC("tc")
int f07_map_list_pop_back_ok(struct __sk_buff *skb)
{
	struct f07_bucket *b = f07_bucket(2);
	struct bpf_list_node *n;

	if (!b)
		return 0;
	bpf_spin_lock(&b->lock);
	n = bpf_list_pop_back(&b->head);
	if (n)
		b->count--;
	bpf_spin_unlock(&b->lock);
	if (n)
		bpf_obj_drop(container_of(n, struct f07_item, ln));
	return 0;
}

/* The plain key of an allocated object beside its list nodes, written and read. */
SEC("tc")
int f07_node_neighbour_field_ok(struct __sk_buff *skb)
{
	struct f07_item *it = bpf_obj_new(struct f07_item);

	if (!it)
		return 0;
	it->key = skb->len;
	f07_sink = it->key;
	bpf_obj_drop(it);
	return 0;
}

char _license[] SEC("license") = "GPL";
