// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* CO-RE reads of the current task_struct from SEC("syscall") programs.
 *
 * A syscall program test-run executes in the caller's context, so
 * bpf_get_current_task() is the loader's own task; the values depend on the
 * process, so each program checks relations between CO-RE reads and what
 * the helpers report, and stores 1 per relation that holds.
 *
 * - task_ids: scalar fields (pid, tgid), pointer chains (group_leader->pid,
 *   group_leader->real_parent == real_parent, real_parent->tgid through two
 *   paths), a flexible array element inside a pointed-to struct
 *   (thread_pid->numbers[0].nr), through a static subprogram that has its
 *   own CO-RE relocations and is shared with task_comm.
 * - task_comm: an array member (comm) read whole with BPF_CORE_READ_STR_INTO
 *   and element by element (comm[i] is a CO-RE access with an array index),
 *   bpf_core_field_size of the array, compared with bpf_get_current_comm().
 * - task_mm: task->mm->... (mm == active_mm for a user task, code and
 *   argument ranges, an atomic_t inside mm_struct: mm_users.counter).
 */
// bpfld: run prog=task_ids kind=syscall retval=0
// bpfld: run prog=task_comm kind=syscall retval=0
// bpfld: run prog=task_mm kind=syscall retval=0
// bpfld: global ids_tgid expect-after-run=1
// bpfld: global ids_pid expect-after-run=1
// bpfld: global ids_leader expect-after-run=1
// bpfld: global ids_parent expect-after-run=1
// bpfld: global ids_upid expect-after-run=1
// bpfld: global comm_str expect-after-run=1
// bpfld: global comm_elems expect-after-run=1
// bpfld: global comm_size expect-after-run=16
// bpfld: global comm_tgid expect-after-run=1
// bpfld: global mm_active expect-after-run=1
// bpfld: global mm_ranges expect-after-run=1
// bpfld: global mm_users expect-after-run=1
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

__u64 ids_tgid, ids_pid, ids_leader, ids_parent, ids_upid;
__u64 comm_str, comm_elems, comm_size, comm_tgid;
__u64 mm_active, mm_ranges, mm_users;

/* Shared by two programs: its relocations are appended to each. */
static __noinline int core_tgid(struct task_struct *task)
{
	return BPF_CORE_READ(task, tgid);
}

SEC("syscall")
int task_ids(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *parent;

	ids_tgid = core_tgid(task) == (__u32)(pid_tgid >> 32);
	ids_pid = BPF_CORE_READ(task, pid) == (__u32)pid_tgid;
	ids_leader = BPF_CORE_READ(task, group_leader, pid) == (__u32)(pid_tgid >> 32);
	/* Every thread of a group has the leader's real_parent. */
	parent = BPF_CORE_READ(task, real_parent);
	ids_parent = parent && BPF_CORE_READ(task, group_leader, real_parent) == parent &&
		     BPF_CORE_READ(task, group_leader, real_parent, tgid) ==
			     BPF_CORE_READ(parent, tgid);
	/* numbers[0] is the pid in the initial namespace: task->pid. */
	ids_upid = BPF_CORE_READ(task, thread_pid, numbers[0].nr) == (__u32)pid_tgid;
	return 0;
}

SEC("syscall")
int task_comm(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	char mine[16] = {}, cur[16] = {};
	int i, same = 1, elems = 1;

	BPF_CORE_READ_STR_INTO(&mine, task, comm);
	bpf_get_current_comm(cur, sizeof(cur));
	for (i = 0; i < 16; i++) {
		if (mine[i] != cur[i])
			same = 0;
		if (BPF_CORE_READ(task, comm[i]) != cur[i])
			elems = 0;
		if (!cur[i])
			break;
	}
	comm_str = same && cur[0];
	comm_elems = elems;
	comm_size = bpf_core_field_size(task->comm);
	comm_tgid = core_tgid(task) == bpf_get_current_pid_tgid() >> 32;
	return 0;
}

SEC("syscall")
int task_mm(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);

	mm_active = mm && BPF_CORE_READ(task, active_mm) == mm;
	mm_ranges = BPF_CORE_READ(mm, start_code) < BPF_CORE_READ(mm, end_code) &&
		    BPF_CORE_READ(mm, arg_start) < BPF_CORE_READ(mm, arg_end) &&
		    BPF_CORE_READ(mm, start_stack) != 0;
	mm_users = BPF_CORE_READ(task, mm, mm_users.counter) > 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
