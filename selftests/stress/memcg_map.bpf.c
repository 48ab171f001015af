// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A 64 MiB array (16384 entries of 4 KiB) for memcg_charges_caller in
 * rust/bpfld-cli/src/bin/selftests/stress.rs, which compiles this file in the VM. The
 * kernel allocates the whole array when the map is created, with vmalloc and
 * __GFP_ACCOUNT, charged to the memory cgroup active in the creating thread: bpfld's
 * loading thread, which takes on its caller's. 64 MiB stands far above the few
 * hundred KiB the rest of a load charges, so the test can tell whose cgroup paid.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, char[4096]);
} big SEC(".maps");

SEC("socket")
int memcg_map(void *ctx)
{
	__u32 key = 0;
	char *v = bpf_map_lookup_elem(&big, &key);

	return v ? v[0] : 0;
}

char LICENSE[] SEC("license") = "GPL";
