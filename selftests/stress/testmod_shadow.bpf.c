// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* fentry on bpf_testmod.ko's bpf_fentry_shadow_test, a function vmlinux has too
 * (the kernel tree's module_fentry_shadow test).  libbpf looks a named module's
 * target up in that module's split BTF, vmlinux's types first: attach_btf_id is
 * vmlinux's bpf_fentry_shadow_test, attach_btf_obj_fd bpf_testmod's BTF, and the
 * kernel takes the address from the module's symbols.  The kernel's lookup by that
 * name would find vmlinux's BTF object, so bpfld names bpf_testmod's by a type
 * only bpf_testmod has. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/bpf_testmod:bpf_fentry_shadow_test")
int testmod_shadow(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
