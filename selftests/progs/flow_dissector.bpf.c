// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("flow_dissector"): dissects Ethernet/IPv4/TCP|UDP into the flow
 * keys with direct packet access (the test-run context has no skb, so
 * bpf_skb_load_bytes is not usable there), and remembers the last ports in
 * .bss.  Anything that is not IPv4 is refused with BPF_DROP (2).
 */
// bpfld: run prog=dissect kind=flow pkt=v4tcp retval=0
// bpfld: run prog=dissect kind=flow pkt=v6udp retval=2
// bpfld: global last_sport expect-after-run=12345
// bpfld: global last_dport expect-after-run=80
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

__u16 last_sport, last_dport;

SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u16 nhoff = keys->nhoff, *ports;
	struct iphdr *ip;

	/* a bounded offset keeps the packet range checks provable */
	if (keys->n_proto != bpf_htons(ETH_P_IP) || nhoff > 128)
		return BPF_DROP;
	ip = data + nhoff;
	if ((void *)(ip + 1) > end)
		return BPF_DROP;
	if (ip->ihl != 5 || (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP))
		return BPF_DROP;
	keys->addr_proto = ETH_P_IP;
	keys->ipv4_src = ip->saddr;
	keys->ipv4_dst = ip->daddr;
	keys->ip_proto = ip->protocol;
	keys->thoff = nhoff + sizeof(*ip);
	ports = data + nhoff + sizeof(*ip);
	if ((void *)(ports + 2) > end)
		return BPF_DROP;
	keys->sport = ports[0];
	keys->dport = ports[1];
	last_sport = bpf_ntohs(ports[0]);
	last_dport = bpf_ntohs(ports[1]);
	return BPF_OK;
}

char LICENSE[] SEC("license") = "GPL";
