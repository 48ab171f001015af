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

/* Names in results are NUL-terminated and truncated to fit. */
#define BPFLD_NAME_LEN 64
/* Largest fs-verity digest (SHA-512). */
#define BPFLD_DIGEST_MAX 64
/* fs-verity hash algorithms (FS_VERITY_HASH_ALG_*). */
#define BPFLD_HASH_SHA256 1
#define BPFLD_HASH_SHA512 2

/* One loaded program (out). */
struct bpfld_prog_info {
	char name[BPFLD_NAME_LEN];	/* function name */
	char section[BPFLD_NAME_LEN];	/* SEC() name */
	__u32 prog_type;		/* BPF_PROG_TYPE_* */
	__u32 expected_attach_type;	/* BPF_* attach type */
	__s32 fd;			/* program fd, in the caller, O_CLOEXEC */
	__u32 id;			/* kernel program id */
	__u8 tag[8];			/* kernel program tag */
	__u32 attach_btf_id;		/* BTF attach target in vmlinux, or 0 */
	__u32 reserved[3];
};

/* struct bpfld_map_info.flags */
#define BPFLD_MAP_REUSED (1U << 0)	/* the caller's map (opts' map_reuse), not created */

/* One created or reused map (out). Inner map templates are not reported. */
struct bpfld_map_info {
	char name[BPFLD_NAME_LEN];	/* BTF variable or ELF section name */
	__u32 map_type;			/* BPF_MAP_TYPE_* */
	__s32 fd;			/* map fd, in the caller, O_CLOEXEC */
	__u32 id;			/* kernel map id */
	__u32 pinning;			/* 1: the object asks for pinning by name */
	__u64 addr;			/* BPF_MAP_TYPE_ARENA: where the module mapped the
					 * arena in the caller (shared, read-write, its
					 * max_entries pages; the caller may munmap() it);
					 * 0 for other maps */
	__u32 flags;			/* BPFLD_MAP_* */
	__u32 reserved;
};

/*
 * A map of the caller's to use for one of the object's maps instead of creating it,
 * as libbpf reuses a map pinned by name. It must match the object's definition of
 * that map as libbpf's check has it (type, key_size, value_size, max_entries,
 * map_flags, map_extra) and be a map the object's contents do not define: not global
 * data (.data, .rodata, .bss), .kconfig, struct_ops or an arena. It is neither
 * created nor initialised (a map-in-map's 'values' are not written; a program
 * array's are, as libbpf writes them); the load reports it with BPFLD_MAP_REUSED
 * and a new fd of it.
 */
struct bpfld_map_reuse {
	char name[BPFLD_NAME_LEN];	/* in: the map's name in the object, as
					 * bpfld_map_info.name gives it, NUL-terminated */
	__s32 fd;			/* in: a BPF map fd of the caller */
	__u32 reserved;			/* must be zero */
};

/*
 * A BPF program of the caller's that one of the object's programs attaches to, as
 * libbpf's bpf_program__set_attach_target(prog, target_fd, func) sets it: an freplace
 * program replaces that function of the target, an fentry or fexit program traces
 * it. The kernel's verifier checks that the function is one of the target's and, for
 * freplace, that the prototypes match.
 */
struct bpfld_attach_target {
	char prog[BPFLD_NAME_LEN];	/* in: the object's program (function name),
					 * NUL-terminated */
	__s32 target_fd;		/* in: a BPF program fd of the caller */
	__u32 btf_id;			/* in: the function's BTF type id in the target
					 * program's BTF */
};

/*
 * Whether one of the object's entry programs is loaded, as libbpf's
 * bpf_program__set_autoload(prog, load) sets it: a program of a "?" section, which is
 * not loaded by default, is loaded with load = 1; any program is left out with
 * load = 0 (it is then neither loaded nor reported, and the receipt has no part of it).
 */
struct bpfld_prog_autoload {
	char prog[BPFLD_NAME_LEN];	/* in: the object's entry program (function name),
					 * NUL-terminated */
	__u32 load;			/* in: 1 load it, 0 do not */
	__u32 reserved;			/* must be zero */
};

/*
 * Options of a load beyond the object itself (struct bpfld_load.opts). The struct may
 * grow: a caller passes its own sizeof, and a module reads the fields that size holds
 * (at least up to attach, the first version: BPFLD_LOAD_OPTS_SIZE_VER0) and refuses
 * (E2BIG) a larger one whose bytes beyond those it knows are not zero.
 */
struct bpfld_load_opts {
	__u32 size;		/* in: sizeof(struct bpfld_load_opts) */
	__u32 map_reuse_cnt;	/* in: entries in map_reuse (each name at most once) */
	__u32 map_reuse_size;	/* in: sizeof(struct bpfld_map_reuse) */
	__u32 reserved;		/* must be zero */
	__u64 map_reuse;	/* in: array of struct bpfld_map_reuse */
	__u32 attach_cnt;	/* in: entries in attach (each program at most once) */
	__u32 attach_size;	/* in: sizeof(struct bpfld_attach_target) */
	__u64 attach;		/* in: array of struct bpfld_attach_target */
	__u32 autoload_cnt;	/* in: entries in autoload (each program at most once) */
	__u32 autoload_size;	/* in: sizeof(struct bpfld_prog_autoload) */
	__u64 autoload;		/* in: array of struct bpfld_prog_autoload */
};

/* The size of the first struct bpfld_load_opts, up to and with attach. */
#define BPFLD_LOAD_OPTS_SIZE_VER0	40

/*
 * struct bpfld_load.flags. BPFLD_LOAD_REGISTER_STRUCT_OPS: write the value of each
 * SEC(".struct_ops") map (not BPF_F_LINK) at the end of the load, which registers it
 * with its subsystem, as libbpf's bpf_map__attach_struct_ops() does for such a map;
 * the caller unregisters it with BPF_MAP_DELETE_ELEM of key 0 on the map's fd. A load
 * that fails after registering one unregisters it. SEC(".struct_ops.link") maps get
 * their value in every load (registered by the caller's BPF_LINK_CREATE).
 */
#define BPFLD_LOAD_REGISTER_STRUCT_OPS (1U << 0)

/*
 * BPFLD_IOC_LOAD: load every auto-loaded program of the BPF ELF object open at
 * obj_fd, which must be a regular file with fs-verity enabled whose digest the trust
 * policy accepts. On success the programs and maps are fds in the caller and
 * progs_cnt/maps_cnt say how many; on failure nothing was created and err_msg says
 * which step and which object failed.
 */
struct bpfld_load {
	__u32 size;		/* in: sizeof(struct bpfld_load) */
	__u32 flags;		/* in: BPFLD_LOAD_* */
	__s32 obj_fd;		/* in: the object file */
	__u32 log_level;	/* in: verifier log level (0: a level-1 log only on failure) */
	__u64 log_buf;		/* in: verifier log buffer, or 0 */
	__u32 log_size;		/* in: its size */
	__u32 prog_info_size;	/* in: sizeof(struct bpfld_prog_info) */
	__u64 progs;		/* in: array of struct bpfld_prog_info */
	__u32 progs_cnt;	/* in: array length; out: programs loaded (needed on ENOSPC) */
	__u32 map_info_size;	/* in: sizeof(struct bpfld_map_info) */
	__u64 maps;		/* in: array of struct bpfld_map_info */
	__u32 maps_cnt;		/* in: array length; out: maps created (needed on ENOSPC) */
	__u32 digest_algo;	/* out: BPFLD_HASH_* of the file's fs-verity digest */
	__u32 digest_size;	/* out: bytes of digest used */
	__u32 err_errno;	/* out: errno of the failing step (also the ioctl's) */
	__u8 digest[BPFLD_DIGEST_MAX];	/* out: the file's fs-verity digest */
	__u8 receipt[32];	/* out: SHA-256 receipt of what was loaded */
	char err_msg[256];	/* out: why the load failed, empty on success */
	__u64 time_ns;		/* out: time the module spent on the load, from the request
				 * to the fds (fs-verity check, read, parse, plan, execute) */
	__u64 bpf_time_ns;	/* out: of which inside the kernel's BPF commands (BTF and map
				 * creation, program verification and JIT) */
	__u64 mem_bytes;	/* out: memory the load held: the file's copy plus the
				 * parser's and planner's buffers (all live until the end) */
	__u64 opts;		/* in: 0, or a struct bpfld_load_opts */
};

#define BPFLD_IOC_LOAD _IOWR(BPFLD_IOC_MAGIC, 0x01, struct bpfld_load)

/* A trusted or revoked fs-verity file digest. */
struct bpfld_digest {
	__u32 algo;		/* BPFLD_HASH_SHA256 or BPFLD_HASH_SHA512 */
	__u32 size;		/* 32 or 64, matching algo */
	__u8 digest[BPFLD_DIGEST_MAX];
};

/* Policy entry states (struct bpfld_trust_entry.state). */
#define BPFLD_TRUST_BUILTIN 1	/* trusted, built into the module */
#define BPFLD_TRUST_RUNTIME 2	/* trusted, enrolled at runtime */
#define BPFLD_TRUST_REVOKED 3	/* revoked: refused even if trusted otherwise */

struct bpfld_trust_entry {
	struct bpfld_digest digest;
	__u32 state;		/* BPFLD_TRUST_* */
	__u32 reserved;
};

/* Policy flags (struct bpfld_trust_list.flags, out). */
#define BPFLD_POLICY_SEALED (1U << 0)		/* no more changes until reboot */
#define BPFLD_POLICY_PERMISSIVE (1U << 1)	/* development: any verity file trusted */

struct bpfld_trust_list {
	__u32 size;		/* in: sizeof(struct bpfld_trust_list) */
	__u32 flags;		/* out: BPFLD_POLICY_* */
	__u64 entries;		/* in: array of struct bpfld_trust_entry */
	__u32 count;		/* in: array length; out: entries in the policy */
	__u32 entry_size;	/* in: sizeof(struct bpfld_trust_entry) */
	__u64 reserved[2];	/* must be zero */
};

/* Enroll, revoke (CAP_SYS_ADMIN; EROFS once sealed), list, seal (CAP_SYS_ADMIN). */
#define BPFLD_IOC_TRUST_ADD _IOW(BPFLD_IOC_MAGIC, 0x10, struct bpfld_digest)
#define BPFLD_IOC_TRUST_REVOKE _IOW(BPFLD_IOC_MAGIC, 0x11, struct bpfld_digest)
#define BPFLD_IOC_TRUST_LIST _IOWR(BPFLD_IOC_MAGIC, 0x12, struct bpfld_trust_list)
#define BPFLD_IOC_TRUST_SEAL _IO(BPFLD_IOC_MAGIC, 0x13)

#endif /* _UAPI_LINUX_BPFLD_H */
