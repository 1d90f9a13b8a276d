// SPDX-License-Identifier: GPL-2.0
/*
 * f05_destructors.bpf.c: rule family 5 of issue #12, which kernel types can be referenced
 * kptrs. btf_parse_kptr() accepts a referenced __kptr to a kernel struct only when a
 * destructor kfunc is registered for it at run time (register_btf_id_dtor_kfuncs():
 * task_struct, cgroup, bpf_cpumask, and net/bpf/test_run.c's prog_test_ref_kfunc and
 * prog_test_member, which are built into this kernel); unreferenced __kptr_untrusted fields
 * take any struct. The types without a destructor are in f05x_*.bpf.c, one object each:
 * the kernel refuses the whole object's BTF for one such field. Kernel:
 * btf_parse_kptr(), btf_find_dtor_kfunc(), check_kfunc_args() for the test kfuncs.
 * Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f05_local {
	__u64 key;
};

struct f05_kernel_kptrs {
	struct prog_test_ref_kfunc __kptr *ref;
	struct prog_test_member __kptr *memb;
	struct task_struct __kptr *task;
	struct cgroup __kptr *cgrp;
	struct f05_local __kptr *local;
	struct file __kptr_untrusted *file;
	struct sock __kptr_untrusted *sk;
};

BPFKIT_ARRAY1(f05_map, struct f05_kernel_kptrs);

struct f05_mask_slot {
	struct bpf_cpumask __kptr *mask;
};

BPFKIT_ARRAY1(f05_mask_map, struct f05_mask_slot);

__u64 f05_sink;

/* prog_test_ref_kfunc has a destructor (bpf_kfunc_call_test_release_dtor): the object that
 * bpf_kptr_xchg hands back is released with the test release kfunc. */
SEC("tc")
int f05_test_ref_release_ok(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_ref_kfunc *p;

	if (!v)
		return 0;
	p = bpf_kptr_xchg(&v->ref, NULL);
	if (!p)
		return 0;
	f05_sink = p->a + p->b;
	bpf_kfunc_call_test_release(p);
	return 0;
}

/* The prog_test_ref_kfunc reference taken out of the map and never released. */
SEC("tc")
int f05_test_ref_leak(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_ref_kfunc *p;

	if (!v)
		return 0;
	p = bpf_kptr_xchg(&v->ref, NULL);
	if (p)
		f05_sink = p->a;
	return 0;
}

/* Releasing the prog_test_ref_kfunc with the task release kfunc (argument BTF type). */
SEC("tc")
int f05_test_ref_wrong_release(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_ref_kfunc *p;

	if (!v)
		return 0;
	p = bpf_kptr_xchg(&v->ref, NULL);
	if (p)
		bpf_task_release((struct task_struct *)p);
	return 0;
}

/* Dropping the kernel object with bpf_obj_drop (not a program-allocated object). */
SEC("tc")
int f05_test_ref_obj_drop(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_ref_kfunc *p;

	if (!v)
		return 0;
	p = bpf_kptr_xchg(&v->ref, NULL);
	if (p)
		bpf_obj_drop(p);
	return 0;
}

/* The taken object put back (exchange back into the same field). */
SEC("tc")
int f05_test_ref_put_back_ok(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_ref_kfunc *p;

	if (!v)
		return 0;
	p = bpf_kptr_xchg(&v->ref, NULL);
	if (!p)
		return 0;
	p = bpf_kptr_xchg(&v->ref, p);
	if (p)
		bpf_kfunc_call_test_release(p);
	return 0;
}

/* The prog_test_ref_kfunc stored into the prog_test_member field: btf_struct_ids_match
 * with strict matching for referenced kptrs (memb sits at offset 8, not 0). */
SEC("tc")
int f05_test_ref_into_member_field(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_ref_kfunc *p;

	if (!v)
		return 0;
	p = bpf_kptr_xchg(&v->ref, NULL);
	if (!p)
		return 0;
	p = bpf_kptr_xchg(&v->memb, p);
	if (p)
		bpf_kfunc_call_test_release(p);
	return 0;
}

/* prog_test_member has its own destructor (bpf_kfunc_call_memb_release_dtor). */
SEC("tc")
int f05_test_member_release_ok(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_member *m;

	if (!v)
		return 0;
	m = bpf_kptr_xchg(&v->memb, NULL);
	if (!m)
		return 0;
	f05_sink = m->c;
	bpf_kfunc_call_memb_release(m);
	return 0;
}

/* The prog_test_member released with the prog_test_ref_kfunc release kfunc. */
SEC("tc")
int f05_test_member_wrong_release(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_member *m;

	if (!v)
		return 0;
	m = bpf_kptr_xchg(&v->memb, NULL);
	if (m)
		bpf_kfunc_call_test_release((struct prog_test_ref_kfunc *)m);
	return 0;
}

/* Program types: the test kfuncs are registered for a few program types; a tracing program
 * calling bpf_kfunc_call_test_release. */
SEC("tp_btf/sched_switch")
int BPF_PROG(f05_test_release_in_tracing, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_ref_kfunc *p;

	if (!v)
		return 0;
	p = bpf_kptr_xchg(&v->ref, NULL);
	if (p)
		bpf_kfunc_call_test_release(p);
	return 0;
}

/* The same exchange in a syscall program. */
SEC("syscall")
int f05_test_release_in_syscall(void *ctx)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct prog_test_ref_kfunc *p;

	if (!v)
		return 0;
	p = bpf_kptr_xchg(&v->ref, NULL);
	if (p)
		bpf_kfunc_call_test_release(p);
	return 0;
}

/* task_struct (bpf_task_release_dtor) and cgroup (bpf_cgroup_release_dtor) kptrs in the
 * same value: both exchanged and released. */
SEC("tc")
int f05_task_and_cgroup_ok(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct task_struct *t;
	struct cgroup *c;

	if (!v)
		return 0;
	t = bpf_kptr_xchg(&v->task, NULL);
	if (t)
		bpf_task_release(t);
	c = bpf_kptr_xchg(&v->cgrp, NULL);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

/* The cgroup taken out and released with the task release kfunc. */
SEC("tc")
int f05_cgroup_wrong_release(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct cgroup *c;

	if (!v)
		return 0;
	c = bpf_kptr_xchg(&v->cgrp, NULL);
	if (c)
		bpf_task_release((struct task_struct *)c);
	return 0;
}

/* A program-allocated type needs no registered destructor (bpf_obj_drop is its destructor). */
SEC("tc")
int f05_local_ok(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct f05_local *l = bpf_obj_new(struct f05_local);

	if (!v) {
		if (l)
			bpf_obj_drop(l);
		return 0;
	}
	if (!l)
		return 0;
	l = bpf_kptr_xchg(&v->local, l);
	if (l)
		bpf_obj_drop(l);
	return 0;
}

/* The program-allocated object released with a kernel-type release kfunc. */
SEC("tc")
int f05_local_released_as_task(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct f05_local *l;

	if (!v)
		return 0;
	l = bpf_kptr_xchg(&v->local, NULL);
	if (l)
		bpf_task_release((struct task_struct *)l);
	return 0;
}

/* __kptr_untrusted of a struct without destructor (struct file): loads give untrusted
 * pointers that may be read. */
SEC("tc")
int f05_untrusted_file_read_ok(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct file *f;
	struct sock *sk;

	if (!v)
		return 0;
	f = v->file;
	if (f)
		f05_sink = f->f_flags;
	sk = v->sk;
	if (sk)
		f05_sink += sk->sk_mark;
	return 0;
}

/* bpf_kptr_xchg on the __kptr_untrusted file field: "kptr isn't referenced kptr". */
SEC("tc")
int f05_untrusted_file_xchg(struct __sk_buff *skb)
{
	struct f05_kernel_kptrs *v = slot0(&f05_map);
	struct file *f;

	if (!v)
		return 0;
	f = bpf_kptr_xchg(&v->file, NULL);
	if (f)
		f05_sink = 1;
	return 0;
}

/* bpf_cpumask has a destructor (bpf_cpumask_release_dtor). */
SEC("syscall")
int f05_cpumask_ok(void *ctx)
{
	struct f05_mask_slot *v = slot0(&f05_mask_map);
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

/* The cpumask's old value dropped with bpf_obj_drop instead of bpf_cpumask_release. */
SEC("syscall")
int f05_cpumask_obj_drop(void *ctx)
{
	struct f05_mask_slot *v = slot0(&f05_mask_map);
	struct bpf_cpumask *m;

	if (!v)
		return 0;
	m = bpf_kptr_xchg(&v->mask, NULL);
	if (m)
		bpf_obj_drop(m);
	return 0;
}

char _license[] SEC("license") = "GPL";
