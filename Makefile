# SPDX-License-Identifier: GPL-2.0
#
# Developer entry points. `make` builds bpfld.ko against the cached test kernel (or the
# tree named by KDIR=); `make check` runs every test; `make demo` is the main job.

# ARCH=arm64 cross-builds against the arm64 test kernel (scripts/kernel --arch arm64).
KDIR ?= $(shell $(CURDIR)/scripts/kernel --quiet $(if $(ARCH),--arch $(ARCH)))
# Only picks the crates.io dependencies' target-specific deps (the kernel's target has
# target_os "none", like the bare-metal triple).
RUST_TARGET ?= $(if $(filter arm64,$(ARCH)),aarch64-unknown-none,x86_64-unknown-linux-gnu)
# The LLVM= the tree was built with (scripts/kernel writes it; clang 19 for the cfi
# variant), else LLVM=1.
BPFLD_LLVM = $(or $(shell cat $(KDIR)/.bpfld-llvm 2>/dev/null),1)

.PHONY: all module deps check test host-test vm-test demo clean

all: module

# TRUSTED_DIGESTS=FILE builds fs-verity digests into the module (see scripts/builtin-digests).
TRUSTED_DIGESTS ?=

deps:
	$(CURDIR)/scripts/deps $(CURDIR)/build/deps.mk $(RUST_TARGET)
	$(CURDIR)/scripts/builtin-digests $(CURDIR)/build/builtin_digests.rs $(TRUSTED_DIGESTS)
	$(CURDIR)/scripts/kconfig-values $(CURDIR)/build/kconfig_values.rs $(KDIR)/.config

module: deps
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(BPFLD_LLVM) modules

check test:
	$(CURDIR)/scripts/test

host-test:
	$(CURDIR)/scripts/test --host-only

vm-test: module
	$(CURDIR)/selftests/run

demo:
	$(CURDIR)/scripts/demo

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(BPFLD_LLVM) clean
	rm -rf $(CURDIR)/build

# Benchmarks against libbpf, host then VM; prints figures, asserts nothing
# (Documentation/benchmarks.rst).
.PHONY: bench
bench:
	$(CURDIR)/scripts/bench

# Parity with libbpf in the VM: every BPF selftest program of the 6.12 tree loaded by
# libbpf and through /dev/bpfld on the test kernel; writes selftests/kprogs/REPORT-vm.md.
.PHONY: parity
parity:
	$(CURDIR)/selftests/parity
