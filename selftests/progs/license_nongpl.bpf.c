// SPDX-License-Identifier: MIT
/* A program under a license the kernel does not consider GPL-compatible
 * ("MIT"): it loads with gpl_compatible=0 and may only use helpers that are
 * not gpl_only (map lookups are fine).
 */
// bpfld: run prog=mit_filter kind=skb pkt=v4tcp retval=0
// bpfld: map mit_cfg key=0 expect-after-run=0
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} mit_cfg SEC(".maps");

SEC("socket")
int mit_filter(struct __sk_buff *skb)
{
	__u32 key = 0, *snap = bpf_map_lookup_elem(&mit_cfg, &key);

	/* snap length from the map; 0 (drop) until configured */
	return snap ? *snap : 0;
}

char LICENSE[] SEC("license") = "MIT";
