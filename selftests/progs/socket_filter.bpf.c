// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* SEC("socket"): a socket filter that counts packets through a static
 * subprogram and accepts the whole packet.  License "Dual BSD/GPL".
 *
 * The test-run skb of a socket filter has the Ethernet header pulled, so
 * skb->len is the 54-byte v4tcp packet minus 14.
 */
// bpfld: run prog=sock_len kind=skb pkt=v4tcp retval=40
// bpfld: run prog=sock_len kind=skb pkt=v6udp retval=52
// bpfld: map pkt_count key=0 expect-after-run=2
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pkt_count SEC(".maps");

static __noinline void count_pkt(void)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&pkt_count, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("socket")
int sock_len(struct __sk_buff *skb)
{
	count_pkt();
	return skb->len;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
