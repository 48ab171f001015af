// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Two plain SEC(".struct_ops") maps, each a TCP congestion control of the same
 * name, "bpfld_two", with programs of its own. A load asked to register them
 * (BPFLD_LOAD_REGISTER_STRUCT_OPS) registers the first and is refused the
 * second by the kernel (EEXIST: the name is taken): it must unregister the
 * first and leave nothing (struct_ops_registered_at_load).
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

SEC("struct_ops/one_ssthresh")
__u32 BPF_PROG(one_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/one_cong_avoid")
void BPF_PROG(one_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/one_undo_cwnd")
__u32 BPF_PROG(one_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/two_ssthresh")
__u32 BPF_PROG(two_ssthresh, struct sock *sk)
{
	return 3;
}

SEC("struct_ops/two_cong_avoid")
void BPF_PROG(two_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/two_undo_cwnd")
__u32 BPF_PROG(two_undo_cwnd, struct sock *sk)
{
	return 11;
}

SEC(".struct_ops")
struct tcp_congestion_ops bpfld_two_a = {
	.ssthresh = (void *)one_ssthresh,
	.cong_avoid = (void *)one_cong_avoid,
	.undo_cwnd = (void *)one_undo_cwnd,
	.name = "bpfld_two",
};

SEC(".struct_ops")
struct tcp_congestion_ops bpfld_two_b = {
	.ssthresh = (void *)two_ssthresh,
	.cong_avoid = (void *)two_cong_avoid,
	.undo_cwnd = (void *)two_undo_cwnd,
	.name = "bpfld_two",
};

char LICENSE[] SEC("license") = "GPL";
