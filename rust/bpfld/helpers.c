// SPDX-License-Identifier: GPL-2.0
/*
 * C glue for bpfld where Linux 6.12 has no Rust bindings: the misc device (there is no
 * kernel::miscdevice before 6.13), the BPF_INTERNAL namespace import (6.12's `module!`
 * cannot express it) and prototypes for symbols without a header.
 */
#include <linux/bpf.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

/* kern_sys_bpf() lives in the BPF_INTERNAL namespace. */
MODULE_IMPORT_NS(BPF_INTERNAL);

/* Implemented in Rust (rust/bpfld/bpfld_main.rs). */
long bpfld_rust_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* Exported by kernel/bpf/syscall.c without a header prototype. */
int kern_sys_bpf(int cmd, union bpf_attr *attr, unsigned int size);

static const struct file_operations bpfld_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = bpfld_rust_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice bpfld_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "bpfld",
	.fops = &bpfld_fops,
	/* Root only: the trust policy gates loads, capabilities are checked per ioctl. */
	.mode = 0600,
};

int bpfld_misc_register(void);
int bpfld_misc_register(void)
{
	return misc_register(&bpfld_misc);
}

void bpfld_misc_deregister(void);
void bpfld_misc_deregister(void)
{
	misc_deregister(&bpfld_misc);
}

int bpfld_sys_bpf(int cmd, void *attr, unsigned int size);
int bpfld_sys_bpf(int cmd, void *attr, unsigned int size)
{
	return kern_sys_bpf(cmd, attr, size);
}
