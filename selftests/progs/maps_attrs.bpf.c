// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Every attribute of a BTF-defined map in .maps:
 *   type; key/value by __type; key_size/value_size by number; max_entries;
 *   map_flags (BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, BPF_F_NUMA_NODE);
 *   numa_node; pinning = LIBBPF_PIN_BY_NAME; map_extra (bloom filter hash
 *   count).
 * bpfld_st_pinned is pinned at /sys/fs/bpf/bpfld_st_pinned (libbpf's
 * default pin root): a unique name so that it cannot meet another user's
 * map.  libbpf_dump unpins it on exit (unless --keep-pins); after a manual
 * load remove it with `rm /sys/fs/bpf/bpfld_st_pinned`.
 *
 * attrs_run touches each map and returns how many steps succeeded (7).  It
 * is a tc program because syscall programs are sleepable, and sleepable
 * programs may not use bloom filters.
 */
// bpfld: run prog=attrs_run kind=skb pkt=v4tcp retval=7
// bpfld: map attr_noprealloc key=1 expect-after-run=11
// bpfld: map attr_sized key=3 off=8 size=8 expect-after-run=33
// bpfld: map attr_numa key=1 expect-after-run=1
// bpfld: map bpfld_st_pinned key=5 expect-after-run=55
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} attr_noprealloc SEC(".maps");

/* sizes instead of types: no key/value BTF */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__uint(key_size, 4);
	__uint(value_size, 16);
} attr_sized SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__uint(map_flags, BPF_F_NUMA_NODE);
	__uint(numa_node, 0);
	__type(key, __u32);
	__type(value, __u64);
} attr_numa SEC(".maps");

/* the program may only read it; user space fills it */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, __u32);
} attr_ro SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, __u64);
} bpfld_st_pinned SEC(".maps");

/* BLOOM_FILTER has no key; map_extra is the number of hash functions */
struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__uint(map_extra, 3);
	__type(value, __u32);
} attr_bloom SEC(".maps");

SEC("tc")
int attrs_run(struct __sk_buff *skb)
{
	__u32 k1 = 1, k3 = 3, k5 = 5, zero = 0, item = 42, *ro;
	__u64 v11 = 11, v55 = 55, *n;
	__u64 sized[2] = { 0, 33 };
	int ok = 0;

	if (!bpf_map_update_elem(&attr_noprealloc, &k1, &v11, BPF_ANY))
		ok++;
	if (!bpf_map_update_elem(&attr_sized, &k3, sized, BPF_ANY))
		ok++;
	n = bpf_map_lookup_elem(&attr_numa, &k1);
	if (n) {
		*n += 1;
		ok++;
	}
	ro = bpf_map_lookup_elem(&attr_ro, &zero);
	if (ro && *ro == 0)
		ok++;
	if (!bpf_map_update_elem(&bpfld_st_pinned, &k5, &v55, BPF_ANY))
		ok++;
	if (!bpf_map_push_elem(&attr_bloom, &item, 0))
		ok++;
	if (!bpf_map_peek_elem(&attr_bloom, &item))
		ok++;
	return ok;
}

char LICENSE[] SEC("license") = "GPL";
