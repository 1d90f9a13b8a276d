// SPDX-License-Identifier: GPL-2.0
/*
 * f02_kptr_load.bpf.c: rule family 2 of issue #12, what a plain load of a __kptr field gives.
 * Kernel: btf_ld_kptr_type() (maybe-NULL always; MEM_RCU when rcu_safe_kptr() and in_rcu_cs(),
 * else PTR_UNTRUSTED), in_rcu_cs() (non-sleepable programs are in an RCU section; `syscall`
 * programs are sleepable), check_kfunc_args() ("must be a rcu pointer", "must be referenced
 * when passed to release function"), the bpf_rcu_read_unlock() invalidation of MEM_RCU
 * registers, and __kptr_untrusted fields. Written for bpfkit; comments name the rule aimed
 * at, never the verdict.
 */
#include "rules.h"

struct f02_plain {
	__u64 key;
	__u64 val;
};

struct f02_counted {
	__u64 key;
	struct bpf_refcount rc;
};

struct f02_holder {
	struct f02_plain __kptr *plain;
	struct f02_counted __kptr *counted;
	struct task_struct __kptr *task;
	struct cgroup __kptr *cgrp;
	struct task_struct __kptr_untrusted *seen;
};

BPFKIT_ARRAY1(f02_map, struct f02_holder);

/* The cpumask kptr has a value type of its own: this kernel's BTF loader refuses an object
 * whose struct mixes kptrs to fully defined kernel structs (task_struct, cgroup, emitted
 * because programs read their fields) with a kptr to a struct only forward-declared in the
 * object (bpf_cpumask); see f05_destructors.bpf.c. */
struct f02_mask_holder {
	struct bpf_cpumask __kptr *mask;
};

BPFKIT_ARRAY1(f02_mask_map, struct f02_mask_holder);

__u64 f02_sink;

/* Stash a fresh plain object (bpf_obj_new also makes clang emit the full struct into the
 * object's BTF; a kptr to a struct the object only forward-declares is refused). */
SEC("tc")
int f02_plain_stash_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct f02_plain *p;

	if (!h)
		return 0;
	p = bpf_obj_new(struct f02_plain);
	if (!p)
		return 0;
	p->val = skb->len;
	p = bpf_kptr_xchg(&h->plain, p);
	if (p)
		bpf_obj_drop(p);
	return 0;
}

/* Stash a fresh refcounted object. */
SEC("tc")
int f02_counted_stash_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct f02_counted *c;

	if (!h)
		return 0;
	c = bpf_obj_new(struct f02_counted);
	if (!c)
		return 0;
	c = bpf_kptr_xchg(&h->counted, c);
	if (c)
		bpf_obj_drop(c);
	return 0;
}

/* Stash a fresh cpumask (cpumask kfuncs: tracing and syscall programs). */
SEC("syscall")
int f02_mask_stash_ok(void *ctx)
{
	struct f02_mask_holder *h = slot0(&f02_mask_map);
	struct bpf_cpumask *m;

	if (!h)
		return 0;
	m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_set_cpu(0, m);
	m = bpf_kptr_xchg(&h->mask, m);
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

/* btf_ld_kptr_type: a task kptr loaded in a tc program (in_rcu_cs) is rcu_ptr_or_null_;
 * after the NULL check its fields can be read. */
SEC("tc")
int f02_task_read_checked_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->task;
	if (t)
		f02_sink = t->pid;
	return 0;
}

/* btf_ld_kptr_type: the load is maybe-NULL; a field read before the check is
 * "invalid mem access 'rcu_ptr_or_null_'". */
SEC("tc")
int f02_task_read_unchecked(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->task;
	f02_sink = t->pid;
	return 0;
}

/* KF_RCU: bpf_task_acquire of the RCU-protected load (non-sleepable tc), then released. */
SEC("tc")
int f02_task_acquire_rcu_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->task;
	if (!t)
		return 0;
	t = bpf_task_acquire(t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* check_kfunc_args: a plain kptr load is never referenced (nor trusted): bpf_task_release of
 * it is "R1 must be referenced or trusted" (release arguments are trusted arguments). */
SEC("tc")
int f02_task_release_loaded(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->task;
	if (t)
		bpf_task_release(t);
	return 0;
}

/* in_rcu_cs: a sleepable syscall program outside bpf_rcu_read_lock loads an untrusted
 * pointer; KF_RCU bpf_task_acquire wants "R1 must be a rcu pointer". */
SEC("syscall")
int f02_task_acquire_sleepable_no_lock(void *ctx)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->task;
	if (!t)
		return 0;
	t = bpf_task_acquire(t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* in_rcu_cs: the same sleepable program with the load inside bpf_rcu_read_lock(). */
SEC("syscall")
int f02_task_acquire_sleepable_locked_ok(void *ctx)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	bpf_rcu_read_lock();
	t = h->task;
	if (t)
		t = bpf_task_acquire(t);
	bpf_rcu_read_unlock();
	if (t)
		bpf_task_release(t);
	return 0;
}

/* bpf_rcu_read_unlock makes every MEM_RCU register untrusted: acquiring the pointer loaded
 * inside the section after the unlock is "R1 must be a rcu pointer". */
SEC("syscall")
int f02_task_acquire_after_unlock(void *ctx)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	bpf_rcu_read_lock();
	t = h->task;
	bpf_rcu_read_unlock();
	if (!t)
		return 0;
	t = bpf_task_acquire(t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* check_return / process_bpf_exit: "BPF_EXIT instruction in main prog cannot be used inside
 * bpf_rcu_read_lock-ed region" (bpf_rcu_read_unlock missing). */
SEC("syscall")
int f02_rcu_lock_unbalanced(void *ctx)
{
	struct f02_holder *h = slot0(&f02_map);

	if (!h)
		return 0;
	bpf_rcu_read_lock();
	if (h->task)
		f02_sink = 1;
	return 0;
}

/* rcu_safe_kptr / btf_ld_kptr_type: the plain load of a program-allocated type without
 * bpf_refcount, handed to bpf_obj_drop ("R1 must be referenced or trusted": a load is never
 * a reference). */
SEC("tc")
int f02_plain_obj_drop_loaded(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct f02_plain *p;

	if (!h)
		return 0;
	p = h->plain;
	if (p)
		bpf_obj_drop(p);
	return 0;
}

/* The same load read after its NULL check. */
SEC("tc")
int f02_plain_obj_read_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct f02_plain *p;

	if (!h)
		return 0;
	p = h->plain;
	if (p)
		f02_sink = p->val;
	return 0;
}

/* check_ptr_to_btf_access: writing through the plain load of a local object whose type has
 * no bpf_refcount (not rcu_safe_kptr). */
SEC("tc")
int f02_plain_obj_write_loaded(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct f02_plain *p;

	if (!h)
		return 0;
	p = h->plain;
	if (p)
		p->val = 7;
	return 0;
}

/* rcu_safe_kptr: a refcounted local type; in tc the load is MEM_RCU|MEM_ALLOC, and
 * bpf_refcount_acquire of it gives a new reference (maybe NULL), dropped again. */
SEC("tc")
int f02_counted_refcount_acquire_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct f02_counted *c;

	if (!h)
		return 0;
	c = h->counted;
	if (!c)
		return 0;
	c = bpf_refcount_acquire(c);
	if (c)
		bpf_obj_drop(c);
	return 0;
}

/* The same refcounted load in a sleepable program without bpf_rcu_read_lock: untrusted, so
 * not an owning or non-owning reference for bpf_refcount_acquire. */
SEC("syscall")
int f02_counted_refcount_acquire_sleepable(void *ctx)
{
	struct f02_holder *h = slot0(&f02_map);
	struct f02_counted *c;

	if (!h)
		return 0;
	c = h->counted;
	if (!c)
		return 0;
	c = bpf_refcount_acquire(c);
	if (c)
		bpf_obj_drop(c);
	return 0;
}

/* A write through the MEM_RCU|MEM_ALLOC refcounted load (tc). */
SEC("tc")
int f02_counted_write_rcu_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct f02_counted *c;

	if (!h)
		return 0;
	c = h->counted;
	if (c)
		c->key = skb->len;
	return 0;
}

/* KF_RCU cpumask query on the RCU-protected cpumask load (non-sleepable tp_btf). */
SEC("tp_btf/sched_switch")
int BPF_PROG(f02_mask_test_rcu_ok, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct f02_mask_holder *h = slot0(&f02_mask_map);
	struct bpf_cpumask *m;

	if (!h)
		return 0;
	m = h->mask;
	if (m)
		f02_sink = bpf_cpumask_test_cpu(0, (const struct cpumask *)m);
	return 0;
}

/* The same query in a sleepable program outside an RCU section: "R2 must be a rcu pointer". */
SEC("syscall")
int f02_mask_test_sleepable_no_lock(void *ctx)
{
	struct f02_mask_holder *h = slot0(&f02_mask_map);
	struct bpf_cpumask *m;

	if (!h)
		return 0;
	m = h->mask;
	if (m)
		f02_sink = bpf_cpumask_test_cpu(0, (const struct cpumask *)m);
	return 0;
}

/* bpf_cgroup_acquire (KF_RCU) of the cgroup kptr loaded in tc. */
SEC("tc")
int f02_cgroup_acquire_rcu_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct cgroup *cg;

	if (!h)
		return 0;
	cg = h->cgrp;
	if (!cg)
		return 0;
	cg = bpf_cgroup_acquire(cg);
	if (cg)
		bpf_cgroup_release(cg);
	return 0;
}

/* The acquired cgroup of the previous program is never released: a leak. */
SEC("tc")
int f02_cgroup_acquire_leak(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct cgroup *cg;

	if (!h)
		return 0;
	cg = h->cgrp;
	if (!cg)
		return 0;
	cg = bpf_cgroup_acquire(cg);
	if (cg)
		f02_sink = cg->level;
	return 0;
}

/* __kptr_untrusted: the load is untrusted even in tc (no RCU for unreferenced kptrs);
 * bpf_task_acquire of it wants "R1 must be a rcu pointer". */
SEC("tc")
int f02_untrusted_field_acquire(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->seen;
	if (!t)
		return 0;
	t = bpf_task_acquire(t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* __kptr_untrusted: reading the pointee after the NULL check is a probe read. */
SEC("tc")
int f02_untrusted_field_read_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->seen;
	if (t)
		f02_sink = t->tgid;
	return 0;
}

/* __kptr_untrusted: the load is maybe-NULL too ("untrusted_ptr_or_null_"). */
SEC("tc")
int f02_untrusted_field_read_unchecked(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->seen;
	f02_sink = t->tgid;
	return 0;
}

/* tp_btf is non-sleepable tracing: the task kptr load is RCU-protected there too. */
SEC("tp_btf/sched_switch")
int BPF_PROG(f02_task_acquire_tp_btf_ok, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = h->task;
	if (!t)
		return 0;
	t = bpf_task_acquire(t);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* Taking the object out with bpf_kptr_xchg gives a referenced pointer that may be released. */
SEC("tc")
int f02_task_xchg_release_ok(struct __sk_buff *skb)
{
	struct f02_holder *h = slot0(&f02_map);
	struct task_struct *t;

	if (!h)
		return 0;
	t = bpf_kptr_xchg(&h->task, NULL);
	if (t)
		bpf_task_release(t);
	return 0;
}

char _license[] SEC("license") = "GPL";
