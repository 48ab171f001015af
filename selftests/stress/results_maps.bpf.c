// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* An object with a map, whose digest stress_revoked_while_results_copied revokes while
 * the module writes the maps' array of the load's results (attach_target.bpf.c, which
 * has no map, serves for the programs' array). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("socket")
int count_seen(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&seen, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
