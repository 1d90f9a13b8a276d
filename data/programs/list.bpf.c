// SPDX-License-Identifier: GPL-2.0
/*
 * list.bpf.c: bpf_list_head collections of program-allocated objects, in a
 * global (private section) and in a map value, each under its bpf_spin_lock;
 * an allocated object that itself holds a list (nesting).
 *
 * Written for bpfkit.
 */
#include "bpfkit_alloc.h"

struct job {
	__u64 id;
	__u32 prio;
	struct bpf_list_node node;
	struct bpf_list_node alt;	/* a second node: pushing it where `node` is expected is wrong */
};

/* A queue that owns its own list of jobs (an allocated object holding a list). */
struct batch {
	struct bpf_list_node node;
	struct bpf_spin_lock lock;
	struct bpf_list_head jobs __contains(job, node);
	__u32 count;
};

private(Q) struct bpf_spin_lock q_lock;
private(Q) struct bpf_list_head q_jobs __contains(job, node);

private(B) struct bpf_spin_lock b_lock;
private(B) struct bpf_list_head b_batches __contains(batch, node);

struct queue_value {
	struct bpf_spin_lock lock;
	struct bpf_list_head jobs __contains(job, node);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct queue_value);
} queues SEC(".maps");

__u64 last_id;

/* Push a job under the lock, pop one, drop it. */
SEC("tc")
int list_push_pop_ok(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct job *j;

	j = bpf_obj_new(struct job);
	if (!j)
		return 0;
	j->id = skb->len;
	bpf_spin_lock(&q_lock);
	bpf_list_push_back(&q_jobs, &j->node);
	n = bpf_list_pop_front(&q_jobs);
	bpf_spin_unlock(&q_lock);
	if (!n)
		return 0;
	j = container_of(n, struct job, node);
	last_id = j->id;
	bpf_obj_drop(j);
	return 0;
}

/* Push front and pop back in the list held by a map value. */
SEC("tc")
int map_list_push_front_pop_back_ok(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct queue_value *q;
	__u32 key = skb->len & 3;
	struct job *j;

	q = bpf_map_lookup_elem(&queues, &key);
	if (!q)
		return 0;
	j = bpf_obj_new(struct job);
	if (!j)
		return 0;
	j->prio = skb->priority;
	bpf_spin_lock(&q->lock);
	bpf_list_push_front(&q->jobs, &j->node);
	n = bpf_list_pop_back(&q->jobs);
	bpf_spin_unlock(&q->lock);
	if (n)
		bpf_obj_drop(container_of(n, struct job, node));
	return 0;
}

/* Pushes without taking the lock that protects the list. */
SEC("tc")
int list_push_without_lock(struct __sk_buff *skb)
{
	struct job *j;

	j = bpf_obj_new(struct job);
	if (!j)
		return 0;
	j->id = skb->len;
	bpf_list_push_back(&q_jobs, &j->node);
	return 0;
}

/* Pops a job and returns without dropping it. */
SEC("tc")
int list_pop_leak(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct job *j;

	bpf_spin_lock(&q_lock);
	n = bpf_list_pop_front(&q_jobs);
	bpf_spin_unlock(&q_lock);
	if (!n)
		return 0;
	j = container_of(n, struct job, node);
	last_id = j->id;
	return 0;
}

/* After the push, `j` is a non-owning reference valid only until unlock. */
SEC("tc")
int list_non_owning_after_unlock(struct __sk_buff *skb)
{
	struct job *j;

	j = bpf_obj_new(struct job);
	if (!j)
		return 0;
	bpf_spin_lock(&q_lock);
	bpf_list_push_back(&q_jobs, &j->node);
	j->prio = 1;	/* fine: non-owning reference inside the critical section */
	bpf_spin_unlock(&q_lock);
	j->prio = 2;	/* wrong: the reference died with the unlock */
	return 0;
}

/* Pushes the job through `alt`, but the list __contains(job, node). */
SEC("tc")
int list_push_wrong_node(struct __sk_buff *skb)
{
	struct job *j;

	j = bpf_obj_new(struct job);
	if (!j)
		return 0;
	bpf_spin_lock(&q_lock);
	bpf_list_push_back(&q_jobs, &j->alt);
	bpf_spin_unlock(&q_lock);
	return 0;
}

/* Uses the job after pushing it and popping it back and dropping it. */
SEC("tc")
int list_pop_use_after_drop(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct job *j;

	bpf_spin_lock(&q_lock);
	n = bpf_list_pop_back(&q_jobs);
	bpf_spin_unlock(&q_lock);
	if (!n)
		return 0;
	j = container_of(n, struct job, node);
	bpf_obj_drop(j);
	last_id = j->id;
	return 0;
}

/* A batch (which owns a list of jobs) gets a job, then goes into the global list. */
SEC("tc")
int nested_batch_list_ok(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct batch *b;
	struct job *j;

	b = bpf_obj_new(struct batch);
	if (!b)
		return 0;
	j = bpf_obj_new(struct job);
	if (!j) {
		bpf_obj_drop(b);
		return 0;
	}
	j->id = skb->len;
	bpf_spin_lock(&b->lock);
	bpf_list_push_back(&b->jobs, &j->node);
	b->count = 1;
	bpf_spin_unlock(&b->lock);

	bpf_spin_lock(&b_lock);
	bpf_list_push_back(&b_batches, &b->node);
	n = bpf_list_pop_front(&b_batches);
	bpf_spin_unlock(&b_lock);
	if (n)
		bpf_obj_drop(container_of(n, struct batch, node));
	return 0;
}

/* Drains up to 16 jobs from the map's list, branching on priority. */
SEC("tc")
int map_list_drain_loop_ok(struct __sk_buff *skb)
{
	struct bpf_list_node *n;
	struct queue_value *q;
	__u32 key = 0, i;
	__u64 acc = 0;
	struct job *j;

	q = bpf_map_lookup_elem(&queues, &key);
	if (!q)
		return 0;
	for (i = 0; i < 16; i++) {
		bpf_spin_lock(&q->lock);
		n = bpf_list_pop_front(&q->jobs);
		bpf_spin_unlock(&q->lock);
		if (!n)
			break;
		j = container_of(n, struct job, node);
		if (j->prio > 3)
			acc += j->id * 2;
		else
			acc += j->id;
		bpf_obj_drop(j);
	}
	last_id = acc;
	return 0;
}

char _license[] SEC("license") = "GPL";
