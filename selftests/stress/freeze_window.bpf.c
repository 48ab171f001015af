// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Probe of the window between bpfld writing a .rodata map's value and freezing it
 * (stress_rodata_written_before_freeze in rust/bpfld-cli/src/bin/selftests/stress.rs,
 * which compiles this file in the VM).
 *
 * The entry probe of map_freeze() holds bpfld's loading threads ("bpfld-load")
 * until user space says go (state[1]) or a bound passes, so that user space can open
 * the map by id and write it, as any process with CAP_SYS_ADMIN could in that window.
 *
 * state: 0 a thread held right now; 1 user space's "go"; 2 threads held so far;
 *        3 how long the last hold lasted (ns).
 */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "loader_probe.h"

/* The hold ends at user space's go, or after HOLD_NS (well under the soft-lockup and
 * RCU-stall thresholds: the probe runs with this CPU's preemption off), or after
 * bpf_loop()'s most iterations: each one reads the clock, which on hardware bounds
 * the hold to a fraction of a second. Bounded by the clock and not by the count
 * alone: under arm64's TCG the count lasted 226-232 ms, and the test's go came after
 * up to 1.5 s (its thread's wake-up, from a sleep, on a CPU of two, one of them held). */
#define HOLD_NS (5ULL * 1000 * 1000 * 1000)

static long until_go(__u32 i, void *ctx)
{
	__u64 *go = slot(1);
	__u64 *until = ctx;

	return (go && *go) || bpf_ktime_get_ns() >= *until ? 1 : 0;
}

SEC("kprobe/map_freeze")
int hold_freeze(struct pt_regs *ctx)
{
	__u64 *held = slot(0), *go = slot(1), *total = slot(2), *took = slot(3);
	__u64 start, until;

	if (!held || !go || !total || !took || !from_loader())
		return 0;
	__sync_fetch_and_add(total, 1);
	start = bpf_ktime_get_ns();
	until = start + HOLD_NS;
	*held = 1;
	bpf_loop(1 << 23, until_go, &until, 0);
	*took = bpf_ktime_get_ns() - start;
	*held = 0;
	*go = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
