// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Maps of maps: an ARRAY_OF_MAPS whose inner map is described by a named
 * struct type, and a HASH_OF_MAPS whose inner map is an anonymous struct
 * inside __array(values, ...); both get initial slots from `.values`.
 * mim_run reaches inner_b through outer_arr[2] and inner_h through
 * outer_hash{3}.
 */
// bpfld: run prog=mim_run kind=syscall retval=1
// bpfld: run prog=mim_run kind=syscall retval=2
// bpfld: map inner_b key=0 expect-after-run=2
// bpfld: map inner_a key=0 expect-after-run=0
// bpfld: map inner_h key=7 expect-after-run=70
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner_arr {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner_arr inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} inner_h SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_arr);
} outer_arr SEC(".maps") = {
	.values = {
		[0] = &inner_a,
		[2] = &inner_b,
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 4);
		__type(key, __u32);
		__type(value, __u32);
	});
} outer_hash SEC(".maps") = {
	.values = {
		/* the inner type is anonymous: only a void * can name it */
		[3] = (void *)&inner_h,
	},
};

SEC("syscall")
int mim_run(void *ctx)
{
	__u32 k2 = 2, k3 = 3, zero = 0, k7 = 7, v70 = 70;
	void *inner;
	__u64 *v;

	inner = bpf_map_lookup_elem(&outer_hash, &k3);
	if (!inner)
		return -1;
	bpf_map_update_elem(inner, &k7, &v70, BPF_ANY);

	inner = bpf_map_lookup_elem(&outer_arr, &k2);
	if (!inner)
		return -2;
	v = bpf_map_lookup_elem(inner, &zero);
	if (!v)
		return -3;
	*v += 1;
	return *v;
}

char LICENSE[] SEC("license") = "GPL";
