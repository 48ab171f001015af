// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Weak __ksym externs: a variable and a kfunc the kernel does not have, and a
 * kfunc it has. The absent variable's and kfunc's addresses are 0, so
 * bpf_ksym_exists() is 0; the present kfunc's address is its BTF FUNC id
 * (BPF_PSEUDO_BTF_ID) and its calls are kfunc calls.
 *
 * The absent kfunc is not called here: libbpf 6.12 poisons such a call ("call
 * 2002000000 + extern index", as bpfld does), libbpf 1.1 (the host's reference)
 * leaves a kfunc call to id 0; the verifier removes either as dead code, so the
 * programs run the same but their tags differ. bpfld's poisoning is covered by
 * the core's unit tests.
 */
// bpfld: run prog=weak_run kind=syscall retval=0
// bpfld: global missing_var expect-after-run=1
// bpfld: global missing_kfunc expect-after-run=1
// bpfld: global have_rcu expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) (!!(sym))
#endif

extern const int bpfld_no_such_percpu __ksym __weak;
extern int bpfld_no_such_kfunc(int) __ksym __weak;
extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;

int missing_var;
int missing_kfunc;
int have_rcu;

SEC("syscall")
int weak_run(void *ctx)
{
	missing_var = !bpf_ksym_exists(&bpfld_no_such_percpu);
	missing_kfunc = !bpf_ksym_exists(bpfld_no_such_kfunc);
	if (bpf_ksym_exists(bpf_rcu_read_lock)) {
		bpf_rcu_read_lock();
		have_rcu = 1;
		bpf_rcu_read_unlock();
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
