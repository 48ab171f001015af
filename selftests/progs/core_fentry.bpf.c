// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* CO-RE direct loads in SEC("fentry/...") programs, which can be test-run
 * (kind=tracing: net/bpf/test_run.c calls bpf_fentry_test1(1) ..
 * bpf_fentry_test9 with the program attached).
 *
 * - fentry_task: bpf_get_current_task_btf() is a trusted task_struct
 *   pointer: task->tgid, task->group_leader->pid (direct loads through a
 *   relocated pointer field), a direct bitfield read (in_execve is 0) and
 *   task->comm[0] against bpf_get_current_comm().
 * - fentry_arg: bpf_fentry_test8(&arg) gets a zeroed struct
 *   bpf_fentry_test_t (a kernel type private to test_run.c), read through
 *   a ___flavor: arg->a is NULL.
 */
// bpfld: host-skip the host kernel (6.18 "fc") refuses BPF trampolines with EPERM at load (its ftrace is locked); expected to load where trampolines work (the 6.12 test VM)
// bpfld: kernel-needs trampolines
// bpfld: run prog=fentry_task kind=tracing retval=0
// bpfld: run prog=fentry_arg kind=tracing retval=0
// bpfld: global ft_tgid expect-after-run=1
// bpfld: global ft_leader expect-after-run=1
// bpfld: global ft_execve expect-after-run=0
// bpfld: global ft_comm expect-after-run=1
// bpfld: global fa_calls expect-after-run=1
// bpfld: global fa_null expect-after-run=1
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

struct bpf_fentry_test_t___mine {
	struct bpf_fentry_test_t___mine *a;
} __attribute__((preserve_access_index));

__u64 ft_tgid, ft_leader, ft_execve = 1, ft_comm;
__u64 fa_calls, fa_null;

SEC("fentry/bpf_fentry_test1")
int BPF_PROG(fentry_task, int a)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	ft_tgid = task->tgid == tgid;
	ft_leader = task->group_leader->pid == tgid;
	ft_execve = BPF_CORE_READ_BITFIELD(task, in_execve);
	ft_comm = task->comm[0] == comm[0] && comm[0];
	return 0;
}

SEC("fentry/bpf_fentry_test8")
int BPF_PROG(fentry_arg, struct bpf_fentry_test_t___mine *arg)
{
	fa_calls++;
	fa_null = arg && !arg->a && bpf_core_type_exists(struct bpf_fentry_test_t___mine);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
