// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* XDP redirect maps: DEVMAP (value struct bpf_devmap_val), DEVMAP_HASH,
 * CPUMAP (value struct bpf_cpumap_val) and XSKMAP, plus the second-level
 * programs that run inside a devmap / cpumap entry: SEC("xdp/devmap") and
 * SEC("xdp.frags/cpumap").  The maps start empty, so bpf_redirect_map
 * returns the action in the low bits of its flags: XDP_PASS (2).
 */
// bpfld: run prog=xdp_to_dev kind=xdp pkt=v4tcp retval=2
// bpfld: run prog=xdp_to_cpu kind=xdp pkt=v4tcp retval=2
// bpfld: run prog=xdp_to_xsk kind=xdp pkt=v4tcp retval=2
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} tx_ifindex SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

SEC("xdp")
int xdp_to_dev(struct xdp_md *ctx)
{
	if (ctx->ingress_ifindex == 0xffff)
		return bpf_redirect_map(&tx_ifindex, ctx->ingress_ifindex, XDP_PASS);
	return bpf_redirect_map(&tx_ports, 0, XDP_PASS);
}

SEC("xdp")
int xdp_to_cpu(struct xdp_md *ctx)
{
	return bpf_redirect_map(&cpus, 0, XDP_PASS);
}

SEC("xdp")
int xdp_to_xsk(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

SEC("xdp/devmap")
int xdp_in_devmap(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp.frags/cpumap")
int xdp_in_cpumap(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
