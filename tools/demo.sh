#!/bin/sh
# demo.sh - make demo: three Causeway DCs on loopback.
#
#   act 1  a prescription written at DC 0 is read at DC 1 and DC 2
#   act 2  DC 2 is cut off (its links pass through cw-proxy); both sides
#          keep committing; the links heal and all three converge, with
#          equal digests, and the stock (a bounded counter) never < 0
#   act 3  DC 1 is killed with SIGKILL and restarted: it catches up
#
# Fresh temporary directories; everything started is stopped by pid,
# whatever happens.
set -u
BIN=${BIN:-build/bin}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cwdemo.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
die() { echo "demo: $*" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + ($$ * 7 + $1 * 131) % 30000))
}
for k in 0 1 2; do eval "C$k=$(free_port $k) P$k=$(free_port $((k + 3)))"; done
X02=$(free_port 6) X12=$(free_port 7) X20=$(free_port 8) X21=$(free_port 9)

"$BIN/cw-proxy" "$X02:$P2" "$X12:$P2" "$X20:$P0" "$X21:$P1" \
	>"$dir/proxy.out" 2>"$dir/proxy.log" &
proxy=$!
pids="$pids $proxy"

start_dc() { # id peer-args...
	id=$1; shift
	eval "c=\$C$id p=\$P$id"
	"$BIN/causewayd" --dc "$id" --data "$dir/dc$id" --listen "tcp://127.0.0.1:$c" \
		--peer-listen "tcp://127.0.0.1:$p" "$@" --log warn 2>>"$dir/dc$id.log" &
	eval "pid$id=$!"
	pids="$pids $!"
	i=0
	until "$BIN/cw" --url "tcp://127.0.0.1:$c" status >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 100 ] && die "DC $id did not start"
		sleep 0.05
	done
}
args0="--peer 1=tcp://127.0.0.1:$P1 --peer 2=tcp://127.0.0.1:$X02"
args1="--peer 0=tcp://127.0.0.1:$P0 --peer 2=tcp://127.0.0.1:$X12"
args2="--peer 0=tcp://127.0.0.1:$X20 --peer 1=tcp://127.0.0.1:$X21"
start_dc 0 $args0
start_dc 1 $args1
start_dc 2 $args2

at() { # dc args...: run cw at a DC, echoing the command
	d=$1; shift
	eval "c=\$C$d"
	echo "[DC $d] \$ cw $*"
	"$BIN/cw" --url "tcp://127.0.0.1:$c" "$@"
}
converge() {
	i=0
	while :; do
		d0=$("$BIN/cw" --url tcp://127.0.0.1:$C0 status | grep digest)
		d1=$("$BIN/cw" --url tcp://127.0.0.1:$C1 status | grep digest)
		d2=$("$BIN/cw" --url tcp://127.0.0.1:$C2 status | grep digest)
		[ "$d0" = "$d1" ] && [ "$d1" = "$d2" ] && break
		i=$((i + 1)); [ $i -gt 200 ] && die "no convergence"
		sleep 0.05
	done
	echo "all three DCs: $d0"
}

echo "== act 1: write at DC 0, read at DC 1 and DC 2"
at 0 txn map-put patient:1 name Ann , map-put rx:7 drug aspirin , \
	sadd patient:1:rx rx:7 , badd stock:aspirin 100 || die "write failed"
converge
at 1 txn members patient:1:rx , map-get rx:7 drug
at 2 txn members patient:1:rx , bget stock:aspirin

echo
echo "== act 2: DC 2 is cut off; both sides keep working"
kill -USR1 "$proxy"
sleep 0.2
at 0 txn map-put rx:8 drug ibuprofen , sadd patient:1:rx rx:8 , badd stock:aspirin -30
at 2 txn map-put rx:9 drug codeine , sadd patient:1:rx rx:9
at 2 badd stock:aspirin -5 || echo "(DC 2 spends only its own rights: it has none)"
at 0 members patient:1:rx
at 2 members patient:1:rx
sleep 1.2
at 2 status
echo "-- heal"
kill -USR2 "$proxy"
converge
at 1 txn members patient:1:rx , bget stock:aspirin

echo
echo "== act 3: kill -9 DC 1, write meanwhile, restart it"
kill -KILL "$pid1"; wait "$pid1" 2>/dev/null
at 0 txn map-put rx:10 drug insulin , sadd patient:1:rx rx:10
start_dc 1 $args1
converge
at 1 members patient:1:rx
at 1 status

for p in $pid0 $pid1 $pid2; do kill -TERM "$p"; done
for p in $pid0 $pid1 $pid2; do wait "$p" || die "a DC did not stop cleanly"; done
kill -TERM "$proxy"; wait "$proxy" 2>/dev/null
pids=""
echo
echo "== demo done: three DCs converged after a partition and a crash"
