// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A static (STB_LOCAL) entry program.  libbpf refuses it when opening the
 * object ("program 'static_xdp' is static and not supported", ENOTSUP);
 * only functions in .text may be static.  bpfld must refuse it the same
 * way: this object is a negative test.
 */
// bpfld: expect-fail errno=95
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int global_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
static int static_xdp(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
