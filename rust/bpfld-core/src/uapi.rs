// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The parts of Linux 6.12's `include/uapi/linux/bpf.h` the core needs.
//!
//! Enum values were generated from the 6.12 header and must never change (they are ABI).
//! The `*Attr` structs mirror the prefix of `union bpf_attr` used by each command, with the
//! same layout; the executors pass them to `bpf(2)` or `kern_sys_bpf` together with their
//! size. The kernel accepts a shorter attr than its own and zero-fills the rest.

#![allow(missing_docs)] // The names are the kernel's; each carries its C name below.

// enum bpf_cmd
/// `BPF_MAP_CREATE`.
pub const BPF_MAP_CREATE: u32 = 0;
/// `BPF_MAP_LOOKUP_ELEM`.
pub const BPF_MAP_LOOKUP_ELEM: u32 = 1;
/// `BPF_MAP_UPDATE_ELEM`.
pub const BPF_MAP_UPDATE_ELEM: u32 = 2;
/// `BPF_MAP_DELETE_ELEM`.
pub const BPF_MAP_DELETE_ELEM: u32 = 3;
/// `BPF_MAP_GET_NEXT_KEY`.
pub const BPF_MAP_GET_NEXT_KEY: u32 = 4;
/// `BPF_PROG_LOAD`.
pub const BPF_PROG_LOAD: u32 = 5;
/// `BPF_OBJ_PIN`.
pub const BPF_OBJ_PIN: u32 = 6;
/// `BPF_OBJ_GET`.
pub const BPF_OBJ_GET: u32 = 7;
/// `BPF_PROG_ATTACH`.
pub const BPF_PROG_ATTACH: u32 = 8;
/// `BPF_PROG_DETACH`.
pub const BPF_PROG_DETACH: u32 = 9;
/// `BPF_PROG_TEST_RUN`.
pub const BPF_PROG_TEST_RUN: u32 = 10;
/// `BPF_PROG_RUN` (alias of `BPF_PROG_TEST_RUN`).
pub const BPF_PROG_RUN: u32 = BPF_PROG_TEST_RUN;
/// `BPF_PROG_GET_NEXT_ID`.
pub const BPF_PROG_GET_NEXT_ID: u32 = 11;
/// `BPF_MAP_GET_NEXT_ID`.
pub const BPF_MAP_GET_NEXT_ID: u32 = 12;
/// `BPF_PROG_GET_FD_BY_ID`.
pub const BPF_PROG_GET_FD_BY_ID: u32 = 13;
/// `BPF_MAP_GET_FD_BY_ID`.
pub const BPF_MAP_GET_FD_BY_ID: u32 = 14;
/// `BPF_OBJ_GET_INFO_BY_FD`.
pub const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
/// `BPF_PROG_QUERY`.
pub const BPF_PROG_QUERY: u32 = 16;
/// `BPF_RAW_TRACEPOINT_OPEN`.
pub const BPF_RAW_TRACEPOINT_OPEN: u32 = 17;
/// `BPF_BTF_LOAD`.
pub const BPF_BTF_LOAD: u32 = 18;
/// `BPF_BTF_GET_FD_BY_ID`.
pub const BPF_BTF_GET_FD_BY_ID: u32 = 19;
/// `BPF_TASK_FD_QUERY`.
pub const BPF_TASK_FD_QUERY: u32 = 20;
/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`.
pub const BPF_MAP_LOOKUP_AND_DELETE_ELEM: u32 = 21;
/// `BPF_MAP_FREEZE`.
pub const BPF_MAP_FREEZE: u32 = 22;
/// `BPF_BTF_GET_NEXT_ID`.
pub const BPF_BTF_GET_NEXT_ID: u32 = 23;
/// `BPF_MAP_LOOKUP_BATCH`.
pub const BPF_MAP_LOOKUP_BATCH: u32 = 24;
/// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`.
pub const BPF_MAP_LOOKUP_AND_DELETE_BATCH: u32 = 25;
/// `BPF_MAP_UPDATE_BATCH`.
pub const BPF_MAP_UPDATE_BATCH: u32 = 26;
/// `BPF_MAP_DELETE_BATCH`.
pub const BPF_MAP_DELETE_BATCH: u32 = 27;
/// `BPF_LINK_CREATE`.
pub const BPF_LINK_CREATE: u32 = 28;
/// `BPF_LINK_UPDATE`.
pub const BPF_LINK_UPDATE: u32 = 29;
/// `BPF_LINK_GET_FD_BY_ID`.
pub const BPF_LINK_GET_FD_BY_ID: u32 = 30;
/// `BPF_LINK_GET_NEXT_ID`.
pub const BPF_LINK_GET_NEXT_ID: u32 = 31;
/// `BPF_ENABLE_STATS`.
pub const BPF_ENABLE_STATS: u32 = 32;
/// `BPF_ITER_CREATE`.
pub const BPF_ITER_CREATE: u32 = 33;
/// `BPF_LINK_DETACH`.
pub const BPF_LINK_DETACH: u32 = 34;
/// `BPF_PROG_BIND_MAP`.
pub const BPF_PROG_BIND_MAP: u32 = 35;
/// `BPF_TOKEN_CREATE`.
pub const BPF_TOKEN_CREATE: u32 = 36;
/// Number of values of `enum bpf_cmd` known to Linux 6.12.
pub const MAX_BPF_CMD: u32 = 37;
// enum bpf_map_type
/// `BPF_MAP_TYPE_UNSPEC`.
pub const BPF_MAP_TYPE_UNSPEC: u32 = 0;
/// `BPF_MAP_TYPE_HASH`.
pub const BPF_MAP_TYPE_HASH: u32 = 1;
/// `BPF_MAP_TYPE_ARRAY`.
pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_PROG_ARRAY`.
pub const BPF_MAP_TYPE_PROG_ARRAY: u32 = 3;
/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
pub const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
/// `BPF_MAP_TYPE_PERCPU_HASH`.
pub const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
/// `BPF_MAP_TYPE_PERCPU_ARRAY`.
pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
/// `BPF_MAP_TYPE_STACK_TRACE`.
pub const BPF_MAP_TYPE_STACK_TRACE: u32 = 7;
/// `BPF_MAP_TYPE_CGROUP_ARRAY`.
pub const BPF_MAP_TYPE_CGROUP_ARRAY: u32 = 8;
/// `BPF_MAP_TYPE_LRU_HASH`.
pub const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
/// `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
pub const BPF_MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;
/// `BPF_MAP_TYPE_LPM_TRIE`.
pub const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
/// `BPF_MAP_TYPE_ARRAY_OF_MAPS`.
pub const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
/// `BPF_MAP_TYPE_HASH_OF_MAPS`.
pub const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;
/// `BPF_MAP_TYPE_DEVMAP`.
pub const BPF_MAP_TYPE_DEVMAP: u32 = 14;
/// `BPF_MAP_TYPE_SOCKMAP`.
pub const BPF_MAP_TYPE_SOCKMAP: u32 = 15;
/// `BPF_MAP_TYPE_CPUMAP`.
pub const BPF_MAP_TYPE_CPUMAP: u32 = 16;
/// `BPF_MAP_TYPE_XSKMAP`.
pub const BPF_MAP_TYPE_XSKMAP: u32 = 17;
/// `BPF_MAP_TYPE_SOCKHASH`.
pub const BPF_MAP_TYPE_SOCKHASH: u32 = 18;
/// `BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED`.
pub const BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED: u32 = 19;
/// `BPF_MAP_TYPE_CGROUP_STORAGE` (alias of `BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED`).
pub const BPF_MAP_TYPE_CGROUP_STORAGE: u32 = BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED;
/// `BPF_MAP_TYPE_REUSEPORT_SOCKARRAY`.
pub const BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: u32 = 20;
/// `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED`.
pub const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED: u32 = 21;
/// `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE` (alias of `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED`).
pub const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: u32 = BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED;
/// `BPF_MAP_TYPE_QUEUE`.
pub const BPF_MAP_TYPE_QUEUE: u32 = 22;
/// `BPF_MAP_TYPE_STACK`.
pub const BPF_MAP_TYPE_STACK: u32 = 23;
/// `BPF_MAP_TYPE_SK_STORAGE`.
pub const BPF_MAP_TYPE_SK_STORAGE: u32 = 24;
/// `BPF_MAP_TYPE_DEVMAP_HASH`.
pub const BPF_MAP_TYPE_DEVMAP_HASH: u32 = 25;
/// `BPF_MAP_TYPE_STRUCT_OPS`.
pub const BPF_MAP_TYPE_STRUCT_OPS: u32 = 26;
/// `BPF_MAP_TYPE_RINGBUF`.
pub const BPF_MAP_TYPE_RINGBUF: u32 = 27;
/// `BPF_MAP_TYPE_INODE_STORAGE`.
pub const BPF_MAP_TYPE_INODE_STORAGE: u32 = 28;
/// `BPF_MAP_TYPE_TASK_STORAGE`.
pub const BPF_MAP_TYPE_TASK_STORAGE: u32 = 29;
/// `BPF_MAP_TYPE_BLOOM_FILTER`.
pub const BPF_MAP_TYPE_BLOOM_FILTER: u32 = 30;
/// `BPF_MAP_TYPE_USER_RINGBUF`.
pub const BPF_MAP_TYPE_USER_RINGBUF: u32 = 31;
/// `BPF_MAP_TYPE_CGRP_STORAGE`.
pub const BPF_MAP_TYPE_CGRP_STORAGE: u32 = 32;
/// `BPF_MAP_TYPE_ARENA`.
pub const BPF_MAP_TYPE_ARENA: u32 = 33;
/// Number of values of `enum bpf_map_type` known to Linux 6.12.
pub const MAX_BPF_MAP_TYPE: u32 = 34;
// enum bpf_prog_type
/// `BPF_PROG_TYPE_UNSPEC`.
pub const BPF_PROG_TYPE_UNSPEC: u32 = 0;
/// `BPF_PROG_TYPE_SOCKET_FILTER`.
pub const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
/// `BPF_PROG_TYPE_KPROBE`.
pub const BPF_PROG_TYPE_KPROBE: u32 = 2;
/// `BPF_PROG_TYPE_SCHED_CLS`.
pub const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
/// `BPF_PROG_TYPE_SCHED_ACT`.
pub const BPF_PROG_TYPE_SCHED_ACT: u32 = 4;
/// `BPF_PROG_TYPE_TRACEPOINT`.
pub const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
/// `BPF_PROG_TYPE_XDP`.
pub const BPF_PROG_TYPE_XDP: u32 = 6;
/// `BPF_PROG_TYPE_PERF_EVENT`.
pub const BPF_PROG_TYPE_PERF_EVENT: u32 = 7;
/// `BPF_PROG_TYPE_CGROUP_SKB`.
pub const BPF_PROG_TYPE_CGROUP_SKB: u32 = 8;
/// `BPF_PROG_TYPE_CGROUP_SOCK`.
pub const BPF_PROG_TYPE_CGROUP_SOCK: u32 = 9;
/// `BPF_PROG_TYPE_LWT_IN`.
pub const BPF_PROG_TYPE_LWT_IN: u32 = 10;
/// `BPF_PROG_TYPE_LWT_OUT`.
pub const BPF_PROG_TYPE_LWT_OUT: u32 = 11;
/// `BPF_PROG_TYPE_LWT_XMIT`.
pub const BPF_PROG_TYPE_LWT_XMIT: u32 = 12;
/// `BPF_PROG_TYPE_SOCK_OPS`.
pub const BPF_PROG_TYPE_SOCK_OPS: u32 = 13;
/// `BPF_PROG_TYPE_SK_SKB`.
pub const BPF_PROG_TYPE_SK_SKB: u32 = 14;
/// `BPF_PROG_TYPE_CGROUP_DEVICE`.
pub const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_PROG_TYPE_SK_MSG`.
pub const BPF_PROG_TYPE_SK_MSG: u32 = 16;
/// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
pub const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
/// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`.
pub const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
/// `BPF_PROG_TYPE_LWT_SEG6LOCAL`.
pub const BPF_PROG_TYPE_LWT_SEG6LOCAL: u32 = 19;
/// `BPF_PROG_TYPE_LIRC_MODE2`.
pub const BPF_PROG_TYPE_LIRC_MODE2: u32 = 20;
/// `BPF_PROG_TYPE_SK_REUSEPORT`.
pub const BPF_PROG_TYPE_SK_REUSEPORT: u32 = 21;
/// `BPF_PROG_TYPE_FLOW_DISSECTOR`.
pub const BPF_PROG_TYPE_FLOW_DISSECTOR: u32 = 22;
/// `BPF_PROG_TYPE_CGROUP_SYSCTL`.
pub const BPF_PROG_TYPE_CGROUP_SYSCTL: u32 = 23;
/// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`.
pub const BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: u32 = 24;
/// `BPF_PROG_TYPE_CGROUP_SOCKOPT`.
pub const BPF_PROG_TYPE_CGROUP_SOCKOPT: u32 = 25;
/// `BPF_PROG_TYPE_TRACING`.
pub const BPF_PROG_TYPE_TRACING: u32 = 26;
/// `BPF_PROG_TYPE_STRUCT_OPS`.
pub const BPF_PROG_TYPE_STRUCT_OPS: u32 = 27;
/// `BPF_PROG_TYPE_EXT`.
pub const BPF_PROG_TYPE_EXT: u32 = 28;
/// `BPF_PROG_TYPE_LSM`.
pub const BPF_PROG_TYPE_LSM: u32 = 29;
/// `BPF_PROG_TYPE_SK_LOOKUP`.
pub const BPF_PROG_TYPE_SK_LOOKUP: u32 = 30;
/// `BPF_PROG_TYPE_SYSCALL`.
pub const BPF_PROG_TYPE_SYSCALL: u32 = 31;
/// `BPF_PROG_TYPE_NETFILTER`.
pub const BPF_PROG_TYPE_NETFILTER: u32 = 32;
/// Number of values of `enum bpf_prog_type` known to Linux 6.12.
pub const MAX_BPF_PROG_TYPE: u32 = 33;
// enum bpf_attach_type
/// `BPF_CGROUP_INET_INGRESS`.
pub const BPF_CGROUP_INET_INGRESS: u32 = 0;
/// `BPF_CGROUP_INET_EGRESS`.
pub const BPF_CGROUP_INET_EGRESS: u32 = 1;
/// `BPF_CGROUP_INET_SOCK_CREATE`.
pub const BPF_CGROUP_INET_SOCK_CREATE: u32 = 2;
/// `BPF_CGROUP_SOCK_OPS`.
pub const BPF_CGROUP_SOCK_OPS: u32 = 3;
/// `BPF_SK_SKB_STREAM_PARSER`.
pub const BPF_SK_SKB_STREAM_PARSER: u32 = 4;
/// `BPF_SK_SKB_STREAM_VERDICT`.
pub const BPF_SK_SKB_STREAM_VERDICT: u32 = 5;
/// `BPF_CGROUP_DEVICE`.
pub const BPF_CGROUP_DEVICE: u32 = 6;
/// `BPF_SK_MSG_VERDICT`.
pub const BPF_SK_MSG_VERDICT: u32 = 7;
/// `BPF_CGROUP_INET4_BIND`.
pub const BPF_CGROUP_INET4_BIND: u32 = 8;
/// `BPF_CGROUP_INET6_BIND`.
pub const BPF_CGROUP_INET6_BIND: u32 = 9;
/// `BPF_CGROUP_INET4_CONNECT`.
pub const BPF_CGROUP_INET4_CONNECT: u32 = 10;
/// `BPF_CGROUP_INET6_CONNECT`.
pub const BPF_CGROUP_INET6_CONNECT: u32 = 11;
/// `BPF_CGROUP_INET4_POST_BIND`.
pub const BPF_CGROUP_INET4_POST_BIND: u32 = 12;
/// `BPF_CGROUP_INET6_POST_BIND`.
pub const BPF_CGROUP_INET6_POST_BIND: u32 = 13;
/// `BPF_CGROUP_UDP4_SENDMSG`.
pub const BPF_CGROUP_UDP4_SENDMSG: u32 = 14;
/// `BPF_CGROUP_UDP6_SENDMSG`.
pub const BPF_CGROUP_UDP6_SENDMSG: u32 = 15;
/// `BPF_LIRC_MODE2`.
pub const BPF_LIRC_MODE2: u32 = 16;
/// `BPF_FLOW_DISSECTOR`.
pub const BPF_FLOW_DISSECTOR: u32 = 17;
/// `BPF_CGROUP_SYSCTL`.
pub const BPF_CGROUP_SYSCTL: u32 = 18;
/// `BPF_CGROUP_UDP4_RECVMSG`.
pub const BPF_CGROUP_UDP4_RECVMSG: u32 = 19;
/// `BPF_CGROUP_UDP6_RECVMSG`.
pub const BPF_CGROUP_UDP6_RECVMSG: u32 = 20;
/// `BPF_CGROUP_GETSOCKOPT`.
pub const BPF_CGROUP_GETSOCKOPT: u32 = 21;
/// `BPF_CGROUP_SETSOCKOPT`.
pub const BPF_CGROUP_SETSOCKOPT: u32 = 22;
/// `BPF_TRACE_RAW_TP`.
pub const BPF_TRACE_RAW_TP: u32 = 23;
/// `BPF_TRACE_FENTRY`.
pub const BPF_TRACE_FENTRY: u32 = 24;
/// `BPF_TRACE_FEXIT`.
pub const BPF_TRACE_FEXIT: u32 = 25;
/// `BPF_MODIFY_RETURN`.
pub const BPF_MODIFY_RETURN: u32 = 26;
/// `BPF_LSM_MAC`.
pub const BPF_LSM_MAC: u32 = 27;
/// `BPF_TRACE_ITER`.
pub const BPF_TRACE_ITER: u32 = 28;
/// `BPF_CGROUP_INET4_GETPEERNAME`.
pub const BPF_CGROUP_INET4_GETPEERNAME: u32 = 29;
/// `BPF_CGROUP_INET6_GETPEERNAME`.
pub const BPF_CGROUP_INET6_GETPEERNAME: u32 = 30;
/// `BPF_CGROUP_INET4_GETSOCKNAME`.
pub const BPF_CGROUP_INET4_GETSOCKNAME: u32 = 31;
/// `BPF_CGROUP_INET6_GETSOCKNAME`.
pub const BPF_CGROUP_INET6_GETSOCKNAME: u32 = 32;
/// `BPF_XDP_DEVMAP`.
pub const BPF_XDP_DEVMAP: u32 = 33;
/// `BPF_CGROUP_INET_SOCK_RELEASE`.
pub const BPF_CGROUP_INET_SOCK_RELEASE: u32 = 34;
/// `BPF_XDP_CPUMAP`.
pub const BPF_XDP_CPUMAP: u32 = 35;
/// `BPF_SK_LOOKUP`.
pub const BPF_SK_LOOKUP: u32 = 36;
/// `BPF_XDP`.
pub const BPF_XDP: u32 = 37;
/// `BPF_SK_SKB_VERDICT`.
pub const BPF_SK_SKB_VERDICT: u32 = 38;
/// `BPF_SK_REUSEPORT_SELECT`.
pub const BPF_SK_REUSEPORT_SELECT: u32 = 39;
/// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`.
pub const BPF_SK_REUSEPORT_SELECT_OR_MIGRATE: u32 = 40;
/// `BPF_PERF_EVENT`.
pub const BPF_PERF_EVENT: u32 = 41;
/// `BPF_TRACE_KPROBE_MULTI`.
pub const BPF_TRACE_KPROBE_MULTI: u32 = 42;
/// `BPF_LSM_CGROUP`.
pub const BPF_LSM_CGROUP: u32 = 43;
/// `BPF_STRUCT_OPS`.
pub const BPF_STRUCT_OPS: u32 = 44;
/// `BPF_NETFILTER`.
pub const BPF_NETFILTER: u32 = 45;
/// `BPF_TCX_INGRESS`.
pub const BPF_TCX_INGRESS: u32 = 46;
/// `BPF_TCX_EGRESS`.
pub const BPF_TCX_EGRESS: u32 = 47;
/// `BPF_TRACE_UPROBE_MULTI`.
pub const BPF_TRACE_UPROBE_MULTI: u32 = 48;
/// `BPF_CGROUP_UNIX_CONNECT`.
pub const BPF_CGROUP_UNIX_CONNECT: u32 = 49;
/// `BPF_CGROUP_UNIX_SENDMSG`.
pub const BPF_CGROUP_UNIX_SENDMSG: u32 = 50;
/// `BPF_CGROUP_UNIX_RECVMSG`.
pub const BPF_CGROUP_UNIX_RECVMSG: u32 = 51;
/// `BPF_CGROUP_UNIX_GETPEERNAME`.
pub const BPF_CGROUP_UNIX_GETPEERNAME: u32 = 52;
/// `BPF_CGROUP_UNIX_GETSOCKNAME`.
pub const BPF_CGROUP_UNIX_GETSOCKNAME: u32 = 53;
/// `BPF_NETKIT_PRIMARY`.
pub const BPF_NETKIT_PRIMARY: u32 = 54;
/// `BPF_NETKIT_PEER`.
pub const BPF_NETKIT_PEER: u32 = 55;
/// `BPF_TRACE_KPROBE_SESSION`.
pub const BPF_TRACE_KPROBE_SESSION: u32 = 56;
/// Number of values of `enum bpf_attach_type` known to Linux 6.12.
pub const MAX_BPF_ATTACH_TYPE: u32 = 57;

// Instruction encoding.
/// Instruction classes (`code & 0x07`).
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ST: u8 = 0x02;
pub const BPF_STX: u8 = 0x03;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_JMP32: u8 = 0x06;
pub const BPF_ALU64: u8 = 0x07;
/// Size and mode bits.
pub const BPF_W: u8 = 0x00;
pub const BPF_H: u8 = 0x08;
pub const BPF_B: u8 = 0x10;
pub const BPF_DW: u8 = 0x18;
pub const BPF_IMM: u8 = 0x00;
pub const BPF_ABS: u8 = 0x20;
pub const BPF_IND: u8 = 0x40;
pub const BPF_MEM: u8 = 0x60;
pub const BPF_MEMSX: u8 = 0x80;
pub const BPF_ATOMIC: u8 = 0xc0;
/// Source operand.
pub const BPF_K: u8 = 0x00;
pub const BPF_X: u8 = 0x08;
/// Jump and ALU operations used by the loader.
pub const BPF_JA: u8 = 0x00;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
pub const BPF_ADD: u8 = 0x00;
pub const BPF_MOV: u8 = 0xb0;

/// `BPF_LD | BPF_IMM | BPF_DW`: the two-slot 64-bit immediate load.
pub const LD_IMM64: u8 = BPF_LD | BPF_IMM | BPF_DW;
/// `BPF_JMP | BPF_CALL`.
pub const CALL: u8 = BPF_JMP | BPF_CALL;
/// `BPF_JMP | BPF_EXIT`.
pub const EXIT: u8 = BPF_JMP | BPF_EXIT;

/// `src_reg` of `ld_imm64`: what the immediate refers to.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
pub const BPF_PSEUDO_BTF_ID: u8 = 3;
pub const BPF_PSEUDO_FUNC: u8 = 4;
pub const BPF_PSEUDO_MAP_IDX: u8 = 5;
pub const BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;
/// `src_reg` of `call`.
pub const BPF_PSEUDO_CALL: u8 = 1;
pub const BPF_PSEUDO_KFUNC_CALL: u8 = 2;

/// Map flags (`map_flags`).
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
pub const BPF_F_RDONLY: u32 = 1 << 3;
pub const BPF_F_WRONLY: u32 = 1 << 4;
pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
pub const BPF_F_CLONE: u32 = 1 << 9;
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
pub const BPF_F_INNER_MAP: u32 = 1 << 12;
pub const BPF_F_LINK: u32 = 1 << 13;
pub const BPF_F_PATH_FD: u32 = 1 << 14;
/// `value_type_btf_obj_fd` names the BTF of a struct_ops map's value type.
pub const BPF_F_VTYPE_BTF_OBJ_FD: u32 = 1 << 15;

/// Program flags (`prog_flags`).
pub const BPF_F_STRICT_ALIGNMENT: u32 = 1 << 0;
pub const BPF_F_ANY_ALIGNMENT: u32 = 1 << 1;
pub const BPF_F_TEST_RND_HI32: u32 = 1 << 2;
pub const BPF_F_TEST_STATE_FREQ: u32 = 1 << 3;
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;
pub const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;
pub const BPF_F_XDP_DEV_BOUND_ONLY: u32 = 1 << 6;

/// `BPF_OBJ_NAME_LEN`: program and map names, including the NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;
/// `BPF_TAG_SIZE`.
pub const BPF_TAG_SIZE: usize = 8;
/// Size of `struct bpf_func_info` and `struct bpf_line_info`.
pub const FUNC_INFO_REC_SIZE: u32 = 8;
pub const LINE_INFO_REC_SIZE: u32 = 16;
/// `BPF_ANY` update flag.
pub const BPF_ANY: u64 = 0;

/// `BPF_MAP_CREATE` attributes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; BPF_OBJ_NAME_LEN],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
    pub value_type_btf_obj_fd: i32,
    pub map_token_fd: i32,
}

/// `BPF_MAP_UPDATE_ELEM` (and lookup/delete) attributes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapElemAttr {
    pub map_fd: u32,
    pub _pad: u32,
    pub key: u64,
    pub value: u64,
    pub flags: u64,
}

/// `BPF_MAP_FREEZE` attributes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapFreezeAttr {
    pub map_fd: u32,
}

/// `BPF_BTF_LOAD` attributes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    pub btf_log_true_size: u32,
    pub btf_flags: u32,
    pub btf_token_fd: i32,
}

/// `BPF_PROG_LOAD` attributes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; BPF_OBJ_NAME_LEN],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` or `attach_btf_obj_fd`.
    pub attach_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    pub log_true_size: u32,
    pub prog_token_fd: i32,
    pub _pad: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    // Offsets checked against Linux 6.12's union bpf_attr (pahole of the built kernel).
    #[test]
    fn attr_layouts_match_linux_6_12() {
        assert_eq!(offset_of!(MapCreateAttr, map_name), 28);
        assert_eq!(offset_of!(MapCreateAttr, map_extra), 64);
        assert_eq!(size_of::<MapCreateAttr>(), 80);
        assert_eq!(offset_of!(MapElemAttr, value), 16);
        assert_eq!(size_of::<MapElemAttr>(), 32);
        assert_eq!(size_of::<BtfLoadAttr>(), 40);
        assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(offset_of!(ProgLoadAttr, func_info), 80);
        assert_eq!(offset_of!(ProgLoadAttr, line_info), 96);
        assert_eq!(offset_of!(ProgLoadAttr, attach_btf_id), 108);
        assert_eq!(offset_of!(ProgLoadAttr, fd_array), 120);
        assert_eq!(offset_of!(ProgLoadAttr, core_relos), 128);
        assert_eq!(offset_of!(ProgLoadAttr, log_true_size), 140);
        assert_eq!(size_of::<ProgLoadAttr>(), 152);
    }
}
