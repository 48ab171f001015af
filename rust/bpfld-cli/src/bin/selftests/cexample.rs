// SPDX-License-Identifier: GPL-2.0-only

//! examples/bpfld-load.c beyond the basic load and pin of `c_example_load_and_pin`:
//! global data maps (whose names have dots bpffs refuses), the all-or-nothing promise
//! (a pin that fails half-way leaves nothing of the run behind), dynamic linking.

use super::{fail, Env};
use crate::loaddir::Ids;
use crate::util::create_array_map;
use bpfld::ktap::Outcome;
use bpfld::loaddir::{fd_kind, obj_get};
use bpfld::sys::{obj_info, obj_pin, MapInfo, ProgInfo};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::process::Command;

const OBJ: &str = "/run/bpfld-verity/global_data.bpf.o";
const DIR: &str = "/sys/fs/bpf/cex-gd";
const DIR2: &str = "/sys/fs/bpf/cex-rollback";

/// The pins of global_data.bpf.o.
const GD_PINS: [&str; 8] = [
    "map_bss",
    "map_data",
    "map_data_foo",
    "map_rodata",
    "map_rodata_bar",
    "map_rodata_str1_1",
    "prog_gd_run",
    "prog_gd_xdp",
];

/// Run the example: (exit code, stdout, stderr).
fn example(env: &Env, dir: &str) -> Result<(i32, String, String), String> {
    run_tool(&format!("{}/bpfld-load", env.corpus), &[OBJ, dir], None)
}

/// Run `tool` with `args`, with its address space limited to `as_kib` KiB if given
/// (RLIMIT_AS, by the shell's `ulimit -v`): (exit code, stdout, stderr).
fn run_tool(
    tool: &str,
    args: &[&str],
    as_kib: Option<u64>,
) -> Result<(i32, String, String), String> {
    let out = match as_kib {
        None => Command::new(tool).args(args).output(),
        Some(k) => Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v {k} && exec \"$0\" \"$@\""))
            .arg(tool)
            .args(args)
            .output(),
    }
    .map_err(|e| format!("{tool}: {e}"))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// name -> kernel id of every pin in `dir`.
fn pins(dir: &str) -> Result<BTreeMap<String, u32>, String> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))? {
        let e = e.map_err(|e| e.to_string())?;
        let name = e.file_name().to_string_lossy().into_owned();
        let fd = obj_get(&e.path()).map_err(|err| format!("{name}: {err}"))?;
        let id = match fd_kind(fd.as_raw_fd()).as_str() {
            "bpf-map" => obj_info::<MapInfo>(fd.as_raw_fd()).map(|i| i.id),
            _ => obj_info::<ProgInfo>(fd.as_raw_fd()).map(|i| i.id),
        }
        .map_err(|err| format!("{name}: {err}"))?;
        m.insert(name, id);
    }
    Ok(m)
}

/// Whether the ELF executable at `path` asks for a dynamic loader (`PT_INTERP`).
fn dynamically_linked(path: &str) -> Result<bool, String> {
    let b = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let u16_at = |o: usize| b.get(o..o + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
    };
    let (Some(phoff), Some(entsize), Some(num)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return Err(format!("{path}: not an ELF64 executable"));
    };
    Ok((0..usize::from(num)).any(|i| {
        let o = phoff as usize + i * usize::from(entsize);
        b.get(o..o + 4) == Some(&3u32.to_le_bytes()[..]) // PT_INTERP
    }))
}

pub fn c_example_global_data_rollback(env: &Env) -> Outcome {
    let before = Ids::read();
    let r = (|| {
        let tool = format!("{}/bpfld-load", env.corpus);
        if !dynamically_linked(&tool)? {
            return Err(format!("{tool} is not dynamically linked"));
        }
        let _ = std::fs::remove_dir_all(DIR);
        let _ = std::fs::remove_dir_all(DIR2);
        // .data, .rodata, .bss and the dotted .data.foo, .rodata.bar, .rodata.str1.1.
        let (code, out, err) = example(env, DIR)?;
        if code != 0 {
            return Err(format!("exit {code}: {err}"));
        }
        let first = pins(DIR)?;
        let names: Vec<&str> = first.keys().map(String::as_str).collect();
        if names != GD_PINS {
            return Err(format!("pins {names:?}, want {GD_PINS:?}; output:\n{out}"));
        }
        // Again into the same directory: the first pin exists, the run fails and
        // leaves the directory as it was.
        let (code, _, err) = example(env, DIR)?;
        if code != 1 || !err.contains("File exists") {
            return Err(format!("second run: exit {code}: {err}"));
        }
        if pins(DIR)? != first {
            return Err("second run changed the pins".into());
        }
        // A directory where the last pin's name is taken: the 7 pins made before it
        // are removed again, the directory (not created by the run) stays.
        std::fs::create_dir(DIR2).map_err(|e| format!("{DIR2}: {e}"))?;
        let decoy = create_array_map("decoy").map_err(|e| e.to_string())?;
        obj_pin(decoy.as_raw_fd(), &format!("{DIR2}/prog_gd_xdp")).map_err(|e| e.to_string())?;
        drop(decoy);
        let taken = pins(DIR2)?;
        let (code, out, err) = example(env, DIR2)?;
        if code != 1 || !err.contains("prog_gd_xdp: File exists") {
            return Err(format!("run into {DIR2}: exit {code}: {err}"));
        }
        if out.lines().count() != 7 {
            return Err(format!("want 7 pins made before the failure:\n{out}"));
        }
        let left = pins(DIR2)?;
        if left != taken {
            return Err(format!("left behind {left:?}, want only {taken:?}"));
        }
        println!("# 7 pins rolled back after: {}", err.trim());
        Ok(())
    })();
    for d in [DIR, DIR2] {
        let _ = std::fs::remove_dir_all(d);
    }
    let empty = std::collections::BTreeSet::new();
    match r.and_then(|()| before.new_since_are(&empty, &empty)) {
        Ok(()) => Outcome::Pass,
        Err(e) => fail(e),
    }
}

const DIR3: &str = "/sys/fs/bpf/cex-compat";

/// The example built as a 32-bit program (its ioctl goes through compat_ioctl) loads
/// and pins what the 64-bit one does; an arena, which the loading thread maps in the
/// caller's address space with the 64-bit layout, is refused to it by name, with
/// nothing left behind. The caller's RLIMIT_AS holds for that mapping: a 1 GiB arena
/// under a 256 MiB limit fails with ENOMEM (the module ignored the limit before),
/// and loads without one.
pub fn c_example_compat_and_limits(env: &Env) -> Outcome {
    let before = Ids::read();
    let r = (|| {
        let tool = format!("{}/bpfld-load", env.corpus);
        let tool32 = format!("{}/bpfld-load32", env.corpus);
        crate::loads::mount_bpffs()?;
        let _ = std::fs::remove_dir_all(DIR3);
        let (code, out, err) = run_tool(&tool32, &[OBJ, DIR3], None)?;
        if code != 0 {
            return Err(format!("32-bit example: exit {code}: {err}"));
        }
        let names: Vec<String> = pins(DIR3)?.into_keys().collect();
        if names != GD_PINS {
            return Err(format!(
                "32-bit example pinned {names:?}, want {GD_PINS:?}; output:\n{out}"
            ));
        }
        std::fs::remove_dir_all(DIR3).map_err(|e| format!("{DIR3}: {e}"))?;
        println!("# 32-bit caller: {} pins, as the 64-bit one", names.len());

        let arena = "/run/bpfld-verity/arena.bpf.o";
        let (code, _, err) = run_tool(&tool32, &[arena, DIR3], None)?;
        if code != 1 || !err.contains("map 'arena'") || !err.contains("32-bit") {
            return Err(format!("arena from a 32-bit caller: exit {code}: {err}"));
        }
        if !err.contains("(errno 95)") {
            return Err(format!(
                "arena from a 32-bit caller: want EOPNOTSUPP: {err}"
            ));
        }
        println!("# {}", err.trim());

        let large = "/run/bpfld-verity/arena_large.bpf.o";
        let (code, _, err) = run_tool(&tool, &[large, DIR3], Some(256 * 1024))?;
        if code != 1 || !err.contains("map 'arena'") || !err.contains("(errno 12)") {
            return Err(format!(
                "1 GiB arena under ulimit -v 262144: exit {code}: {err}"
            ));
        }
        println!("# {}", err.trim());
        let (code, _, err) = run_tool(&tool, &[large, DIR3], None)?;
        if code != 0 {
            return Err(format!("1 GiB arena without a limit: exit {code}: {err}"));
        }
        std::fs::remove_dir_all(DIR3).map_err(|e| format!("{DIR3}: {e}"))?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(DIR3);
    let empty = std::collections::BTreeSet::new();
    match r.and_then(|()| before.new_since_are(&empty, &empty)) {
        Ok(()) => Outcome::Pass,
        Err(e) => fail(e),
    }
}
