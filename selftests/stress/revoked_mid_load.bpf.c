// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* An object with .rodata, so that its load stops in map_freeze(), where
 * stress_revoked_during_load holds it (freeze_window.bpf.c) and revokes its digest. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 answer = 42;

SEC("syscall")
int revoked_answer(void *ctx)
{
	return answer;
}

char LICENSE[] SEC("license") = "GPL";
