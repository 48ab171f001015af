// SPDX-License-Identifier: GPL-2.0-only

//! The user-space executor with load options, as the module takes them (the VM tests
//! `map_reuse` and `attach_to_bpf_program` drive the module, and the latter this
//! executor's targets too): a map of the caller's in place of the object's, and the
//! refusals of targets made before any program load.
//!
//! Needs root and `bpf(2)`; without them the test prints why and passes, except under
//! `CI=true`, where a skip is a failure.

mod common;

use bpfld::load::{load_userspace, load_userspace_with, LoadOpts};
use bpfld::sys::{obj_info, prog_func_btf_id, MapInfo};
use common::*;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `selftests/stress/NAME.bpf.c` compiled into `out` (they need no vmlinux.h), with
/// the flags the guest's stress tests compile them with.
fn compile(name: &str, out: &Path) -> PathBuf {
    let src = repo_root().join(format!("selftests/stress/{name}.bpf.c"));
    let obj = out.join(format!("{name}.bpf.o"));
    let o = Command::new("clang")
        .args(["-target", "bpf", "-O2", "-g", "-c"])
        .args(bpfld::bpf_arch_flags())
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .expect("clang");
    assert!(
        o.status.success(),
        "clang {}: {}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    obj
}

#[test]
fn reuse_and_targets() {
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    let corpus = build_corpus();
    let s = |p: &Path| p.to_string_lossy().into_owned();

    // A map of ours in place of xdp's proto_cnt.
    let xdp = s(&corpus.join("xdp.bpf.o"));
    let first = load_userspace(&xdp).expect("xdp");
    let m = first.maps.iter().find(|m| m.name == "proto_cnt").unwrap();
    let reuse = LoadOpts {
        reuse: vec![("proto_cnt".into(), m.fd.as_raw_fd())],
        ..LoadOpts::default()
    };
    let second = load_userspace_with(&xdp, &reuse).expect("xdp reusing proto_cnt");
    let again = second.maps.iter().find(|m| m.name == "proto_cnt").unwrap();
    assert_eq!(again.id, m.id);
    let info: MapInfo = obj_info(again.fd.as_raw_fd()).unwrap();
    assert_eq!(info.id, m.id);
    // Another definition: refused, naming the field.
    let other = bpfld::sys::create_map(bpfld_core::uapi::BPF_MAP_TYPE_ARRAY, 4, 8, 1, "o")
        .expect("BPF_MAP_CREATE");
    let bad = LoadOpts {
        reuse: vec![("proto_cnt".into(), other.as_raw_fd())],
        ..LoadOpts::default()
    };
    let e = load_userspace_with(&xdp, &bad)
        .err()
        .expect("a different map refused");
    assert_eq!(e.errno, libc::EINVAL, "{e}");
    assert!(
        e.msg.contains("proto_cnt") && e.msg.contains("map_type"),
        "{e}"
    );

    // Targets: the refusals made before any program load.
    let dir = std::env::temp_dir().join(format!("bpfld-uopts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let target_obj = compile("attach_target", &dir);
    let ext_obj = compile("attach_ext", &dir);
    let target = load_userspace(&s(&target_obj)).expect("attach_target");
    let tfd = target.progs[0].fd.as_raw_fd();
    let pick = prog_func_btf_id(tfd, "pick").expect("pick's BTF id");
    // Loading with targets is tested in the VM (attach_to_bpf_program: the same tags
    // as the module's): hosts may refuse tracing programs (this one: EPERM to root).
    // A name the object lacks; no target for freplace; a target for a tc program.
    let unknown = LoadOpts {
        targets: vec![("no_such_prog".into(), tfd, pick)],
        ..LoadOpts::default()
    };
    let e = load_userspace_with(&s(&ext_obj), &unknown)
        .err()
        .expect("unknown program");
    assert_eq!(e.errno, libc::ENOENT, "{e}");
    assert!(e.msg.contains("no_such_prog"), "{e}");
    let e = load_userspace(&s(&ext_obj))
        .err()
        .expect("freplace without a target");
    assert_eq!(e.errno, libc::EINVAL, "{e}");
    let tc = LoadOpts {
        targets: vec![("target".into(), tfd, pick)],
        ..LoadOpts::default()
    };
    let e = load_userspace_with(&s(&target_obj), &tc)
        .err()
        .expect("a target for a tc program");
    assert_eq!(e.errno, libc::EOPNOTSUPP, "{e}");
    assert!(e.msg.contains("target program"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The options' autoload, as `bpf_program__set_autoload()`: autoload.bpf.o's `?tc`
/// program turned on, its `xdp` program off; a name the object lacks is `ENOENT`.
#[test]
fn autoload() {
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    let corpus = build_corpus();
    let obj = corpus.join("autoload.bpf.o").to_string_lossy().into_owned();
    let names = |o: &LoadOpts| -> Vec<String> {
        let l = load_userspace_with(&obj, o).expect("autoload.bpf.o");
        l.progs.iter().map(|p| p.name.clone()).collect()
    };
    let with = |a: &[(&str, bool)]| LoadOpts {
        autoload: a.iter().map(|(n, b)| (n.to_string(), *b)).collect(),
        ..LoadOpts::default()
    };
    assert_eq!(names(&LoadOpts::default()), ["xdp_always"]);
    assert_eq!(
        names(&with(&[("tc_optional", true)])),
        ["xdp_always", "tc_optional"]
    );
    assert_eq!(
        names(&with(&[("tc_optional", true), ("xdp_always", false)])),
        ["tc_optional"]
    );
    let e = load_userspace_with(&obj, &with(&[("nope", true)]))
        .err()
        .expect("an unknown program refused");
    assert_eq!(e.errno, libc::ENOENT, "{e}");
    assert!(e.msg.contains("autoload 'nope'"), "{e}");
}

/// `bpfld load --userspace --pin DIR --json`: the programs and maps pinned as the
/// module's loads pin them, and one JSON line naming the executor, the file's digest
/// and what was pinned. Skipped without bpffs at /sys/fs/bpf.
#[test]
fn cli_pin_and_json() {
    if let Some(why) = bpf_unavailable().or_else(bpffs_unavailable) {
        skip(&why);
        return;
    }
    let corpus = build_corpus();
    let obj = corpus.join("xdp.bpf.o");
    let dir = Path::new("/sys/fs/bpf").join(format!("bpfld-cli-us-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld"))
        .args(["load", "--userspace", "--json", "--pin"])
        .arg(&dir)
        .arg(&obj)
        .output()
        .expect("bpfld");
    let pinned: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // The pins hold the objects; what they name is checked before they go.
    let ids: Vec<(String, u32)> = pinned
        .iter()
        .map(|n| {
            let fd = bpfld::loaddir::obj_get(&dir.join(n)).expect("BPF_OBJ_GET");
            let id = if n.starts_with("prog_") {
                obj_info::<bpfld::sys::ProgInfo>(fd.as_raw_fd()).unwrap().id
            } else {
                obj_info::<MapInfo>(fd.as_raw_fd()).unwrap().id
            };
            (n.clone(), id)
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The file's digest as `bpfld digest` gives it (what the module would check).
    let d = Command::new(env!("CARGO_BIN_EXE_bpfld"))
        .arg("digest")
        .arg(&obj)
        .output()
        .expect("bpfld digest");
    let d = String::from_utf8_lossy(&d.stdout).into_owned();
    let digest = d.split_whitespace().next().unwrap_or_default();
    assert!(digest.starts_with("sha256:"), "{d}");
    assert!(
        stdout.starts_with('{') && stdout.trim_end().ends_with('}'),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    for want in [
        "\"executor\":\"userspace\"".to_string(),
        format!("\"digest\":\"{digest}\""),
        "\"time_ns\":null".to_string(),
        "\"name\":\"xdp_count\"".to_string(),
        "\"name\":\"proto_cnt\"".to_string(),
    ] {
        assert!(stdout.contains(&want), "{want} not in {stdout}");
    }
    assert!(pinned.iter().any(|n| n.starts_with("prog_")), "{pinned:?}");
    assert!(pinned.contains(&"map_proto_cnt".to_string()), "{pinned:?}");
    // Each pin is an object the JSON reports, by id.
    for (n, id) in &ids {
        assert!(
            stdout.contains(&format!("\"id\":{id},")),
            "{n} id {id} not in {stdout}"
        );
    }
}

/// `bpfld load --pin DIR --pin-root-path ROOT` where a pin cannot be made: the pins
/// made before it are removed, the map pinned by name under ROOT too, and the command
/// fails naming the pin. maps_attrs.bpf.o pins its by-name map first, then its
/// program, then its maps; a directory in the way of `map_attr_ro` fails the latter.
#[test]
fn cli_pin_failure_unpins() {
    if let Some(why) = bpf_unavailable().or_else(bpffs_unavailable) {
        skip(&why);
        return;
    }
    let corpus = build_corpus();
    let obj = corpus.join("maps_attrs.bpf.o");
    let base = Path::new("/sys/fs/bpf").join(format!("bpfld-cli-pinfail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (dir, root) = (base.join("pins"), base.join("root"));
    std::fs::create_dir_all(dir.join("map_attr_ro")).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld"))
        .args(["load", "--userspace", "--pin-root-path"])
        .arg(&root)
        .arg("--pin")
        .arg(&dir)
        .arg(&obj)
        .output()
        .expect("bpfld");
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let (in_dir, in_root) = (names(&dir), names(&root));
    let _ = std::fs::remove_dir_all(&base);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "loaded and pinned: {stderr}");
    assert!(stderr.contains("map_attr_ro"), "{stderr}");
    assert_eq!(in_dir, ["map_attr_ro"], "pins left in --pin's directory");
    assert!(
        in_root.is_empty(),
        "pins left under the pin root: {in_root:?}"
    );
}

/// The user-space executor's slot writes into a program array the caller supplied
/// (`Bpf::swap_slot`) and their undo (`Bpf::restore_slot`) on a real map: what the
/// slot held is put back, an empty slot emptied again, and another writer's program
/// put there since left alone. tail_calls.bpf.o's `jmp_table` holds `tail_a` in slot 0
/// and nothing in slot 1; a second load's programs are written over them.
#[test]
fn slot_swap_and_restore() {
    use bpfld::sys::{prog_array_slot, UserBpf};
    use bpfld_core::exec::Bpf;
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    let corpus = build_corpus();
    let obj = corpus
        .join("tail_calls.bpf.o")
        .to_string_lossy()
        .into_owned();
    let first = load_userspace(&obj).expect("tail_calls.bpf.o");
    let second = load_userspace(&obj).expect("tail_calls.bpf.o again");
    let jmp = first.maps.iter().find(|m| m.name == "jmp_table").unwrap();
    let jfd = jmp.fd.as_raw_fd();
    let prog = |l: &bpfld::load::UserLoad, n: &str| {
        let p = l.progs.iter().find(|p| p.name == n).unwrap();
        (p.fd.as_raw_fd(), p.id)
    };
    let (_, a1) = prog(&first, "tail_a");
    let (a2_fd, a2) = prog(&second, "tail_a");
    let (b2_fd, b2) = prog(&second, "tail_b");
    let slot = |k: u32| prog_array_slot(jfd, k).unwrap();
    assert_eq!(slot(0), Some(a1));
    assert_eq!(slot(1), None);

    let mut bpf = UserBpf::default();
    bpf.swap_slot(jfd, 0, a2_fd).expect("swap slot 0");
    bpf.swap_slot(jfd, 1, b2_fd).expect("swap slot 1");
    assert_eq!((slot(0), slot(1)), (Some(a2), Some(b2)));
    bpf.restore_slot(jfd, 0, a2_fd).expect("restore slot 0");
    bpf.restore_slot(jfd, 1, b2_fd).expect("restore slot 1");
    assert_eq!(
        (slot(0), slot(1)),
        (Some(a1), None),
        "put back as they were"
    );

    // Another writer after the swap: its program stays.
    bpf.swap_slot(jfd, 0, a2_fd).expect("swap slot 0 again");
    UserBpf::default()
        .swap_slot(jfd, 0, b2_fd)
        .expect("another writer");
    bpf.restore_slot(jfd, 0, a2_fd)
        .expect("restore slot 0 again");
    assert_eq!(slot(0), Some(b2), "another writer's program left alone");
    // A slot never swapped: nothing to undo, the slot left alone.
    bpf.restore_slot(jfd, 2, a2_fd).expect("restore slot 2");
    assert_eq!(slot(2), Some(prog(&first, "tail_b").1));
}
