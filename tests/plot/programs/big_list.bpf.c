// SPDX-License-Identifier: GPL-2.0
/*
 * big_list.bpf.c: loop-heavy bpf_list push/pop programs whose level-2 verifier logs are
 * tens of thousands of lines with hundreds of reference ids: the "big real program" input
 * of bpfkit's figure layout tests (tests/plot/test_layout.py loads them with bpfkit's loader
 * at log level 2 on the running kernel).
 *
 * Written for bpfkit.
 */
#include "bpfkit_alloc.h"

struct item {
	__u64 key;
	__u32 seen;
	struct bpf_list_node node;
};

private(L) struct bpf_spin_lock lock;
private(L) struct bpf_list_head items __contains(item, node);

__u64 total;

/* Allocate, push, pop and drop an item per iteration; the packet length decides per item
 * whether it is counted twice, so the verifier walks both sides every iteration. */
SEC("tc")
int list_churn_ok(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct item *it;
	__u64 acc = 0;
	__u32 i;

	for (i = 0; i < 200; i++) {
		it = bpf_obj_new(struct item);
		if (!it)
			break;
		it->key = i + skb->len;
		bpf_spin_lock(&lock);
		bpf_list_push_back(&items, &it->node);
		n = bpf_list_pop_front(&items);
		bpf_spin_unlock(&lock);
		if (!n)
			continue;
		it = container_of(n, struct item, node);
		if (it->key & 1)
			acc += it->key;
		else
			acc += 2;
		bpf_obj_drop(it);
	}
	total = acc;
	return 0;
}

/* The same churn, but an item popped at a late iteration with an odd key is kept:
 * the verifier reports the leak only after walking the loop. */
SEC("tc")
int list_churn_leak(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct item *it;
	__u64 acc = 0;
	__u32 i;

	for (i = 0; i < 120; i++) {
		it = bpf_obj_new(struct item);
		if (!it)
			break;
		it->key = i + skb->len;
		bpf_spin_lock(&lock);
		bpf_list_push_back(&items, &it->node);
		n = bpf_list_pop_front(&items);
		bpf_spin_unlock(&lock);
		if (!n)
			continue;
		it = container_of(n, struct item, node);
		acc += it->key;
		if (i == 100 && (it->key & 1))
			return 1;	/* forgot bpf_obj_drop(it) */
		bpf_obj_drop(it);
	}
	total = acc;
	return 0;
}

char _license[] SEC("license") = "GPL";
