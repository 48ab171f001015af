// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("fentry.s/...") : a sleepable fentry program (BPF_F_SLEEPABLE), on
 * bpf_fentry_test1 which the kernel marks KF_SLEEPABLE in its fmod_ret set.
 * It uses bpf_copy_from_user, allowed only when sleepable; address 0 makes
 * it fail with -EFAULT, recorded as 14.
 */
// bpfld: host-skip the host kernel (6.18 "fc") refuses BPF trampolines with EPERM at load (its ftrace is locked: even reading tracefs available_filter_functions is EPERM); expected to load where trampolines work (the 6.12 test VM)
// bpfld: kernel-needs trampolines
// bpfld: run prog=fentry_s kind=tracing retval=0
// bpfld: global copy_err expect-after-run=14
// bpfld: global sleepable_a expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

int copy_err, sleepable_a;

SEC("fentry.s/bpf_fentry_test1")
int BPF_PROG(fentry_s, int a)
{
	char buf[8];

	sleepable_a = a;
	copy_err = -bpf_copy_from_user(buf, sizeof(buf), (void *)0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
