// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* A kfunc and a per-CPU variable that only bpf_testmod.ko (the kernel tree's BPF
 * selftest module) defines, as the tree's test_ksyms_module.c uses them.  bpfld
 * resolves both in the module's BTF and names its BTF object by fd: in fd_array
 * for the call, in the ld_imm64's second half for the variable.  The kfunc stores
 * its argument in the variable of the running CPU, which the program then reads
 * back into `out`: 42 after one run proves both reached the module. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const int bpf_testmod_ksym_percpu __ksym;
extern void bpf_testmod_test_mod_kfunc(int i) __ksym;
/* Not in any BTF: weak, so resolved to nothing, and dead code for the verifier. */
extern void bpf_testmod_invalid_mod_kfunc(void) __ksym __weak;

int out = 0;
const volatile int never = 0;

SEC("tc")
int testmod_ksym(struct __sk_buff *skb)
{
	if (never)
		bpf_testmod_invalid_mod_kfunc();
	bpf_testmod_test_mod_kfunc(42);
	out = *(int *)bpf_this_cpu_ptr(&bpf_testmod_ksym_percpu);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
