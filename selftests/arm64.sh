# SPDX-License-Identifier: GPL-2.0
#
# The arm64 half of selftests/run (sourced by it for --arch arm64): cross-build what the
# guest runs and boot it under qemu-system-aarch64 (TCG). selftests/run keeps the rest:
# the verity image, the guest command line and the KTAP checks, shared with x86-64.
#
# Everything is built on the host:
# - the arm64 kernel: scripts/kernel --arch arm64 (clang, LLVM=1 ARCH=arm64);
# - bpfld.ko: `make module ARCH=arm64` in a copy of the source tree (build/arm64/tree), so
#   that the x86-64 objects of the work tree stay as they are;
# - bpfld, bpfld-selftests: cargo --target aarch64-unknown-linux-gnu;
# - the BPF corpus: the same `clang -target bpf` objects, with the arm64 UAPI headers and
#   __TARGET_ARCH_arm64 (only kprobe/uprobe programs depend on them: pt_regs), CO-RE
#   programs against a vmlinux.h from the arm64 kernel's BTF; libbpf_dump and the C
#   example cross-compiled with aarch64-linux-gnu-gcc against the guest root's libbpf.
# The guest's root is an arm64 Debian tree (scripts/rootfs) shared read-only over 9p;
# the module tree, binaries, corpus and results are 9p shares mounted under /mnt by the
# root's /bpfld-init, which runs the command file left on the results share.

arm64_triple=aarch64-unknown-linux-gnu

arm64_build() {
	"$here/scripts/setup" --arch arm64
	rootfs=$("$here/scripts/rootfs" --arch arm64 --quiet)
	kdir=$(KDIR=${KDIR:-} "$here/scripts/kernel" --arch arm64 --variant "$variant" --quiet)

	# The module, built from a copy of the tracked and new source files (mtimes kept,
	# so that Kbuild rebuilds only what changed).
	tree=$here/build/arm64/tree
	mkdir -p "$tree"
	(cd "$here" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		cpio -0pdmu --quiet "$tree")
	make -s -C "$tree" module ARCH=arm64 KDIR="$kdir" >"$here/build/module-arm64.log" 2>&1 ||
		{ cat "$here/build/module-arm64.log" >&2; exit 1; }
	module=$tree/bpfld.ko
	# scripts/stack-depth reads x86-64 prologues (sub $N,%rsp): it does not apply here.
	log "stack-depth: x86-64 only, not run on arm64"

	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
		cargo build -q --release --manifest-path "$here/Cargo.toml" -p bpfld-cli --bins \
		--target "$arm64_triple" >&2
	bin=$here/target/$arm64_triple/release

	local lib=$rootfs/usr/lib/aarch64-linux-gnu
	local xcc="aarch64-linux-gnu-gcc -idirafter $rootfs/usr/include -L/usr/aarch64-linux-gnu/lib -L$lib -Wl,-rpath-link,$lib"
	corpus=$here/target/bpf-corpus-vm-arm64
	CC=$xcc VMLINUX_BTF="$kdir/vmlinux" "$here/selftests/progs/build.sh" "$corpus" >&2
	aarch64-linux-gnu-gcc -O2 -Wall -Wextra -Werror -I "$here/include/uapi" \
		"$here/examples/bpfld-load.c" -o "$corpus/bpfld-load"
	# The same as an AArch32 program (the kernel has CONFIG_COMPAT, as Android's GKI):
	# its ioctl goes through compat_ioctl.
	arm-linux-gnueabihf-gcc -static -O2 -Wall -Wextra -Werror -I "$here/include/uapi" \
		"$here/examples/bpfld-load.c" -o "$corpus/bpfld-load32"
}

# The guest's CPU (QEMU's -cpu): BPFLD_ARM64_CPU, by default a Cortex-A57 (ARMv8.0).
# Android's GKI kernels run on ARMv8.5 and later cores, which enforce what the kernel
# and bpfld.ko are built for (CONFIG_ARM64_BTI_KERNEL, pointer authentication: Rust
# with -Zbranch-protection=bti,pac-ret): an indirect branch to an instruction that is
# not a landing pad, or a return address signed differently, faults. An ARMv8.0 core
# runs those instructions as no-ops. BPFLD_ARM64_CPU=max,pauth-impdef=on emulates a
# core that enforces them (QEMU's own pointer authentication algorithm, much faster
# under TCG than the architected QARMA).
arm64_cpu=${BPFLD_ARM64_CPU:-cortex-a57}

# Run $guest_cmd in the arm64 VM; its output goes to $results/console.
arm64_boot() {
	local cmd=$guest_cmd
	cmd=${cmd//"$results"//mnt/results}
	cmd=${cmd//"$tree"//mnt/tree}
	cmd=${cmd//"$bin"//mnt/bin}
	cmd=${cmd//"$corpus"//mnt/corpus}
	printf '%s\n' "$cmd" >"$results/cmd"
	local shares=() n=0 tag dir ro
	for tag in tree bin corpus results; do
		case $tag in
		tree) dir=$tree ro=on ;;
		bin) dir=$bin ro=on ;;
		corpus) dir=$corpus ro=on ;;
		results) dir=$results ro=off ;;
		esac
		shares+=(-fsdev "local,id=fs$n,path=$dir,security_model=none,readonly=$ro"
			-device "virtio-9p-device,fsdev=fs$n,mount_tag=$tag")
		n=$((n + 1))
	done
	# PANIC_ON_OOPS and panic=-1: an oops reboots, and -no-reboot turns that into an exit.
	timeout --kill-after=30 "${BPFLD_VM_TIMEOUT:-3600}" qemu-system-aarch64 \
		-machine virt -cpu "$arm64_cpu" -smp 2 -m 2G -accel tcg,thread=multi \
		-display none -monitor none -serial stdio -no-reboot \
		-kernel "$kdir/arch/arm64/boot/Image" \
		-fsdev "local,id=root,path=$rootfs,security_model=none,readonly=on" \
		-device virtio-9p-device,fsdev=root,mount_tag=/dev/root \
		"${shares[@]}" \
		-append "console=ttyAMA0 root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=1048576 ro init=/bpfld-init loglevel=4 $VM_LOG_BUF_LEN panic=-1" \
		</dev/null >"$results/console" 2>&1
}
