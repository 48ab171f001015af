/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* What the probes of bpfld's loading threads share (exit_window.bpf.c,
 * freeze_window.bpf.c, fail_alloc.bpf.c): a state array the test reads and writes
 * (left out with LOADER_PROBE_OWN_STATE), and the test for the current task being one
 * of the loading threads. */
#ifndef BPFLD_LOADER_PROBE_H
#define BPFLD_LOADER_PROBE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef LOADER_PROBE_OWN_STATE
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} state SEC(".maps");

static __u64 *slot(__u32 k)
{
	return bpf_map_lookup_elem(&state, &k);
}
#endif

/* Whether the current task is one of bpfld's loading threads ("bpfld-load"). */
static int from_loader(void)
{
	union {
		char c[16];
		__u64 w[2];
	} comm = {};

	bpf_get_current_comm(comm.c, sizeof(comm.c));
	/* "bpfld-lo", "ad\0" */
	return comm.w[0] == 0x6f6c2d646c667062ULL && (comm.w[1] & 0xffffff) == 0x6461;
}

#endif
