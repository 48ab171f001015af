// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Probe of the window between bpfld's loading thread completing its caller's wait and
 * that thread leaving the module's code (stress_kthread_exit_window in
 * rust/bpfld-cli/src/bin/selftests/stress.rs, which compiles this file in the VM).
 *
 * The entry probe of complete() notes, per task, calls whose return address (found by
 * the kernel's unwinder, which sees through the return probe's trampoline) lies in
 * [state[0], state[1]) (the module's bpfld_iso_thread, from /proc/kallsyms); the return
 * probe of those calls then holds the thread for a moment (bpf_loop), so that user
 * space can look at the module while the thread has yet to return into it.
 *
 * state: 0, 1 the address range; 2 threads held right now; 3 threads held so far;
 *        4 complete() calls seen from tasks named "bpfld-load"; 5 the last return
 *        address of those.
 */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u64);
} from_module SEC(".maps");

/* Iterations of the hold: tens of milliseconds under TCG. */
#define HOLD (1 << 20)

static __u64 *slot(__u32 k)
{
	return bpf_map_lookup_elem(&state, &k);
}

SEC("kprobe/complete")
int on_complete(struct pt_regs *ctx)
{
	__u64 *lo = slot(0), *hi = slot(1), *calls = slot(4), *last = slot(5);
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ret = 0;
	union {
		char c[16];
		__u64 w[2];
	} comm = {};

	__u64 ips[3] = {};

	if (!lo || !hi || !calls || !last)
		return 0;
	/* The caller, from the kernel's unwinder: not the word at the stack pointer, which
	 * the return probe below replaces with its trampoline before this program runs.
	 * ips[0] is complete() itself, ips[1] the return address into its caller.
	 */
	if (bpf_get_stack(ctx, ips, sizeof(ips), 0) < 2 * (long)sizeof(__u64))
		return 0;
	ret = ips[1];
	bpf_get_current_comm(comm.c, sizeof(comm.c));
	/* "bpfld-lo", "ad\0" */
	if (comm.w[0] == 0x6f6c2d646c667062ULL && (comm.w[1] & 0xffffff) == 0x6461) {
		__sync_fetch_and_add(calls, 1);
		*last = ret;
	}
	if (ret >= *lo && ret < *hi)
		bpf_map_update_elem(&from_module, &id, &ret, BPF_ANY);
	return 0;
}

static long nothing(__u32 i, void *ctx)
{
	return 0;
}

SEC("kretprobe/complete")
int after_complete(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *held = slot(2), *total = slot(3);

	if (!bpf_map_lookup_elem(&from_module, &id))
		return 0;
	bpf_map_delete_elem(&from_module, &id);
	if (!held || !total)
		return 0;
	__sync_fetch_and_add(held, 1);
	bpf_loop(HOLD, nothing, NULL, 0);
	__sync_fetch_and_add(total, 1);
	__sync_fetch_and_sub(held, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
