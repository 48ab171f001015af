// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("fentry/...") and SEC("fexit/...") on the kernel's test functions.
 * A tracing test run calls bpf_fentry_test1(1) .. bpf_fentry_test9 in
 * net/bpf/test_run.c; the program must be attached first (kind=tracing
 * attaches, runs, detaches).  The run itself returns 0.
 */
// bpfld: host-skip the host kernel (6.18 "fc") refuses BPF trampolines with EPERM at load (its ftrace is locked: even reading tracefs available_filter_functions is EPERM); expected to load where trampolines work (the 6.12 test VM)
// bpfld: kernel-needs trampolines
// bpfld: run prog=fentry1 kind=tracing retval=0
// bpfld: run prog=fexit1 kind=tracing retval=0
// bpfld: run prog=fentry3 kind=tracing retval=0
// bpfld: global fentry_a expect-after-run=1
// bpfld: global fexit_ret expect-after-run=2
// bpfld: global test3_sum expect-after-run=15
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

int fentry_a, fexit_ret;
__u64 test3_sum;

SEC("fentry/bpf_fentry_test1")
int BPF_PROG(fentry1, int a)
{
	fentry_a = a;
	return 0;
}

SEC("fexit/bpf_fentry_test1")
int BPF_PROG(fexit1, int a, int ret)
{
	fexit_ret = ret;
	return 0;
}

SEC("fentry/bpf_fentry_test3")
int BPF_PROG(fentry3, char a, int b, __u64 c)
{
	test3_sum = a + b + c;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
