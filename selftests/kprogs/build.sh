#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# build.sh OUTDIR: compile the Linux tree's own BPF selftest programs
# (tools/testing/selftests/bpf/progs/*.c) to OUTDIR/X.bpf.o, the way that
# directory's Makefile builds the test_progs flavour:
#
#   $CLANG -g -Wall -Werror -D__TARGET_ARCH_x86 -mlittle-endian
#          -I OUTDIR/include -I selftests/bpf -I tools/include/uapi
#          -I OUTDIR/usr/include -Wno-compare-distinct-pointer-types
#          <clang's own system include dirs as -idirafter>
#          -DENABLE_ATOMICS_TESTS [per-file flags] -O2 --target=bpf -mcpu=v3
#
# (-mcpu=$KPROGS_CPU with KPROGS_CPU=v4 and CLANG_LIST=clang-19: the Makefile's
# test_progs-cpuv4 flavour, which it builds when clang is 18 or later)
#
# where OUTDIR/include holds vmlinux.h (bpftool's C dump of the test kernel's
# vmlinux BTF) and bpf/ (tools/lib/bpf headers plus bpf_helper_defs.h made by
# scripts/bpf_doc.py), and OUTDIR/usr/include the tree's exported UAPI
# headers (`make headers`).  Each file is compiled with clang 14 first and,
# if that fails, with clang 16; OUTDIR/manifest.tsv records per file
# (file, compiler, status, reason): the compiler that built it ("-" if none),
# "ok" or "fail", and why the other compiler(s) failed (first error line).
# Also builds OUTDIR/libbpf_dump (selftests/tools) against the system libbpf,
# and OUTDIR/libbpf_dump.tree, the same harness linked statically with the
# tree's tools/lib/bpf (libbpf 1.5 for 6.12, built into OUTDIR/libbpf-tree).
#
# Outputs newer than their source and than the shared inputs (headers,
# vmlinux.h, the compiler flags) are kept, failures included
# (OUTDIR/rows/X.tsv); remove OUTDIR to force a full rebuild.  Runs JOBS (default: nproc) compilations at once.
#
# Environment: BPFLD_LINUX_SRC (the extracted 6.12 tree; default the one
# `scripts/kernel --src` extracts into the cache), VMLINUX (an ELF vmlinux
# with .BTF; default the cache's current default-config build, scripts/kernel),
# CLANG_LIST (default "clang-14 clang-16"), KPROGS_CPU (default v3), BPFTOOL,
# JOBS, ONLY (space separated base names, e.g. "test_xdp atomics": build just
# those).
#
# Exit status: 0 when the manifest was written (whatever failed to compile),
# 3 when an input is missing (no tree, no vmlinux, no compiler), else 1.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

# --- one compilation (internal: KPROGS_ONE=1 KPROGS_SRC=X.c build.sh OUTDIR) -
if [ "${KPROGS_ONE:-}" = 1 ]; then
	src=$KPROGS_SRC
	base=$(basename "$src" .c)
	obj=$out/$base.bpf.o
	row=$out/rows/$base.tsv
	extra=
	case $base in
	bind4_prog | bind6_prog | dynptr_fail | linked_list_fail | map_kptr_fail | \
		syscall | test_pkt_md_access | test_sk_lookup | timer_crash | \
		test_global_func9 | verifier_nocsr)
		extra=-fno-strict-aliasing
		;;
	esac
	reasons=
	for cc in $CLANG_LIST; do
		log=$out/logs/$base.$cc.log
		sysinc=$(cat "$out/sysinc.$cc")
		# shellcheck disable=SC2086 # flag lists are split on purpose
		if (cd "$KSELFTESTS" && $cc $KPROGS_CFLAGS $sysinc -DENABLE_ATOMICS_TESTS \
			$extra -O2 --target=bpf -c "$src" -mcpu="$KPROGS_CPU" -o "$obj.tmp") >"$log" 2>&1; then
			mv "$obj.tmp" "$obj"
			printf '%s.c\t%s\tok\t%s\n' "$base" "$cc" "${reasons:--}" >"$row"
			echo "  BPF     $base.bpf.o ($cc)"
			exit 0
		fi
		rm -f "$obj.tmp"
		why=$(grep -m1 -E 'error:|fatal error:|Error|LLVM ERROR' "$log" ||
			head -n1 "$log")
		why=$(printf '%s' "$why" | sed "s|$KSELFTESTS/||g; s|$out/||g" | tr '\t' ' ')
		reasons="${reasons:+$reasons; }$cc: $why"
	done
	rm -f "$obj"
	printf '%s.c\t-\tfail\t%s\n' "$base" "$reasons" >"$row"
	echo "  FAIL    $base.c"
	exit 0
fi

# --- setup ---------------------------------------------------------------
K=${BPFLD_LINUX_SRC:-$("$here/../../scripts/kernel" --src || true)}
if [ -z "$K" ] || [ ! -d "$K/tools/testing/selftests/bpf/progs" ]; then
	echo "$0: no Linux tree (set BPFLD_LINUX_SRC; scripts/kernel extracts one)" >&2
	exit 3
fi
cache=${BPFLD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfld}
VMLINUX=${VMLINUX:-$cache/build/current-default/vmlinux}
if [ -z "$VMLINUX" ] || [ ! -r "$VMLINUX" ]; then
	echo "$0: no vmlinux with BTF (set VMLINUX; scripts/kernel builds one)" >&2
	exit 3
fi
have=
for cc in ${CLANG_LIST:-clang-14 clang-16}; do
	command -v "$cc" >/dev/null 2>&1 && have="$have $cc"
done
if [ -z "$have" ]; then
	echo "$0: none of the compilers ${CLANG_LIST:-clang-14 clang-16} is installed" >&2
	exit 3
fi
CLANG_LIST=${have# }
BPFTOOL=${BPFTOOL:-bpftool}
JOBS=${JOBS:-$(nproc)}
KSELFTESTS=$K/tools/testing/selftests/bpf
inc=$out/include
mkdir -p "$inc/bpf" "$out/rows" "$out/logs"
t0=$(date +%s)

# vmlinux.h: stamp = path, size and mtime of the vmlinux it was dumped from.
want=$(stat -c '%n %s %Y' "$VMLINUX")
if [ ! -f "$inc/vmlinux.h" ] || [ "$(cat "$inc/vmlinux.h.stamp" 2>/dev/null)" != "$want" ]; then
	echo "  GEN     vmlinux.h (from $VMLINUX)"
	$BPFTOOL btf dump file "$VMLINUX" format c >"$inc/vmlinux.h.tmp"
	if [ -f "$inc/vmlinux.h" ] && cmp -s "$inc/vmlinux.h.tmp" "$inc/vmlinux.h"; then
		rm -f "$inc/vmlinux.h.tmp"
	else
		mv "$inc/vmlinux.h.tmp" "$inc/vmlinux.h"
	fi
	printf '%s\n' "$want" >"$inc/vmlinux.h.stamp"
fi

# libbpf headers, as `make -C tools/lib/bpf install_headers` lays them out.
if [ ! -f "$inc/bpf/bpf_helper_defs.h" ] || [ "$K/include/uapi/linux/bpf.h" -nt "$inc/bpf/bpf_helper_defs.h" ]; then
	echo "  GEN     bpf/bpf_helper_defs.h"
	cp "$K"/tools/lib/bpf/*.h "$inc/bpf/"
	python3 "$K/scripts/bpf_doc.py" --header --file "$K/include/uapi/linux/bpf.h" \
		>"$inc/bpf/bpf_helper_defs.h.tmp"
	mv "$inc/bpf/bpf_helper_defs.h.tmp" "$inc/bpf/bpf_helper_defs.h"
fi

# The tree's UAPI headers (the Makefile's $(OUTPUT)/../usr/include);
# `headers_install` needs rsync, so run `make headers` and copy the .h files.
if [ ! -f "$out/usr/include/linux/bpf.h" ]; then
	echo "  GEN     usr/include (make headers)"
	make -s -C "$K" O="$out/khdr" headers >/dev/null
	mkdir -p "$out/usr"
	(cd "$out/khdr/usr" && find include -name '*.h' | tar -cf - -T -) | (cd "$out/usr" && tar -xf -)
	rm -rf "$out/khdr"
fi

# Each compiler's own system include directories (get_sys_includes).
for cc in $CLANG_LIST; do
	$cc -v -E - </dev/null 2>&1 |
		sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }' |
		tr '\n' ' ' >"$out/sysinc.$cc.tmp"
	if cmp -s "$out/sysinc.$cc.tmp" "$out/sysinc.$cc"; then
		rm -f "$out/sysinc.$cc.tmp"
	else
		mv "$out/sysinc.$cc.tmp" "$out/sysinc.$cc"
	fi
done

if [ ! -x "$out/libbpf_dump" ] || [ "$here/../tools/libbpf_dump.c" -nt "$out/libbpf_dump" ]; then
	echo "  CC      libbpf_dump"
	make -s -C "$here/../tools" O="$out" >/dev/null
fi
# The same harness linked statically with the tree's own libbpf (the one the
# selftests are written for), the second reference.
lt=$out/libbpf-tree
if [ ! -f "$lt/lib64/libbpf.a" ]; then
	echo "  LIBBPF  libbpf-tree (tools/lib/bpf)"
	make -s -C "$K/tools/lib/bpf" OBJDIR="$lt/obj" DESTDIR="$lt" prefix= \
		BUILD_STATIC_ONLY=1 install >/dev/null
fi
if [ ! -x "$out/libbpf_dump.tree" ] || [ "$here/../tools/libbpf_dump.c" -nt "$out/libbpf_dump.tree" ] ||
	[ "$lt/lib64/libbpf.a" -nt "$out/libbpf_dump.tree" ]; then
	echo "  CC      libbpf_dump.tree"
	${CC:-cc} -O2 -Wall -Werror -I"$lt/include" "$here/../tools/libbpf_dump.c" \
		-o "$out/libbpf_dump.tree" "$lt/lib64/libbpf.a" -lelf -lz
fi

KPROGS_CFLAGS="-g -Wall -Werror -D__TARGET_ARCH_x86 -mlittle-endian -I$inc -I$KSELFTESTS \
-I$K/tools/include/uapi -I$out/usr/include -Wno-compare-distinct-pointer-types"
KPROGS_CPU=${KPROGS_CPU:-v3}
export KPROGS_CFLAGS KSELFTESTS CLANG_LIST KPROGS_CPU
# The command line itself is an input (kept in a file only rewritten on change).
printf '%s\n%s\n%s\n' "$KPROGS_CFLAGS" "$CLANG_LIST" "$KPROGS_CPU" >"$out/flags.tmp"
if cmp -s "$out/flags.tmp" "$out/flags"; then rm -f "$out/flags.tmp"; else mv "$out/flags.tmp" "$out/flags"; fi

# Every shared input; a row older than the newest of them is stale.
deps=$out/deps.stamp
newest=$(ls -t "$inc/vmlinux.h" "$inc"/bpf/*.h "$out"/sysinc.* "$out/flags" "$KSELFTESTS"/*.h \
	"$KSELFTESTS"/progs/*.h "$KSELFTESTS"/bpf_testmod/*.h | head -n1)
if [ ! -f "$deps" ] || [ "$newest" -nt "$deps" ]; then
	touch "$deps"
fi

todo=$out/todo.list
: >"$todo"
for src in "$KSELFTESTS"/progs/*.c; do
	base=$(basename "$src" .c)
	if [ -n "${ONLY:-}" ]; then
		case " $ONLY " in
		*" $base "*) ;;
		*) continue ;;
		esac
	fi
	row=$out/rows/$base.tsv
	if [ -f "$row" ] && [ "$row" -nt "$src" ] && [ "$row" -nt "$deps" ]; then
		continue
	fi
	printf '%s\n' "$src" >>"$todo"
done
n=$(wc -l <"$todo")
echo "build.sh: $n file(s) to compile with $JOBS job(s)"
if [ "$n" -gt 0 ]; then
	# shellcheck disable=SC2016 # expanded by the inner shell
	KPROGS_ONE=1 xargs -P "$JOBS" -I{} env KPROGS_SRC={} sh "$here/build.sh" "$out" <"$todo"
fi

# Rows of files that no longer exist are dropped.
{
	printf 'file\tcompiler\tstatus\treason\n'
	for src in "$KSELFTESTS"/progs/*.c; do
		row=$out/rows/$(basename "$src" .c).tsv
		[ -f "$row" ] && cat "$row"
	done
} >"$out/manifest.tsv.tmp"
mv "$out/manifest.tsv.tmp" "$out/manifest.tsv"
echo "build.sh: $(grep -c '	ok	' "$out/manifest.tsv") built," \
	"$(grep -c '	fail	' "$out/manifest.tsv") failed," \
	"$(($(date +%s) - t0))s; see $out/manifest.tsv"
