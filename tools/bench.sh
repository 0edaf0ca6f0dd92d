#!/bin/sh
# bench.sh - `make bench` (issue 8): every benchmark in one run on this
# machine, Causeway beside PostgreSQL and Redis, written to
# docs/benchmarks.md with PNG plots in docs/img/.
#
# Knobs (environment):
#   BENCH_SECONDS (10)        length of each fmk run
#   BENCH_CLIENTS ("1 4 16 64")  client counts of the scaling sweep
#   BENCH_SCALES ("1 10 100") dataset sizes, times FMKe's scaled default
#                             (10,000 patients...); 100 takes minutes more
#   BENCH_OUT (docs)          where benchmarks.md and img/ go
#   BENCH_QUICK=1             a smoke run: 3 s runs, clients "1 16",
#                             scale 1, short engine runs
#   BENCH_RESULTS (build/bench)  where the raw results stay, so that the
#                             page can be written again without a run:
#                             python3 tools/bench_report.py build/bench docs
#
# Every server is started here in a temporary directory on a free
# loopback port and stopped by pid at the end, also on failure or ^C.
set -u
BIN=${BIN:-build/bin}
SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-"1 4 16 64"}
SCALES=${BENCH_SCALES:-"1 10 100"}
OUT=${BENCH_OUT:-docs}
ENGINE_SECS=5
LAG_SECS=30
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	SECS=3 CLIENTS="1 16" SCALES=1 ENGINE_SECS=1 LAG_SECS=10
fi
SYSTEMS="postgresql redis causeway-1dc causeway-3dc"

dir=$(mktemp -d "${TMPDIR:-/tmp}/cwbench.XXXXXX")
chmod 755 "$dir"
res=${BENCH_RESULTS:-build/bench} # raw results, kept: bench_report.py reads them
rm -rf "$res" && mkdir -p "$res" "$OUT/img"
pids="" # everything started, stopped by pid in cleanup
spids="" # the current system's server pids
sampler=""

cleanup() {
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- systems ---------------------------------------------------------------

start_causeway() { # n tag: n DCs
	n=$1 tag=$2 URLS="" spids=""
	i=0
	while [ $i -lt "$n" ]; do eval "c$i=$(free_port) p$i=$(free_port)"; i=$((i + 1)); done
	i=0
	while [ $i -lt "$n" ]; do
		args="" j=0
		while [ $j -lt "$n" ]; do
			[ $j -ne $i ] && eval "args=\"\$args --peer $j=tcp://127.0.0.1:\$p$j\""
			j=$((j + 1))
		done
		eval "c=\$c$i p=\$p$i"
		"$BIN/causewayd" --dc $i --data "$dir/$tag-dc$i" --listen "tcp://127.0.0.1:$c" \
			--peer-listen "tcp://127.0.0.1:$p" $args --log warn 2>>"$dir/dc.log" &
		pids="$pids $!" spids="$spids $!"
		URLS="$URLS${URLS:+,}tcp://127.0.0.1:$c"
		k=0
		until "$BIN/cw" --url "tcp://127.0.0.1:$c" status >/dev/null 2>&1; do
			k=$((k + 1)); [ $k -gt 200 ] && die "DC $i did not start"; sleep 0.05
		done
		i=$((i + 1))
	done
}

start_peer() { # postgres|redis tag: sets port
	port=$(free_port)
	sh tools/peers.sh "$1" "$dir/$2-$1" "$port" >"$dir/$2-$1.log" 2>&1 &
	pids="$pids $!" spids=$!
	sh tools/peers.sh wait "$1" "$port" || die "$1 did not start"
}

start_system() { # system tag
	case $1 in
	postgresql)
		start_peer postgres "$2"
		URLS="postgresql://fmk@127.0.0.1:$port/postgres" ;;
	redis)
		start_peer redis "$2"
		URLS="redis://127.0.0.1:$port" ;;
	causeway-1dc) start_causeway 1 "$2" ;;
	causeway-3dc) start_causeway 3 "$2" ;;
	esac
}

stop_system() { # PostgreSQL's fast shutdown is SIGINT
	for p in $spids; do
		case $SYSTEM in postgresql) kill -INT "$p" ;; *) kill -TERM "$p" ;; esac
	done
	for p in $spids; do wait "$p"; done
	left=""
	for p in $pids; do case " $spids " in *" $p "*) ;; *) left="$left $p" ;; esac; done
	pids=$left spids=""
}

# Memory: the proportional set size (Pss: shared pages split between the
# processes that map them) of the servers and their children, summed,
# sampled every half second; the peak goes to file $1.
mem_now() {
	all=$spids
	for p in $spids; do all="$all $(ps -o pid= --ppid "$p" 2>/dev/null)"; done
	t=0
	for p in $all; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo $t
}
start_sampler() {
	echo 0 >"$1"
	(
		peak=0
		while :; do
			m=$(mem_now)
			[ "$m" -gt "$peak" ] && { peak=$m; echo $peak >"$1"; }
			sleep 0.5
		done
	) &
	sampler=$!
}
stop_sampler() { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; sampler=""; }

# CPU time (user + system, clock ticks) of the servers: every process in
# the trees under $spids, with what their exited children used (a
# PostgreSQL backend's time goes to the postmaster when it ends)
cpu_ticks() {
	python3 - $spids <<'EOF'
import os, sys
kids, ticks = {}, {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % d) as f:
            st = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    kids.setdefault(int(st[1]), []).append(int(d))
    ticks[int(d)] = sum(int(x) for x in st[11:15])
todo, t = [int(p) for p in sys.argv[1:]], 0
while todo:
    p = todo.pop()
    t += ticks.get(p, 0)
    todo.extend(kids.get(p, []))
print(t)
EOF
}

requests() { # client requests served by every DC of the URLS, summed
	t=0
	for u in $(echo "$URLS" | tr , ' '); do
		case $u in tcp://*) ;; *) echo 0; return ;; esac
		v=$("$BIN/cw" --url "$u" --json status 2>/dev/null |
			sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
		t=$((t + ${v:-0}))
	done
	echo $t
}

# ---- the FMK workload --------------------------------------------------------

converge() { # until every DC reports the same state vector (10 min)
	k=0
	while [ $k -lt 6000 ]; do
		states=$(for u in $(echo "$URLS" | tr , ' '); do
			"$BIN/cw" --url "$u" --json status 2>/dev/null |
				sed -n 's/.*"state":\(\[[0-9,]*\]\).*/\1/p'
		done | sort -u | wc -l)
		[ "$states" = 1 ] && return 0
		k=$((k + 1)); sleep 0.1
	done
	return 1
}

populate() { # scale: FMKe's scaled default times scale; seconds -> $dir/pt
	s=$1
	t0=$(date +%s.%N)
	"$BIN/fmk" --url "${URLS%%,*}" populate --patients $((10000 * s)) \
		--pharmacies $((300 * s)) --staff $((1000 * s)) \
		--facilities $((50 * s)) --prescriptions $((5000 * s)) \
		--batch 500 >/dev/null 2>"$dir/populate.err" ||
		{ cat "$dir/populate.err" >&2; die "$SYSTEM: populate failed"; }
	case $SYSTEM in causeway-3dc)
		converge || die "$SYSTEM: the DCs did not converge after populate" ;;
	esac
	echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}' >"$dir/pt"
}

# run clients scale: one fmk run; appends a row to results/fmk.tsv:
# system scale clients ops/s p50 p99 errors peak_mem_kb requests/op
# server_cpu_us/op
run_fmk() {
	n=$1 s=$2
	out=$res/run-$SYSTEM-$s-$n.txt
	r0=$(requests)
	c0=$(cpu_ticks)
	start_sampler "$dir/mem"
	"$BIN/fmk" --url "$URLS" run --threads "$n" --duration "$SECS" \
		--every "$SECS" >"$out" 2>&1 || { cat "$out" >&2; die "$SYSTEM: fmk run failed"; }
	stop_sampler
	c1=$(cpu_ticks)
	r1=$(requests)
	awk -v sys="$SYSTEM" -v s="$s" -v n="$n" -v mem="$(cat "$dir/mem")" \
		-v rq=$((r1 - r0)) -v dc=$((c1 - c0)) -v tck="$(getconf CLK_TCK)" '
		/^all / { rpo = (rq > 0 && $2 > 0) ? sprintf("%.2f", rq / $2) : "-";
		          cpo = $2 > 0 ? sprintf("%.1f", dc * 1e6 / tck / $2) : "-";
		          printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sys, s, n, $3, $4, $5, $6, mem, rpo, cpo }' \
		"$out" >>"$res/fmk.tsv"
	tail -1 "$res/fmk.tsv" | awk -F'\t' '{printf "bench:   %-13s x%-3s %3s clients  %7s ops/s  p99 %6s ms\n", $1, $2, $3, $4, $6}' >&2
}

profile_run() { # a whole-machine CPU profile of a 16-client run
	command -v perf >/dev/null || { echo "perf is not installed" >"$res/profile.txt"; return; }
	"$BIN/fmk" --url "$URLS" run --threads 16 --duration $((SECS + 4)) \
		--every 100 >"$res/profile-run.txt" 2>&1 &
	fp=$!
	sleep 2
	if perf record -e cpu-clock -a -g -o "$dir/perf.data" -- sleep "$SECS" \
		>/dev/null 2>&1; then
		{
			echo "== CPU time by process (whole machine, $SECS s, 16 clients)"
			perf report -i "$dir/perf.data" --sort comm --stdio -g none 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -8
			echo
			# by pid: all of causewayd's threads, whatever their names
			cpid=$(echo $spids | tr ' ' ',')
			echo "== causewayd (all its threads): by shared object, % of the machine"
			perf report -i "$dir/perf.data" --pid "$cpid" --sort dso --stdio -g none \
				--no-children --percentage absolute 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -8
			echo
			echo "== causewayd (all its threads): top symbols, self time, % of the machine"
			perf report -i "$dir/perf.data" --pid "$cpid" --sort sym --stdio -g none \
				--no-children --percentage absolute 2>/dev/null | grep -v '^#' | grep -v '^$' | head -15
		} >"$res/profile.txt"
	else
		echo "perf record is not permitted here" >"$res/profile.txt"
	fi
	wait $fp
}

# ---- the run -----------------------------------------------------------------

sh tools/peers.sh ensure || exit 1
[ -x "$BIN/fmk" ] || die "build first (make)"
t_start=$(date +%s)
log "machine"
cores=$(nproc)
model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem_gb=$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)
fsync=$(python3 - "$dir" <<'EOF'
import os, sys, time
p = os.path.join(sys.argv[1], "fsync.probe")
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
lat = []
for i in range(300):
    os.pwrite(fd, b"x" * 4096, (i % 16) * 4096)
    t = time.perf_counter(); os.fdatasync(fd); lat.append(time.perf_counter() - t)
lat.sort()
print("%.0f %.0f" % (lat[len(lat) // 2] * 1e6, lat[int(len(lat) * 0.99)] * 1e6))
EOF
)
fs=$(df -T "$dir" | awk 'NR == 2 {print $2}')
versions="$(/usr/lib/postgresql/*/bin/postgres --version | head -1); $(redis-server --version | cut -d' ' -f1-3)"

: >"$res/fmk.tsv"
: >"$res/populate.tsv"
for s in $SCALES; do
	for SYSTEM in $SYSTEMS; do
		log "$SYSTEM, dataset x$s"
		start_system "$SYSTEM" "$SYSTEM-x$s"
		start_sampler "$dir/mem"
		populate "$s"
		stop_sampler
		printf "%s\t%s\t%s\t%s\n" "$SYSTEM" "$s" "$(cat "$dir/pt")" "$(cat "$dir/mem")" >>"$res/populate.tsv"
		if [ "$s" = 1 ]; then
			for n in $CLIENTS; do run_fmk "$n" "$s"; done
			[ "$SYSTEM" = causeway-1dc ] && profile_run
		else
			run_fmk 16 "$s"
		fi
		stop_system
	done
done

log "engine: cw-bench local, net, repl, escrow, lag"
"$BIN/cw-bench" local --seconds "$ENGINE_SECS" --threads 1,4 >"$res/local.txt" 2>&1 || die "cw-bench local failed"
"$BIN/cw-bench" net --tls --seconds "$ENGINE_SECS" >"$res/net.txt" 2>&1 || die "cw-bench net failed"
"$BIN/cw-bench" repl --tls --seconds "$ENGINE_SECS" >"$res/repl.txt" 2>&1 || die "cw-bench repl failed"
"$BIN/cw-bench" escrow --seconds $((ENGINE_SECS * 2)) >"$res/escrow.txt" 2>&1 || die "cw-bench escrow failed"
"$BIN/cw-bench" lag --seconds "$LAG_SECS" >"$res/lag.tsv" 2>"$dir/lag.err" || die "cw-bench lag failed"
t_end=$(date +%s)

log "plots and $OUT/benchmarks.md"
cat >"$res/machine.txt" <<EOF
cores=$cores
model=$model
mem_gb=$mem_gb
fsync_us=$fsync
fs=$fs
versions=$versions
seconds=$SECS
clients=$CLIENTS
scales=$SCALES
elapsed=$((t_end - t_start))
date=$(date -u +%Y-%m-%d)
EOF
python3 tools/bench_report.py "$res" "$OUT" || die "report failed"
log "done in $((t_end - t_start)) s: $OUT/benchmarks.md"
