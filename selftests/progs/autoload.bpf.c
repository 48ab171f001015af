// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("?...") programs are not loaded unless enabled (autoload=false).
 * xdp_bad would be rejected by the verifier (unchecked packet access): a
 * loader that ignores the "?" fails on this object.  tc_optional is a valid
 * program that is merely off by default.  custom_off sits in a section no
 * loader knows: libbpf opens such an object and complains only if the
 * program is loaded, which it is not.
 */
// bpfld: run prog=xdp_always kind=xdp pkt=v4tcp retval=2
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_always(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("?xdp")
int xdp_bad(struct xdp_md *ctx)
{
	return *(int *)(long)ctx->data;
}

SEC("?tc")
int tc_optional(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("?bpfld_custom_section")
int custom_off(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
