// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Bitfield relocations: BPF_FIELD_BYTE_OFFSET/BYTE_SIZE/LSHIFT_U64/
 * RSHIFT_U64/SIGNED, as BPF_CORE_READ_BITFIELD_PROBED uses them, on real
 * kernel bitfields whose bit positions differ between kernels
 * (task_struct::in_execve is bit 9539 in 6.18 and 10755 in 6.12).
 *
 * - bf_task (raw_tp): task_struct's 1-bit flags in_execve and in_iowait
 *   are 0 in a task running bpf(2); the relocated shifts and size are
 *   consistent (RSHIFT 63 for one bit, the field ends inside the loaded
 *   bytes), the field is unsigned, and exists.  Returns the byte size.
 * - bf_flavor (tc, on the test-run skb): local flavors that declare
 *   the bitfields differently from the kernel: sock___bits has
 *   sk_kern_sock as a *signed* 1-bit field after other members, and the
 *   kernel's sign (unsigned u8) wins: the read gives 1, not -1;
 *   sk_buff___bits declares pkt_type at bit 0 of a 32-bit unit, the kernel
 *   has it inside an anonymous struct: the read gives PACKET_OTHERHOST (3).
 *   Returns 1 when both hold.
 */
// bpfld: run prog=bf_task kind=raw_tp ctx=0000000000000000 retval=1
// bpfld: run prog=bf_flavor kind=skb pkt=v4tcp retval=1
// bpfld: global bt_flags expect-after-run=0
// bpfld: global bt_rshift expect-after-run=63
// bpfld: global bt_consistent expect-after-run=1
// bpfld: global bt_signed expect-after-run=0
// bpfld: global bt_exists expect-after-run=1
// bpfld: global bf_kern expect-after-run=1
// bpfld: global bf_kern_signed expect-after-run=0
// bpfld: global bf_pkt_type expect-after-run=3
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct sock___bits {
	long pad[3];
	int sk_kern_sock : 1;
} __attribute__((preserve_access_index));

struct sk_buff___bits {
	unsigned int pkt_type : 3;
} __attribute__((preserve_access_index));

__u64 bt_flags, bt_rshift, bt_consistent, bt_signed, bt_exists;
__u64 bf_kern, bf_kern_signed, bf_pkt_type;

SEC("raw_tp/sys_enter")
int bf_task(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 size = __builtin_preserve_field_info(task->in_execve, BPF_FIELD_BYTE_SIZE);
	__u32 lshift = __builtin_preserve_field_info(task->in_execve, BPF_FIELD_LSHIFT_U64);

	bt_flags = BPF_CORE_READ_BITFIELD_PROBED(task, in_execve) |
		   BPF_CORE_READ_BITFIELD_PROBED(task, in_iowait) << 1;
	bt_rshift = __builtin_preserve_field_info(task->in_execve, BPF_FIELD_RSHIFT_U64);
	/* Little-endian: the field's last bit is at 64 - lshift in the word. */
	bt_consistent = lshift < 64 && 64 - lshift <= size * 8 &&
			__builtin_preserve_field_info(task->in_execve, BPF_FIELD_BYTE_OFFSET) <=
				bpf_core_type_size(struct task_struct) - size;
	bt_signed = __builtin_preserve_field_info(task->in_execve, BPF_FIELD_SIGNED);
	bt_exists = bpf_core_field_exists(task->in_execve) && bpf_core_field_exists(task->in_iowait);
	return size == 1 || size == 2 || size == 4 || size == 8;
}

SEC("tc")
int bf_flavor(struct __sk_buff *ctx)
{
	struct sk_buff___bits *skb = (struct sk_buff___bits *)ctx;
	struct sock___bits *sk = (struct sock___bits *)BPF_CORE_READ((struct sk_buff *)ctx, sk);
	long kern = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_kern_sock);

	bf_kern = kern;
	bf_kern_signed = __builtin_preserve_field_info(sk->sk_kern_sock, BPF_FIELD_SIGNED);
	bf_pkt_type = BPF_CORE_READ_BITFIELD_PROBED(skb, pkt_type);
	return kern == 1 && bf_pkt_type == 3;
}

char LICENSE[] SEC("license") = "GPL";
