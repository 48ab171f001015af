// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Allocation failures injected into bpfld's loads (stress_alloc_failures in
 * rust/bpfld-cli/src/bin/selftests/stress.rs, which compiles this file in the VM).
 *
 * should_failslab() and should_fail_alloc_page() are the allocators' error-injection
 * points (ALLOW_ERROR_INJECTION; built with CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC,
 * kconfig/bpfld.config). While the test has armed them, these probes count the
 * allocations of bpfld's loading threads ("bpfld-load"), of the work the module runs
 * beside them on its workqueue (bpfld_beside_fn(): the plan, the receipt's hash) and of
 * the test's own thread (the ioctl's part of a load) and make the Nth fail, as the
 * kernel's fault injection does: a slab allocation returns NULL, a page allocation
 * fails. The kernel's BPF commands issued by the loading thread count as well: their
 * error paths are the load's. Left alone: kmemleak's own caches (SLAB_NOLEAKTRACE:
 * failing them would turn the leak detector off) and __GFP_NOFAIL allocations (which
 * may not fail). The kernel's reports of the failures (warn_alloc()) are expected
 * between the marker lines the test logs.
 *
 * ctl (mmapped by the test, so arming and disarming take no system call and allocate
 * nothing): 0 armed; 1 the test thread's id; 2 N, the allocation to fail (0: count
 * only); 3 allocations counted; 4 failures made; 5 the __GFP_NOFAIL bit (from the
 * kernel's BTF: the enum that holds it has no name, so CO-RE cannot relocate it);
 * 6 the worker running bpfld_beside_fn() while armed (0: none); 7 what failed: 1 slab,
 * 2 pages; 8 failures made in that work; 9 allocations counted in it; 10 N of them, the
 * work's allocation to fail (0: none).
 * site: the kernel stack of the failed allocation.
 */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#define __TARGET_ARCH_x86
#endif
#define LOADER_PROBE_OWN_STATE
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "loader_probe.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} ctl SEC(".maps");

#define SITE_DEPTH 24

struct site {
	__u64 ips[SITE_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct site);
} site SEC(".maps");

/* The running kernel's, through CO-RE. */
struct kmem_cache {
	unsigned int flags;
} __attribute__((preserve_access_index));

enum _slab_flag_bits {
	_SLAB_NOLEAKTRACE = 0,
};

static __u64 *ctl_at(__u32 k)
{
	return bpf_map_lookup_elem(&ctl, &k);
}

/* Whether this allocation is to fail: counted if armed and made by a loading thread,
 * the work beside it or the test's thread, failed if it is the Nth of them all or the
 * Nth of the work's (ctl 2 and 10). */
static __always_inline int fail_this(void *ctx, __u32 gfp, __u64 what)
{
	__u64 *armed = ctl_at(0), *tid = ctl_at(1), *n = ctl_at(2), *count = ctl_at(3);
	__u64 *made = ctl_at(4), *nofail = ctl_at(5), *beside = ctl_at(6), *kind = ctl_at(7);
	__u64 *made_beside = ctl_at(8), *count_beside = ctl_at(9), *n_beside = ctl_at(10);
	__u64 c, cb = 0;
	__u32 zero = 0, me = (__u32)bpf_get_current_pid_tgid();
	int in_beside;
	struct site *s;

	if (!armed || !tid || !n || !count || !made || !nofail || !beside || !kind ||
	    !made_beside || !count_beside || !n_beside || !*armed)
		return 0;
	in_beside = *beside && me == *beside;
	if (me != *tid && !in_beside && !from_loader())
		return 0;
	if (*nofail < 32 && (gfp & (1U << *nofail)))
		return 0;
	if (in_beside)
		cb = __sync_add_and_fetch(count_beside, 1);
	c = __sync_add_and_fetch(count, 1);
	if (c != *n && !(in_beside && cb == *n_beside))
		return 0;
	__sync_fetch_and_add(made, 1);
	if (in_beside)
		__sync_fetch_and_add(made_beside, 1);
	*kind = what;
	s = bpf_map_lookup_elem(&site, &zero);
	if (s)
		bpf_get_stack(ctx, s->ips, sizeof(s->ips), 0);
	return 1;
}

/* The module's work beside a loading thread runs on a kworker, which runs other work
 * too: its allocations count from the work function's entry to its return only. One
 * load at a time, so one such work at a time. */
SEC("kprobe/bpfld_beside_fn")
int BPF_KPROBE(beside_enter)
{
	__u64 *armed = ctl_at(0), *beside = ctl_at(6);

	if (armed && beside && *armed)
		*beside = (__u32)bpf_get_current_pid_tgid();
	return 0;
}

SEC("kretprobe/bpfld_beside_fn")
int BPF_KRETPROBE(beside_exit)
{
	__u64 *beside = ctl_at(6);

	if (beside && *beside == (__u32)bpf_get_current_pid_tgid())
		*beside = 0;
	return 0;
}

SEC("kprobe/should_failslab")
int BPF_KPROBE(fail_slab, struct kmem_cache *s, __u32 gfp)
{
	__u32 noleaktrace = bpf_core_enum_value(enum _slab_flag_bits, _SLAB_NOLEAKTRACE);

	if (noleaktrace < 32 && (BPF_CORE_READ(s, flags) & (1U << noleaktrace)))
		return 0;
	if (fail_this(ctx, gfp, 1))
		bpf_override_return(ctx, -12 /* ENOMEM */);
	return 0;
}

SEC("kprobe/should_fail_alloc_page")
int BPF_KPROBE(fail_pages, __u32 gfp, unsigned int order)
{
	if (fail_this(ctx, gfp, 2))
		bpf_override_return(ctx, 1 /* true: fail */);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
