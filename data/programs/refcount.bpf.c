// SPDX-License-Identifier: GPL-2.0
/*
 * refcount.bpf.c: bpf_refcount_acquire on an object that sits in two
 * collections at once (an rbtree and a list), both under one lock.
 *
 * Written for bpfkit.
 */
#include "bpfkit_alloc.h"

struct flow {
	__u64 key;
	__u64 bytes;
	struct bpf_rb_node by_key;
	struct bpf_list_node lru;
	struct bpf_refcount ref;
};

private(F) struct bpf_spin_lock f_lock;
private(F) struct bpf_rb_root f_tree __contains(flow, by_key);
private(F) struct bpf_list_head f_lru __contains(flow, lru);

__u64 total;

static bool flow_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return container_of(a, struct flow, by_key)->key <
	       container_of(b, struct flow, by_key)->key;
}

/* One flow, two owners: the tree takes the first reference, the list a second. */
SEC("tc")
int refcount_tree_and_list_ok(struct __sk_buff *skb)
{
	struct flow *f, *f2;

	f = bpf_obj_new(struct flow);
	if (!f)
		return 0;
	f->key = skb->hash;
	f->bytes = skb->len;
	f2 = bpf_refcount_acquire(f);
	bpf_spin_lock(&f_lock);
	bpf_rbtree_add(&f_tree, &f->by_key, flow_less);
	if (f2)
		bpf_list_push_front(&f_lru, &f2->lru);
	bpf_spin_unlock(&f_lock);
	return 0;
}

/* Acquires a second reference and never gives it to anyone. */
SEC("tc")
int refcount_acquire_leak(struct __sk_buff *skb)
{
	struct flow *f, *f2;

	f = bpf_obj_new(struct flow);
	if (!f)
		return 0;
	f->key = skb->hash;
	f2 = bpf_refcount_acquire(f);
	bpf_spin_lock(&f_lock);
	bpf_rbtree_add(&f_tree, &f->by_key, flow_less);
	bpf_spin_unlock(&f_lock);
	if (f2)
		total += f2->bytes;
	return 0;
}

/* Takes the LRU flow off the list, and off the tree through a new reference. */
SEC("tc")
int refcount_evict_lru_ok(struct __sk_buff *skb)
{
	struct bpf_list_node *ln;
	struct bpf_rb_node *rn;
	struct flow *f, *f2;

	bpf_spin_lock(&f_lock);
	ln = bpf_list_pop_back(&f_lru);
	if (!ln) {
		bpf_spin_unlock(&f_lock);
		return 0;
	}
	f = container_of(ln, struct flow, lru);
	f2 = bpf_refcount_acquire(f);
	if (!f2) {
		bpf_spin_unlock(&f_lock);
		bpf_obj_drop(f);
		return 0;
	}
	rn = bpf_rbtree_remove(&f_tree, &f2->by_key);
	bpf_spin_unlock(&f_lock);
	bpf_obj_drop(f2);
	total += f->bytes;
	bpf_obj_drop(f);
	if (rn)
		bpf_obj_drop(container_of(rn, struct flow, by_key));
	return 0;
}

/* Drops the object, then its extra reference, then the first again. */
SEC("tc")
int refcount_drop_twice(struct __sk_buff *skb)
{
	struct flow *f, *f2;

	f = bpf_obj_new(struct flow);
	if (!f)
		return 0;
	f2 = bpf_refcount_acquire(f);
	if (f2)
		bpf_obj_drop(f2);
	bpf_obj_drop(f);
	bpf_obj_drop(f);
	return 0;
}

char _license[] SEC("license") = "GPL";
