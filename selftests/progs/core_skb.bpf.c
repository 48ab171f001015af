// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* CO-RE reads of the kernel's struct sk_buff and struct sock from packet
 * programs.
 *
 * The context of a tc or socket filter program is the kernel's sk_buff
 * (the verifier rewrites __sk_buff accesses into sk_buff ones), so its
 * address, passed to bpf_probe_read_kernel() (allowed to CAP_PERFMON
 * programs of every type), reads the real sk_buff: CO-RE on the context
 * type __sk_buff itself is not possible, CO-RE on sk_buff through the same
 * pointer is.  The test run (net/bpf/test_run.c) builds the skb on the
 * loopback device of the caller's namespace (ifindex 1, "lo") with a dummy
 * socket: sk_alloc(..., kern=1) sets the sk_kern_sock bitfield, and the
 * family and addresses come from the packet.  eth_type_trans() sees a
 * destination that is not the device's address: pkt_type is
 * PACKET_OTHERHOST (3), a 3-bit bitfield inside an anonymous struct.
 *
 * - skb_fields (tc): len, protocol, dev->ifindex, dev->name (array in a
 *   pointed-to struct), pkt_type (BPF_CORE_READ_BITFIELD_PROBED); returns the
 *   CO-RE read length (54 / 66: tc sees the Ethernet header).
 * - skb_sock (tc): skb->sk->__sk_common.skc_family (AF_INET 2, AF_INET6 10),
 *   skc_rcv_saddr (10.0.0.1) / skc_v6_rcv_saddr (fd00::1, union member
 *   in6_u.u6_addr8[15]), the sk_kern_sock bitfield; returns the family.
 * - sf_compare (socket): each CO-RE read equals what the verifier-rewritten
 *   __sk_buff access gives (len 40 / 52 after the Ethernet pull,
 *   protocol, pkt_type, ifindex); returns the CO-RE read length.
 */
// bpfld: run prog=skb_fields kind=skb pkt=v4tcp retval=54
// bpfld: run prog=skb_fields kind=skb pkt=v6udp retval=66
// bpfld: run prog=skb_sock kind=skb pkt=v4tcp retval=2
// bpfld: run prog=skb_sock kind=skb pkt=v6udp retval=10
// bpfld: run prog=sf_compare kind=skb pkt=v4tcp retval=40
// bpfld: run prog=sf_compare kind=skb pkt=v6udp retval=52
// bpfld: global sk_proto_v4 expect-after-run=1
// bpfld: global sk_proto_v6 expect-after-run=1
// bpfld: global sk_lo expect-after-run=2
// bpfld: global sk_othost expect-after-run=2
// bpfld: global sk_saddr4 expect-after-run=1
// bpfld: global sk_saddr6 expect-after-run=1
// bpfld: global sk_kern expect-after-run=2
// bpfld: global sf_same expect-after-run=2
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define PACKET_OTHERHOST 3
#define IFNAMSIZ 16

__u64 sk_proto_v4, sk_proto_v6, sk_lo, sk_othost, sk_saddr4, sk_saddr6, sk_kern;
__u64 sf_same;

SEC("tc")
int skb_fields(struct __sk_buff *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx;
	__u16 proto = BPF_CORE_READ(skb, protocol);
	char name[IFNAMSIZ] = {};

	if (proto == bpf_htons(ETH_P_IP))
		sk_proto_v4 = 1;
	if (proto == bpf_htons(ETH_P_IPV6))
		sk_proto_v6 = 1;
	BPF_CORE_READ_STR_INTO(&name, skb, dev, name);
	if (BPF_CORE_READ(skb, dev, ifindex) == 1 && name[0] == 'l' && name[1] == 'o' && !name[2])
		sk_lo++;
	if (BPF_CORE_READ_BITFIELD_PROBED(skb, pkt_type) == PACKET_OTHERHOST)
		sk_othost++;
	return BPF_CORE_READ(skb, len);
}

SEC("tc")
int skb_sock(struct __sk_buff *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx;
	struct sock *sk = BPF_CORE_READ(skb, sk);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == 2 && BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr) == bpf_htonl(0x0a000001))
		sk_saddr4 = 1;
	if (family == 10 &&
	    BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8[15]) == 1 &&
	    BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8[0]) == 0xfd)
		sk_saddr6 = 1;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_kern_sock) == 1)
		sk_kern++;
	return family;
}

SEC("socket")
int sf_compare(struct __sk_buff *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx;
	__u32 len = BPF_CORE_READ(skb, len);

	if (len == ctx->len && BPF_CORE_READ(skb, protocol) == ctx->protocol &&
	    BPF_CORE_READ_BITFIELD_PROBED(skb, pkt_type) == ctx->pkt_type &&
	    BPF_CORE_READ(skb, dev, ifindex) == ctx->ifindex)
		sf_same++;
	return len;
}

char LICENSE[] SEC("license") = "GPL";
