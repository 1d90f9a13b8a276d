// A .kconfig extern: prepared by libbpf only (tests/kernel/test_direct.py checks the fallback).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";
extern unsigned int LINUX_KERNEL_VERSION __kconfig;

SEC("tc")
int kconfig_version(struct __sk_buff *skb)
{
	return LINUX_KERNEL_VERSION > 0;
}
