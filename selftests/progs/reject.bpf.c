// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A verifier rejection: bad_read dereferences a map value without the NULL
 * check (EACCES, "R0 invalid mem access 'map_value_or_null'").  libbpf
 * loads programs one by one and stops at the first failure; the harness
 * reloads without it so good_read is still checked.  Negative test: the
 * whole-object load fails.
 */
// bpfld: expect-fail prog=bad_read errno=13
// bpfld: run prog=good_read kind=syscall retval=0
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} table SEC(".maps");

SEC("syscall")
int good_read(void *ctx)
{
	__u32 key = 1, *v = bpf_map_lookup_elem(&table, &key);

	return v ? *v : 0;
}

SEC("syscall")
int bad_read(void *ctx)
{
	__u32 key = 1, *v = bpf_map_lookup_elem(&table, &key);

	return *v;
}

char LICENSE[] SEC("license") = "GPL";
