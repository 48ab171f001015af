#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# build-gcc.sh OUTDIR VMLINUX_H_DIR: compile every selftests/progs/*.bpf.c that GCC's
# BPF back end can compile to OUTDIR/*.bpf.o, for the parity run's second compiler.
# VMLINUX_H_DIR holds the vmlinux.h the CO-RE programs include (build.sh's OUTDIR).
#
# The command is Debian's bpf-gcc (package gcc-bpf; GCC 12 on Debian 12) with what
# GCC needs for what clang is given in build.sh:
#   bpf-gcc -O2 -gbtf [-mco-re] -I<multiarch> -I/usr/include -c X.bpf.c -o X.bpf.o
# (-gbtf: BTF instead of DWARF; -mco-re, for core_*: CO-RE relocations; the system
# headers, which bpf-gcc does not search). GCC 12 cannot compile some of them (a
# helper called through libbpf's function pointers, "indirect call in function";
# its CO-RE builtins): OUTDIR/manifest.tsv lists every source, ok or failed with
# GCC's first error. Only a missing bpf-gcc fails the script. An object newer than its
# source (and, for core_*, than vmlinux.h) is left alone.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 OUTDIR VMLINUX_H_DIR" >&2
	exit 2
fi
out=$1
vmh_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
GCC_BPF=${GCC_BPF:-bpf-gcc}
command -v "$GCC_BPF" >/dev/null || {
	echo "$0: $GCC_BPF not found (Debian package gcc-bpf; scripts/setup installs it)" >&2
	exit 1
}
[ -f "$vmh_dir/vmlinux.h" ] || {
	echo "$0: no $vmh_dir/vmlinux.h (run build.sh first)" >&2
	exit 1
}
triplet=$(gcc -print-multiarch 2>/dev/null || true)
[ -n "$triplet" ] || triplet=$(uname -m)-linux-gnu
case ${triplet%%-*} in
x86_64 | i?86) arch=x86 ;;
aarch64) arch=arm64 ;;
*) arch=${triplet%%-*} ;;
esac

mkdir -p "$out"
manifest=$out/manifest.tsv
printf 'file\tstatus\terror\n' >"$manifest.tmp"
ok=0
failed=0
for src in "$here"/*.bpf.c; do
	name=$(basename "$src")
	obj=$out/$(basename "$src" .c).o
	case $name in
	core_*)
		flags="-I$vmh_dir -D__TARGET_ARCH_$arch -mco-re"
		dep=$vmh_dir/vmlinux.h
		;;
	*)
		flags="-I/usr/include/$triplet -D__TARGET_ARCH_$arch"
		dep=$src
		;;
	esac
	if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$dep" ]; then
		printf '%s\tok\t\n' "$name" >>"$manifest.tmp"
		ok=$((ok + 1))
		continue
	fi
	# shellcheck disable=SC2086 # word splitting of flag lists is intended
	if "$GCC_BPF" $flags -I/usr/include -O2 -gbtf -c "$src" -o "$obj.tmp" 2>"$out/$name.err"; then
		mv "$obj.tmp" "$obj"
		rm -f "$out/$name.err"
		printf '%s\tok\t\n' "$name" >>"$manifest.tmp"
		ok=$((ok + 1))
	else
		rm -f "$obj.tmp" "$obj"
		err=$(grep -m1 -E 'error|internal compiler error' "$out/$name.err" | tr '\t' ' ' || true)
		printf '%s\tfailed\t%s\n' "$name" "$err" >>"$manifest.tmp"
		failed=$((failed + 1))
	fi
done
mv "$manifest.tmp" "$manifest"
echo "build-gcc.sh: $ok compiled, $failed not (GCC: $($GCC_BPF -dumpversion)) in $out"
