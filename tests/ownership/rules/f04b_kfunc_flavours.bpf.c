// SPDX-License-Identifier: GPL-2.0
/*
 * f04b_kfunc_flavours.bpf.c: rule family 4 of issue #12, `___suffix` flavours of kfunc names.
 * libbpf (since v1.2) drops the ___suffix when it resolves a __ksym function in the kernel's
 * BTF, and the kernel then applies the rules of the real kfunc (KF_ACQUIRE, KF_RELEASE,
 * KF_RET_NULL). libbpf 1.1 (this project's loader baseline) does not strip the suffix for
 * functions: the extern stays unresolved and the object does not load at all, whatever
 * the programs do. Kept apart so that this does not hide the other family-4 programs.
 * Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

extern struct task_struct *bpf_task_acquire___flv(struct task_struct *p) __ksym;
extern void bpf_task_release___flv(struct task_struct *p) __ksym;
extern struct cgroup *bpf_cgroup_ancestor___flv(struct cgroup *cgrp, int level) __ksym;

__u64 f04b_sink;

/* ___suffix flavour: bpf_task_acquire___flv and bpf_task_release___flv resolve to the
 * kernel's bpf_task_acquire / bpf_task_release and keep their rules. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04b_flavour_acquire_release_ok, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *t = bpf_task_acquire___flv(task);

	if (t)
		bpf_task_release___flv(t);
	return 0;
}

/* ___suffix flavour: the flavoured acquire's reference leaks. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04b_flavour_acquire_leak, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *t = bpf_task_acquire___flv(task);

	if (t)
		f04b_sink = t->pid;
	return 0;
}

/* ___suffix flavour: the flavoured release of the unreferenced tracepoint argument. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f04b_flavour_release_unreferenced, struct task_struct *task, u64 clone_flags)
{
	bpf_task_release___flv(task);
	return 0;
}

/* ___suffix flavour of bpf_cgroup_ancestor: KF_RET_NULL kept. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f04b_flavour_ancestor_unchecked, struct cgroup *cgrp, const char *path)
{
	struct cgroup *a = bpf_cgroup_ancestor___flv(cgrp, 1);

	bpf_cgroup_release(a);
	return 0;
}

/* ___suffix flavour of bpf_cgroup_ancestor, checked and released. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f04b_flavour_ancestor_ok, struct cgroup *cgrp, const char *path)
{
	struct cgroup *a = bpf_cgroup_ancestor___flv(cgrp, 1);

	if (a)
		bpf_cgroup_release(a);
	return 0;
}

char _license[] SEC("license") = "GPL";
