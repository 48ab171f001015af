// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Performing a plan: the one sequence of `bpf(2)` commands both executors share.
//!
//! The kernel module and the user-space tool differ only in how a command reaches the
//! kernel (`kern_sys_bpf` or `bpf(2)`) and how an fd is closed; they implement [`Bpf`]
//! and call [`execute`]. The order is libbpf's: BTF; maps (an inner template right
//! before its outer map, then closed), each global data map and the `.kconfig` map
//! filled and, if read-only (`.rodata*`, `.kconfig`), frozen; map-in-map slots; programs;
//! the values of `.struct_ops.link` maps; prog-array slots; last, if the caller asks
//! ([`Bpf::register_struct_ops`]), the values of plain `.struct_ops` maps, which
//! registers them.
//!
//! Failure is atomic: every fd created so far is closed before the error returns, and
//! the error names the step and the map or program.
//!
//! The plan is only read: a program whose instructions name maps is copied into one
//! scratch buffer and the map fds are written there, so the plan's receipt may be
//! computed ([`Plan::compute_receipt`]) by another thread while this one runs.
//!
//! The object's BTF needs nothing of the plan: [`load_btf`] issues its `BPF_BTF_LOAD`
//! from the parsed object alone, so an executor may run it while another thread
//! plans, then go on with [`execute_with_btf`]. [`execute`] does both in turn.

use crate::bytes::idx;
use crate::error::{Ctx, Error, Kind, Result, ResultExt, What};
use crate::insn::Insn;
use crate::mem::Alloc;
use crate::object::{MapDef, MapKind, Object, Slot, SlotTarget};
use crate::plan::{Plan, PlannedModule, StOpsPlan};
use crate::uapi::{self, BtfLoadAttr, MapCreateAttr, MapElemAttr, MapFreezeAttr, ProgLoadAttr};

/// A `bpf(2)` command with its attributes.
pub enum Cmd<'x> {
    /// `BPF_BTF_LOAD`.
    BtfLoad(&'x mut BtfLoadAttr),
    /// `BPF_MAP_CREATE`.
    MapCreate(&'x mut MapCreateAttr),
    /// `BPF_MAP_UPDATE_ELEM`.
    MapUpdate(&'x mut MapElemAttr),
    /// `BPF_MAP_FREEZE`.
    MapFreeze(&'x mut MapFreezeAttr),
    /// `BPF_PROG_LOAD`.
    ProgLoad(&'x mut ProgLoadAttr),
}

impl Cmd<'_> {
    /// The commands' names as libbpf spells them (`libbpf_bpf_cmd_str()`), in
    /// [`Cmd::index`] order: for tools that time commands by kind.
    pub const NAMES: [&'static str; 5] = [
        "BTF_LOAD",
        "MAP_CREATE",
        "MAP_UPDATE_ELEM",
        "MAP_FREEZE",
        "PROG_LOAD",
    ];

    /// `MAP_UPDATE_ELEM`'s place in [`Cmd::NAMES`].
    pub const MAP_UPDATE_ELEM: usize = 2;

    /// This command's place in [`Cmd::NAMES`].
    pub fn index(&self) -> usize {
        match self {
            Cmd::BtfLoad(_) => 0,
            Cmd::MapCreate(_) => 1,
            Cmd::MapUpdate(_) => Self::MAP_UPDATE_ELEM,
            Cmd::MapFreeze(_) => 3,
            Cmd::ProgLoad(_) => 4,
        }
    }
}

/// Where the verifier writes its log for program loads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Log {
    /// Buffer address (a user-space pointer, also in the kernel).
    pub buf: u64,
    /// Buffer size.
    pub size: u32,
    /// Verifier log level (0: no log).
    pub level: u32,
}

/// How commands reach the kernel.
pub trait Bpf {
    /// Issue `cmd`. Returns the command's non-negative result (an fd for creating
    /// commands) or a positive errno.
    fn bpf(&mut self, cmd: Cmd<'_>) -> core::result::Result<i32, i32>;
    /// Close an fd this executor got from [`Bpf::bpf`].
    fn close(&mut self, fd: i32);
    /// The kernel refused the object's BTF with `errno` and the load goes on without
    /// it, as libbpf's does when no struct_ops map needs it ("BTF is optional,
    /// ignoring"): maps get no key/value types, programs no func/line info. An
    /// executor should say so where its caller will see it.
    fn btf_dropped(&mut self, _errno: i32) {}
    /// The verifier log for program `prog` (index in [`Plan::progs`]).
    fn prog_log(&mut self, _prog: usize) -> Log {
        Log::default()
    }
    /// Map the arena map `map_fd` where the loader's caller can reach it (libbpf maps
    /// it in the loading process): `len` bytes, shared, read-write, at `addr` unless
    /// 0 (and then nowhere else); then write `data` at the mapping's start (the
    /// `__arena` globals). Returns the mapping's address, or a positive errno with
    /// nothing left mapped. Its first mapping sets the arena's user address, which
    /// its programs need before they load. By default refused (`EOPNOTSUPP`).
    fn map_arena(
        &mut self,
        _map_fd: i32,
        _len: u64,
        _addr: u64,
        _data: &[u8],
    ) -> core::result::Result<u64, i32> {
        Err(EOPNOTSUPP)
    }
    /// An fd of kernel module `m`'s BTF object, for the programs that use the module's
    /// kfuncs, ksyms or functions (libbpf opens it by id, `BPF_BTF_GET_FD_BY_ID`). It is
    /// closed with [`Bpf::close`] once the programs are loaded (they hold the BTF), or
    /// when the load fails. Returns a positive errno if it cannot be had. By default
    /// refused (`EOPNOTSUPP`).
    fn module_btf_fd(&mut self, _m: &PlannedModule<'_>) -> core::result::Result<i32, i32> {
        Err(EOPNOTSUPP)
    }
    /// Undo [`Bpf::map_arena`]: the load failed after it.
    fn unmap_arena(&mut self, _addr: u64, _len: u64) {}
    /// After `BPF_MAP_FREEZE` of a read-only global data map (`.rodata`, `.kconfig`):
    /// check that its one value is `data`, zero-filled to the value size, and return a
    /// positive errno if not. The verifier takes a frozen map's contents as constants,
    /// and between the update and the freeze another process allowed to open maps by
    /// id could have written it. By default not checked (user space, like libbpf);
    /// the module checks.
    fn check_frozen(&mut self, _map_fd: i32, _data: &[u8]) -> core::result::Result<(), i32> {
        Ok(())
    }
    /// An fd (in the executor's table) of the caller's BPF program that the object's
    /// program `prog` attaches to ([`crate::plan::ProgTargets`]), for its
    /// `attach_prog_fd`. Closed with [`Bpf::close`] right after its `BPF_PROG_LOAD`
    /// (the program loaded holds the target). By default refused (`EOPNOTSUPP`).
    fn target_prog_fd(&mut self, _prog: &str) -> core::result::Result<i32, i32> {
        Err(EOPNOTSUPP)
    }
    /// An fd of a map the loader's caller supplies for the object's map `name`, used
    /// instead of creating one (libbpf's reuse of a pinned map). It must match `def`
    /// as libbpf's `map_is_reuse_compat` has it: type, key and value sizes,
    /// `max_entries`, flags and `map_extra`. Asked only for maps [`reuse_refusal`]
    /// allows, in place of their `BPF_MAP_CREATE`. The fd is the executor's like a
    /// created map's: closed with [`Bpf::close`] if the load fails, handed out with
    /// the others if it succeeds. `None`: the caller supplied none (the default).
    fn reuse_map(
        &mut self,
        _name: &str,
        _def: &MapDef,
    ) -> core::result::Result<Option<i32>, ReuseFail> {
        Ok(None)
    }
    /// `BPF_MAP_DELETE_ELEM` of `key` in `map_fd`: key 0 of a struct_ops map this
    /// load registered ([`Bpf::register_struct_ops`]), undone after a later failure.
    /// Returns a positive errno; the executor goes on with the rollback whatever it is.
    fn delete_elem(&mut self, map_fd: i32, key: u32) -> core::result::Result<(), i32>;
    /// Write program `prog_fd` into slot `key` of program array `map_fd`, which the
    /// caller supplied ([`Bpf::reuse_map`]), keeping what the slot held for
    /// [`Bpf::restore_slot`]. By default `BPF_MAP_UPDATE_ELEM`, keeping nothing (the
    /// command drops the program it replaces). Returns a positive errno.
    fn swap_slot(&mut self, map_fd: i32, key: u32, prog_fd: i32) -> core::result::Result<(), i32> {
        update_u32(self, map_fd, key, &prog_fd.to_ne_bytes())
    }
    /// Undo [`Bpf::swap_slot`] of slot `key` of program array `map_fd`: this load
    /// wrote program `prog_fd` there and failed later, and none of its programs may
    /// stay reachable through the caller's map. If the slot still holds it, put back
    /// what the slot held before (empty it if nothing was kept); another writer's
    /// program since is left alone. Returns a positive errno; the executor goes on
    /// with the rollback whatever it is.
    fn restore_slot(
        &mut self,
        map_fd: i32,
        key: u32,
        prog_fd: i32,
    ) -> core::result::Result<(), i32>;
    /// Whether plain `.struct_ops` maps (not `BPF_F_LINK`) are registered at the end of
    /// the load, by writing their values (the caller's
    /// `BPFLD_LOAD_REGISTER_STRUCT_OPS`). By default they are left empty, as libbpf's
    /// load leaves them.
    fn register_struct_ops(&self) -> bool {
        false
    }
}

/// Why a map the loader's caller supplied cannot stand for one of the object's maps
/// ([`Bpf::reuse_map`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReuseFail {
    /// It differs from the object's definition in this field (`"map_type"`,
    /// `"key_size"`, `"value_size"`, `"max_entries"`, `"map_flags"`, `"map_extra"`).
    Differs(&'static str),
    /// Checking or taking it failed with this positive errno.
    Errno(i32),
}

/// Why map `i` of `plan` cannot be one the caller supplies ([`Bpf::reuse_map`]), or
/// `None` if it can: a map whose contents are runtime data. Global data and kconfig
/// maps hold values of the object itself (frozen `.rodata` is taken as constants by
/// the verifier), a struct_ops map's value is built from the object's programs, the
/// loader maps an arena for its caller, and an inner map template is no map of the
/// object.
pub fn reuse_refusal<A: Alloc>(plan: &Plan<'_, '_, A>, i: usize) -> Option<&'static str> {
    let (Some(m), Some(pm)) = (plan.obj.maps.get(i), plan.maps.get(i)) else {
        return Some("no such map");
    };
    map_reuse_refusal(m.kind, &pm.def)
        .or_else(|| (!pm.create).then_some("the map is not created by this load"))
}

/// [`reuse_refusal`] for a map of kind `kind` and definition `def`, whatever the plan
/// makes of it: what rules a map out by its nature.
pub fn map_reuse_refusal(kind: MapKind, def: &MapDef) -> Option<&'static str> {
    if kind == MapKind::Inner {
        Some("an inner map template is not a map of the object")
    } else if kind.is_internal() {
        Some("global data and kconfig maps hold the object's own values")
    } else if kind == MapKind::StructOps {
        Some("a struct_ops map's value holds the object's programs")
    } else if def.map_type == uapi::BPF_MAP_TYPE_ARENA {
        Some("an arena is mapped for the caller by the loader")
    } else {
        None
    }
}

/// The index of the object's map called `name` (as [`crate::object::Map::name`]; inner
/// map templates are not the object's maps).
pub fn map_index<A: Alloc>(plan: &Plan<'_, '_, A>, name: &str) -> Option<usize> {
    plan.obj
        .maps
        .iter()
        .position(|m| m.kind != MapKind::Inner && m.name == name)
}

/// `EOPNOTSUPP`.
const EOPNOTSUPP: i32 = 95;

/// The fds of a performed plan.
pub struct Loaded<'r> {
    /// Per object map (in [`crate::object::Object::maps`] order); -1 for inner map
    /// templates, which are closed once their outer map exists.
    pub map_fds: &'r mut [i32],
    /// Per planned program (in [`Plan::progs`] order).
    pub prog_fds: &'r mut [i32],
}

fn kerr(op: &'static str, errno: i32) -> Error<'static> {
    Error::new(Kind::Kernel { op, errno })
}

/// Closes every fd recorded in `Loaded` unless disarmed.
struct Cleanup<'e, 'r, B: Bpf> {
    bpf: &'e mut B,
    out: Loaded<'r>,
    btf_fd: i32,
    /// Per module of the plan, its BTF's fd (-1 until opened).
    module_fds: &'r mut [i32],
    /// The arena's mapping (address, length), once made.
    arena: Option<(u64, u64)>,
    /// Per object map: supplied by the caller ([`Bpf::reuse_map`]), not created.
    reused: &'r mut [bool],
}

impl<B: Bpf> Cleanup<'_, '_, B> {
    /// The BTF fd of the plan's module in `slot` (its place plus one, as the plan's
    /// sites, attach targets and struct_ops maps name it).
    fn module_fd(&self, slot: u32) -> Result<'static, i32> {
        idx(slot)
            .checked_sub(1)
            .and_then(|i| self.module_fds.get(i))
            .copied()
            .ok_or(Error::malformed("module slot"))
    }

    fn release(&mut self) {
        if let Some((addr, len)) = self.arena.take() {
            self.bpf.unmap_arena(addr, len);
        }
        for fd in self
            .out
            .prog_fds
            .iter_mut()
            .chain(self.out.map_fds.iter_mut())
        {
            if *fd >= 0 {
                self.bpf.close(*fd);
                *fd = -1;
            }
        }
        self.close_btfs();
    }

    /// Close the fds of the object's BTF and the modules' (the programs and maps that
    /// use them hold the BTF objects).
    fn close_btfs(&mut self) {
        if self.btf_fd >= 0 {
            self.bpf.close(self.btf_fd);
            self.btf_fd = -1;
        }
        for fd in self.module_fds.iter_mut() {
            if *fd >= 0 {
                self.bpf.close(*fd);
                *fd = -1;
            }
        }
    }
}

/// What `BPF_BTF_LOAD` of an object's BTF gave ([`load_btf`]). It may hold an fd:
/// hand it to [`execute_with_btf`], which always closes it, or [`BtfLoad::close`] it.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub enum BtfLoad {
    /// The object has no BTF.
    Absent,
    /// The kernel's fd of the object's BTF.
    Fd(i32),
    /// The kernel refused the BTF with this errno (what follows decides whether the
    /// load goes on without it).
    Refused(i32),
}

impl BtfLoad {
    /// Close the fd, if any.
    pub fn close<B: Bpf>(self, bpf: &mut B) {
        if let BtfLoad::Fd(fd) = self {
            bpf.close(fd);
        }
    }
}

/// Issue `BPF_BTF_LOAD` for `obj`'s BTF (after the parse's fixups), the first command
/// of every load. Needs no plan. Fails only before issuing anything.
pub fn load_btf<'a, A: Alloc, B: Bpf>(obj: &Object<'a, A>, bpf: &mut B) -> Result<'a, BtfLoad> {
    match obj.btf.as_ref() {
        Some(btf) => load_btf_data(btf.data(), bpf),
        None => Ok(BtfLoad::Absent),
    }
}

/// [`load_btf`] of `data`, a copy of an object's final BTF (after
/// [`Object::parse_first`], while another thread finishes the parse).
pub fn load_btf_data<'a, B: Bpf>(data: &[u8], bpf: &mut B) -> Result<'a, BtfLoad> {
    let mut a = BtfLoadAttr {
        btf: data.as_ptr() as u64,
        btf_size: u32::try_from(data.len()).map_err(|_| Error::malformed("BTF size"))?,
        ..BtfLoadAttr::default()
    };
    Ok(match bpf.bpf(Cmd::BtfLoad(&mut a)) {
        Ok(fd) => BtfLoad::Fd(fd),
        Err(e) => BtfLoad::Refused(e),
    })
}

/// Perform `plan`, writing fds into `map_fds` (one per object map) and `prog_fds` (one
/// per planned program). `alloc` gives the scratch buffer of the programs that use maps
/// (as long as the longest of them). On error nothing stays open.
pub fn execute<'a, A: Alloc, B: Bpf>(
    plan: &Plan<'_, 'a, A>,
    alloc: &mut A,
    bpf: &mut B,
    map_fds: &mut [i32],
    prog_fds: &mut [i32],
) -> Result<'a, ()> {
    // Nothing is created before the fd arrays are checked.
    if map_fds.len() != plan.maps.len() || prog_fds.len() != plan.progs.len() {
        return Err(Error::new(Kind::TooSmall(
            "fd arrays do not match the plan",
        )));
    }
    let btf = load_btf(plan.obj, bpf)?;
    execute_with_btf(plan, btf, alloc, bpf, map_fds, prog_fds)
}

/// [`execute`] after [`load_btf`] of the plan's object: `btf` is what that gave, and is
/// closed here whatever happens (once the programs and maps hold it, on success).
pub fn execute_with_btf<'a, A: Alloc, B: Bpf>(
    plan: &Plan<'_, 'a, A>,
    btf: BtfLoad,
    alloc: &mut A,
    bpf: &mut B,
    map_fds: &mut [i32],
    prog_fds: &mut [i32],
) -> Result<'a, ()> {
    if map_fds.len() != plan.maps.len() || prog_fds.len() != plan.progs.len() {
        btf.close(bpf);
        return Err(Error::new(Kind::TooSmall(
            "fd arrays do not match the plan",
        )));
    }
    map_fds.fill(-1);
    prog_fds.fill(-1);
    let (btf_fd, refused) = match btf {
        BtfLoad::Absent => (-1, None),
        BtfLoad::Fd(fd) => (fd, None),
        BtfLoad::Refused(e) => (-1, Some(e)),
    };
    // Module BTF fds, and the fd_array of kfunc calls into modules (index 0 unused:
    // an `off` of 0 means vmlinux).
    let modules = plan.modules();
    let fd_array_len = modules
        .iter()
        .map(|m| idx(m.fd_idx))
        .max()
        .filter(|&n| n > 0)
        .map_or(0, |n| n.saturating_add(1));
    let st_len = plan
        .st_maps
        .iter()
        .filter(|st| plan.st_created(st).is_some())
        .map(|st| idx(st.value.len))
        .max()
        .unwrap_or(0);
    let bufs = alloc.alloc::<i32>(modules.len()).and_then(|m| {
        let a = alloc.alloc::<i32>(fd_array_len)?;
        let r = alloc.alloc::<bool>(plan.maps.len())?;
        let v = alloc.alloc::<u8>(st_len)?;
        Ok((m, a, r, v))
    });
    let (mut module_fds, mut fd_array, mut reused, mut st_buf) = match bufs {
        Ok(b) => b,
        Err(e) => {
            btf.close(bpf);
            return Err(e);
        }
    };
    module_fds.fill(-1);
    let mut c = Cleanup {
        bpf,
        out: Loaded { map_fds, prog_fds },
        btf_fd,
        module_fds: &mut module_fds,
        arena: None,
        reused: &mut reused,
    };
    // The scratch for programs with map fds; failing here closes the BTF's fd.
    let longest = plan
        .progs
        .iter()
        .filter(|p| p.sites.len > 0)
        .map(|p| p.insns.len)
        .max()
        .unwrap_or(0);
    let res = alloc.alloc::<Insn>(idx(longest)).and_then(|mut scratch| {
        let bufs = Bufs {
            scratch: &mut scratch,
            fd_array: &mut fd_array,
            st_value: &mut st_buf,
        };
        run(plan, refused, bufs, &mut c)
    });
    match res {
        Ok(()) => {
            // Programs and maps hold the BTF objects; the fds are not handed out.
            c.close_btfs();
            Ok(())
        }
        Err(e) => {
            c.release();
            Err(e)
        }
    }
}

fn fd_u32(fd: i32) -> u32 {
    u32::try_from(fd).unwrap_or(0)
}

/// The executor's buffers, made before anything is created.
struct Bufs<'x> {
    /// For a program whose instructions name maps: its longest.
    scratch: &'x mut [Insn],
    /// As long as the plan's kfunc calls into modules need.
    fd_array: &'x mut [i32],
    /// For the value of a struct_ops map the load creates: its longest.
    st_value: &'x mut [u8],
}

/// `refused`: the errno of a refused `BPF_BTF_LOAD`.
fn run<'a, A: Alloc, B: Bpf>(
    plan: &Plan<'_, 'a, A>,
    refused: Option<i32>,
    bufs: Bufs<'_>,
    c: &mut Cleanup<'_, '_, B>,
) -> Result<'a, ()> {
    let Bufs {
        scratch,
        fd_array,
        st_value,
    } = bufs;
    let obj = plan.obj;
    match refused {
        // struct_ops maps are typed by it: mandatory there (libbpf's
        // kernel_needs_btf()).
        Some(e) if obj.maps.iter().any(|m| m.kind == MapKind::StructOps) => {
            return Err(kerr("BPF_BTF_LOAD", e)
                .ctx(Ctx::Step("the struct_ops maps need it"))
                .ctx(Ctx::Section(".BTF")))
        }
        Some(e) => c.bpf.btf_dropped(e),
        None => {}
    }

    // Before anything is created (libbpf opens them while it resolves the externs).
    fd_array.fill(0);
    for (m, slot) in plan.modules().iter().zip(c.module_fds.iter_mut()) {
        let fd = c
            .bpf
            .module_btf_fd(m)
            .map_err(|e| kerr("opening the kernel module's BTF object", e))
            .ctx(Ctx::Symbol(m.sym))?;
        *slot = fd;
        if m.fd_idx != 0 {
            *fd_array
                .get_mut(idx(m.fd_idx))
                .ok_or(Error::malformed("fd_array index"))? = fd;
        }
    }

    for (i, m) in obj.maps.iter().enumerate() {
        let create = plan.maps.get(i).is_some_and(|pm| pm.create);
        if m.kind == MapKind::Inner || !create {
            continue;
        }
        let ctx = Ctx::Map(m.name);
        // A map the caller supplies is neither created nor initialised (libbpf skips
        // both for a reused map).
        if reuse_refusal(plan, i).is_none() {
            let pm = plan.maps.get(i).ok_or(Error::malformed("map index"))?;
            let supplied = c.bpf.reuse_map(m.name, &pm.def).map_err(|f| match f {
                ReuseFail::Differs(field) => Error::new(Kind::Mismatch(
                    "the caller's map for reuse differs from the object's definition",
                ))
                .ctx(Ctx::Step(field)),
                ReuseFail::Errno(e) => kerr("taking the caller's map for reuse", e),
            });
            if let Some(fd) = supplied.ctx(ctx)? {
                *c.out
                    .map_fds
                    .get_mut(i)
                    .ok_or(Error::malformed("map index"))? = fd;
                *c.reused.get_mut(i).ok_or(Error::malformed("map index"))? = true;
                continue;
            }
        }
        let inner_fd = match m.inner {
            Some(ii) => {
                let fd = create_map(plan, c, idx(ii), -1)
                    .ctx(Ctx::Step("inner map"))
                    .ctx(ctx)?;
                Some(fd)
            }
            None => None,
        };
        let res = create_map(plan, c, i, inner_fd.unwrap_or(-1));
        if let Some(fd) = inner_fd {
            c.bpf.close(fd);
        }
        let fd = res.ctx(ctx)?;
        *c.out
            .map_fds
            .get_mut(i)
            .ok_or(Error::malformed("map index"))? = fd;
        // Global data and the resolved kconfig values (libbpf's
        // `bpf_object__populate_internal_map`); .bss stays as the kernel zeroed it.
        let data = plan.map_data(i);
        if m.kind.is_internal() && !data.is_empty() {
            update_elem(c.bpf, fd, 0, data)
                .ctx(Ctx::Step("initial value"))
                .ctx(ctx)?;
        }
        if matches!(m.kind, MapKind::Rodata | MapKind::Kconfig) {
            let mut a = MapFreezeAttr { map_fd: fd_u32(fd) };
            c.bpf
                .bpf(Cmd::MapFreeze(&mut a))
                .map_err(|e| kerr("BPF_MAP_FREEZE", e))
                .ctx(ctx)?;
            c.bpf
                .check_frozen(fd, data)
                .map_err(|e| {
                    kerr(
                        "the frozen value's check (written by another process between \
                     BPF_MAP_UPDATE_ELEM and BPF_MAP_FREEZE?)",
                        e,
                    )
                })
                .ctx(ctx)?;
        }
        // libbpf maps the arena right after creating it, and writes its globals.
        if let Some(a) = plan.arena.filter(|a| idx(a.map) == i) {
            let addr = c
                .bpf
                .map_arena(fd, a.len, a.addr, data)
                .map_err(|e| kerr("mmap of the arena", e))
                .ctx(ctx)?;
            c.arena = Some((addr, a.len));
        }
    }

    for s in obj.slots.iter() {
        if let SlotTarget::Map(t) = s.target {
            // libbpf fills a map-in-map's slots only when it created the map; a
            // program array's, below, whoever made it.
            if c.reused.get(idx(s.map)).copied().unwrap_or(false) {
                continue;
            }
            let fd = *c
                .out
                .map_fds
                .get(idx(t))
                .ok_or(Error::malformed("slot map"))?;
            set_slot(c, s.map, slot_map_name(obj, s.map), s.index, fd, false)?;
        }
    }

    for k in 0..plan.progs.len() {
        let p = *plan.progs.get(k).ok_or(Error::malformed("program index"))?;
        let ctx = Ctx::Prog(p.name);
        // The map fds go into a copy of the instructions; a program without maps is
        // sent as planned.
        let planned = plan.prog_insns(&p);
        let insns: &[Insn] = if p.sites.len == 0 {
            planned
        } else {
            let copy = scratch
                .get_mut(..planned.len())
                .ok_or(Error::malformed("scratch instructions"))?;
            copy.copy_from_slice(planned);
            for site in plan.prog_sites(&p) {
                let fd = if site.module != 0 {
                    c.module_fd(site.module)?
                } else {
                    *c.out
                        .map_fds
                        .get(idx(site.map))
                        .ok_or(Error::malformed("fd site map"))?
                };
                let at = site
                    .insn
                    .checked_sub(p.insns.start)
                    .ok_or(Error::malformed("fd site insn"))?;
                copy.get_mut(idx(at))
                    .ok_or(Error::malformed("fd site insn"))?
                    .imm = fd;
            }
            copy
        };
        let fi = plan.prog_func_info(&p);
        let li = plan.prog_line_info(&p);
        let log = c.bpf.prog_log(k);
        let (attach_id, attach_obj) = match p.attach {
            Some(a) if a.module != 0 => (a.type_id, fd_u32(c.module_fd(a.module)?)),
            Some(a) => (a.type_id, 0),
            None => (0, 0),
        };
        let mut a = ProgLoadAttr {
            prog_type: p.prog_type,
            insn_cnt: u32::try_from(insns.len()).map_err(|_| Error::malformed("insn count"))?,
            insns: insns.as_ptr() as u64,
            license: obj.license.as_ptr() as u64,
            log_level: log.level,
            log_size: log.size,
            log_buf: log.buf,
            kern_version: plan.kern_version,
            prog_flags: p.prog_flags,
            prog_name: p.kname,
            expected_attach_type: p.expected_attach_type,
            attach_btf_id: attach_id,
            attach_fd: attach_obj,
            fd_array: if fd_array.is_empty() {
                0
            } else {
                fd_array.as_ptr() as u64
            },
            ..ProgLoadAttr::default()
        };
        if c.btf_fd < 0 && !plan.prog_core_relos(&p).is_empty() {
            // Kernel-side CO-RE needs the object's BTF: without it the program would
            // run unrelocated.
            return Err(Error::new(Kind::Unsupported(
                "CO-RE relocations for the kernel without the object's BTF",
            ))
            .ctx(ctx));
        }
        if c.btf_fd >= 0 {
            a.prog_btf_fd = fd_u32(c.btf_fd);
            if !fi.is_empty() {
                a.func_info_rec_size = uapi::FUNC_INFO_REC_SIZE;
                a.func_info = fi.as_ptr() as u64;
                a.func_info_cnt = u32::try_from(fi.len()).unwrap_or(0);
            }
            if !li.is_empty() {
                a.line_info_rec_size = uapi::LINE_INFO_REC_SIZE;
                a.line_info = li.as_ptr() as u64;
                a.line_info_cnt = u32::try_from(li.len()).unwrap_or(0);
            }
            let cr = plan.prog_core_relos(&p);
            if !cr.is_empty() {
                a.core_relo_rec_size = 16;
                a.core_relos = cr.as_ptr() as u64;
                a.core_relo_cnt = u32::try_from(cr.len()).unwrap_or(0);
            }
        }
        // The caller's target program, held only for the command.
        let target = if p.attach_prog {
            let fd = c
                .bpf
                .target_prog_fd(p.name)
                .map_err(|e| kerr("taking the caller's target program", e))
                .ctx(ctx)?;
            a.attach_fd = fd_u32(fd);
            Some(fd)
        } else {
            None
        };
        let res = c.bpf.bpf(Cmd::ProgLoad(&mut a));
        if let Some(fd) = target {
            c.bpf.close(fd);
        }
        let fd = res
            .map_err(|e| {
                let e = kerr("BPF_PROG_LOAD", e);
                // The verifier may well have stopped there (libbpf names the relocation
                // in its log instead).
                match p.core_poison {
                    Some(q) => e
                        .ctx(Ctx::CorePoison {
                            relo: q.relo,
                            insn: q.insn,
                        })
                        .ctx(Ctx::Section(q.sec_name)),
                    None => e,
                }
            })
            .ctx(ctx)?;
        *c.out
            .prog_fds
            .get_mut(k)
            .ok_or(Error::malformed("program index"))? = fd;
    }

    write_st_values(plan, st_value, c, true)?;

    // The program arrays' slots, last: libbpf fills them once every program is loaded,
    // and in maps the caller supplied too. Those writes are undone if a later one fails,
    // what a slot held put back (a failure after the executor is its caller's to undo).
    for (n, s) in obj.slots.iter().enumerate() {
        if let SlotTarget::Prog(t) = s.target {
            // In a map the caller supplied, what the slot held is kept for the undo.
            let swap = c.reused.get(idx(s.map)).copied().unwrap_or(false);
            let res = plan
                .planned_index(t)
                .and_then(|k| c.out.prog_fds.get(k).copied())
                .ok_or(Error::malformed("slot program not planned"))
                .and_then(|fd| set_slot(c, s.map, slot_map_name(obj, s.map), s.index, fd, swap));
            if let Err(e) = res {
                restore_reused_slots(plan, c, obj.slots.iter().take(n));
                return Err(e);
            }
        }
    }

    // Registering is the last step: nothing in the executor can fail after it.
    if c.bpf.register_struct_ops() {
        if let Err(e) = write_st_values(plan, st_value, c, false) {
            restore_reused_slots(plan, c, obj.slots.iter());
            return Err(e);
        }
    }
    Ok(())
}

/// The values of the struct_ops maps made for a link (`link`) or not, once their
/// programs are loaded: the kernel's `bpf_struct_ops_<type>` as planned, each function
/// member holding its program's fd, written with `BPF_MAP_UPDATE_ELEM` as libbpf's
/// `bpf_map__attach_struct_ops()` writes it.
///
/// For a `BPF_F_LINK` map the update registers nothing (the link does: the caller's
/// `BPF_LINK_CREATE` of the map fd, attach type `BPF_STRUCT_OPS`), so it is part of
/// every load: the kernel checks the value there (`init_member()`, `validate()`), a map
/// closed before any link frees it all, and a load failing later leaves nothing
/// registered. Without it the caller could not attach the map: it would need the
/// value, which only the load computes.
///
/// For a plain map the update registers the struct_ops (`reg()`), which is attaching:
/// only when the caller asks ([`Bpf::register_struct_ops`]), else the map stays empty
/// as libbpf's load leaves it. If one fails, those registered before are unregistered
/// (`BPF_MAP_DELETE_ELEM`).
fn write_st_values<'a, A: Alloc, B: Bpf>(
    plan: &Plan<'_, 'a, A>,
    buf: &mut [u8],
    c: &mut Cleanup<'_, '_, B>,
    link: bool,
) -> Result<'a, ()> {
    let written = plan
        .st_maps
        .iter()
        .filter(|st| plan.st_created(st) == Some(link));
    for (n, st) in written.clone().enumerate() {
        let res = write_st_value(plan, st, buf, c);
        if res.is_err() && !link {
            for st in written.clone().take(n) {
                if let Some(&fd) = c.out.map_fds.get(idx(st.map)) {
                    let _ = c.bpf.delete_elem(fd, 0);
                }
            }
        }
        res?;
    }
    Ok(())
}

/// Write the value of struct_ops map `st` ([`write_st_values`]).
fn write_st_value<'a, A: Alloc, B: Bpf>(
    plan: &Plan<'_, 'a, A>,
    st: &StOpsPlan,
    buf: &mut [u8],
    c: &mut Cleanup<'_, '_, B>,
) -> Result<'a, ()> {
    let m = plan
        .obj
        .maps
        .get(idx(st.map))
        .ok_or(Error::malformed("struct_ops map index"))?;
    let ctx = Ctx::Map(m.name);
    let (value, funcs) = plan.st_value(st);
    let v = buf
        .get_mut(..value.len())
        .ok_or(Error::malformed("struct_ops value size"))
        .ctx(ctx)?;
    crate::util::copy(v, value);
    for f in funcs {
        let fd = plan
            .planned_index(f.prog)
            .and_then(|k| c.out.prog_fds.get(k).copied())
            .ok_or(Error::malformed("struct_ops program not planned"))
            .ctx(ctx)?;
        let at = idx(f.offset);
        let dst = v
            .get_mut(at..at.saturating_add(8))
            .ok_or(Error::malformed(
                "struct_ops member outside the kernel value",
            ))
            .ctx(ctx)?;
        // The kernel reads `(int)*(unsigned long *)`.
        crate::util::copy(dst, &u64::from(fd_u32(fd)).to_ne_bytes());
    }
    let map_fd = *c
        .out
        .map_fds
        .get(idx(st.map))
        .ok_or(Error::malformed("struct_ops map index"))?;
    update_elem(c.bpf, map_fd, 0, v)
        .ctx(Ctx::Step("struct_ops value"))
        .ctx(ctx)?;
    Ok(())
}

/// Put back what the program slots among `slots` of maps the caller supplied held
/// before [`run`] wrote them and failed after, each if it still holds the program
/// written ([`Bpf::restore_slot`]). Last written first: two of the object's maps may
/// be the same map of the caller's, and a slot written twice gets back what it held
/// before the first write only when the second is undone first.
fn restore_reused_slots<'s, A: Alloc, B: Bpf>(
    plan: &Plan<'_, '_, A>,
    c: &mut Cleanup<'_, '_, B>,
    slots: impl DoubleEndedIterator<Item = &'s Slot>,
) {
    for s in slots.rev() {
        let SlotTarget::Prog(t) = s.target else {
            continue;
        };
        if !c.reused.get(idx(s.map)).copied().unwrap_or(false) {
            continue;
        }
        let prog_fd = plan
            .planned_index(t)
            .and_then(|k| c.out.prog_fds.get(k).copied());
        if let (Some(&fd), Some(prog_fd)) = (c.out.map_fds.get(idx(s.map)), prog_fd) {
            let _ = c.bpf.restore_slot(fd, s.index, prog_fd);
        }
    }
}

/// The name of the map whose slot an initial value fills ("" if out of range: the
/// write reports that).
fn slot_map_name<'a, A: Alloc>(obj: &Object<'a, A>, map: u32) -> &'a str {
    obj.maps.get(idx(map)).map_or("", |m| m.name)
}

/// Write `value_fd` into slot `index` of map `map` (named `name`, for the error): with
/// [`Bpf::swap_slot`] if `swap` (a program array the caller supplied), else with
/// `BPF_MAP_UPDATE_ELEM`.
fn set_slot<'a, B: Bpf>(
    c: &mut Cleanup<'_, '_, B>,
    map: u32,
    name: &'a str,
    index: u32,
    value_fd: i32,
    swap: bool,
) -> Result<'a, ()> {
    let map_fd = *c
        .out
        .map_fds
        .get(idx(map))
        .ok_or(Error::malformed("slot map"))?;
    if swap {
        c.bpf.swap_slot(map_fd, index, value_fd)
    } else {
        update_u32(c.bpf, map_fd, index, &value_fd.to_ne_bytes())
    }
    .map_err(|e| kerr("BPF_MAP_UPDATE_ELEM", e))
    .ctx(Ctx::Value(What::Index, u64::from(index)))
    .ctx(Ctx::Step("initial slot"))
    .ctx(Ctx::Map(name))
}

/// `BPF_MAP_UPDATE_ELEM` (`BPF_ANY`) of key `key` (a u32) of map `map_fd` to `value`,
/// through [`Bpf::bpf`]; a positive errno if it fails.
pub fn update_u32<B: Bpf + ?Sized>(
    bpf: &mut B,
    map_fd: i32,
    key: u32,
    value: &[u8],
) -> core::result::Result<(), i32> {
    let mut a = MapElemAttr {
        map_fd: fd_u32(map_fd),
        key: &key as *const u32 as u64,
        value: value.as_ptr() as u64,
        flags: uapi::BPF_ANY,
        ..MapElemAttr::default()
    };
    bpf.bpf(Cmd::MapUpdate(&mut a)).map(|_| ())
}

/// [`update_u32`], its failure as the executor reports it.
fn update_elem<'a, B: Bpf>(bpf: &mut B, map_fd: i32, key: u32, value: &[u8]) -> Result<'a, ()> {
    update_u32(bpf, map_fd, key, value).map_err(|e| kerr("BPF_MAP_UPDATE_ELEM", e))
}

/// Create map `i` of the plan (with `inner_fd` as its inner map template, or -1),
/// retrying without BTF key/value types as libbpf does.
fn create_map<'a, A: Alloc, B: Bpf>(
    plan: &Plan<'_, 'a, A>,
    c: &mut Cleanup<'_, '_, B>,
    i: usize,
    inner_fd: i32,
) -> Result<'a, i32> {
    let m = plan.obj.maps.get(i).ok_or(Error::malformed("map index"))?;
    let pm = plan.maps.get(i).ok_or(Error::malformed("map index"))?;
    let d = pm.def;
    let mut a = MapCreateAttr {
        map_type: d.map_type,
        key_size: d.key_size,
        value_size: d.value_size,
        max_entries: d.max_entries,
        map_flags: d.map_flags,
        inner_map_fd: if inner_fd >= 0 { fd_u32(inner_fd) } else { 0 },
        numa_node: d.numa_node,
        map_name: m.kname,
        map_extra: d.map_extra,
        btf_vmlinux_value_type_id: pm.vmlinux_value_type_id,
        ..MapCreateAttr::default()
    };
    if pm.value_type_module != 0 {
        // A module's struct_ops type: its value type is in that module's BTF.
        a.value_type_btf_obj_fd = c.module_fd(pm.value_type_module)?;
        a.map_flags |= uapi::BPF_F_VTYPE_BTF_OBJ_FD;
    }
    if pm.with_btf && c.btf_fd >= 0 {
        a.btf_fd = fd_u32(c.btf_fd);
        a.btf_key_type_id = d.key_type_id;
        a.btf_value_type_id = d.value_type_id;
    }
    match c.bpf.bpf(Cmd::MapCreate(&mut a)) {
        Ok(fd) => Ok(fd),
        Err(_) if a.btf_key_type_id != 0 || a.btf_value_type_id != 0 => {
            a.btf_fd = 0;
            a.btf_key_type_id = 0;
            a.btf_value_type_id = 0;
            c.bpf
                .bpf(Cmd::MapCreate(&mut a))
                .map_err(|e| kerr("BPF_MAP_CREATE", e))
        }
        Err(e) => Err(kerr("BPF_MAP_CREATE", e)),
    }
}
