// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Callbacks: bpf_loop and bpf_for_each_map_elem.  loop_cb and each_cb are
 * subprograms referenced only as callbacks (ld_imm64 BPF_PSEUDO_FUNC, never
 * called directly), and both call the static subprogram square().
 *
 * cb_loop:  sum of i*i for i in 0..9 = 285.
 * cb_each:  fills vals[i] = 10*i (i < 4), then sums value + key*key over
 *           the 4 entries = 60 + 14 = 74.
 */
// bpfld: kernel-needs callbacks
// bpfld: run prog=cb_loop kind=syscall retval=285
// bpfld: run prog=cb_each kind=syscall retval=74
// bpfld: global visited expect-after-run=4
// bpfld: map vals key=3 expect-after-run=30
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

struct bpf_map;

struct cb_ctx {
	__u64 sum;
};

__u32 visited;

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

static int loop_cb(__u32 idx, struct cb_ctx *c)
{
	c->sum += square(idx);
	return 0;
}

static __u64 each_cb(struct bpf_map *map, __u32 *key, __u64 *val, struct cb_ctx *c)
{
	c->sum += *val + square(*key);
	visited++;
	return 0;
}

SEC("syscall")
int cb_loop(void *ctx)
{
	struct cb_ctx c = {};

	bpf_loop(10, loop_cb, &c, 0);
	return c.sum;
}

SEC("syscall")
int cb_each(void *ctx)
{
	struct cb_ctx c = {};
	int i;

	/* unrolled: the key's address escapes to the helper */
#pragma clang loop unroll(full)
	for (i = 0; i < 4; i++) {
		__u32 k = i;
		__u64 v = 10 * i;

		bpf_map_update_elem(&vals, &k, &v, BPF_ANY);
	}
	bpf_for_each_map_elem(&vals, each_cb, &c, 0);
	return c.sum;
}

char LICENSE[] SEC("license") = "GPL";
