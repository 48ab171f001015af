// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The executor against a scripted kernel: the order and contents of the `bpf(2)`
//! commands it issues, its cleanup when any one of them fails, and how it goes on when
//! the kernel refuses the object's BTF. The fixtures are `fixtures/*.bpf.c`, compiled
//! at test time (skipped without clang, a failure under `CI=true`).

mod support;

use bpfld_core::elf::Elf;
use bpfld_core::exec::{self, Bpf, Cmd};
use bpfld_core::insn::Insn;
use bpfld_core::object::Object;
use bpfld_core::plan::{KernelBtf, Options, Plan};
use bpfld_core::uapi;
use std::collections::BTreeSet;
use support::{fixtures, kinfo, FakeKernelBtf, TestAlloc};

/// What the scripted kernel saw of one command.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Btf,
    Map { btf_fd: u32, key: u32, value: u32 },
    Update,
    Freeze,
    Prog { btf_fd: u32, func_info: u32 },
}

/// A kernel that hands out fds from 100 up, fails command number `fail_at` (0-based)
/// with `errno`, and records what it saw, created and closed.
#[derive(Clone, Default)]
struct Script {
    fail_at: Option<(usize, i32)>,
    fail_btf: Option<i32>,
    seen: Vec<Seen>,
    next_fd: i32,
    open: BTreeSet<i32>,
    closed: Vec<i32>,
    dropped: Vec<i32>,
    /// The `imm` of every `ld_imm64` naming a map (by fd or by value) that programs
    /// arrived with.
    map_imms: Vec<i32>,
    /// Map arenas (else the trait's default refuses).
    arena: bool,
    /// Arena mappings made: (map fd, length, address asked, data), and the number of
    /// commands seen before.
    mapped: Vec<(i32, u64, u64, Vec<u8>, usize)>,
    /// Arena mappings undone: (address, length).
    unmapped: Vec<(u64, u64)>,
    /// Frozen maps checked: (fd, value length), after how many commands.
    checked: Vec<(i32, usize, usize)>,
    /// Answer every frozen map's check with EBADMSG (written before its freeze).
    frozen_written: bool,
    /// Maps the caller supplies, by name: an fd (made here, as the module installs
    /// one) or a refusal.
    supply: Vec<(&'static str, Result<(), exec::ReuseFail>)>,
    /// Every name the executor asked about, and the fd supplied for it.
    asked: Vec<(String, Option<i32>)>,
    /// Target programs handed out (`target_prog_fd`): program name, fd.
    targets: Vec<(String, i32)>,
    /// `attach_fd` of every `BPF_PROG_LOAD`, in order.
    attach_fds: Vec<u32>,
    /// Program array slots put back (`restore_slot`): map fd, key.
    restored: Vec<(i32, u32)>,
    /// struct_ops maps unregistered (`delete_elem`): map fd.
    unregistered: Vec<i32>,
}

/// Where the scripted kernel maps arenas.
const ARENA_AT: u64 = 0x7f00_0000_0000;

impl Bpf for Script {
    fn bpf(&mut self, cmd: Cmd<'_>) -> Result<i32, i32> {
        let n = self.seen.len();
        let (seen, creates) = match cmd {
            Cmd::BtfLoad(_) => (Seen::Btf, true),
            Cmd::MapCreate(a) => (
                Seen::Map {
                    btf_fd: a.btf_fd,
                    key: a.btf_key_type_id,
                    value: a.btf_value_type_id,
                },
                true,
            ),
            Cmd::MapUpdate(_) => (Seen::Update, false),
            Cmd::MapFreeze(_) => (Seen::Freeze, false),
            Cmd::ProgLoad(a) => (
                {
                    // SAFETY: the executor points `insns` at `insn_cnt` instructions
                    // that outlive the command.
                    let insns = unsafe {
                        std::slice::from_raw_parts(a.insns as *const Insn, a.insn_cnt as usize)
                    };
                    self.map_imms.extend(
                        insns
                            .iter()
                            .filter(|i| {
                                i.is_ld_imm64()
                                    && matches!(
                                        i.src(),
                                        uapi::BPF_PSEUDO_MAP_FD | uapi::BPF_PSEUDO_MAP_VALUE
                                    )
                            })
                            .map(|i| i.imm),
                    );
                    self.attach_fds.push(a.attach_fd);
                    Seen::Prog {
                        btf_fd: a.prog_btf_fd,
                        func_info: a.func_info_cnt,
                    }
                },
                true,
            ),
        };
        let is_btf = seen == Seen::Btf;
        self.seen.push(seen);
        if let Some((at, errno)) = self.fail_at {
            if at == n {
                return Err(errno);
            }
        }
        if is_btf {
            if let Some(e) = self.fail_btf {
                return Err(e);
            }
        }
        if !creates {
            return Ok(0);
        }
        self.next_fd += 1;
        let fd = 100 + self.next_fd;
        self.open.insert(fd);
        Ok(fd)
    }

    fn close(&mut self, fd: i32) {
        assert!(
            self.open.remove(&fd),
            "fd {fd} closed twice or never created"
        );
        self.closed.push(fd);
    }

    fn btf_dropped(&mut self, errno: i32) {
        self.dropped.push(errno);
    }

    fn map_arena(&mut self, map_fd: i32, len: u64, addr: u64, data: &[u8]) -> Result<u64, i32> {
        if !self.arena {
            return Err(95);
        }
        assert!(self.open.contains(&map_fd), "arena fd {map_fd} not open");
        self.mapped
            .push((map_fd, len, addr, data.to_vec(), self.seen.len()));
        Ok(ARENA_AT)
    }

    fn unmap_arena(&mut self, addr: u64, len: u64) {
        self.unmapped.push((addr, len));
    }

    fn check_frozen(&mut self, map_fd: i32, data: &[u8]) -> Result<(), i32> {
        assert!(self.open.contains(&map_fd), "checked fd {map_fd} not open");
        assert_eq!(
            self.seen.last(),
            Some(&Seen::Freeze),
            "checked right after its freeze"
        );
        self.checked.push((map_fd, data.len(), self.seen.len()));
        if self.frozen_written {
            Err(74)
        } else {
            Ok(())
        }
    }

    fn target_prog_fd(&mut self, prog: &str) -> Result<i32, i32> {
        self.next_fd += 1;
        let fd = 100 + self.next_fd;
        self.open.insert(fd);
        self.targets.push((prog.to_string(), fd));
        Ok(fd)
    }

    fn delete_elem(&mut self, map_fd: i32, key: u32) -> Result<(), i32> {
        assert!(
            self.open.contains(&map_fd),
            "unregistered fd {map_fd} not open"
        );
        assert_eq!(key, 0, "a struct_ops map's key");
        self.unregistered.push(map_fd);
        Ok(())
    }

    fn restore_slot(&mut self, map_fd: i32, key: u32, prog_fd: i32) -> Result<(), i32> {
        assert!(self.open.contains(&map_fd), "restored fd {map_fd} not open");
        assert!(
            self.open.contains(&prog_fd),
            "its program's fd {prog_fd} not open"
        );
        self.restored.push((map_fd, key));
        Ok(())
    }

    fn reuse_map(
        &mut self,
        name: &str,
        def: &bpfld_core::object::MapDef,
    ) -> Result<Option<i32>, exec::ReuseFail> {
        assert!(def.max_entries > 0, "{name}: asked with its definition");
        let fd = match self.supply.iter().find(|(n, _)| *n == name) {
            None => None,
            Some((_, Err(f))) => return Err(*f),
            Some((_, Ok(()))) => {
                self.next_fd += 1;
                let fd = 100 + self.next_fd;
                self.open.insert(fd);
                Some(fd)
            }
        };
        self.asked.push((name.to_string(), fd));
        Ok(fd)
    }
}

/// The fds a successful run handed out (maps, programs), or the errno and message.
type Outcome = Result<(Vec<i32>, Vec<i32>), (i32, String)>;

/// Plan fixture `name` and run it against `s`; returns the executor's result (errno
/// on failure) and the fds it handed out.
fn execute(name: &str, s: &mut Script) -> Option<Outcome> {
    let bytes = fixtures()?.get(name).unwrap();
    let a = &mut TestAlloc::new();
    let elf = Elf::parse(bytes, a).unwrap();
    let obj = Object::parse(elf, name, a).unwrap();
    let kb = FakeKernelBtf;
    let kb: Option<&dyn KernelBtf> = Some(&kb);
    let plan = Plan::build(&obj, &kinfo(), kb, a).unwrap();
    let mut split = s.clone();
    let mut maps = vec![0; plan.maps.len()];
    let mut progs = vec![0; plan.progs.len()];
    let whole = match exec::execute(&plan, a, s, &mut maps, &mut progs) {
        Ok(()) => Ok((maps, progs)),
        Err(e) => Err((e.errno(), format!("{e}"))),
    };
    // The module's way: the BTF first (beside the planning), then the rest. The same
    // commands, fds, cleanup and result.
    let mut maps = vec![0; plan.maps.len()];
    let mut progs = vec![0; plan.progs.len()];
    let btf = exec::load_btf(&obj, &mut split).unwrap();
    let parts = match exec::execute_with_btf(&plan, btf, a, &mut split, &mut maps, &mut progs) {
        Ok(()) => Ok((maps, progs)),
        Err(e) => Err((e.errno(), format!("{e}"))),
    };
    assert_eq!(parts, whole, "{name}: load_btf + execute_with_btf");
    assert_eq!(split.seen, s.seen, "{name}: commands");
    assert_eq!(split.closed, s.closed, "{name}: closed");
    assert_eq!(split.open, s.open, "{name}: left open");
    assert_eq!(split.dropped, s.dropped, "{name}: BTF dropped");
    Some(whole)
}

#[test]
fn btf_loaded_ahead_is_closed_on_every_way_out() {
    let Some(fx) = fixtures() else { return };
    let bytes = fx.get("maps").unwrap();
    let a = &mut TestAlloc::new();
    let elf = Elf::parse(bytes, a).unwrap();
    let obj = Object::parse(elf, "maps", a).unwrap();
    let kb = FakeKernelBtf;
    let kb: Option<&dyn KernelBtf> = Some(&kb);
    let plan = Plan::build(&obj, &kinfo(), kb, a).unwrap();

    // Not executed (the plan failed, say): closed by its holder.
    let mut s = Script::default();
    let btf = exec::load_btf(&obj, &mut s).unwrap();
    assert_eq!(btf, exec::BtfLoad::Fd(101));
    btf.close(&mut s);
    assert_eq!((s.closed.clone(), s.open.len()), (vec![101], 0));

    // Handed to an execution that cannot start: closed there.
    let mut s = Script::default();
    let btf = exec::load_btf(&obj, &mut s).unwrap();
    let e = exec::execute_with_btf(&plan, btf, a, &mut s, &mut [], &mut [])
        .expect_err("fd arrays that do not match");
    assert!(format!("{e}").contains("fd arrays"), "{e}");
    assert_eq!(
        (s.seen.len(), s.closed.clone(), s.open.len()),
        (1, vec![101], 0)
    );

    // Refused: nothing to close; the execution decides (no struct_ops here: goes on).
    let mut s = Script {
        fail_btf: Some(22),
        ..Script::default()
    };
    let btf = exec::load_btf(&obj, &mut s).unwrap();
    assert_eq!(btf, exec::BtfLoad::Refused(22));
    let mut maps = vec![0; plan.maps.len()];
    let mut progs = vec![0; plan.progs.len()];
    exec::execute_with_btf(&plan, btf, a, &mut s, &mut maps, &mut progs).unwrap();
    assert_eq!(s.dropped, vec![22]);
}

#[test]
fn success_hands_out_every_fd_and_closes_only_the_btf_and_templates() {
    for name in ["basic", "calls", "maps", "attach"] {
        let mut s = Script::default();
        let Some(r) = execute(name, &mut s) else {
            return;
        };
        let (maps, progs) = r.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(s.dropped.is_empty());
        assert_eq!(s.seen.first(), Some(&Seen::Btf), "{name}: BTF first");
        // Everything still open is handed out, once.
        let out: BTreeSet<i32> = maps
            .iter()
            .chain(&progs)
            .copied()
            .filter(|&f| f >= 0)
            .collect();
        assert_eq!(out, s.open, "{name}");
        assert!(
            progs.iter().all(|&f| f > 100),
            "{name}: every program loaded"
        );
        // The BTF fd (the first created) is closed once the maps and programs hold it.
        assert!(s.closed.contains(&101), "{name}: BTF fd closed");
        for c in &s.seen {
            if let Seen::Prog { btf_fd, .. } = c {
                assert_eq!(*btf_fd, 101, "{name}: programs get the object's BTF");
            }
        }
    }
}

#[test]
fn a_failure_at_any_step_closes_everything() {
    for name in ["basic", "calls", "maps", "attach"] {
        let mut full = Script::default();
        if execute(name, &mut full).is_none() {
            return;
        }
        let steps = full.seen.len();
        assert!(steps >= 3, "{name}: {steps} commands");
        for at in 0..steps {
            let mut s = Script {
                fail_at: Some((at, 13)),
                ..Script::default()
            };
            let (errno, msg) = match execute(name, &mut s).unwrap() {
                Err(e) => e,
                Ok((maps, progs)) => {
                    // Only two refusals are survivable: the BTF (loaded without it) and
                    // a map create with BTF types (retried without them, as libbpf).
                    match &s.seen[at] {
                        Seen::Btf => assert_eq!(s.dropped, vec![13]),
                        Seen::Map { key, value, .. } => {
                            assert!(*key != 0 || *value != 0, "{name}: {:?}", s.seen);
                            assert!(
                                matches!(
                                    s.seen[at + 1],
                                    Seen::Map {
                                        btf_fd: 0,
                                        key: 0,
                                        value: 0
                                    }
                                ),
                                "{name}: retried without BTF"
                            );
                        }
                        c => panic!("{name} failing at {at} ({c:?}) succeeded"),
                    }
                    let out: BTreeSet<i32> = maps
                        .iter()
                        .chain(&progs)
                        .copied()
                        .filter(|&f| f >= 0)
                        .collect();
                    assert_eq!(out, s.open, "{name} failing at {at}");
                    continue;
                }
            };
            assert_eq!(errno, 13, "{name} failing at {at}: {msg}");
            assert!(
                s.open.is_empty(),
                "{name} failing at {at}: leaked {:?}",
                s.open
            );
            assert_eq!(s.seen.len(), at + 1, "{name}: stops at the failing command");
            assert!(msg.contains("errno 13"), "{name}: {msg}");
        }
    }
}

/// Every frozen map is checked right after its freeze; a map written by someone else
/// in between fails the load there, naming the map, with everything closed.
#[test]
fn a_frozen_map_that_changed_fails_the_load() {
    let mut found = false;
    for name in ["basic", "calls", "maps", "attach"] {
        let mut full = Script::default();
        if execute(name, &mut full).is_none() {
            return;
        }
        let freezes = full.seen.iter().filter(|s| **s == Seen::Freeze).count();
        assert_eq!(full.checked.len(), freezes, "{name}: one check per freeze");
        if freezes == 0 {
            continue;
        }
        found = true;
        assert!(
            full.checked.iter().all(|c| c.1 > 0),
            "{name}: {:?}",
            full.checked
        );
        let mut s = Script {
            frozen_written: true,
            ..Script::default()
        };
        let (errno, msg) = execute(name, &mut s).unwrap().unwrap_err();
        assert_eq!(errno, 74, "{name}: {msg}");
        assert!(
            msg.contains("map '") && msg.contains("BPF_MAP_FREEZE"),
            "{name}: {msg}"
        );
        assert!(s.open.is_empty(), "{name}: leaked {:?}", s.open);
        assert!(
            !s.seen.iter().any(|c| matches!(c, Seen::Prog { .. })),
            "{name}: a program was loaded after the failed check"
        );
    }
    assert!(found, "no fixture freezes a map");
}

#[test]
fn refused_btf_is_optional_without_struct_ops() {
    let mut s = Script {
        fail_btf: Some(22),
        ..Script::default()
    };
    let Some(r) = execute("maps", &mut s) else {
        return;
    };
    let (maps, progs) = r.unwrap();
    assert_eq!(s.dropped, vec![22]);
    assert!(maps.iter().any(|&f| f > 0) && progs.iter().all(|&f| f > 0));
    let mut n_maps = 0;
    for c in &s.seen {
        match c {
            Seen::Map { btf_fd, key, value } => {
                n_maps += 1;
                assert_eq!((*btf_fd, *key, *value), (0, 0, 0), "no BTF types for maps");
            }
            Seen::Prog { btf_fd, func_info } => {
                assert_eq!((*btf_fd, *func_info), (0, 0), "no func info for programs");
            }
            _ => {}
        }
    }
    assert!(n_maps >= 3);
    assert!(s.open.iter().all(|f| maps.contains(f) || progs.contains(f)));
}

/// The executor reads the plan only: map fds go into a copy of each program, so the
/// receipt may be computed while it runs (the module hashes on another CPU), and a
/// deferred receipt is the one `Plan::build` computes.
#[test]
fn plan_is_read_only_and_receipt_can_be_deferred() {
    let Some(bytes) = fixtures().map(|f| f.get("maps").unwrap().clone()) else {
        return;
    };
    let a = &mut TestAlloc::new();
    let elf = Elf::parse(&bytes, a).unwrap();
    let obj = Object::parse(elf, "maps", a).unwrap();
    let kb = FakeKernelBtf;
    let kb: Option<&dyn KernelBtf> = Some(&kb);
    let eager = Plan::build(&obj, &kinfo(), kb, a).unwrap();
    let opts = Options {
        defer_receipt: true,
        ..Options::default()
    };
    let plan = Plan::build_with(&obj, &kinfo(), kb, &opts, a).unwrap();
    assert_eq!(plan.receipt, [0; 32], "deferred: left zero");
    assert_ne!(eager.receipt, [0; 32]);
    assert_eq!(plan.compute_receipt(), eager.receipt);
    assert!(!plan.fd_sites.is_empty(), "the fixture's programs use maps");

    let before: Vec<Insn> = plan.insns.to_vec();
    let mut s = Script::default();
    let mut maps = vec![0; plan.maps.len()];
    let mut progs = vec![0; plan.progs.len()];
    exec::execute(&plan, a, &mut s, &mut maps, &mut progs).unwrap();
    assert_eq!(
        &plan.insns[..],
        &before[..],
        "the plan's instructions are unchanged"
    );
    assert_eq!(plan.compute_receipt(), eager.receipt);
    // Each program got the fds of the maps it names, not the planned zeros.
    assert!(!s.map_imms.is_empty());
    for imm in &s.map_imms {
        assert!(
            maps.contains(imm),
            "imm {imm} is not a created map fd {maps:?}"
        );
    }
}

/// The arena is mapped right after its MAP_CREATE and given its globals; a failure
/// after that unmaps it; an executor that cannot map arenas refuses the object,
/// naming the map, with nothing left open.
#[test]
fn the_arena_is_mapped_after_its_creation_and_unmapped_on_failure() {
    let mut s = Script {
        arena: true,
        ..Script::default()
    };
    let Some(r) = execute("arena", &mut s) else {
        return;
    };
    let (maps, _) = r.unwrap();
    assert_eq!(s.mapped.len(), 1, "{:?}", s.mapped);
    let (fd, len, addr, data, after) = s.mapped[0].clone();
    assert!(maps.contains(&fd));
    assert_eq!((len, addr), (4 * 4096, 0));
    assert_eq!(&data[..4], &3i32.to_le_bytes());
    assert!(
        matches!(s.seen[after - 1], Seen::Map { .. }),
        "{:?}",
        s.seen
    );
    assert!(s.unmapped.is_empty());
    assert!(matches!(s.seen.last(), Some(Seen::Prog { .. })));

    let last = s.seen.len() - 1;
    let mut f = Script {
        arena: true,
        fail_at: Some((last, 13)),
        ..Script::default()
    };
    let (errno, msg) = execute("arena", &mut f).unwrap().unwrap_err();
    assert_eq!(errno, 13, "{msg}");
    assert_eq!(f.unmapped, vec![(ARENA_AT, 4 * 4096)]);
    assert!(f.open.is_empty(), "leaked {:?}", f.open);

    let mut n = Script::default();
    let (errno, msg) = execute("arena", &mut n).unwrap().unwrap_err();
    assert_eq!(errno, 95, "{msg}");
    assert!(
        msg.contains("map 'arena'") && msg.contains("mmap of the arena"),
        "{msg}"
    );
    assert!(n.open.is_empty(), "leaked {:?}", n.open);
}

#[test]
fn maps_the_caller_supplies_are_used_instead_of_created() {
    let mut full = Script::default();
    let Some(r) = execute("maps", &mut full) else {
        return;
    };
    let (full_maps, _) = r.unwrap();
    let creates = |s: &Script| {
        s.seen
            .iter()
            .filter(|c| matches!(c, Seen::Map { .. }))
            .count()
    };
    let updates = |s: &Script| s.seen.iter().filter(|c| **c == Seen::Update).count();
    // Asked for every map that may be reused, none supplied: the same load.
    let asked: Vec<&str> = full.asked.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(asked, ["inner_a", "outer", "jumps", "sized"]);

    // `sized` and `outer` supplied: neither created, the programs use the supplied
    // fds, the map-in-map's slot is not written (as libbpf reuses a map), the program
    // array's is.
    let mut s = Script {
        supply: vec![("sized", Ok(())), ("outer", Ok(()))],
        ..Script::default()
    };
    let (maps, progs) = execute("maps", &mut s).unwrap().unwrap();
    // (nor `outer`'s inner map template, made only to shape `outer`)
    assert_eq!(creates(&s), creates(&full) - 3, "{:?}", s.seen);
    assert_eq!(updates(&s), updates(&full) - 1, "{:?}", s.seen);
    let supplied: Vec<i32> = s.asked.iter().filter_map(|(_, fd)| *fd).collect();
    assert_eq!(supplied.len(), 2);
    for fd in &supplied {
        assert!(maps.contains(fd), "supplied fd {fd} handed out: {maps:?}");
        assert!(s.map_imms.contains(fd), "supplied fd {fd} in the programs");
    }
    assert_eq!(maps.len(), full_maps.len());
    let out: BTreeSet<i32> = maps
        .iter()
        .chain(&progs)
        .copied()
        .filter(|&f| f >= 0)
        .collect();
    assert_eq!(out, s.open);

    // One that differs: refused, naming the map and the field; nothing left open.
    let mut s = Script {
        supply: vec![
            ("sized", Ok(())),
            ("jumps", Err(exec::ReuseFail::Differs("max_entries"))),
        ],
        ..Script::default()
    };
    let (errno, msg) = execute("maps", &mut s).unwrap().unwrap_err();
    assert_eq!(errno, 22, "{msg}");
    assert!(
        msg.contains("map 'jumps'") && msg.contains("max_entries"),
        "{msg}"
    );
    assert!(s.open.is_empty(), "left open: {:?}", s.open);

    // Taking it failed: its errno.
    let mut s = Script {
        supply: vec![("outer", Err(exec::ReuseFail::Errno(9)))],
        ..Script::default()
    };
    let (errno, msg) = execute("maps", &mut s).unwrap().unwrap_err();
    assert_eq!(errno, 9, "{msg}");
    assert!(msg.contains("map 'outer'"), "{msg}");
    assert!(s.open.is_empty());

    // A later failure closes the supplied fds with the rest.
    let steps = {
        let mut s = Script {
            supply: vec![("sized", Ok(()))],
            ..Script::default()
        };
        execute("maps", &mut s).unwrap().unwrap();
        s.seen.len()
    };
    let mut s = Script {
        supply: vec![("sized", Ok(()))],
        fail_at: Some((steps - 1, 13)),
        ..Script::default()
    };
    let (errno, _) = execute("maps", &mut s).unwrap().unwrap_err();
    assert_eq!(errno, 13);
    assert!(s.open.is_empty(), "left open: {:?}", s.open);
    let sized = s
        .asked
        .iter()
        .find(|(n, _)| n == "sized")
        .unwrap()
        .1
        .unwrap();
    assert!(s.closed.contains(&sized));
}

/// A program array the caller supplied keeps none of a failed load's programs: when
/// writing the fixture's second slot of `jumps` fails, the first is put back as it was
/// before the fds are closed. Slots of a map the load created, or of a load that
/// succeeds, are left as written.
#[test]
fn slots_written_into_a_supplied_program_array_are_restored_on_failure() {
    let supplied = || Script {
        supply: vec![("jumps", Ok(()))],
        ..Script::default()
    };
    let mut ok = supplied();
    if execute("maps", &mut ok).is_none() {
        return;
    }
    assert!(ok.restored.is_empty(), "{:?}", ok.restored);
    // The two slot writes are the last commands.
    let steps = ok.seen.len();
    assert_eq!(ok.seen[steps - 2..], [Seen::Update, Seen::Update]);
    let jumps = ok
        .asked
        .iter()
        .find(|(n, _)| n == "jumps")
        .unwrap()
        .1
        .unwrap();

    let mut s = Script {
        fail_at: Some((steps - 1, 13)),
        ..supplied()
    };
    let (errno, msg) = execute("maps", &mut s).unwrap().unwrap_err();
    assert_eq!(errno, 13, "{msg}");
    assert_eq!(
        msg, "map 'jumps': initial slot: index 1: BPF_MAP_UPDATE_ELEM failed: errno 13",
        "the message names the map and the slot"
    );
    let jumps_now = s
        .asked
        .iter()
        .find(|(n, _)| n == "jumps")
        .unwrap()
        .1
        .unwrap();
    assert_eq!(jumps_now, jumps);
    assert_eq!(s.restored, vec![(jumps, 0)], "the first slot written, [0]");
    assert!(s.unregistered.is_empty(), "{:?}", s.unregistered);
    assert!(s.open.is_empty(), "left open: {:?}", s.open);

    // Failing at the first write: nothing to put back.
    let mut s = Script {
        fail_at: Some((steps - 2, 13)),
        ..supplied()
    };
    execute("maps", &mut s).unwrap().unwrap_err();
    assert!(s.restored.is_empty(), "{:?}", s.restored);

    // The load's own map: closed with the rest, its slots go with it.
    let mut s = Script {
        fail_at: Some((steps - 1, 13)),
        ..Script::default()
    };
    execute("maps", &mut s).unwrap().unwrap_err();
    assert!(s.restored.is_empty(), "{:?}", s.restored);
}

/// The caller's target programs: `on_entry` (fentry) given one with function 7.
struct Targets(&'static str);

impl bpfld_core::plan::ProgTargets for Targets {
    fn target(&self, prog: &str) -> Option<u32> {
        (prog == self.0).then_some(7)
    }
}

#[test]
fn a_target_program_from_the_caller_is_attached_to() {
    let Some(fx) = fixtures() else { return };
    let bytes = fx.get("attach").unwrap();
    let a = &mut TestAlloc::new();
    let elf = Elf::parse(bytes, a).unwrap();
    let obj = Object::parse(elf, "attach", a).unwrap();
    let kb = FakeKernelBtf;
    let kb: Option<&dyn KernelBtf> = Some(&kb);
    let plain = Plan::build(&obj, &kinfo(), kb, a).unwrap();
    let targets = Targets("on_entry");
    let opts = Options {
        prog_targets: Some(&targets),
        ..Options::default()
    };
    let plan = Plan::build_with(&obj, &kinfo(), kb, &opts, a).unwrap();
    for (p, q) in plan.progs.iter().zip(plain.progs.iter()) {
        if p.name == "on_entry" {
            assert!(p.attach_prog && !q.attach_prog);
            assert_eq!(p.attach.map(|t| (t.module, t.type_id)), Some((0, 7)));
        } else {
            assert!(!p.attach_prog);
            assert_eq!(p.attach, q.attach, "{}", p.name);
        }
    }
    assert_ne!(plan.receipt, plain.receipt, "the receipt names the target");

    // Its fd goes in attach_fd and is closed right after the program's load.
    let mut s = Script::default();
    let mut maps = vec![0; plan.maps.len()];
    let mut progs = vec![0; plan.progs.len()];
    exec::execute(&plan, a, &mut s, &mut maps, &mut progs).unwrap();
    assert_eq!(s.targets.len(), 1);
    let (name, fd) = s.targets[0].clone();
    assert_eq!(name, "on_entry");
    let k = plan
        .progs
        .iter()
        .position(|p| p.name == "on_entry")
        .unwrap();
    assert_eq!(s.attach_fds[k], fd as u32);
    assert!(s.closed.contains(&fd) && !s.open.contains(&fd));

    // A bare SEC("fentry") takes the caller's target, as libbpf's
    // bpf_program__set_attach_target(); without one it is refused, naming it.
    let mut obj = obj;
    let k = obj.progs.iter().position(|p| p.name == "on_any").unwrap();
    obj.progs[k].autoload = true;
    let Err(e) = Plan::build(&obj, &kinfo(), kb, a) else {
        panic!("a bare fentry planned without a target");
    };
    let msg = format!("{e}");
    assert_eq!(e.errno(), 22, "{msg}");
    assert!(
        msg.contains("on_any") && msg.contains("no BTF attach target"),
        "{msg}"
    );
    let any = Targets("on_any");
    let opts = Options {
        prog_targets: Some(&any),
        ..Options::default()
    };
    let plan = Plan::build_with(&obj, &kinfo(), kb, &opts, a).unwrap();
    let p = plan.progs.iter().find(|p| p.name == "on_any").unwrap();
    assert!(p.attach_prog);
    assert_eq!(p.attach.map(|t| (t.module, t.type_id)), Some((0, 7)));
    assert_eq!(p.prog_type, 26, "BPF_PROG_TYPE_TRACING");

    // An empty target in the section ("fentry/", "freplace/") is not read once the
    // caller gives one, as libbpf does not read it; without one it is refused.
    obj.progs[k].autoload = false;
    for (name, prog_type) in [("on_empty", 26), ("on_ext", 28)] {
        for p in obj
            .progs
            .iter_mut()
            .filter(|p| ["on_empty", "on_ext"].contains(&p.name))
        {
            p.autoload = p.name == name;
        }
        let Err(e) = Plan::build(&obj, &kinfo(), kb, a) else {
            panic!("{name} planned with an empty target and none from the caller");
        };
        let msg = format!("{e}");
        assert!(msg.contains("empty BTF attach target name"), "{msg}");
        let t = Targets(name);
        let opts = Options {
            prog_targets: Some(&t),
            ..Options::default()
        };
        let plan = Plan::build_with(&obj, &kinfo(), kb, &opts, a).unwrap();
        let p = plan.progs.iter().find(|p| p.name == name).unwrap();
        assert!(p.attach_prog, "{name}");
        assert_eq!(p.attach.map(|t| (t.module, t.type_id)), Some((0, 7)));
        assert_eq!(p.prog_type, prog_type, "{name}");
    }

    // Only freplace and tracing programs take one.
    let lsm = Targets("on_open");
    let opts = Options {
        prog_targets: Some(&lsm),
        ..Options::default()
    };
    let Err(e) = Plan::build_with(&obj, &kinfo(), kb, &opts, a) else {
        panic!("an lsm program planned with a target program");
    };
    assert_eq!(e.errno(), 95);
    let msg = format!("{e}");
    assert!(
        msg.contains("on_open") && msg.contains("target program"),
        "{msg}"
    );
}

/// GCC 12's BTF (Debian 12's `gcc-bpf`) breaks three of the kernel's rules: `char` is
/// an INT both SIGNED and CHAR (ENOTSUPP), FWDs carry a value in their type field and
/// some FUNCs are anonymous (EINVAL). libbpf reads it, the kernel's `BPF_BTF_LOAD`
/// refuses it, and libbpf loads the object without it ("BTF is optional, ignoring"):
/// so does bpfld, with maps untyped and programs without func or line info.
#[test]
fn gcc_objects_load_without_the_btf_the_kernel_refuses() {
    let body = "struct {\n\
        \t__uint(type, BPF_MAP_TYPE_ARRAY);\n\
        \t__uint(max_entries, 4);\n\
        \t__type(key, __u32);\n\
        \t__type(value, __u64);\n\
        } hits SEC(\".maps\");\n\
        static __attribute__((noinline)) int first(struct xdp_md *ctx)\n\
        {\n\
        \tchar c = (char)ctx->ingress_ifindex;\n\
        \treturn c > 0;\n\
        }\n\
        SEC(\"xdp\")\n\
        int gcc_xdp(struct xdp_md *ctx)\n\
        {\n\
        \t__u32 key = 0;\n\
        \t__u64 *v = bpf_map_lookup_elem(&hits, &key);\n\
        \tif (v)\n\
        \t\t*v += first(ctx);\n\
        \treturn XDP_PASS;\n\
        }\n";
    let Some(bytes) = support::compile_gcc(
        "gcc_xdp",
        &format!("{}{body}{}", support::C_HEAD, support::C_TAIL),
    ) else {
        return;
    };
    let a = &mut TestAlloc::new();
    let elf = Elf::parse(&bytes, a).unwrap();
    let obj = Object::parse(elf, "gcc_xdp", a).unwrap();
    // The trait the kernel refuses first, which this test is about.
    let btf = obj.btf.as_ref().expect("GCC's -gbtf");
    let two_flags = (1..btf.type_count())
        .filter_map(|id| btf.type_by_id(id).ok())
        .filter(|t| t.kind() == bpfld_core::btf::BtfKind::Int)
        .filter_map(|t| t.int().ok())
        .any(|e| e.is_signed() && e.is_char());
    assert!(two_flags, "GCC 12 marks char SIGNED | CHAR");
    let kb = FakeKernelBtf;
    let kb: Option<&dyn KernelBtf> = Some(&kb);
    let plan = Plan::build(&obj, &kinfo(), kb, a).unwrap();
    let mut s = Script {
        fail_btf: Some(524),
        ..Script::default()
    };
    let mut maps = vec![0; plan.maps.len()];
    let mut progs = vec![0; plan.progs.len()];
    exec::execute(&plan, a, &mut s, &mut maps, &mut progs).unwrap();
    assert_eq!(s.dropped, vec![524]);
    assert_eq!(
        s.seen,
        vec![
            Seen::Btf,
            Seen::Map {
                btf_fd: 0,
                key: 0,
                value: 0
            },
            Seen::Prog {
                btf_fd: 0,
                func_info: 0
            },
        ]
    );
    assert!(maps.iter().chain(&progs).all(|&fd| fd > 100));
}

/// GCC folds identical functions (`-fipa-icf`, on at -O2): two static helpers of the
/// same code become one function with both symbols at one `.text` offset. libbpf links
/// one copy of it; so does bpfld, which refused such an object as overlapping functions
/// before. A partial overlap is still refused (`tests/malformed.rs`).
#[test]
fn gcc_folded_functions_link_one_copy() {
    let body = "static __attribute__((noinline)) __u64 weight_v4(__u64 len)\n\
        {\n\treturn len * 3 + 7;\n}\n\
        static __attribute__((noinline)) __u64 weight_v6(__u64 len)\n\
        {\n\treturn len * 3 + 7;\n}\n\
        SEC(\"xdp\")\n\
        int folded(struct xdp_md *ctx)\n\
        {\n\
        \t__u64 len = ctx->data_end - ctx->data;\n\
        \treturn (len > 100 ? weight_v4(len) : weight_v6(len)) & 1;\n\
        }\n";
    let Some(bytes) = support::compile_gcc(
        "folded",
        &format!("{}{body}{}", support::C_HEAD, support::C_TAIL),
    ) else {
        return;
    };
    let a = &mut TestAlloc::new();
    let elf = Elf::parse(&bytes, a).unwrap();
    let names: Vec<&str> = elf
        .symbols()
        .map(|s| s.unwrap())
        .filter(|s| s.name.starts_with("weight_"))
        .map(|s| s.name)
        .collect();
    assert_eq!(names.len(), 2, "GCC keeps both symbols: {names:?}");
    let obj = Object::parse(elf, "folded", a).unwrap();
    let subs: Vec<&str> = obj
        .progs
        .iter()
        .filter(|p| p.is_subprog())
        .map(|p| p.name)
        .collect();
    assert_eq!(
        subs,
        ["weight_v4"],
        "one function of the two, the first by name"
    );
    let kb = FakeKernelBtf;
    let plan = Plan::build(&obj, &kinfo(), Some(&kb), a).unwrap();
    let p = plan.progs.iter().find(|p| p.name == "folded").unwrap();
    let (_, entry) = obj.prog_by_name("folded").unwrap();
    let sub = obj.progs.iter().find(|p| p.is_subprog()).unwrap();
    assert_eq!(
        plan.prog_insns(p).len(),
        (entry.insn_cnt + sub.insn_cnt) as usize,
        "the folded function appended once"
    );
}
