// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* struct_ops_link.bpf.c without undo_cwnd, which every TCP congestion control
 * needs: the kernel refuses the value the load writes (the type's validate(),
 * EINVAL), so the load fails there, naming the map, with nothing left.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	char name[16];
};

SEC("struct_ops/bad_ssthresh")
__u32 BPF_PROG(bad_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/bad_cong_avoid")
void BPF_PROG(bad_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC(".struct_ops.link")
struct tcp_congestion_ops bpfld_lnk_bad = {
	.ssthresh = (void *)bad_ssthresh,
	.cong_avoid = (void *)bad_cong_avoid,
	.name = "bpfld_lnk_bad",
};

char LICENSE[] SEC("license") = "GPL";
