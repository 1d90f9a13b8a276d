// SPDX-License-Identifier: GPL-2.0
/*
 * loops.bpf.c: accepted programs with bounded loops and branches, for
 * verifier logs with many states, branches and prunes. long_loop_ok walks
 * a loop of 600 iterations with a branch inside: its level-2 log has well
 * over 100,000 lines (a benchmark input for log parsers).
 *
 * Written for bpfkit.
 */
#include "bpfkit_alloc.h"

#define LONG_LOOP_ITERS 600

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} buckets SEC(".maps");

__u64 result;

/* Counts bytes into buckets chosen by a few branches on the packet. */
SEC("tc")
int bucket_branches_ok(struct __sk_buff *skb)
{
	__u32 key, len = skb->len, i;
	__u64 *slot;

	for (i = 0; i < 4; i++) {
		if (len < 64)
			key = 0;
		else if (len < 512)
			key = 1 + (len >> 6) % 8;
		else if (skb->protocol == bpf_htons(0x0800))
			key = 16 + i;
		else
			key = 32 + (len & 31);
		slot = bpf_map_lookup_elem(&buckets, &key);
		if (!slot)
			continue;
		__sync_fetch_and_add(slot, len);
		len >>= 1;
	}
	return 0;
}

/* A kprobe that scores the arguments of the probed call with nested branches. */
SEC("kprobe/do_nanosleep")
int kprobe_score_args_ok(struct pt_regs *ctx)
{
	__u64 a = PT_REGS_PARM1(ctx), b = PT_REGS_PARM2(ctx);
	__u64 score = 0;
	int i;

	for (i = 0; i < 6; i++) {
		if ((a >> i) & 1) {
			if ((b >> i) & 1)
				score += 3;
			else
				score += 1;
		} else if (score > 10) {
			score -= 2;
		}
	}
	result = score;
	return 0;
}

/* A raw tracepoint with an early-exit loop over syscall ids. */
SEC("raw_tp/sys_enter")
int raw_tp_syscall_classes_ok(struct bpf_raw_tracepoint_args *ctx)
{
	long id = ctx->args[1];
	__u32 key;
	__u64 *slot;
	int i;

	for (i = 0; i < 6; i++) {
		if (id < (i + 1) * 64)
			break;
	}
	key = i;
	slot = bpf_map_lookup_elem(&buckets, &key);
	if (slot)
		__sync_fetch_and_add(slot, 1);
	return 0;
}

/* A long bounded loop with a data-dependent branch in the body. Only the
 * loop counter is precise, so both arms meet again at the loop head and the
 * second arm is pruned there: the walk stays linear in LONG_LOOP_ITERS. */
SEC("tc")
int long_loop_ok(struct __sk_buff *skb)
{
	__u64 acc = 0;
	__u32 len = skb->len, i;

	for (i = 0; i < LONG_LOOP_ITERS; i++) {
		if ((len >> (i & 31)) & 1)
			acc += i;
		else
			acc ^= (__u64)i << 3;
	}
	result = acc;
	return 0;
}

char _license[] SEC("license") = "GPL";
