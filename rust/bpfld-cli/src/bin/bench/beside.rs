// SPDX-License-Identifier: GPL-2.0-only

//! A thread kept between loads that runs work beside the loading one, as bpfld.ko's
//! `bpfld_beside` workqueue does (`rust/bpfld/helpers.c`): the plan while the object's
//! BTF is loaded, the receipt's hash and the deferred BTF check while the commands are
//! issued. The waiting side spins while the work runs, bounded, as the module's does.
//! The work goes to a CPU other than the caller's, as the module queues it
//! (`queue_work_on()` another CPU): woken on the caller's CPU, the helper would wait
//! there until the caller blocks, and the two would run one after the other.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

type Task = Box<dyn FnOnce() + Send + 'static>;

/// The module's longest spin (`BPFLD_SPIN_NS`).
const SPIN: Duration = Duration::from_millis(5);

/// One helper thread, asleep between tasks.
pub struct Beside {
    tx: Option<Sender<Task>>,
    thread: Option<JoinHandle<()>>,
    /// The helper's thread id, and the one CPU it may run on (-1: any).
    tid: Arc<AtomicI32>,
    cpu: AtomicI32,
}

/// A raw pointer handed to the helper: the slot its task writes its result into.
struct Slot<T>(*mut Option<thread::Result<T>>);
// SAFETY: the slot is written by the helper only, and read by the owner only after the
// helper's release store of the done flag (acquired in `Wait::drop`).
unsafe impl<T: Send> Send for Slot<T> {}

/// Waits, even while unwinding, until the helper's task has returned: the task borrows
/// the caller's frame.
struct Wait<'f>(&'f AtomicBool);

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let until = Instant::now() + SPIN;
        while !self.0.load(Ordering::Acquire) {
            if Instant::now() < until {
                std::hint::spin_loop();
            } else {
                thread::yield_now();
            }
        }
    }
}

impl Beside {
    pub fn start() -> Beside {
        let (tx, rx) = mpsc::channel::<Task>();
        let tid = Arc::new(AtomicI32::new(0));
        let t = tid.clone();
        let thread = thread::Builder::new()
            .name("bpfld-beside".into())
            .spawn(move || {
                // SAFETY: no arguments; returns this thread's id.
                t.store(unsafe { libc::gettid() }, Ordering::Release);
                while let Ok(task) = rx.recv() {
                    task();
                }
            })
            .expect("spawning the helper thread");
        while tid.load(Ordering::Acquire) == 0 {
            thread::yield_now();
        }
        Beside {
            tx: Some(tx),
            thread: Some(thread),
            tid,
            cpu: AtomicI32::new(-1),
        }
    }

    /// Keep the helper off the CPU this thread runs on (one `sched_setaffinity` when
    /// that changes; nothing with a single CPU allowed).
    fn away_from_here(&self) {
        // SAFETY: no arguments.
        let here = unsafe { libc::sched_getcpu() };
        let pinned = self.cpu.load(Ordering::Relaxed);
        if here < 0 || (pinned >= 0 && pinned != here) {
            return;
        }
        // SAFETY: a zeroed cpu_set_t is a valid empty set, filled by the kernel.
        let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `allowed` is a cpu_set_t of the size passed.
        if unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&allowed), &mut allowed) } != 0
        {
            return;
        }
        let n = 8 * std::mem::size_of_val(&allowed) as i32;
        // SAFETY: CPU_ISSET reads `allowed` at an index below its size.
        let Some(other) =
            (0..n).find(|&c| c != here && unsafe { libc::CPU_ISSET(c as usize, &allowed) })
        else {
            return;
        };
        // SAFETY: as above.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `other` is below the set's size.
        unsafe { libc::CPU_SET(other as usize, &mut set) };
        let tid = self.tid.load(Ordering::Acquire);
        // SAFETY: `set` is a cpu_set_t of the size passed; `tid` is our helper's.
        if unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) } == 0 {
            self.cpu.store(other, Ordering::Relaxed);
        }
    }

    /// Run `side` on the helper thread and `here` on this one, and return both results
    /// once both have returned (a panic in either is raised here, after both).
    pub fn join<'s, A: Send + 's, B>(
        &self,
        side: impl FnOnce() -> A + Send + 's,
        here: impl FnOnce() -> B,
    ) -> (A, B) {
        let mut out: Option<thread::Result<A>> = None;
        let done = Arc::new(AtomicBool::new(false));
        let slot = Slot(&mut out);
        let flag = done.clone();
        let task: Box<dyn FnOnce() + Send + 's> = Box::new(move || {
            let slot = slot;
            let r = panic::catch_unwind(AssertUnwindSafe(side));
            // SAFETY: `out` outlives the task (`Wait` below), and nothing else touches
            // it until `flag` is set.
            unsafe { *slot.0 = Some(r) };
            flag.store(true, Ordering::Release);
        });
        // SAFETY: only the lifetime changes. The task borrows this frame for 's; `wait`
        // keeps the frame until the task has returned, unwinding included, and a task
        // the helper never got is run right here instead.
        let task: Task =
            unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 's>, Task>(task) };
        self.away_from_here();
        let wait = Wait(&done);
        if let Err(mpsc::SendError(task)) = self.tx.as_ref().expect("helper alive").send(task) {
            task();
        }
        let b = here();
        drop(wait);
        match out.take().expect("the task ran") {
            Ok(a) => (a, b),
            Err(p) => panic::resume_unwind(p),
        }
    }
}

impl Drop for Beside {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Beside;
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn join_returns_both_and_borrows_the_frame() {
        let b = Beside::start();
        let data: Vec<u64> = (1..=3).collect();
        let mut here_out = 0;
        for round in 0..50u64 {
            let (side, here) = b.join(
                || data.iter().sum::<u64>() + round,
                || {
                    here_out += 1;
                    round
                },
            );
            assert_eq!(side, 6 + round);
            assert_eq!(here, round);
        }
        assert_eq!(here_out, 50);
    }

    #[test]
    fn side_runs_on_another_thread() {
        let b = Beside::start();
        let me = std::thread::current().id();
        let (other, _) = b.join(|| std::thread::current().id(), || ());
        assert_ne!(other, me);
    }

    #[test]
    fn a_panic_here_still_waits_for_the_side() {
        let b = Beside::start();
        let done = AtomicBool::new(false);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            b.join(
                || {
                    std::thread::sleep(Duration::from_millis(20));
                    done.store(true, Ordering::SeqCst);
                },
                || panic!("here"),
            )
        }));
        assert!(r.is_err());
        // The side had finished before the unwinding left join.
        assert!(done.load(Ordering::SeqCst));
        // And the helper is still there for the next join.
        assert_eq!(b.join(|| 7, || 8), (7, 8));
    }

    #[test]
    fn a_panic_beside_is_raised_after_both() {
        let b = Beside::start();
        let mut ran = false;
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            b.join(|| panic!("beside"), || ran = true)
        }));
        assert!(r.is_err());
        assert!(ran);
        assert_eq!(b.join(|| 1, || 2), (1, 2));
    }
}
