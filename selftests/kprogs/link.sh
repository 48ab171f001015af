#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# link.sh [--kselftests] OUTDIR SRCDIR: pass SRCDIR/*.bpf.o through libbpf's static
# linker (`bpftool gen object`) into OUTDIR/*.bpf.o, as the kernel's selftests
# Makefile does before it embeds an object in a skeleton: linked three times
# (X.linked1.o from X.bpf.o, .linked2.o from that, .linked3.o from that), the
# second and third links required to be byte-identical, the third kept.  What
# test_progs loads through a skeleton is that linked object, not clang's output:
# its sections, symbols and BTF are the linker's (DWARF dropped, BTF
# deduplicated, DATASEC sizes and offsets filled in, .BTF.ext rewritten).
#
# With --kselftests, SRCDIR is build.sh's output (the tree's selftest objects,
# SRCDIR/manifest.tsv) and the Makefile's rules apply: no object of its
# SKEL_BLACKLIST (btf__*, test_pinning_invalid, test_sk_assign: never in a
# skeleton) and the objects of its LINKED_SKELS linked together under the
# skeleton's name (linked_funcs from linked_funcs1 and linked_funcs2, ...; their
# parts are not linked alone).  Without it, every SRCDIR/*.bpf.o is linked alone
# (bpfld's own corpus).
#
# OUTDIR/manifest.tsv has build.sh's columns (file, compiler, status, reason):
# the object's name, "COMPILER + bpftool gen object", "ok" or "fail" and the
# linker's error.  Outputs newer than their inputs and than $BPFTOOL are kept.
#
# Environment: BPFTOOL (default bpftool; parity passes the tree's), ONLY (space
# separated names: link just those).
#
# link.sh --parts NAME...: print the selftest objects NAME is linked from (the
# parts of a LINKED_SKELS entry, else NAME), one per line.
set -eu

# The selftests Makefile's LINKED_SKELS: NAME PART... (6.12's list).
multi='test_static_linked test_static_linked1 test_static_linked2
linked_funcs linked_funcs1 linked_funcs2
linked_vars linked_vars1 linked_vars2
linked_maps linked_maps1 linked_maps2
test_subskeleton test_subskeleton_lib2 test_subskeleton_lib test_subskeleton
test_subskeleton_lib test_subskeleton_lib2 test_subskeleton_lib
test_usdt test_usdt test_usdt_multispec'

if [ "${1:-}" = --parts ]; then
	shift
	for n in "$@"; do
		p=$(printf '%s\n' "$multi" | awk -v n="$n" '$1 == n { $1 = ""; print }')
		printf '%s\n' ${p:-$n}
	done
	exit 0
fi

ksel=0
if [ "${1:-}" = --kselftests ]; then
	ksel=1
	shift
fi
if [ $# -ne 2 ]; then
	echo "usage: $0 [--kselftests] OUTDIR SRCDIR" >&2
	exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
BPFTOOL=${BPFTOOL:-bpftool}
tool=$(command -v "$BPFTOOL") || {
	echo "$0: no $BPFTOOL (BPFTOOL)" >&2
	exit 3
}
mkdir -p "$out/rows" "$out/tmp"

# The compiler build.sh used for NAME ("clang" without a manifest).
compiler() {
	if [ -f "$src/manifest.tsv" ]; then
		awk -F'\t' -v f="$1.c" '$1 == f { print $2 }' "$src/manifest.tsv"
	else
		echo clang
	fi
}

# link NAME PART...: OUTDIR/NAME.bpf.o from SRCDIR/PART.bpf.o..., one row.
link() {
	name=$1
	shift
	if [ -n "${ONLY:-}" ]; then
		case " $ONLY " in *" $name "*) ;; *) return 0 ;; esac
	fi
	obj=$out/$name.bpf.o
	row=$out/rows/$name.tsv
	ins=
	for p in "$@"; do
		ins="$ins $src/$p.bpf.o"
	done
	fresh=1
	for i in $ins "$tool"; do
		[ -f "$row" ] && [ "$row" -nt "$i" ] || fresh=0
	done
	[ "$fresh" = 1 ] && return 0
	# The compilers of the parts, for the row (read only for what is linked).
	cc=
	for p in "$@"; do
		c=$(compiler "$p")
		case " $cc " in *" $c "*) ;; *) cc=${cc:+$cc,}$c ;; esac
	done
	t=$out/tmp/$name
	why=
	# shellcheck disable=SC2086 # $ins is a list of paths without blanks
	if ! "$BPFTOOL" gen object "$t.linked1.o" $ins >"$t.log" 2>&1; then
		why=$(grep -m1 -E 'Error|libbpf:' "$t.log" || head -n1 "$t.log")
	elif ! "$BPFTOOL" gen object "$t.linked2.o" "$t.linked1.o" >"$t.log" 2>&1 ||
		! "$BPFTOOL" gen object "$t.linked3.o" "$t.linked2.o" >>"$t.log" 2>&1; then
		why="relinking: $(grep -m1 -E 'Error|libbpf:' "$t.log" || head -n1 "$t.log")"
	elif ! cmp -s "$t.linked2.o" "$t.linked3.o"; then
		why="the second and third links differ"
	fi
	why=$(printf '%s' "$why" | sed "s|$src/||g; s|$out/||g" | tr '\t' ' ')
	if [ -z "$why" ]; then
		mv "$t.linked3.o" "$obj"
		printf '%s\t%s + bpftool gen object\tok\t-\n' "$name" "$cc" >"$row"
	else
		rm -f "$obj"
		printf '%s\t%s + bpftool gen object\tfail\t%s\n' "$name" "$cc" "$why" >"$row"
	fi
	rm -f "$t".*
}

parts=
if [ "$ksel" = 1 ]; then
	parts=$(printf '%s\n' "$multi" | cut -d' ' -f2- | tr ' ' '\n' | sort -u)
fi
for o in "$src"/*.bpf.o; do
	[ -e "$o" ] || continue
	n=$(basename "$o" .bpf.o)
	if [ "$ksel" = 1 ]; then
		case $n in btf__* | test_pinning_invalid | test_sk_assign) continue ;; esac
		printf '%s\n' "$parts" | grep -qx -- "$n" && continue
	fi
	link "$n" "$n"
done
if [ "$ksel" = 1 ]; then
	printf '%s\n' "$multi" | while read -r name rest; do
		ok=1
		for p in $rest; do [ -f "$src/$p.bpf.o" ] || ok=0; done
		if [ "$ok" = 1 ]; then
			# shellcheck disable=SC2086 # the parts' names are words
			link "$name" $rest
		fi
	done
fi

# The rows of objects that are no longer linked are dropped.
{
	printf 'file\tcompiler\tstatus\treason\n'
	for row in "$out"/rows/*.tsv; do
		[ -e "$row" ] || continue
		n=$(basename "$row" .tsv)
		if [ "$ksel" = 1 ] && printf '%s\n' "$multi" | cut -d' ' -f1 | grep -qx -- "$n"; then
			cat "$row"
		elif [ -f "$src/$n.bpf.o" ]; then
			cat "$row"
		fi
	done
	# What build.sh could not compile is not linked either.
	if [ "$ksel" = 1 ]; then
		awk -F'\t' 'NR > 1 && $3 == "fail"' "$src/manifest.tsv"
	fi
} >"$out/manifest.tsv.tmp"
mv "$out/manifest.tsv.tmp" "$out/manifest.tsv"
rmdir "$out/tmp" 2>/dev/null || true
echo "link.sh: $(grep -c '	ok	' "$out/manifest.tsv") linked," \
	"$(grep -c '	fail	' "$out/manifest.tsv") failed; see $out/manifest.tsv"
