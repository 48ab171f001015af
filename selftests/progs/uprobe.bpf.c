// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("uprobe"), SEC("uretprobe") and the sleepable SEC("uprobe.s"), all
 * without a target (attached later with an explicit binary and offset).
 * up_sleep may fault in user memory: bpf_copy_from_user is only allowed in
 * sleepable programs.  Load-only.
 */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64) && \
	!defined(__TARGET_ARCH_s390) && !defined(__TARGET_ARCH_riscv)
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u64 watch_cookie = 0x5ca1ab1e;
__u64 last_arg, last_rc, copied;
char buf[16];

SEC("uprobe")
int BPF_KPROBE(up_entry, const char *arg)
{
	last_arg = (__u64)arg ^ watch_cookie;
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(up_ret, long rc)
{
	last_rc = rc;
	return 0;
}

SEC("uprobe.s")
int BPF_KPROBE(up_sleep, const char *arg)
{
	if (!bpf_copy_from_user(buf, sizeof(buf), arg))
		copied++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
