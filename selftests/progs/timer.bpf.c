// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* bpf_timer inside a map value: timer_arm initialises the timer, sets
 * timer_cb (a subprogram used only as a callback, which calls another
 * subprogram) and starts it.  The verifier inlines prog->aux as a 64-bit
 * immediate for bpf_timer_set_callback: this program exercises rule 2 of
 * the xlated normalisation.  The callback runs asynchronously, so only the
 * return code is checked.
 */
// bpfld: kernel-needs callbacks
// bpfld: run prog=timer_arm kind=syscall retval=0
#include <linux/bpf.h>
#include <linux/time.h>
#include <bpf/bpf_helpers.h>

struct elem {
	struct bpf_timer t;
	__u64 fired;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct elem);
} timers SEC(".maps");

__u64 fired_total;

static __noinline void note_fired(struct elem *e)
{
	e->fired++;
	fired_total++;
}

static int timer_cb(void *map, int *key, struct elem *e)
{
	note_fired(e);
	return 0;
}

SEC("syscall")
int timer_arm(void *ctx)
{
	int key = 0;
	struct elem *e = bpf_map_lookup_elem(&timers, &key);

	if (!e)
		return 1;
	bpf_timer_init(&e->t, &timers, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&e->t, timer_cb);
	bpf_timer_start(&e->t, 1000, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
