// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* CO-RE with direct loads through BTF pointers: SEC("tp_btf/...")
 * arguments are typed kernel pointers (PTR_TO_BTF_ID) the verifier lets a
 * program dereference, so every p->field is a plain load whose offset is
 * a CO-RE relocation, and BPF_CORE_READ_BITFIELD (not _PROBED) reads a
 * bitfield with a direct load of the relocated size.  Load-only (a tp_btf
 * program cannot be test-run); the differential test compares the
 * relocated instructions with libbpf's.
 *
 * - btf_switch (sched_switch): prev->pid, next->comm[0], a direct bitfield
 *   read (prev->in_iowait), a three-level chain prev->mm->exe_file, a
 *   flavor with a field the kernel lacks (guarded, dead after relocation)
 *   and one whose kernel field is __state.
 * - btf_kfree_skb (kfree_skb): skb->len, skb->pkt_type (direct bitfield in
 *   an anonymous struct), skb->sk->__sk_common.skc_family, and the drop
 *   reason compared with relocated skb_drop_reason enumerators (their
 *   values differ between 6.12 and 6.18).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

struct task_struct___btf {
	int pid;
	unsigned int __state;
	int bpfld_missing;
} __attribute__((preserve_access_index));

__u64 sw_count, sw_iowait, sw_pid_sum, sw_comm, sw_exe, sw_missing, sw_running;
__u64 fs_len, fs_other, fs_inet, fs_csum, fs_filter;

SEC("tp_btf/sched_switch")
int BPF_PROG(btf_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct task_struct___btf *p = (void *)prev;

	sw_count++;
	sw_pid_sum += prev->pid;
	if (next->comm[0] == 's')
		sw_comm++;
	if (BPF_CORE_READ_BITFIELD(prev, in_iowait))
		sw_iowait++;
	if (prev->mm && prev->mm->exe_file)
		sw_exe++;
	if (bpf_core_field_exists(p->bpfld_missing))
		sw_missing += p->bpfld_missing;
	if (bpf_core_field_exists(p->__state) && p->__state == 0)
		sw_running++;
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(btf_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	struct sock *sk = skb->sk;

	fs_len += skb->len;
	if (BPF_CORE_READ_BITFIELD(skb, pkt_type) == 3)
		fs_other++;
	if (sk && sk->__sk_common.skc_family == 2)
		fs_inet++;
	if (reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_CSUM))
		fs_csum++;
	if (reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_FILTER))
		fs_filter++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
