// SPDX-License-Identifier: GPL-2.0
/*
 * f04_kfunc_trust.bpf.c: rule family 4 of issue #12, the trusted / RCU argument rules of
 * kfuncs. Kernel: check_kfunc_args() (KF_TRUSTED_ARGS "must be referenced or trusted",
 * KF_RCU "must be a rcu pointer", "Possibly NULL pointer passed to trusted arg%d",
 * btf_struct_ids_match() for the argument's BTF type), check_kfunc_call() (KF_RET_NULL makes
 * R0 maybe-NULL; "calling kernel function %s is not allowed" when the program type has no
 * kfunc set holding it), check_ptr_to_btf_access() (BTF_TYPE_SAFE_RCU / trusted fields of a
 * walked pointer). (`___suffix` flavours: f04b_kfunc_flavours.bpf.c.) Written for bpfkit;
 * comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

__u64 f04_sink;

/* KF_RET_NULL: bpf_task_from_pid's result read only after the NULL check. */
SEC("tc")
int f04_from_pid_checked_ok(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_task_from_pid(skb->mark);

	if (!t)
		return 0;
	f04_sink = t->tgid;
	bpf_task_release(t);
	return 0;
}

/* KF_RET_NULL: a field of bpf_task_from_pid's result before any check
 * ("invalid mem access 'ptr_or_null_'"). */
SEC("tc")
int f04_from_pid_unchecked_read(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_task_from_pid(skb->mark);

	f04_sink = t->tgid;
	if (t)
		bpf_task_release(t);
	return 0;
}

/* KF_RCU + NULL: the maybe-NULL result passed straight to bpf_task_acquire
 * ("Possibly NULL pointer passed to trusted arg0"). */
SEC("tc")
int f04_acquire_maybe_null(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_task_from_pid(skb->mark), *u;

	u = bpf_task_acquire(t);
	if (u)
		bpf_task_release(u);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* KF_RELEASE of a maybe-NULL reference. */
SEC("tc")
int f04_release_maybe_null(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_task_from_pid(skb->mark);

	bpf_task_release(t);
	return 0;
}

/* BTF_TYPE_SAFE_RCU: task->real_parent, walked in a non-sleepable program, is an RCU pointer
 * that KF_RCU bpf_task_acquire takes. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04_acquire_rcu_field_ok, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *p = bpf_task_acquire(task->real_parent);

	if (p)
		bpf_task_release(p);
	return 0;
}

/* check_ptr_to_btf_access: task->last_wakee is not an RCU-safe field; the walked pointer is
 * neither trusted nor RCU ("R1 must be a rcu pointer"). */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04_acquire_unsafe_field, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *p = bpf_task_acquire(task->last_wakee);

	if (p)
		bpf_task_release(p);
	return 0;
}

/* KF_TRUSTED_ARGS: bpf_cpumask_acquire of a cpumask it just created (referenced). */
SEC("syscall")
int f04_cpumask_acquire_created_ok(void *ctx)
{
	struct bpf_cpumask *m = bpf_cpumask_create(), *n;

	if (!m)
		return 0;
	n = bpf_cpumask_acquire(m);
	bpf_cpumask_release(n);
	bpf_cpumask_release(m);
	return 0;
}

struct f04_mask_slot {
	struct bpf_cpumask __kptr *mask;
};

BPFKIT_ARRAY1(f04_mask_map, struct f04_mask_slot);

/* KF_TRUSTED_ARGS: bpf_cpumask_acquire of an RCU-protected kptr load (RCU is not trusted:
 * "R1 must be referenced or trusted"). */
SEC("tp_btf/sched_switch")
int BPF_PROG(f04_cpumask_acquire_rcu_load, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct f04_mask_slot *v = slot0(&f04_mask_map);
	struct bpf_cpumask *m;

	if (!v)
		return 0;
	m = v->mask;
	if (!m)
		return 0;
	m = bpf_cpumask_acquire(m);
	bpf_cpumask_release(m);
	return 0;
}

/* Program types: the cpumask kfuncs are registered for tracing, struct_ops and syscall
 * programs, not tc ("calling kernel function bpf_cpumask_create is not allowed"). */
SEC("tc")
int f04_cpumask_in_tc(struct __sk_buff *skb)
{
	struct bpf_cpumask *m = bpf_cpumask_create();

	if (m)
		bpf_cpumask_release(m);
	return 0;
}

/* Program types: kprobe programs have no task kfuncs. */
SEC("kprobe/do_nanosleep")
int f04_task_kfunc_in_kprobe(struct pt_regs *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (t)
		bpf_task_release(t);
	return 0;
}

/* Program types: nor kretprobe programs. */
SEC("kretprobe/do_nanosleep")
int f04_task_kfunc_in_kretprobe(struct pt_regs *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (t)
		bpf_task_release(t);
	return 0;
}

/* Program types: bpf_rcu_read_lock/unlock are in the kfunc set common to all program types. */
SEC("kprobe/do_nanosleep")
int f04_rcu_lock_in_kprobe_ok(struct pt_regs *ctx)
{
	bpf_rcu_read_lock();
	f04_sink++;
	bpf_rcu_read_unlock();
	return 0;
}

/* Program types: raw_tp (BPF_PROG_TYPE_RAW_TRACEPOINT) is not tracing: no task kfuncs. */
SEC("raw_tp/sched_switch")
int f04_task_kfunc_in_raw_tp(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (t)
		bpf_task_release(t);
	return 0;
}

/* struct cpumask vs struct bpf_cpumask: a bpf_cpumask is a cpumask at offset 0, so it may be
 * passed where `const struct cpumask *` is expected (btf_struct_ids_match walks member 0). */
SEC("syscall")
int f04_bpf_cpumask_as_cpumask_ok(void *ctx)
{
	struct bpf_cpumask *m = bpf_cpumask_create();

	if (!m)
		return 0;
	bpf_cpumask_set_cpu(1, m);
	f04_sink = bpf_cpumask_test_cpu(1, (const struct cpumask *)m);
	bpf_cpumask_release(m);
	return 0;
}

/* struct cpumask vs struct bpf_cpumask: the task's cpus_ptr (a struct cpumask) where a
 * struct bpf_cpumask is expected (bpf_cpumask_set_cpu). */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04_cpumask_as_bpf_cpumask, struct task_struct *task, u64 clone_flags)
{
	bpf_cpumask_set_cpu(0, (struct bpf_cpumask *)task->cpus_ptr);
	return 0;
}

/* The task's cpus_ptr where a struct cpumask is expected (read-only query). */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04_cpus_ptr_query_ok, struct task_struct *task, u64 clone_flags)
{
	f04_sink = bpf_cpumask_test_cpu(0, task->cpus_ptr);
	return 0;
}

/* Argument BTF type: a task_struct where a struct cpumask is expected. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04_task_as_cpumask, struct task_struct *task, u64 clone_flags)
{
	f04_sink = bpf_cpumask_test_cpu(0, (const struct cpumask *)task);
	return 0;
}

/* Copy the task's cpumask into a created one: dst is a bpf_cpumask, src a cpumask. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04_cpumask_copy_ok, struct task_struct *task, u64 clone_flags)
{
	struct bpf_cpumask *m = bpf_cpumask_create();

	if (!m)
		return 0;
	bpf_cpumask_copy(m, task->cpus_ptr);
	f04_sink = bpf_cpumask_weight((const struct cpumask *)m);
	bpf_cpumask_release(m);
	return 0;
}

/* bpf_cgroup_ancestor (KF_ACQUIRE | KF_RCU | KF_RET_NULL) of the tracepoint's cgroup:
 * NULL-checked and released. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f04_cgroup_ancestor_ok, struct cgroup *cgrp, const char *path)
{
	struct cgroup *a = bpf_cgroup_ancestor(cgrp, 1);

	if (!a)
		return 0;
	f04_sink = a->level;
	bpf_cgroup_release(a);
	return 0;
}

/* bpf_cgroup_ancestor's result read before the NULL check. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f04_cgroup_ancestor_unchecked, struct cgroup *cgrp, const char *path)
{
	struct cgroup *a = bpf_cgroup_ancestor(cgrp, 1);

	f04_sink = a->level;
	if (a)
		bpf_cgroup_release(a);
	return 0;
}

/* bpf_cgroup_ancestor's reference never released. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f04_cgroup_ancestor_leak, struct cgroup *cgrp, const char *path)
{
	struct cgroup *a = bpf_cgroup_ancestor(cgrp, 1);

	if (a)
		f04_sink = a->level;
	return 0;
}

/* bpf_cgroup_ancestor of bpf_cgroup_from_id's unchecked result (KF_RCU argument, NULL). */
SEC("tc")
int f04_cgroup_ancestor_of_maybe_null(struct __sk_buff *skb)
{
	struct cgroup *c = bpf_cgroup_from_id(skb->mark), *a;

	a = bpf_cgroup_ancestor(c, 0);
	if (a)
		bpf_cgroup_release(a);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

/* bpf_cgroup_from_id, bpf_cgroup_ancestor and bpf_task_under_cgroup in tc, all released. */
SEC("tc")
int f04_cgroup_from_id_ancestor_ok(struct __sk_buff *skb)
{
	struct cgroup *c = bpf_cgroup_from_id(skb->mark), *a;
	struct task_struct *t;

	if (!c)
		return 0;
	a = bpf_cgroup_ancestor(c, 0);
	bpf_cgroup_release(c);
	if (!a)
		return 0;
	t = bpf_task_from_pid(1);
	if (t) {
		f04_sink = bpf_task_under_cgroup(t, a);
		bpf_task_release(t);
	}
	bpf_cgroup_release(a);
	return 0;
}

/* bpf_task_under_cgroup (KF_RCU) with the walked RCU field task->cgroups->dfl_cgrp. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04_under_cgroup_rcu_walk_ok, struct task_struct *task, u64 clone_flags)
{
	struct css_set *cs = task->cgroups;

	if (!cs)
		return 0;
	f04_sink = bpf_task_under_cgroup(task, cs->dfl_cgrp);
	return 0;
}

/* KF_ACQUIRE in a sleepable program: bpf_task_from_pid's reference is trusted, and
 * bpf_task_acquire (KF_RCU) takes it without an RCU section. */
SEC("syscall")
int f04_acquire_referenced_sleepable_ok(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1), *u;

	if (!t)
		return 0;
	u = bpf_task_acquire(t);
	if (u)
		bpf_task_release(u);
	bpf_task_release(t);
	return 0;
}

/* check_ptr_to_btf_access in a sleepable program: task->real_parent walked inside
 * bpf_rcu_read_lock is an RCU pointer. */
SEC("syscall")
int f04_rcu_walk_sleepable_locked_ok(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1), *p = NULL;

	if (!t)
		return 0;
	bpf_rcu_read_lock();
	p = bpf_task_acquire(t->real_parent);
	bpf_rcu_read_unlock();
	if (p)
		bpf_task_release(p);
	bpf_task_release(t);
	return 0;
}

/* The same walk in a sleepable program without bpf_rcu_read_lock: the walked pointer is
 * untrusted ("R1 must be a rcu pointer"). */
SEC("syscall")
int f04_rcu_walk_sleepable_unlocked(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1), *p;

	if (!t)
		return 0;
	p = bpf_task_acquire(t->real_parent);
	if (p)
		bpf_task_release(p);
	bpf_task_release(t);
	return 0;
}

/* Several cpumask kfuncs in a tracing program, mixing bpf_cpumask and cpumask arguments. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04_cpumask_ops_ok, struct task_struct *task, u64 clone_flags)
{
	struct bpf_cpumask *m = bpf_cpumask_create();

	if (!m)
		return 0;
	bpf_cpumask_setall(m);
	bpf_cpumask_clear_cpu(0, m);
	bpf_cpumask_and(m, (const struct cpumask *)m, task->cpus_ptr);
	f04_sink = bpf_cpumask_empty((const struct cpumask *)m);
	bpf_cpumask_release(m);
	return 0;
}

/* bpf_task_from_vpid (KF_ACQUIRE | KF_RET_NULL) in tc, checked and released. */
SEC("tc")
int f04_from_vpid_ok(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_task_from_vpid(1);

	if (t)
		bpf_task_release(t);
	return 0;
}

char _license[] SEC("license") = "GPL";
