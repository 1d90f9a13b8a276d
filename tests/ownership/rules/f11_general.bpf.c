// SPDX-License-Identifier: GPL-2.0
/*
 * f11_general.bpf.c: rule family 11 of issue #12, the kernel's general checks around
 * ownership code: helper and kfunc argument types (check_func_arg(), check_reg_type():
 * "R%d type=%s expected=%s"; check_kfunc_args(): "arg#%d pointer type ... must point to",
 * "expected pointer to STRUCT ... but R%d has a pointer to STRUCT ..."), struct bounds of BTF
 * pointers (btf_struct_access(): "access beyond struct %s at off %u size %u", "only read is
 * supported"), helper availability per program type (check_helper_call(): "program of this
 * type cannot use helper"), constant sizes (check_mem_size_reg(), "R%d is not a known
 * constant"), and context access (check_ctx_access(): "invalid bpf_context access").
 * Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f11_obj {
	__u64 key;
	__u32 small;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} f11_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} f11_hash SEC(".maps");

__u64 f11_sink;

/* btf_struct_access: a field of the tracepoint's task read inside the struct. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f11_task_field_ok, struct task_struct *task, u64 clone_flags)
{
	f11_sink = task->pid + task->tgid;
	return 0;
}

/* btf_struct_access: 8 bytes read just past the end of struct task_struct. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f11_task_past_end, struct task_struct *task, u64 clone_flags)
{
	f11_sink = *(volatile __u64 *)((char *)task + sizeof(struct task_struct));
	return 0;
}

/* btf_struct_access: a read at a negative offset from the task pointer. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f11_task_negative_offset, struct task_struct *task, u64 clone_flags)
{
	f11_sink = *(volatile __u64 *)((char *)task - 8);
	return 0;
}

/* tracing programs may not write kernel structs through BTF pointers ("only read is
 * supported"). */
SEC("tp_btf/task_newtask")
int BPF_PROG(f11_task_write_field, struct task_struct *task, u64 clone_flags)
{
	task->pid = 0;
	return 0;
}

/* btf_struct_access on a program-allocated object: a read of its last u32. */
SEC("tc")
int f11_obj_last_field_ok(struct __sk_buff *skb)
{
	struct f11_obj *o = bpf_obj_new(struct f11_obj);

	if (!o)
		return 0;
	o->pad = 1;
	f11_sink = o->small + o->pad;
	bpf_obj_drop(o);
	return 0;
}

/* btf_struct_access on a program-allocated object: 8 bytes at offset 12 cross its end (16). */
SEC("tc")
int f11_obj_read_across_end(struct __sk_buff *skb)
{
	struct f11_obj *o = bpf_obj_new(struct f11_obj);

	if (!o)
		return 0;
	f11_sink = *(volatile __u64 *)((char *)o + 12);
	bpf_obj_drop(o);
	return 0;
}

/* check_reg_type: a map key pointer that is the program context, not stack or map memory. */
SEC("tc")
int f11_helper_key_from_ctx(struct __sk_buff *skb)
{
	__u64 *v = bpf_map_lookup_elem(&f11_hash, skb);

	if (v)
		f11_sink = *v;
	return 0;
}

/* A stack key for the same lookup. */
SEC("tc")
int f11_helper_key_on_stack_ok(struct __sk_buff *skb)
{
	__u32 key = skb->mark;
	__u64 *v = bpf_map_lookup_elem(&f11_hash, &key);

	if (v)
		f11_sink = *v;
	return 0;
}

/* check_stack_range_initialized: a stack key that was never written (privileged loaders may
 * read uninitialized stack: env->allow_uninit_stack). */
SEC("tc")
int f11_helper_key_uninitialized(struct __sk_buff *skb)
{
	__u32 key;
	__u64 *v;

	asm volatile("" : "=m"(key));
	v = bpf_map_lookup_elem(&f11_hash, &key);
	if (v)
		f11_sink = *v;
	return 0;
}

/* check_mem_size_reg: bpf_probe_read_kernel with a size the verifier cannot bound. */
SEC("tc")
int f11_helper_unbounded_size(struct __sk_buff *skb)
{
	char buf[16];

	bpf_probe_read_kernel(buf, skb->len, &f11_sink);
	f11_sink = buf[0];
	return 0;
}

/* bpf_probe_read_kernel with the size bounded to the buffer. */
SEC("tc")
int f11_helper_bounded_size_ok(struct __sk_buff *skb)
{
	char buf[16] = {};
	__u32 n = skb->len & 15;

	bpf_probe_read_kernel(buf, n, &f11_sink);
	f11_sink = buf[0];
	return 0;
}

/* bpf_ringbuf_reserve wants a constant size ("is not a known constant"). */
SEC("tc")
int f11_ringbuf_variable_size(struct __sk_buff *skb)
{
	void *rec = bpf_ringbuf_reserve(&f11_ring, skb->len & 63, 0);

	if (rec)
		bpf_ringbuf_discard(rec, 0);
	return 0;
}

/* check_kfunc_args: a scalar where bpf_task_release wants a task pointer. */
SEC("tc")
int f11_kfunc_scalar_for_pointer(struct __sk_buff *skb)
{
	bpf_task_release((struct task_struct *)(long)skb->len);
	return 0;
}

struct f11_mask_words {
	__u64 bits[2];
};

BPFKIT_ARRAY1(f11_words, struct f11_mask_words);

/* check_kfunc_args: a 16-byte map value where bpf_cpumask_test_cpu wants a struct cpumask
 * (the value is checked as memory of the cpumask's size). */
SEC("syscall")
int f11_kfunc_map_value_for_btf_pointer(void *ctx)
{
	struct f11_mask_words *w = slot0(&f11_words);

	if (!w)
		return 0;
	f11_sink = bpf_cpumask_test_cpu(0, (const struct cpumask *)w);
	return 0;
}

/* check_kfunc_args: a cgroup where bpf_task_under_cgroup wants a task (argument order). */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f11_kfunc_swapped_arguments, struct cgroup *cgrp, const char *path)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (!t)
		return 0;
	f11_sink = bpf_task_under_cgroup((struct task_struct *)cgrp, (struct cgroup *)t);
	bpf_task_release(t);
	return 0;
}

/* The same kfunc with its arguments in order. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(f11_kfunc_arguments_ok, struct cgroup *cgrp, const char *path)
{
	struct task_struct *t = bpf_task_from_pid(1);

	if (!t)
		return 0;
	f11_sink = bpf_task_under_cgroup(t, cgrp);
	bpf_task_release(t);
	return 0;
}

/* check_helper_call / the program type's get_func_proto: bpf_get_current_task_btf in tc. */
SEC("tc")
int f11_helper_not_for_tc(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_get_current_task_btf();

	f11_sink = t->pid;
	return 0;
}

/* bpf_get_current_task_btf in a tracing program: a trusted task. */
SEC("tp_btf/sched_switch")
int BPF_PROG(f11_current_task_tracing_ok, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_struct *a = bpf_task_acquire(t);

	if (a)
		bpf_task_release(a);
	return 0;
}

/* check_ctx_access: an 8-byte load of the 4-byte skb->len ("invalid bpf_context access"). */
SEC("tc")
int f11_ctx_wrong_size(struct __sk_buff *skb)
{
	f11_sink = *(volatile __u64 *)&skb->len;
	return 0;
}

/* check_ctx_access: a tp_btf program reading a fourth argument the tracepoint lacks
 * (task_newtask has two). */
SEC("tp_btf/task_newtask")
int f11_ctx_past_arguments(__u64 *ctx)
{
	f11_sink = ctx[3];
	return 0;
}

/* A kprobe reading its pt_regs through the PT_REGS macros. */
SEC("kprobe/do_nanosleep")
int f11_kprobe_regs_ok(struct pt_regs *ctx)
{
	f11_sink = PT_REGS_PARM1(ctx);
	return 0;
}

/* A kretprobe writing its context. */
SEC("kretprobe/do_nanosleep")
int f11_kretprobe_write_ctx(struct pt_regs *ctx)
{
	ctx->ax = 0;
	return 0;
}

/* bpf_obj_new in a kprobe program (the allocation kfuncs' program types). */
SEC("kprobe/do_nanosleep")
int f11_obj_new_in_kprobe(struct pt_regs *ctx)
{
	struct f11_obj *o = bpf_obj_new(struct f11_obj);

	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* bpf_obj_new in a raw_tp program. */
SEC("raw_tp/sched_switch")
int f11_obj_new_in_raw_tp(void *ctx)
{
	struct f11_obj *o = bpf_obj_new(struct f11_obj);

	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* bpf_obj_new in a tp_btf program. */
SEC("tp_btf/sched_switch")
int BPF_PROG(f11_obj_new_in_tp_btf_ok, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct f11_obj *o = bpf_obj_new(struct f11_obj);

	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* bpf_obj_new in a syscall program. */
SEC("syscall")
int f11_obj_new_in_syscall_ok(void *ctx)
{
	struct f11_obj *o = bpf_obj_new(struct f11_obj);

	if (o)
		bpf_obj_drop(o);
	return 0;
}

/* btf_struct_access through two pointers (task->mm->map_count): reads of PTR_TO_BTF_ID are
 * guarded probes, NULL included. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f11_pointer_chain_ok, struct task_struct *task, u64 clone_flags)
{
	f11_sink = task->mm->map_count;
	return 0;
}

/* bpf_probe_read_kernel of the task's comm into a stack buffer of the same size. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f11_probe_read_comm_ok, struct task_struct *task, u64 clone_flags)
{
	char comm[16];

	bpf_probe_read_kernel(comm, sizeof(comm), task->comm);
	f11_sink = comm[0];
	return 0;
}

/* A ringbuf record of constant size filled and submitted. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f11_ringbuf_record_ok, struct task_struct *task, u64 clone_flags)
{
	__u64 *rec = bpf_ringbuf_reserve(&f11_ring, sizeof(*rec), 0);

	if (!rec)
		return 0;
	*rec = task->pid;
	bpf_ringbuf_submit(rec, 0);
	return 0;
}

/* The ringbuf record written one u64 past its reserved size. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f11_ringbuf_record_overflow, struct task_struct *task, u64 clone_flags)
{
	__u64 *rec = bpf_ringbuf_reserve(&f11_ring, sizeof(*rec), 0);

	if (!rec)
		return 0;
	rec[1] = task->pid;
	bpf_ringbuf_submit(rec, 0);
	return 0;
}

char _license[] SEC("license") = "GPL";
