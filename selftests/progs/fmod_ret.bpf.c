// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("fmod_ret/...") on bpf_modify_return_test(a, b): returning non-zero
 * skips the function and replaces its return value.  The tracing test run
 * for fmod_ret returns (side_effects << 16) | (ret1 + ret2) where ret1 is
 * bpf_modify_return_test(1, &b) (here replaced by 1234, no side effect) and
 * ret2 = bpf_modify_return_test2(1, &b, 3, 4, 5, 6, 7) = 29 with one side
 * effect: 0x10000 | 1263 = 66799 (kernels >= 6.5, which have test2).
 * fexit_mod is load-only.
 */
// bpfld: host-skip the host kernel (6.18 "fc") refuses BPF trampolines with EPERM at load (its ftrace is locked: even reading tracefs available_filter_functions is EPERM); expected to load where trampolines work (the 6.12 test VM)
// bpfld: kernel-needs trampolines
// bpfld: run prog=fmod_ret_test kind=tracing retval=66799
// bpfld: global seen_a expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

int seen_a, fexit_ret;

SEC("fmod_ret/bpf_modify_return_test")
int BPF_PROG(fmod_ret_test, int a, int *b, int ret)
{
	seen_a = a;
	return 1234;
}

SEC("fexit/bpf_modify_return_test")
int BPF_PROG(fexit_mod, int a, int *b, int ret)
{
	fexit_ret = ret;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
