// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* The smallest object whose program uses a map: the fd-swap race test loads it
 * thousands of times while a sibling thread swaps fds. Also a quick run check.
 */
// bpfld: run prog=race_count kind=skb retval=0
// bpfld: map race_hits key=0 expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} race_hits SEC(".maps");

SEC("socket")
int race_count(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&race_hits, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
