#!/bin/sh
# ab_fmk.sh - two builds of Causeway compared on the FMK workload at one
# DC, in interleaved pairs (issue 20: each step of the request path is
# measured alone, before and after, on this noisy shared machine).
#
#   sh tools/ab_fmk.sh BIN_A BIN_B
#
# BIN_A and BIN_B are bin/ directories (causewayd, fmk, cw). Each pair
# runs A then B (odd pairs B then A): a fresh causewayd, `fmk populate`
# at FMKe's default size, then `fmk run` with the same seed. Printed: one
# row per run and a summary, with causewayd's CPU time per operation from
# /proc (utime + stime over the run), which machine noise moves far less
# than throughput.
#
# Knobs (environment): AB_PAIRS (3), AB_SECONDS (10), AB_THREADS (16),
# AB_SCALE (1: FMKe's scaled default times this).
set -u
A=${1:?usage: ab_fmk.sh BIN_A BIN_B}
B=${2:?usage: ab_fmk.sh BIN_A BIN_B}
PAIRS=${AB_PAIRS:-3}
SECS=${AB_SECONDS:-10}
THREADS=${AB_THREADS:-16}
SCALE=${AB_SCALE:-1}
TCK=$(getconf CLK_TCK)

dir=$(mktemp -d "${TMPDIR:-/tmp}/cwab.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "ab_fmk: $*" >&2; exit 1; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
ticks() { # utime + stime of a process, in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

for b in "$A" "$B"; do
	for x in causewayd fmk cw; do
		[ -x "$b/$x" ] || die "$b/$x: not built"
	done
done

# one BIN LABEL: a run; appends "label ops/s p99_ms cpu_us_per_op" to rows
one() {
	bin=$1 label=$2
	port=$(free_port)
	rm -rf "$dir/data"
	"$bin/causewayd" --dc 0 --data "$dir/data" \
		--listen "tcp://127.0.0.1:$port" --log warn 2>>"$dir/dc.log" &
	pid=$!
	url="tcp://127.0.0.1:$port"
	k=0
	until "$bin/cw" --url "$url" status >/dev/null 2>&1; do
		k=$((k + 1)); [ $k -gt 200 ] && die "causewayd did not start"
		sleep 0.05
	done
	"$bin/fmk" --url "$url" populate --patients $((10000 * SCALE)) \
		--pharmacies $((300 * SCALE)) --staff $((1000 * SCALE)) \
		--facilities $((50 * SCALE)) \
		--prescriptions $((5000 * SCALE)) --batch 500 \
		>/dev/null 2>"$dir/populate.err" ||
		{ cat "$dir/populate.err" >&2; die "populate failed"; }
	t0=$(ticks "$pid")
	"$bin/fmk" --url "$url" run --threads "$THREADS" --duration "$SECS" \
		--every "$SECS" >"$dir/run.txt" 2>&1 ||
		{ cat "$dir/run.txt" >&2; die "fmk run failed"; }
	t1=$(ticks "$pid")
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
	pid=""
	awk -v l="$label" -v dt=$((t1 - t0)) -v tck="$TCK" '
		/^all / { printf "%s %s %s %.1f\n", l, $3, $5,
		    ($2 > 0 ? dt * 1e6 / tck / $2 : 0) }' "$dir/run.txt" \
		>>"$dir/rows"
	tail -1 "$dir/rows" | awk '{ printf "ab_fmk: %s  %8s ops/s  p99 %6s ms  causewayd %7s us/op\n", $1, $2, $3, $4 }' >&2
}

: >"$dir/rows"
i=0
while [ $i -lt "$PAIRS" ]; do
	if [ $((i % 2)) = 0 ]; then one "$A" A; one "$B" B
	else one "$B" B; one "$A" A; fi
	i=$((i + 1))
done

echo "# FMK at 1 DC, $THREADS clients, $SECS s runs, $PAIRS interleaved pairs"
echo "# A = $A, B = $B"
printf "%-4s %10s %10s %16s\n" run "ops/s" "p99 ms" "causewayd us/op"
awk '{ printf "%-4s %10s %10s %16s\n", $1, $2, $3, $4 }' "$dir/rows"
awk '
	{ n[$1]++; ops[$1] += $2; p99[$1] += $3; cpu[$1] += $4 }
	END {
		printf "mean A: %.0f ops/s, p99 %.2f ms, %.1f us/op\n",
		    ops["A"] / n["A"], p99["A"] / n["A"], cpu["A"] / n["A"]
		printf "mean B: %.0f ops/s, p99 %.2f ms, %.1f us/op\n",
		    ops["B"] / n["B"], p99["B"] / n["B"], cpu["B"] / n["B"]
		printf "B / A: throughput %.2f, p99 %.2f, CPU per op %.2f\n",
		    ops["B"] / ops["A"], p99["B"] / p99["A"], cpu["B"] / cpu["A"]
	}' "$dir/rows"
