// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Program section names (libbpf's `SEC()` conventions) and what they mean for loading.
//!
//! A BPF object says what each program is only through the name of its ELF section:
//! `SEC("fentry/do_unlinkat")` is a `BPF_PROG_TYPE_TRACING` program with expected attach
//! type `BPF_TRACE_FENTRY` whose `attach_btf_id` is the kernel function `do_unlinkat`.
//! This module reproduces Linux 6.12's libbpf (`tools/lib/bpf/libbpf.c`): the
//! `section_defs[]` table, its matching rules (`sec_def_matches`, first match in table
//! order wins), and what `libbpf_prepare_prog_load` derives from the entry at load time
//! (`prog_flags`, the USDT attach type, the BTF attach target).
//!
//! Model:
//! - [`split_autoload`] removes libbpf's leading `?` (program not loaded by default);
//!   [`classify`] expects the name without it, as libbpf's `find_sec_def` does.
//! - [`SECTION_DEFS`] is the table, in libbpf's order. An entry matches in one of three
//!   [`SecForm`]s: the exact name, the name optionally followed by `/target` (libbpf's
//!   `"name+"`), or the name always followed by `/` (libbpf's `"name/"`, unused in 6.12).
//!   Anything else does not match: `xdp_foo`, `xdp/foo` and `tc/foo` are unknown.
//! - [`ProgSpec`] is what the object layer needs: the `BPF_PROG_LOAD` values and where the
//!   attach target comes from ([`BtfSource`]). Kernel BTF targets are parsed into a
//!   [`BtfTarget`] (optional `module:` part, the name prefix and BTF kind libbpf looks up).
//!
//! Invariants: everything returned borrows from the input name or is `'static`; nothing
//! allocates, and every input string gives a value or an error, never a panic.
//!
//! Kernel feature assumptions (libbpf probes these; bpfld targets Linux 6.12): the kernel
//! accepts `expected_attach_type` (4.17+), so `SEC_EXP_ATTACH_OPT` never clears it; and it
//! has uprobe multi-links, so USDT programs load with `BPF_TRACE_UPROBE_MULTI`
//! ([`ProgSpec::table_attach_type`] holds the value for kernels without them).

use crate::error::{Ctx, Error, Kind, Result};
use crate::limits;
use crate::uapi::*;

/// `BTF_KIND_TYPEDEF` (`include/uapi/linux/btf.h`): raw tracepoints are found by their
/// `btf_trace_<name>` typedef.
const BTF_KIND_TYPEDEF: u32 = 8;
/// `BTF_KIND_FUNC`: every other kernel attach target is a function.
const BTF_KIND_FUNC: u32 = 12;

bitflags::bitflags! {
    /// libbpf's `enum sec_def_flags` (the `cookie` of a `section_defs[]` entry), same bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SecFlags: u32 {
        /// `SEC_EXP_ATTACH_OPT`: libbpf drops `expected_attach_type` on kernels that
        /// predate it (before 4.17); on 6.12 it is always passed.
        const EXP_ATTACH_OPT = 1;
        /// `SEC_ATTACHABLE`: legacy marker for `BPF_PROG_ATTACH` programs; libbpf uses it
        /// only in `libbpf_attach_type_by_name`.
        const ATTACHABLE = 2;
        /// `SEC_ATTACHABLE_OPT`: both of the above.
        const ATTACHABLE_OPT = 3;
        /// `SEC_ATTACH_BTF`: the program needs `attach_btf_id` (kernel or target-program BTF).
        const ATTACH_BTF = 4;
        /// `SEC_SLEEPABLE`: loaded with `BPF_F_SLEEPABLE`.
        const SLEEPABLE = 8;
        /// `SEC_XDP_FRAGS`: XDP program loaded with `BPF_F_XDP_HAS_FRAGS`.
        const XDP_FRAGS = 16;
        /// `SEC_USDT`: loaded with `BPF_TRACE_UPROBE_MULTI` where the kernel has it.
        const USDT = 32;
    }
}

/// How a [`SecDef`] name must be followed in a section name (libbpf's suffix syntax).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecForm {
    /// `"name"`: the section name is exactly `name`.
    Exact,
    /// `"name+"`: exactly `name`, or `name/` followed by a target (possibly empty).
    OptionalTarget,
    /// `"name/"`: `name/` followed by anything (possibly empty). No 6.12 entry uses it.
    RequiredSlash,
}

/// One entry of libbpf's `section_defs[]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecDef {
    /// The name without libbpf's `+` or `/` suffix, e.g. `"fentry"`, `"cgroup/connect4"`.
    pub prefix: &'static str,
    /// How the name must be followed.
    pub form: SecForm,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// The table's expected attach type (0 where libbpf leaves it unset).
    pub expected_attach_type: u32,
    /// The entry's `SEC_*` flags.
    pub flags: SecFlags,
}

impl SecDef {
    /// If `sec` matches this entry (`sec_def_matches`), the text after `prefix/`, if any.
    fn matches<'a>(&self, sec: &'a str) -> Option<Option<&'a str>> {
        match self.form {
            SecForm::Exact => (sec == self.prefix).then_some(None),
            SecForm::OptionalTarget => {
                let rest = sec.strip_prefix(self.prefix)?;
                if rest.is_empty() {
                    Some(None)
                } else {
                    rest.strip_prefix('/').map(Some)
                }
            }
            SecForm::RequiredSlash => sec.strip_prefix(self.prefix)?.strip_prefix('/').map(Some),
        }
    }
}

const fn def(
    prefix: &'static str,
    form: SecForm,
    prog_type: u32,
    expected_attach_type: u32,
    flags: SecFlags,
) -> SecDef {
    SecDef {
        prefix,
        form,
        prog_type,
        expected_attach_type,
        flags,
    }
}

use SecForm::{Exact as X, OptionalTarget as P};
const NONE: SecFlags = SecFlags::empty();
const ATT: SecFlags = SecFlags::ATTACHABLE;
const ATT_OPT: SecFlags = SecFlags::ATTACHABLE_OPT;
const BTF: SecFlags = SecFlags::ATTACH_BTF;
const BTF_S: SecFlags = SecFlags::ATTACH_BTF.union(SecFlags::SLEEPABLE);
const SLEEP: SecFlags = SecFlags::SLEEPABLE;
const FRAGS: SecFlags = SecFlags::XDP_FRAGS;

/// Linux 6.12 libbpf's `section_defs[]`, same entries in the same order (the order is
/// part of the semantics: the first matching entry wins).
#[rustfmt::skip]
pub static SECTION_DEFS: [SecDef; 101] = [
    def("socket", X, BPF_PROG_TYPE_SOCKET_FILTER, 0, NONE),
    def("sk_reuseport/migrate", X, BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, ATT),
    def("sk_reuseport", X, BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT, ATT),
    def("kprobe", P, BPF_PROG_TYPE_KPROBE, 0, NONE),
    def("uprobe", P, BPF_PROG_TYPE_KPROBE, 0, NONE),
    def("uprobe.s", P, BPF_PROG_TYPE_KPROBE, 0, SLEEP),
    def("kretprobe", P, BPF_PROG_TYPE_KPROBE, 0, NONE),
    def("uretprobe", P, BPF_PROG_TYPE_KPROBE, 0, NONE),
    def("uretprobe.s", P, BPF_PROG_TYPE_KPROBE, 0, SLEEP),
    def("kprobe.multi", P, BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, NONE),
    def("kretprobe.multi", P, BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, NONE),
    def("kprobe.session", P, BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_SESSION, NONE),
    def("uprobe.multi", P, BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, NONE),
    def("uretprobe.multi", P, BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, NONE),
    def("uprobe.multi.s", P, BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, SLEEP),
    def("uretprobe.multi.s", P, BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, SLEEP),
    def("ksyscall", P, BPF_PROG_TYPE_KPROBE, 0, NONE),
    def("kretsyscall", P, BPF_PROG_TYPE_KPROBE, 0, NONE),
    def("usdt", P, BPF_PROG_TYPE_KPROBE, 0, SecFlags::USDT),
    def("usdt.s", P, BPF_PROG_TYPE_KPROBE, 0, SecFlags::USDT.union(SLEEP)),
    def("tc/ingress", X, BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, NONE),
    def("tc/egress", X, BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_EGRESS, NONE),
    def("tcx/ingress", X, BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, NONE),
    def("tcx/egress", X, BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_EGRESS, NONE),
    def("tc", X, BPF_PROG_TYPE_SCHED_CLS, 0, NONE),
    def("classifier", X, BPF_PROG_TYPE_SCHED_CLS, 0, NONE),
    def("action", X, BPF_PROG_TYPE_SCHED_ACT, 0, NONE),
    def("netkit/primary", X, BPF_PROG_TYPE_SCHED_CLS, BPF_NETKIT_PRIMARY, NONE),
    def("netkit/peer", X, BPF_PROG_TYPE_SCHED_CLS, BPF_NETKIT_PEER, NONE),
    def("tracepoint", P, BPF_PROG_TYPE_TRACEPOINT, 0, NONE),
    def("tp", P, BPF_PROG_TYPE_TRACEPOINT, 0, NONE),
    def("raw_tracepoint", P, BPF_PROG_TYPE_RAW_TRACEPOINT, 0, NONE),
    def("raw_tp", P, BPF_PROG_TYPE_RAW_TRACEPOINT, 0, NONE),
    def("raw_tracepoint.w", P, BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, NONE),
    def("raw_tp.w", P, BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, NONE),
    def("tp_btf", P, BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, BTF),
    def("fentry", P, BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, BTF),
    def("fmod_ret", P, BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, BTF),
    def("fexit", P, BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, BTF),
    def("fentry.s", P, BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, BTF_S),
    def("fmod_ret.s", P, BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, BTF_S),
    def("fexit.s", P, BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, BTF_S),
    def("freplace", P, BPF_PROG_TYPE_EXT, 0, BTF),
    def("lsm", P, BPF_PROG_TYPE_LSM, BPF_LSM_MAC, BTF),
    def("lsm.s", P, BPF_PROG_TYPE_LSM, BPF_LSM_MAC, BTF_S),
    def("lsm_cgroup", P, BPF_PROG_TYPE_LSM, BPF_LSM_CGROUP, BTF),
    def("iter", P, BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, BTF),
    def("iter.s", P, BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, BTF_S),
    def("syscall", X, BPF_PROG_TYPE_SYSCALL, 0, SLEEP),
    def("xdp.frags/devmap", X, BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, FRAGS),
    def("xdp/devmap", X, BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, ATT),
    def("xdp.frags/cpumap", X, BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, FRAGS),
    def("xdp/cpumap", X, BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, ATT),
    def("xdp.frags", X, BPF_PROG_TYPE_XDP, BPF_XDP, FRAGS),
    def("xdp", X, BPF_PROG_TYPE_XDP, BPF_XDP, ATT_OPT),
    def("perf_event", X, BPF_PROG_TYPE_PERF_EVENT, 0, NONE),
    def("lwt_in", X, BPF_PROG_TYPE_LWT_IN, 0, NONE),
    def("lwt_out", X, BPF_PROG_TYPE_LWT_OUT, 0, NONE),
    def("lwt_xmit", X, BPF_PROG_TYPE_LWT_XMIT, 0, NONE),
    def("lwt_seg6local", X, BPF_PROG_TYPE_LWT_SEG6LOCAL, 0, NONE),
    def("sockops", X, BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS, ATT_OPT),
    def("sk_skb/stream_parser", X, BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_PARSER, ATT_OPT),
    def("sk_skb/stream_verdict", X, BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_VERDICT, ATT_OPT),
    def("sk_skb/verdict", X, BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_VERDICT, ATT_OPT),
    def("sk_skb", X, BPF_PROG_TYPE_SK_SKB, 0, NONE),
    def("sk_msg", X, BPF_PROG_TYPE_SK_MSG, BPF_SK_MSG_VERDICT, ATT_OPT),
    def("lirc_mode2", X, BPF_PROG_TYPE_LIRC_MODE2, BPF_LIRC_MODE2, ATT_OPT),
    def("flow_dissector", X, BPF_PROG_TYPE_FLOW_DISSECTOR, BPF_FLOW_DISSECTOR, ATT_OPT),
    def("cgroup_skb/ingress", X, BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS, ATT_OPT),
    def("cgroup_skb/egress", X, BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, ATT_OPT),
    def("cgroup/skb", X, BPF_PROG_TYPE_CGROUP_SKB, 0, NONE),
    def("cgroup/sock_create", X, BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, ATT),
    def("cgroup/sock_release", X, BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE, ATT),
    def("cgroup/sock", X, BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, ATT_OPT),
    def("cgroup/post_bind4", X, BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND, ATT),
    def("cgroup/post_bind6", X, BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET6_POST_BIND, ATT),
    def("cgroup/bind4", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_BIND, ATT),
    def("cgroup/bind6", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_BIND, ATT),
    def("cgroup/connect4", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, ATT),
    def("cgroup/connect6", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT, ATT),
    def("cgroup/connect_unix", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_CONNECT, ATT),
    def("cgroup/sendmsg4", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG, ATT),
    def("cgroup/sendmsg6", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG, ATT),
    def("cgroup/sendmsg_unix", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_SENDMSG, ATT),
    def("cgroup/recvmsg4", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG, ATT),
    def("cgroup/recvmsg6", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_RECVMSG, ATT),
    def("cgroup/recvmsg_unix", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_RECVMSG, ATT),
    def("cgroup/getpeername4", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETPEERNAME, ATT),
    def("cgroup/getpeername6", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETPEERNAME, ATT),
    def("cgroup/getpeername_unix", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_GETPEERNAME, ATT),
    def("cgroup/getsockname4", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETSOCKNAME, ATT),
    def("cgroup/getsockname6", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETSOCKNAME, ATT),
    def("cgroup/getsockname_unix", X, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_GETSOCKNAME, ATT),
    def("cgroup/sysctl", X, BPF_PROG_TYPE_CGROUP_SYSCTL, BPF_CGROUP_SYSCTL, ATT),
    def("cgroup/getsockopt", X, BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_GETSOCKOPT, ATT),
    def("cgroup/setsockopt", X, BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT, ATT),
    def("cgroup/dev", X, BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, ATT_OPT),
    def("struct_ops", P, BPF_PROG_TYPE_STRUCT_OPS, 0, NONE),
    def("struct_ops.s", P, BPF_PROG_TYPE_STRUCT_OPS, 0, SLEEP),
    def("sk_lookup", X, BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, ATT),
    def("netfilter", X, BPF_PROG_TYPE_NETFILTER, BPF_NETFILTER, NONE),
];

/// Where a program's `attach_btf_id` (and `attach_btf_obj_fd`/`attach_prog_fd`) come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BtfSource {
    /// The program loads without a BTF attach target.
    None,
    /// Kernel BTF (vmlinux, or a module's), looked up as [`ProgSpec::btf_target`] says.
    Kernel,
    /// `freplace`: the BTF of a target BPF program the caller names (libbpf's
    /// `attach_prog_fd`); the function is [`ProgSpec::btf_target`] if the section names
    /// it, else the caller must say which. Nothing in the object identifies the program.
    TargetProg,
    /// `struct_ops`: the struct_ops map that references the program gives
    /// `attach_btf_id` (the kernel struct type) and `expected_attach_type` (the member
    /// index); the section's target text is only a label. Unreferenced programs cannot load.
    StructOpsMap,
}

/// A BTF attach target named by the section, e.g. `fentry/bpf_testmod:bpf_testmod_test_read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfTarget<'a> {
    /// The part before the first `:`, if any (libbpf's `module:name` syntax; kernel
    /// targets only). Matched as a prefix, see [`BtfTarget::searches_module`].
    pub module: Option<&'a str>,
    /// The name after `module:` (or the whole target), never empty.
    pub name: &'a str,
    /// Prefix libbpf puts before `name` for the lookup: `"btf_trace_"` (raw tracepoints),
    /// `"bpf_lsm_"` (LSM hooks), `"bpf_iter_"` (iterators), `""` otherwise.
    pub prefix: &'static str,
    /// BTF kind of the looked-up type: `BTF_KIND_TYPEDEF` (8) for raw tracepoints,
    /// `BTF_KIND_FUNC` (12) otherwise.
    pub kind: u32,
}

impl BtfTarget<'_> {
    /// Whether `type_name` is the BTF name looked up (`prefix` followed by `name`).
    pub fn full_name_is(&self, type_name: &str) -> bool {
        type_name.strip_prefix(self.prefix) == Some(self.name)
    }

    /// Whether libbpf searches vmlinux BTF first: no module given, or the module text is
    /// a prefix of `"vmlinux"` (libbpf compares with `strncmp(mod, "vmlinux", mod_len)`,
    /// so `vmlinux:f`, `vm:f` and `:f` all qualify).
    pub fn searches_vmlinux(&self) -> bool {
        self.module.is_none_or(|m| "vmlinux".starts_with(m))
    }

    /// Whether libbpf searches the BTF of the kernel module `module_name` (after vmlinux,
    /// in load order, first hit wins): no module given, or `module_name` starts with the
    /// module text (libbpf's `strncmp(mod->name, mod, mod_len)`).
    pub fn searches_module(&self, module_name: &str) -> bool {
        self.module.is_none_or(|m| module_name.starts_with(m))
    }
}

/// What a section name says about its program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgSpec<'a> {
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// `expected_attach_type` as libbpf passes it in `BPF_PROG_LOAD` on Linux 6.12.
    /// For `struct_ops` the object layer replaces it with the member index.
    pub expected_attach_type: u32,
    /// The table's attach type (what `libbpf_prog_type_by_name` reports). Differs from
    /// `expected_attach_type` only for `usdt`: use it on kernels without uprobe multi-links.
    pub table_attach_type: u32,
    /// `BPF_F_SLEEPABLE` and `BPF_F_XDP_HAS_FRAGS`, as libbpf sets them from the entry.
    pub prog_flags: u32,
    /// The entry's `SEC_*` flags.
    pub flags: SecFlags,
    /// The matched entry's name, e.g. `"fentry"` or `"cgroup/connect4"`.
    pub prefix: &'static str,
    /// The text after `prefix/` (function, tracepoint, uprobe spec...), if any; may be
    /// empty (`"kprobe/"`). Used at attach time, except as parsed into `btf_target`.
    pub target: Option<&'a str>,
    /// Where the BTF attach target comes from.
    pub btf_source: BtfSource,
    /// The BTF attach target named by the section, when it names one (a bare `"fentry"`
    /// or `"freplace"` takes its target from the caller, as libbpf's
    /// `bpf_program__set_attach_target`).
    pub btf_target: Option<BtfTarget<'a>>,
}

/// Split libbpf's leading `?` (program not auto-loaded) off a section name: returns
/// `(autoload, rest)`. Only one `?` is removed, as libbpf does; `??x` leaves `?x`, which
/// matches no entry.
pub fn split_autoload(sec: &str) -> (bool, &str) {
    match sec.strip_prefix('?') {
        Some(rest) => (false, rest),
        None => (true, sec),
    }
}

/// The first [`SECTION_DEFS`] entry matching `sec` (libbpf's `find_sec_def`, without
/// custom handlers) and the text after `prefix/`, if any. `sec` must not start with `?`.
pub fn find_sec_def(sec: &str) -> Option<(&'static SecDef, Option<&str>)> {
    SECTION_DEFS
        .iter()
        .find_map(|d| d.matches(sec).map(|target| (d, target)))
}

/// libbpf's `btf_get_kernel_prefix_kind`: the name prefix and BTF kind libbpf looks up in
/// kernel BTF for a program of this expected attach type.
pub fn btf_prefix_kind(expected_attach_type: u32) -> (&'static str, u32) {
    match expected_attach_type {
        BPF_TRACE_RAW_TP => ("btf_trace_", BTF_KIND_TYPEDEF),
        BPF_LSM_MAC | BPF_LSM_CGROUP => ("bpf_lsm_", BTF_KIND_FUNC),
        BPF_TRACE_ITER => ("bpf_iter_", BTF_KIND_FUNC),
        _ => ("", BTF_KIND_FUNC),
    }
}

/// What the section name `sec` (without its `?`, see [`split_autoload`]) says about its
/// program, with libbpf 6.12's semantics.
///
/// Errors (each with the section as context): an empty name; a name matching no entry
/// (libbpf loads such a program only after `bpf_program__set_type()`, which bpfld does
/// not offer); a kernel-BTF program (`fentry`, `tp_btf`, `lsm`, `iter`, ...) without a
/// non-empty target name, or whose looked-up name exceeds libbpf's buffer (libbpf fails
/// at load time for these unless `bpf_program__set_attach_target()` was called).
pub fn classify(sec: &str) -> Result<'_, ProgSpec<'_>> {
    classify_inner(sec, true).map_err(|e| e.ctx(Ctx::Section(sec)))
}

/// [`classify`] for a program whose attach target the caller gives (libbpf's
/// `bpf_program__set_attach_target()`): the name after the section's prefix is not
/// read, so an empty or over-long one (`SEC("freplace/")`) does not matter, as it does
/// not in libbpf, which then never looks at it.
pub fn classify_with_caller_target(sec: &str) -> Result<'_, ProgSpec<'_>> {
    classify_inner(sec, false).map_err(|e| e.ctx(Ctx::Section(sec)))
}

fn classify_inner(sec: &str, read_target: bool) -> Result<'_, ProgSpec<'_>> {
    if sec.is_empty() {
        return Err(Error::malformed("empty section name"));
    }
    let (d, target) =
        find_sec_def(sec).ok_or(Error::new(Kind::NotFound("program type for section")))?;

    let mut prog_flags = 0;
    if d.flags.contains(SecFlags::SLEEPABLE) {
        prog_flags |= BPF_F_SLEEPABLE;
    }
    if d.prog_type == BPF_PROG_TYPE_XDP && d.flags.contains(SecFlags::XDP_FRAGS) {
        prog_flags |= BPF_F_XDP_HAS_FRAGS;
    }
    let expected_attach_type = if d.flags.contains(SecFlags::USDT) {
        BPF_TRACE_UPROBE_MULTI
    } else {
        d.expected_attach_type
    };

    let (btf_source, btf_target) = if d.prog_type == BPF_PROG_TYPE_STRUCT_OPS {
        (BtfSource::StructOpsMap, None)
    } else if !d.flags.contains(SecFlags::ATTACH_BTF) {
        (BtfSource::None, None)
    } else if d.prog_type == BPF_PROG_TYPE_EXT {
        // libbpf looks the whole text up in the target program's BTF: no module syntax,
        // no prefix, no length bound.
        let t = match target {
            _ if !read_target => None,
            None => None,
            Some("") => return Err(Error::malformed("empty BTF attach target name")),
            Some(name) => Some(BtfTarget {
                module: None,
                name,
                prefix: "",
                kind: BTF_KIND_FUNC,
            }),
        };
        (BtfSource::TargetProg, t)
    } else {
        // A bare "fentry" is libbpf's too: its target must then come from the caller
        // (bpf_program__set_attach_target), or the plan refuses the program.
        let t = match target {
            Some(t) if read_target => Some(kernel_target(t, d.expected_attach_type)?),
            _ => None,
        };
        (BtfSource::Kernel, t)
    };

    Ok(ProgSpec {
        prog_type: d.prog_type,
        expected_attach_type,
        table_attach_type: d.expected_attach_type,
        prog_flags,
        flags: d.flags,
        prefix: d.prefix,
        target,
        btf_source,
        btf_target,
    })
}

/// Parse a kernel BTF target (`name` or `module:name`) as libbpf's `find_kernel_btf_id`.
fn kernel_target(text: &str, attach_type: u32) -> Result<'_, BtfTarget<'_>> {
    let (module, name) = match text.split_once(':') {
        Some((m, n)) => (Some(m), n),
        None => (None, text),
    };
    if name.is_empty() {
        return Err(Error::malformed("empty BTF attach target name"));
    }
    let (prefix, kind) = btf_prefix_kind(attach_type);
    let len = prefix.len().saturating_add(name.len());
    if len > limits::MAX_ATTACH_BTF_NAME_LEN {
        return Err(Error::limit(
            "bytes in BTF attach target name",
            len,
            limits::MAX_ATTACH_BTF_NAME_LEN,
        ));
    }
    Ok(BtfTarget {
        module,
        name,
        prefix,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;
    use std::{eprintln, vec};

    const S: u32 = BPF_F_SLEEPABLE;
    const F: u32 = BPF_F_XDP_HAS_FRAGS;

    /// (section name, prog type, expected attach type, prog_flags, target), one or more
    /// per 6.12 table entry; values read from libbpf.c's section_defs[] and
    /// libbpf_prepare_prog_load().
    #[rustfmt::skip]
    const CASES: &[(&str, u32, u32, u32, Option<&str>)] = &[
        ("socket", BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, None),
        ("sk_reuseport/migrate", BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, 0, None),
        ("sk_reuseport", BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT, 0, None),
        ("kprobe", BPF_PROG_TYPE_KPROBE, 0, 0, None),
        ("kprobe/do_unlinkat", BPF_PROG_TYPE_KPROBE, 0, 0, Some("do_unlinkat")),
        ("kprobe/", BPF_PROG_TYPE_KPROBE, 0, 0, Some("")),
        ("kprobe/bpf_fentry_test1+0x10", BPF_PROG_TYPE_KPROBE, 0, 0, Some("bpf_fentry_test1+0x10")),
        ("uprobe//proc/self/exe:uprobe_func", BPF_PROG_TYPE_KPROBE, 0, 0, Some("/proc/self/exe:uprobe_func")),
        ("uprobe.s/libc.so.6:malloc", BPF_PROG_TYPE_KPROBE, 0, S, Some("libc.so.6:malloc")),
        ("kretprobe/do_unlinkat", BPF_PROG_TYPE_KPROBE, 0, 0, Some("do_unlinkat")),
        ("uretprobe", BPF_PROG_TYPE_KPROBE, 0, 0, None),
        ("uretprobe.s", BPF_PROG_TYPE_KPROBE, 0, S, None),
        ("kprobe.multi/bpf_fentry_test*", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, 0, Some("bpf_fentry_test*")),
        ("kretprobe.multi", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, 0, None),
        ("kprobe.session/bpf_fentry_test?", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_SESSION, 0, Some("bpf_fentry_test?")),
        ("uprobe.multi//bin/true:main", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, 0, Some("/bin/true:main")),
        ("uretprobe.multi", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, 0, None),
        ("uprobe.multi.s/x:y", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, S, Some("x:y")),
        ("uretprobe.multi.s", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, S, None),
        ("ksyscall/nanosleep", BPF_PROG_TYPE_KPROBE, 0, 0, Some("nanosleep")),
        ("kretsyscall/nanosleep", BPF_PROG_TYPE_KPROBE, 0, 0, Some("nanosleep")),
        ("usdt/./urandom_read:urand:read_without_sema", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, 0,
            Some("./urandom_read:urand:read_without_sema")),
        ("usdt", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, 0, None),
        ("usdt.s/x:p:n", BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, S, Some("x:p:n")),
        ("tc/ingress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, 0, None),
        ("tc/egress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_EGRESS, 0, None),
        ("tcx/ingress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, 0, None),
        ("tcx/egress", BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_EGRESS, 0, None),
        ("tc", BPF_PROG_TYPE_SCHED_CLS, 0, 0, None),
        ("classifier", BPF_PROG_TYPE_SCHED_CLS, 0, 0, None),
        ("action", BPF_PROG_TYPE_SCHED_ACT, 0, 0, None),
        ("netkit/primary", BPF_PROG_TYPE_SCHED_CLS, BPF_NETKIT_PRIMARY, 0, None),
        ("netkit/peer", BPF_PROG_TYPE_SCHED_CLS, BPF_NETKIT_PEER, 0, None),
        ("tracepoint/syscalls/sys_enter_nanosleep", BPF_PROG_TYPE_TRACEPOINT, 0, 0, Some("syscalls/sys_enter_nanosleep")),
        ("tp/sched/sched_switch", BPF_PROG_TYPE_TRACEPOINT, 0, 0, Some("sched/sched_switch")),
        ("tp", BPF_PROG_TYPE_TRACEPOINT, 0, 0, None),
        ("raw_tracepoint/sys_enter", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, Some("sys_enter")),
        ("raw_tp/sys_enter", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, Some("sys_enter")),
        ("raw_tracepoint.w/bpf_testmod_test_writable_bare", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, 0,
            Some("bpf_testmod_test_writable_bare")),
        ("raw_tp.w", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, 0, None),
        ("tp_btf/sched_switch", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, 0, Some("sched_switch")),
        ("fentry/bpf_fentry_test1", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, 0, Some("bpf_fentry_test1")),
        ("fmod_ret/bpf_modify_return_test", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, 0, Some("bpf_modify_return_test")),
        ("fexit/bpf_fentry_test1", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, 0, Some("bpf_fentry_test1")),
        ("fentry.s/__x64_sys_getpgid", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, S, Some("__x64_sys_getpgid")),
        ("fmod_ret.s/bpf_modify_return_test", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, S, Some("bpf_modify_return_test")),
        ("fexit.s/__x64_sys_getpgid", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, S, Some("__x64_sys_getpgid")),
        ("freplace/get_constant", BPF_PROG_TYPE_EXT, 0, 0, Some("get_constant")),
        ("freplace", BPF_PROG_TYPE_EXT, 0, 0, None),
        ("lsm/file_mprotect", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, 0, Some("file_mprotect")),
        ("lsm.s/bprm_committed_creds", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, S, Some("bprm_committed_creds")),
        ("lsm_cgroup/socket_bind", BPF_PROG_TYPE_LSM, BPF_LSM_CGROUP, 0, Some("socket_bind")),
        ("iter/task", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, 0, Some("task")),
        ("iter.s/cgroup", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, S, Some("cgroup")),
        ("syscall", BPF_PROG_TYPE_SYSCALL, 0, S, None),
        ("xdp.frags/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, F, None),
        ("xdp/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, 0, None),
        ("xdp.frags/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, F, None),
        ("xdp/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, 0, None),
        ("xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP, F, None),
        ("xdp", BPF_PROG_TYPE_XDP, BPF_XDP, 0, None),
        ("perf_event", BPF_PROG_TYPE_PERF_EVENT, 0, 0, None),
        ("lwt_in", BPF_PROG_TYPE_LWT_IN, 0, 0, None),
        ("lwt_out", BPF_PROG_TYPE_LWT_OUT, 0, 0, None),
        ("lwt_xmit", BPF_PROG_TYPE_LWT_XMIT, 0, 0, None),
        ("lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL, 0, 0, None),
        ("sockops", BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS, 0, None),
        ("sk_skb/stream_parser", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_PARSER, 0, None),
        ("sk_skb/stream_verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_VERDICT, 0, None),
        ("sk_skb/verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_VERDICT, 0, None),
        ("sk_skb", BPF_PROG_TYPE_SK_SKB, 0, 0, None),
        ("sk_msg", BPF_PROG_TYPE_SK_MSG, BPF_SK_MSG_VERDICT, 0, None),
        ("lirc_mode2", BPF_PROG_TYPE_LIRC_MODE2, BPF_LIRC_MODE2, 0, None),
        ("flow_dissector", BPF_PROG_TYPE_FLOW_DISSECTOR, BPF_FLOW_DISSECTOR, 0, None),
        ("cgroup_skb/ingress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS, 0, None),
        ("cgroup_skb/egress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, 0, None),
        ("cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB, 0, 0, None),
        ("cgroup/sock_create", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, 0, None),
        ("cgroup/sock_release", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE, 0, None),
        ("cgroup/sock", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, 0, None),
        ("cgroup/post_bind4", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND, 0, None),
        ("cgroup/post_bind6", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET6_POST_BIND, 0, None),
        ("cgroup/bind4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_BIND, 0, None),
        ("cgroup/bind6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_BIND, 0, None),
        ("cgroup/connect4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, 0, None),
        ("cgroup/connect6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT, 0, None),
        ("cgroup/connect_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_CONNECT, 0, None),
        ("cgroup/sendmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG, 0, None),
        ("cgroup/sendmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG, 0, None),
        ("cgroup/sendmsg_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_SENDMSG, 0, None),
        ("cgroup/recvmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG, 0, None),
        ("cgroup/recvmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_RECVMSG, 0, None),
        ("cgroup/recvmsg_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_RECVMSG, 0, None),
        ("cgroup/getpeername4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETPEERNAME, 0, None),
        ("cgroup/getpeername6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETPEERNAME, 0, None),
        ("cgroup/getpeername_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_GETPEERNAME, 0, None),
        ("cgroup/getsockname4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETSOCKNAME, 0, None),
        ("cgroup/getsockname6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETSOCKNAME, 0, None),
        ("cgroup/getsockname_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UNIX_GETSOCKNAME, 0, None),
        ("cgroup/sysctl", BPF_PROG_TYPE_CGROUP_SYSCTL, BPF_CGROUP_SYSCTL, 0, None),
        ("cgroup/getsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_GETSOCKOPT, 0, None),
        ("cgroup/setsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT, 0, None),
        ("cgroup/dev", BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, 0, None),
        ("struct_ops/test_1", BPF_PROG_TYPE_STRUCT_OPS, 0, 0, Some("test_1")),
        ("struct_ops", BPF_PROG_TYPE_STRUCT_OPS, 0, 0, None),
        ("struct_ops.s/test_2", BPF_PROG_TYPE_STRUCT_OPS, 0, S, Some("test_2")),
        ("sk_lookup", BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 0, None),
        ("netfilter", BPF_PROG_TYPE_NETFILTER, BPF_NETFILTER, 0, None),
    ];

    #[test]
    fn every_entry_classifies_as_libbpf() {
        let mut seen = std::collections::HashSet::new();
        for &(name, pt, eat, pf, target) in CASES {
            let s = classify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (s.prog_type, s.expected_attach_type, s.prog_flags, s.target),
                (pt, eat, pf, target),
                "{name}"
            );
            seen.insert(s.prefix);
        }
        for d in SECTION_DEFS.iter() {
            assert!(seen.contains(d.prefix), "no case for entry {}", d.prefix);
        }
        assert_eq!(seen.len(), SECTION_DEFS.len());
    }

    #[test]
    fn btf_targets() {
        let t = |sec| classify(sec).unwrap().btf_target.unwrap();
        let s = classify("fentry/bpf_fentry_test1").unwrap();
        assert_eq!(s.btf_source, BtfSource::Kernel);
        assert_eq!(
            s.btf_target,
            Some(BtfTarget {
                module: None,
                name: "bpf_fentry_test1",
                prefix: "",
                kind: BTF_KIND_FUNC
            })
        );
        assert_eq!(
            t("tp_btf/sched_switch"),
            BtfTarget {
                module: None,
                name: "sched_switch",
                prefix: "btf_trace_",
                kind: BTF_KIND_TYPEDEF
            }
        );
        assert!(t("tp_btf/sched_switch").full_name_is("btf_trace_sched_switch"));
        assert!(!t("tp_btf/sched_switch").full_name_is("sched_switch"));
        assert_eq!(t("lsm/file_open").prefix, "bpf_lsm_");
        assert_eq!(t("lsm.s/file_open").prefix, "bpf_lsm_");
        assert_eq!(t("lsm_cgroup/socket_bind").prefix, "bpf_lsm_");
        assert_eq!(t("iter/task").prefix, "bpf_iter_");
        assert_eq!(t("iter.s/task").kind, BTF_KIND_FUNC);
        assert_eq!(t("fmod_ret.s/x").prefix, "");

        // module:name, split at the first ':'.
        let m = t("fentry/bpf_testmod:bpf_testmod_fentry_test1");
        assert_eq!(m.module, Some("bpf_testmod"));
        assert_eq!(m.name, "bpf_testmod_fentry_test1");
        assert!(!m.searches_vmlinux());
        assert!(m.searches_module("bpf_testmod"));
        // libbpf's strncmp(mod->name, mod, mod_len): a prefix match.
        assert!(m.searches_module("bpf_testmod_extra"));
        assert!(!m.searches_module("bpf_test"));
        assert_eq!(t("fexit/a:b:c").module, Some("a"));
        assert_eq!(t("fexit/a:b:c").name, "b:c");
        assert!(t("fentry/vmlinux:f").searches_vmlinux());
        assert!(t("fentry/vm:f").searches_vmlinux());
        assert!(t("fentry/:f").searches_vmlinux());
        assert!(t("fentry/:f").searches_module("anything"));
        assert!(!t("fentry/vmlinux2:f").searches_vmlinux());
        assert!(t("fentry/f").searches_vmlinux());
        assert!(t("fentry/f").searches_module("m"));
        assert_eq!(
            t("tp_btf/bpf_testmod:bpf_testmod_test_read").prefix,
            "btf_trace_"
        );

        // freplace: the target program's BTF, whole text, no module syntax.
        let f = classify("freplace/mod:func").unwrap();
        assert_eq!(f.btf_source, BtfSource::TargetProg);
        assert_eq!(
            f.btf_target,
            Some(BtfTarget {
                module: None,
                name: "mod:func",
                prefix: "",
                kind: BTF_KIND_FUNC
            })
        );
        let f = classify("freplace").unwrap();
        assert_eq!((f.btf_source, f.btf_target), (BtfSource::TargetProg, None));

        // struct_ops: the map decides; the text is a label.
        let so = classify("struct_ops.s/test_2").unwrap();
        assert_eq!(
            (so.btf_source, so.btf_target),
            (BtfSource::StructOpsMap, None)
        );

        // No BTF target for the rest.
        for sec in [
            "kprobe/f",
            "raw_tp/sys_enter",
            "xdp",
            "usdt/a:b:c",
            "socket",
        ] {
            let s = classify(sec).unwrap();
            assert_eq!(
                (s.btf_source, s.btf_target),
                (BtfSource::None, None),
                "{sec}"
            );
        }
    }

    #[test]
    fn usdt_attach_type_and_flags() {
        let u = classify("usdt.s/p:q:r").unwrap();
        assert_eq!(u.expected_attach_type, BPF_TRACE_UPROBE_MULTI);
        assert_eq!(u.table_attach_type, 0);
        assert_eq!(u.flags, SecFlags::USDT | SecFlags::SLEEPABLE);
        let x = classify("xdp").unwrap();
        assert_eq!(x.flags, SecFlags::ATTACHABLE | SecFlags::EXP_ATTACH_OPT);
        assert_eq!(x.table_attach_type, x.expected_attach_type);
        let f = classify("fentry.s/f").unwrap();
        assert_eq!(f.flags, SecFlags::ATTACH_BTF | SecFlags::SLEEPABLE);
        assert_eq!(f.prefix, "fentry.s");
    }

    #[test]
    fn autoload_marker() {
        assert_eq!(split_autoload("?xdp"), (false, "xdp"));
        assert_eq!(split_autoload("xdp"), (true, "xdp"));
        assert_eq!(split_autoload("??xdp"), (false, "?xdp"));
        assert_eq!(split_autoload("?"), (false, ""));
        assert_eq!(split_autoload(""), (true, ""));
        assert_eq!(split_autoload("x?dp"), (true, "x?dp"));
        // classify wants the name without '?', like find_sec_def.
        assert_eq!(
            classify("?xdp").unwrap_err().kind(),
            Kind::NotFound("program type for section")
        );
        let (auto, rest) = split_autoload("?fentry/f");
        assert!(!auto);
        assert_eq!(classify(rest).unwrap().prefix, "fentry");
        let (_, rest) = split_autoload("??xdp");
        assert!(classify(rest).is_err());
    }

    #[test]
    fn unknown_names() {
        let nf = Kind::NotFound("program type for section");
        for sec in [
            "xdp_foo",
            "xdp/foo",
            "xdp.frags/foo",
            "xdp/",
            "xdp.frag",
            "xdpx",
            "XDP",
            " xdp",
            "xdp ",
            "tc/foo",
            "tcx",
            "tcx/",
            "tcx/ingress/x",
            "netkit",
            "kprobex",
            "kprobe.",
            "kprobe.x/f",
            "kprobe.multix",
            "kprobe_multi/f",
            "fentryx/f",
            "fentry.x/f",
            "sk_skb/foo",
            "sk_skb/",
            "sk_reuseport/",
            "sk_reuseport/migratex",
            "cgroup/bind4/x",
            "cgroup",
            "cgroup/",
            "cgroup_skb",
            "cgroup/connect",
            "socket/x",
            "socket1",
            "syscall/x",
            "struct_opsx",
            "lsmx/f",
            "lsm_cgroupx/f",
            "iterx/task",
            ".text",
            "license",
            ".maps",
            "/",
            "?",
            "+",
            "kprobe+",
            "usdt+/x",
        ] {
            let e = classify(sec).unwrap_err();
            assert_eq!(e.kind(), nf, "{sec}");
            assert_eq!(
                format!("{e}"),
                format!("section '{sec}': program type for section not found")
            );
            assert_eq!(find_sec_def(sec), None, "{sec}");
        }
        let e = classify("").unwrap_err();
        assert_eq!(e.kind(), Kind::Malformed("empty section name"));
    }

    #[test]
    fn missing_or_bad_btf_targets() {
        // Named by the caller's target program, or refused by the plan.
        for sec in [
            "fentry",
            "fexit",
            "fmod_ret",
            "fentry.s",
            "fexit.s",
            "fmod_ret.s",
            "tp_btf",
            "lsm",
            "lsm.s",
            "lsm_cgroup",
            "iter",
            "iter.s",
        ] {
            let s = classify(sec).unwrap();
            assert_eq!(
                (s.btf_source, s.btf_target),
                (BtfSource::Kernel, None),
                "{sec}"
            );
            // libbpf_prog_type_by_name knows the type.
            assert!(find_sec_def(sec).is_some());
        }
        for sec in ["fentry/", "tp_btf/", "lsm/mod:", "iter/:", "freplace/"] {
            let e = classify(sec).unwrap_err();
            assert_eq!(
                e.kind(),
                Kind::Malformed("empty BTF attach target name"),
                "{sec}"
            );
        }
        // "btf_trace_" + name must fit libbpf's 128-byte buffer with its NUL.
        let ok = format!(
            "tp_btf/{}",
            "a".repeat(limits::MAX_ATTACH_BTF_NAME_LEN - 10)
        );
        assert!(classify(&ok).is_ok());
        let long = format!("tp_btf/{}", "a".repeat(limits::MAX_ATTACH_BTF_NAME_LEN - 9));
        assert_eq!(
            classify(&long).unwrap_err().kind(),
            Kind::Limit {
                what: "bytes in BTF attach target name",
                value: 128,
                max: 127
            }
        );
        let ok = format!("fentry/m:{}", "a".repeat(limits::MAX_ATTACH_BTF_NAME_LEN));
        assert!(classify(&ok).is_ok());
        let long = format!("fentry/{}", "a".repeat(limits::MAX_ATTACH_BTF_NAME_LEN + 1));
        assert!(classify(&long).is_err());
        // freplace names are looked up in program BTF, where libbpf has no such bound.
        let f = format!("freplace/{}", "a".repeat(300));
        assert!(classify(&f).is_ok());
        // Kernel-side targets of other programs are attach-time text: any length, empty ok.
        assert_eq!(classify("kprobe/").unwrap().target, Some(""));
        assert_eq!(classify("struct_ops/").unwrap().target, Some(""));
    }

    #[test]
    fn prefix_kind_table() {
        assert_eq!(
            btf_prefix_kind(BPF_TRACE_RAW_TP),
            ("btf_trace_", BTF_KIND_TYPEDEF)
        );
        assert_eq!(btf_prefix_kind(BPF_LSM_MAC), ("bpf_lsm_", BTF_KIND_FUNC));
        assert_eq!(btf_prefix_kind(BPF_LSM_CGROUP), ("bpf_lsm_", BTF_KIND_FUNC));
        assert_eq!(
            btf_prefix_kind(BPF_TRACE_ITER),
            ("bpf_iter_", BTF_KIND_FUNC)
        );
        assert_eq!(btf_prefix_kind(BPF_TRACE_FENTRY), ("", BTF_KIND_FUNC));
        assert_eq!(btf_prefix_kind(BPF_MODIFY_RETURN), ("", BTF_KIND_FUNC));
        assert_eq!(btf_prefix_kind(u32::MAX), ("", BTF_KIND_FUNC));
    }

    #[test]
    fn required_slash_form() {
        // Not used by 6.12's table, but libbpf's matcher supports it: "name/" + anything.
        let d = def("foo", SecForm::RequiredSlash, 1, 2, NONE);
        assert_eq!(d.matches("foo"), None);
        assert_eq!(d.matches("foo/"), Some(Some("")));
        assert_eq!(d.matches("foo/bar"), Some(Some("bar")));
        assert_eq!(d.matches("foox/bar"), None);
    }

    #[test]
    fn arbitrary_input_never_panics() {
        // Cheap deterministic fuzz over bytes drawn from the table's alphabet.
        let alphabet: Vec<char> = "/?:+.-_ axdpfentrykobecsglum4s\u{e9}\0".chars().collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut s = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            for i in 0..len {
                let r = x.rotate_left(i as u32 * 5);
                s.push(alphabet[(r % alphabet.len() as u64) as usize]);
            }
            let (_, rest) = split_autoload(&s);
            let _ = classify(rest);
        }
    }

    // ---- Drift check against the extracted Linux 6.12 tree. ----

    /// Values of a C enum whose members are implicit or `= <decimal>`.
    fn parse_enum(src: &str, header: &str) -> HashMap<String, u32> {
        let start = src
            .find(header)
            .unwrap_or_else(|| panic!("{header} not found"));
        let body = &src[start + header.len()..];
        let body = &body[..body.find("};").unwrap()];
        let mut out = HashMap::new();
        let mut next = 0u32;
        for line in body.lines() {
            let line = line.split("/*").next().unwrap().trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('*') {
                continue;
            }
            let item = line.trim_end_matches(',');
            let (name, val) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), v.trim().parse::<u32>().ok()),
                None => (item.trim(), Some(next)),
            };
            if let Some(v) = val {
                out.insert(name.to_string(), v);
                next = v + 1;
            }
        }
        out
    }

    struct CDef {
        spelling: String,
        prog_type: u32,
        attach_type: u32,
        flags: u32,
    }

    /// libbpf's `sec_def_matches`, written over its own spelling ("x", "x+", "x/").
    fn c_matches(spelling: &str, sec: &str) -> bool {
        if spelling.ends_with('/') {
            return sec.starts_with(spelling);
        }
        if let Some(p) = spelling.strip_suffix('+') {
            return match sec.strip_prefix(p) {
                Some(rest) => rest.is_empty() || rest.starts_with('/'),
                None => false,
            };
        }
        spelling == sec
    }

    fn parse_section_defs(libbpf: &str, uapi: &str) -> Vec<CDef> {
        let progs = parse_enum(uapi, "enum bpf_prog_type {");
        let attach = parse_enum(uapi, "enum bpf_attach_type {");
        let sec_flags = {
            // Values of enum sec_def_flags; composites ("A | B") are folded.
            let start = libbpf.find("enum sec_def_flags {").unwrap();
            let body = &libbpf[start..];
            let body = &body[..body.find("};").unwrap()];
            let mut m: HashMap<String, u32> = HashMap::new();
            for line in body.lines() {
                let line = line.trim();
                if let Some((n, v)) = line.trim_end_matches(',').split_once('=') {
                    let v: u32 = v
                        .split('|')
                        .map(|p| {
                            let p = p.trim();
                            p.parse::<u32>().unwrap_or_else(|_| m[p])
                        })
                        .fold(0, |a, b| a | b);
                    m.insert(n.trim().to_string(), v);
                }
            }
            m
        };
        // Our bits are libbpf's bits.
        for (name, ours) in [
            ("SEC_NONE", SecFlags::empty()),
            ("SEC_EXP_ATTACH_OPT", SecFlags::EXP_ATTACH_OPT),
            ("SEC_ATTACHABLE", SecFlags::ATTACHABLE),
            ("SEC_ATTACHABLE_OPT", SecFlags::ATTACHABLE_OPT),
            ("SEC_ATTACH_BTF", SecFlags::ATTACH_BTF),
            ("SEC_SLEEPABLE", SecFlags::SLEEPABLE),
            ("SEC_XDP_FRAGS", SecFlags::XDP_FRAGS),
            ("SEC_USDT", SecFlags::USDT),
        ] {
            assert_eq!(sec_flags[name], ours.bits(), "{name}");
        }
        assert_eq!(
            sec_flags.len(),
            8,
            "libbpf has new SEC_* flags: {sec_flags:?}"
        );

        let start = libbpf
            .find("static const struct bpf_sec_def section_defs[] = {")
            .expect("section_defs[] not found in libbpf.c");
        let body = &libbpf[start..];
        let body = &body[..body.find("\n};").unwrap()];
        let mut out = Vec::new();
        for line in body.lines().skip(1) {
            let line = line.trim();
            let Some(args) = line.strip_prefix("SEC_DEF(") else {
                assert!(
                    line.is_empty() || line.starts_with("/*"),
                    "odd line: {line}"
                );
                continue;
            };
            let args = args.strip_prefix('"').unwrap();
            let (spelling, rest) = args.split_once('"').unwrap();
            let rest = rest.split("/*").next().unwrap().trim();
            let rest = rest.strip_suffix("),").or(rest.strip_suffix(')')).unwrap();
            let fields: Vec<&str> = rest.split(',').map(str::trim).collect();
            assert_eq!(fields[0], "", "{line}");
            let prog_type = progs[&format!("BPF_PROG_TYPE_{}", fields[1])];
            let attach_type = if fields[2] == "0" {
                0
            } else {
                *attach
                    .get(fields[2])
                    .unwrap_or_else(|| panic!("{}", fields[2]))
            };
            let flags = fields[3]
                .split('|')
                .map(|f| sec_flags[f.trim()])
                .fold(0, |a, b| a | b);
            out.push(CDef {
                spelling: spelling.to_string(),
                prog_type,
                attach_type,
                flags,
            });
        }
        out
    }

    #[test]
    fn table_matches_libbpf_source() {
        let Some(tree) = crate::testenv::linux_tree() else {
            crate::testenv::skip("no extracted Linux 6.12 tree (set BPFLD_LINUX_SRC)");
            return;
        };
        let libbpf = tree.join("tools/lib/bpf/libbpf.c");
        let uapi = tree.join("include/uapi/linux/bpf.h");
        let (Ok(libbpf), Ok(uapi)) = (
            std::fs::read_to_string(&libbpf),
            std::fs::read_to_string(&uapi),
        ) else {
            crate::testenv::skip(&format!("{} lacks libbpf.c or bpf.h", tree.display()));
            return;
        };
        let cdefs = parse_section_defs(&libbpf, &uapi);
        assert_eq!(
            cdefs.len(),
            SECTION_DEFS.len(),
            "section_defs[] changed size"
        );

        // Entry by entry, in order.
        for (c, d) in cdefs.iter().zip(SECTION_DEFS.iter()) {
            let spelling = match d.form {
                SecForm::Exact => d.prefix.to_string(),
                SecForm::OptionalTarget => format!("{}+", d.prefix),
                SecForm::RequiredSlash => format!("{}/", d.prefix),
            };
            assert_eq!(c.spelling, spelling);
            assert_eq!(c.prog_type, d.prog_type, "{spelling}");
            assert_eq!(c.attach_type, d.expected_attach_type, "{spelling}");
            assert_eq!(c.flags, d.flags.bits(), "{spelling}");
        }

        // Names around every entry: classify agrees with libbpf's first-match rule
        // evaluated over the parsed table.
        let mut names: Vec<String> = vec![String::new(), "/".into(), "?xdp".into()];
        for c in &cdefs {
            let base = c.spelling.trim_end_matches(['+', '/']);
            for suffix in ["", "/", "/x", "/x/y", "x", ".s", ".s/x", "_", "+", ":x"] {
                names.push(format!("{base}{suffix}"));
            }
            if let Some((head, _)) = base.rsplit_once('/') {
                names.push(head.to_string());
                names.push(format!("{head}/"));
                names.push(format!("{head}/other"));
            }
            names.push(base[..base.len() - 1].to_string());
        }
        let mut checked = 0;
        for name in &names {
            let want = cdefs.iter().find(|c| c_matches(&c.spelling, name));
            let got = find_sec_def(name);
            match (want, got) {
                (None, None) => {
                    assert!(classify(name).is_err(), "{name}");
                }
                (Some(c), Some((d, _))) => {
                    assert_eq!(
                        (d.prog_type, d.expected_attach_type),
                        (c.prog_type, c.attach_type),
                        "{name}"
                    );
                    match classify(name) {
                        Ok(s) => {
                            assert_eq!(s.prog_type, c.prog_type, "{name}");
                            assert_eq!(s.table_attach_type, c.attach_type, "{name}");
                            let usdt = c.flags & SecFlags::USDT.bits() != 0;
                            if !usdt {
                                assert_eq!(s.expected_attach_type, c.attach_type, "{name}");
                            }
                        }
                        // Only kernel-BTF programs without a usable target may fail.
                        Err(e) => {
                            assert!(c.flags & SecFlags::ATTACH_BTF.bits() != 0, "{name}: {e}");
                            assert!(matches!(e.kind(), Kind::Malformed(_)), "{name}: {e}");
                        }
                    }
                }
                (w, g) => panic!(
                    "{name}: libbpf matches {:?}, we match {:?}",
                    w.map(|c| &c.spelling),
                    g.map(|(d, _)| d.prefix)
                ),
            }
            checked += 1;
        }
        eprintln!(
            "table_matches_libbpf_source: {} entries, {checked} names checked",
            cdefs.len()
        );
    }
}
