// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* CO-RE against a kernel module's BTF.  vmlinux has no struct bpfld_worker:
 * bpfld.ko's own C glue (rust/bpfld/helpers.c) defines it, so its BTF is in
 * /sys/kernel/btf/bpfld, split on vmlinux.  libbpf looks there for a local
 * type that vmlinux has no candidate for (bpf_core_find_cands), and so must
 * bpfld.  The member types are vmlinux's (task_struct, list_head), so the
 * match crosses from the module's types into the base's.
 *
 * - module_types: the type exists, its size and member offsets agree with
 *   each other, a member the module lacks does not exist, the kernel's id of
 *   the type is not 0; and a type no BTF has does not exist (the modules are
 *   read and hold no candidate).
 *
 * Without the module (a host without bpfld.ko loaded), the offsets are
 * poisoned and the verifier refuses the program.
 */
// bpfld: host-skip needs bpfld.ko loaded (its BTF holds struct bpfld_worker)
// bpfld: run prog=module_types kind=syscall retval=0
// bpfld: global w_exists expect-after-run=1
// bpfld: global w_layout expect-after-run=1
// bpfld: global w_missing expect-after-run=0
// bpfld: global w_kernel_id expect-after-run=1
// bpfld: global nowhere expect-after-run=0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct bpfld_iso;

struct bpfld_worker {
	struct task_struct *task;
	struct list_head node;
	struct list_head idle;
	struct bpfld_iso *job;
} __attribute__((preserve_access_index));

/* A flavour with a member the module's type lacks. */
struct bpfld_worker___extra {
	int bpfld_not_in_module;
} __attribute__((preserve_access_index));

struct bpfld_not_in_any_btf {
	int x;
} __attribute__((preserve_access_index));

__u64 w_exists, w_layout, w_missing, w_kernel_id, nowhere;

SEC("syscall")
int module_types(void *ctx)
{
	__u64 size = bpf_core_type_size(struct bpfld_worker);
	__u64 task = bpf_core_field_offset(struct bpfld_worker, task);
	__u64 node = bpf_core_field_offset(struct bpfld_worker, node);
	__u64 idle = bpf_core_field_offset(struct bpfld_worker, idle);
	__u64 job = bpf_core_field_offset(struct bpfld_worker, job);

	w_exists = bpf_core_type_exists(struct bpfld_worker);
	w_layout = task == 0 && node >= 8 &&
		   idle == node + bpf_core_field_size(struct bpfld_worker, node) &&
		   job >= idle + 16 &&
		   job + bpf_core_field_size(struct bpfld_worker, job) <= size;
	w_missing = bpf_core_field_exists(struct bpfld_worker___extra,
					  bpfld_not_in_module);
	w_kernel_id = bpf_core_type_id_kernel(struct bpfld_worker) != 0;
	nowhere = bpf_core_type_exists(struct bpfld_not_in_any_btf);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
