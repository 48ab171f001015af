// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* CO-RE through the VFS objects of the caller's executable:
 * task->mm->exe_file, a struct file.
 *
 * struct file::f_path moved into an anonymous union in 6.13
 * (union { const struct path f_path; struct path __f_path; }): the same
 * access string file->f_path.dentry resolves through the anonymous member
 * on newer kernels and directly on 6.12.
 *
 * - exe_name: file->f_path.dentry->d_name: the name (a pointer in struct
 *   qstr) read as a string has d_name.len characters; len is also the high
 *   half of the anonymous union member hash_len; returns len (at least 1).
 * - exe_inode: file->f_path.dentry->d_inode == file->f_inode,
 *   f_inode->i_sb == f_path.mnt->mnt_sb, i_mode is a regular file,
 *   i_ino != 0, and bpf_core_field_size of f_path (struct path, two
 *   pointers) is 16.
 */
// bpfld: run prog=exe_name kind=syscall retval=1
// bpfld: run prog=exe_inode kind=syscall retval=0
// bpfld: global fi_len expect-after-run=1
// bpfld: global fi_hash_len expect-after-run=1
// bpfld: global fi_inode expect-after-run=1
// bpfld: global fi_sb expect-after-run=1
// bpfld: global fi_reg expect-after-run=1
// bpfld: global fi_path_size expect-after-run=16
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define S_IFMT 00170000
#define S_IFREG 0100000

__u64 fi_len, fi_hash_len, fi_inode, fi_sb, fi_reg, fi_path_size;

static __noinline struct file *exe_file(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, mm, exe_file);
}

SEC("syscall")
int exe_name(void *ctx)
{
	struct file *f = exe_file();
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	__u32 len = BPF_CORE_READ(d, d_name.len);
	__u64 hash_len = BPF_CORE_READ(d, d_name.hash_len);
	char name[256];
	long n;

	n = bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(d, d_name.name));
	fi_len = len > 0 && n == len + 1;
	fi_hash_len = hash_len >> 32 == len && (__u32)hash_len == BPF_CORE_READ(d, d_name.hash);
	return len > 0;
}

SEC("syscall")
int exe_inode(void *ctx)
{
	struct file *f = exe_file();
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	__u16 mode = BPF_CORE_READ(inode, i_mode);

	fi_inode = inode && BPF_CORE_READ(f, f_path.dentry, d_inode) == inode;
	fi_sb = BPF_CORE_READ(inode, i_sb) == BPF_CORE_READ(f, f_path.mnt, mnt_sb);
	fi_reg = (mode & S_IFMT) == S_IFREG && BPF_CORE_READ(inode, i_ino) != 0;
	fi_path_size = bpf_core_field_size(f->f_path);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
