// SPDX-License-Identifier: GPL-2.0-only

//! libbpf's side: `selftests/tools/libbpf_bench serve` (linked statically with the
//! tree's libbpf) runs one load or BTF parse per request, so that its runs can be
//! interleaved with bpfld's and both see the same machine.

use crate::stats::{time, Stats, Table};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// One `bpf_object__open_file` + `bpf_object__load`.
#[derive(Clone, Debug, Default)]
pub struct LoadSample {
    pub total_ns: u64,
    /// `bpf_object__open_file` alone (ELF, BTF and object parsing).
    pub open_ns: u64,
    /// Inside `bpf(2)`.
    pub bpf_ns: u64,
    pub bpf_calls: u32,
    /// Most heap held during open and load.
    pub peak: u64,
    pub progs: usize,
    pub maps: usize,
    /// `CMD:COUNT,...`
    pub cmds: String,
    /// Nanoseconds inside `bpf(2)` per command, by libbpf's command name.
    pub cmd_ns: Vec<(String, u64)>,
}

/// The BPF commands bpfld issues, by libbpf's names: the columns of [`cmd_table`].
pub const CMDS: [&str; 5] = bpfld_core::exec::Cmd::NAMES;

impl LoadSample {
    /// Nanoseconds inside `bpf(2)` for command `cmd`, or for all commands not in
    /// [`CMDS`] (`None`).
    pub fn ns_of(&self, cmd: Option<&str>) -> u64 {
        self.cmd_ns
            .iter()
            .filter(|(k, _)| match cmd {
                Some(c) => k == c,
                None => !CMDS.contains(&k.as_str()),
            })
            .map(|(_, n)| n)
            .sum()
    }
}

/// One object's row of [`cmd_table`]: its name, bpfld's nanoseconds per [`CMDS`]
/// command of each load, libbpf's loads.
pub type CmdRow<'a> = (&'a str, Vec<[u64; 5]>, &'a [LoadSample]);

/// The kernel's time per BPF command, medians, "bpfld / libbpf", one row per object.
pub fn cmd_table(rows: &[CmdRow<'_>]) -> Table {
    let mut heads = vec!["object"];
    heads.extend(CMDS);
    heads.push("other");
    let mut t = Table::new(&heads);
    let med = |v: Vec<u64>| Stats::of(&v).map(|s| time(s.median)).unwrap_or_default();
    for (name, ours, lib) in rows {
        if ours.is_empty() {
            continue;
        }
        let mut cells = vec![name.to_string()];
        for (i, c) in CMDS.iter().enumerate() {
            cells.push(format!(
                "{} / {}",
                med(ours.iter().map(|s| s[i]).collect()),
                med(lib.iter().map(|s| s.ns_of(Some(c))).collect())
            ));
        }
        cells.push(format!(
            "- / {}",
            med(lib.iter().map(|s| s.ns_of(None)).collect())
        ));
        t.row(cells);
    }
    t
}

/// One `btf__parse`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BtfSample {
    pub ns: u64,
    /// Heap held by the parsed BTF.
    pub live: u64,
    /// Most heap held while parsing.
    pub peak: u64,
    pub types: u32,
}

/// A running `libbpf_bench serve`; a new one is a new process, whose first load runs
/// libbpf's feature probes.
pub struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn num<T: std::str::FromStr>(f: Option<&str>, line: &str) -> Result<T, String> {
    f.and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("libbpf_bench: bad line '{line}'"))
}

impl Server {
    pub fn start(bin: &str) -> Result<Server, String> {
        let mut child = Command::new(bin)
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{bin}: {e}"))?;
        let stdin = child.stdin.take().ok_or("libbpf_bench: no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("libbpf_bench: no stdout")?);
        Ok(Server {
            child,
            stdin,
            stdout,
        })
    }

    /// Send one request; its answer without the kind and counter.
    fn ask(&mut self, req: &str) -> Result<String, String> {
        writeln!(self.stdin, "{req}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("libbpf_bench: {e}"))?;
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) | Err(_) => return Err("libbpf_bench died".into()),
            Ok(_) => {}
        }
        let line = line.trim_end();
        let mut f = line.splitn(3, ' ');
        let kind = f.next().unwrap_or_default();
        let rest = f.nth(1).unwrap_or_default();
        if kind == "fail" {
            let (errno, msg) = rest.split_once(' ').unwrap_or((rest, "-"));
            let errno: i32 = errno.parse().unwrap_or(0);
            return Err(format!(
                "libbpf: {} ({})",
                std::io::Error::from_raw_os_error(errno),
                msg.trim()
            ));
        }
        Ok(rest.to_string())
    }

    /// Open and load `obj` once.
    pub fn load(&mut self, obj: &str) -> Result<LoadSample, String> {
        let line = self.ask(&format!("load {obj}"))?;
        let mut f = line.split(' ');
        let l = line.as_str();
        Ok(LoadSample {
            total_ns: num(f.next(), l)?,
            open_ns: num(f.next(), l)?,
            bpf_ns: num(f.next(), l)?,
            bpf_calls: num(f.next(), l)?,
            peak: num(f.next(), l)?,
            progs: {
                let _live: u64 = num(f.next(), l)?;
                num(f.next(), l)?
            },
            maps: num(f.next(), l)?,
            cmds: f.next().unwrap_or("-").to_string(),
            cmd_ns: f
                .next()
                .unwrap_or("-")
                .split(',')
                .filter_map(|c| {
                    let (k, v) = c.split_once(':')?;
                    Some((k.to_string(), v.parse().ok()?))
                })
                .collect(),
        })
    }

    /// `btf__parse(path)` once.
    pub fn btf(&mut self, path: &str) -> Result<BtfSample, String> {
        let line = self.ask(&format!("btf {path}"))?;
        let mut f = line.split(' ');
        let l = line.as_str();
        Ok(BtfSample {
            ns: num(f.next(), l)?,
            live: num(f.next(), l)?,
            peak: num(f.next(), l)?,
            types: num(f.next(), l)?,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Nothing of it outlives the benchmark.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
