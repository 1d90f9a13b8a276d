// SPDX-License-Identifier: GPL-2.0
/*
 * f05x_nodtor_file.bpf.c: rule family 5 of issue #12. A referenced __kptr to struct file, a
 * kernel struct with no destructor kfunc registered (btf_parse_kptr ->
 * btf_find_dtor_kfunc fails), sits in one map value; the same object has a map with a
 * valid task_struct kptr. Aimed at: whether one bad field hides the other fields and
 * maps of the object (the kernel parses every struct's special fields when it loads the
 * object's BTF: btf_parse_struct_metas). Written for bpfkit; comments name the rule aimed
 * at, never the verdict.
 */
#include "rules.h"

struct f05x_bad {
	struct file __kptr *bad;
	__u64 cookie;
};

struct f05x_good {
	struct task_struct __kptr *task;
};

BPFKIT_ARRAY1(f05x_bad_map, struct f05x_bad);
BPFKIT_ARRAY1(f05x_good_map, struct f05x_good);

__u64 f05x_sink;

/* The valid task kptr of the other map, exchanged and released. */
SEC("tc")
int f05x_file_good_field(struct __sk_buff *skb)
{
	struct f05x_good *g = slot0(&f05x_good_map);
	struct task_struct *t;

	if (!g)
		return 0;
	t = bpf_kptr_xchg(&g->task, NULL);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* The field without destructor, read through a plain load. */
SEC("tc")
int f05x_file_bad_field_load(struct __sk_buff *skb)
{
	struct f05x_bad *b = slot0(&f05x_bad_map);

	if (!b || !b->bad)
		return 0;
	f05x_sink = b->bad->f_flags;
	return 0;
}

/* The plain u64 next to the bad field. */
SEC("tc")
int f05x_file_plain_field(struct __sk_buff *skb)
{
	struct f05x_bad *b = slot0(&f05x_bad_map);

	if (!b)
		return 0;
	b->cookie = skb->len;
	return 0;
}

char _license[] SEC("license") = "GPL";
