// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("perf_event"): a sampling program that sends the sample period and
 * pid to user space through a PERF_EVENT_ARRAY (max_entries left 0: libbpf
 * sizes it to the number of possible CPUs).  Load-only.
 */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

struct sample {
	__u64 period;
	__u32 pid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} samples SEC(".maps");

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	struct sample s = {
		.period = ctx->sample_period,
		.pid = bpf_get_current_pid_tgid() >> 32,
	};

	bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
