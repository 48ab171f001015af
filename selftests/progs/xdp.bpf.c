// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("xdp") twice (two programs in one section) and SEC("xdp.frags").
 * xdp_pass counts packets per IP protocol in a per-CPU array through a
 * subprogram that parses the headers; xdp_count counts every frame in the
 * same map at slot 0; xdp_frags checks the multi-buffer length helper.
 */
// bpfld: run prog=xdp_pass kind=xdp pkt=v4tcp retval=2
// bpfld: run prog=xdp_pass kind=xdp pkt=v6udp retval=2
// bpfld: run prog=xdp_count kind=xdp pkt=v4tcp repeat=3 retval=2
// bpfld: run prog=xdp_frags kind=xdp pkt=v4tcp retval=2
// bpfld: map proto_cnt key=6 expect-after-run=1
// bpfld: map proto_cnt key=17 expect-after-run=1
// bpfld: map proto_cnt key=0 expect-after-run=3
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_cnt SEC(".maps");

/* Returns the L4 protocol number, or -1 if the frame is not IP. */
static __noinline int l4_proto(void *data, void *data_end)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return -1;
		return ip->protocol;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		return ip6->nexthdr;
	}
	return -1;
}

static __always_inline void bump(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&proto_cnt, &key);

	if (v)
		*v += 1;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	int proto = l4_proto((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	if (proto > 0)
		bump(proto);
	return XDP_PASS;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	bump(0);
	return XDP_PASS;
}

SEC("xdp.frags")
int xdp_frags(struct xdp_md *ctx)
{
	return bpf_xdp_get_buff_len(ctx) >= ETH_HLEN ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
