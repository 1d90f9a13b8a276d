// A CO-RE relocation libbpf poisons (a field this kernel's task_struct lacks) in a .text
// function no program calls: libbpf relocates every subprogram anyway, so bpfkit's loader
// hands the whole object to libbpf (tests/kernel/test_direct.py).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct task_struct___fake {
	int no_such_field_here;
} __attribute__((preserve_access_index));

__noinline int unused_reader(struct task_struct *t)
{
	return BPF_CORE_READ((struct task_struct___fake *)t, no_such_field_here);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(reads_pid, bool preempt, struct task_struct *prev)
{
	return prev->pid;
}
