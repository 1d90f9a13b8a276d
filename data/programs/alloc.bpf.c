// SPDX-License-Identifier: GPL-2.0
/*
 * alloc.bpf.c: bpf_obj_new / bpf_obj_drop and their per-CPU variants.
 *
 * Written for bpfkit. Each program's name says what it does with the
 * object; EXPECTED.tsv records the verdict and the mistake, if any.
 */
#include "bpfkit_alloc.h"

struct counter {
	__u64 hits;
	__u64 bytes;
};

struct pcpu_stat {
	__u64 packets;
	__u64 drops;
};

int sink;

/* Allocate, write, drop: the object is released on every path. */
SEC("tc")
int obj_new_drop_ok(struct __sk_buff *skb)
{
	struct counter *c;

	c = bpf_obj_new(struct counter);
	if (!c)
		return 0;
	c->hits = 1;
	c->bytes = skb->len;
	sink = c->bytes;
	bpf_obj_drop(c);
	return 0;
}

/* Allocate and forget: the reference is never released. */
SEC("tc")
int obj_new_leak(struct __sk_buff *skb)
{
	struct counter *c;

	c = bpf_obj_new(struct counter);
	if (!c)
		return 0;
	c->bytes = skb->len;
	sink = c->bytes;
	return 0;
}

/* Dropped only when the packet is long: leaks on the other path. */
SEC("tc")
int obj_new_leak_on_short_packet(struct __sk_buff *skb)
{
	struct counter *c;

	c = bpf_obj_new(struct counter);
	if (!c)
		return 0;
	c->bytes = skb->len;
	if (skb->len > 64) {
		bpf_obj_drop(c);
		return 1;
	}
	sink = 1;
	return 0;
}

/* Reads a field after the object was dropped. */
SEC("tc")
int obj_use_after_drop(struct __sk_buff *skb)
{
	struct counter *c;

	c = bpf_obj_new(struct counter);
	if (!c)
		return 0;
	c->bytes = skb->len;
	bpf_obj_drop(c);
	sink = c->bytes;
	return 0;
}

/* Drops the same object twice. */
SEC("tc")
int obj_drop_twice(struct __sk_buff *skb)
{
	struct counter *c;

	c = bpf_obj_new(struct counter);
	if (!c)
		return 0;
	c->hits = skb->len;
	bpf_obj_drop(c);
	bpf_obj_drop(c);
	return 0;
}

/* Several objects, dropped on each branch of a loop: accepted. */
SEC("tc")
int obj_new_in_loop_ok(struct __sk_buff *skb)
{
	struct counter *c;
	__u32 i, len = skb->len;

	for (i = 0; i < 8; i++) {
		c = bpf_obj_new(struct counter);
		if (!c)
			return 0;
		if (len & (1u << i))
			c->hits = i;
		else
			c->bytes = len >> i;
		sink += c->hits + c->bytes;
		bpf_obj_drop(c);
	}
	return 0;
}

/* A per-CPU object: allocated and dropped with the percpu kfuncs. Its
 * per-CPU data can only be reached once it is stashed (see kptr_stash.bpf.c). */
SEC("tc")
int percpu_obj_new_drop_ok(struct __sk_buff *skb)
{
	struct pcpu_stat __percpu_kptr *p;

	p = bpf_percpu_obj_new(struct pcpu_stat);
	if (!p)
		return 0;
	sink = skb->len;
	bpf_percpu_obj_drop(p);
	return 0;
}

/* A per-CPU object that is dropped only for short packets. */
SEC("tc")
int percpu_obj_leak_on_long_packet(struct __sk_buff *skb)
{
	struct pcpu_stat __percpu_kptr *p;

	p = bpf_percpu_obj_new(struct pcpu_stat);
	if (!p)
		return 0;
	if (skb->len > 1000)
		return 1;
	bpf_percpu_obj_drop(p);
	return 0;
}

/* A per-CPU object dropped twice through the percpu kfunc. */
SEC("tc")
int percpu_obj_drop_twice(struct __sk_buff *skb)
{
	struct pcpu_stat __percpu_kptr *p;

	p = bpf_percpu_obj_new(struct pcpu_stat);
	if (!p)
		return 0;
	bpf_percpu_obj_drop(p);
	bpf_percpu_obj_drop(p);
	return 0;
}

char _license[] SEC("license") = "GPL";
