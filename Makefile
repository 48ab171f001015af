# SPDX-License-Identifier: GPL-2.0
#
# Developer entry points. `make` builds bpfld.ko against the cached test kernel (or the
# tree named by KDIR=); `make check` runs every test; `make demo` is the main job.

KDIR ?= $(shell $(CURDIR)/scripts/kernel --quiet)
RUST_TARGET ?= x86_64-unknown-linux-gnu

.PHONY: all module deps check test host-test vm-test demo clean

all: module

# TRUSTED_DIGESTS=FILE builds fs-verity digests into the module (see scripts/builtin-digests).
TRUSTED_DIGESTS ?=

deps:
	$(CURDIR)/scripts/deps $(CURDIR)/build/deps.mk $(RUST_TARGET)
	$(CURDIR)/scripts/builtin-digests $(CURDIR)/build/builtin_digests.rs $(TRUSTED_DIGESTS)
	$(CURDIR)/scripts/kconfig-values $(CURDIR)/build/kconfig_values.rs $(KDIR)/.config

module: deps
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=1 modules

check test:
	$(CURDIR)/scripts/test

host-test:
	$(CURDIR)/scripts/test --host-only

vm-test: module
	$(CURDIR)/selftests/run

demo:
	$(CURDIR)/scripts/demo

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=1 clean
	rm -rf $(CURDIR)/build
