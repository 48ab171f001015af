/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bpfld: in-kernel BPF ELF loader, user-space ABI.
 *
 * /dev/bpfld accepts the ioctls below. Every structure carries only fixed-width types,
 * reserved fields must be zero, and structures that may grow start with a size field.
 *
 * Example:
 *
 *	struct bpfld_version v;
 *	int fd = open("/dev/bpfld", O_RDONLY | O_CLOEXEC);
 *	if (fd < 0 || ioctl(fd, BPFLD_IOC_VERSION, &v) < 0)
 *		err(1, "bpfld");
 *	printf("uapi %u core %s\n", v.uapi_version, v.core_version);
 */
#ifndef _UAPI_LINUX_BPFLD_H
#define _UAPI_LINUX_BPFLD_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on every incompatible change; additions are signalled by sizes. */
#define BPFLD_UAPI_VERSION 1

#define BPFLD_IOC_MAGIC 0xBF

/* BPFLD_IOC_VERSION: what the loaded module speaks. */
struct bpfld_version {
	__u32 uapi_version;	/* out: BPFLD_UAPI_VERSION of the module */
	__u32 flags;		/* out: reserved, 0 */
	char core_version[32];	/* out: bpfld-core version, NUL-terminated */
};

#define BPFLD_IOC_VERSION _IOR(BPFLD_IOC_MAGIC, 0x00, struct bpfld_version)

#endif /* _UAPI_LINUX_BPFLD_H */
