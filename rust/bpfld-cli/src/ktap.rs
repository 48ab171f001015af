// SPDX-License-Identifier: GPL-2.0-only

//! A KTAP (TAP version 13) writer for the in-VM selftests.
//!
//! Output goes to stdout and, line by line and flushed, to a results file on a
//! host-shared directory, so the host learns exactly how far the run got even if the
//! VM dies: a missing `# totals` line means the run did not finish.

use std::fs::File;
use std::io::Write;

/// Move `f` to an fd number >= 1000, out of reach of tests that clobber low fds on
/// purpose (the fd-swap race test).
fn high_fd(f: File) -> std::io::Result<File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: F_DUPFD_CLOEXEC duplicates a valid fd; the new one is ours.
    let n = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 1000) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `n` is a fresh fd we own.
    Ok(unsafe { File::from_raw_fd(n) })
}

/// A test result.
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed, with the reason.
    Fail(String),
    /// Skipped, with the reason.
    Skip(String),
}

/// Writes the plan, one line per test, and the totals.
pub struct Ktap {
    out: Option<File>,
    n: usize,
    /// Passed count.
    pub passed: usize,
    /// Failed count.
    pub failed: usize,
    /// Skipped count.
    pub skipped: usize,
}

impl Ktap {
    /// Start a run of `planned` tests, mirroring to `path` if given.
    pub fn new(planned: usize, path: Option<&str>) -> std::io::Result<Ktap> {
        let out = match path {
            Some(p) => Some(high_fd(File::create(p)?)?),
            None => None,
        };
        let mut k = Ktap {
            out,
            n: 0,
            passed: 0,
            failed: 0,
            skipped: 0,
        };
        k.line("TAP version 13");
        k.line(&format!("1..{planned}"));
        Ok(k)
    }

    fn line(&mut self, s: &str) {
        println!("{s}");
        if let Some(f) = self.out.as_mut() {
            // A failed write shows up on the host as a truncated file: nothing to do here.
            let _ = writeln!(f, "{s}");
            let _ = f.flush();
            let _ = f.sync_data();
        }
    }

    /// Diagnostic line (`# ...`).
    pub fn diag(&mut self, s: &str) {
        for l in s.lines() {
            self.line(&format!("# {l}"));
        }
    }

    /// Record one test.
    pub fn result(&mut self, name: &str, outcome: Outcome) {
        self.n += 1;
        let n = self.n;
        match outcome {
            Outcome::Pass => {
                self.passed += 1;
                self.line(&format!("ok {n} {name}"));
            }
            Outcome::Skip(why) => {
                self.skipped += 1;
                self.line(&format!("ok {n} {name} # SKIP {why}"));
            }
            Outcome::Fail(why) => {
                self.failed += 1;
                self.diag(&why);
                self.line(&format!("not ok {n} {name}"));
            }
        }
    }

    /// Write the totals line; returns whether everything passed.
    pub fn finish(mut self) -> bool {
        let s = format!(
            "# totals: pass:{} fail:{} skip:{}",
            self.passed, self.failed, self.skipped
        );
        self.line(&s);
        self.failed == 0
    }
}
