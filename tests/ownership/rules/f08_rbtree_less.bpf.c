// SPDX-License-Identifier: GPL-2.0
/*
 * f08_rbtree_less.bpf.c: rule family 8 of issue #12, the less() callback of bpf_rbtree_add.
 * The verifier checks the callback as a subprogram whose two arguments are non-owning
 * references to the tree's nodes, with the tree's lock still held (in_rbtree_lock_required_cb):
 * so helpers and most kfuncs are "function calls are not allowed while holding a lock"
 * (check_helper_call / check_kfunc_call), the graph kfuncs allowed under a lock have their
 * own check ("bpf_rbtree_remove not allowed in rbtree cb"), and the return value must lie in
 * [0, 1] (prepare_func_exit: the callback's retval range). Node reads are bounded by the node's
 * type (btf_struct_access). Kernel: set_rbtree_add_callback_state(), check_kfunc_args().
 * Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f08_node {
	__u64 key;
	__u64 weight;
	struct bpf_rb_node rn;
};

private(F08) struct bpf_spin_lock f08_lock;
private(F08) struct bpf_rb_root f08_root __contains(f08_node, rn);

private(F08B) struct bpf_spin_lock f08_other_lock;
private(F08B) struct bpf_rb_root f08_other_root __contains(f08_node, rn);

__u64 f08_sink;

#define F08_ADD(name, less)							\
SEC("tc")									\
int name(struct __sk_buff *skb)							\
{										\
	struct f08_node *n = bpf_obj_new(struct f08_node);			\
										\
	if (!n)									\
		return 0;							\
	n->key = skb->len;							\
	bpf_spin_lock(&f08_lock);						\
	bpf_rbtree_add(&f08_root, &n->rn, less);				\
	bpf_spin_unlock(&f08_lock);						\
	return 0;								\
}

static bool f08_less_key(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f08_node *x = container_of(a, struct f08_node, rn);
	struct f08_node *y = container_of(b, struct f08_node, rn);

	return x->key < y->key;
}

static bool f08_less_locks(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f08_node *x = container_of(a, struct f08_node, rn);
	struct f08_node *y = container_of(b, struct f08_node, rn);
	bool r;

	bpf_spin_lock(&f08_other_lock);
	r = x->key < y->key;
	bpf_spin_unlock(&f08_other_lock);
	return r;
}

static bool f08_less_removes(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct bpf_rb_node *gone = bpf_rbtree_remove(&f08_root, a);

	if (gone)
		bpf_obj_drop(container_of(gone, struct f08_node, rn));
	return false;
}

static bool f08_less_adds(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f08_node *n = bpf_obj_new(struct f08_node);

	if (n)
		bpf_rbtree_add(&f08_other_root, &n->rn, f08_less_key);
	return false;
}

static bool f08_less_first(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct bpf_rb_node *f = bpf_rbtree_first(&f08_root);

	return f == a;
}

static bool f08_less_rcu(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return a < b;
}

static bool f08_less_drops(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	bpf_obj_drop(container_of(a, struct f08_node, rn));
	return true;
}

static bool f08_less_writes(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f08_node *x = container_of(a, struct f08_node, rn);
	struct f08_node *y = container_of(b, struct f08_node, rn);

	x->weight++;
	return x->key < y->key;
}

static bool f08_less_allocates(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f08_node *n = bpf_obj_new(struct f08_node);

	if (n)
		bpf_obj_drop(n);
	return a < b;
}

static bool f08_less_leaks(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f08_node *n = bpf_obj_new(struct f08_node);

	return n != NULL;
}

static __noinline bool f08_less_wide_impl(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return a < b;
}

/* Declared to return long, passed where bool (*)(...) is expected: returns 0..7. */
static long f08_less_returns_wide(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f08_node *x = container_of(a, struct f08_node, rn);

	return x->key & 7;
}

static bool f08_less_helper(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return bpf_ktime_get_ns() & 1;
}

static bool f08_less_past_node(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return *(volatile __u64 *)((char *)a + 32) < 5;
}

/* The plain comparison: reads the two nodes' keys. */
F08_ADD(f08_less_reads_keys_ok, f08_less_key)

/* less() takes another lock (the tree's lock is held while less() runs). */
F08_ADD(f08_less_takes_lock, f08_less_locks)

/* less() removes a node ("bpf_rbtree_remove not allowed in rbtree cb"). */
F08_ADD(f08_less_removes_node, f08_less_removes)

/* bpf_rbtree_add inside less() (of a fresh node into another tree). */
F08_ADD(f08_less_adds_node, f08_less_adds)

/* bpf_rbtree_first inside less(). */
F08_ADD(f08_less_peeks_first, f08_less_first)

/* less() takes and drops the RCU read lock. */
F08_ADD(f08_less_rcu_lock, f08_less_rcu)

/* less() drops one of its arguments (non-owning references are not releasable). */
F08_ADD(f08_less_drops_arg, f08_less_drops)

/* less() writes a plain field of a node (non-owning references to allocated objects are
 * writable). */
F08_ADD(f08_less_writes_field, f08_less_writes)

/* less() allocates and frees an object of its own. */
F08_ADD(f08_less_allocates_and_drops, f08_less_allocates)

/* less() allocates an object and leaks it (check_reference_leak at the callback's exit). */
F08_ADD(f08_less_leaks_object, f08_less_leaks)

/* less() returns a value outside [0, 1] (callback retval range). */
F08_ADD(f08_less_returns_wide_value, (void *)f08_less_returns_wide)

/* less() calls a helper (bpf_ktime_get_ns). */
F08_ADD(f08_less_calls_helper, f08_less_helper)

/* less() reads 8 bytes past the end of the node (the node's type bounds). */
F08_ADD(f08_less_reads_past_node, f08_less_past_node)

/* bpf_rbtree_add with a less() that is a global-looking noinline static subprogram. */
F08_ADD(f08_less_static_noinline_ok, f08_less_wide_impl)

/* bpf_rbtree_add with the plain less() but outside the lock ("bpf_spin_lock ... must be held
 * for bpf_rb_root"). */
SEC("tc")
int f08_add_without_lock(struct __sk_buff *skb)
{
	struct f08_node *n = bpf_obj_new(struct f08_node);

	if (!n)
		return 0;
	bpf_rbtree_add(&f08_root, &n->rn, f08_less_key);
	return 0;
}

/* bpf_rbtree_add into a tree under the other tree's lock. */
SEC("tc")
int f08_add_under_wrong_lock(struct __sk_buff *skb)
{
	struct f08_node *n = bpf_obj_new(struct f08_node);

	if (!n)
		return 0;
	bpf_spin_lock(&f08_other_lock);
	bpf_rbtree_add(&f08_root, &n->rn, f08_less_key);
	bpf_spin_unlock(&f08_other_lock);
	return 0;
}

static bool f08_less_tiebreak(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct f08_node *x = container_of(a, struct f08_node, rn);
	struct f08_node *y = container_of(b, struct f08_node, rn);

	if (x->key != y->key)
		return x->key < y->key;
	return x->weight < y->weight;
}

/* A less() with a tie-break on a second field. */
F08_ADD(f08_less_tiebreak_ok, f08_less_tiebreak)

/* Add, take the first node and remove it under the lock; drop it after the unlock. */
SEC("tc")
int f08_add_first_remove_ok(struct __sk_buff *skb)
{
	struct f08_node *n = bpf_obj_new(struct f08_node);
	struct bpf_rb_node *r;

	if (!n)
		return 0;
	n->key = skb->len;
	bpf_spin_lock(&f08_lock);
	bpf_rbtree_add(&f08_root, &n->rn, f08_less_key);
	r = bpf_rbtree_first(&f08_root);
	if (r)
		r = bpf_rbtree_remove(&f08_root, r);
	bpf_spin_unlock(&f08_lock);
	if (r)
		bpf_obj_drop(container_of(r, struct f08_node, rn));
	return 0;
}

char _license[] SEC("license") = "GPL";
