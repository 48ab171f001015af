#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
#
# Build the cargo-fuzz targets and run each for SECONDS (default 60), starting from
# the compiled seeds (seed.sh) plus what earlier runs kept in corpus/TARGET. Prints,
# per target, executions, executions per second, new corpus units and crashes; exits
# non-zero if any target crashed, timed out or ran out of memory. Crash inputs are in
# fuzz/artifacts/TARGET/.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      targets: parse plan plan_structured kernel_btf
#
# The machine has stable Rust only: RUSTC_BOOTSTRAP=1 lets it take the nightly-only
# flags cargo fuzz passes (-Zsanitizer=address, sancov). Targets are built optimised
# with debug assertions and overflow checks (-O -a): an overflow the core's clippy
# rules missed is a crash here. Replay one input with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -O -a TARGET fuzz/artifacts/TARGET/crash-...
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse plan plan_structured kernel_btf)
export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"
cd "$here"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked || exit 1
"$here/seed.sh" "$here/seeds" || exit 1
cargo fuzz build -O -a >/dev/null 2>"$here/build.log" || { cat "$here/build.log" >&2; exit 1; }

status=0
summary=()
for t in "${targets[@]}"; do
	mkdir -p "corpus/$t" "artifacts/$t"
	log="$here/artifacts/$t.log"
	before=$(ls "artifacts/$t" | wc -l)
	# -timeout: a single input running 10 s is a hang; -rss_limit_mb: the core asks
	# for memory in proportion to the input, so 2 GiB means a count went unchecked.
	cargo fuzz run -O -a "$t" "corpus/$t" "$here/seeds" -- \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
		-print_final_stats=1 >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	crashes=$(($(ls "artifacts/$t" | wc -l) - before))
	line="$t: ${execs:-?} execs in ${secs}s (${rate:-?}/s), ${cov:-cov: ?}, ${units:-?} new units, $crashes crashes (exit $rc)"
	echo "$line"
	summary+=("$line")
	if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
		status=1
		grep -m3 -E '^(==[0-9]+==ERROR|thread .* panicked|ALARM|SUMMARY)' "$log" || tail -20 "$log"
	fi
done
echo "--- summary"
printf '%s\n' "${summary[@]}"
exit $status
