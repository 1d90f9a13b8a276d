// Weak kfuncs only called (tests/kernel/test_direct.py): one the kernel lacks (libbpf leaves the
// call unresolved and the verifier refuses it), one it has.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
extern int bpf_no_such_kfunc_here(void) __ksym __weak;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym;
SEC("tc")
int weak_kfunc_called(struct __sk_buff *skb)
{
	return bpf_no_such_kfunc_here();
}
SEC("tp_btf/task_newtask")
int weak_but_present(u64 *ctx)
{
	struct task_struct *t = bpf_task_acquire((struct task_struct *)ctx[0]);
	if (t)
		bpf_task_release(t);
	return 0;
}
