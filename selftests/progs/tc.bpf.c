// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("tc") and the older SEC("classifier") spelling, both sched_cls.
 * tc_count counts TCP/UDP destination ports in a hash map whose key and
 * value are declared by size (key_size/value_size) instead of by type.
 * tc_drop22 shoots frames to port 22 and lets everything else through.
 */
// bpfld: run prog=tc_count kind=skb pkt=v4tcp retval=0
// bpfld: run prog=tc_count kind=skb pkt=v4tcp retval=0
// bpfld: run prog=tc_drop22 kind=skb pkt=v4tcp retval=0
// bpfld: map dport_cnt key=80 expect-after-run=2
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64));
} dport_cnt SEC(".maps");

static __noinline int tcp_dport(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);

	if ((void *)(tcp + 1) > end)
		return -1;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_TCP)
		return -1;
	return bpf_ntohs(tcp->dest);
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__u64 one = 1, *v;
	int port = tcp_dport(skb);
	__u32 key;

	if (port < 0)
		return TC_ACT_OK;
	key = port;
	v = bpf_map_lookup_elem(&dport_cnt, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&dport_cnt, &key, &one, BPF_NOEXIST);
	return TC_ACT_OK;
}

SEC("classifier")
int tc_drop22(struct __sk_buff *skb)
{
	return tcp_dport(skb) == 22 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
