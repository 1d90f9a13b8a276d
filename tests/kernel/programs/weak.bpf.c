// A weak kfunc the kernel lacks: libbpf leaves the call unresolved (bpfkit hands such objects to libbpf).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";
extern int bpf_no_such_kfunc_here(void) __ksym __weak;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym __weak;

SEC("tc")
int weak_kfunc(struct __sk_buff *skb)
{
	if ((void *)bpf_no_such_kfunc_here)
		return bpf_no_such_kfunc_here();
	return 1;
}

SEC("tc")
int weak_kfunc_called(struct __sk_buff *skb)
{
	return bpf_no_such_kfunc_here();
}
