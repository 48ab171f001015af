// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A strong typeless ksym that may sit at address 0: __per_cpu_start, where x86-64
 * before 6.15 links its per-CPU area (elsewhere it is an ordinary address).  The
 * helper bpfld.ko looks typeless ksyms up with, bpf_kallsyms_lookup_name(), answers
 * "no such symbol" for an address of 0; libbpf takes the 0 from /proc/kallsyms, and so
 * must bpfld.  A run stores the address the load wrote into the program, which must
 * be /proc/kallsyms' value. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const void __per_cpu_start __ksym;

unsigned long long addr = 1;

SEC("tc")
int ksym_zero(struct __sk_buff *skb)
{
	addr = (unsigned long long)&__per_cpu_start;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
