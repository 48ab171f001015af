// SPDX-License-Identifier: GPL-2.0

//! Functions of `helpers.c`: C glue for what 6.12 has no Rust bindings for. Each is a
//! thin wrapper; their contracts are stated here and relied on by the callers' SAFETY
//! comments.

use core::ffi::{c_char, c_int, c_long, c_uint, c_void};

/// An opaque `struct file` (Rust never looks inside; the C helpers do). Named as in C:
/// with kCFI (`CONFIG_CFI_CLANG`, as in Android's GKI) rustc encodes a `#[repr(C)]`
/// struct in an `extern "C"` function's type by its name, so a Rust call through a
/// pointer to a C function taking `struct file *` checks the same type hash as C's.
#[repr(C)]
#[allow(non_camel_case_types)]
pub(crate) struct file {
    _opaque: [u8; 0],
}

extern "C" {
    /// Register `/dev/bpfld`. Returns 0 or a negative errno.
    pub(crate) fn bpfld_misc_register() -> c_int;
    /// Deregister `/dev/bpfld`.
    pub(crate) fn bpfld_misc_deregister();
    /// `kern_sys_bpf()`: the `bpf(2)` commands the kernel lets modules issue, with
    /// kernel pointers in `attr` (except verifier log buffers, which stay user pointers).
    pub(crate) fn bpfld_sys_bpf(cmd: c_int, attr: *mut c_void, size: c_uint) -> c_int;
    /// Load the kallsyms lookup program (a `BPF_PROG_TYPE_SYSCALL` program calling
    /// `bpf_kallsyms_lookup_name()`): its fd in this thread's table, or a negative errno.
    pub(crate) fn bpfld_ksym_open() -> c_int;
    /// Run the program of `bpfld_ksym_open` for `name` (`len` bytes, no NUL): 0 with
    /// `*addr` set, `-ENOENT` (no such symbol), `-EPERM` (the caller may not see kernel
    /// addresses) or another negative errno.
    pub(crate) fn bpfld_ksym_lookup(
        prog_fd: c_int,
        name: *const c_char,
        len: usize,
        addr: *mut u64,
    ) -> c_int;
    /// Load the module BTF lookup program (a `BPF_PROG_TYPE_SYSCALL` program calling
    /// `bpf_btf_find_by_name_kind()`): its fd in this thread's table, or a negative
    /// errno.
    pub(crate) fn bpfld_btf_find_open() -> c_int;
    /// Run the program of `bpfld_btf_find_open` for `prefix` + `name` of BTF kind
    /// `kind`: the fd of the module BTF object where the kernel finds it, if under
    /// `id`; else `-ENOENT`, `-ESRCH` (in vmlinux, or under another id) or another
    /// negative errno.
    pub(crate) fn bpfld_btf_find(
        prog_fd: c_int,
        prefix: *const c_char,
        plen: usize,
        name: *const c_char,
        len: usize,
        kind: u32,
        id: u32,
    ) -> c_int;
    /// Map arena map `fd` in the current task's address space (`len` bytes, at `addr`
    /// if not 0, never over a mapping) and write `data` at its start: 0 with `*out`
    /// set, or a negative errno with nothing mapped (`*out` 0) or with a mapping that
    /// a fatal signal kept from being undone (`*out` its address).
    pub(crate) fn bpfld_arena_map(
        fd: c_int,
        len: u64,
        addr: u64,
        data: *const c_void,
        data_len: usize,
        out: *mut u64,
    ) -> c_long;
    /// `vm_munmap(addr, len)` in the current task's address space: 0, or a negative
    /// errno (`-EINTR` under a fatal signal) with the mapping left.
    pub(crate) fn bpfld_arena_unmap(addr: u64, len: u64) -> c_int;
    /// The `dev_mode` module parameter.
    pub(crate) fn bpfld_dev_mode() -> bool;
    /// The `log_phases` module parameter.
    pub(crate) fn bpfld_log_phases() -> bool;

    /// `fget(fd)`: a counted reference, or NULL (bad fd, or an `O_PATH` fd).
    pub(crate) fn bpfld_fget(fd: c_int) -> *mut file;
    /// A count of module loads and unloads, bumped after `/sys/kernel/btf` changed
    /// for them (a module notifier that runs after the kernel's BTF one); 0 if the
    /// module cannot watch them. Read it before listing the directory.
    pub(crate) fn bpfld_modules_generation() -> u64;
    /// The entries of directory `path` (without `.` and `..`), each its inode number
    /// (a u64, native order), its name and a NUL, into `buf`: the bytes used, `-ENOSPC`
    /// if they do not fit in `len`, or another negative errno.
    pub(crate) fn bpfld_list_dir(path: *const c_char, buf: *mut c_char, len: usize) -> c_long;
    /// `fput()`; in a kernel thread `__fput_sync()` (released before this returns).
    pub(crate) fn bpfld_fput(f: *mut file);
    /// 0: regular file, 1: directory, 2: other.
    pub(crate) fn bpfld_file_kind(f: *mut file) -> c_int;
    /// `i_size_read()` of the file's inode.
    pub(crate) fn bpfld_file_size(f: *mut file) -> i64;
    /// fs-verity digest into `digest` (64 bytes): its size, or 0 if not a verity file.
    pub(crate) fn bpfld_verity_digest(f: *mut file, digest: *mut u8, alg: *mut u8) -> c_int;
    /// `kernel_read()`: bytes read, 0 at EOF, or a negative errno.
    pub(crate) fn bpfld_read(f: *mut file, buf: *mut c_void, len: usize, pos: *mut i64) -> c_long;
    /// Read `/proc/kallsyms` (opened by path): see helpers.c.
    pub(crate) fn bpfld_read_kallsyms(
        f: *mut file,
        buf: *mut c_void,
        len: usize,
        pos: *mut i64,
    ) -> c_long;
    /// The file's name (last path component), NUL-terminated, into `buf`.
    pub(crate) fn bpfld_file_name(f: *mut file, buf: *mut c_char, len: usize);
    /// `filp_open(path, O_RDONLY)`, or NULL with `*err` set to the negative errno.
    pub(crate) fn bpfld_open_path(path: *const c_char, err: *mut c_int) -> *mut file;
    /// Act as the kernel (`prepare_kernel_cred(&init_task)`, `override_creds()`) until
    /// `bpfld_as_kernel_end(old)`: the credentials to restore, or NULL (no memory;
    /// nothing changed).
    pub(crate) fn bpfld_as_kernel_begin() -> *const c_void;
    /// `revert_creds(old)`, for `old` from `bpfld_as_kernel_begin`.
    pub(crate) fn bpfld_as_kernel_end(old: *const c_void);

    /// The calling task: comm (16 bytes), tgid, uid.
    pub(crate) fn bpfld_caller(comm: *mut c_char, pid: *mut c_int, uid: *mut c_uint);
    /// `capable(CAP_SYS_ADMIN)`.
    pub(crate) fn bpfld_capable_sys_admin() -> bool;
    /// Take a module reference that is never dropped (sealed policy lives until reboot).
    pub(crate) fn bpfld_pin_module();
    /// `ktime_get_ns()`: monotonic nanoseconds.
    pub(crate) fn bpfld_ktime_ns() -> u64;
    /// `PAGE_SIZE`.
    pub(crate) fn bpfld_page_size() -> c_uint;
    /// `num_possible_cpus()`.
    pub(crate) fn bpfld_possible_cpus() -> c_uint;
    /// `LINUX_VERSION_CODE`.
    pub(crate) fn bpfld_kernel_version() -> c_uint;

    /// Wake a kernel thread that takes on the caller's credentials, memory cgroup and
    /// address space, with a file table no user task shares, and waits for its job;
    /// NULL with `*err` set if there is none. `bpfld_iso_finish`, then
    /// `bpfld_iso_release`, must follow.
    pub(crate) fn bpfld_iso_begin(err: *mut c_int) -> *mut c_void;
    /// Run `f(arg)` in the thread of `bpfld_iso_begin` and return its result once it
    /// has returned (with `f` None, let the thread go: 0); `arg` is then no longer used.
    pub(crate) fn bpfld_iso_finish(
        iso: *mut c_void,
        f: Option<extern "C" fn(*mut c_void) -> c_int>,
        arg: *mut c_void,
    ) -> c_int;
    /// After `bpfld_iso_finish`: wait for the thread to be done with the load (it
    /// undoes the caller's credentials, memory cgroup and mm), and free the handle.
    pub(crate) fn bpfld_iso_release(iso: *mut c_void);
    /// In the loading thread: wake the caller of `bpfld_iso_finish` for `iso`, this
    /// thread's job, whose end is near.
    pub(crate) fn bpfld_iso_nearly_done(iso: *mut c_void);
    /// Whether the caller of `iso` (a `bpfld_iso_begin` handle) is a 32-bit task.
    pub(crate) fn bpfld_iso_compat(iso: *const c_void) -> bool;
    /// Run `f(arg)` on another CPU's workqueue (or right away, returning NULL: one CPU, or
    /// no memory); `bpfld_beside_wait` on the handle must follow before `arg` goes away.
    pub(crate) fn bpfld_beside_start(
        f: extern "C" fn(*mut c_void),
        arg: *mut c_void,
    ) -> *mut c_void;
    /// As `bpfld_beside_start`, but where that would run `f` in the caller it does
    /// nothing and returns NULL.
    pub(crate) fn bpfld_beside_try_start(
        f: extern "C" fn(arg: *mut c_void),
        arg: *mut c_void,
    ) -> *mut c_void;
    /// Wait (uninterruptibly; spinning while it runs on another CPU, for at most 5 ms)
    /// until the function of the work `bpfld_beside_start` queued has returned, after
    /// which what it was handed may be read or go; `bpfld_beside_wait` must follow.
    pub(crate) fn bpfld_beside_sync(handle: *mut c_void);
    /// Wait for the work `bpfld_beside_start` queued (uninterruptibly) and free it.
    pub(crate) fn bpfld_beside_wait(handle: *mut c_void);
    /// Module exit: stop the idle loading threads (no load can be running).
    pub(crate) fn bpfld_pool_stop();
    /// A fatal signal is pending: in the isolated thread, the caller is dying and passed
    /// its SIGKILL on; in the caller, it is dying.
    pub(crate) fn bpfld_fatal_signal_pending() -> bool;
    /// In the isolated thread: 0 if the frozen one-element array map `fd` holds `data`
    /// (`len` bytes, zeros after), else a negative errno (`-EBADMSG`: it does not).
    pub(crate) fn bpfld_frozen_value_check(fd: c_int, data: *const c_void, len: u32) -> c_int;
    /// In the isolated thread: `close_fd(fd)`, the file released before this returns.
    pub(crate) fn bpfld_close_fd(fd: c_int);
    /// In the isolated thread: `file_close_fd(fd)`, the file with the fd's reference.
    pub(crate) fn bpfld_take_fd(fd: c_int) -> *mut file;
    /// Id and tag of a program file bpfld created.
    pub(crate) fn bpfld_prog_file_info(f: *mut file, id: *mut u32, tag: *mut u8);
    /// Every map the program uses is one of `maps[..n]` (files bpfld created).
    pub(crate) fn bpfld_prog_uses_only(prog: *mut file, maps: *const *mut file, n: c_int) -> bool;
    /// Id of a map file bpfld created or took (`bpfld_map_fget`).
    pub(crate) fn bpfld_map_file_id(f: *mut file) -> u32;
    /// In the loading thread: write the program at `prog_fd` into slot `key` of the
    /// program array of `map`, a map the caller passed, as `BPF_MAP_UPDATE_ELEM`
    /// does, keeping the program the slot held in `*old` (NULL if none) with the
    /// array's reference to it.
    pub(crate) fn bpfld_prog_array_swap(
        map: *mut file,
        key: u32,
        prog_fd: c_int,
        old: *mut *mut c_void,
    ) -> c_int;
    /// The undo of `bpfld_prog_array_swap`: if slot `key` of the program array of
    /// `map` still holds the program of `prog`, put `old` back (empty the slot if
    /// NULL), else drop `old`.
    pub(crate) fn bpfld_prog_array_restore(
        map: *mut file,
        prog: *mut file,
        key: u32,
        old: *mut c_void,
    ) -> c_int;
    /// The load after `bpfld_prog_array_swap` succeeded: drop `old` (if not NULL).
    pub(crate) fn bpfld_prog_array_release(map: *mut file, old: *mut c_void);
    /// Unregister the plain struct_ops map of `map` that this load registered: the undo
    /// of `BPFLD_LOAD_REGISTER_STRUCT_OPS` when the load fails after it.
    pub(crate) fn bpfld_struct_ops_unreg(map: *mut file) -> c_int;
    /// In the caller: the file of the BPF map at `fd`, referenced, or NULL with `*err`
    /// (`-EBADF`, `-EINVAL`: not a map).
    pub(crate) fn bpfld_map_fget(fd: c_int, err: *mut c_int) -> *mut file;
    /// 0 if the map of `f` (from `bpfld_map_fget`) matches the definition, else which
    /// field differs (1 type, 2 key size, 3 value size, 4 max_entries, 5 flags,
    /// 6 map_extra).
    pub(crate) fn bpfld_map_differs(
        f: *mut file,
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        flags: u32,
        extra: u64,
    ) -> c_int;
    /// In the caller: the file of the BPF program at `fd`, referenced, or NULL with
    /// `*err` (`-EBADF`, `-EINVAL`: not a program).
    pub(crate) fn bpfld_prog_fget(fd: c_int, err: *mut c_int) -> *mut file;
    /// A new fd (`O_CLOEXEC`) in the current task's table for another reference of
    /// `f`, or a negative errno.
    pub(crate) fn bpfld_fd_of(f: *mut file) -> c_int;
    /// `get_unused_fd_flags(O_CLOEXEC)` in the caller's table.
    pub(crate) fn bpfld_reserve_fd() -> c_int;
    /// `put_unused_fd()`.
    pub(crate) fn bpfld_unreserve_fd(fd: c_int);
    /// `fd_install()`: consumes the file reference.
    pub(crate) fn bpfld_install_fd(fd: c_int, f: *mut file);
}
