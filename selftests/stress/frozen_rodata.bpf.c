// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A constant in .rodata that the program returns: the verifier reads it from the
 * frozen map (stress_rodata_written_before_freeze). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 magic = 0x600d;

SEC("syscall")
int frozen_magic(void *ctx)
{
	return magic;
}

char LICENSE[] SEC("license") = "GPL";
