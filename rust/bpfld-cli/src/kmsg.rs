// SPDX-License-Identifier: GPL-2.0-only

//! The kernel log (`/dev/kmsg`), read without blocking, for the tools that watch the
//! kernel while they load: the fuzzer, the parity harness and the selftests.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

/// The line [`KernelLog::drain`] puts where records were overwritten before being read.
pub const OVERWRITTEN: &str = "[kernel log records were overwritten before they were read]";

/// A reader of `/dev/kmsg`.
pub struct KernelLog(File);

impl KernelLog {
    /// From the oldest record still in the ring buffer.
    pub fn open() -> Result<KernelLog, String> {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map(KernelLog)
            .map_err(|e| format!("/dev/kmsg: {e}"))
    }

    /// From the next record on.
    pub fn open_at_end() -> Result<KernelLog, String> {
        let log = Self::open()?;
        // SAFETY: lseek(2) on an fd we own; SEEK_END on /dev/kmsg skips the backlog.
        unsafe { libc::lseek(log.0.as_raw_fd(), 0, libc::SEEK_END) };
        Ok(log)
    }

    /// The first line of each record logged since the last call (its text, without the
    /// `prio,seq,usec,flags;` prefix); [`OVERWRITTEN`] where records were lost.
    pub fn drain(&mut self) -> Vec<String> {
        self.records()
            .into_iter()
            .map(|r| r.map_or_else(|| OVERWRITTEN.to_string(), |(_, text)| text))
            .collect()
    }

    /// Each record logged since the last call, with its sequence number (the kernel
    /// numbers records from 0 at boot); `None` where the reader fell behind and the
    /// ring buffer overwrote records before they were read.
    pub fn records(&mut self) -> Vec<Option<(u64, String)>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.push(parse_record(&buf[..n])),
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => out.push(None),
                Err(_) => break,
            }
        }
        out
    }
}

/// One record read from `/dev/kmsg`: `prio,seq,usec,flags[,...];text`, then dictionary
/// lines that start with a space. The text's own newlines come escaped (`\x0a`), so its
/// first line is all of it. A record without a sequence number counts as lost.
fn parse_record(raw: &[u8]) -> Option<(u64, String)> {
    let rec = String::from_utf8_lossy(raw);
    let (prefix, text) = rec.split_once(';')?;
    let seq = prefix.split(',').nth(1)?.parse().ok()?;
    Some((seq, text.lines().next().unwrap_or("").to_string()))
}

/// The whole kernel log since boot, one line per record, or why it cannot be had: the
/// ring buffer wrapped (its oldest records are gone: boot with a larger `log_buf_len=`)
/// or records were overwritten while being read.
pub fn since_boot() -> Result<Vec<String>, String> {
    let records = KernelLog::open()?.records();
    let mut lines = Vec::with_capacity(records.len());
    let mut next = 0u64;
    for r in records {
        match r {
            Some((seq, text)) if seq == next => {
                lines.push(text);
                next += 1;
            }
            Some((seq, _)) => {
                return Err(format!(
                    "kernel log records {next}..{seq} were overwritten before they were read \
                     (the ring buffer is too small for the run: raise log_buf_len=)"
                ))
            }
            None => {
                return Err(format!(
                    "kernel log records after {next} were overwritten while being read"
                ))
            }
        }
    }
    Ok(lines)
}

/// Follows OOM reports through log lines: from "invoked oom-killer" to "Killed process".
/// A report's stack trace is expected when a load runs the machine out of memory; the
/// callers leave it out of what they call a splat.
///
/// So is the report of an allocation that fails after the kill (`warn_alloc()`: "page
/// allocation failure" or "vmalloc error", up to its stack trace): the killed caller's
/// loading thread gets its SIGKILL and the allocator lets a dying task's allocation fail
/// rather than kill again, which is the point. Allocations made without `__GFP_NOWARN`
/// report it, e.g. the KASAN kernel's shadow pages for a map's vmalloc area. Only after
/// a kill: an allocation failure on its own is still a splat. Or between
/// [`INJECTION_ON`] and [`INJECTION_OFF`], which the selftests log around the loads
/// whose allocations they make fail (`stress_alloc_failures`).
#[derive(Default)]
pub struct OomReports {
    inside: bool,
    killed: bool,
    injecting: bool,
    failure: bool,
}

/// Logged (to `/dev/kmsg`) before allocation failures are injected: the failure reports
/// that follow, up to [`INJECTION_OFF`], are expected.
pub const INJECTION_ON: &str = "bpfld-selftests: allocation failures injected from here";
/// Logged once allocation failures are no longer injected.
pub const INJECTION_OFF: &str = "bpfld-selftests: allocation failures injected up to here";

impl OomReports {
    /// Whether `line`, the next line of the log, is inside an OOM report (or the report
    /// of an allocation failure that follows a kill).
    pub fn inside(&mut self, line: &str) -> bool {
        if line.contains("invoked oom-killer:") {
            self.inside = true;
        } else if line.contains("Killed process") {
            self.inside = false;
            self.killed = true;
        } else if line.contains("Out of memory and no killable processes") {
            // A cgroup whose tasks may not be killed: the charge fails instead (the
            // allocation's ENOMEM), and the report ends here.
            self.inside = false;
            return true;
        } else if line.contains(INJECTION_ON) {
            self.injecting = true;
        } else if line.contains(INJECTION_OFF) {
            self.injecting = false;
        } else if (self.killed || self.injecting)
            && (line.contains("page allocation failure:") || line.contains("vmalloc error:"))
        {
            self.failure = true;
        } else if self.failure && line.contains("Call Trace") {
            self.failure = false;
            return true;
        }
        self.inside || self.failure
    }
}

/// Markers of kernel log lines that mean something went wrong in the kernel: warnings,
/// bugs, sanitizer and lockdep reports, stalls, hung tasks, and kmemleak giving up. One
/// list for every tool that watches the log (fuzzer, parity harness, selftests).
pub const SPLATS: &[&str] = &[
    "BUG:",
    "WARNING:",
    "KASAN",
    "UBSAN",
    "Oops",
    "Call Trace",
    "general protection fault",
    "kernel BUG",
    "list_add corruption",
    "list_del corruption",
    "refcount_t:",
    "possible circular locking",
    "possible recursive locking",
    "inconsistent lock state",
    "suspicious RCU usage",
    "sleeping function called",
    "INFO: task",
    "rcu_sched self-detected stall",
    "rcu: INFO",
    "stack-protector",
    "panicked at",
    "Kernel panic",
    "leak detector disabled",
    "Memory pool empty",
];

/// Whether `line` is a splat ([`SPLATS`]).
pub fn is_splat(line: &str) -> bool {
    SPLATS.iter().any(|p| line.contains(p))
}

/// The splats among `lines`, leaving out the stack trace of OOM reports (from "invoked
/// oom-killer" to "Killed process", and allocation failures after the kill; see
/// [`OomReports`]): a load whose maps need more memory than the machine has gets its
/// caller OOM-killed, which is the expected outcome.
pub fn splats<S: AsRef<str>>(lines: &[S]) -> Vec<&S> {
    // A log that starts inside an injection (its INJECTION_ON lost) cannot reach here:
    // since_boot() refuses a log whose oldest records are gone, and the tools that read
    // the log from their start (fuzzer, parity harness) inject no failures.
    let mut oom = OomReports::default();
    lines
        .iter()
        .filter(|l| {
            let l = l.as_ref();
            let in_oom = oom.inside(l);
            is_splat(l) && !(in_oom && l.contains("Call Trace"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{parse_record, splats, OomReports};

    #[test]
    fn records_carry_their_sequence_number() {
        assert_eq!(
            parse_record(b"6,1234,880953720,-;bpfld: loaded 'x'\n SUBSYSTEM=misc\n"),
            Some((1234, "bpfld: loaded 'x'".to_string()))
        );
        assert_eq!(
            parse_record(b"4,0,0,-,caller=T1;Linux version 6.12\n"),
            Some((0, "Linux version 6.12".to_string()))
        );
        assert_eq!(parse_record(b"garbage"), None);
        assert_eq!(parse_record(b"6,x,0,-;text"), None);
    }

    #[test]
    fn splats_leave_out_oom_stack_traces_only() {
        let lines = [
            "bpfld: loaded 'x'",
            "bpfld-load invoked oom-killer: gfp_mask=0x2cc2",
            "Call Trace:",
            "WARNING: CPU: 1 PID: 2 at mm/page_alloc.c:1 inside the report",
            "Out of memory: Killed process 302 (bpfld-selftests)",
            "Call Trace:",
            "INFO: task rmmod:99 blocked for more than 120 seconds.",
        ];
        assert_eq!(
            splats(&lines),
            [&lines[3], &lines[5], &lines[6]],
            "the OOM report's own trace is expected; nothing else is"
        );
    }

    #[test]
    fn oom_reports_span_from_the_invocation_to_the_kill() {
        let lines = [
            "WARNING: before",
            "bpfld-load invoked oom-killer: gfp_mask=0x2cc2",
            "Call Trace:",
            "Out of memory: Killed process 302 (bpfld-selftests)",
            "Call Trace:",
        ];
        let mut o = OomReports::default();
        let inside: Vec<bool> = lines.iter().map(|l| o.inside(l)).collect();
        assert_eq!(inside, [false, true, true, false, false]);
    }

    #[test]
    fn a_report_without_a_kill_ends_at_no_killable_processes() {
        // A memory cgroup whose only task has oom_score_adj -1000: the charge fails,
        // nothing is killed.
        let lines = [
            "bpfld-selftests invoked oom-killer: gfp_mask=0x4dc2, order=0, oom_score_adj=-1000",
            "Call Trace:",
            "Out of memory and no killable processes...",
            "Call Trace:",
        ];
        let mut o = OomReports::default();
        let inside: Vec<bool> = lines.iter().map(|l| o.inside(l)).collect();
        assert_eq!(inside, [true, true, true, false]);
        assert_eq!(splats(&lines), [&lines[3]]);
    }

    #[test]
    fn allocation_failures_are_expected_only_after_a_kill() {
        // Seed 7 input 73,142 on the KASAN kernel: the child is killed, then the loading
        // thread's shadow-page allocation fails and says so.
        let lines = [
            "bpfld-load: page allocation failure: order:0, mode:0x40dc0(GFP_KERNEL|__GFP_COMP|__GFP_ZERO)",
            "Call Trace:",
            "bpfld-load invoked oom-killer: gfp_mask=0x40dc0(GFP_KERNEL|__GFP_COMP|__GFP_ZERO), order=0",
            "Call Trace:",
            "Out of memory: Killed process 160 (bpfld-fuzz) total-vm:61360kB",
            "bpfld-load: page allocation failure: order:0, mode:0x40dc0(GFP_KERNEL|__GFP_COMP|__GFP_ZERO)",
            "CPU: 1 UID: 0 PID: 142 Comm: bpfld-load Tainted: G           O       6.12.117 #1",
            "Call Trace:",
            "Mem-Info:",
            "Call Trace:",
            "vmalloc error: size 268435456, failed to allocate pages, mode:0xdc0(GFP_KERNEL|__GFP_ZERO)",
            "Call Trace:",
            "WARNING: CPU: 0 PID: 7 at mm/slub.c:1 after the kill",
        ];
        assert_eq!(
            splats(&lines),
            [&lines[1], &lines[9], &lines[12]],
            "before the kill an allocation failure is a splat; after it, its one trace is not"
        );
    }

    #[test]
    fn allocation_failures_are_expected_while_injected() {
        let lines = [
            "bpfld-load: vmalloc error: size 4096, vm_struct allocation failed, mode:0x100dc0",
            "Call Trace:",
            super::INJECTION_ON,
            "bpfld-load: vmalloc error: size 4096, vm_struct allocation failed, mode:0x100dc0",
            "CPU: 0 UID: 0 PID: 245 Comm: bpfld-load Tainted: G           O       6.12.118 #1",
            "Call Trace:",
            "WARNING: CPU: 0 PID: 245 at kernel/bpf/syscall.c:1 while injecting",
            super::INJECTION_OFF,
            "bpfld-load: page allocation failure: order:0, mode:0x40dc0(GFP_KERNEL|__GFP_COMP)",
            "Call Trace:",
        ];
        assert_eq!(
            splats(&lines),
            [&lines[1], &lines[6], &lines[9]],
            "only a failure report's own trace between the markers is expected"
        );
    }
}
