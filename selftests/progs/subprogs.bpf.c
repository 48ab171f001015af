// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* bpf-to-bpf calls: a diamond top_a -> {mid_b, mid_c} -> leaf_d, where
 * mid_b is a global function (verified on its own), mid_c is __hidden
 * (global symbol, static for the verifier) and leaf_d is static.  Nested
 * calls A -> B -> C, subprograms that touch a map and .bss, and three entry
 * programs of two program types sharing all of them.
 *
 * leaf_d(x) = 2x + 1, mid_b(x) = leaf_d(x) + 1, mid_c(x) = leaf_d(x + 1)
 * top_a(x) = mid_b(x) + mid_c(x) = 4x + 5.
 */
// bpfld: run prog=sub_sys1 kind=syscall retval=9
// bpfld: run prog=sub_sys2 kind=syscall retval=30
// bpfld: run prog=sub_sock kind=skb pkt=v4tcp retval=165
// bpfld: global leaf_calls expect-after-run=8
// bpfld: map sub_calls key=0 expect-after-run=4
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sub_calls SEC(".maps");

__u32 leaf_calls;

static __noinline int leaf_d(int x)
{
	leaf_calls++;
	return 2 * x + 1;
}

__noinline int mid_b(int x)
{
	return leaf_d(x) + 1;
}

__hidden __noinline int mid_c(int x)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&sub_calls, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	return leaf_d(x + 1);
}

static __noinline int top_a(int x)
{
	return mid_b(x) + mid_c(x);
}

SEC("syscall")
int sub_sys1(void *ctx)
{
	return top_a(1);
}

SEC("syscall")
int sub_sys2(void *ctx)
{
	return top_a(2) + top_a(3);
}

SEC("socket")
int sub_sock(struct __sk_buff *skb)
{
	return top_a(skb->len);
}

char LICENSE[] SEC("license") = "GPL";
