// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Map types without keys or with per-CPU / LRU semantics: QUEUE and STACK
 * (key_size 0), LRU_HASH, LRU_PERCPU_HASH, PERCPU_ARRAY and RINGBUF
 * (reserve/submit, output, query).
 *
 * kinds_run pushes 1, 2, 3 to both the queue and the stack, pops one of
 * each and returns queue_pop + 10 * stack_pop = 1 + 30 = 31.  Two 8-byte
 * ring buffer records wait unconsumed: 2 * (8 header + 8) = 32 bytes.
 * A tc program: queue, stack and LRU maps are not allowed in sleepable
 * (e.g. syscall) programs.
 */
// bpfld: run prog=kinds_run kind=skb pkt=v4tcp retval=31
// bpfld: global ring_avail expect-after-run=32
// bpfld: map lru key=7 expect-after-run=70
// bpfld: map lru_pcpu key=7 expect-after-run=7
// bpfld: map pcpu_arr key=2 expect-after-run=1
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} lifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} lru_pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

__u64 ring_avail;

SEC("tc")
int kinds_run(struct __sk_buff *skb)
{
	__u32 q = 0, s = 0, k7 = 7, k2 = 2;
	int i;
	__u64 v70 = 70, v7 = 7, *p, rec = 0xfeed;
	__u64 *slot;

	/* unrolled: the value's address escapes to the helper */
#pragma clang loop unroll(full)
	for (i = 1; i <= 3; i++) {
		__u32 v = i;

		bpf_map_push_elem(&fifo, &v, 0);
		bpf_map_push_elem(&lifo, &v, 0);
	}
	bpf_map_pop_elem(&fifo, &q);
	bpf_map_pop_elem(&lifo, &s);

	bpf_map_update_elem(&lru, &k7, &v70, BPF_ANY);
	bpf_map_update_elem(&lru_pcpu, &k7, &v7, BPF_ANY);
	p = bpf_map_lookup_elem(&pcpu_arr, &k2);
	if (p)
		*p += 1;

	slot = bpf_ringbuf_reserve(&ring, sizeof(*slot), 0);
	if (slot) {
		*slot = rec;
		bpf_ringbuf_submit(slot, 0);
	}
	bpf_ringbuf_output(&ring, &rec, sizeof(rec), 0);
	ring_avail = bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA);
	return q + 10 * s;
}

char LICENSE[] SEC("license") = "GPL";
