// SPDX-License-Identifier: GPL-2.0-only

//! `bpfld`: command-line front end of the in-kernel BPF loader.

use bpfld::dev::{cstr, format_digest, parse_digest, Device, KLoadOpts, DEVICE};
use bpfld::parity::hex;
use bpfld::uapi;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

const USAGE: &str = "usage: bpfld <command> [args]

commands:
  load [--pin DIR] [--reuse-map NAME=PIN]... [--attach-target PROG=PIN[:FUNC]]...
       [--enable PROG]... [--disable PROG]... [--pin-root-path DIR] [--json]
       [--log-level N] [--register-struct-ops] OBJ
                           load OBJ (on fs-verity, trusted) through /dev/bpfld; print the
                           programs and maps; --pin pins them as DIR/prog_NAME, DIR/map_NAME;
                           --reuse-map uses the map pinned at PIN for OBJ's map NAME
                           instead of creating one (not pinned again); a map with
                           pinning = LIBBPF_PIN_BY_NAME is reused from, or else pinned
                           at, ROOT/NAME as libbpf does (ROOT: --pin-root-path,
                           default /sys/fs/bpf); --attach-target
                           attaches OBJ's freplace/fentry/fexit program PROG to function
                           FUNC (default: the one its section names) of the program
                           pinned at PIN; --enable loads PROG of a SEC(\"?...\"), which
                           is not loaded by default, and --disable leaves PROG out,
                           as libbpf's bpf_program__set_autoload();
                           --register-struct-ops registers OBJ's SEC(\".struct_ops\")
                           maps at the end of the load (BPF_MAP_DELETE_ELEM of key 0
                           unregisters one; .struct_ops.link maps are registered by
                           BPF_LINK_CREATE of the map)
  load --userspace [--pin DIR] [--reuse-map ...] [--attach-target ...]
       [--enable/--disable PROG]... [--pin-root-path DIR] [--json]
       [--register-struct-ops] OBJ
                           load OBJ with bpf(2) from user space (no module, no policy);
                           with --json, time_ns, bpf_time_ns and mem_bytes are null
  load-dir DIR --pin-root /sys/fs/bpf/SUBDIR
                           load every DIR/*.o (Android boot style) and pin it as
                           prog_<obj>_<section>_<name>, map_<obj>_<name>; reuses pins
  inspect OBJ              print what loading OBJ would do (maps, programs, receipt)
  digest FILE...           print the fs-verity digest of each FILE (computed here)
  trust add DIGEST|FILE    trust a digest (sha256:HEX as 'fsverity digest' prints it)
  trust revoke DIGEST|FILE refuse a digest from now on, even if built in
  trust list               print the policy
  trust seal               make the policy immutable until reboot
  version                  print the versions of /dev/bpfld and of this tool
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let res = match a.as_slice() {
        ["version"] => version(),
        ["inspect", obj] => bpfld::load::inspect(obj)
            .map(|s| print!("{s}"))
            .map_err(|e| e.to_string()),
        ["load", rest @ ..] => load(rest),
        ["load-dir", rest @ ..] => bpfld::loaddir::cli(rest),
        ["digest", files @ ..] if !files.is_empty() => digest(files),
        ["trust", "add", what] => trust_change(what, true),
        ["trust", "revoke", what] => trust_change(what, false),
        ["trust", "list"] => trust_list(),
        ["trust", "seal"] => open().and_then(|d| d.trust_seal().map_err(|e| format!("seal: {e}"))),
        ["-h" | "--help" | "help"] => {
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

fn open() -> Result<Device, String> {
    Device::open(DEVICE).map_err(|e| format!("{DEVICE}: {e} (is bpfld.ko loaded?)"))
}

fn version() -> Result<(), String> {
    println!("bpfld tool {}", bpfld_core::VERSION);
    let v = open()?
        .version()
        .map_err(|e| format!("BPFLD_IOC_VERSION: {e}"))?;
    println!(
        "{DEVICE}: uapi {} core {}",
        v.uapi_version,
        cstr(&v.core_version)
    );
    Ok(())
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn load(args: &[&str]) -> Result<(), String> {
    let mut pin = None;
    let mut json = false;
    let mut opts = KLoadOpts::default();
    let mut obj = None;
    let mut reuse = Vec::new();
    let mut targets = Vec::new();
    let mut autoload: Vec<(&str, bool)> = Vec::new();
    let mut pin_root = "/sys/fs/bpf";
    let mut userspace = false;
    let mut register_struct_ops = false;
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        match a {
            "--userspace" => userspace = true,
            "--pin" => pin = Some(*it.next().ok_or("--pin needs a directory")?),
            "--reuse-map" => {
                let (name, path) = it
                    .next()
                    .and_then(|v| v.split_once('='))
                    .ok_or("--reuse-map needs NAME=PIN")?;
                let fd = bpfld::loaddir::obj_get(std::path::Path::new(path))
                    .map_err(|e| format!("--reuse-map {name}: BPF_OBJ_GET {path}: {e}"))?;
                reuse.push((name.to_string(), fd));
            }
            "--attach-target" => {
                let (prog, rest) = it
                    .next()
                    .and_then(|v| v.split_once('='))
                    .ok_or("--attach-target needs PROG=PIN[:FUNC]")?;
                let (path, func) = match rest.split_once(':') {
                    Some((p, f)) => (p, Some(f.to_string())),
                    None => (rest, None),
                };
                let fd = bpfld::loaddir::obj_get(std::path::Path::new(path))
                    .map_err(|e| format!("--attach-target {prog}: BPF_OBJ_GET {path}: {e}"))?;
                targets.push((prog, fd, func));
            }
            "--enable" | "--disable" => {
                let prog = it
                    .next()
                    .ok_or_else(|| format!("{a} needs a program name"))?;
                autoload.push((prog, a == "--enable"));
            }
            "--pin-root-path" => {
                pin_root = it.next().ok_or("--pin-root-path needs a directory")?;
            }
            "--json" => json = true,
            "--register-struct-ops" => register_struct_ops = true,
            "--log-level" => {
                opts.log_level = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--log-level needs a number")?
            }
            o if !o.starts_with('-') && obj.is_none() => obj = Some(o),
            o => return Err(format!("unexpected argument {o}")),
        }
    }
    let obj = obj.ok_or("load needs an object file")?;
    let f = std::fs::File::open(obj).map_err(|e| format!("{obj}: {e}"))?;
    // libbpf's LIBBPF_PIN_BY_NAME: the map pinned at ROOT/NAME is reused (the module
    // checks it against the object); else the new map is pinned there. An object
    // this tool cannot parse goes to the module as it is, which says why.
    let by_name = bpfld::load::maps_pinned_by_name(obj).unwrap_or_default();
    let mut pin_by_name = Vec::new();
    for name in by_name {
        if reuse.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let path = std::path::Path::new(pin_root).join(&name);
        match bpfld::loaddir::obj_get(&path) {
            Ok(fd) => reuse.push((name, fd)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => pin_by_name.push((name, path)),
            Err(e) => return Err(format!("map {name}: BPF_OBJ_GET {}: {e}", path.display())),
        }
    }
    let reuse: Vec<(&str, std::os::fd::BorrowedFd<'_>)> = reuse
        .iter()
        .map(|(n, fd)| (n.as_str(), std::os::fd::AsFd::as_fd(fd)))
        .collect();
    let mut target_args = Vec::new();
    for (prog, fd, func) in &targets {
        let func = match func {
            Some(f) => f.clone(),
            None => bpfld::load::section_function(obj, prog)?,
        };
        let id = bpfld::sys::prog_func_btf_id(fd.as_raw_fd(), &func)
            .map_err(|e| format!("--attach-target {prog}: {func}: {e}"))?;
        target_args.push((*prog, std::os::fd::AsFd::as_fd(fd), id));
    }
    let extra = bpfld::dev::KLoadExtra {
        reuse,
        targets: target_args,
        autoload,
    };
    if register_struct_ops {
        opts.flags |= uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS;
    }
    if userspace {
        let lo = bpfld::load::LoadOpts {
            reuse: extra
                .reuse
                .iter()
                .map(|(n, fd)| (n.to_string(), fd.as_raw_fd()))
                .collect(),
            targets: extra
                .targets
                .iter()
                .map(|(n, fd, id)| (n.to_string(), fd.as_raw_fd(), *id))
                .collect(),
            autoload: extra
                .autoload
                .iter()
                .map(|(n, l)| (n.to_string(), *l))
                .collect(),
            register_struct_ops,
            ..Default::default()
        };
        let l = bpfld::load::load_userspace_with(obj, &lo).map_err(|e| e.to_string())?;
        let shown = Shown::of_userspace(&l, &lo);
        let maps = shown.maps.iter().map(|m| (m.name.as_str(), m.fd));
        let pinned = pin_maps_by_name(&pin_by_name, maps)?;
        if let Some(dir) = pin {
            shown
                .pin(dir)
                .inspect_err(|_| bpfld::sys::unpin(pinned.iter().map(|(_, p)| p)))?;
        }
        if json {
            // Not through the module: no policy, no time of its own; the digest is the
            // file's fs-verity digest as the module would check it.
            let digest = format!("sha256:{}", hex(&file_digest(obj)?));
            shown.print_json(obj, "userspace", &digest, &l.receipt, None);
        } else {
            print_userspace(&l, &pinned);
        }
        return Ok(());
    }
    let dev = open()?;
    let l = dev.load_with(&f, &opts, &extra).map_err(|e| {
        let d = if e.digest.is_empty() {
            String::new()
        } else {
            format!(" [{}]", format_digest(uapi::BPFLD_HASH_SHA256, &e.digest))
        };
        format!("{obj}{d}: {e}")
    })?;
    let maps = l.maps.iter().map(|m| (m.name.as_str(), m.fd.as_raw_fd()));
    let pinned_by_name = pin_maps_by_name(&pin_by_name, maps)?;
    let shown = Shown::of_module(&l);
    if let Some(dir) = pin {
        shown
            .pin(dir)
            .inspect_err(|_| bpfld::sys::unpin(pinned_by_name.iter().map(|(_, p)| p)))?;
    }
    let digest = format_digest(l.digest_algo, &l.digest);
    if json {
        shown.print_json(obj, "module", &digest, &l.receipt, Some(&l.stats));
    } else {
        println!("object {obj} {digest}");
        println!("receipt sha256:{}", hex(&l.receipt));
        println!(
            "cost {} us ({} us in the kernel's BPF commands), {} KiB",
            l.stats.time_ns / 1000,
            l.stats.bpf_time_ns / 1000,
            l.stats.mem_bytes.div_ceil(1024)
        );
        for p in &l.progs {
            println!(
                "prog {} section {} type {} fd {} id {} tag {}",
                p.name,
                p.section,
                p.prog_type,
                p.fd.as_raw_fd(),
                p.id,
                hex(&p.tag)
            );
        }
        for m in &l.maps {
            print!(
                "map {} type {} fd {} id {}",
                m.name,
                m.map_type,
                m.fd.as_raw_fd(),
                m.id
            );
            if let Some(a) = &m.arena {
                print!(" mapped at {:#x}", a.addr);
            }
            if m.reused {
                print!(" reused");
            }
            if let Some((_, p)) = pinned_by_name.iter().find(|(n, _)| *n == m.name) {
                print!(" pinned {}", p.display());
            }
            println!();
        }
    }
    Ok(())
}

/// What a load created, as `bpfld load` pins and prints it, from the module or from
/// the user-space executor.
struct Shown {
    progs: Vec<ShownProg>,
    maps: Vec<ShownMap>,
}

struct ShownProg {
    name: String,
    section: String,
    prog_type: u32,
    attach_type: u32,
    fd: std::os::fd::RawFd,
    id: u32,
    tag: [u8; 8],
}

struct ShownMap {
    name: String,
    map_type: u32,
    fd: std::os::fd::RawFd,
    id: u32,
    /// `LIBBPF_PIN_BY_NAME`: pinned at the pin root, not under `--pin`.
    pinning: bool,
    /// Where an arena is mapped in this process (0: not an arena, or not mapped).
    addr: u64,
    /// The caller's map, used in place of the object's: it has its pin already.
    reused: bool,
}

/// A [`ShownProg`] of a program of either executor (their types differ, their field
/// names do not).
macro_rules! shown_prog {
    ($p:expr) => {
        ShownProg {
            name: $p.name.clone(),
            section: $p.section.clone(),
            prog_type: $p.prog_type,
            attach_type: $p.expected_attach_type,
            fd: $p.fd.as_raw_fd(),
            id: $p.id,
            tag: $p.tag,
        }
    };
}

impl Shown {
    fn of_module(l: &bpfld::dev::KLoad) -> Shown {
        Shown {
            progs: l.progs.iter().map(|p| shown_prog!(p)).collect(),
            maps: l
                .maps
                .iter()
                .map(|m| ShownMap {
                    name: m.name.clone(),
                    map_type: m.map_type,
                    fd: m.fd.as_raw_fd(),
                    id: m.id,
                    pinning: m.pinning,
                    addr: m.arena.as_ref().map_or(0, |a| a.addr),
                    reused: m.reused,
                })
                .collect(),
        }
    }

    /// A user-space load: the map types from the kernel (the executor does not keep
    /// them), reused maps those the options named.
    fn of_userspace(l: &bpfld::load::UserLoad, lo: &bpfld::load::LoadOpts) -> Shown {
        Shown {
            progs: l.progs.iter().map(|p| shown_prog!(p)).collect(),
            maps: l
                .maps
                .iter()
                .map(|m| ShownMap {
                    name: m.name.clone(),
                    map_type: bpfld::sys::obj_info::<bpfld::sys::MapInfo>(m.fd.as_raw_fd())
                        .map_or(0, |i| i.map_type),
                    fd: m.fd.as_raw_fd(),
                    id: m.id,
                    pinning: m.pinning,
                    addr: 0,
                    reused: lo.reuse.iter().any(|(n, _)| *n == m.name),
                })
                .collect(),
        }
    }

    /// `--pin DIR`: each program as DIR/prog_NAME, each map the load made as
    /// DIR/map_NAME (a reused map has its pin already, and so has a map pinned by
    /// name). If one fails, the pins made before are removed, and DIR if this made it
    /// (libbpf's `bpf_object__pin()` unpins the same way): the objects go with the
    /// tool's fds.
    fn pin(&self, dir: &str) -> Result<(), String> {
        let existed = std::path::Path::new(dir).exists();
        std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
        let progs = self
            .progs
            .iter()
            .map(|p| (format!("{dir}/prog_{}", p.name), p.fd));
        let maps = self
            .maps
            .iter()
            .filter(|m| !m.reused && !m.pinning)
            .map(|m| {
                let name = m.name.trim_start_matches('.').replace('.', "_");
                (format!("{dir}/map_{name}"), m.fd)
            });
        let mut done = Vec::new();
        for (path, fd) in progs.chain(maps) {
            if let Err(e) = bpfld::sys::obj_pin(fd, &path) {
                bpfld::sys::unpin(done.iter());
                if !existed {
                    let _ = std::fs::remove_dir(dir);
                }
                return Err(format!("pin {path}: {e}"));
            }
            done.push(path);
        }
        Ok(())
    }

    /// `--json`: one object on one line. `stats` is the module's figures (null for
    /// the user-space executor).
    fn print_json(
        &self,
        obj: &str,
        executor: &str,
        digest: &str,
        receipt: &[u8; 32],
        stats: Option<&bpfld::dev::KStats>,
    ) {
        let progs: Vec<String> = self
            .progs
            .iter()
            .map(|p| {
                format!(
                    "{{\"name\":{},\"section\":{},\"type\":{},\"attach_type\":{},\"fd\":{},\"id\":{},\"tag\":\"{}\"}}",
                    json_str(&p.name),
                    json_str(&p.section),
                    p.prog_type,
                    p.attach_type,
                    p.fd,
                    p.id,
                    hex(&p.tag)
                )
            })
            .collect();
        let maps: Vec<String> = self
            .maps
            .iter()
            .map(|m| {
                format!(
                    "{{\"name\":{},\"type\":{},\"fd\":{},\"id\":{},\"pinning\":{},\"addr\":{},\"reused\":{}}}",
                    json_str(&m.name),
                    m.map_type,
                    m.fd,
                    m.id,
                    m.pinning,
                    m.addr,
                    m.reused
                )
            })
            .collect();
        let num = |v: Option<u64>| v.map_or_else(|| "null".to_string(), |v| v.to_string());
        println!(
            "{{\"object\":{},\"executor\":\"{executor}\",\"digest\":\"{digest}\",\"receipt\":\"sha256:{}\",\"time_ns\":{},\"bpf_time_ns\":{},\"mem_bytes\":{},\"programs\":[{}],\"maps\":[{}]}}",
            json_str(obj),
            hex(receipt),
            num(stats.map(|s| s.time_ns)),
            num(stats.map(|s| s.bpf_time_ns)),
            num(stats.map(|s| s.mem_bytes)),
            progs.join(","),
            maps.join(",")
        );
    }
}

/// Pin the maps of `maps` (name, fd) that `todo` lists (by-name maps that had no pin)
/// at their paths; if one fails, remove the pins made and fail, as libbpf's load does.
fn pin_maps_by_name<'m>(
    todo: &[(String, std::path::PathBuf)],
    maps: impl Iterator<Item = (&'m str, std::os::fd::RawFd)>,
) -> Result<Vec<(String, std::path::PathBuf)>, String> {
    let maps: Vec<_> = maps.collect();
    let mut done = Vec::new();
    for (name, path) in todo {
        let Some(&(_, fd)) = maps.iter().find(|(n, _)| n == name) else {
            continue;
        };
        if let Err(e) = bpfld::sys::obj_pin(fd, &path.to_string_lossy()) {
            bpfld::sys::unpin(done.iter().map(|(_, p)| p));
            return Err(format!("map {name}: pin {}: {e}", path.display()));
        }
        done.push((name.clone(), path.clone()));
    }
    Ok(done)
}

fn print_userspace(l: &bpfld::load::UserLoad, pinned: &[(String, std::path::PathBuf)]) {
    for p in &l.progs {
        println!(
            "prog {} section {} id {} tag {}",
            p.name,
            p.section,
            p.id,
            hex(&p.tag)
        );
    }
    for m in &l.maps {
        match pinned.iter().find(|(n, _)| *n == m.name) {
            Some((_, p)) => println!("map {} id {} pinned {}", m.name, m.id, p.display()),
            None => println!("map {} id {}", m.name, m.id),
        }
    }
}

/// fs-verity digest of a file, computed by bpfld-core while streaming it.
pub fn file_digest(path: &str) -> Result<[u8; 32], String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let size = f.metadata().map_err(|e| format!("{path}: {e}"))?.len();
    let mut h = bpfld_core::digest::VerityHasher::new(size).map_err(|e| format!("{path}: {e}"))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("{path}: {e}"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]).map_err(|e| format!("{path}: {e}"))?;
    }
    h.finish().map_err(|e| format!("{path}: {e}"))
}

fn digest(files: &[&str]) -> Result<(), String> {
    for f in files {
        println!("sha256:{} {f}", hex(&file_digest(f)?));
    }
    Ok(())
}

fn trust_change(what: &str, enroll: bool) -> Result<(), String> {
    let d = match parse_digest(what) {
        Some(d) => d,
        None if std::path::Path::new(what).exists() => {
            bpfld::dev::digest_arg(uapi::BPFLD_HASH_SHA256, &file_digest(what)?).ok_or("digest")?
        }
        None => {
            return Err(format!(
                "{what}: neither sha256:HEX / sha512:HEX nor a file"
            ))
        }
    };
    let dev = open()?;
    let res = if enroll {
        dev.trust_add(&d)
    } else {
        dev.trust_revoke(&d)
    };
    res.map_err(|e| {
        format!(
            "{}: {e}",
            format_digest(d.algo, &d.digest[..d.size as usize])
        )
    })?;
    println!(
        "{} {}",
        if enroll { "trusted" } else { "revoked" },
        format_digest(d.algo, &d.digest[..d.size as usize])
    );
    Ok(())
}

fn trust_list() -> Result<(), String> {
    let (entries, flags) = open()?
        .trust_list()
        .map_err(|e| format!("trust list: {e}"))?;
    println!(
        "policy: {}{}",
        if flags & uapi::BPFLD_POLICY_SEALED != 0 {
            "sealed"
        } else {
            "open"
        },
        if flags & uapi::BPFLD_POLICY_PERMISSIVE != 0 {
            ", DEVELOPMENT MODE (any verity file trusted)"
        } else {
            ""
        }
    );
    for e in entries {
        let state = match e.state {
            uapi::BPFLD_TRUST_BUILTIN => "builtin",
            uapi::BPFLD_TRUST_RUNTIME => "enrolled",
            uapi::BPFLD_TRUST_REVOKED => "revoked",
            _ => "?",
        };
        println!(
            "{state} {}",
            format_digest(e.digest.algo, &e.digest.digest[..e.digest.size as usize])
        );
    }
    Ok(())
}
