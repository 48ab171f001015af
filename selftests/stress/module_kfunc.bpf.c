// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A weak kfunc that vmlinux lacks and a loaded module's BTF has: bpfld.ko's own
 * C function bpfld_dev_mode (rust/bpfld/helpers.c), in /sys/kernel/btf/bpfld.
 * libbpf would resolve it in the module's BTF and pass that BTF's fd in
 * fd_array; the module cannot obtain such an fd, so it must refuse the object
 * naming the extern (EOPNOTSUPP) rather than take the kfunc for missing and
 * load a program where libbpf's would call it.  (The guest's libbpf headers
 * predate bpf_ksym_exists(); the test needs only the extern.) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int bpfld_dev_mode(void) __ksym __weak;

SEC("syscall")
int module_kfunc(void *ctx)
{
	return bpfld_dev_mode();
}

char LICENSE[] SEC("license") = "GPL";
