// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("cgroup/sock_create") and SEC("cgroup/connect4").  sock_create
 * refuses raw sockets when the .rodata switch deny_raw is set; connect4
 * rewrites destination port 80 to the port held in .data.  Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define SOCK_RAW 3

const volatile int deny_raw = 1;
__u16 redirect_port = 8080;
__u64 creates, rewrites;

SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *sk)
{
	if (deny_raw && sk->type == SOCK_RAW)
		return 0;
	__sync_fetch_and_add(&creates, 1);
	return 1;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == bpf_htons(80)) {
		ctx->user_port = bpf_htons(redirect_port);
		__sync_fetch_and_add(&rewrites, 1);
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
