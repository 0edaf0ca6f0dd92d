#!/bin/sh
# demo.sh - make demo: one Causeway DC, driven with the cw command line.
# Starts causewayd on a free port in a fresh directory, runs transactions,
# kills it with SIGKILL and restarts it to show that acknowledged commits
# survive, and stops it cleanly. Stops what it started (by pid), whatever
# happens. (Three DCs with partitions arrive with replication, issue 4.)
set -u
BIN=${BIN:-build/bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cwdemo.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 17411)
url=tcp://127.0.0.1:$port
start() {
	"$BIN/causewayd" --data "$dir/dc0" --listen "$url" --log warn &
	pid=$!
	i=0
	until "$BIN/cw" --url "$url" status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "demo: causewayd did not start"; exit 1; }
		sleep 0.05
	done
}
run() {
	echo "\$ cw $*"
	"$BIN/cw" --url "$url" "$@" || exit 1
}
echo "== one DC on $url, data in $dir/dc0"
start
run txn map-put patient:1 name Ann , map-put rx:7 drug aspirin , sadd patient:1:rx rx:7 , badd stock:aspirin 100
run txn members patient:1:rx , map-get rx:7 drug , bget stock:aspirin
run badd stock:aspirin -30
echo "\$ cw badd stock:aspirin -500   # more than the stock: refused"
"$BIN/cw" --url "$url" badd stock:aspirin -500 && exit 1
run --json status
echo "== kill -9 causewayd (pid $pid) and start it again"
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=""
start
run txn members patient:1:rx , bget stock:aspirin
run status
echo "== SIGTERM: clean stop"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
echo "causewayd exited with $rc"
[ "$rc" -eq 0 ] || exit 1
echo "== demo done: the commits acknowledged before the kill were all there"
