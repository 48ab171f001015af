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

/// Run the example: (exit code, stdout, stderr).
fn example(env: &Env, dir: &str) -> Result<(i32, String, String), String> {
    let tool = format!("{}/bpfld-load", env.corpus);
    let out = Command::new(&tool)
        .args([OBJ, dir])
        .output()
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
        let want = [
            "map_bss",
            "map_data",
            "map_data_foo",
            "map_rodata",
            "map_rodata_bar",
            "map_rodata_str1_1",
            "prog_gd_run",
            "prog_gd_xdp",
        ];
        if names != want {
            return Err(format!("pins {names:?}, want {want:?}; output:\n{out}"));
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
