// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("raw_tp/...") and SEC("raw_tracepoint/...").  A raw tracepoint
 * program can be test-run with its arguments as the context (an array of
 * u64): rtp_sum adds the first two.
 */
// bpfld: run prog=rtp_sum kind=raw_tp ctx=05000000000000000700000000000000 retval=0
// bpfld: global last_sum expect-after-run=12
// bpfld: run prog=rtp_switch kind=raw_tp ctx=000000000000000000000000000000000000000000000000 retval=0
// bpfld: global switches expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 last_sum, switches;

SEC("raw_tp/sys_enter")
int rtp_sum(struct bpf_raw_tracepoint_args *ctx)
{
	last_sum = ctx->args[0] + ctx->args[1];
	return 0;
}

/* sched_switch(bool preempt, prev, next): three arguments */
SEC("raw_tracepoint/sched_switch")
int rtp_switch(struct bpf_raw_tracepoint_args *ctx)
{
	if (!ctx->args[0])
		switches++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
