// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("struct_ops/...") programs and a SEC(".struct_ops") map: a minimal
 * TCP congestion control ("bpfld_min", Reno-like halving without reading
 * the socket).  The BPF-side struct declares only the members it sets;
 * libbpf matches them by name against the kernel's tcp_congestion_ops.
 * Loading creates the struct_ops map; registering happens only on attach.
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

__u64 avoid_calls;

SEC("struct_ops/bpfld_ssthresh")
__u32 BPF_PROG(bpfld_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/bpfld_cong_avoid")
void BPF_PROG(bpfld_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	avoid_calls++;
}

SEC("struct_ops/bpfld_undo_cwnd")
__u32 BPF_PROG(bpfld_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC(".struct_ops")
struct tcp_congestion_ops bpfld_min = {
	.ssthresh = (void *)bpfld_ssthresh,
	.cong_avoid = (void *)bpfld_cong_avoid,
	.undo_cwnd = (void *)bpfld_undo_cwnd,
	.name = "bpfld_min",
};

char LICENSE[] SEC("license") = "GPL";
