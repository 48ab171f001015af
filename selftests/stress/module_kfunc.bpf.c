// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A weak kfunc that vmlinux lacks and a loaded module's BTF has: bpfld.ko's own
 * C function bpfld_dev_mode (rust/bpfld/helpers.c), in /sys/kernel/btf/bpfld.
 * libbpf resolves it in the module's BTF and passes that BTF's fd in fd_array;
 * bpfld must do the same, so that the verifier refuses the call as it refuses
 * libbpf's ("calling kernel function bpfld_dev_mode is not allowed": it is no
 * registered kfunc), rather than bpfld taking the kfunc for missing or refusing
 * the object itself.  (The guest's libbpf headers predate bpf_ksym_exists(); the
 * test needs only the extern.) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int bpfld_dev_mode(void) __ksym __weak;

SEC("syscall")
int module_kfunc(void *ctx)
{
	return bpfld_dev_mode();
}

char LICENSE[] SEC("license") = "GPL";
