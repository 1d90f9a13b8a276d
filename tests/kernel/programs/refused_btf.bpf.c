// Maps the kernel refuses with BTF (tests/kernel/test_direct.py): libbpf creates them again
// without BTF, and so must bpfkit's loader. A timer in .rodata (EACCES), a list head without a
// lock in its own section, a lock and a list head together (accepted).
#include "bpfkit_alloc.h"

struct tval {
	__u64 x;
	struct bpf_timer t;
};
struct item {
	__u64 v;
	struct bpf_list_node node;
};
SEC(".rodata") struct tval ro_timer;
private(A) struct bpf_list_head nolock_head __contains(item, node);
private(B) struct bpf_spin_lock b_lock;
private(B) struct bpf_list_head b_head __contains(item, node);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct tval);
} timers SEC(".maps");

SEC("tc")
int use(struct __sk_buff *skb)
{
	int k = 0;

	if (bpf_map_lookup_elem(&timers, &k))
		return 1;
	return ro_timer.x + (long)&nolock_head + (long)&b_head + (long)&b_lock == 0;
}

SEC("tc")
int push_without_lock_section(struct __sk_buff *skb)
{
	struct item *i = bpf_obj_new(struct item);

	if (!i)
		return 0;
	bpf_spin_lock(&b_lock);
	bpf_list_push_front(&b_head, &i->node);
	bpf_spin_unlock(&b_lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
