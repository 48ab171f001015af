// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("tp/...") with two programs in the same section, and the long
 * SEC("tracepoint/...") spelling.  tp_getpid_a sends an event through a
 * ring buffer; tp_getpid_b counts in .bss.  Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

__u64 getpid_calls, execs;

SEC("tp/syscalls/sys_enter_getpid")
int tp_getpid_a(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int tp_getpid_b(void *ctx)
{
	__sync_fetch_and_add(&getpid_calls, 1);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int tp_exec(void *ctx)
{
	__sync_fetch_and_add(&execs, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
