// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Two kfuncs of two modules in one program: bpf_test_modorder_x.ko defines
 * bpf_test_modorder_retx() (returns 'x'), bpf_test_modorder_y.ko
 * bpf_test_modorder_rety() (returns 'y'); both are the kernel tree's, the modules
 * its kfunc_module_order test inserts.  Each call names its module's BTF object by
 * an index into fd_array (the call's off), so each program holds two module slots;
 * the programs call the two in opposite orders, and the verifier's kfunc table must
 * find each slot whichever comes first.  Each program returns the two letters in
 * the order it called them: a run proves every call reached its own module. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int bpf_test_modorder_retx(void) __ksym;
extern int bpf_test_modorder_rety(void) __ksym;

SEC("tc")
int order_xy(struct __sk_buff *skb)
{
	int first = bpf_test_modorder_retx();

	return first << 8 | bpf_test_modorder_rety();
}

SEC("tc")
int order_yx(struct __sk_buff *skb)
{
	int first = bpf_test_modorder_rety();

	return first << 8 | bpf_test_modorder_retx();
}

char LICENSE[] SEC("license") = "GPL";
