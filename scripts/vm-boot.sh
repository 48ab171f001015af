# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the scripts that boot the test kernel (selftests/run, selftests/parity,
# scripts/bench-vm, scripts/profile-vm, scripts/fuzz-vm, scripts/demo): the QEMU
# options they share, and telling a VM whose kernel died while it booted, before the
# guest's first command ran, from a VM that died running bpfld.
#
# The guest command begins by creating a marker file in the host-shared directory
# (vm_marker_cmd). A VM that ended without the marker and whose console shows the
# kernel dying never reached user space: the module had not been inserted, nothing of
# bpfld had run, so the boot says nothing about bpfld and the caller boots again (at
# most VM_BOOT_TRIES times in all). Under TCG on this QEMU (7.2) such a boot has been
# seen once in a CI run: an oops in enqueue_timer at 1.6 s, "Modules linked in:" empty.
# A VM that ended without the marker and without a kernel death on its console (vng
# or QEMU could not start) is not booted again: that is a set-up failure.

VM_BOOT_TRIES=${VM_BOOT_TRIES:-3}

# QEMU options for every VM these scripts boot (vng --qemu-opts). vng gives the guest
# six virtio-serial-pci devices (its stdin, stdout, stderr and exit status) of one port
# each, but QEMU sizes each device for 31 ports: 64 virtqueues, each with an eventfd
# that QEMU's main loop polls. Under TCG the main loop wakes for every guest timer
# (about 2,000 times a second with two busy vCPUs at HZ=1000) and each wake-up polls
# all 390 descriptors: during a benchmark run that thread used a whole host CPU (top,
# 12 samples: 99.9% in each), leaving the two vCPUs one of the host's two CPUs
# between them. With two ports a device (port 0 and vng's port; vng's ports
# are found by name, which needs the multiport control queue) 91 descriptors remain
# and the main loop used 8.75% of a CPU over 20 s of the same benchmark
# (Documentation/benchmarks.rst, *2026-12-04, 07:15-08:00 UTC*).
# VM_QEMU_EXTRA: options a script adds to these (scripts/bench-vm --icount).
VM_QEMU_OPTS="${VM_QEMU_OPTS:--global virtio-serial-pci.max_ports=2}${VM_QEMU_EXTRA:+ $VM_QEMU_EXTRA}"

# vm_hw_virt: true when this host can run the guest under KVM with hardware
# virtualization: its CPUs show VT-x or AMD-V (vmx, svm), /dev/kvm opens for reading
# and writing, and the KVM behind it is not PVM. The machines bpfld was developed on
# have none of it: their /dev/kvm is kvm_pvm (Ant Group's pagetable-based VM, no vmx
# or svm flag), which emulates a stock 6.12 kernel about 200 times slower than TCG
# (Documentation/benchmarks.rst, *2026-12-05, 19:00 UTC*).
vm_hw_virt() {
	grep -qwE 'vmx|svm' /proc/cpuinfo && [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
		[ ! -d /sys/module/kvm_pvm ]
}

# The accelerator: BPFLD_VM_ACCEL=kvm, tcg or auto (the default: kvm where
# vm_hw_virt, else tcg). Under KVM vng gives the guest the host's CPU model (-cpu
# host); under TCG QEMU's "max" CPU, emulated. VM_ACCEL_DESC says which in the
# scripts' messages and the reports (absolute times under TCG are an emulator's).
case ${BPFLD_VM_ACCEL:-auto} in
auto) if vm_hw_virt; then VM_ACCEL=kvm; else VM_ACCEL=tcg; fi ;;
kvm | tcg) VM_ACCEL=$BPFLD_VM_ACCEL ;;
*)
	echo "vm: BPFLD_VM_ACCEL=$BPFLD_VM_ACCEL: kvm, tcg or auto" >&2
	exit 2
	;;
esac

# How every one of these VMs starts: vng with VM_ACCEL and VM_QEMU_OPTS. Each script
# adds its memory, CPUs, kernel and guest command.
if [ "$VM_ACCEL" = kvm ]; then
	VM_ACCEL_DESC="KVM, the host's CPU"
	VM_VNG=(vng --qemu-opts="$VM_QEMU_OPTS")
else
	VM_ACCEL_DESC="TCG, no KVM"
	VM_VNG=(vng --disable-kvm --qemu-opts="$VM_QEMU_OPTS")
fi

# The kernel log's ring buffer for a VM whose run is checked from its first record to
# its last (selftests' dmesg_no_warnings reads it back by sequence number and fails if
# any is gone). The default, 256 KiB, holds the last ~2,300 lines: a full selftests run
# logs far more (policy_full_table_revoke alone fills it), so a splat of the early
# tests was overwritten before the check. 16M costs the 2 GiB VM 72 MiB at boot (the
# text, and 512 Ki record descriptors of 112 bytes).
VM_LOG_BUF_LEN=log_buf_len=16M

# vm_kernel_append KDIR: kernel arguments that kernel needs beyond the script's own,
# with a leading space, or nothing. The KASAN (debug) x86-64 kernel gets no5lvl: on
# the machine of 2026-12-05 (QEMU 7.2, TCG, whose CPU has LA57) every boot of it with
# 5-level paging, 5 of 5, reported a KASAN wild-memory-access in do_raw_spin_lock()
# from handle_edge_irq(), an interrupt taken in identify_cpu() at 1.8 s, before any
# module or user space; with 4-level paging, 2 of 2 booted clean. Earlier machines with
# the same QEMU and kernel booted it clean either way. bpfld does not depend on the
# paging depth, and the default kernel (no KASAN) keeps 5-level paging.
vm_kernel_append() {
	if grep -q '^CONFIG_KASAN=y' "$1/.config" && grep -q '^CONFIG_X86_5LEVEL=y' "$1/.config"; then
		echo " no5lvl"
	fi
}

# What a console shows when the kernel died.
VM_DEATH_RE='Kernel panic|BUG:|Oops|general protection fault|invalid opcode'

# vm_death_lines CONSOLE [RE]: the first lines of the death (and those matching RE),
# indented, on stderr.
vm_death_lines() {
	grep -E "$VM_DEATH_RE|RIP:${2:+|$2}" "$1" | head -6 | sed 's/^/    /' >&2
}

# vm_marker_cmd MARKER: the shell command the guest runs first.
vm_marker_cmd() {
	printf ': >%s' "$1"
}

# vm_guest_script FILE CMD: write the guest command CMD to FILE, in a directory the
# guest shares (--rwdir), and print what to give vng instead: "sh FILE". vng passes
# its command on the kernel command line (virtme.exec=, base64, a third longer), and
# x86-64 keeps the first 2,047 bytes of that line: past them the init= vng puts last is
# cut, and the kernel panics looking for ".../virtme-ng-" (error -2) before any guest
# command runs. A long enough command (the paths of a deep checkout, a long --filter)
# got there: the CI run of 2026-12-07 from /check/work/main failed that way where the
# same tree under /tmp/ci/main booted.
vm_guest_script() {
	printf '%s\n' "$2" >"$1"
	printf 'sh %s' "$1"
}

# vm_died_booting MARKER CONSOLE: true (and says why on stderr) when the kernel died
# before the guest command started.
vm_died_booting() {
	[ ! -e "$1" ] || return 1
	grep -qE "$VM_DEATH_RE" "$2" || return 1
	printf 'vm: the kernel died while booting, before the guest command started (not bpfld):\n' >&2
	vm_death_lines "$2"
	return 0
}

# vm_died_without MODULE CONSOLE: true (and says why on stderr) when the console shows
# the kernel dying while MODULE was not loaded: the last "Modules linked in:" line (the
# death's, or a warning's before it) does not name MODULE (a module being inserted is
# listed too, as "MODULE(+)"). For a guest whose command does set-up of its own
# before it inserts bpfld: the parity
# harness holds a perf event first, and under TCG that static-branch patch has once
# ended in an "Oops: int3" in prepare_task_switch, "Modules linked in:" empty
# (Documentation/testing.rst). Such a death says nothing about MODULE.
vm_died_without() {
	local mods
	mods=$(grep 'Modules linked in:' "$2" | tail -n1)
	[ -n "$mods" ] || return 1
	grep -qE "$VM_DEATH_RE" "$2" || return 1
	if grep -qE "Modules linked in:.*[[:space:]]$1([[:space:](]|\$)" <<<"$mods"; then
		return 1
	fi
	printf 'vm: the kernel died with %s not loaded (not %s):\n' "$1" "$1" >&2
	vm_death_lines "$2" 'Modules linked in:'
	return 0
}

# vm_boot LOG MARKER CONSOLE CMD...: run CMD, which boots the VM, with its output in
# CONSOLE; run it again while the kernel dies before the guest command starts, at most
# VM_BOOT_TRIES times in all, keeping the consoles given up on as CONSOLE.bootN. LOG
# (a function taking a message) reports each boot's exit status and time.
vm_boot() {
	local log=$1 marker=$2 console=$3 try start status
	shift 3
	for try in $(seq "$VM_BOOT_TRIES"); do
		start=$(date +%s)
		status=0
		"$@" >"$console" 2>&1 || status=$?
		"$log" "VM exited with $status after $(( $(date +%s) - start ))s"
		vm_died_booting "$marker" "$console" || return 0
		if [ "$try" -lt "$VM_BOOT_TRIES" ]; then
			cp "$console" "$console.boot$try"
		fi
	done
}

# The tree these scripts belong to.
VM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# vm_build_module KDIR LOG: bpfld.ko built against the kernel tree KDIR (make module),
# make's output in LOG, shown on stderr if the build fails (then false).
vm_build_module() {
	mkdir -p "$(dirname "$2")"
	make -s -C "$VM_HERE" module KDIR="$1" >"$2" 2>&1 && return 0
	cat "$2" >&2
	return 1
}

# vm_verity_image FILE SIZE [DIR]: an ext4 file system of SIZE (truncate's units) in
# FILE with the verity feature, holding DIR's files if DIR is given: what the guest
# loop-mounts to put objects on fs-verity. 4 KiB blocks: FS_IOC_ENABLE_VERITY fails
# with the 1 KiB blocks mkfs picks for small images.
vm_verity_image() {
	truncate -s "$2" "$1"
	mkfs.ext4 -q -b 4096 -O verity ${3:+-d "$3"} "$1"
}
