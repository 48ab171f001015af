// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Programs that attach to a BPF program of the caller's (attach_target.bpf.c), not
 * to the kernel: the load options name the target program and the BTF id of its
 * function pick(). new_pick replaces it (freplace: a global function, the same
 * prototype), on_pick counts its calls (fentry on a BPF function); after_pick's
 * section names no function (libbpf takes it from bpf_program__set_attach_target). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

unsigned long long traced;

SEC("freplace/pick")
int new_pick(struct __sk_buff *skb)
{
	return 7;
}

SEC("fentry/pick")
int on_pick(void *ctx)
{
	traced++;
	return 0;
}

SEC("fexit")
int after_pick(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
