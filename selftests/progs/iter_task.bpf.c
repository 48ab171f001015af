// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("iter/task"): a BPF iterator over all tasks, printing one line per
 * task into the seq_file.  The context layout mirrors the kernel's
 * struct bpf_iter__task (two pointers); no CO-RE is involved because only
 * the pointers are used.  Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct seq_file;
struct task_struct;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
};

__u64 tasks_seen;

SEC("iter/task")
int dump_tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u64 n = ctx->meta->seq_num;

	if (!ctx->task) {
		BPF_SEQ_PRINTF(seq, "tasks %llu\n", tasks_seen);
		return 0;
	}
	tasks_seen++;
	BPF_SEQ_PRINTF(seq, "task #%llu\n", n);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
