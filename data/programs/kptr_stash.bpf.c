// SPDX-License-Identifier: GPL-2.0
/*
 * kptr_stash.bpf.c: stashing owned objects in map values through __kptr and
 * __percpu_kptr fields with bpf_kptr_xchg: program-allocated objects, tasks
 * (bpf_task_acquire/release) and cpumasks (bpf_cpumask_create/release).
 *
 * Written for bpfkit.
 */
#include "bpfkit_alloc.h"

struct session {
	__u64 start_ns;
	__u32 pid;
	__u32 packets;
};

struct pcpu_hits {
	__u64 hits;
};

struct stash {
	struct session __kptr *sess;
	struct pcpu_hits __percpu_kptr *hits;
	struct task_struct __kptr *task;
	struct bpf_cpumask __kptr *mask;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stash);
} stashes SEC(".maps");

__u64 seen;

static struct stash *stash_slot(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&stashes, &key);
}

/* New session into the map; the previous one comes back and is dropped. */
SEC("tc")
int stash_session_ok(struct __sk_buff *skb)
{
	struct session *s, *old;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	s = bpf_obj_new(struct session);
	if (!s)
		return 0;
	s->start_ns = bpf_ktime_get_ns();
	s->packets = skb->len;
	old = bpf_kptr_xchg(&v->sess, s);
	if (old)
		bpf_obj_drop(old);
	return 0;
}

/* The object that bpf_kptr_xchg hands back is ignored: it leaks. */
SEC("tc")
int stash_session_leak_old(struct __sk_buff *skb)
{
	struct session *s;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	s = bpf_obj_new(struct session);
	if (!s)
		return 0;
	s->packets = skb->len;
	bpf_kptr_xchg(&v->sess, s);
	return 0;
}

/* Takes the session out of the map, reads it, puts it back. */
SEC("tc")
int unstash_session_ok(struct __sk_buff *skb)
{
	struct session *s;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	s = bpf_kptr_xchg(&v->sess, NULL);
	if (!s)
		return 0;
	s->packets += 1;
	seen = s->packets;
	s = bpf_kptr_xchg(&v->sess, s);
	if (s)
		bpf_obj_drop(s);
	return 0;
}

/* Stashes the session, then writes to it: the map owns it now. */
SEC("tc")
int stash_session_use_after_xchg(struct __sk_buff *skb)
{
	struct session *s, *old;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	s = bpf_obj_new(struct session);
	if (!s)
		return 0;
	old = bpf_kptr_xchg(&v->sess, s);
	if (old)
		bpf_obj_drop(old);
	s->packets = skb->len;
	return 0;
}

/* A cpumask object xchg'd into the field declared for a session. */
SEC("tp_btf/task_newtask")
int BPF_PROG(stash_cpumask_in_session_field, struct task_struct *task, u64 clone_flags)
{
	struct bpf_cpumask *m;
	struct session *old;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	m = bpf_cpumask_create();
	if (!m)
		return 0;
	old = bpf_kptr_xchg(&v->sess, (struct session *)m);
	if (old)
		bpf_obj_drop(old);
	return 0;
}

/* A per-CPU object stashed through a __percpu_kptr field, then read under RCU. */
SEC("tc")
int stash_percpu_hits_ok(struct __sk_buff *skb)
{
	struct pcpu_hits __percpu_kptr *p, *old;
	struct pcpu_hits *mine;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	p = bpf_percpu_obj_new(struct pcpu_hits);
	if (!p)
		return 0;
	old = bpf_kptr_xchg(&v->hits, p);
	if (old)
		bpf_percpu_obj_drop(old);

	bpf_rcu_read_lock();
	p = v->hits;
	if (p) {
		mine = bpf_this_cpu_ptr(p);
		mine->hits += 1;
	}
	bpf_rcu_read_unlock();
	return 0;
}

/* A per-CPU object put into the plain __kptr field for sessions. */
SEC("tc")
int stash_percpu_in_session_field(struct __sk_buff *skb)
{
	struct pcpu_hits __percpu_kptr *p;
	struct session *old;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	p = bpf_percpu_obj_new(struct pcpu_hits);
	if (!p)
		return 0;
	old = bpf_kptr_xchg(&v->sess, (struct session *)p);
	if (old)
		bpf_obj_drop(old);
	return 0;
}

/* A referenced task (the new task) stashed; the old one released. */
SEC("tp_btf/task_newtask")
int BPF_PROG(stash_task_ok, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *acq, *old;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	acq = bpf_task_acquire(task);
	if (!acq)
		return 0;
	old = bpf_kptr_xchg(&v->task, acq);
	if (old)
		bpf_task_release(old);
	return 0;
}

/* Acquires the task and returns without releasing it on the CLONE_THREAD path. */
SEC("tp_btf/task_newtask")
int BPF_PROG(task_acquire_leak_on_thread, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *acq;

	acq = bpf_task_acquire(task);
	if (!acq)
		return 0;
	if (clone_flags & 0x00010000 /* CLONE_THREAD */)
		return 0;
	seen = acq->pid;
	bpf_task_release(acq);
	return 0;
}

/* Releases the acquired task twice. */
SEC("tp_btf/task_newtask")
int BPF_PROG(task_release_twice, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *acq;

	acq = bpf_task_acquire(task);
	if (!acq)
		return 0;
	bpf_task_release(acq);
	bpf_task_release(acq);
	return 0;
}

/* A cpumask created, filled, stashed; the old one released. */
SEC("tp_btf/task_newtask")
int BPF_PROG(stash_cpumask_ok, struct task_struct *task, u64 clone_flags)
{
	struct bpf_cpumask *m, *old;
	struct stash *v = stash_slot();

	if (!v)
		return 0;
	m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_set_cpu(0, m);
	old = bpf_kptr_xchg(&v->mask, m);
	if (old)
		bpf_cpumask_release(old);
	return 0;
}

/* A cpumask released, then set: use after release. */
SEC("tp_btf/task_newtask")
int BPF_PROG(cpumask_use_after_release, struct task_struct *task, u64 clone_flags)
{
	struct bpf_cpumask *m;

	m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_release(m);
	bpf_cpumask_set_cpu(0, m);
	return 0;
}

char _license[] SEC("license") = "GPL";
