// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Enumerator relocations (bpf_core_enum_value, bpf_core_enum_value_exists).
 *
 * - enum_values: enum pid_type (PIDTYPE_TGID 1, PIDTYPE_MAX 4), UAPI
 *   enum bpf_map_type values (stable ABI: HASH 1, RINGBUF 27), enum
 *   skb_drop_reason, whose values move between kernels
 *   (SKB_DROP_REASON_TCP_CSUM is 9 in 6.12 and 10 in 6.18: the relocated
 *   value is the running kernel's, whatever vmlinux.h said).
 *   Not here: enumerators of a kernel BTF_KIND_ENUM64 (perf_callchain_context),
 *   which clang 14 emits as a 32-bit BTF_KIND_ENUM: libbpf matches ENUM
 *   with ENUM64 candidates (btf_kind_core_compat), the kernel's own CO-RE
 *   (bpf_core_add_cands, the differential test's second oracle) only the
 *   same kind, so the kernel poisons what libbpf and bpfld relocate.
 * - enum_flavor: a local enum pid_type___mine whose enumerators carry
 *   ___flavor suffixes and wrong values: they relocate by essential name to
 *   the kernel's values; one enumerator the kernel lacks reports
 *   exists == 0 (and its value is not read: the guarded branch is dead).
 * - enum_index: an enumerator value used at run time as an array index
 *   (signal->pids[PIDTYPE_TGID] is the group leader's thread_pid).
 */
// bpfld: run prog=enum_values kind=syscall retval=0
// bpfld: run prog=enum_flavor kind=syscall retval=0
// bpfld: run prog=enum_index kind=syscall retval=0
// bpfld: global en_tgid expect-after-run=1
// bpfld: global en_max expect-after-run=4
// bpfld: global en_map expect-after-run=1
// bpfld: global en_drop expect-after-run=1
// bpfld: global ef_tgid expect-after-run=1
// bpfld: global ef_sid expect-after-run=3
// bpfld: global ef_exists expect-after-run=1
// bpfld: global ef_gone expect-after-run=0
// bpfld: global ef_gone_val expect-after-run=77
// bpfld: global ei_leader expect-after-run=1
// bpfld: global ei_nr expect-after-run=1
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

enum pid_type___mine {
	PIDTYPE_SID___mine = 100,
	PIDTYPE_TGID___mine = 200,
	PIDTYPE_BPFLD_NONE___mine = 300,
};

__u64 en_tgid, en_max, en_map, en_drop;
__u64 ef_tgid, ef_sid, ef_exists, ef_gone, ef_gone_val;
__u64 ei_leader, ei_nr;

SEC("syscall")
int enum_values(void *ctx)
{
	en_tgid = bpf_core_enum_value(enum pid_type, PIDTYPE_TGID) == 1 &&
		  bpf_core_enum_value_exists(enum pid_type, PIDTYPE_TGID);
	en_max = bpf_core_enum_value(enum pid_type, PIDTYPE_MAX);
	en_map = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_HASH) == 1 &&
		 bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF) == 27;
	en_drop = bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED) == 2 &&
		  bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_CSUM) >
			  bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_FILTER);
	return 0;
}

SEC("syscall")
int enum_flavor(void *ctx)
{
	ef_tgid = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_TGID___mine) == 1;
	ef_sid = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_SID___mine);
	ef_exists = bpf_core_type_exists(enum pid_type___mine) &&
		    bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_TGID___mine);
	ef_gone = bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_BPFLD_NONE___mine);
	if (bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_BPFLD_NONE___mine))
		ef_gone_val = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_BPFLD_NONE___mine);
	else
		ef_gone_val = 77;
	return 0;
}

SEC("syscall")
int enum_index(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	__u32 idx = bpf_core_enum_value(enum pid_type, PIDTYPE_TGID);
	struct pid *tgid_pid = NULL;

	if (idx >= PIDTYPE_MAX)
		return 1;
	bpf_core_read(&tgid_pid, sizeof(tgid_pid), &sig->pids[idx]);
	ei_leader = tgid_pid && tgid_pid == BPF_CORE_READ(task, group_leader, thread_pid);
	ei_nr = BPF_CORE_READ(tgid_pid, numbers[0].nr) == bpf_get_current_pid_tgid() >> 32;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
