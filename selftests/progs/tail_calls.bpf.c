// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Tail calls through a PROG_ARRAY whose initial slots come from `.values`
 * (libbpf fills them after loading the programs; the targets must be
 * declared before the map).  The slot to jump to is .rodata configuration;
 * slot 1 is empty, so tail_miss falls through.
 */
// bpfld: run prog=xdp_entry kind=xdp pkt=v4tcp retval=3
// bpfld: run prog=tail_miss kind=xdp pkt=v4tcp retval=0
// bpfld: global tail_hits expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int tail_a(struct xdp_md *ctx);
int tail_b(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct xdp_md *));
} jmp_table SEC(".maps") = {
	.values = {
		[0] = (void *)&tail_a,
		[2] = (void *)&tail_b,
	},
};

const volatile __u32 slot = 2;
__u32 tail_hits;

SEC("xdp")
int xdp_entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp_table, slot);
	return XDP_ABORTED;
}

SEC("xdp")
int tail_miss(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp_table, 1);
	return XDP_ABORTED;
}

SEC("xdp")
int tail_a(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int tail_b(struct xdp_md *ctx)
{
	tail_hits++;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
