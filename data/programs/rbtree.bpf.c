// SPDX-License-Identifier: GPL-2.0
/*
 * rbtree.bpf.c: bpf_rb_root trees of program-allocated objects under a
 * bpf_spin_lock: bpf_rbtree_add, bpf_rbtree_first, bpf_rbtree_remove.
 *
 * Written for bpfkit.
 */
#include "bpfkit_alloc.h"

struct timer_ev {
	__u64 deadline;
	__u32 cpu;
	struct bpf_rb_node rb;
	struct bpf_rb_node rb_by_cpu;	/* a second node: not the one the tree __contains */
};

private(T) struct bpf_spin_lock t_lock;
private(T) struct bpf_rb_root t_root __contains(timer_ev, rb);

struct wheel_value {
	struct bpf_spin_lock lock;
	struct bpf_rb_root root __contains(timer_ev, rb);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct wheel_value);
} wheels SEC(".maps");

__u64 next_deadline;

static bool ev_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct timer_ev *x = container_of(a, struct timer_ev, rb);
	const struct timer_ev *y = container_of(b, struct timer_ev, rb);

	return x->deadline < y->deadline;
}

/* Add an event, find the earliest, remove it and drop it. */
SEC("tc")
int rbtree_add_first_remove_ok(struct __sk_buff *skb)
{
	struct bpf_rb_node *n;
	struct timer_ev *e;

	e = bpf_obj_new(struct timer_ev);
	if (!e)
		return 0;
	e->deadline = bpf_ktime_get_ns() + skb->len;
	bpf_spin_lock(&t_lock);
	bpf_rbtree_add(&t_root, &e->rb, ev_less);
	n = bpf_rbtree_first(&t_root);
	if (!n) {
		bpf_spin_unlock(&t_lock);
		return 0;
	}
	n = bpf_rbtree_remove(&t_root, n);
	bpf_spin_unlock(&t_lock);
	if (!n)
		return 0;
	e = container_of(n, struct timer_ev, rb);
	next_deadline = e->deadline;
	bpf_obj_drop(e);
	return 0;
}

/* The same with the tree and its lock in a map value. */
SEC("tc")
int map_rbtree_add_first_remove_ok(struct __sk_buff *skb)
{
	struct wheel_value *w;
	struct bpf_rb_node *n;
	struct timer_ev *e;
	__u32 key = skb->len & 1;

	w = bpf_map_lookup_elem(&wheels, &key);
	if (!w)
		return 0;
	e = bpf_obj_new(struct timer_ev);
	if (!e)
		return 0;
	e->deadline = skb->len;
	bpf_spin_lock(&w->lock);
	bpf_rbtree_add(&w->root, &e->rb, ev_less);
	n = bpf_rbtree_first(&w->root);
	if (n)
		n = bpf_rbtree_remove(&w->root, n);
	bpf_spin_unlock(&w->lock);
	if (n)
		bpf_obj_drop(container_of(n, struct timer_ev, rb));
	return 0;
}

/* Adds to the tree without holding its lock. */
SEC("tc")
int rbtree_add_without_lock(struct __sk_buff *skb)
{
	struct timer_ev *e;

	e = bpf_obj_new(struct timer_ev);
	if (!e)
		return 0;
	e->deadline = skb->len;
	bpf_rbtree_add(&t_root, &e->rb, ev_less);
	return 0;
}

/* Removes the first event and returns without dropping it. */
SEC("tc")
int rbtree_remove_leak(struct __sk_buff *skb)
{
	struct bpf_rb_node *n;

	bpf_spin_lock(&t_lock);
	n = bpf_rbtree_first(&t_root);
	if (!n) {
		bpf_spin_unlock(&t_lock);
		return 0;
	}
	n = bpf_rbtree_remove(&t_root, n);
	bpf_spin_unlock(&t_lock);
	if (!n)
		return 0;
	next_deadline = container_of(n, struct timer_ev, rb)->deadline;
	return 0;
}

/* Keeps the non-owning result of bpf_rbtree_first past the unlock. */
SEC("tc")
int rbtree_first_after_unlock(struct __sk_buff *skb)
{
	struct bpf_rb_node *n;

	bpf_spin_lock(&t_lock);
	n = bpf_rbtree_first(&t_root);
	bpf_spin_unlock(&t_lock);
	if (!n)
		return 0;
	next_deadline = container_of(n, struct timer_ev, rb)->deadline;
	return 0;
}

/* Adds the event through rb_by_cpu, but the tree __contains(timer_ev, rb). */
SEC("tc")
int rbtree_add_wrong_node(struct __sk_buff *skb)
{
	struct timer_ev *e;

	e = bpf_obj_new(struct timer_ev);
	if (!e)
		return 0;
	bpf_spin_lock(&t_lock);
	bpf_rbtree_add(&t_root, &e->rb_by_cpu, ev_less);
	bpf_spin_unlock(&t_lock);
	return 0;
}

/* Removes the first event twice: the second remove sees a released object. */
SEC("tc")
int rbtree_remove_drop_twice(struct __sk_buff *skb)
{
	struct bpf_rb_node *n;
	struct timer_ev *e;

	bpf_spin_lock(&t_lock);
	n = bpf_rbtree_first(&t_root);
	if (!n) {
		bpf_spin_unlock(&t_lock);
		return 0;
	}
	n = bpf_rbtree_remove(&t_root, n);
	bpf_spin_unlock(&t_lock);
	if (!n)
		return 0;
	e = container_of(n, struct timer_ev, rb);
	bpf_obj_drop(e);
	bpf_obj_drop(e);
	return 0;
}

/* Inserts eight events with deadlines that branch on the clock, then pops two. */
SEC("syscall")
int rbtree_fill_loop_ok(void *ctx)
{
	struct bpf_rb_node *n;
	struct timer_ev *e;
	__u64 now = bpf_ktime_get_ns();
	int i;

	for (i = 0; i < 8; i++) {
		e = bpf_obj_new(struct timer_ev);
		if (!e)
			return 0;
		if (now & (1 << i))
			e->deadline = now + i * 1000;
		else
			e->deadline = now - i;
		e->cpu = bpf_get_smp_processor_id();
		bpf_spin_lock(&t_lock);
		bpf_rbtree_add(&t_root, &e->rb, ev_less);
		bpf_spin_unlock(&t_lock);
	}
	for (i = 0; i < 2; i++) {
		bpf_spin_lock(&t_lock);
		n = bpf_rbtree_first(&t_root);
		if (n)
			n = bpf_rbtree_remove(&t_root, n);
		bpf_spin_unlock(&t_lock);
		if (!n)
			break;
		bpf_obj_drop(container_of(n, struct timer_ev, rb));
	}
	return 0;
}

char _license[] SEC("license") = "GPL";
