#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Compile the fuzzing seeds: the malformed-corpus fixtures
# (rust/bpfld-core/tests/fixtures/*.bpf.c) and the selftest programs
# (selftests/progs/*.bpf.c), with the project's BPF clang command, into fuzz/seeds/.
# Seeds are generated, never committed (the sources are); objects newer than their
# source are kept.
#
#   fuzz/seed.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$here/seeds}
mkdir -p "$out"
inc="-I/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
# CO-RE programs (core_*) include vmlinux.h, as selftests/progs/build.sh makes it: dumped
# from the running kernel's BTF, outside the seed directory (libFuzzer reads every file
# there as an input).
vmlinux_dir=$here/target/vmlinux
if [ ! -s "$vmlinux_dir/vmlinux.h" ] && command -v bpftool >/dev/null && [ -r /sys/kernel/btf/vmlinux ]; then
	mkdir -p "$vmlinux_dir"
	bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$vmlinux_dir/vmlinux.h.tmp" &&
		mv "$vmlinux_dir/vmlinux.h.tmp" "$vmlinux_dir/vmlinux.h"
fi
n=0
fail=0
for src in "$root"/rust/bpfld-core/tests/fixtures/*.bpf.c "$root"/selftests/progs/*.bpf.c; do
	[ -e "$src" ] || continue
	obj="$out/$(basename "$(dirname "$src")")-$(basename "$src" .c).o"
	if [ ! "$obj" -nt "$src" ]; then
		flags=$inc
		case $(basename "$src") in core_*) flags="-I$vmlinux_dir -D__TARGET_ARCH_x86" ;; esac
		if ! clang -target bpf $flags -g -O2 -c "$src" -o "$obj" 2>/dev/null; then
			echo "seed.sh: $src does not compile, skipped" >&2
			fail=$((fail + 1))
			continue
		fi
	fi
	n=$((n + 1))
done
echo "seed.sh: $n seeds in $out ($fail sources skipped)" >&2
