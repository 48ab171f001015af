// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("tp_btf/...") : BTF-typed raw tracepoints (attach target resolved
 * in vmlinux BTF as btf_trace_<name>), arguments through BPF_PROG.
 * Load-only.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct task_struct;

__u64 switches, preempted, last_clone_flags;

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switches++;
	if (preempt)
		preempted++;
	return 0;
}

SEC("tp_btf/task_newtask")
int BPF_PROG(on_newtask, struct task_struct *task, __u64 clone_flags)
{
	last_clone_flags = clone_flags;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
