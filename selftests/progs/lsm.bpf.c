// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SEC("lsm/...") and the sleepable SEC("lsm.s/..."), with inode storage
 * (lsm_unlink) and task storage (lsm_exec).  Load-only; attaching needs the
 * "bpf" LSM to be active (lsm= on the kernel command line / CONFIG_LSM).
 */
// bpfld: host-skip the host kernel (6.18 "fc") refuses BPF trampolines with EPERM at load (its ftrace is locked: even reading tracefs available_filter_functions is EPERM); expected to load where trampolines work (the 6.12 test VM)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct file;
struct inode;
struct dentry;
struct linux_binprm;

struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} inode_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} task_execs SEC(".maps");

__u64 opens;

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	__sync_fetch_and_add(&opens, 1);
	return 0;
}

SEC("lsm/inode_unlink")
int BPF_PROG(lsm_unlink, struct inode *dir, struct dentry *victim)
{
	__u64 *n = bpf_inode_storage_get(&inode_store, dir, 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("lsm.s/bprm_committed_creds")
int BPF_PROG(lsm_exec, struct linux_binprm *bprm)
{
	__u64 *n = bpf_task_storage_get(&task_execs, bpf_get_current_task_btf(), 0,
					BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (n)
		*n += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
