// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A TCP congestion control in a SEC(".struct_ops.link") map (BPF_F_LINK): the
 * load writes its value (the programs' fds in its function members), which
 * registers nothing; the caller registers it with BPF_LINK_CREATE of the map
 * fd (libbpf's bpf_map__attach_struct_ops() after its update) and unregisters
 * it by closing the link (struct_ops_link_attach).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

SEC("struct_ops/lnk_ssthresh")
__u32 BPF_PROG(lnk_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/lnk_cong_avoid")
void BPF_PROG(lnk_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/lnk_undo_cwnd")
__u32 BPF_PROG(lnk_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops bpfld_lnk = {
	.ssthresh = (void *)lnk_ssthresh,
	.cong_avoid = (void *)lnk_cong_avoid,
	.undo_cwnd = (void *)lnk_undo_cwnd,
	.name = "bpfld_lnk",
};

char LICENSE[] SEC("license") = "GPL";
