// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* An fentry program on a function that vmlinux lacks and a loaded module's
 * BTF has: bpfld.ko's own bpfld_dev_mode (rust/bpfld/helpers.c).  libbpf
 * would find the target in the module's BTF and pass that BTF's fd as
 * attach_btf_obj_fd; the module cannot obtain such an fd, so it must refuse
 * the object naming the target (EOPNOTSUPP), not call it missing (ENOENT). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/bpfld_dev_mode")
int module_fentry(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
