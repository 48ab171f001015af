// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("sk_msg"): redirects every sendmsg to the ingress queue of the
 * socket found in a SOCKHASH under the message's remote port.  Load-only.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} peers SEC(".maps");

SEC("sk_msg")
int msg_redir(struct sk_msg_md *msg)
{
	__u32 key = bpf_ntohl(msg->remote_port) >> 16;

	return bpf_msg_redirect_hash(msg, &peers, &key, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
