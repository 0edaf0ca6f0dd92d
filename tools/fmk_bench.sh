#!/bin/sh
# fmk_bench.sh - the FMK benchmark (issue 6): `fmk run` on 1 DC and on 3
# DCs on this machine, the FMKe mix, default dataset. Prints fmk run's
# table for each. Usage: tools/fmk_bench.sh [SECONDS] [THREADS]
#
# Fresh temporary directories; everything started is stopped by pid.
set -u
BIN=${BIN:-build/bin}
secs=${1:-30}
threads=${2:-16}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cwfmk.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
die() { echo "fmk_bench: $*" >&2; exit 1; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() { # n: start n DCs, sets URLS
	n=$1; URLS=""; peers=""
	i=0; while [ $i -lt "$n" ]; do
		eval "c$i=$(free_port) p$i=$(free_port)"; i=$((i + 1)); done
	i=0; while [ $i -lt "$n" ]; do
		args=""; j=0
		while [ $j -lt "$n" ]; do
			[ $j -ne $i ] && eval "args=\"\$args --peer $j=tcp://127.0.0.1:\$p$j\""
			j=$((j + 1))
		done
		eval "c=\$c$i p=\$p$i"
		"$BIN/causewayd" --dc $i --data "$dir/n$n-dc$i" --listen "tcp://127.0.0.1:$c" \
			--peer-listen "tcp://127.0.0.1:$p" $args --log warn 2>>"$dir/dc.log" &
		pids="$pids $!"
		URLS="$URLS${URLS:+,}tcp://127.0.0.1:$c"
		k=0
		until "$BIN/cw" --url "tcp://127.0.0.1:$c" status >/dev/null 2>&1; do
			k=$((k + 1)); [ $k -gt 100 ] && die "DC $i did not start"; sleep 0.05
		done
		i=$((i + 1))
	done
}
stop() {
	for p in $pids; do kill -TERM "$p"; done
	for p in $pids; do wait "$p"; done
	pids=""
}

for n in 1 3; do
	start $n
	echo "== $n DC(s): populate (defaults) at DC 0"
	"$BIN/fmk" --url "${URLS%%,*}" populate 2>/dev/null || die "populate failed"
	[ $n -gt 1 ] && "$BIN/fmk" --url "$URLS" check --converge 120 >/dev/null
	echo "== $n DC(s): fmk run --threads $threads --duration $secs"
	"$BIN/fmk" --url "$URLS" run --threads "$threads" --duration "$secs" \
		--every 10 || die "run failed"
	stop
done
