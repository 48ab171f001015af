// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A per-CPU array far bigger than the test VM's memory (stress_oom_kill_mid_load in
 * rust/bpfld-cli/src/bin/selftests/stress.rs, which compiles this file in the VM):
 * 2^20 entries of 4 KiB per CPU, 8 GiB with 2 CPUs. The kernel allocates every entry
 * with the per-CPU allocator when the map is created, whose page allocations invoke
 * the OOM killer rather than fail; bpfld's loading thread makes them. The map is one
 * any CAP_BPF caller may ask for; the test checks that the caller, not the kernel,
 * pays for it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << 20);
	__type(key, __u32);
	__type(value, char[4096]);
} huge SEC(".maps");

SEC("socket")
int oom_map(void *ctx)
{
	__u32 key = 0;
	char *v = bpf_map_lookup_elem(&huge, &key);

	return v ? v[0] : 0;
}

char LICENSE[] SEC("license") = "GPL";
