// SPDX-License-Identifier: GPL-2.0
/*
 * f13_irq_preempt.bpf.c: resources besides references and the spin lock. Kernel:
 * check_resource_leak() ("cannot be used inside bpf_local_irq_save-ed region", "... inside
 * bpf_preempt_disable-ed region"), process_irq_flag() (the flag is a stack slot; saved states
 * are restored in reverse order), the bpf_preempt_enable count. Prototypes from
 * kernel/bpf/helpers.c (Linux 6.18). Written for bpfkit; comments name the rule aimed at,
 * never the verdict.
 */
#include "rules.h"

extern void bpf_local_irq_save(unsigned long *flags__irq_flag) __ksym;
extern void bpf_local_irq_restore(unsigned long *flags__irq_flag) __ksym;
extern void bpf_preempt_disable(void) __ksym;
extern void bpf_preempt_enable(void) __ksym;

__u64 f13_sink;

/* Preemption disabled and enabled again. */
SEC("tc")
int f13_preempt_pair_ok(struct __sk_buff *skb)
{
	bpf_preempt_disable();
	f13_sink = skb->len;
	bpf_preempt_enable();
	return 0;
}

/* check_resource_leak: exit with preemption still disabled on one path. */
SEC("tc")
int f13_preempt_missing_enable(struct __sk_buff *skb)
{
	bpf_preempt_disable();
	if (skb->len > 64)
		return 1;
	bpf_preempt_enable();
	return 0;
}

/* The preemption count: enabled once more than disabled. */
SEC("tc")
int f13_preempt_enable_twice(struct __sk_buff *skb)
{
	bpf_preempt_disable();
	bpf_preempt_enable();
	bpf_preempt_enable();
	return 0;
}

/* Interrupt state saved and restored. */
SEC("tc")
int f13_irq_pair_ok(struct __sk_buff *skb)
{
	unsigned long flags;

	bpf_local_irq_save(&flags);
	f13_sink = skb->len;
	bpf_local_irq_restore(&flags);
	return 0;
}

/* Two states restored in reverse order. */
SEC("tc")
int f13_irq_nested_ok(struct __sk_buff *skb)
{
	unsigned long a, b;

	bpf_local_irq_save(&a);
	bpf_local_irq_save(&b);
	bpf_local_irq_restore(&b);
	bpf_local_irq_restore(&a);
	return 0;
}

/* process_irq_flag: the older state restored first. */
SEC("tc")
int f13_irq_out_of_order(struct __sk_buff *skb)
{
	unsigned long a, b;

	bpf_local_irq_save(&a);
	bpf_local_irq_save(&b);
	bpf_local_irq_restore(&a);
	bpf_local_irq_restore(&b);
	return 0;
}

/* check_resource_leak: exit with the interrupt state still saved. */
SEC("tc")
int f13_irq_missing_restore(struct __sk_buff *skb)
{
	unsigned long flags;

	bpf_local_irq_save(&flags);
	if (skb->len > 64)
		return 1;
	bpf_local_irq_restore(&flags);
	return 0;
}

/* process_irq_flag: a restore from a slot no save wrote. */
SEC("tc")
int f13_irq_restore_unsaved(struct __sk_buff *skb)
{
	unsigned long flags = 0;

	bpfkit_barrier_var(flags);
	bpf_local_irq_restore(&flags);
	return 0;
}

/* process_irq_flag: the flag is not on the stack. */
SEC("tc")
int f13_irq_flag_in_global(struct __sk_buff *skb)
{
	bpf_local_irq_save((unsigned long *)&f13_sink);
	bpf_local_irq_restore((unsigned long *)&f13_sink);
	return 0;
}

char _license[] SEC("license") = "GPL";
