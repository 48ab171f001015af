// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* TASK_STORAGE from a raw tracepoint program, which can be test-run: the
 * current task during BPF_PROG_TEST_RUN is the runner itself, so two runs
 * find the same storage and count to 2.  (Inode storage: lsm.bpf.c; socket
 * storage: sockops.bpf.c.)
 */
// bpfld: run prog=count_task kind=raw_tp ctx=0000000000000000 retval=0
// bpfld: run prog=count_task kind=raw_tp ctx=0000000000000000 retval=0
// bpfld: global last_count expect-after-run=2
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} task_cnt SEC(".maps");

__u64 last_count;

SEC("raw_tp/sys_enter")
int count_task(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 *n = bpf_task_storage_get(&task_cnt, bpf_get_current_task_btf(), 0,
					BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (n)
		last_count = ++*n;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
