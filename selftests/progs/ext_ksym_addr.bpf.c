// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A typeless __ksym (`const void`), resolved by address (/proc/kallsyms in user
 * space, an exported symbol in the kernel module): bpf_prog_put, a function the
 * kernel exports with EXPORT_SYMBOL_GPL; and a weak typeless one the kernel does
 * not have (address 0). The address is an ld_imm64 constant. The module,
 * which can only see exported symbols, refuses the object: a weak symbol it
 * does not see may exist unexported, and 0 would then be a lie.
 */
// bpfld: module-fail errno=95 the module sees only exported symbols and cannot tell a missing weak one from an unexported one (rust/bpfld/vmlinux.rs)
// bpfld: run prog=addr_run kind=syscall retval=0
// bpfld: global is_kernel_text expect-after-run=1
// bpfld: global missing expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const void bpf_prog_put __ksym;
extern const void bpfld_no_such_symbol __ksym __weak;

int is_kernel_text;
int missing;

SEC("syscall")
int addr_run(void *ctx)
{
	unsigned long long a = (unsigned long long)&bpf_prog_put;

	is_kernel_text = (a >> 48) == 0xffff;
	missing = &bpfld_no_such_symbol == 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
