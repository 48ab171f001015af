// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("sk_reuseport") selecting a socket from a REUSEPORT_SOCKARRAY by
 * hash, and SEC("sk_reuseport/migrate") (BPF_SK_REUSEPORT_SELECT_OR_MIGRATE).
 * Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} reuse_socks SEC(".maps");

SEC("sk_reuseport")
int select_sock(struct sk_reuseport_md *reuse)
{
	__u32 idx = reuse->hash % 4;

	return bpf_sk_select_reuseport(reuse, &reuse_socks, &idx, 0) ? SK_DROP : SK_PASS;
}

SEC("sk_reuseport/migrate")
int migrate_sock(struct sk_reuseport_md *reuse)
{
	__u32 idx = 0;

	if (!reuse->migrating_sk)
		return SK_PASS;
	return bpf_sk_select_reuseport(reuse, &reuse_socks, &idx, 0) ? SK_DROP : SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
