// A kfunc declared with a prototype the kernel's does not match: libbpf refuses the object
// (bpf_core_types_are_compat), so bpfkit's loader hands it to libbpf for libbpf's own error.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";
extern void *bpf_obj_new_impl(__u64 local_type_id) __ksym;

SEC("tc")
int wrong_prototype(struct __sk_buff *skb)
{
	return bpf_obj_new_impl(1) != 0;
}
