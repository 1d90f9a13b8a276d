// SPDX-License-Identifier: GPL-2.0
/*
 * f12_load_and_args.bpf.c: rules the kernel applies before or around the ownership rules.
 * Kernel: check_map_prog_compatibility() (tracing programs and maps holding bpf_list_head /
 * bpf_rb_root / bpf_spin_lock, checked when the program's map references are resolved, before
 * any instruction), check_func_arg_reg_off() / __check_ptr_off_reg() (no variable offset on
 * a BTF pointer passed to a kfunc), process_spin_lock() (the lock argument must point at the
 * object's bpf_spin_lock), adjust_ptr_min_max_vals() (no arithmetic on a pointer that may be
 * NULL), check_kfunc_args() (a "__k" argument is a known constant), check_kfunc_call() (the
 * bpf_obj_new type id is a u32), btf_ld_kptr_type() (a plain load of a kptr whose type holds
 * a graph node is a non-owning reference, invalidated at bpf_spin_unlock), check_reg_type()
 * and btf_struct_walk() for a helper's memory argument that is a trusted kernel struct.
 * Written for bpfkit; comments name the rule aimed at, never the verdict.
 */
#include "rules.h"

struct f12_item {
	__u64 key;
	struct bpf_list_node ln;
};

struct f12_locked {
	__u64 a;
	struct bpf_spin_lock lock;
	__u64 b;
};

struct f12_tnode {
	__u64 key;
	struct bpf_rb_node rn;
	struct bpf_refcount rc;
};

struct f12_slot {
	struct f12_tnode __kptr *node;
};

struct f12_val {
	struct bpf_spin_lock lock;
	__u64 n;
};

private(F12) struct bpf_spin_lock f12_glock;
private(F12) struct bpf_list_head f12_list __contains(f12_item, ln);

BPFKIT_ARRAY1(f12_locks, struct f12_val);
BPFKIT_ARRAY1(f12_slots, struct f12_slot);
BPFKIT_ARRAY1(f12_plain, __u64);

__u64 f12_sink;

static __always_inline int f12_push_one(__u64 key)
{
	struct f12_item *it = bpf_obj_new(struct f12_item);

	if (!it)
		return 0;
	it->key = key;
	bpf_spin_lock(&f12_glock);
	bpf_list_push_front(&f12_list, &it->ln);
	bpf_spin_unlock(&f12_glock);
	return 0;
}

/* check_map_prog_compatibility: a kprobe program and a section holding a bpf_list_head. */
SEC("kprobe/do_nanosleep")
int f12_kprobe_uses_list(void *ctx)
{
	return f12_push_one(1);
}

/* The same use from a tc program. */
SEC("tc")
int f12_tc_uses_list_ok(struct __sk_buff *skb)
{
	return f12_push_one(skb->len);
}

/* check_map_prog_compatibility: a raw tracepoint program and a map value with a spin lock. */
SEC("raw_tp/sys_enter")
int f12_raw_tp_uses_spin_lock(void *ctx)
{
	struct f12_val *v = slot0(&f12_locks);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->n++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* A raw tracepoint program and a plain map (no special fields). */
SEC("raw_tp/sys_enter")
int f12_raw_tp_plain_map_ok(void *ctx)
{
	__u64 *v = slot0(&f12_plain);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

/* __check_ptr_off_reg: the object released at a variable offset. */
SEC("tc")
int f12_drop_variable_offset(struct __sk_buff *skb)
{
	struct f12_item *it = bpf_obj_new(struct f12_item);

	if (!it)
		return 0;
	bpf_obj_drop((void *)it + (skb->len & 8));
	return 0;
}

/* __check_ptr_off_reg: the node pushed at a variable offset. */
SEC("tc")
int f12_push_node_variable_offset(struct __sk_buff *skb)
{
	struct f12_item *it = bpf_obj_new(struct f12_item);

	if (!it)
		return 0;
	bpf_spin_lock(&f12_glock);
	bpf_list_push_front(&f12_list, (void *)&it->ln + (skb->len & 16));
	bpf_spin_unlock(&f12_glock);
	return 0;
}

/* process_spin_lock: the lock argument points 8 bytes past the object's bpf_spin_lock. */
SEC("tc")
int f12_lock_wrong_field(struct __sk_buff *skb)
{
	struct f12_locked *p = bpf_obj_new(struct f12_locked);

	if (!p)
		return 0;
	bpf_spin_lock((struct bpf_spin_lock *)&p->b);
	p->a = skb->len;
	bpf_spin_unlock((struct bpf_spin_lock *)&p->b);
	bpf_obj_drop(p);
	return 0;
}

/* The object's own lock. */
SEC("tc")
int f12_lock_own_field_ok(struct __sk_buff *skb)
{
	struct f12_locked *p = bpf_obj_new(struct f12_locked);

	if (!p)
		return 0;
	bpf_spin_lock(&p->lock);
	p->a = skb->len;
	bpf_spin_unlock(&p->lock);
	bpf_obj_drop(p);
	return 0;
}

/* adjust_ptr_min_max_vals: an offset added to a map value pointer before its NULL check. */
SEC("tc")
int f12_arith_before_null_check(struct __sk_buff *skb)
{
	__u32 key = 0;
	char *v = bpf_map_lookup_elem(&f12_plain, &key);

	bpfkit_barrier_var(v);
	v += 4;
	bpfkit_barrier_var(v);
	if (v == (char *)4)
		return 0;
	return *(__u8 *)v;
}

/* The offset added after the check. */
SEC("tc")
int f12_arith_after_null_check_ok(struct __sk_buff *skb)
{
	__u32 key = 0;
	char *v = bpf_map_lookup_elem(&f12_plain, &key);

	if (!v)
		return 0;
	bpfkit_barrier_var(v);
	v += 4;
	return *(__u8 *)v;
}

/* check_kfunc_call: a bpf_obj_new type id that does not fit in 32 bits. */
SEC("tc")
int f12_obj_new_id_too_wide(struct __sk_buff *skb)
{
	void *p = bpf_obj_new_impl(0x100000001ULL, NULL);

	if (p)
		bpf_obj_drop(p);
	return 0;
}

/* check_kfunc_args: the bpf_obj_new type id ("local_type_id__k") is not a known constant. */
SEC("tc")
int f12_obj_new_id_not_constant(struct __sk_buff *skb)
{
	void *p = bpf_obj_new_impl(skb->len, NULL);

	if (p)
		bpf_obj_drop(p);
	return 0;
}

/* btf_ld_kptr_type: a kptr whose type holds a bpf_rb_node, read after a bpf_spin_unlock. */
SEC("tc")
int f12_graph_kptr_read_after_unlock(struct __sk_buff *skb)
{
	struct f12_slot *s = slot0(&f12_slots);
	struct f12_val *v = slot0(&f12_locks);
	struct f12_tnode *n;

	if (!s || !v)
		return 0;
	n = s->node;
	if (!n)
		return 0;
	bpf_spin_lock(&v->lock);
	v->n++;
	bpf_spin_unlock(&v->lock);
	return n->key;
}

/* The same kptr read before the lock is taken. */
SEC("tc")
int f12_graph_kptr_read_before_lock_ok(struct __sk_buff *skb)
{
	struct f12_slot *s = slot0(&f12_slots);
	struct f12_val *v = slot0(&f12_locks);
	struct f12_tnode *n;
	__u64 key;

	if (!s || !v)
		return 0;
	n = s->node;
	if (!n)
		return 0;
	key = n->key;
	bpf_spin_lock(&v->lock);
	v->n++;
	bpf_spin_unlock(&v->lock);
	return key;
}

/* The kptr slot is filled somewhere, so the type is a real kptr target. */
SEC("tc")
int f12_stash_node_ok(struct __sk_buff *skb)
{
	struct f12_slot *s = slot0(&f12_slots);
	struct f12_tnode *n, *old;

	if (!s)
		return 0;
	n = bpf_obj_new(struct f12_tnode);
	if (!n)
		return 0;
	old = bpf_kptr_xchg(&s->node, n);
	if (old)
		bpf_obj_drop(old);
	return 0;
}

/* check_reg_type (mem_types): a helper that writes into a trusted kernel struct. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f12_helper_writes_task_comm, struct task_struct *task, u64 clone_flags)
{
	bpf_get_current_comm(task->comm, sizeof(task->comm));
	return 0;
}

/* btf_struct_walk: a helper reading a whole member of a trusted kernel struct. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f12_helper_reads_task_comm_ok, struct task_struct *task, u64 clone_flags)
{
	return bpf_strncmp(task->comm, sizeof(task->comm), "bpfkit");
}

/* btf_struct_walk: the bytes read run past the end of the member. */
SEC("tp_btf/task_newtask")
int BPF_PROG(f12_helper_reads_past_task_comm, struct task_struct *task, u64 clone_flags)
{
	return bpf_strncmp(task->comm + 4, sizeof(task->comm), "bpfkit");
}

char _license[] SEC("license") = "GPL";
