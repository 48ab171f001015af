// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("kprobe/...") and SEC("kretprobe/...") with BPF_KPROBE and
 * BPF_KRETPROBE argument access, and a "version" section (libbpf passes it
 * as kern_version in BPF_PROG_LOAD).  Load-only: attaching needs a kprobe.
 *
 * bpf_tracing.h needs the target architecture for pt_regs; the default
 * below keeps the plain `clang -target bpf` command working on x86-64.
 */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64) && \
	!defined(__TARGET_ARCH_s390) && !defined(__TARGET_ARCH_riscv)
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct filename;

__u64 unlink_calls;
int last_dfd;
long last_ret;

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(kp_unlink, int dfd, struct filename *name)
{
	last_dfd = dfd;
	__sync_fetch_and_add(&unlink_calls, 1);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(krp_unlink, long ret)
{
	last_ret = ret;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
/* LINUX_VERSION_CODE of 6.12.0 */
__u32 _version SEC("version") = 0x060c00;
