// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Probe of the window between bpfld's loading thread completing its caller's wait and
 * that thread leaving the module's code (stress_kthread_exit_window in
 * rust/bpfld-cli/src/bin/selftests/stress.rs, which compiles this file in the VM).
 *
 * The return probe of complete() looks, in bpfld's loading threads ("bpfld-load"),
 * at where complete() returns to; if that lies in [state[0], state[1]) (the module's
 * bpfld_worker_fn, from /proc/kallsyms), it holds the thread for a moment (bpf_loop),
 * so that user space can look at the module while the thread has yet to return into
 * it. The entry probe counts the loading threads' calls.
 *
 * state: 0, 1 the address range; 2 threads held right now; 3 threads held so far;
 *        4 complete() calls seen from tasks named "bpfld-load"; 5 where the last
 *        of those returned to.
 */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "loader_probe.h"

/* Iterations of the hold: tens of milliseconds under TCG. */
#define HOLD (1 << 20)

SEC("kprobe/complete")
int on_complete(struct pt_regs *ctx)
{
	__u64 *calls = slot(4);

	if (calls && from_loader())
		__sync_fetch_and_add(calls, 1);
	return 0;
}

static long nothing(__u32 i, void *ctx)
{
	return 0;
}

/* At the return of complete(), the rethook has set the instruction pointer to the
 * real return address (kernel/trace/rethook.c), on every architecture: where the
 * loading thread is about to run next.
 */
SEC("kretprobe/complete")
int after_complete(struct pt_regs *ctx)
{
	__u64 *lo = slot(0), *hi = slot(1), *last = slot(5);
	__u64 *held = slot(2), *total = slot(3);
	__u64 ret = PT_REGS_IP(ctx);

	if (!lo || !hi || !last || !held || !total || !from_loader())
		return 0;
	*last = ret;
	if (ret < *lo || ret >= *hi)
		return 0;
	__sync_fetch_and_add(held, 1);
	bpf_loop(HOLD, nothing, NULL, 0);
	__sync_fetch_and_add(total, 1);
	__sync_fetch_and_sub(held, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
