// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A .struct_ops map whose local type sets a member the kernel's type lacks
 * to a program.  libbpf writes the program's pointer into the map's data
 * while it collects the section's relocations, so the member is not zero,
 * and bpf_map__init_kern_struct_ops() refuses it ("Cannot find member
 * bpfld_not_in_kernel in kernel BTF", ENOTSUP).  bpfld must refuse it too,
 * naming the member, rather than load the map without that callback.
 * Negative test: the whole-object load fails.
 */
// bpfld: expect-fail errno=95
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

/* The flavour suffix is cut: the kernel type looked up is tcp_congestion_ops. */
struct tcp_congestion_ops___bpfld {
	__u32 (*ssthresh)(struct sock *sk);
	__u32 (*undo_cwnd)(struct sock *sk);
	void (*bpfld_not_in_kernel)(struct sock *sk);
	char name[16];
};

SEC("struct_ops/missing_ssthresh")
__u32 BPF_PROG(missing_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/missing_undo_cwnd")
__u32 BPF_PROG(missing_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/missing_extra")
void BPF_PROG(missing_extra, struct sock *sk)
{
}

SEC(".struct_ops")
struct tcp_congestion_ops___bpfld bpfld_missing = {
	.ssthresh = (void *)missing_ssthresh,
	.undo_cwnd = (void *)missing_undo_cwnd,
	.bpfld_not_in_kernel = (void *)missing_extra,
	.name = "bpfld_missing",
};

char LICENSE[] SEC("license") = "GPL";
