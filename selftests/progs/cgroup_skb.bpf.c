// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("cgroup_skb/ingress") and SEC("cgroup_skb/egress"): two entry
 * programs sharing one global (non-static) subprogram, which is verified
 * on its own against its BTF signature and updates a per-CPU hash map.
 * cgroup_skb sees the packet from the network header: skb->len is 40 for
 * v4tcp and 52 for v6udp.
 */
// bpfld: run prog=cg_ingress kind=skb pkt=v4tcp retval=1
// bpfld: run prog=cg_egress kind=skb pkt=v4tcp retval=1
// bpfld: run prog=cg_egress kind=skb pkt=v6udp retval=1
// bpfld: map bytes_by_dir key=0 expect-after-run=40
// bpfld: map bytes_by_dir key=1 expect-after-run=92
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bytes_by_dir SEC(".maps");

/* Global function: the verifier checks it once, independently of callers. */
__noinline int account(struct __sk_buff *skb, __u32 dir)
{
	__u64 *v, len;

	if (!skb)
		return 0;
	len = skb->len;
	v = bpf_map_lookup_elem(&bytes_by_dir, &dir);
	if (v) {
		*v += len;
		return 1;
	}
	bpf_map_update_elem(&bytes_by_dir, &dir, &len, BPF_ANY);
	return 1;
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	account(skb, 0);
	return 1;
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	account(skb, 1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
