// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Probe of the window between bpfld writing a .rodata map's value and freezing it
 * (stress_rodata_written_before_freeze in rust/bpfld-cli/src/bin/selftests/stress.rs,
 * which compiles this file in the VM).
 *
 * The entry probe of map_freeze() holds bpfld's loading threads ("bpfld-load")
 * until user space says go (state[1]) or a bound passes, so that user space can open
 * the map by id and write it, as any process with CAP_SYS_ADMIN could in that window.
 *
 * state: 0 a thread held right now; 1 user space's "go"; 2 threads held so far.
 */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#define __TARGET_ARCH_x86
#endif
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "loader_probe.h"

/* Iterations of the hold at most: seconds under TCG. */
#define HOLD (1 << 23)

/* Stop once user space has said go. */
static long until_go(__u32 i, void *ctx)
{
	__u64 *go = slot(1);

	return go && *go ? 1 : 0;
}

SEC("kprobe/map_freeze")
int hold_freeze(struct pt_regs *ctx)
{
	__u64 *held = slot(0), *go = slot(1), *total = slot(2);

	if (!held || !go || !total || !from_loader())
		return 0;
	__sync_fetch_and_add(total, 1);
	*held = 1;
	bpf_loop(HOLD, until_go, 0, 0);
	*held = 0;
	*go = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
