/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* What the stress objects that are TCP congestion controls declare: the members of
 * the kernel's tcp_congestion_ops they set (libbpf and bpfld match them by name) and
 * one program of each kind, named PREFIX_ssthresh, PREFIX_cong_avoid and
 * PREFIX_undo_cwnd, returning SSTHRESH and UNDO.
 */
#ifndef BPFLD_TCP_CC_H
#define BPFLD_TCP_CC_H

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

#define TCP_CC_PROGS(PREFIX, SSTHRESH, UNDO)                                      \
	SEC("struct_ops/" #PREFIX "_ssthresh")                                  \
	__u32 BPF_PROG(PREFIX##_ssthresh, struct sock *sk)                      \
	{                                                                       \
		return SSTHRESH;                                                \
	}                                                                       \
	SEC("struct_ops/" #PREFIX "_cong_avoid")                                \
	void BPF_PROG(PREFIX##_cong_avoid, struct sock *sk, __u32 ack, __u32 acked) \
	{                                                                       \
	}                                                                       \
	SEC("struct_ops/" #PREFIX "_undo_cwnd")                                 \
	__u32 BPF_PROG(PREFIX##_undo_cwnd, struct sock *sk)                     \
	{                                                                       \
		return UNDO;                                                    \
	}

/* A tcp_congestion_ops value of the three programs of PREFIX. */
#define TCP_CC_VALUE(PREFIX, NAME)                                                \
	{                                                                       \
		.ssthresh = (void *)PREFIX##_ssthresh,                          \
		.cong_avoid = (void *)PREFIX##_cong_avoid,                      \
		.undo_cwnd = (void *)PREFIX##_undo_cwnd,                        \
		.name = NAME,                                                   \
	}

#endif
