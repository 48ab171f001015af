// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("sockops"): adds every established TCP socket to a SOCKHASH keyed by
 * local port and counts established events per socket in SK_STORAGE.
 * Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} est_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sk_est SEC(".maps");

SEC("sockops")
int sockops_est(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	__u64 *n;
	__u32 key;

	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	key = skops->local_port;
	bpf_sock_hash_update(skops, &est_socks, &key, BPF_ANY);
	sk = skops->sk;
	if (!sk)
		return 1;
	n = bpf_sk_storage_get(&sk_est, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
