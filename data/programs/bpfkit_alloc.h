/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpfkit_alloc.h: declarations shared by bpfkit's sample programs about
 * program-allocated objects (bpf_obj_new, kptrs, lists, rbtrees, refcounts).
 *
 * Written for bpfkit. The kfunc prototypes mirror the kernel's BTF for 6.18
 * (see `bpftool btf dump file /sys/kernel/btf/vmlinux | grep FUNC`); the
 * annotation macros produce the BTF tags the verifier reads.
 */
#ifndef BPFKIT_ALLOC_H
#define BPFKIT_ALLOC_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

/* BTF type tags on pointer fields of map values and allocated objects.
 * libbpf 1.1's bpf_helpers.h predates kptr_untrusted and percpu_kptr, so
 * define them all here. A "kptr" field holds a referenced pointer. */
#undef __kptr
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))

/* A bpf_list_head / bpf_rb_root holds objects of struct `name`, linked
 * through its field `node`. */
#define __contains(name, node) \
	__attribute__((btf_decl_tag("contains:" #name ":" #node)))

/* Globals holding a lock and the collection it protects go to their own
 * .data.<name> section: one array map per section, so the lock and the
 * head share a map value. */
#define private(name) SEC(".data." #name) __hidden __attribute__((aligned(8)))

/* Allocation and release of program-allocated objects. */
extern void *bpf_obj_new_impl(__u64 local_type_id, void *meta) __ksym;
extern void bpf_obj_drop_impl(void *kptr, void *meta) __ksym;
extern void *bpf_percpu_obj_new_impl(__u64 local_type_id, void *meta) __ksym;
extern void bpf_percpu_obj_drop_impl(void *kptr, void *meta) __ksym;
extern void *bpf_refcount_acquire_impl(void *kptr, void *meta) __ksym;

#define bpf_obj_new(type) \
	((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
#define bpf_percpu_obj_new(type) \
	((type __percpu_kptr *)bpf_percpu_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_percpu_obj_drop(kptr) bpf_percpu_obj_drop_impl(kptr, NULL)
#define bpf_refcount_acquire(kptr) bpf_refcount_acquire_impl(kptr, NULL)

/* Linked lists. */
extern int bpf_list_push_front_impl(struct bpf_list_head *head,
				    struct bpf_list_node *node,
				    void *meta, __u64 off) __ksym;
extern int bpf_list_push_back_impl(struct bpf_list_head *head,
				   struct bpf_list_node *node,
				   void *meta, __u64 off) __ksym;
extern struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head) __ksym;
extern struct bpf_list_node *bpf_list_pop_back(struct bpf_list_head *head) __ksym;

#define bpf_list_push_front(head, node) bpf_list_push_front_impl(head, node, NULL, 0)
#define bpf_list_push_back(head, node) bpf_list_push_back_impl(head, node, NULL, 0)

/* Red-black trees. */
extern int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node,
			       bool (less)(struct bpf_rb_node *a,
					   const struct bpf_rb_node *b),
			       void *meta, __u64 off) __ksym;
extern struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root) __ksym;
extern struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root,
					     struct bpf_rb_node *node) __ksym;

#define bpf_rbtree_add(root, node, less) bpf_rbtree_add_impl(root, node, less, NULL, 0)

/* Kernel objects that can be stashed in kptr fields. */
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
extern void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;
extern void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

/* Keep the compiler from folding away a value the verifier must see. */
#define bpfkit_barrier_var(var) asm volatile("" : "+r"(var))

#endif /* BPFKIT_ALLOC_H */
