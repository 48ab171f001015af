#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Compile the fuzzing seeds: the malformed-corpus fixtures
# (rust/bpfld-core/tests/fixtures/*.bpf.c) and the selftest programs
# (selftests/progs/*.bpf.c), with the project's BPF clang command and, where clang 19 is
# installed, once more for BPF CPU v4, into fuzz/seeds/; the first build also as
# bpftool gen object links it.
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
# Each source once with clang for its default CPU, and once more with clang 19 for BPF
# CPU v4 where it is installed (scripts/setup does): sign-extending loads and moves,
# byte swaps, signed division and 32-bit jump offsets, which the default build has not.
builds=("clang::")
command -v clang-19 >/dev/null && builds+=("clang-19:-mcpu=v4:v4-")
for build in "${builds[@]}"; do
	IFS=: read -r cc cpu prefix <<<"$build"
	for src in "$root"/rust/bpfld-core/tests/fixtures/*.bpf.c "$root"/selftests/progs/*.bpf.c; do
		[ -e "$src" ] || continue
		obj="$out/$prefix$(basename "$(dirname "$src")")-$(basename "$src" .c).o"
		if [ ! "$obj" -nt "$src" ]; then
			flags=$inc
			case $(basename "$src") in core_*) flags="-I$vmlinux_dir -D__TARGET_ARCH_x86" ;; esac
			# shellcheck disable=SC2086 # $flags and $cpu are lists of words
			if ! "$cc" -target bpf $flags $cpu -g -O2 -c "$src" -o "$obj" 2>/dev/null; then
				echo "seed.sh: $src does not compile with $cc $cpu, skipped" >&2
				fail=$((fail + 1))
				continue
			fi
		fi
		n=$((n + 1))
	done
done
# The default build again as libbpf's static linker writes it (bpftool gen object three
# times, selftests/kprogs/link.sh, linked outside the seed directory): no DWARF,
# deduplicated BTF, the linker's layout of sections, symbols and .BTF.ext.
if command -v bpftool >/dev/null; then
	linked=$here/target/linked
	mkdir -p "$linked/in"
	for o in "$out"/*.bpf.o; do
		case $(basename "$o") in v4-* | lk-*) continue ;; esac
		[ -e "$o" ] && ln -sf "$o" "$linked/in/$(basename "$o")"
	done
	if "$root/selftests/kprogs/link.sh" "$linked/out" "$linked/in" >/dev/null; then
		for o in "$linked"/out/*.bpf.o; do
			[ -e "$o" ] || continue
			cp "$o" "$out/lk-$(basename "$o")"
			n=$((n + 1))
		done
	else
		echo "seed.sh: linking the seeds failed, none linked" >&2
	fi
fi
echo "seed.sh: $n seeds in $out ($fail sources skipped)" >&2
