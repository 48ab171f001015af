// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Exception callbacks (`__exception_cb(f)`, an `exception_callback:f` BTF decl tag on
//! an entry program): appended after the entry's call graph with their own callees and
//! func_info, as libbpf 1.5 does; misplaced or unresolvable tags refused with libbpf's
//! outcomes. Objects are C compiled by clang at test time (skipped without clang).

mod support;

use bpfld_core::elf::Elf;
use bpfld_core::error::{errno, Kind};
use bpfld_core::object::Object;
use bpfld_core::plan::{KernelBtf, Plan};
use std::time::Duration;
use support::{kinfo, TestAlloc};

const HEAD: &str = r#"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#define __exception_cb(name) __attribute__((btf_decl_tag("exception_callback:" #name)))
char _license[] SEC("license") = "GPL";
"#;

fn have_clang() -> bool {
    support::fixtures().is_some()
}

/// One planned program: name, instruction count, func_info (insn_off, type id) with the
/// FUNC's name.
#[derive(Debug)]
struct P {
    name: String,
    insns: usize,
    funcs: Vec<(u32, String)>,
}

/// Plan `src` (after [`HEAD`]); the programs, or the error text, kind and errno.
fn plan(name: &str, src: &str) -> Result<Vec<P>, (String, Kind, i32)> {
    let bytes = support::compile_generated(name, &format!("{HEAD}{src}"));
    let mut a = TestAlloc::new();
    let elf = Elf::parse(&bytes, &mut a).unwrap();
    let obj = Object::parse(elf, "obj", &mut a).unwrap();
    let kb: Option<&dyn KernelBtf> = Some(&support::FakeKernelBtf);
    let plan = Plan::build(&obj, &kinfo(), kb, &mut a)
        .map_err(|e| (e.to_string(), e.kind(), e.errno()))?;
    let btf = obj.btf.as_ref().unwrap();
    Ok(plan
        .progs
        .iter()
        .map(|p| P {
            name: p.name.to_string(),
            insns: plan.prog_insns(p).len(),
            funcs: plan
                .prog_func_info(p)
                .iter()
                .map(|r| {
                    let t = btf.type_by_id(r[1]).unwrap();
                    (r[0], t.name().unwrap().to_string())
                })
                .collect(),
        })
        .collect())
}

fn names(p: &P) -> Vec<&str> {
    p.funcs.iter().map(|(_, n)| n.as_str()).collect()
}

fn prog<'p>(ps: &'p [P], name: &str) -> &'p P {
    ps.iter().find(|p| p.name == name).unwrap()
}

#[test]
fn callback_appended_with_its_callees() {
    if !have_clang() {
        return;
    }
    let ps = plan(
        "exc_ok",
        r#"
__noinline int helper(int x) { return x * 3 + 1; }
__noinline int cb(__u64 cookie) { return helper((int)cookie); }
__noinline int used(int x) { return x ^ 7; }
SEC("tc") __exception_cb(cb) int entry(struct __sk_buff *skb) { return used(skb->len); }
SEC("tc") int plain(struct __sk_buff *skb) { return used(skb->mark); }
"#,
    )
    .unwrap();
    let e = prog(&ps, "entry");
    // The entry's call graph first, then the callback and what it calls.
    assert_eq!(names(e), ["entry", "used", "cb", "helper"], "{e:?}");
    let offs: Vec<u32> = e.funcs.iter().map(|f| f.0).collect();
    assert!(offs.windows(2).all(|w| w[0] < w[1]), "{e:?}");
    assert!((offs[3] as usize) < e.insns);
    // Only the tagged program carries it.
    assert_eq!(names(prog(&ps, "plain")), ["plain", "used"]);
}

#[test]
fn callback_reached_by_a_call_is_not_appended_twice() {
    if !have_clang() {
        return;
    }
    let ps = plan(
        "exc_called",
        r#"
__noinline int cb(__u64 cookie) { return (int)cookie + 1; }
SEC("tc") __exception_cb(cb) int entry(struct __sk_buff *skb) { return cb(skb->len); }
"#,
    )
    .unwrap();
    // libbpf leaves it where the call put it; the verifier refuses the direct call.
    assert_eq!(names(prog(&ps, "entry")), ["entry", "cb"]);
}

#[test]
fn two_tags_append_nothing() {
    if !have_clang() {
        return;
    }
    let ps = plan(
        "exc_two",
        r#"
__noinline int cb1(__u64 c) { return (int)c; }
__noinline int cb2(__u64 c) { return (int)c + 1; }
SEC("tc") __exception_cb(cb1) __exception_cb(cb2)
int entry(struct __sk_buff *skb) { return 0; }
"#,
    )
    .unwrap();
    // The verifier reports the duplicate; libbpf appends neither.
    assert_eq!(names(prog(&ps, "entry")), ["entry"]);
}

/// Plan `src`, expecting it to fail; the error.
fn refused(name: &str, src: &str) -> (String, Kind, i32) {
    match plan(name, src) {
        Ok(ps) => panic!("{name}: planned {ps:?}"),
        Err(e) => e,
    }
}

#[test]
fn missing_callback() {
    if !have_clang() {
        return;
    }
    let (text, kind, e) = refused(
        "exc_missing",
        r#"SEC("tc") __exception_cb(nope) int entry(struct __sk_buff *skb) { return 0; }"#,
    );
    assert_eq!(kind, Kind::NotFound("exception callback in .text"));
    assert_eq!(e, errno::ENOENT);
    assert_eq!(
        text,
        "prog 'entry': sym 'nope': exception callback in .text not found"
    );
}

#[test]
fn static_or_hidden_callback() {
    if !have_clang() {
        return;
    }
    let cases = [
        ("exc_static", "static __noinline"),
        (
            "exc_hidden",
            "__attribute__((visibility(\"hidden\"))) __noinline",
        ),
    ];
    for (name, attrs) in cases {
        // Another program calls it, so that clang keeps the static one.
        let src = format!(
            r#"
{attrs} int cb(__u64 c) {{ return (int)c + 2; }}
SEC("tc") int other(struct __sk_buff *skb) {{ return cb(skb->len); }}
SEC("tc") __exception_cb(cb) int entry(struct __sk_buff *skb) {{ return 0; }}
"#
        );
        let (text, kind, e) = refused(name, &src);
        assert_eq!(
            text, "prog 'entry': sym 'cb': exception callback is not a global non-hidden function",
            "{name}"
        );
        assert!(matches!(kind, Kind::Malformed(_)), "{name}: {kind:?}");
        assert_eq!(e, errno::EINVAL, "{name}");
    }
}

#[test]
fn tag_on_a_static_function_fails_every_program() {
    if !have_clang() {
        return;
    }
    let (text, _, e) = refused(
        "exc_static_target",
        r#"
__noinline int cb(__u64 c) { return (int)c; }
static __noinline __exception_cb(cb) int st(int x) { return x + 1; }
SEC("tc") int first(struct __sk_buff *skb) { return 0; }
SEC("tc") int entry(struct __sk_buff *skb) { return st(skb->len); }
"#,
    );
    // libbpf checks every exception_callback tag for each program it relocates, so the
    // first loaded program fails although the tag is on neither.
    assert!(
        text.starts_with("prog 'first': btf type [")
            && text.ends_with("exception_callback:<name> decl tag not on a global function"),
        "{text}"
    );
    assert_eq!(e, errno::EINVAL);
}

#[test]
fn empty_callback_name() {
    if !have_clang() {
        return;
    }
    let (text, _, e) = refused(
        "exc_empty",
        r#"SEC("tc") __attribute__((btf_decl_tag("exception_callback:")))
int entry(struct __sk_buff *skb) { return 0; }"#,
    );
    assert!(
        text.starts_with("prog 'entry': btf type [")
            && text.ends_with("exception_callback: decl tag names no function"),
        "{text}"
    );
    assert_eq!(e, errno::EINVAL);
}

#[test]
fn refusal_only_when_loaded() {
    if !have_clang() {
        return;
    }
    // A `?` section is not loaded by default: its missing callback is no error.
    let ps = plan(
        "exc_noload",
        r#"
SEC("?tc") __exception_cb(nope) int off(struct __sk_buff *skb) { return 0; }
SEC("tc") int on(struct __sk_buff *skb) { return 0; }
"#,
    )
    .unwrap();
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].name, "on");
}

/// `n` tagged entry programs, each with its own callback.
fn many(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s += &format!(
            "__noinline int cb{i}(__u64 c) {{ return (int)c + {i}; }}\n\
             SEC(\"tc\") __exception_cb(cb{i}) int e{i}(struct __sk_buff *skb) {{ return {i}; }}\n"
        );
    }
    s
}

fn time_plan(bytes: &[u8]) -> Duration {
    (0..7)
        .map(|_| {
            let mut a = TestAlloc::new();
            let t = support::thread_cpu();
            let elf = Elf::parse(bytes, &mut a).unwrap();
            let obj = Object::parse(elf, "obj", &mut a).unwrap();
            let plan = Plan::build(&obj, &kinfo(), None, &mut a).unwrap();
            assert!(plan.progs.iter().all(|p| plan.prog_func_info(p).len() == 2));
            support::thread_cpu().saturating_sub(t)
        })
        .min()
        .unwrap()
}

#[test]
fn exception_callbacks_cost_is_linear() {
    if !have_clang() {
        return;
    }
    let small = support::compile_generated("exc_many_s", &format!("{HEAD}{}", many(1000)));
    let big = support::compile_generated("exc_many_b", &format!("{HEAD}{}", many(2000)));
    let (a, b) = (time_plan(&small), time_plan(&big));
    println!("SLOWDOWN exception callbacks x entries: {a:?}, twice: {b:?}");
    let r = b.as_secs_f64() / a.as_secs_f64().max(1e-6);
    assert!(r < 3.0, "2x the tagged entries: {r:.1}x slower");
}
