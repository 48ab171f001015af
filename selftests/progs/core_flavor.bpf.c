// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Local type definitions with ___flavor suffixes and preserve_access_index:
 * the loader matches them to the kernel's struct task_struct by essential
 * name, field by field, whatever the local layout.
 *
 * - flavor_fields: a local task_struct___mine with a different layout
 *   (offsets, order) and a field the kernel does not have: field_exists is
 *   1 / 0, the guarded read of the missing field is dead code after
 *   relocation (the instruction is poisoned and the verifier drops it),
 *   and field offsets of the flavor equal those of vmlinux.h's
 *   task_struct, including an array element (comm[3]).
 * - flavor_state: the 5.14 rename of task_struct::state to __state, read the
 *   portable way through two flavors: the running task is TASK_RUNNING (0).
 * - flavor_size: a flavor declaring tgid as 64 bits: bpf_core_field_size is
 *   the kernel's 4, and a read with the relocated size gives the tgid.
 *   A flavor of a type the kernel does not have: type_exists 0, type_size 0
 *   (type-based relocations of a missing type give 0, not a poison).
 */
// bpfld: run prog=flavor_fields kind=syscall retval=0
// bpfld: run prog=flavor_state kind=syscall retval=0
// bpfld: run prog=flavor_size kind=syscall retval=0
// bpfld: global fl_exists expect-after-run=1
// bpfld: global fl_missing expect-after-run=0
// bpfld: global fl_guarded expect-after-run=42
// bpfld: global fl_tgid expect-after-run=1
// bpfld: global fl_offsets expect-after-run=1
// bpfld: global st_old expect-after-run=0
// bpfld: global st_new expect-after-run=1
// bpfld: global st_running expect-after-run=1
// bpfld: global sz_tgid expect-after-run=4
// bpfld: global sz_read expect-after-run=1
// bpfld: global sz_type expect-after-run=1
// bpfld: global sz_gone_exists expect-after-run=0
// bpfld: global sz_gone_size expect-after-run=0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___mine {
	char comm[16];
	int no_such_field;
	int tgid;
	int pid;
	struct task_struct___mine *group_leader;
} __attribute__((preserve_access_index));

/* Before 5.14 */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

/* Since 5.14 */
struct task_struct___new {
	unsigned int __state;
} __attribute__((preserve_access_index));

struct task_struct___wide {
	long long tgid;
} __attribute__((preserve_access_index));

struct bpfld_no_such_type___x {
	int a;
	long b;
} __attribute__((preserve_access_index));

__u64 fl_exists, fl_missing, fl_guarded, fl_tgid, fl_offsets;
__u64 st_old, st_new, st_running;
__u64 sz_tgid, sz_read, sz_type, sz_gone_exists, sz_gone_size;

SEC("syscall")
int flavor_fields(void *ctx)
{
	struct task_struct___mine *t = (void *)bpf_get_current_task();
	struct task_struct *k = (void *)t;

	fl_exists = bpf_core_field_exists(t->tgid) && bpf_core_field_exists(t->comm) &&
		    bpf_core_field_exists(t->group_leader);
	fl_missing = bpf_core_field_exists(t->no_such_field);
	if (bpf_core_field_exists(t->no_such_field))
		fl_guarded = BPF_CORE_READ(t, no_such_field);
	else
		fl_guarded = 42;
	fl_tgid = BPF_CORE_READ(t, group_leader, tgid) == bpf_get_current_pid_tgid() >> 32;
	fl_offsets = bpf_core_field_offset(t->tgid) == bpf_core_field_offset(k->tgid) &&
		     bpf_core_field_offset(t->pid) == bpf_core_field_offset(k->pid) &&
		     bpf_core_field_offset(t->comm[3]) == bpf_core_field_offset(k->comm) + 3 &&
		     bpf_core_field_offset(t->pid) + 4 == bpf_core_field_offset(t->tgid);
	return 0;
}

SEC("syscall")
int flavor_state(void *ctx)
{
	void *task = (void *)bpf_get_current_task();
	struct task_struct___old *o = task;
	struct task_struct___new *n = task;
	long state;

	st_old = bpf_core_field_exists(o->state);
	st_new = bpf_core_field_exists(n->__state);
	if (bpf_core_field_exists(n->__state))
		state = BPF_CORE_READ(n, __state);
	else
		state = BPF_CORE_READ(o, state);
	st_running = state == 0;
	return 0;
}

SEC("syscall")
int flavor_size(void *ctx)
{
	struct task_struct___wide *w = (void *)bpf_get_current_task();
	long long tgid = 0;

	sz_tgid = bpf_core_field_size(w->tgid);
	bpf_core_read(&tgid, bpf_core_field_size(w->tgid), &w->tgid);
	sz_read = tgid == bpf_get_current_pid_tgid() >> 32;
	sz_type = bpf_core_type_size(struct task_struct___wide) ==
			  bpf_core_type_size(struct task_struct) &&
		  bpf_core_type_exists(struct task_struct___wide);
	sz_gone_exists = bpf_core_type_exists(struct bpfld_no_such_type___x);
	sz_gone_size = bpf_core_type_size(struct bpfld_no_such_type___x);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
