/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rules.h: declarations for bpfkit's rule-pair programs (tests/ownership/rules), on top of
 * data/programs/bpfkit_alloc.h. Written for bpfkit from the kernel's kfunc prototypes
 * (kernel/bpf/helpers.c, cpumask.c, net/bpf/test_run.c as compiled into Linux 6.18).
 */
#ifndef BPFKIT_RULES_H
#define BPFKIT_RULES_H

#include "bpfkit_alloc.h"

/* cgroups (kernel/bpf/helpers.c) */
extern struct cgroup *bpf_cgroup_acquire(struct cgroup *cgrp) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
extern struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym;
extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
extern long bpf_task_under_cgroup(struct task_struct *task, struct cgroup *ancestor) __ksym;

/* tasks */
extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym;

/* cpumasks (kernel/bpf/cpumask.c) */
extern struct bpf_cpumask *bpf_cpumask_acquire(struct bpf_cpumask *cpumask) __ksym;
extern u32 bpf_cpumask_first(const struct cpumask *cpumask) __ksym;
extern bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
extern void bpf_cpumask_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
extern void bpf_cpumask_setall(struct bpf_cpumask *cpumask) __ksym;
extern void bpf_cpumask_clear(struct bpf_cpumask *cpumask) __ksym;
extern bool bpf_cpumask_and(struct bpf_cpumask *dst, const struct cpumask *src1,
			    const struct cpumask *src2) __ksym;
extern void bpf_cpumask_copy(struct bpf_cpumask *dst, const struct cpumask *src) __ksym;
extern u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym;
extern bool bpf_cpumask_empty(const struct cpumask *cpumask) __ksym;

/* test kfuncs built into the kernel by net/bpf/test_run.c (release only: the acquiring
 * test kfuncs live in the bpf_testmod module, which this kernel does not have) */
extern void bpf_kfunc_call_test_release(struct prog_test_ref_kfunc *p) __ksym;
extern void bpf_kfunc_call_memb_release(struct prog_test_member *p) __ksym;

/* One map value slot of an ARRAY map of one entry. */
#define BPFKIT_ARRAY1(name, value_t) \
	struct { \
		__uint(type, BPF_MAP_TYPE_ARRAY); \
		__uint(max_entries, 1); \
		__type(key, __u32); \
		__type(value, value_t); \
	} name SEC(".maps")

static __always_inline void *slot0(void *map)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(map, &key);
}

#endif /* BPFKIT_RULES_H */
