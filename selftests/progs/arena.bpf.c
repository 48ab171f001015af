// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* An arena (BPF_MAP_TYPE_ARENA) with a global in .addr_space.1, declared as the
 * kernel's selftests do for clang 14 (__arena_global). The loader maps the arena in
 * the loading process at map_extra (here 1 GiB, which a 32-bit BTF enum holds),
 * writes the globals at its start (libbpf 1.5) and relocates &counter to that
 * address, which the program stores. (Its value cannot be read back here: the checks
 * run in another process, which has no mapping of the arena, and clang 14 has no
 * address space casts for the program to read it through the kernel's.)
 */
// bpfld: host-skip arena maps need Linux 6.9 and a libbpf that maps them (1.4)
// bpfld: run prog=arena_run kind=syscall retval=0
// bpfld: global counter_addr expect-after-run=0x40000000
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef __ulong
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name
#endif

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA, newer than the system's headers */
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4);
	__ulong(map_extra, 0x40000000);
} arena SEC(".maps");

int counter SEC(".addr_space.1") = 3;

long counter_addr;

SEC("syscall")
int arena_run(void *ctx)
{
	counter_addr = (long)&counter;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
