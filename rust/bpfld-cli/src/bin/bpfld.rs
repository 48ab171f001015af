// SPDX-License-Identifier: GPL-2.0-only

//! `bpfld`: command-line front end of the in-kernel BPF loader.

use bpfld::dev::{cstr, Device, DEVICE};
use std::process::ExitCode;

const USAGE: &str = "usage: bpfld <command> [args]

commands:
  version                  print the versions of /dev/bpfld and of this tool
  inspect OBJ              print what loading OBJ would do (maps, programs, receipt)
  load --userspace OBJ     load OBJ with bpf(2) from user space (no module needed)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("version") => version(),
        Some("inspect") if args.len() == 2 => bpfld::load::inspect(&args[1])
            .map(|s| print!("{s}"))
            .map_err(|e| e.to_string()),
        Some("load") if args.len() == 3 && args[1] == "--userspace" => load_userspace(&args[2]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bpfld: {e}");
            ExitCode::FAILURE
        }
    }
}

fn version() -> Result<(), String> {
    println!("bpfld tool {}", bpfld_core::VERSION);
    let dev = Device::open(DEVICE).map_err(|e| format!("{DEVICE}: {e} (is bpfld.ko loaded?)"))?;
    let v = dev
        .version()
        .map_err(|e| format!("BPFLD_IOC_VERSION: {e}"))?;
    println!(
        "{DEVICE}: uapi {} core {}",
        v.uapi_version,
        cstr(&v.core_version)
    );
    Ok(())
}

fn load_userspace(path: &str) -> Result<(), String> {
    let l = bpfld::load::load_userspace(path).map_err(|e| e.to_string())?;
    for p in &l.progs {
        let tag: String = p.tag.iter().map(|b| format!("{b:02x}")).collect();
        println!(
            "prog {} section {} id {} tag {tag}",
            p.name, p.section, p.id
        );
    }
    for m in &l.maps {
        println!("map {} id {}", m.name, m.id);
    }
    Ok(())
}
