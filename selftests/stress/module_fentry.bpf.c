// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* An fentry program on a function that vmlinux lacks and a loaded module's
 * BTF has: bpfld.ko's own bpfld_dev_mode (rust/bpfld/helpers.c).  libbpf finds
 * the target in the module's BTF and passes that BTF's fd as
 * attach_btf_obj_fd; so must bpfld, and the program loads attached to it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/bpfld_dev_mode")
int module_fentry(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
