#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# build.sh OUTDIR: compile every selftests/progs/*.bpf.c to OUTDIR/*.bpf.o and
# the libbpf reference harness to OUTDIR/libbpf_dump.  An output newer than
# its source is left alone (system header updates are not tracked: remove
# OUTDIR to force a rebuild).
#
# The BPF command is the plain one every fixture must build with:
#   clang -target bpf -g -O2 -Wall -Werror -c X.bpf.c -o X.bpf.o
# plus the multiarch include directory, because <linux/types.h> includes
# <asm/types.h>, which Debian installs under /usr/include/<triplet>/ and
# `clang -target bpf` does not search.
#
# Environment: CLANG (default clang), CC (default cc), BPF_CFLAGS (extra
# flags appended to the BPF command).
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
tools=$here/../tools
CLANG=${CLANG:-clang}
CC=${CC:-cc}
BPF_CFLAGS=${BPF_CFLAGS:-}

triplet=$($CC -print-multiarch 2>/dev/null || true)
[ -n "$triplet" ] || triplet=$(uname -m)-linux-gnu
inc=
[ -d "/usr/include/$triplet" ] && inc="-I/usr/include/$triplet"

mkdir -p "$out"
built=0
for src in "$here"/*.bpf.c; do
	obj=$out/$(basename "$src" .c).o
	if [ -f "$obj" ] && [ "$obj" -nt "$src" ]; then
		continue
	fi
	echo "  BPF     $(basename "$obj")"
	# shellcheck disable=SC2086 # word splitting of flag lists is intended
	$CLANG -target bpf $inc -g -O2 -Wall -Werror $BPF_CFLAGS -c "$src" -o "$obj.tmp"
	mv "$obj.tmp" "$obj"
	built=$((built + 1))
done

bin=$out/libbpf_dump
if [ ! -f "$bin" ] || [ "$tools/libbpf_dump.c" -nt "$bin" ]; then
	echo "  CC      libbpf_dump"
	$CC -O2 -Wall -Werror "$tools/libbpf_dump.c" -o "$bin.tmp" -lbpf -lelf -lz
	mv "$bin.tmp" "$bin"
	built=$((built + 1))
fi
echo "build.sh: $built output(s) rebuilt in $out"
