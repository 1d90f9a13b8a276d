// SPDX-License-Identifier: GPL-2.0
/*
 * f03_release_unacquired.bpf.c: rule family 3 of issue #12, releasing what was never
 * acquired: program arguments, stack and map addresses, values loaded from maps, pointers
 * walked from an acquired object, NULL, and references already released. Kernel:
 * check_kfunc_args() (KF_RELEASE: "must be referenced or trusted", "must be referenced when
 * passed to release function"; KF_ARG_PTR_TO_ALLOC_BTF_ID: "arg#0 expected pointer to
 * allocated object"), check_func_arg() for helpers with OBJ_RELEASE, release_reference().
 * Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f03_obj {
	__u64 key;
	__u64 val;
};

struct f03_slot {
	struct f03_obj __kptr *obj;
	__u64 cookie;
};

BPFKIT_ARRAY1(f03_map, struct f03_slot);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} f03_ring SEC(".maps");

__u64 f03_sink;

/* Acquire the tracepoint's task (trusted argument), release the acquired reference. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f03_task_arg_acquire_release_ok, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *t = bpf_task_acquire(task);

	if (t)
		bpf_task_release(t);
	return 0;
}

/* KF_RELEASE on the tracepoint's own argument, trusted but not referenced (check_kfunc_args:
 * "release kernel function bpf_task_release expects refcounted PTR_TO_BTF_ID"). */
SEC("tp_btf/task_newtask")
int BPF_PROG(f03_task_arg_released, struct task_struct *task, u64 clone_flags)
{
	bpf_task_release(task);
	return 0;
}

/* KF_RELEASE on a cgroup tracepoint argument. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f03_cgroup_arg_released, struct cgroup *cgrp, const char *path)
{
	bpf_cgroup_release(cgrp);
	return 0;
}

/* The same cgroup argument acquired first: the release matches the acquire. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f03_cgroup_arg_acquired_ok, struct cgroup *cgrp, const char *path)
{
	struct cgroup *c = bpf_cgroup_acquire(cgrp);

	if (c)
		bpf_cgroup_release(c);
	return 0;
}

/* bpf_obj_drop of a stack address (check_kfunc_args, release argument: "R1 must be
 * referenced or trusted"). */
SEC("tc")
int f03_drop_stack_object(struct __sk_buff *skb)
{
	struct f03_obj local = { .key = skb->len };

	bpfkit_barrier_var(local.key);
	bpf_obj_drop(&local);
	return 0;
}

/* bpf_obj_drop of a map value ("R1 must be referenced or trusted"). */
SEC("tc")
int f03_drop_map_value(struct __sk_buff *skb)
{
	struct f03_slot *v = slot0(&f03_map);

	if (!v)
		return 0;
	bpf_obj_drop(v);
	return 0;
}

/* bpf_obj_drop of a fresh bpf_obj_new object: acquired, then released. */
SEC("tc")
int f03_drop_new_object_ok(struct __sk_buff *skb)
{
	struct f03_obj *o = bpf_obj_new(struct f03_obj);

	if (!o)
		return 0;
	o->key = skb->len;
	bpf_obj_drop(o);
	return 0;
}

/* bpf_obj_drop of the object loaded (not exchanged) from the kptr field. */
SEC("tc")
int f03_drop_loaded_kptr(struct __sk_buff *skb)
{
	struct f03_slot *v = slot0(&f03_map);
	struct f03_obj *o;

	if (!v)
		return 0;
	o = v->obj;
	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* bpf_obj_drop of the object taken out with bpf_kptr_xchg (a reference). */
SEC("tc")
int f03_drop_exchanged_kptr_ok(struct __sk_buff *skb)
{
	struct f03_slot *v = slot0(&f03_map);
	struct f03_obj *o;

	if (!v)
		return 0;
	o = bpf_kptr_xchg(&v->obj, NULL);
	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* release_reference: the second bpf_obj_drop of the same object (its register no longer
 * holds a pointer after the first release). */
SEC("tc")
int f03_drop_twice(struct __sk_buff *skb)
{
	struct f03_obj *o = bpf_obj_new(struct f03_obj);

	if (!o)
		return 0;
	bpf_obj_drop(o);
	bpf_obj_drop(o);
	return 0;
}

/* KF_RELEASE of a pointer walked from an acquired task (task->group_leader is RCU-safe but
 * not referenced). */
SEC("tc")
int f03_release_walked_pointer(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_task_from_pid(1), *leader;

	if (!t)
		return 0;
	leader = t->group_leader;
	if (leader)
		bpf_task_release(leader);
	bpf_task_release(t);
	return 0;
}

/* The walked pointer acquired in its own right, then both released. */
SEC("tc")
int f03_acquire_walked_pointer_ok(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_task_from_pid(1), *leader;

	if (!t)
		return 0;
	leader = bpf_task_acquire(t->group_leader);
	if (leader)
		bpf_task_release(leader);
	bpf_task_release(t);
	return 0;
}

/* KF_RELEASE of a constant NULL. */
SEC("tc")
int f03_release_null(struct __sk_buff *skb)
{
	bpf_task_release(NULL);
	return 0;
}

/* Helper OBJ_RELEASE: bpf_sk_release of the skb's socket, never acquired
 * ("R1 must be referenced when passed to release function"). */
SEC("tc")
int f03_sk_release_ctx_socket(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 0;
}

/* Helper acquire/release pair: bpf_sk_lookup_tcp then bpf_sk_release. */
SEC("tc")
int f03_sk_lookup_release_ok(struct __sk_buff *skb)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;

	tuple.ipv4.dport = bpf_htons(80);
	sk = bpf_sk_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (sk)
		bpf_sk_release(sk);
	return 0;
}

/* Helper OBJ_RELEASE: bpf_ringbuf_submit of a map value instead of a reserved record. */
SEC("tc")
int f03_ringbuf_submit_map_value(struct __sk_buff *skb)
{
	struct f03_slot *v = slot0(&f03_map);

	if (!v)
		return 0;
	bpf_ringbuf_submit(&v->cookie, 0);
	return 0;
}

/* bpf_ringbuf_reserve then bpf_ringbuf_submit of the reserved record. */
SEC("tc")
int f03_ringbuf_reserve_submit_ok(struct __sk_buff *skb)
{
	__u64 *rec = bpf_ringbuf_reserve(&f03_ring, sizeof(*rec), 0);

	if (!rec)
		return 0;
	*rec = skb->len;
	bpf_ringbuf_submit(rec, 0);
	return 0;
}

/* Helper OBJ_RELEASE twice: the second bpf_ringbuf_discard of the same record. */
SEC("tc")
int f03_ringbuf_discard_twice(struct __sk_buff *skb)
{
	__u64 *rec = bpf_ringbuf_reserve(&f03_ring, sizeof(*rec), 0);

	if (!rec)
		return 0;
	bpf_ringbuf_discard(rec, 0);
	bpf_ringbuf_discard(rec, 0);
	return 0;
}

/* A global function gets its argument as plain memory, never a reference: the call with a
 * referenced object (btf_check_func_arg_match: "Caller passes invalid args into func#1"), and
 * the drop inside it. */
__noinline int f03_global_drop(struct f03_obj *o)
{
	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* The caller's owned object handed to that global function. */
SEC("tc")
int f03_release_in_global_func(struct __sk_buff *skb)
{
	struct f03_obj *o = bpf_obj_new(struct f03_obj);

	if (!o)
		return 0;
	f03_global_drop(o);
	return 0;
}

/* A static subprogram shares the caller's references: releasing there is the caller's
 * release. */
static __noinline int f03_static_drop(struct f03_obj *o)
{
	bpf_obj_drop(o);
	return 0;
}

/* The caller's owned object released by that static subprogram. */
SEC("tc")
int f03_release_in_static_func_ok(struct __sk_buff *skb)
{
	struct f03_obj *o = bpf_obj_new(struct f03_obj);

	if (!o)
		return 0;
	o->val = 1;
	return f03_static_drop(o);
}

/* bpf_obj_drop of a pointer into the middle of the object (offset 8): check_func_arg_reg_off,
 * "R1 must have zero offset when passed to release func or trusted arg to kfunc". */
SEC("tc")
int f03_drop_interior_pointer(struct __sk_buff *skb)
{
	struct f03_obj *o = bpf_obj_new(struct f03_obj);

	if (!o)
		return 0;
	bpf_obj_drop((struct f03_obj *)&o->val);
	return 0;
}

struct f03_mask_slot {
	struct bpf_cpumask __kptr *mask;
};

BPFKIT_ARRAY1(f03_mask_map, struct f03_mask_slot);

/* bpf_cpumask_release of a cpumask loaded (not exchanged) from a kptr, in tracing. */
SEC("tp_btf/sched_switch")
int BPF_PROG(f03_cpumask_release_loaded, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct f03_mask_slot *v = slot0(&f03_mask_map);
	struct bpf_cpumask *m;

	if (!v)
		return 0;
	m = v->mask;
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

/* The created cpumask released on both paths (stashed or not). */
SEC("tp_btf/sched_switch")
int BPF_PROG(f03_cpumask_create_release_ok, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct f03_mask_slot *v = slot0(&f03_mask_map);
	struct bpf_cpumask *m;

	if (!v)
		return 0;
	m = bpf_cpumask_create();
	if (!m)
		return 0;
	m = bpf_kptr_xchg(&v->mask, m);
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

/* bpf_cgroup_from_id's reference released with bpf_cgroup_release. */
SEC("tc")
int f03_cgroup_from_id_release_ok(struct __sk_buff *skb)
{
	struct cgroup *c = bpf_cgroup_from_id(skb->mark);

	if (c)
		bpf_cgroup_release(c);
	return 0;
}

/* A task acquired from bpf_task_from_pid released with bpf_cgroup_release (wrong release
 * kfunc for the type). */
SEC("tc")
int f03_task_released_as_cgroup(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (t)
		bpf_cgroup_release((struct cgroup *)t);
	return 0;
}

char _license[] SEC("license") = "GPL";
