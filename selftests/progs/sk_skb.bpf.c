// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("sk_skb/stream_parser") and SEC("sk_skb/stream_verdict") on a
 * SOCKMAP: the parser takes whole skbs as messages, the verdict redirects
 * each to the socket in slot 0.  Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

SEC("sk_skb/stream_parser")
int skb_parser(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("sk_skb/stream_verdict")
int skb_verdict(struct __sk_buff *skb)
{
	return bpf_sk_redirect_map(skb, &sock_map, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";
