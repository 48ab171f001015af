// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Type-based relocations: bpf_core_type_exists, bpf_core_type_size,
 * bpf_core_type_id_kernel, bpf_core_type_id_local.
 *
 * - types_size: sizes that never change (struct list_head, struct qstr: 16;
 *   pid_t, a typedef: 4; enum pid_type: 4), sizes that do (task_struct,
 *   sk_buff) checked against field offsets, a union (union bpf_attr) and a
 *   flavor of an existing struct.
 * - types_ids: the kernel type id of struct sk_buff through vmlinux.h's
 *   type and through a ___flavor (the same id), of a missing type (0), and
 *   local type ids (the object's own BTF ids, distinct per local type).
 *   Kernel ids only of types the kernel defines once: the 6.12 test
 *   kernel's BTF has three identical struct task_struct (and file, inode,
 *   mm_struct, bpf_map, ...), and a TYPE_ID_TARGET relocation whose
 *   candidates give different ids is refused as ambiguous (libbpf and
 *   bpfld alike); offsets and sizes agree across the copies.
 * - types_btf: a kernel type id used the way CO-RE programs use it, as the
 *   type of a bpf_snprintf_btf() dump: a zeroed struct list_head prints as
 *   "(struct list_head){}" (20 characters, returned without the NUL).
 *   A wrong id would print another type or fail.
 */
// bpfld: run prog=types_size kind=syscall retval=0
// bpfld: run prog=types_ids kind=syscall retval=0
// bpfld: run prog=types_btf kind=syscall retval=20
// bpfld: global ty_fixed expect-after-run=1
// bpfld: global ty_typedef expect-after-run=1
// bpfld: global ty_task expect-after-run=1
// bpfld: global ty_skb expect-after-run=1
// bpfld: global ty_union expect-after-run=1
// bpfld: global ty_flavor expect-after-run=1
// bpfld: global id_same expect-after-run=1
// bpfld: global id_gone expect-after-run=0
// bpfld: global id_local expect-after-run=1
// bpfld: global btf_text expect-after-run=1
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___flav {
	int pid;
} __attribute__((preserve_access_index));

struct sk_buff___flav {
	unsigned int len;
} __attribute__((preserve_access_index));

struct list_head___flav {
	struct list_head___flav *next, *prev;
} __attribute__((preserve_access_index));

struct bpfld_absent_type___x {
	int x;
};

__u64 ty_fixed, ty_typedef, ty_task, ty_skb, ty_union, ty_flavor;
__u64 id_same, id_gone, id_local;
__u64 btf_text;
const char want[] = "(struct list_head){}";

SEC("syscall")
int types_size(void *ctx)
{
	struct task_struct *t = NULL;
	struct sk_buff *s = NULL;

	ty_fixed = bpf_core_type_size(struct list_head) == 16 &&
		   bpf_core_type_size(struct qstr) == 16 && bpf_core_type_exists(struct qstr);
	ty_typedef = bpf_core_type_exists(pid_t) && bpf_core_type_size(pid_t) == 4 &&
		     bpf_core_type_size(enum pid_type) == 4 && bpf_core_type_size(u64) == 8;
	ty_task = bpf_core_type_size(struct task_struct) >
		  bpf_core_field_offset(t->comm) + bpf_core_field_size(t->comm);
	ty_skb = bpf_core_type_size(struct sk_buff) > bpf_core_field_offset(s->len) &&
		 bpf_core_type_exists(struct sk_buff);
	ty_union = bpf_core_type_exists(union bpf_attr) && bpf_core_type_size(union bpf_attr) >= 120;
	ty_flavor = bpf_core_type_size(struct list_head___flav) == 16 &&
		    bpf_core_type_exists(struct task_struct___flav);
	return 0;
}

SEC("syscall")
int types_ids(void *ctx)
{
	__u32 k = bpf_core_type_id_kernel(struct sk_buff);
	__u32 l1 = bpf_core_type_id_local(struct task_struct);
	__u32 l2 = bpf_core_type_id_local(struct task_struct___flav);

	id_same = k != 0 && k == bpf_core_type_id_kernel(struct sk_buff___flav) &&
		  bpf_core_type_id_kernel(struct list_head) != k;
	id_gone = bpf_core_type_id_kernel(struct bpfld_absent_type___x);
	id_local = l1 && l2 && l1 != l2 && bpf_core_type_id_local(struct bpfld_absent_type___x) &&
		   bpf_core_type_id_local(struct task_struct) == l1;
	return 0;
}

SEC("syscall")
int types_btf(void *ctx)
{
	struct list_head zero = {};
	struct btf_ptr p = {
		.ptr = &zero,
		.type_id = bpf_core_type_id_kernel(struct list_head),
	};
	char buf[64] = {};
	long n;
	int i;

	n = bpf_snprintf_btf(buf, sizeof(buf), &p, sizeof(p), BTF_F_COMPACT);
	btf_text = n == sizeof(want) - 1;
	for (i = 0; i < sizeof(want); i++)
		if (buf[i] != want[i])
			btf_text = 0;
	return n;
}

char LICENSE[] SEC("license") = "GPL";
