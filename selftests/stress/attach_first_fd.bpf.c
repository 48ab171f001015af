// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* An fentry program on attach_target.bpf.c's pick() that creates nothing: built
 * without BTF (no -g) and using no map, so the target program's fd is the first fd
 * its load puts in the loading thread's file table. That table (init_files, shared
 * by every kernel thread) may have fd 0 free, and an attach_prog_fd of 0 reads as
 * "no target program": the kernel would look pick()'s BTF id up in vmlinux. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/pick")
int first_fd(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
