// Loader features (tests/kernel/test_direct.py): global data, subprograms, callbacks, maps.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

const volatile int limit = 3;
int counter = 7;
int seen;
static int hidden_counter SEC(".data.extra") = 5;
int visible_extra SEC(".data.more") = 9;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} hmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u32);
} jmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, u64);
	__type(value, u32);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
} lru SEC(".maps");

static __noinline int add_static(int a, int b)
{
	return a + b + counter;
}

__noinline int global_sub(int x)
{
	return x * 2 + limit;
}

__hidden __noinline int hidden_sub(int x)
{
	return x - 1;
}

static int loop_cb(u32 i, void *ctx)
{
	seen += i;
	return 0;
}

SEC("tc")
int rodata_branch(struct __sk_buff *skb)
{
	if (limit > 2)
		return add_static(1, 2);
	return 0;
}

SEC("tc")
int data_and_bss(struct __sk_buff *skb)
{
	seen += counter + hidden_counter + visible_extra;
	return seen > 100;
}

SEC("tc")
int calls_global_and_hidden(struct __sk_buff *skb)
{
	return global_sub(skb->len) + hidden_sub(skb->len) + add_static(1, 1);
}

SEC("tc")
int loop_callback(struct __sk_buff *skb)
{
	bpf_loop(limit, loop_cb, NULL, 0);
	return add_static(2, 2);
}

SEC("tc")
int maps_of_kinds(struct __sk_buff *skb)
{
	u32 k = 0;
	u64 lk = 1;
	u64 *v = bpf_map_lookup_elem(&hmap, &k);

	if (v)
		(*v)++;
	v = bpf_map_lookup_elem(&pcpu, &k);
	if (v)
		(*v)++;
	bpf_map_lookup_elem(&lru, &lk);
	bpf_tail_call(skb, &jmp, 0);
	return 0;
}

SEC("tc")
int ringbuf_out(struct __sk_buff *skb)
{
	u64 *e = bpf_ringbuf_reserve(&rb, 8, 0);

	if (!e)
		return 0;
	*e = skb->len;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kprobe/do_nanosleep")
int kprobe_printk(struct pt_regs *ctx)
{
	bpf_printk("sleep %d", limit);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &seen, sizeof(seen));
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_tp_prog(struct bpf_raw_tracepoint_args *ctx)
{
	return ctx->args[1] == 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf_core, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return prev->pid + BPF_CORE_READ(next, real_parent, tgid);
}

SEC("syscall")
int syscall_prog(void *ctx)
{
	return global_sub(1) + add_static(3, 4);
}

SEC("tc")
int rejected_oob(struct __sk_buff *skb)
{
	char buf[4] = {};

	return buf[skb->len & 7];
}
