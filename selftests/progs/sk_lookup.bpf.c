// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("sk_lookup"): steers connections for ports 7000-7999 to the socket
 * in slot 0 of a SOCKMAP (bpf_sk_assign), a socket reference that must be
 * released on every path.  Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} redir_map SEC(".maps");

SEC("sk_lookup")
int lookup_redir(struct bpf_sk_lookup *ctx)
{
	__u32 zero = 0;
	struct bpf_sock *sk;
	long err;

	if (ctx->local_port < 7000 || ctx->local_port >= 8000)
		return SK_PASS;
	sk = bpf_map_lookup_elem(&redir_map, &zero);
	if (!sk)
		return SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return err ? SK_DROP : SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
