// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Two program arrays whose slot 0 the load fills (.values): one program each. Passed
 * the same map of the caller's for both (map_reuse), a load writes that map's slot 0
 * twice, and a failure after it must undo the second write before the first
 * (reused_prog_array_written_twice). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int to_a(struct __sk_buff *skb);
int to_b(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct __sk_buff *));
} jmp_a SEC(".maps") = {
	.values = { [0] = (void *)&to_a },
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct __sk_buff *));
} jmp_b SEC(".maps") = {
	.values = { [0] = (void *)&to_b },
};

SEC("socket")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp_a, 0);
	bpf_tail_call(skb, &jmp_b, 0);
	return 0;
}

SEC("socket")
int to_a(struct __sk_buff *skb)
{
	return 1;
}

SEC("socket")
int to_b(struct __sk_buff *skb)
{
	return 2;
}

char LICENSE[] SEC("license") = "GPL";
