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
# CO-RE programs (core_*.bpf.c) instead include OUTDIR/vmlinux.h, the C dump
# of a kernel's BTF, and are compiled with `-I OUTDIR -D__TARGET_ARCH_<arch>`;
# no other program may include vmlinux.h (they keep the system UAPI
# headers).  vmlinux.h is regenerated when it is missing or when the BTF
# source (path or content) changed since it was made; the objects do not
# depend on which kernel's BTF they were compiled against (that is what CO-RE
# is for), but they are rebuilt whenever vmlinux.h changes.
#
# Environment: CLANG (default clang), CC (default cc), BPF_CFLAGS (extra
# flags appended to the BPF command), BPFTOOL (default bpftool),
# VMLINUX_BTF (the BTF vmlinux.h is dumped from: raw BTF or an ELF vmlinux
# with a .BTF section; default /sys/kernel/btf/vmlinux, the running kernel).
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
BPFTOOL=${BPFTOOL:-bpftool}
VMLINUX_BTF=${VMLINUX_BTF:-/sys/kernel/btf/vmlinux}

# The target is $CC's: a cross compiler (CC=aarch64-linux-gnu-gcc) selects its
# architecture's UAPI headers (Debian's cross layout /usr/<triplet>/include) and
# __TARGET_ARCH, which bpf_tracing.h needs for pt_regs.
triplet=$($CC -print-multiarch 2>/dev/null || true)
[ -n "$triplet" ] || triplet=$(uname -m)-linux-gnu
inc=
if [ -d "/usr/include/$triplet" ]; then
	inc="-I/usr/include/$triplet"
elif [ -d "/usr/$triplet/include" ]; then
	inc="-I/usr/$triplet/include"
fi

case ${triplet%%-*} in
x86_64 | i?86) arch=x86 ;;
aarch64) arch=arm64 ;;
riscv64) arch=riscv ;;
s390x) arch=s390 ;;
powerpc64le) arch=powerpc ;;
*) arch=${triplet%%-*} ;;
esac

mkdir -p "$out"
built=0

# vmlinux.h: the stamp records which BTF (path and checksum) it was dumped
# from.  A changed source whose dump is byte-identical keeps the old file, so
# its date, and the CO-RE objects stay up to date.
vmh=$out/vmlinux.h
if [ ! -r "$VMLINUX_BTF" ]; then
	echo "$0: VMLINUX_BTF=$VMLINUX_BTF is not readable (CO-RE programs need a kernel's BTF)" >&2
	exit 1
fi
want=$(printf '%s %s' "$VMLINUX_BTF" "$(cksum <"$VMLINUX_BTF")")
if [ ! -f "$vmh" ] || [ "$(cat "$vmh.stamp" 2>/dev/null)" != "$want" ]; then
	tmp=$vmh.$$.tmp
	$BPFTOOL btf dump file "$VMLINUX_BTF" format c >"$tmp"
	if [ -f "$vmh" ] && cmp -s "$tmp" "$vmh"; then
		rm -f "$tmp"
	else
		echo "  GEN     vmlinux.h (from $VMLINUX_BTF)"
		mv "$tmp" "$vmh"
		built=$((built + 1))
	fi
	printf '%s\n' "$want" >"$vmh.stamp"
fi

for src in "$here"/*.bpf.c; do
	obj=$out/$(basename "$src" .c).o
	case $(basename "$src") in
	core_*)
		flags="-I$out -D__TARGET_ARCH_$arch"
		if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$vmh" ]; then
			continue
		fi
		;;
	*)
		# Only kprobe/uprobe programs use it (their own default is x86).
		flags="$inc -D__TARGET_ARCH_$arch"
		if [ -f "$obj" ] && [ "$obj" -nt "$src" ]; then
			continue
		fi
		;;
	esac
	echo "  BPF     $(basename "$obj")"
	# shellcheck disable=SC2086 # word splitting of flag lists is intended
	$CLANG -target bpf $flags -g -O2 -Wall -Werror $BPF_CFLAGS -c "$src" -o "$obj.tmp"
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
