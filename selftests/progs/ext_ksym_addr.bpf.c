// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A typeless __ksym (`const void`), resolved by address (/proc/kallsyms in user
 * space, bpf_kallsyms_lookup_name() in the kernel module): bpf_prog_put, a kernel
 * function; and a weak typeless one the kernel does not have (address 0). The
 * address is an ld_imm64 constant.
 */
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
