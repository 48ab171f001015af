// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Global data in every section kind libbpf turns into an internal array
 * map: .data, .rodata (const volatile configuration), .bss, the custom
 * sections .data.foo and .rodata.bar, and string literals in
 * .rodata.str1.1.  Static and global variables, arrays of structs, and
 * subprograms that read and write them.
 *
 * gd_run computes 3 * (10 + 20 + 30 + 40) + (50 + 60) + 11 + 13
 *                 + strlen("bpfld-literal") + strlen("xy") + 'b' = 547.
 */
// bpfld: run prog=gd_run kind=syscall retval=547
// bpfld: run prog=gd_xdp kind=xdp pkt=v4tcp retval=2
// bpfld: global bss_result expect-after-run=547
// bpfld: global data_counter expect-after-run=8
// bpfld: global data_static expect-after-run=8
// bpfld: global foo_val expect-after-run=12
// bpfld: global bss_static expect-after-run=1
// bpfld: global cfg_mult expect-after-run=3
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pair {
	__u32 k;
	__u32 v;
};

/* .data */
int data_counter = 5;
static int data_static = 7;
struct pair pairs[4] = { { 1, 10 }, { 2, 20 }, { 3, 30 }, { 4, 40 } };

/* .rodata: frozen after load, read through the map because of volatile */
const volatile __u32 cfg_mult = 3;
const volatile char cfg_name[8] = "bpfld";
const volatile struct pair ro_pairs[2] = { { 5, 50 }, { 6, 60 } };

/* .bss */
__u64 bss_result;
static __u32 bss_static;

/* custom sections: each becomes its own map */
int foo_val SEC(".data.foo") = 11;
const volatile int bar_val SEC(".rodata.bar") = 13;

static __noinline void bump_data(void)
{
	data_counter += cfg_mult;
	data_static++;
	foo_val++;
	bss_static++;
}

static __noinline __u64 sum_pairs(void)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < 4; i++)
		sum += pairs[i].v * cfg_mult;
	for (i = 0; i < 2; i++)
		sum += ro_pairs[i].v;
	return sum;
}

/* Called with two different literals so that neither is folded away: both
 * stay in .rodata.str1.1 and are passed as map-value pointers.
 */
static __noinline int str_len(const char *s)
{
	int n;

	for (n = 0; n < 16; n++)
		if (!s[n])
			break;
	return n;
}

SEC("syscall")
int gd_run(void *ctx)
{
	__u64 r;

	bump_data();
	r = sum_pairs() + foo_val - 1 + bar_val;
	r += str_len("bpfld-literal") + str_len("xy");
	r += cfg_name[0];
	bss_result = r;
	return r;
}

SEC("xdp")
int gd_xdp(struct xdp_md *ctx)
{
	/* XDP_PASS (2) when the configuration reads back as built */
	return cfg_mult == 3 && bar_val == 13 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
