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
n=0
fail=0
for src in "$root"/rust/bpfld-core/tests/fixtures/*.bpf.c "$root"/selftests/progs/*.bpf.c; do
	[ -e "$src" ] || continue
	obj="$out/$(basename "$(dirname "$src")")-$(basename "$src" .c).o"
	if [ ! "$obj" -nt "$src" ]; then
		if ! clang -target bpf $inc -g -O2 -c "$src" -o "$obj" 2>/dev/null; then
			echo "seed.sh: $src does not compile, skipped" >&2
			fail=$((fail + 1))
			continue
		fi
	fi
	n=$((n + 1))
done
echo "seed.sh: $n seeds in $out ($fail sources skipped)" >&2
