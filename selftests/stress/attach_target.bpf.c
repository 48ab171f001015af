// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* The target of attach_ext.bpf.c: a tc program whose global function pick() an
 * freplace program replaces and an fentry program traces, each loaded with this
 * program as its attach_prog_fd (libbpf's bpf_program__set_attach_target()). A run
 * returns pick()'s value: 1 as built, 7 once replaced. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__noinline int pick(struct __sk_buff *skb)
{
	return skb->len > 0 ? 1 : 2;
}

SEC("tc")
int target(struct __sk_buff *skb)
{
	return pick(skb);
}

char LICENSE[] SEC("license") = "GPL";
