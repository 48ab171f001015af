// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* An arena of 1 GiB (262,144 pages), placed by the kernel (no map_extra). Its
 * mapping in the loading process is an address-space reservation (pages come on
 * first touch): a caller whose RLIMIT_AS is below it cannot load it, with libbpf
 * (mmap in the process) or through /dev/bpfld (the loading thread maps it in the
 * caller's address space under the caller's limit).
 */
// bpfld: host-skip arena maps need Linux 6.9 and a libbpf that maps them (1.4)
// bpfld: run prog=arena_large_run kind=syscall retval=0
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA, newer than the system's headers */
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 262144);
} arena SEC(".maps");

int first SEC(".addr_space.1") = 7;

long first_addr;

SEC("syscall")
int arena_large_run(void *ctx)
{
	first_addr = (long)&first;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
