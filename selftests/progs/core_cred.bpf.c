// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* CO-RE from SEC("raw_tp/...") programs, test-run with their u64 arguments
 * as the context: the program runs in the caller's task.
 *
 * - cred_ids: task->cred->uid.val / gid.val (a struct member inside a
 *   pointed-to struct: kuid_t is struct { uid_t val; }) equal
 *   bpf_get_current_uid_gid(); real_cred->euid too (no override_creds()
 *   in bpf(2)); ctx->args[0] passes through: returns args[0] + 1 only if
 *   every relation held.
 * - files_fdt: task->files->fdt->max_fds (at least NR_OPEN_DEFAULT, 64),
 *   fdt->fd and files->fdtab (the embedded table) address checks,
 *   files->count (atomic_t); returns fdt->max_fds >= 64.
 */
// bpfld: run prog=cred_ids kind=raw_tp ctx=2900000000000000 retval=42
// bpfld: run prog=files_fdt kind=raw_tp ctx=0000000000000000 retval=1
// bpfld: global cr_uid expect-after-run=1
// bpfld: global cr_gid expect-after-run=1
// bpfld: global cr_real expect-after-run=1
// bpfld: global fd_fdt expect-after-run=1
// bpfld: global fd_count expect-after-run=1
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

__u64 cr_uid, cr_gid, cr_real, fd_fdt, fd_count;

SEC("raw_tp/sys_enter")
int cred_ids(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(task, cred);
	__u64 ug = bpf_get_current_uid_gid();

	cr_uid = BPF_CORE_READ(cred, uid.val) == (__u32)ug;
	cr_gid = BPF_CORE_READ(task, cred, gid.val) == (__u32)(ug >> 32);
	cr_real = BPF_CORE_READ(task, real_cred, euid.val) == BPF_CORE_READ(cred, euid.val);
	if (cr_uid && cr_gid && cr_real)
		return ctx->args[0] + 1;
	return 0;
}

SEC("raw_tp/sys_exit")
int files_fdt(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);

	/* fdt is files->fdtab until the table grows past 64 descriptors. */
	fd_fdt = fdt && BPF_CORE_READ(fdt, fd) &&
		 (max > 64 || fdt == (void *)files + bpf_core_field_offset(files->fdtab));
	fd_count = BPF_CORE_READ(files, count.counter) > 0;
	return max >= 64;
}

char LICENSE[] SEC("license") = "GPL";
