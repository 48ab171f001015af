// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("lwt_in"), SEC("lwt_out"), SEC("lwt_xmit"): three program types
 * sharing one static subprogram that counts per hook in an array map.
 */
// bpfld: run prog=lwt_in_prog kind=skb pkt=v4tcp retval=0
// bpfld: run prog=lwt_out_prog kind=skb pkt=v4tcp retval=0
// bpfld: run prog=lwt_xmit_prog kind=skb pkt=v4tcp retval=0
// bpfld: run prog=lwt_xmit_prog kind=skb pkt=v6udp retval=0
// bpfld: map lwt_hits key=0 expect-after-run=1
// bpfld: map lwt_hits key=1 expect-after-run=1
// bpfld: map lwt_hits key=2 expect-after-run=2
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} lwt_hits SEC(".maps");

static __noinline int hit(__u32 hook)
{
	__u64 *v = bpf_map_lookup_elem(&lwt_hits, &hook);

	if (v)
		__sync_fetch_and_add(v, 1);
	return BPF_OK;
}

SEC("lwt_in")
int lwt_in_prog(struct __sk_buff *skb)
{
	return hit(0);
}

SEC("lwt_out")
int lwt_out_prog(struct __sk_buff *skb)
{
	return hit(1);
}

SEC("lwt_xmit")
int lwt_xmit_prog(struct __sk_buff *skb)
{
	return hit(2);
}

char LICENSE[] SEC("license") = "GPL";
