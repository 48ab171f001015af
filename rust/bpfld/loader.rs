// SPDX-License-Identifier: GPL-2.0

//! `BPFLD_IOC_LOAD`: from an fd to program and map fds.
//!
//! 1. Check the request (sizes, flags, reserved fields).
//! 2. The object: a regular file with fs-verity, whose digest the policy trusts, no
//!    larger than the core's limit; read once, through the page cache where fs-verity
//!    verifies every page, into a private buffer: the headers and every section but
//!    DWARF's (`elf::read_used`), which nothing uses, packed; a file of at most 16 KiB
//!    whole, in one call. Nothing else is read from the file.
//! 3. Parse and plan with `bpfld_core` (vmlinux BTF only if the object needs it).
//! 4. Execute the plan in a kernel thread (from a pool) that impersonates the caller
//!    but owns a file table no user task can touch (see `bpfld_iso_begin` in
//!    helpers.c); the created objects come back as file references.
//! 5. Reserve fds in the caller, copy the results out, check the digest is still
//!    trusted, register the plain struct_ops maps if asked, and only then install the
//!    fds: a failure at any step releases everything and leaves the caller's table as
//!    it was.
//!
//! Every load and refusal is logged once, with the caller, the digest and the result.

use crate::ffi;
use crate::ffi::file;
use crate::kalloc::KAlloc;
use crate::msg::{c_text, hex, name_into, neg_errno, Escaped, EscapedBytes, Msg};
use crate::policy::Verdict;
use crate::uapi::{
    self, BpfldAttachTarget, BpfldDigest, BpfldLoad, BpfldLoadOpts, BpfldMapInfo, BpfldMapReuse,
    BpfldProgAutoload, BpfldProgInfo,
};
use crate::vmlinux::{BuiltConfig, LoadBtf, LookedUpSymbols, Vmlinux};
use crate::State;
use bpfld_core::elf::{self, Elf, Image, Packed, ReadError};
use bpfld_core::exec::{self, Bpf, Cmd, Log, ReuseFail};
use bpfld_core::limits;
use bpfld_core::object::{MapDef, MapKind, Object, ParseOptions, Slot, SlotTarget};
use bpfld_core::plan::{self, KernelBtf, KernelInfo, Plan, PlannedModule, StOpsPlan};
use bpfld_core::uapi as bpf;
use core::ffi::{c_int, c_void};
use core::fmt::Write;
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::types::FromBytes;
use kernel::uaccess::UserSlice;

const ENODATA: i32 = 61;
const ESRCH: i32 = 3;
const EKEYREVOKED: i32 = 128;
const EKEYREJECTED: i32 = 129;

/// Why a load failed: errno plus a message for the caller and the log. The message is
/// on the heap: a `Fail` travels through many frames of the loading thread, whose
/// stack is 16 KiB.
struct Fail {
    errno: i32,
    msg: Option<KBox<Msg<256>>>,
}

impl Fail {
    fn text(&self) -> &str {
        self.msg
            .as_deref()
            .map(Msg::as_str)
            .unwrap_or("(no memory for the message)")
    }

    fn bytes(&self) -> [u8; 256] {
        self.msg.as_deref().map(|m| m.buf).unwrap_or([0; 256])
    }
}

/// `ENOTSUPP`: kernel-internal, though some BPF commands return it to user space, which
/// sees "Unknown error 524". The caller gets `EOPNOTSUPP`; the message keeps the
/// kernel's number.
const ENOTSUPP: i32 = 524;
const EOPNOTSUPP: i32 = 95;

#[inline(never)]
fn fail(errno: i32, args: core::fmt::Arguments<'_>) -> Fail {
    let msg = KBox::new(Msg::new(), GFP_KERNEL).ok().map(|mut m| {
        let _ = m.write_fmt(args);
        m
    });
    let errno = if errno == ENOTSUPP { EOPNOTSUPP } else { errno };
    Fail { errno, msg }
}

/// EINTR: the load stopped because its caller was killed (our `bpf` answers EINTR
/// once a fatal signal is pending), whatever the interruption broke.
fn killed() -> Fail {
    fail(4, format_args!("interrupted: the caller was killed"))
}

fn core_fail(e: bpfld_core::Error<'_>) -> Fail {
    fail(e.errno(), format_args!("{e}"))
}

/// A `struct file` reference we own.
struct FileRef(*mut file);

impl Drop for FileRef {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: we own one reference to this file and drop it once.
            unsafe { ffi::bpfld_fput(self.0) };
        }
    }
}

impl FileRef {
    fn take(&mut self) -> *mut file {
        core::mem::replace(&mut self.0, core::ptr::null_mut())
    }

    /// A reference to the file `fd` holds in the current task's table, `None` if it is
    /// empty (or an `O_PATH` fd).
    fn of_fd(fd: c_int) -> Option<FileRef> {
        // SAFETY: fget takes its own reference (or returns NULL).
        let f = FileRef(unsafe { ffi::bpfld_fget(fd) });
        (!f.0.is_null()).then_some(f)
    }
}

/// The files of a program array's fd and a program's in the loading thread's table,
/// where the executor left them (a slot this load wrote, and what it wrote there); `None`
/// if either fd is empty.
fn slot_files(map_fd: i32, prog_fd: i32) -> Option<(FileRef, FileRef)> {
    Some((FileRef::of_fd(map_fd)?, FileRef::of_fd(prog_fd)?))
}

/// A program or map created by the plan, as a file reference, with what the caller
/// is told about it.
struct Created {
    file: FileRef,
    id: u32,
    tag: [u8; 8],
    name: [u8; uapi::BPFLD_NAME_LEN],
    section: [u8; uapi::BPFLD_NAME_LEN],
    /// Program or map type.
    kind: u32,
    expected_attach_type: u32,
    attach_btf_id: u32,
    pinning: u32,
    /// A map the caller passed for reuse, not created.
    reused: bool,
}

/// An initial slot this load wrote into a program array the caller passed for reuse
/// (`map_reuse`, [`KernelBpf::swap_slot`]), with the program the slot held before and
/// the array's reference to it: put back when dropped (or [`HeldSlot::restore`]d)
/// unless the load succeeded ([`HeldSlot::release`]).
struct HeldSlot {
    /// The map's file and fd in the loading thread's table.
    map: FileRef,
    map_fd: i32,
    key: u32,
    /// The file of the program written.
    prog: FileRef,
    /// The program the slot held (`struct bpf_prog *`, NULL if none), referenced.
    old: *mut c_void,
    /// Restored or released.
    done: bool,
}

impl HeldSlot {
    /// Put back what the slot held, if it still holds this load's program; returns
    /// 0 or a negative errno.
    fn restore(&mut self) -> c_int {
        if core::mem::replace(&mut self.done, true) {
            return 0;
        }
        // SAFETY: `map` is a program array's file and `prog` a program's, both
        // referenced by us, `old` the reference bpfld_prog_array_swap kept, given back
        // once; the caller's ioctl and the loading thread may sleep.
        unsafe { ffi::bpfld_prog_array_restore(self.map.0, self.prog.0, self.key, self.old) }
    }

    /// The load succeeded: the slot keeps its program, the one it held is dropped.
    fn release(&mut self) {
        if !core::mem::replace(&mut self.done, true) {
            // SAFETY: as in `restore`, `old` dropped once.
            unsafe { ffi::bpfld_prog_array_release(self.map.0, self.old) };
        }
    }
}

impl Drop for HeldSlot {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Writes of this load that outlive its objects' fds, undone when dropped unless kept,
/// so that a load failing after the executor (the results' copy, a revocation, no free
/// fds, a fault of its BTF, ...) leaves none of its programs reachable and the
/// caller's program arrays as they were; the executor undoes its own failures.
enum Written {
    /// An initial slot written into a program array the caller passed for reuse.
    Slot(HeldSlot),
    /// A plain struct_ops map registered (`BPFLD_LOAD_REGISTER_STRUCT_OPS`): its file.
    Registered(FileRef),
}

/// This load's [`Written`] list.
struct Writes(KVVec<Written>);

impl Writes {
    /// The load succeeded: the writes stay.
    fn keep(mut self) {
        for w in self.0.as_mut_slice() {
            if let Written::Slot(h) = w {
                h.release();
            }
        }
        // Drops the references only.
        let _ = core::mem::replace(&mut self.0, KVVec::new());
    }
}

impl Drop for Writes {
    fn drop(&mut self) {
        // Last written first: a slot of the caller's written twice (two of the
        // object's maps given the same map) gets back what it held before the first.
        for w in self.0.as_mut_slice().iter_mut().rev() {
            match w {
                Written::Slot(h) => {
                    h.restore();
                }
                // SAFETY: a struct_ops map's file, referenced by us; may sleep here.
                Written::Registered(map) => unsafe {
                    ffi::bpfld_struct_ops_unreg(map.0);
                },
            }
        }
    }
}

/// A plain struct_ops map this load registers (`BPFLD_LOAD_REGISTER_STRUCT_OPS`), once
/// nothing of it can fail any more ([`register_struct_ops`]): its value as the plan
/// made it, and the programs whose fds go into it.
struct StReg {
    name: [u8; uapi::BPFLD_NAME_LEN],
    map: FileRef,
    value: KVVec<u8>,
    /// Each function member: its offset in `value` and its program's file.
    funcs: KVVec<(usize, FileRef)>,
}

/// A file of the caller's named for one of the object's maps or programs by the load
/// options: a map to use for the object's map of that name (`struct bpfld_map_reuse`,
/// `bpfld_map_fget`), or a program the object's program of that name attaches to
/// (`struct bpfld_attach_target`, `bpfld_prog_fget`).
struct NamedFile {
    name: [u8; uapi::BPFLD_NAME_LEN],
    len: usize,
    file: FileRef,
}

impl Entry for NamedFile {
    fn name(&self) -> &[u8] {
        self.name.get(..self.len).unwrap_or_default()
    }
}

/// The length of entry `i`'s name in the load options: NUL-terminated, not empty.
fn entry_name(
    raw: &[u8; uapi::BPFLD_NAME_LEN],
    what: &str,
    i: usize,
) -> core::result::Result<usize, Fail> {
    raw.iter()
        .position(|&b| b == 0)
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            fail(
                22,
                format_args!("{} entry {}: name empty or not NUL-terminated", what, i),
            )
        })
}

/// The file of the caller's fd `fd` that entry `name` of the load options' `what` names
/// (its field `field`), taken by `fget` (`bpfld_map_fget`, `bpfld_prog_fget`), which
/// refuses any other file than a `kind`.
fn take_file(
    fget: unsafe extern "C" fn(c_int, *mut c_int) -> *mut file,
    fd: i32,
    what: &str,
    name: &[u8],
    field: &str,
    kind: &str,
) -> core::result::Result<FileRef, Fail> {
    let mut err: c_int = 0;
    // SAFETY: `err` is written only when NULL is returned.
    let file = FileRef(unsafe { fget(fd, &mut err) });
    if !file.0.is_null() {
        return Ok(file);
    }
    let errno = neg_errno(err.into());
    Err(fail(
        errno,
        format_args!(
            "{} '{}': {} {} is {}",
            what,
            EscapedBytes(name),
            field,
            fd,
            if errno == 9 { "not open" } else { kind }
        ),
    ))
}

/// An entry of the load options, which names one of the object's maps or programs.
trait Entry {
    fn name(&self) -> &[u8];
}

/// The name that two of `items` give, if any: each entry of the load options may name
/// a map or program once. Sorts them by name.
fn named_twice<T: Entry>(items: &mut [T]) -> Option<&[u8]> {
    items.sort_unstable_by(|a, b| a.name().cmp(b.name()));
    items
        .iter()
        .zip(items.iter().skip(1))
        .find(|(a, b)| a.name() == b.name())
        .map(|(a, _)| a.name())
}

/// Most bytes of `struct bpfld_load_opts` read from a caller (a later, larger version's
/// unknown fields must be zero).
const OPTS_MAX: usize = 4096;

/// Read the request's options (`struct bpfld_load_opts`): all zero if it has none. As
/// `copy_struct_from_user()` reads a struct: a smaller one than this module's (from
/// `BPFLD_LOAD_OPTS_SIZE_VER0` on) leaves the fields it lacks zero, a larger one is
/// accepted when its bytes beyond are zero (E2BIG if not).
fn read_opts(req: &BpfldLoad) -> core::result::Result<BpfldLoadOpts, Fail> {
    let known = core::mem::size_of::<BpfldLoadOpts>();
    if req.opts == 0 {
        return Ok(BpfldLoadOpts::default());
    }
    let efault = |_| fail(14, format_args!("opts: unreadable"));
    let size: u32 = UserSlice::new(req.opts as usize, 4)
        .reader()
        .read()
        .map_err(efault)?;
    let size = size as usize;
    if size < uapi::BPFLD_LOAD_OPTS_SIZE_VER0 {
        return Err(fail(
            22,
            format_args!("struct bpfld_load_opts size {} unknown", size),
        ));
    }
    if size > OPTS_MAX {
        return Err(fail(
            7,
            format_args!("struct bpfld_load_opts size {} above {}", size, OPTS_MAX),
        ));
    }
    let mut r = UserSlice::new(req.opts as usize, size).reader();
    let mut opts = BpfldLoadOpts::default();
    // SAFETY: `opts` is a plain `repr(C)` struct of integers without padding (see
    // uapi.rs), so any bytes read into it make a valid value; the slice covers it
    // exactly and is dropped before `opts` is used again.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut((&mut opts as *mut BpfldLoadOpts).cast::<u8>(), known)
    };
    r.read_slice(bytes.get_mut(..size.min(known)).unwrap_or_default())
        .map_err(efault)?;
    let mut rest = [0u8; 64];
    let mut left = size.saturating_sub(known);
    while left > 0 {
        let n = left.min(rest.len());
        let chunk = rest.get_mut(..n).unwrap_or_default();
        r.read_slice(chunk).map_err(efault)?;
        if chunk.iter().any(|&b| b != 0) {
            return Err(fail(
                7,
                format_args!("struct bpfld_load_opts: fields this module does not know are set"),
            ));
        }
        left = left.saturating_sub(n);
    }
    if opts.reserved != 0 {
        return Err(fail(22, format_args!("opts: reserved must be zero")));
    }
    Ok(opts)
}

/// Read the `count` entries of `E` at `addr` in the caller's memory, the options'
/// array `what` (its entries `size` bytes each as the caller has them, at most `limit`
/// `unit`), each made a `T` by `take(index, entry)`. No two may give the same name.
fn read_entries<E: FromBytes, T: Entry>(
    what: &str,
    unit: &str,
    (addr, count, size): (u64, u32, u32),
    limit: usize,
    mut take: impl FnMut(usize, E) -> core::result::Result<T, Fail>,
) -> core::result::Result<KVVec<T>, Fail> {
    // Up to `limit` entries, reserved before any is read: kvmalloc, which neither
    // needs nor warns about a high-order page (4096 names of files take 320 KiB).
    let mut out = KVVec::new();
    let count = count as usize;
    if count == 0 {
        return Ok(out);
    }
    if size as usize != core::mem::size_of::<E>() {
        return Err(fail(
            22,
            format_args!("opts: {}_size {} unknown", what, size),
        ));
    }
    if count > limit {
        return Err(fail(
            7,
            format_args!(
                "opts: {} has {} {}, the limit is {}",
                what, count, unit, limit
            ),
        ));
    }
    out.reserve(count, GFP_KERNEL_ACCOUNT)
        .map_err(|_| fail(12, format_args!("opts: no memory for {} {}", count, unit)))?;
    let mut r = UserSlice::new(
        addr as usize,
        count.saturating_mul(core::mem::size_of::<E>()),
    )
    .reader();
    for i in 0..count {
        let e: E = r
            .read()
            .map_err(|_| fail(14, format_args!("opts: {} unreadable", what)))?;
        // Capacity was reserved above.
        let _ = out.push(take(i, e)?, GFP_KERNEL_ACCOUNT);
    }
    if let Some(name) = named_twice(&mut out) {
        return Err(fail(
            22,
            format_args!("{} '{}': named twice", what, EscapedBytes(name)),
        ));
    }
    Ok(out)
}

/// Read and check the options' maps to reuse, and take a reference of each map, in
/// the caller (its fds). Each must name a map once; which of the object's maps it is
/// is checked once the object is planned ([`check_reuse`]).
fn read_reuse(opts: &BpfldLoadOpts) -> core::result::Result<KVVec<NamedFile>, Fail> {
    let array = (opts.map_reuse, opts.map_reuse_cnt, opts.map_reuse_size);
    read_entries(
        "map_reuse",
        "maps",
        array,
        limits::MAX_MAPS,
        |i, e: BpfldMapReuse| {
            let len = entry_name(&e.name, "map_reuse", i)?;
            let name = e.name.get(..len).unwrap_or_default();
            if e.reserved != 0 {
                return Err(fail(
                    22,
                    format_args!("map_reuse '{}': reserved must be zero", EscapedBytes(name)),
                ));
            }
            let file = take_file(
                ffi::bpfld_map_fget,
                e.fd,
                "map_reuse",
                name,
                "fd",
                "not a BPF map",
            )?;
            Ok(NamedFile {
                name: e.name,
                len,
                file,
            })
        },
    )
}

/// A program of the object to attach to a program of the caller's, for the plan (plain
/// data: read by the plan's CPU too).
struct TargetId {
    name: [u8; uapi::BPFLD_NAME_LEN],
    len: usize,
    btf_id: u32,
}

impl TargetId {
    fn name(&self) -> &[u8] {
        self.name.get(..self.len).unwrap_or_default()
    }
}

/// The caller's target programs by program name ([`plan::ProgTargets`]).
struct TargetIds(KVVec<TargetId>);

impl plan::ProgTargets for TargetIds {
    fn target(&self, prog: &str) -> Option<u32> {
        self.0
            .iter()
            .find(|t| t.name() == prog.as_bytes())
            .map(|t| t.btf_id)
    }
}

/// Read and check the options' attach targets, and take a reference of each program,
/// in the caller (its fds). Each names an object's program once; that it is one the
/// object has is checked once it is parsed ([`check_targets`]).
fn read_targets(opts: &BpfldLoadOpts) -> core::result::Result<(TargetIds, KVVec<NamedFile>), Fail> {
    let mut ids = KVVec::new();
    let files = read_entries(
        "attach",
        "programs",
        (opts.attach, opts.attach_cnt, opts.attach_size),
        limits::MAX_PROGRAMS,
        |i, e: BpfldAttachTarget| {
            let len = entry_name(&e.prog, "attach", i)?;
            let name = e.prog.get(..len).unwrap_or_default();
            let file = take_file(
                ffi::bpfld_prog_fget,
                e.target_fd,
                "attach",
                name,
                "target_fd",
                "not a BPF program",
            )?;
            ids.push(
                TargetId {
                    name: e.prog,
                    len,
                    btf_id: e.btf_id,
                },
                GFP_KERNEL,
            )
            .map_err(|_| fail(12, format_args!("opts: no memory for attach targets")))?;
            Ok(NamedFile {
                name: e.prog,
                len,
                file,
            })
        },
    )?;
    Ok((TargetIds(ids), files))
}

/// An entry program of the object to load or leave out (`struct bpfld_prog_autoload`).
struct Autoload {
    name: [u8; uapi::BPFLD_NAME_LEN],
    len: usize,
    load: bool,
}

impl Entry for Autoload {
    fn name(&self) -> &[u8] {
        self.name.get(..self.len).unwrap_or_default()
    }
}

/// Read and check the options' autoload entries. Each names a program once; that it is
/// one of the object's entry programs is checked once the object is parsed
/// ([`apply_autoload`]).
fn read_autoload(opts: &BpfldLoadOpts) -> core::result::Result<KVVec<Autoload>, Fail> {
    read_entries(
        "autoload",
        "programs",
        (opts.autoload, opts.autoload_cnt, opts.autoload_size),
        limits::MAX_PROGRAMS,
        |i, e: BpfldProgAutoload| {
            let len = entry_name(&e.prog, "autoload", i)?;
            let name = e.prog.get(..len).unwrap_or_default();
            if e.reserved != 0 {
                return Err(fail(
                    22,
                    format_args!("autoload '{}': reserved must be zero", EscapedBytes(name)),
                ));
            }
            if e.load > 1 {
                return Err(fail(
                    22,
                    format_args!(
                        "autoload '{}': load {} is neither 0 nor 1",
                        EscapedBytes(name),
                        e.load
                    ),
                ));
            }
            Ok(Autoload {
                name: e.prog,
                len,
                load: e.load == 1,
            })
        },
    )
}

/// Turn each entry program the options name on or off, as libbpf's
/// `bpf_program__set_autoload()` before `bpf_object__load()`; once the object is
/// parsed, before the attach targets are checked and the plan is made. Not inlined, as
/// [`check_reuse`].
#[inline(never)]
fn apply_autoload(
    entries: &[Autoload],
    obj: &mut Object<'_, KAlloc>,
) -> core::result::Result<(), Fail> {
    for e in entries {
        let found = core::str::from_utf8(e.name()).is_ok_and(|n| obj.set_autoload(n, e.load));
        if !found {
            return Err(fail(
                2,
                format_args!(
                    "autoload '{}': the object has no such entry program",
                    EscapedBytes(e.name())
                ),
            ));
        }
    }
    Ok(())
}

/// Each attach target names a program of the object; checked once it is parsed,
/// before the plan (which asks for the targets by name). Not inlined, as
/// [`check_reuse`].
#[inline(never)]
fn check_targets(targets: &TargetIds, obj: &Object<'_, KAlloc>) -> core::result::Result<(), Fail> {
    for t in targets.0.iter() {
        // An entry program: a `.text` subprogram is never loaded by itself.
        let name = core::str::from_utf8(t.name()).ok();
        if name.and_then(|n| obj.prog_by_name(n)).is_none() {
            return Err(fail(
                2,
                format_args!(
                    "attach '{}': the object has no such entry program",
                    EscapedBytes(t.name())
                ),
            ));
        }
    }
    Ok(())
}

/// Each map to reuse names a map of the object that may be the caller's
/// ([`exec::reuse_refusal`]); checked before any command but `BPF_BTF_LOAD`. Not
/// inlined: its messages stay out of `run_job`'s frame, at the root of the deepest call
/// chain of a load (scripts/stack-depth).
#[inline(never)]
fn check_reuse(reuse: &[NamedFile], plan: &Plan<'_, '_, KAlloc>) -> core::result::Result<(), Fail> {
    for r in reuse {
        let name = core::str::from_utf8(r.name()).ok();
        let Some(i) = name.and_then(|n| exec::map_index(plan, n)) else {
            return Err(fail(
                2,
                format_args!(
                    "map_reuse '{}': the object has no such map",
                    EscapedBytes(r.name())
                ),
            ));
        };
        if let Some(why) = exec::reuse_refusal(plan, i) {
            return Err(fail(
                22,
                format_args!(
                    "map_reuse '{}': cannot be reused: {}",
                    EscapedBytes(r.name()),
                    why
                ),
            ));
        }
    }
    Ok(())
}

/// libbpf's object name: the file name up to its first `.`, at most 15 bytes
/// (`BPF_OBJ_NAME_LEN - 1`), cut as libbpf cuts it, bytewise. The core uses it only to
/// prefix the names of internal maps, where every byte the kernel refuses in a name
/// becomes `_` (libbpf's `internal_map_name`); doing that here already keeps the name
/// ASCII, so that a file name cut inside a UTF-8 character, or not UTF-8 at all, gives
/// the prefix libbpf would give (and no `str` is ever cut off a character boundary).
fn object_name<'b>(file: &[u8], out: &'b mut [u8; 15]) -> &'b str {
    let stem = file
        .split(|&b| b == 0 || b == b'.')
        .next()
        .unwrap_or_default();
    let mut n = 0usize;
    for (d, &c) in out.iter_mut().zip(stem) {
        *d = if c.is_ascii_alphanumeric() || c == b'_' {
            c
        } else {
            b'_'
        };
        n = n.saturating_add(1);
    }
    out.get(..n)
        .and_then(|b| core::str::from_utf8(b).ok())
        .unwrap_or_default()
}

pub(crate) fn load(state: &State, arg: usize) -> Result<c_int> {
    let size = core::mem::size_of::<BpfldLoad>();
    let mut req: BpfldLoad = UserSlice::new(arg, size).reader().read()?;
    match do_load(state, &mut req, arg) {
        // The results were written before the fds were installed.
        Ok(()) => Ok(0),
        Err(f) => {
            // The reason goes back with the error.
            req.err_msg = f.bytes();
            req.err_errno = f.errno as u32;
            UserSlice::new(arg, size).writer().write(&req)?;
            Err(Error::from_errno(f.errno.saturating_neg()))
        }
    }
}

/// Who is calling, for the log.
struct Caller {
    comm: [u8; 16],
    pid: c_int,
    uid: u32,
}

impl Caller {
    fn current() -> Self {
        let mut c = Caller {
            comm: [0; 16],
            pid: 0,
            uid: 0,
        };
        // SAFETY: `comm` holds 16 bytes (TASK_COMM_LEN); the others are plain outputs.
        unsafe { ffi::bpfld_caller(c.comm.as_mut_ptr().cast(), &mut c.pid, &mut c.uid) };
        c
    }

    fn comm(&self) -> &str {
        c_text(&self.comm).unwrap_or("?")
    }
}

fn check_request(req: &BpfldLoad) -> core::result::Result<(), Fail> {
    if req.size as usize != core::mem::size_of::<BpfldLoad>() {
        return Err(fail(
            22,
            format_args!("struct bpfld_load size {} unknown", req.size),
        ));
    }
    if req.flags & !uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS != 0 {
        return Err(fail(22, format_args!("unknown flags {:#x}", req.flags)));
    }
    if req.time_ns != 0
        || req.bpf_time_ns != 0
        || req.mem_bytes != 0
        || req.err_errno != 0
        || req.digest_algo != 0
        || req.digest_size != 0
    {
        return Err(fail(
            22,
            format_args!("reserved and output fields must be zero"),
        ));
    }
    let outputs = [&req.digest[..], &req.receipt[..], &req.err_msg[..]];
    if outputs.iter().any(|o| o.iter().any(|&b| b != 0)) {
        return Err(fail(22, format_args!("output fields must be zero")));
    }
    if req.prog_info_size as usize != core::mem::size_of::<BpfldProgInfo>()
        || req.map_info_size as usize != core::mem::size_of::<BpfldMapInfo>()
    {
        return Err(fail(
            22,
            format_args!("prog_info_size/map_info_size do not match this module"),
        ));
    }
    if req.progs_cnt as usize > limits::MAX_PROGRAMS || req.maps_cnt as usize > limits::MAX_MAPS {
        return Err(fail(
            7,
            format_args!("progs_cnt or maps_cnt above the module's limits"),
        ));
    }
    if (req.log_buf == 0) != (req.log_size == 0) {
        return Err(fail(
            22,
            format_args!("log_buf and log_size must be given together"),
        ));
    }
    Ok(())
}

fn do_load(state: &State, req: &mut BpfldLoad, arg: usize) -> core::result::Result<(), Fail> {
    let caller = Caller::current();
    // SAFETY: reads a bool module parameter.
    let dev_mode = unsafe { ffi::bpfld_dev_mode() };
    let mode = if dev_mode {
        "DEVELOPMENT MODE (dev_mode=1: any fs-verity file is trusted): "
    } else {
        ""
    };

    let mut digest = BpfldDigest {
        algo: 0,
        size: 0,
        digest: [0; uapi::BPFLD_DIGEST_MAX],
    };
    let mut name = [0u8; 64];
    let res = check_request(req)
        .and_then(|()| load_verified(state, req, arg, dev_mode, &mut digest, &mut name));
    let mut dhex = hex::<129>(
        digest
            .digest
            .get(..digest.size as usize)
            .unwrap_or_default(),
    );
    if digest.size == 0 {
        let _ = dhex.write_str("none");
    }
    let alg = if digest.algo == uapi::BPFLD_HASH_SHA512 {
        "sha512"
    } else {
        "sha256"
    };

    match &res {
        Ok(summary) => pr_info!(
            "{}load by {}[{}] uid {}: '{}' {}:{}: ok: {}\n",
            mode,
            Escaped(caller.comm()),
            caller.pid,
            caller.uid,
            EscapedBytes(&name),
            alg,
            dhex.as_str(),
            Escaped(summary.as_str())
        ),
        Err(f) => pr_warn!(
            "{}load by {}[{}] uid {}: '{}' {}:{}: refused (errno {}): {}\n",
            mode,
            Escaped(caller.comm()),
            caller.pid,
            caller.uid,
            EscapedBytes(&name),
            alg,
            dhex.as_str(),
            f.errno,
            Escaped(f.text())
        ),
    }
    res.map(|_| ())
}

/// Everything from the fd to installed fds. Returns the log summary (programs, tags).
fn load_verified(
    state: &State,
    req: &mut BpfldLoad,
    arg: usize,
    dev_mode: bool,
    digest: &mut BpfldDigest,
    name: &mut [u8; 64],
) -> core::result::Result<Msg<512>, Fail> {
    let t0 = now();
    // The options: part of the request, checked before the file.
    let opts = read_opts(req)?;
    let reuse = read_reuse(&opts)?;
    let (targets, target_files) = read_targets(&opts)?;
    let autoload = read_autoload(&opts)?;
    // The object file.
    let f = FileRef::of_fd(req.obj_fd).ok_or_else(|| {
        fail(
            9,
            format_args!("obj_fd {} is not an open file (or is O_PATH)", req.obj_fd),
        )
    })?;
    // SAFETY: `f.0` is a valid file for the rest of this function.
    unsafe { ffi::bpfld_file_name(f.0, name.as_mut_ptr().cast(), name.len()) };
    // SAFETY: as above.
    match unsafe { ffi::bpfld_file_kind(f.0) } {
        0 => {}
        1 => return Err(fail(21, format_args!("obj_fd is a directory"))),
        3 => return Err(fail(9, format_args!("obj_fd is not open for reading"))),
        _ => return Err(fail(22, format_args!("obj_fd is not a regular file"))),
    }
    let mut alg = 0u8;
    // SAFETY: `digest.digest` holds FS_VERITY_MAX_DIGEST_SIZE (64) bytes.
    let n = unsafe { ffi::bpfld_verity_digest(f.0, digest.digest.as_mut_ptr(), &mut alg) };
    if n <= 0 {
        return Err(fail(
            ENODATA,
            format_args!("file has no fs-verity (enable it with 'fsverity enable')"),
        ));
    }
    digest.size = n as u32;
    digest.algo = u32::from(alg);
    req.digest = digest.digest;
    req.digest_size = digest.size;
    req.digest_algo = digest.algo;

    let verdict = state.policy.lock().check(digest, dev_mode);
    match verdict {
        Verdict::Revoked => return Err(fail(EKEYREVOKED, format_args!("digest is revoked"))),
        Verdict::Unknown => return Err(fail(EKEYREJECTED, format_args!("digest is not trusted"))),
        Verdict::Builtin | Verdict::Enrolled | Verdict::DevMode => {}
    }
    let mut ph = Phases {
        start: t0,
        checked: now(),
        ..Phases::default()
    };

    // SAFETY: as above.
    let size = unsafe { ffi::bpfld_file_size(f.0) };
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > limits::MAX_FILE_SIZE {
        return Err(fail(
            27,
            format_args!(
                "file is {} bytes, the limit is {}",
                size,
                limits::MAX_FILE_SIZE
            ),
        ));
    }
    // The loading thread is woken first: its wake-up overlaps the read.
    let mut iso = Isolated::begin()?;
    ph.woken = now();
    let data = read_once(&f, size, &mut ph.kernel_read_ns)?;
    drop(f);
    ph.read = now();

    let full = c_text(&name[..]).unwrap_or("");
    let mut obj_name = [0u8; 15];
    let obj_name = object_name(&name[..], &mut obj_name);

    // Parse, plan and execute on the isolated thread: its stack starts nearly empty,
    // and the core's frames are deep (BTF and CO-RE walks).
    let mut job = Job {
        state,
        data: data.image(),
        obj_name,
        bpf: KernelBpf {
            log: Log {
                buf: req.log_buf,
                size: req.log_size,
                level: req.log_level,
            },
            ns: 0,
            cmds: CmdTimes::default(),
            arena: None,
            btf_find: None,
            reuse,
            targets: target_files,
            register_st: req.flags & uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS != 0,
            held: KVVec::new(),
        },
        targets,
        autoload,
        progs_cap: req.progs_cnt as usize,
        maps_cap: req.maps_cnt as usize,
        receipt: [0; 32],
        mem: 0,
        needed: None,
        progs: KVVec::new(),
        maps: KVVec::new(),
        written: Writes(KVVec::new()),
        register: KVVec::new(),
        fail: None,
        // The thread adds its own.
        ph,
        iso: core::ptr::null_mut(),
    };
    iso.run(&mut job);
    job.ph.back = now();
    // As far as the load got, if it fails (`bpf_time_ns` is set whatever happens);
    // taken again at its end if it succeeds.
    req.time_ns = job.ph.back.saturating_sub(t0);
    // Unmapped on every way out but success.
    let arena = ArenaMapping(job.bpf.arena.take());
    // With log_phases, a failed load is logged here, a loaded one once time_ns is
    // taken: the printk (0.13-0.15 ms under TCG) is no part of the load.
    let (mut ph, cmds, bpf_ns) = (job.ph, job.bpf.cmds, job.bpf.ns);
    // SAFETY: reads a bool module parameter.
    let log_phases = unsafe { ffi::bpfld_log_phases() };
    if log_phases && job.fail.is_some() {
        ph.log(full, bpf_ns, &cmds);
    }
    req.receipt = job.receipt;
    req.bpf_time_ns = job.bpf.ns;
    req.mem_bytes = (data.bytes() as u64).saturating_add(job.mem);
    if let Some((p, m)) = job.needed {
        req.progs_cnt = p;
        req.maps_cnt = m;
    }
    // SAFETY: reads the current task's pending signals.
    if job.fail.is_some() && unsafe { ffi::bpfld_fatal_signal_pending() } {
        // The thread stopped because we passed our SIGKILL on (see helpers.c): say so
        // rather than what the interruption broke.
        return Err(killed());
    }
    if let Some(f) = job.fail.take() {
        return Err(f);
    }
    let progs = core::mem::replace(&mut job.progs, KVVec::new());
    let maps = core::mem::replace(&mut job.maps, KVVec::new());
    let written = Writes(core::mem::replace(&mut job.written.0, KVVec::new()));
    let register = core::mem::replace(&mut job.register, KVVec::new());
    drop(job);
    drop(data);
    // The thread's own end (it undoes the caller's credentials, memory cgroup and mm),
    // which the above overlapped.
    ph.joining = now();
    drop(iso);
    ph.joined = now();

    req.time_ns = now().saturating_sub(t0);
    if log_phases {
        ph.log(full, bpf_ns, &cmds);
    }
    let trust = Trusted {
        state,
        digest,
        dev_mode,
    };
    let r = install(
        req,
        arg,
        progs,
        maps,
        written,
        register,
        arena.addr(),
        &trust,
    );
    if r.is_ok() {
        arena.keep();
    }
    r
}

/// Read the file once into a private buffer: what the core uses of it, every byte of
/// that once, through the page cache where fs-verity verifies each page, packed
/// (`elf::read_used`: DWARF is neither read, verified nor held); a file of at most
/// `elf::SMALL_FILE` bytes whole, with one `kernel_read()` (`elf::read_small_whole`).
/// The time spent in `kernel_read()` is added to `kernel_read_ns`.
fn read_once(
    f: &FileRef,
    size: usize,
    kernel_read_ns: &mut u64,
) -> core::result::Result<Packed<KAlloc>, Fail> {
    let read = |dst: &mut [u8], off: u64| {
        let t = now();
        let mut pos = i64::try_from(off).map_err(|_| fail(22, format_args!("file offset")))?;
        let mut done = 0;
        while let Some(rest) = dst.get_mut(done..).filter(|r| !r.is_empty()) {
            // SAFETY: `rest` is writable for its length; `f` is a valid file.
            let n = unsafe { ffi::bpfld_read(f.0, rest.as_mut_ptr().cast(), rest.len(), &mut pos) };
            if n < 0 {
                return Err(fail(
                    neg_errno(n as i64),
                    format_args!("reading the file failed (fs-verity mismatch?)"),
                ));
            }
            if n == 0 {
                return Err(fail(5, format_args!("file shorter than its size")));
            }
            done = done.saturating_add(n as usize);
        }
        *kernel_read_ns = kernel_read_ns.saturating_add(now().saturating_sub(t));
        Ok(())
    };
    let packed = elf::read_small_whole(size as u64, elf::SMALL_FILE, &mut KAlloc::default(), read);
    packed.map_err(|e| match e {
        ReadError::Read(f) => f,
        ReadError::Core(_) => fail(12, format_args!("no memory for the file")),
    })
}

/// The work of the isolated thread: in, the verified bytes; out, the created objects
/// as file references with what the caller is told about them.
struct Job<'d> {
    state: &'d State,
    data: Image<'d>,
    obj_name: &'d str,
    /// The executor's way to the kernel, with the verifier log and the time spent in
    /// kern_sys_bpf.
    bpf: KernelBpf,
    /// The caller's target programs' functions, for the plan.
    targets: TargetIds,
    /// The entry programs the caller turns on or off.
    autoload: KVVec<Autoload>,
    progs_cap: usize,
    maps_cap: usize,
    receipt: [u8; 32],
    /// Bytes the core's allocator handed out.
    mem: u64,
    /// Set when the caller's arrays are too small: (programs, maps) needed.
    needed: Option<(u32, u32)>,
    progs: KVVec<Created>,
    maps: KVVec<Created>,
    /// Slots written into the caller's program arrays and struct_ops maps registered,
    /// undone unless the load ends well.
    written: Writes,
    /// The plain struct_ops maps to register at the end (`install`).
    register: KVVec<StReg>,
    fail: Option<Fail>,
    /// The load's timestamps: the caller's, then the loading thread's.
    ph: Phases,
    /// The handle of the loading thread's job (`Isolated::run` sets it).
    iso: *mut c_void,
}

/// `ktime_get_ns()`.
fn now() -> u64 {
    // SAFETY: reads the monotonic clock.
    unsafe { ffi::bpfld_ktime_ns() }
}

/// When each step of a load ended (`ktime_get_ns()`; 0: not reached), logged with the
/// `log_phases` module parameter: where bpfld's own time goes.
#[derive(Clone, Copy, Default)]
struct Phases {
    /// The request (after `check_request`).
    start: u64,
    /// fs-verity digest read and the policy consulted.
    checked: u64,
    /// A loading thread taken from the pool (or started) and woken.
    woken: u64,
    /// The file read into memory.
    read: u64,
    /// Of the read, the time inside `kernel_read()` (the rest: the buffers, the ELF
    /// header and section table that choose what to read, the copies).
    kernel_read_ns: u64,
    /// The loading thread started on the job (the hand-off).
    thread: u64,
    parsed: u64,
    /// The plan made and the object's BTF loaded (the two run side by side).
    planned: u64,
    /// Of `bpf_ns`, the `BPF_BTF_LOAD` issued while the plan was made: the plan step
    /// is logged without it, as the execute step is without its commands.
    ahead_ns: u64,
    /// With the plan made beside: when it was queued, started and ended on the other
    /// CPU (logged as "queued", the wait for that CPU, and "made", the plan's time).
    beside_queued: u64,
    beside_started: u64,
    beside_ended: u64,
    /// The plan executed (the kernel's BPF commands included).
    executed: u64,
    /// The objects taken out of the thread's file table; the thread's work ends.
    taken: u64,
    /// The caller running again, the job's function having returned.
    back: u64,
    /// The caller done with the results (the job and the file's copy dropped), then
    /// the thread done with the load.
    joining: u64,
    joined: u64,
}

/// Calls and nanoseconds per BPF command the executor issues, in [`Cmd::NAMES`]
/// order: to compare the kernel's time on bpfld's commands with its time on libbpf's.
#[derive(Clone, Copy, Default)]
struct CmdTimes {
    calls: [u32; 5],
    ns: [u64; 5],
}

impl CmdTimes {
    fn add(&mut self, cmd: usize, ns: u64) {
        if let (Some(c), Some(n)) = (self.calls.get_mut(cmd), self.ns.get_mut(cmd)) {
            *c = c.saturating_add(1);
            *n = n.saturating_add(ns);
        }
    }
}

impl Phases {
    fn log(&self, obj: &str, bpf_ns: u64, cmds: &CmdTimes) {
        let d = |a: u64, b: u64| {
            if a == 0 || b == 0 {
                0
            } else {
                b.saturating_sub(a)
            }
        };
        let (c, n) = (&cmds.calls, &cmds.ns);
        let k = &Cmd::NAMES;
        pr_info!(
            concat!(
                "phases of '{}' (ns): check {} wake {} read {} (kernel_read {}) handoff {} ",
                "parse {} plan {} (queued {} made {}) execute {} (bpf {}) take {} return {} ",
                "free {} join {} ",
                "commands (calls:ns) {} {}:{} {} {}:{} {} {}:{} {} {}:{} {} {}:{}\n"
            ),
            Escaped(obj),
            d(self.start, self.checked),
            d(self.checked, self.woken),
            d(self.woken, self.read),
            self.kernel_read_ns,
            d(self.read, self.thread),
            d(self.thread, self.parsed),
            d(self.parsed, self.planned).saturating_sub(self.ahead_ns),
            d(self.beside_queued, self.beside_started),
            d(self.beside_started, self.beside_ended),
            d(self.planned, self.executed),
            bpf_ns.saturating_sub(self.ahead_ns),
            d(self.executed, self.taken),
            d(self.taken, self.back),
            d(self.back, self.joining),
            d(self.joining, self.joined),
            k[0],
            c[0],
            n[0],
            k[1],
            c[1],
            n[1],
            k[2],
            c[2],
            n[2],
            k[3],
            c[3],
            n[3],
            k[4],
            c[4],
            n[4]
        );
    }
}

/// A loading thread woken for this load (`bpfld_iso_begin`), waiting for its job (let
/// go without one if there is none); dropped, it waits for the thread to be done.
struct Isolated {
    iso: *mut c_void,
    /// `bpfld_iso_finish` was called.
    finished: bool,
}

impl Isolated {
    fn begin() -> core::result::Result<Self, Fail> {
        let mut err: c_int = 0;
        // SAFETY: `err` is written only when NULL is returned.
        let iso = unsafe { ffi::bpfld_iso_begin(&mut err) };
        if iso.is_null() {
            return Err(fail(
                neg_errno(err.into()),
                format_args!("loading thread failed to start"),
            ));
        }
        Ok(Self {
            iso,
            finished: false,
        })
    }

    /// Run `job` in the thread (`run_job`, which reports in `job`) and wait until it
    /// has returned; the thread's own end is waited for by the drop.
    fn run(&mut self, job: &mut Job<'_>) {
        if self.finished {
            return;
        }
        job.iso = self.iso;
        // SAFETY: `job` outlives the call, which waits until `run_job` has returned.
        unsafe { self.finish(run_job, (job as *mut Job<'_>).cast()) };
    }

    /// Run `f(arg)` in the thread and wait until it has returned (once: later calls do
    /// nothing).
    ///
    /// # Safety
    ///
    /// `arg` must be what `f` expects, valid until this returns.
    unsafe fn finish(&mut self, f: extern "C" fn(*mut c_void) -> c_int, arg: *mut c_void) {
        if self.finished {
            return;
        }
        self.finished = true;
        // SAFETY: `self.iso` came from bpfld_iso_begin and is finished once (`finished`
        // is set); the caller vouches for `arg`.
        unsafe { ffi::bpfld_iso_finish(self.iso, Some(f), arg) };
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        if !self.finished {
            // SAFETY: as in `run`; without a function the thread only lets go.
            unsafe { ffi::bpfld_iso_finish(self.iso, None, core::ptr::null_mut()) };
        }
        // SAFETY: finished above or in `run`, released once.
        unsafe { ffi::bpfld_iso_release(self.iso) };
    }
}

/// Trampoline called by `bpfld_iso_finish` in the loading thread.
extern "C" fn run_job(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Job` passed by `load_verified`, which waits for us.
    let job = unsafe { &mut *arg.cast::<Job<'_>>() };
    // Parsing and planning are sibling calls, not nested ones: their deepest frames
    // (object parser, CO-RE) do not stack (see scripts/stack-depth).
    job.ph.thread = now();
    let mut alloc = KAlloc::default();
    let res = parse(job.data, job.obj_name, &mut alloc).and_then(|mut obj| {
        job.ph.parsed = now();
        apply_autoload(&job.autoload, &mut obj)?;
        check_targets(&job.targets, &obj)?;
        // The rest of the parse and the plan are made beside this thread while it
        // loads the object's BTF, which needs nothing of either. The object's BTF is
        // checked in full beside the commands (the parse checked its structure only);
        // where the parse or the plan fails, a fault of the BTF is what a whole parse
        // would have reported first.
        let (Planned { obj, plan, btf }, _planned) = plan_and_load_btf(job, &mut obj, &mut alloc)?;
        if let Err(f) = check_reuse(&job.bpf.reuse, &plan) {
            btf.close(&mut job.bpf);
            return Err(f);
        }
        // SAFETY: reads the current task's pending signals.
        if btf == exec::BtfLoad::Refused(4) && unsafe { ffi::bpfld_fatal_signal_pending() } {
            // Not the kernel refusing the BTF: our `bpf` stopped for the caller's
            // SIGKILL. Neither the deferred check nor a warning; the load ends here.
            return Err(killed());
        }
        if let exec::BtfLoad::Refused(_) = btf {
            // The kernel refused the object's BTF. The full check the parse deferred
            // then comes first, not beside the commands: a BTF the kernel refuses is
            // most often one that check refuses too, and the commands would create the
            // maps (of any size the object asks) of an object refused after them.
            obj.check_deferred_btf(&mut alloc).map_err(core_fail)?;
        }
        job.ph.planned = now();
        job.ph.ahead_ns = job.bpf.ns;
        // The receipt is hashed beside this thread while it issues the commands, which
        // only read the plan (read by two threads at once: no interior mutability).
        // `beside` is declared after `work` and `plan`, so every way out of this
        // closure waits for the hash before they are dropped.
        require_sync(&*plan);
        let mut work = ReceiptWork {
            plan: &plan,
            obj,
            btf_fault: None,
            out: [0; 32],
        };
        let arg: *mut ReceiptWork<'_, '_, '_> = &mut work;
        // Beside whenever a program is loaded: each PROG_LOAD outlasts the hash of a
        // small object and the wake-up of the CPU it runs on (0.1-0.25 ms under TCG),
        // which this thread does not wait for.
        let beside = Beside(if !plan.progs.is_empty() {
            // SAFETY: `work` stays in place and alive, untouched by this thread, until
            // `beside` is dropped, which waits for `hash_receipt` to finish with it.
            unsafe { ffi::bpfld_beside_start(hash_receipt, arg.cast()) }
        } else {
            hash_receipt(arg.cast());
            core::ptr::null_mut()
        });
        let res = run_plan(job, &plan, obj, btf, &mut alloc);
        drop(beside);
        job.receipt = work.out;
        // A fault of the BTF fails the load, whatever the commands did: what they
        // created is still in `job`, which the caller drops without installing.
        match work.btf_fault.take() {
            Some(f) => Err(f),
            None => res,
        }
    });
    job.mem = job.mem.saturating_add(alloc.bytes as u64);
    job.ph.taken = now();
    if let Err(f) = res {
        job.fail = Some(f);
    }
    0
}

/// Below this many bytes of BTF the plan is made in the loading thread before the BTF
/// is loaded: handing it to another CPU (a wake-up there, a wait here: 0.2-0.5 ms under
/// TCG) would cost more than it saves (`BPF_BTF_LOAD` of 1.5-6 KiB of BTF takes 0.3-0.6
/// ms there, of 28-37 KiB 1.0-2.2 ms).
const BESIDE_MIN_BYTES: usize = 16 * 1024;

/// The work beside the loading thread: the full check of the object's BTF that the
/// parse deferred, and the receipt's hash.
struct ReceiptWork<'p, 'o, 'a> {
    plan: &'p Plan<'o, 'a, KAlloc>,
    obj: &'o Object<'a, KAlloc>,
    /// Set if the BTF is not what a full parse accepts.
    btf_fault: Option<Fail>,
    out: [u8; 32],
}

/// Waits for the work `bpfld_beside_start` or `bpfld_beside_try_start` queued when
/// dropped.
struct Beside(*mut c_void);

impl Beside {
    /// Wait until the work's function has returned: what it was handed may then be
    /// read, or go. Spins while the function runs on another CPU (see
    /// `bpfld_beside_sync`), so that its end needs no wake-up here; the drop, later,
    /// waits for the work item itself, which is done by then.
    fn sync(&self) {
        // SAFETY: the handle came from bpfld_beside_try_start (or is NULL) and has not
        // been waited for (`self` is alive).
        unsafe { ffi::bpfld_beside_sync(self.0) };
    }
}

impl Drop for Beside {
    fn drop(&mut self) {
        // SAFETY: the handle came from bpfld_beside_start or bpfld_beside_try_start
        // (or is NULL) and is waited for once.
        unsafe { ffi::bpfld_beside_wait(self.0) };
    }
}

/// Compile-time check of what is shared between threads.
fn require_sync<T: Sync + ?Sized>(_: &T) {}

/// Compile-time check of what is handed to another thread.
fn require_send<T: Send + ?Sized>(_: &T) {}

/// Run by `bpfld_beside_start` (on a workqueue, or right away).
extern "C" fn hash_receipt(arg: *mut c_void) {
    // SAFETY: `arg` is the `ReceiptWork` of run_job, which waits for us before it is
    // dropped; the plan it points to is only read, by us and by the loading thread.
    let w = unsafe { &mut *arg.cast::<ReceiptWork<'_, '_, '_>>() };
    // Its own allocator: the loading thread's is in use. The type offsets it needs (4
    // bytes a type) are freed before this returns.
    w.btf_fault = w
        .obj
        .check_deferred_btf(&mut KAlloc::default())
        .err()
        .map(core_fail);
    w.out = w.plan.compute_receipt();
}

/// The parse's first part ([`Object::parse_first`]: what the object's BTF depends on)
/// into the heap, keeping the parser's frames off the planner's. The rest of the parse
/// is made with the plan ([`plan_and_load_btf`]).
#[inline(never)]
fn parse<'d>(
    data: Image<'d>,
    name: &'d str,
    alloc: &mut KAlloc,
) -> core::result::Result<KBox<Object<'d, KAlloc>>, Fail> {
    // The box first, and the parse's result moved straight into it: this frame is
    // on the deepest call chain of a load (scripts/stack-depth), and an object held
    // here while a box for it was made took two copies of it.
    let slot = KBox::<Object<'d, KAlloc>>::new_uninit(GFP_KERNEL)
        .map_err(|_| fail(12, format_args!("no memory for the parsed object")))?;
    let elf = Elf::parse_image(data, alloc).map_err(core_fail)?;
    // The BTF is checked in full beside the commands (run_job).
    let opts = ParseOptions {
        defer_btf_checks: true,
    };
    match Object::parse_first(elf, name, &opts, alloc) {
        Ok(obj) => Ok(KBox::write(slot, obj)),
        Err(e) => Err(core_fail(e)),
    }
}

/// The work beside the loading thread while it loads the object's BTF: the rest of the
/// parse, then the plan.
struct PlanWork<'o, 'a, 'v> {
    /// The object, taken by the work for the rest of its parse (the loading thread
    /// loads a copy of its BTF meanwhile), ...
    obj: Option<&'o mut Object<'a, KAlloc>>,
    /// ... and handed back once parsed, whether the plan was made or not.
    parsed: Option<&'o Object<'a, KAlloc>>,
    vmlinux: Option<&'v Vmlinux>,
    symbols: &'v LookedUpSymbols<'a>,
    targets: &'v TargetIds,
    out: Option<core::result::Result<KBox<Plan<'o, 'a, KAlloc>>, Fail>>,
    /// Bytes its allocator handed out.
    bytes: usize,
    /// When the work started and ended ([`Phases`]).
    started: u64,
    ended: u64,
}

/// Run by `bpfld_beside_try_start` on a workqueue.
extern "C" fn plan_beside(arg: *mut c_void) {
    // SAFETY: `arg` is the `PlanWork` of plan_and_load_btf, which waits for us before
    // it is used or dropped; the object and the vmlinux index are only read, by us and
    // (the object's BTF) by the loading thread.
    let w = unsafe { &mut *arg.cast::<PlanWork<'_, '_, '_>>() };
    w.started = now();
    let mut alloc = KAlloc::default();
    if let Some(obj) = w.obj.take() {
        let res = rest_and_plan(w.vmlinux, w.symbols, w.targets, obj, &mut alloc);
        w.parsed = Some(res.0);
        w.out = Some(res.1);
    }
    w.bytes = alloc.bytes;
    w.ended = now();
}

/// The rest of `obj`'s parse, then its plan. The object comes back whatever failed;
/// the error is what a whole parse and then the plan report first (the parse's own,
/// or the plan's after the BTF's fault the parse deferred). Not inlined: the two are
/// sibling calls whose frames do not stack.
#[inline(never)]
fn rest_and_plan<'o, 'a>(
    vmlinux: Option<&Vmlinux>,
    symbols: &LookedUpSymbols<'a>,
    targets: &TargetIds,
    obj: &'o mut Object<'a, KAlloc>,
    alloc: &mut KAlloc,
) -> (
    &'o Object<'a, KAlloc>,
    core::result::Result<KBox<Plan<'o, 'a, KAlloc>>, Fail>,
) {
    if let Err(e) = obj.parse_rest(alloc) {
        return (obj, Err(core_fail(e)));
    }
    let obj: &'o Object<'a, KAlloc> = obj;
    let plan = make_plan(vmlinux, symbols, targets, obj, alloc);
    (obj, plan.map_err(|f| deferred_first(obj, f, alloc)))
}

/// The rest of `obj`'s parse and its plan, and the kernel's answer to its BTF
/// (`BPF_BTF_LOAD`, the first command of every load, which needs only the BTF that
/// the parse's first part made final): side by side on two CPUs when there are two
/// (the command given a copy of the BTF, the object the other CPU's meanwhile), else
/// one after the other. Returns the object, parsed. If the parse or the plan fails,
/// the BTF's fd is closed, and the error is what a whole parse and then the plan
/// would report first (a fault of the BTF check the parse deferred before any
/// other). The work item that parsed and planned beside is returned, finished: dropped
/// later, after the commands, its wait then finds it done.
#[inline(never)]
fn plan_and_load_btf<'o, 'a>(
    job: &mut Job<'_>,
    obj: &'o mut Object<'a, KAlloc>,
    alloc: &mut KAlloc,
) -> core::result::Result<(Planned<'o, 'a>, Beside), Fail> {
    // Here, not beside: building the index (the first CO-RE load) takes long, and its
    // memory is the module's for as long as it is loaded. Asked before the maps are
    // parsed: a struct_ops section stands for its maps.
    let held = if plan::needs_kernel_btf(obj) {
        match job.state.vmlinux() {
            Ok(v) => Some(v),
            Err(f) => return Err(deferred_first(obj, f, alloc)),
        }
    } else {
        None
    };
    let vmlinux = held.as_deref();
    // Here, as the caller, in this thread's fd table: see LookedUpSymbols.
    let symbols = match look_up_symbols(obj) {
        Ok(s) => s,
        Err(f) => return Err(deferred_first(obj, f, alloc)),
    };
    require_send(&obj);
    require_sync(&vmlinux);
    require_sync(&symbols);
    require_sync(&job.targets);
    // The copy the command loads while the object is the other CPU's.
    let copy = match obj.btf.as_ref() {
        Some(b) if b.data().len() >= BESIDE_MIN_BYTES => copy_of(b.data()),
        _ => None,
    };
    let Some(copy) = copy else {
        // Not beside (little or no BTF, or no memory for its copy).
        let planned = rest_plan_btf_here(job, obj, vmlinux, &symbols, alloc)?;
        return Ok((planned, Beside(core::ptr::null_mut())));
    };
    let mut work = PlanWork {
        obj: Some(obj),
        parsed: None,
        vmlinux,
        symbols: &symbols,
        targets: &job.targets,
        out: None,
        bytes: 0,
        started: 0,
        ended: 0,
    };
    let arg: *mut PlanWork<'_, '_, '_> = &mut work;
    let queued = now();
    // SAFETY: `work` stays in place and alive, untouched by this thread, until
    // `beside.sync()` below, or the drop of `beside` on a way out before it, both of
    // which wait for `plan_beside` to return.
    let beside = Beside(unsafe { ffi::bpfld_beside_try_start(plan_beside, arg.cast()) });
    if beside.0.is_null() {
        // Not queued (one CPU, no memory for the work item): the work was not run.
        let Some(obj) = work.obj.take() else {
            return Err(fail(5, format_args!("the parse was not finished")));
        };
        let planned = rest_plan_btf_here(job, obj, vmlinux, &symbols, alloc)?;
        return Ok((planned, beside));
    }
    let btf = exec::load_btf_data(&copy, &mut job.bpf).map_err(core_fail);
    job.mem = job.mem.saturating_add(copy.len() as u64);
    drop(copy);
    beside.sync();
    job.mem = job.mem.saturating_add(work.bytes as u64);
    (
        job.ph.beside_queued,
        job.ph.beside_started,
        job.ph.beside_ended,
    ) = (queued, work.started, work.ended);
    // Set by plan_beside, which has returned (sync waited for it).
    let (Some(obj), Some(plan)) = (work.parsed.take(), work.out.take()) else {
        if let Ok(btf) = btf {
            btf.close(&mut job.bpf);
        }
        return Err(fail(5, format_args!("the plan was not made")));
    };
    match (plan, btf) {
        (Ok(plan), Ok(btf)) => Ok((Planned { obj, plan, btf }, beside)),
        // The parse's or the plan's error comes first, as in this thread.
        (Err(f), btf) => {
            if let Ok(btf) = btf {
                btf.close(&mut job.bpf);
            }
            Err(f)
        }
        (Ok(_), Err(f)) => Err(deferred_first(obj, f, alloc)),
    }
}

/// A parsed object, its plan and the kernel's answer to its BTF.
struct Planned<'o, 'a> {
    obj: &'o Object<'a, KAlloc>,
    plan: KBox<Plan<'o, 'a, KAlloc>>,
    btf: exec::BtfLoad,
}

/// [`plan_and_load_btf`] in this thread: the rest of the parse, the plan, then the BTF
/// of a plan that stands.
fn rest_plan_btf_here<'o, 'a>(
    job: &mut Job<'_>,
    obj: &'o mut Object<'a, KAlloc>,
    vmlinux: Option<&Vmlinux>,
    symbols: &LookedUpSymbols<'a>,
    alloc: &mut KAlloc,
) -> core::result::Result<Planned<'o, 'a>, Fail> {
    let (obj, plan) = rest_and_plan(vmlinux, symbols, &job.targets, obj, alloc);
    let plan = plan?;
    let btf =
        exec::load_btf(obj, &mut job.bpf).map_err(|e| deferred_first(obj, core_fail(e), alloc))?;
    Ok(Planned { obj, plan, btf })
}

/// `f`, or the fault of `obj`'s BTF that a whole parse would have reported before it
/// (the check the parse deferred, made here).
#[inline(never)]
fn deferred_first(obj: &Object<'_, KAlloc>, f: Fail, alloc: &mut KAlloc) -> Fail {
    obj.check_deferred_btf(alloc).err().map_or(f, core_fail)
}

/// A copy of `data`, if there is memory for it: charged to the caller's memory
/// cgroup, as the load's other buffers ([`KAlloc`]); without it the caller does
/// without the overlap, so a failure is no warning.
fn copy_of(data: &[u8]) -> Option<KVVec<u8>> {
    let flags = GFP_KERNEL_ACCOUNT | __GFP_NOWARN;
    let mut v = KVVec::with_capacity(data.len(), flags).ok()?;
    v.extend_from_slice(data, flags).ok()?;
    Some(v)
}

/// The kernel symbol addresses the plan of `obj` needs (none if it has no typeless
/// ksyms). Not inlined: the error's message stays out of the frame of
/// `plan_and_load_btf`, on the deepest call chain of a load (scripts/stack-depth).
#[inline(never)]
fn look_up_symbols<'a>(
    obj: &Object<'a, KAlloc>,
) -> core::result::Result<LookedUpSymbols<'a>, Fail> {
    LookedUpSymbols::look_up(obj).map_err(|e| {
        fail(
            e.errno,
            format_args!(
                "extern '{}': looking up kernel symbol addresses failed (errno {})",
                e.name, e.errno
            ),
        )
    })
}

/// Plan the parsed object into the heap.
#[inline(never)]
fn make_plan<'o, 'a>(
    vmlinux: Option<&Vmlinux>,
    symbols: &LookedUpSymbols<'a>,
    targets: &TargetIds,
    obj: &'o Object<'a, KAlloc>,
    alloc: &mut KAlloc,
) -> core::result::Result<KBox<Plan<'o, 'a, KAlloc>>, Fail> {
    // SAFETY: these read constants of the running kernel.
    let kinfo = unsafe {
        KernelInfo {
            page_size: ffi::bpfld_page_size(),
            possible_cpus: ffi::bpfld_possible_cpus(),
            kernel_version: ffi::bpfld_kernel_version(),
        }
    };
    // With the modules' BTF for CO-RE, read only if a relocation needs it.
    let load_btf = vmlinux.map(LoadBtf::new);
    let kbtf = load_btf.as_ref().map(|v| v as &dyn KernelBtf);
    // Extern values: see crate::vmlinux for these sources and their limits.
    let opts = plan::Options {
        kconfig: Some(&BuiltConfig),
        symbols: Some(symbols),
        prog_targets: Some(targets),
        // run_job hashes it beside the commands.
        defer_receipt: true,
        ..plan::Options::default()
    };
    let plan = Plan::build_with(obj, &kinfo, kbtf, &opts, alloc);
    // The load's memory counts the modules' BTF it read.
    let module_bytes = load_btf.as_ref().map_or(0, |b| b.module_bytes.get());
    alloc.bytes = alloc.bytes.saturating_add(module_bytes);
    KBox::new(plan.map_err(core_fail)?, GFP_KERNEL)
        .map_err(|_| fail(12, format_args!("no memory for the plan")))
}

/// `kern_sys_bpf` in the loading thread.
struct KernelBpf {
    log: Log,
    /// Nanoseconds spent in kern_sys_bpf so far.
    ns: u64,
    cmds: CmdTimes,
    /// The arena mapped in the caller (address, length), once the executor made it.
    arena: Option<(u64, u64)>,
    /// The module BTF lookup program (`bpfld_btf_find_open`), once loaded: closed by
    /// [`KernelBpf::close_lookup`] in the loading thread.
    btf_find: Option<c_int>,
    /// The caller's maps to use instead of creating the object's of these names.
    reuse: KVVec<NamedFile>,
    /// The caller's programs that the object's programs of these names attach to.
    targets: KVVec<NamedFile>,
    /// Register plain struct_ops maps (`BPFLD_LOAD_REGISTER_STRUCT_OPS`): not by the
    /// executor (`Bpf::register_struct_ops` stays false) but once the load cannot
    /// fail any more ([`register_struct_ops`]).
    register_st: bool,
    /// The slots the executor wrote into the caller's program arrays
    /// ([`Bpf::swap_slot`]), restored if it fails, else moved to the load's
    /// [`Writes`].
    held: KVVec<HeldSlot>,
}

impl KernelBpf {
    /// Make `call`, the kernel's work for BPF command `which` (its place in
    /// [`Cmd::NAMES`]), timed as that command: its return value, or the positive errno
    /// of a negative one. Refused (EINTR) once the caller was killed: no more
    /// commands, only the rollback.
    fn command(
        &mut self,
        which: usize,
        call: impl FnOnce(&Self) -> c_int,
    ) -> core::result::Result<i32, i32> {
        // SAFETY: reads the current task's pending signals.
        if unsafe { ffi::bpfld_fatal_signal_pending() } {
            return Err(4); // EINTR
        }
        let t0 = now();
        let ret = call(self);
        let t1 = now();
        self.ns = self.ns.saturating_add(t1.saturating_sub(t0));
        self.cmds.add(which, t1.saturating_sub(t0));
        if ret < 0 {
            Err(neg_errno(ret.into()))
        } else {
            Ok(ret)
        }
    }

    /// Close the module BTF lookup program, if loaded (in the loading thread).
    fn close_lookup(&mut self) {
        if let Some(fd) = self.btf_find.take().filter(|&fd| fd >= 0) {
            // SAFETY: the program's fd in this thread's table, closed once.
            unsafe { ffi::bpfld_close_fd(fd) };
        }
    }
}

/// The arena a load mapped in the caller (address, length): unmapped when dropped,
/// unless the load succeeded ([`ArenaMapping::keep`]). Dropped in the caller.
struct ArenaMapping(Option<(u64, u64)>);

impl ArenaMapping {
    /// Its address, 0 if none.
    fn addr(&self) -> u64 {
        self.0.map_or(0, |(a, _)| a)
    }

    /// Leave it to the caller.
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for ArenaMapping {
    fn drop(&mut self) {
        if let Some((addr, len)) = self.0.take() {
            // SAFETY: a mapping bpfld_arena_map made in this task's address space (the
            // loading thread used the caller's), not handed out. Fails only if this
            // task is being killed, which takes its address space down with it.
            unsafe { ffi::bpfld_arena_unmap(addr, len) };
        }
    }
}

impl Bpf for KernelBpf {
    fn bpf(&mut self, cmd: Cmd<'_>) -> core::result::Result<i32, i32> {
        let which = cmd.index();
        // SAFETY: each attr struct has the layout of its command's part of union bpf_attr;
        // the core filled its pointers from buffers of the plan that outlive the call.
        self.command(which, |this| unsafe {
            match cmd {
                Cmd::BtfLoad(a) => ffi::bpfld_sys_bpf(
                    bpf::BPF_BTF_LOAD as c_int,
                    (a as *mut bpf::BtfLoadAttr).cast(),
                    core::mem::size_of_val(a) as u32,
                ),
                Cmd::MapCreate(a) => ffi::bpfld_sys_bpf(
                    bpf::BPF_MAP_CREATE as c_int,
                    (a as *mut bpf::MapCreateAttr).cast(),
                    core::mem::size_of_val(a) as u32,
                ),
                Cmd::MapUpdate(a) => ffi::bpfld_sys_bpf(
                    bpf::BPF_MAP_UPDATE_ELEM as c_int,
                    (a as *mut bpf::MapElemAttr).cast(),
                    core::mem::size_of_val(a) as u32,
                ),
                Cmd::MapFreeze(a) => ffi::bpfld_sys_bpf(
                    bpf::BPF_MAP_FREEZE as c_int,
                    (a as *mut bpf::MapFreezeAttr).cast(),
                    core::mem::size_of_val(a) as u32,
                ),
                Cmd::ProgLoad(a) => {
                    let p = (a as *mut bpf::ProgLoadAttr).cast();
                    let sz = core::mem::size_of_val(a) as u32;
                    let r = ffi::bpfld_sys_bpf(bpf::BPF_PROG_LOAD as c_int, p, sz);
                    // On failure without a log, repeat once with a log into the caller's
                    // buffer so they learn why (libbpf does the same). If that load
                    // succeeds (the first failure was transient), the program is
                    // loaded, as libbpf keeps it. No EAGAIN retries as libbpf's: this
                    // thread takes no signal but SIGKILL, which ends the load.
                    if r < 0 && a.log_level == 0 && this.log.buf != 0 {
                        a.log_level = 1;
                        a.log_buf = this.log.buf;
                        a.log_size = this.log.size;
                        let again = ffi::bpfld_sys_bpf(bpf::BPF_PROG_LOAD as c_int, p, sz);
                        if again >= 0 {
                            again
                        } else {
                            r
                        }
                    } else {
                        r
                    }
                }
            }
        })
    }

    fn module_btf_fd(&mut self, m: &PlannedModule<'_>) -> core::result::Result<i32, i32> {
        // Kernel time: a program load (the first time) and a run.
        let t0 = now();
        let prog = match self.btf_find {
            Some(fd) => fd,
            None => {
                // SAFETY: loads a program into this thread's table; closed by
                // `close_lookup`.
                let fd = unsafe { ffi::bpfld_btf_find_open() };
                self.btf_find = Some(fd);
                fd
            }
        };
        if prog < 0 {
            self.ns = self.ns.saturating_add(now().saturating_sub(t0));
            return Err(neg_errno(prog.into()));
        }
        let (prefix, sym) = m.lookup_name();
        // SAFETY: the names are valid for their lengths; `prog` is the lookup program
        // in this thread's table.
        let fd = unsafe {
            ffi::bpfld_btf_find(
                prog,
                prefix.as_ptr().cast(),
                prefix.len(),
                sym.as_ptr().cast(),
                sym.len(),
                m.kind,
                m.type_id,
            )
        };
        self.ns = self.ns.saturating_add(now().saturating_sub(t0));
        if fd < 0 {
            let e = neg_errno(fd.into());
            if e == ESRCH {
                pr_warn!(
                    "module BTF {}: the kernel finds {}{} elsewhere than bpfld did \
                     (another module of that name first, or it changed)\n",
                    crate::msg::Escaped(m.name()),
                    crate::msg::Escaped(prefix),
                    crate::msg::Escaped(sym)
                );
            }
            return Err(e);
        }
        Ok(fd)
    }

    fn btf_dropped(&mut self, errno: i32) {
        // The load's own line (with the object's name) follows.
        pr_warn!(
            "the kernel refused the object's BTF (errno {}): loading without it, as libbpf does\n",
            errno
        );
    }

    fn target_prog_fd(&mut self, prog: &str) -> core::result::Result<i32, i32> {
        // ENOENT: not one the options name (the plan asks only for those).
        let t = self
            .targets
            .iter()
            .find(|t| t.name() == prog.as_bytes())
            .ok_or(2)?;
        // SAFETY: `t.file` is a program file (bpfld_prog_fget), referenced until the job
        // ends; the fd goes into this thread's table, closed by the executor.
        let fd = unsafe { ffi::bpfld_fd_of(t.file.0) };
        if fd < 0 {
            return Err(neg_errno(fd.into()));
        }
        Ok(fd)
    }

    fn reuse_map(
        &mut self,
        name: &str,
        def: &MapDef,
    ) -> core::result::Result<Option<i32>, ReuseFail> {
        let Some(r) = self.reuse.iter().find(|r| r.name() == name.as_bytes()) else {
            return Ok(None);
        };
        // SAFETY: `r.file` is a map file (bpfld_map_fget), referenced until the job ends.
        let differs = unsafe {
            ffi::bpfld_map_differs(
                r.file.0,
                def.map_type,
                def.key_size,
                def.value_size,
                def.max_entries,
                def.map_flags,
                def.map_extra,
            )
        };
        const FIELDS: [&str; 6] = [
            "map_type",
            "key_size",
            "value_size",
            "max_entries",
            "map_flags",
            "map_extra",
        ];
        if differs != 0 {
            let field = usize::try_from(differs.saturating_sub(1))
                .ok()
                .and_then(|i| FIELDS.get(i))
                .copied()
                .unwrap_or("definition");
            return Err(ReuseFail::Differs(field));
        }
        // SAFETY: as above; the fd goes into this thread's table, where the executor
        // treats it as a created map's.
        let fd = unsafe { ffi::bpfld_fd_of(r.file.0) };
        if fd < 0 {
            return Err(ReuseFail::Errno(neg_errno(fd.into())));
        }
        Ok(Some(fd))
    }

    fn close(&mut self, fd: i32) {
        // SAFETY: `fd` is one the executor got from kern_sys_bpf in this thread's table.
        unsafe { ffi::bpfld_close_fd(fd) };
    }

    fn swap_slot(&mut self, map_fd: i32, key: u32, prog_fd: i32) -> core::result::Result<(), i32> {
        let (map, prog) = slot_files(map_fd, prog_fd).ok_or(9)?;
        // Room first: once the slot is written, noting it cannot fail.
        self.held.reserve(1, GFP_KERNEL).map_err(|_| 12)?;
        let mut old = core::ptr::null_mut();
        // Timed as the command it stands for.
        // SAFETY: a program array's file (the executor took it as one) and the fd of
        // the program in this thread's table; the loading thread may sleep.
        self.command(Cmd::MAP_UPDATE_ELEM, |_| unsafe {
            ffi::bpfld_prog_array_swap(map.0, key, prog_fd, &mut old)
        })?;
        let h = HeldSlot {
            map,
            map_fd,
            key,
            prog,
            old,
            done: false,
        };
        // Room was reserved above; if not, dropping `h` puts the slot back.
        self.held.push(h, GFP_NOWAIT).map_err(|_| 12)
    }

    fn restore_slot(
        &mut self,
        map_fd: i32,
        key: u32,
        _prog_fd: i32,
    ) -> core::result::Result<(), i32> {
        let held = self.held.as_mut_slice().iter_mut();
        match held
            .filter(|h| !h.done)
            .find(|h| h.map_fd == map_fd && h.key == key)
        {
            Some(h) => match h.restore() {
                r if r < 0 => Err(neg_errno(r.into())),
                _ => Ok(()),
            },
            // Not written by swap_slot: nothing of this load's there.
            None => Ok(()),
        }
    }

    fn delete_elem(&mut self, map_fd: i32, key: u32) -> core::result::Result<(), i32> {
        // Not refused for a fatal signal as the commands are: part of the rollback.
        map_elem(map_fd, key, None)
    }

    fn prog_log(&mut self, _prog: usize) -> Log {
        if self.log.level == 0 {
            Log::default()
        } else {
            self.log
        }
    }

    fn map_arena(
        &mut self,
        map_fd: i32,
        len: u64,
        addr: u64,
        data: &[u8],
    ) -> core::result::Result<u64, i32> {
        let mut at = 0u64;
        // SAFETY: `data` is valid for its length; `map_fd` is the arena's fd in this
        // thread's table; `at` is written only.
        let r = unsafe {
            ffi::bpfld_arena_map(map_fd, len, addr, data.as_ptr().cast(), data.len(), &mut at)
        };
        if r < 0 {
            if at != 0 {
                // Mapped, and not undone under a fatal signal: the caller's way out
                // (`ArenaMapping`) unmaps it.
                self.arena = Some((at, len));
            }
            return Err(neg_errno(r));
        }
        self.arena = Some((at, len));
        Ok(at)
    }

    fn check_frozen(&mut self, map_fd: i32, data: &[u8]) -> core::result::Result<(), i32> {
        let len = u32::try_from(data.len()).map_err(|_| 22)?;
        // SAFETY: `map_fd` is a map fd of this thread's table; `data` is valid for `len`
        // bytes and only read.
        let r = unsafe { ffi::bpfld_frozen_value_check(map_fd, data.as_ptr().cast(), len) };
        if r < 0 {
            Err(neg_errno(r.into()))
        } else {
            Ok(())
        }
    }

    fn unmap_arena(&mut self, addr: u64, len: u64) {
        // SAFETY: the mapping map_arena made, in this thread's (the caller's) mm.
        if unsafe { ffi::bpfld_arena_unmap(addr, len) } == 0 {
            self.arena = None;
        }
        // Else kept: a fatal signal stopped the unmap here, and the caller's way out
        // (`ArenaMapping`) tries again.
    }
}

/// Check the caller's room for the results, execute the plan, then take every created
/// object out of this thread's table.
#[inline(never)]
fn run_plan(
    job: &mut Job<'_>,
    plan: &Plan<'_, '_, KAlloc>,
    obj: &Object<'_, KAlloc>,
    btf: exec::BtfLoad,
    alloc: &mut KAlloc,
) -> core::result::Result<(), Fail> {
    let n_progs = plan.progs.len();
    let out_maps = obj
        .maps
        .iter()
        .zip(plan.maps.iter())
        .filter(|(m, pm)| m.kind != MapKind::Inner && pm.create)
        .count();
    if job.progs_cap < n_progs || job.maps_cap < out_maps {
        btf.close(&mut job.bpf);
        job.needed = Some((n_progs as u32, out_maps as u32));
        return Err(fail(
            28,
            format_args!("room for {} programs and {} maps needed", n_progs, out_maps),
        ));
    }
    if let Some(a) = plan.arena {
        // SAFETY: `job.iso` is this thread's job, which is running.
        if unsafe { ffi::bpfld_iso_compat(job.iso) } {
            btf.close(&mut job.bpf);
            let name = obj.maps.get(a.map as usize).map_or("", |m| m.name);
            return Err(fail(
                95,
                format_args!(
                    "map '{}': an arena is mapped in the caller's address space, out of a \
                     32-bit caller's reach: load this object from a 64-bit process",
                    name
                ),
            ));
        }
    }
    let n_maps = plan.maps.len();
    let fds = KVVec::from_elem(-1i32, n_maps, GFP_KERNEL)
        .and_then(|m| Ok((m, KVVec::from_elem(-1i32, n_progs, GFP_KERNEL)?)));
    let (mut map_fds, mut prog_fds) = match fds {
        Ok(fds) => fds,
        Err(_) => {
            btf.close(&mut job.bpf);
            return Err(fail(12, format_args!("no memory for the fd tables")));
        }
    };
    // Room for the slots of the caller's program arrays the executor will fill, taken
    // before it runs: once they are written, noting them cannot fail. `reused_slot`:
    // (map, planned program) of a program slot of a map in `reuse`.
    let reused_slot = |reuse: &[NamedFile], s: &Slot| -> Option<(usize, usize)> {
        let SlotTarget::Prog(t) = s.target else {
            return None;
        };
        let m = obj.maps.get(s.map as usize)?;
        if !reuse.iter().any(|r| r.name() == m.name.as_bytes()) {
            return None;
        }
        Some((s.map as usize, plan.planned_index(t)?))
    };
    // And for the plain struct_ops maps registered at the end, if asked.
    let register_st = job.bpf.register_st;
    let registered = |st: &&StOpsPlan| register_st && plan.st_created(st) == Some(false);
    let n_written = obj
        .slots
        .iter()
        .filter(|s| reused_slot(&job.bpf.reuse, s).is_some())
        .count()
        .saturating_add(plan.st_maps.iter().filter(registered).count());
    if job
        .written
        .0
        .reserve(n_written, GFP_KERNEL_ACCOUNT)
        .is_err()
    {
        btf.close(&mut job.bpf);
        return Err(fail(
            12,
            format_args!("no memory for the list of writes to undo"),
        ));
    }
    let res = exec::execute_with_btf(plan, btf, alloc, &mut job.bpf, &mut map_fds, &mut prog_fds);
    job.bpf.close_lookup();
    job.ph.executed = now();
    // What is left is short: the caller's wake-up overlaps it.
    // SAFETY: `job.iso` is this thread's job, which is running.
    unsafe { ffi::bpfld_iso_nearly_done(job.iso) };
    res.map_err(core_fail)?;
    for h in core::mem::replace(&mut job.bpf.held, KVVec::new()) {
        // Room was reserved above; if not, the slot's entry is dropped, which puts it
        // back, and so are the rest.
        if job.written.0.push(Written::Slot(h), GFP_NOWAIT).is_err() {
            return Err(fail(
                12,
                format_args!("no memory for the list of writes to undo"),
            ));
        }
    }
    // What registering the plain struct_ops maps takes, if asked: not done here but
    // once the results are the caller's and the digest is still trusted (`install`).
    let mut res = Ok(());
    for st in plan.st_maps.iter().filter(registered) {
        res = st_reg(plan, st, &map_fds, &prog_fds).and_then(|r| {
            job.register
                .push(r, GFP_KERNEL)
                .map_err(|_| fail(12, format_args!("no memory for the struct_ops maps")))
        });
        if res.is_err() {
            break;
        }
    }

    // Move every object out of this thread's table. From here on failure must close
    // what is still in the table and drop what was already taken.
    for (p, &fd) in plan.progs.iter().zip(prog_fds.iter()) {
        if res.is_ok() {
            // SAFETY: `fd` is a program fd the executor created in this thread's table.
            let f = FileRef(unsafe { ffi::bpfld_take_fd(fd) });
            if f.0.is_null() {
                // Not possible (no one else closes this load's fds): refused, not
                // dereferenced.
                res = Err(fail(9, format_args!("prog '{}': its fd is gone", p.name)));
                continue;
            }
            let mut c = Created {
                file: f,
                id: 0,
                tag: [0; 8],
                name: name_into(p.name),
                section: name_into(p.sec_name),
                kind: p.prog_type,
                expected_attach_type: p.expected_attach_type,
                attach_btf_id: p.attach.map(|a| a.type_id).unwrap_or(0),
                pinning: 0,
                reused: false,
            };
            // SAFETY: the file is a program file we created (file_close_fd returned it).
            unsafe { ffi::bpfld_prog_file_info(c.file.0, &mut c.id, c.tag.as_mut_ptr()) };
            res = job
                .progs
                .push(c, GFP_KERNEL)
                .map_err(|_| fail(12, format_args!("no memory for the results")));
        } else {
            job.bpf.close(fd);
        }
    }
    let maps = obj.maps.iter().zip(plan.maps.iter()).zip(map_fds.iter());
    for ((m, pm), &fd) in maps.filter(|(_, &fd)| fd >= 0) {
        if res.is_ok() {
            // SAFETY: `fd` is a map fd the executor created (or took from the caller,
            // `reuse_map`) in this thread's table.
            let f = FileRef(unsafe { ffi::bpfld_take_fd(fd) });
            if f.0.is_null() {
                // As for the programs above.
                res = Err(fail(9, format_args!("map '{}': its fd is gone", m.name)));
                continue;
            }
            // SAFETY: the file is a map file.
            let id = unsafe { ffi::bpfld_map_file_id(f.0) };
            let reused = job.bpf.reuse.iter().any(|r| r.name() == m.name.as_bytes());
            let c = Created {
                file: f,
                id,
                tag: [0; 8],
                name: name_into(m.name),
                section: [0; uapi::BPFLD_NAME_LEN],
                kind: pm.def.map_type,
                expected_attach_type: 0,
                attach_btf_id: 0,
                pinning: pm.def.pinning,
                reused,
            };
            res = job
                .maps
                .push(c, GFP_KERNEL)
                .map_err(|_| fail(12, format_args!("no memory for the results")));
        } else {
            job.bpf.close(fd);
        }
    }
    res?;

    // The design makes this impossible (no user task shares the table the plan ran
    // in); check it anyway before anything is handed out. The maps are those created
    // and those the caller passed.
    let mut files = KVVec::with_capacity(job.maps.len(), GFP_KERNEL)
        .map_err(|_| fail(12, format_args!("no memory for the maps' check")))?;
    for m in job.maps.iter() {
        let _ = files.push(m.file.0, GFP_KERNEL);
    }
    for (p, c) in plan.progs.iter().zip(job.progs.iter()) {
        // SAFETY: `c.file` is a program file and `files` holds `files.len()` map files,
        // all created by this load and referenced by us.
        if !unsafe { ffi::bpfld_prog_uses_only(c.file.0, files.as_ptr(), files.len() as c_int) } {
            pr_crit!(
                "program '{}' uses a map this load did not create or take: refusing it\n",
                Escaped(p.name)
            );
            return Err(fail(
                5,
                format_args!(
                    "prog '{}': uses a map this load did not create or take",
                    p.name
                ),
            ));
        }
    }
    Ok(())
}

/// What registering plain struct_ops map `st` takes ([`StReg`]), from the fds the
/// executor left in this thread's table.
fn st_reg(
    plan: &Plan<'_, '_, KAlloc>,
    st: &StOpsPlan,
    map_fds: &[i32],
    prog_fds: &[i32],
) -> core::result::Result<StReg, Fail> {
    let name = plan.obj.maps.get(st.map as usize).map_or("", |m| m.name);
    let nomem = |_| {
        fail(
            12,
            format_args!("map '{}': no memory for its struct_ops value", name),
        )
    };
    let (value, funcs) = plan.st_value(st);
    let mut v = KVVec::with_capacity(value.len(), GFP_KERNEL).map_err(nomem)?;
    v.extend_from_slice(value, GFP_KERNEL).map_err(nomem)?;
    let mut fs = KVVec::with_capacity(funcs.len(), GFP_KERNEL).map_err(nomem)?;
    // The fds are this load's, where the executor left them: an empty one is not
    // possible, and refused rather than registered without its program.
    let gone = || fail(9, format_args!("map '{}': a struct_ops fd is gone", name));
    let file_of = |fd: Option<&i32>| FileRef::of_fd(*fd?);
    for f in funcs {
        let fd = plan.planned_index(f.prog).and_then(|k| prog_fds.get(k));
        let prog = file_of(fd).ok_or_else(gone)?;
        // Capacity was reserved above.
        let _ = fs.push((f.offset as usize, prog), GFP_NOWAIT);
    }
    let map = file_of(map_fds.get(st.map as usize)).ok_or_else(gone)?;
    Ok(StReg {
        name: name_into(name),
        map,
        value: v,
        funcs: fs,
    })
}

/// `BPF_MAP_UPDATE_ELEM` of `key` in `map_fd` with `value` (`BPF_ANY`), or
/// `BPF_MAP_DELETE_ELEM` of it without one; `map_fd` is in this thread's table. A
/// positive errno on failure.
fn map_elem(map_fd: i32, key: u32, value: Option<&[u8]>) -> core::result::Result<(), i32> {
    let (cmd, value) = match value {
        Some(v) => (bpf::BPF_MAP_UPDATE_ELEM, v.as_ptr() as u64),
        None => (bpf::BPF_MAP_DELETE_ELEM, 0),
    };
    let mut a = bpf::MapElemAttr {
        map_fd: map_fd as u32,
        key: &key as *const u32 as u64,
        value,
        flags: bpf::BPF_ANY,
        ..bpf::MapElemAttr::default()
    };
    // SAFETY: `a` is the command's part of union bpf_attr; its key and value outlive
    // the call.
    let r = unsafe {
        ffi::bpfld_sys_bpf(
            cmd as c_int,
            (&mut a as *mut bpf::MapElemAttr).cast(),
            core::mem::size_of_val(&a) as u32,
        )
    };
    if r < 0 {
        Err(neg_errno(r.into()))
    } else {
        Ok(())
    }
}

/// The digest a load was let in with, for the check that it was not revoked since.
struct Trusted<'a> {
    state: &'a State,
    digest: &'a BpfldDigest,
    dev_mode: bool,
}

/// Reserve fds in the caller, report, register the plain struct_ops maps if asked,
/// then install. Nothing is installed unless everything else succeeded, and every way
/// out before that gives the fds back.
#[allow(clippy::too_many_arguments)]
fn install(
    req: &mut BpfldLoad,
    arg: usize,
    mut progs: KVVec<Created>,
    mut maps: KVVec<Created>,
    mut written: Writes,
    mut register: KVVec<StReg>,
    arena_addr: u64,
    trust: &Trusted<'_>,
) -> core::result::Result<Msg<512>, Fail> {
    let nomem = |_| fail(12, format_args!("no memory for the results"));
    let total = progs.len().saturating_add(maps.len());
    // kvmalloc: 4096 programs' results take 672 KiB.
    let mut fds = KVVec::with_capacity(total, GFP_KERNEL_ACCOUNT).map_err(nomem)?;
    let mut pinfo = KVVec::with_capacity(progs.len(), GFP_KERNEL_ACCOUNT).map_err(nomem)?;
    let mut minfo = KVVec::with_capacity(maps.len(), GFP_KERNEL_ACCOUNT).map_err(nomem)?;
    let unreserve = |fds: &KVVec<i32>| {
        for &fd in fds.iter() {
            // SAFETY: each fd was reserved by us and not installed.
            unsafe { ffi::bpfld_unreserve_fd(fd) };
        }
    };
    for _ in 0..total {
        // SAFETY: reserves a number in the caller's table.
        let fd = unsafe { ffi::bpfld_reserve_fd() };
        if fd < 0 {
            unreserve(&fds);
            return Err(fail(
                neg_errno(fd.into()),
                format_args!("no free fds in the caller for {} objects", total),
            ));
        }
        // Capacity was reserved above.
        let _ = fds.push(fd, GFP_NOWAIT);
    }
    let prog_fds = fds.get(..progs.len()).unwrap_or_default();
    let map_fds = fds.get(progs.len()..).unwrap_or_default();

    let mut summary = Msg::<512>::new();
    for (i, (c, &fd)) in progs.iter().zip(prog_fds).enumerate() {
        let _ = write!(
            summary,
            "{}{}({})",
            if i == 0 { "progs " } else { " " },
            c_text(&c.name).unwrap_or("?"),
            hex::<17>(&c.tag).as_str()
        );
        // Capacity was reserved above.
        let _ = pinfo.push(
            BpfldProgInfo {
                name: c.name,
                section: c.section,
                prog_type: c.kind,
                expected_attach_type: c.expected_attach_type,
                fd,
                id: c.id,
                tag: c.tag,
                attach_btf_id: c.attach_btf_id,
                reserved: [0; 3],
            },
            GFP_NOWAIT,
        );
    }
    for (c, &fd) in maps.iter().zip(map_fds) {
        let _ = minfo.push(
            BpfldMapInfo {
                name: c.name,
                map_type: c.kind,
                fd,
                id: c.id,
                pinning: c.pinning,
                addr: if c.kind == bpf::BPF_MAP_TYPE_ARENA {
                    arena_addr
                } else {
                    0
                },
                flags: if c.reused { uapi::BPFLD_MAP_REUSED } else { 0 },
                reserved: 0,
            },
            GFP_NOWAIT,
        );
    }
    let _ = write!(summary, ", {} maps", maps.len());
    let reused = maps.iter().filter(|c| c.reused).count();
    if reused > 0 {
        let _ = write!(summary, " ({} reused)", reused);
    }

    let copy = || -> Result {
        let mut w = UserSlice::new(
            req.progs as usize,
            pinfo
                .len()
                .saturating_mul(core::mem::size_of::<BpfldProgInfo>()),
        )
        .writer();
        for p in pinfo.iter() {
            w.write(p)?;
        }
        let mut w = UserSlice::new(
            req.maps as usize,
            minfo
                .len()
                .saturating_mul(core::mem::size_of::<BpfldMapInfo>()),
        )
        .writer();
        for m in minfo.iter() {
            w.write(m)?;
        }
        let mut out = *req;
        out.progs_cnt = progs.len() as u32;
        out.maps_cnt = maps.len() as u32;
        UserSlice::new(arg, core::mem::size_of::<BpfldLoad>())
            .writer()
            .write(&out)
    };
    if copy().is_err() {
        unreserve(&fds);
        return Err(fail(
            14,
            format_args!("cannot write the results to the caller's memory"),
        ));
    }
    // A revocation that returned while the object was being loaded: nothing of it may
    // reach the caller after that (uapi.rst: "refuse a digest from now on"). The policy
    // stays locked until the fds are in, so a TRUST_REVOKE either waits for them or
    // makes this load fail; no user memory is touched under the lock (the results were
    // written above). A load that registers struct_ops maps holds it longer: a loading
    // thread's wake-up and each registration, which is the struct_ops type's own
    // (`reg()`: short for a TCP congestion control, longer for a sched_ext scheduler),
    // and other loads' trust checks and the TRUST_* ioctls wait that long: registered
    // is reachable, so a revocation must not return between the check and it.
    let policy = trust.state.policy.lock();
    if policy.check(trust.digest, trust.dev_mode) == Verdict::Revoked {
        drop(policy);
        unreserve(&fds);
        return Err(fail(
            EKEYREVOKED,
            format_args!("digest was revoked during the load"),
        ));
    }
    // Registering a struct_ops map attaches it (a TCP congestion control is offered to
    // every socket from then on), so it is the last thing that may fail: after the
    // results' copy and the revocation check, under the policy lock, with nothing but
    // the fds' installation (which cannot fail) after it.
    if !register.is_empty() {
        if let Err(f) = register_struct_ops(&mut register, &mut written) {
            drop(policy);
            unreserve(&fds);
            return Err(f);
        }
    }
    for (c, &fd) in Iterator::chain(progs.iter_mut(), maps.iter_mut()).zip(fds.iter()) {
        // SAFETY: `fd` is reserved and unused; the file reference moves into the
        // caller's table.
        unsafe { ffi::bpfld_install_fd(fd, c.file.take()) };
    }
    drop(policy);
    written.keep();
    Ok(summary)
}

/// The work of [`register_struct_ops`] in a loading thread.
struct RegJob<'a> {
    regs: &'a mut [StReg],
    written: &'a mut Writes,
    fail: Option<Fail>,
}

/// Register the plain struct_ops maps of `regs` (`BPF_MAP_UPDATE_ELEM` of their values),
/// each noted in `written` once registered, so that a failure (or the caller's
/// SIGKILL) unregisters those before it. The command finds the programs by fd, so it
/// runs in a loading thread, with the caller's credentials and memory cgroup, in whose
/// table the map and its programs get fds for the command's length.
fn register_struct_ops(regs: &mut [StReg], written: &mut Writes) -> core::result::Result<(), Fail> {
    let mut iso = Isolated::begin()?;
    let mut job = RegJob {
        regs,
        written,
        fail: None,
    };
    // SAFETY: `job` outlives the call, which waits until `run_register` has returned.
    unsafe { iso.finish(run_register, (&mut job as *mut RegJob<'_>).cast()) };
    drop(iso);
    // SAFETY: reads the current task's pending signals.
    if job.fail.is_some() && unsafe { ffi::bpfld_fatal_signal_pending() } {
        return Err(killed());
    }
    job.fail.map_or(Ok(()), Err)
}

/// Trampoline called by `bpfld_iso_finish` in the loading thread.
extern "C" fn run_register(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `RegJob` of `register_struct_ops`, which waits for us.
    let job = unsafe { &mut *arg.cast::<RegJob<'_>>() };
    for r in job.regs.iter_mut() {
        if let Err(f) = register_one(r, job.written) {
            job.fail = Some(f);
            break;
        }
    }
    0
}

/// Fds of this thread's table that the loading thread made for one command, closed
/// when dropped.
struct TempFds(KVVec<c_int>);

impl TempFds {
    /// A new fd for another reference of `f`.
    fn add(&mut self, f: &FileRef) -> core::result::Result<c_int, i32> {
        // SAFETY: `f` is a file we hold a reference to.
        let fd = unsafe { ffi::bpfld_fd_of(f.0) };
        if fd < 0 {
            return Err(neg_errno(fd.into()));
        }
        // Capacity was reserved by the caller; if not, the fd is closed at once.
        if self.0.push(fd, GFP_NOWAIT).is_err() {
            // SAFETY: the fd just made in this thread's table.
            unsafe { ffi::bpfld_close_fd(fd) };
            return Err(12);
        }
        Ok(fd)
    }
}

impl Drop for TempFds {
    fn drop(&mut self) {
        for &fd in self.0.iter() {
            // SAFETY: an fd `add` made in this thread's table, closed once.
            unsafe { ffi::bpfld_close_fd(fd) };
        }
    }
}

/// Register one plain struct_ops map, in the loading thread ([`register_struct_ops`]).
fn register_one(r: &mut StReg, written: &mut Writes) -> core::result::Result<(), Fail> {
    let name = c_text(&r.name).unwrap_or("?");
    // SAFETY: reads the current task's pending signals.
    if unsafe { ffi::bpfld_fatal_signal_pending() } {
        return Err(killed());
    }
    let cap = r.funcs.len().saturating_add(1);
    let mut fds = TempFds(
        KVVec::with_capacity(cap, GFP_KERNEL)
            .map_err(|_| fail(12, format_args!("map '{}': no memory for its fds", name)))?,
    );
    let no_fd = |e: i32| {
        fail(
            e,
            format_args!("map '{}': no fd for the struct_ops value", name),
        )
    };
    let map_fd = fds.add(&r.map).map_err(no_fd)?;
    for (at, prog) in r.funcs.iter() {
        let fd = fds.add(prog).map_err(no_fd)?;
        // The kernel reads `(int)*(unsigned long *)`, as the executor writes it.
        let dst = r.value.get_mut(*at..at.saturating_add(8)).ok_or_else(|| {
            fail(
                22,
                format_args!("map '{}': struct_ops member outside the value", name),
            )
        })?;
        for (d, b) in dst.iter_mut().zip(u64::from(fd as u32).to_ne_bytes()) {
            *d = b;
        }
    }
    // The map's and the programs' fds are in this thread's table (above).
    if let Err(e) = map_elem(map_fd, 0, Some(&r.value)) {
        return Err(fail(
            e,
            format_args!(
                "map '{}': struct_ops value: registering it (BPF_MAP_UPDATE_ELEM) failed",
                name
            ),
        ));
    }
    // The map's reference moves to the undo; room was reserved by the loading thread
    // (`run_plan`).
    let _ = written
        .0
        .push(Written::Registered(FileRef(r.map.take())), GFP_NOWAIT);
    Ok(())
}

impl State {
    /// The cached vmlinux BTF, loading it on first use.
    #[inline(never)]
    fn vmlinux(&self) -> core::result::Result<Arc<Vmlinux>, Fail> {
        let mut guard = self.vmlinux.lock();
        if let Some(v) = guard.as_ref() {
            return Ok(v.clone());
        }
        let v = Vmlinux::load().map_err(|e| {
            fail(
                neg_errno(e.to_errno().into()),
                format_args!("cannot read vmlinux BTF"),
            )
        })?;
        pr_info!("vmlinux BTF cached: {} bytes\n", v.bytes);
        let v = Arc::new(v, GFP_KERNEL)
            .map_err(|_| fail(12, format_args!("no memory for the vmlinux BTF")))?;
        *guard = Some(v.clone());
        Ok(v)
    }
}
