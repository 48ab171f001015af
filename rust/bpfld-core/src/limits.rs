// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Every bound the core enforces, in one place, each with its reason.
//!
//! The core parses attacker-shaped bytes in ring 0. Each number below bounds memory,
//! time or recursion so that a hostile file fails early with [`crate::error::Kind::Limit`]
//! naming the limit, instead of exhausting the kernel. Where the kernel itself has a
//! bound, ours is equal or tighter so that we refuse before asking it.

/// Largest object file accepted. The largest BPF selftest objects in Linux 6.12 are a
/// few MiB (mostly BTF); 64 MiB leaves ample room and bounds the one read of the file.
pub const MAX_FILE_SIZE: usize = 64 << 20;

/// Section headers per file. Clang emits two sections per program section (code and its
/// relocations); 8192 allows thousands of programs while bounding the header walk.
pub const MAX_SECTIONS: usize = 8192;

/// Length of a section, symbol or map name, including those from BTF: the kernel's
/// `KSYM_NAME_LEN` (512) is the longest name it accepts anywhere in BTF.
pub const MAX_NAME_LEN: usize = 512;

/// Symbols in `.symtab`. Selftest objects have at most a few thousand.
pub const MAX_SYMBOLS: usize = 1 << 18;

/// Relocation records over all relocation sections together.
pub const MAX_RELOCS: usize = 1 << 20;

/// Programs (entry points) per object.
pub const MAX_PROGRAMS: usize = 4096;

/// Functions in `.text` (subprograms) per object.
pub const MAX_SUBPROGS: usize = 8192;

/// Maps per object (BTF-defined, global data and kconfig maps together).
pub const MAX_MAPS: usize = 4096;

/// Instructions in one program after subprograms are appended: the verifier's own
/// `BPF_COMPLEXITY_LIMIT_INSNS` for privileged programs.
pub const MAX_PROG_INSNS: usize = 1_000_000;

/// Instructions over all programs of one plan after linking. Every program gets its own
/// copy of the subprograms it calls, so this bounds the duplication (32 MiB of insns).
pub const MAX_TOTAL_INSNS: usize = 4_000_000;

/// Size of one BTF blob: the kernel's `BTF_MAX_SIZE`.
pub const MAX_BTF_SIZE: usize = 16 << 20;

/// Size of a kernel BTF blob (vmlinux, or vmlinux plus one module) indexed for CO-RE and
/// kfuncs: vmlinux BTF of a distribution kernel is 5-8 MiB.
pub const MAX_KERNEL_BTF_SIZE: usize = 64 << 20;

/// BTF types per blob: the kernel's `BTF_MAX_TYPE` (0xfffff).
pub const MAX_BTF_TYPES: usize = 0x000f_ffff;

/// Members, enumerators, parameters or DATASEC entries of one BTF type: the 16-bit vlen
/// field cannot say more.
pub const MAX_BTF_VLEN: usize = 0xffff;

/// Depth of following modifiers, typedefs and pointers through BTF: the kernel's
/// `MAX_RESOLVE_DEPTH`. Also bounds CO-RE type comparison recursion.
pub const MAX_RESOLVE_DEPTH: usize = 32;

/// Access-string components of one CO-RE relocation (libbpf's `BPF_CORE_SPEC_MAX_LEN`).
pub const MAX_CORE_SPEC_LEN: usize = 64;

/// Initial `.values` slots of one map-in-map or program array.
pub const MAX_MAP_VALUES: usize = 1 << 16;

/// Size of one global data section (`.data`, `.rodata`, `.bss`, ...): a map value. The
/// kernel caps array map values at `INT_MAX` (`array_map_alloc_check`); 512 MiB is well
/// past anything real but still a bound for `.bss`, which takes no file space.
pub const MAX_DATA_SECTION_SIZE: u64 = 512 << 20;

/// Size of the `.kconfig` map's value: every `__kconfig` extern laid out with its
/// alignment. libbpf has no bound; real objects declare a few dozen values (booleans,
/// tristates, integers, short strings), so 64 KiB is far beyond them and keeps one
/// `extern char CONFIG_X[1 << 29]` from costing the kernel half a GiB.
pub const MAX_KCONFIG_SIZE: usize = 64 << 10;

/// Extern symbols (`__kconfig`, `__ksym`, kfuncs) per object.
pub const MAX_EXTERNS: usize = 4096;

/// Levels of an fs-verity Merkle tree: the kernel's `FS_VERITY_MAX_LEVELS`. With SHA-256
/// and 4 KiB blocks (128 hashes per block) 8 levels cover every `u64` size, so this only
/// sizes the fixed per-level state of [`crate::digest::VerityHasher`].
pub const MAX_VERITY_LEVELS: usize = 8;

/// Length of a kernel BTF attach target name with its lookup prefix (`btf_trace_`,
/// `bpf_lsm_`, `bpf_iter_`): libbpf formats it into a `BTF_MAX_NAME_SIZE` (128) buffer
/// and fails the load when it does not fit with its NUL. Matching that keeps parity.
pub const MAX_ATTACH_BTF_NAME_LEN: usize = 127;

/// Kernel types considered as CO-RE candidates for one local type (same essential name,
/// compatible kind). Deduplicated vmlinux BTF has at most a handful of same-named
/// structs (4 on a 6.18 distribution kernel); 64 leaves room for module BTFs repeating
/// a name, and lets the candidate cache record which candidates survived as one 64-bit
/// mask per local type instead of a list.
pub const MAX_CORE_CANDIDATES: usize = 64;
