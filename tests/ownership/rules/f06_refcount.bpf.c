// SPDX-License-Identifier: GPL-2.0
/*
 * f06_refcount.bpf.c: rule family 6 of issue #12, bpf_refcount_acquire and NULL. Kernel:
 * check_kfunc_call() for KF_bpf_refcount_acquire_impl (R0 is an owning reference; maybe-NULL
 * unless the argument was an owning reference), check_kfunc_args() for
 * KF_ARG_PTR_TO_REFCOUNTED_KPTR ("arg#0 is neither owning or non-owning ref", "arg#0 doesn't
 * point to a type with bpf_refcount field", "Possibly NULL pointer passed to trusted arg0"),
 * invalidate_non_owning_refs() at bpf_spin_unlock. Written for bpfkit; comments name the rule
 * aimed at, never the verdict.
 */
#include "rules.h"

struct f06_node {
	__u64 key;
	struct bpf_refcount rc;
	struct bpf_rb_node rn;
	struct bpf_list_node ln;
};

struct f06_plain {
	__u64 key;
	struct bpf_rb_node rn;
};

private(F06) struct bpf_spin_lock f06_lock;
private(F06) struct bpf_rb_root f06_root __contains(f06_node, rn);
private(F06) struct bpf_list_head f06_list __contains(f06_node, ln);

__u64 f06_sink;

static bool f06_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f06_node *x = container_of(a, struct f06_node, rn);
	struct f06_node *y = container_of(b, struct f06_node, rn);

	return x->key < y->key;
}

/* An owning reference (fresh bpf_obj_new) as argument: the result used without a NULL
 * check. */
SEC("tc")
int f06_owning_result_unchecked(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	m = bpf_refcount_acquire(n);
	m->key = skb->len;
	bpf_obj_drop(m);
	bpf_obj_drop(n);
	return 0;
}

/* The same with the result NULL-checked. */
SEC("tc")
int f06_owning_result_checked_ok(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	m = bpf_refcount_acquire(n);
	if (m) {
		m->key = skb->len;
		bpf_obj_drop(m);
	}
	bpf_obj_drop(n);
	return 0;
}

/* The argument straight from bpf_obj_new, not NULL-checked. */
SEC("tc")
int f06_argument_unchecked(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	m = bpf_refcount_acquire(n);
	if (m)
		bpf_obj_drop(m);
	if (n)
		bpf_obj_drop(n);
	return 0;
}

/* A non-owning reference (the node after bpf_rbtree_add, lock held) as argument: the result
 * used without a NULL check. */
SEC("tc")
int f06_non_owning_result_unchecked(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	n->key = skb->len;
	bpf_spin_lock(&f06_lock);
	bpf_rbtree_add(&f06_root, &n->rn, f06_less);
	m = bpf_refcount_acquire(n);
	bpf_spin_unlock(&f06_lock);
	m->key++;
	bpf_obj_drop(m);
	return 0;
}

/* The same, result NULL-checked. */
SEC("tc")
int f06_non_owning_result_checked_ok(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	n->key = skb->len;
	bpf_spin_lock(&f06_lock);
	bpf_rbtree_add(&f06_root, &n->rn, f06_less);
	m = bpf_refcount_acquire(n);
	bpf_spin_unlock(&f06_lock);
	if (m) {
		m->key++;
		bpf_obj_drop(m);
	}
	return 0;
}

/* invalidate_non_owning_refs: after bpf_spin_unlock the non-owning reference is gone, so
 * bpf_refcount_acquire of it comes too late. */
SEC("tc")
int f06_non_owning_after_unlock(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	bpf_spin_lock(&f06_lock);
	bpf_rbtree_add(&f06_root, &n->rn, f06_less);
	bpf_spin_unlock(&f06_lock);
	m = bpf_refcount_acquire(n);
	if (m)
		bpf_obj_drop(m);
	return 0;
}

/* "doesn't point to a type with bpf_refcount field": a struct without bpf_refcount. */
SEC("tc")
int f06_no_refcount_field(struct __sk_buff *skb)
{
	struct f06_plain *p = bpf_obj_new(struct f06_plain), *q;

	if (!p)
		return 0;
	q = bpf_refcount_acquire(p);
	if (q)
		bpf_obj_drop(q);
	bpf_obj_drop(p);
	return 0;
}

/* The new reference from bpf_refcount_acquire never dropped. */
SEC("tc")
int f06_result_leak(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	m = bpf_refcount_acquire(n);
	if (m)
		f06_sink = m->key;
	bpf_obj_drop(n);
	return 0;
}

/* One node in the tree and in the list: the tree gets the first reference, the list the
 * one from bpf_refcount_acquire. */
SEC("tc")
int f06_tree_and_list_ok(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	n->key = skb->len;
	bpf_spin_lock(&f06_lock);
	bpf_rbtree_add(&f06_root, &n->rn, f06_less);
	m = bpf_refcount_acquire(n);
	if (m)
		bpf_list_push_back(&f06_list, &m->ln);
	bpf_spin_unlock(&f06_lock);
	return 0;
}

/* The original owning reference dropped while the acquired one lives on, then dropped. */
SEC("tc")
int f06_drop_original_keep_copy_ok(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	m = bpf_refcount_acquire(n);
	bpf_obj_drop(n);
	if (!m)
		return 0;
	m->key = 3;
	bpf_obj_drop(m);
	return 0;
}

/* The original owning reference used after it was dropped (the copy does not keep the
 * original register alive). */
SEC("tc")
int f06_use_original_after_drop(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	m = bpf_refcount_acquire(n);
	bpf_obj_drop(n);
	n->key = 3;
	if (m)
		bpf_obj_drop(m);
	return 0;
}

/* bpf_rbtree_first under the lock gives a non-owning reference; bpf_refcount_acquire turns
 * it into an owning one that outlives the unlock. */
SEC("tc")
int f06_acquire_first_ok(struct __sk_buff *skb)
{
	struct bpf_rb_node *r;
	struct f06_node *m = NULL;

	bpf_spin_lock(&f06_lock);
	r = bpf_rbtree_first(&f06_root);
	if (r)
		m = bpf_refcount_acquire(container_of(r, struct f06_node, rn));
	bpf_spin_unlock(&f06_lock);
	if (m) {
		f06_sink = m->key;
		bpf_obj_drop(m);
	}
	return 0;
}

/* bpf_rbtree_first's result passed to bpf_refcount_acquire before its NULL check. */
SEC("tc")
int f06_acquire_first_unchecked(struct __sk_buff *skb)
{
	struct bpf_rb_node *r;
	struct f06_node *m;

	bpf_spin_lock(&f06_lock);
	r = bpf_rbtree_first(&f06_root);
	m = bpf_refcount_acquire(container_of(r, struct f06_node, rn));
	bpf_spin_unlock(&f06_lock);
	if (m)
		bpf_obj_drop(m);
	return 0;
}

/* The acquired copy pushed into the list after the lock was released. */
SEC("tc")
int f06_push_copy_without_lock(struct __sk_buff *skb)
{
	struct f06_node *n = bpf_obj_new(struct f06_node), *m;

	if (!n)
		return 0;
	bpf_spin_lock(&f06_lock);
	bpf_rbtree_add(&f06_root, &n->rn, f06_less);
	m = bpf_refcount_acquire(n);
	bpf_spin_unlock(&f06_lock);
	if (m)
		bpf_list_push_back(&f06_list, &m->ln);
	return 0;
}

char _license[] SEC("license") = "GPL";
