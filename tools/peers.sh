#!/bin/sh
# peers.sh - the servers Causeway is compared with (issue 8): PostgreSQL
# and Redis from Debian, each in a directory of its own, on a loopback
# port, with durable settings comparable to Causeway's (every commit
# reaches the disk before it is acknowledged).
#
#   peers.sh ensure             install the servers when missing (root),
#                               else print the apt-get line and fail
#   peers.sh postgres DIR PORT  run PostgreSQL in the foreground (exec:
#                               the caller's pid is the server's)
#   peers.sh redis DIR PORT     the same for Redis
#   peers.sh wait postgres|redis PORT   until it answers (at most 30 s)
#
# PostgreSQL refuses to run as root: as root it runs as user postgres
# through setpriv, which execs without a fork, so the pid stays the
# server's. Connect with postgresql://fmk@127.0.0.1:PORT/postgres.
set -u

pg_bin() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

case ${1:-} in
ensure)
	missing=""
	[ -n "$(pg_bin)" ] || missing="$missing postgresql"
	command -v redis-server >/dev/null || missing="$missing redis-server"
	command -v gnuplot >/dev/null || missing="$missing gnuplot-nox"
	command -v python3 >/dev/null || missing="$missing python3"
	[ -z "$missing" ] && exit 0
	if [ "$(id -u)" = 0 ]; then
		echo "peers: installing$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get install -y -qq $missing >/dev/null ||
			{ echo "peers: apt-get install failed" >&2; exit 1; }
		exit 0
	fi
	echo "peers: missing Debian packages. Run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
	;;
postgres)
	dir=$2 port=$3 bin=$(pg_bin)
	[ -n "$bin" ] || { echo "peers: no PostgreSQL (peers.sh ensure)" >&2; exit 1; }
	as=""
	mkdir -p "$dir" || exit 1
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$dir" && chmod a+x "$(dirname "$dir")" || exit 1
		as="setpriv --reuid=postgres --regid=postgres --init-groups"
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		$as "$bin/initdb" -D "$dir/data" -U fmk -A trust -E UTF8 \
			--no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	exec $as "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" \
		-c listen_addresses=127.0.0.1 -c fsync=on \
		-c synchronous_commit=on -c full_page_writes=on \
		-c max_connections=200 -c shared_buffers=256MB
	;;
redis)
	dir=$2 port=$3
	mkdir -p "$dir" || exit 1
	exec redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
		--appendonly yes --appendfsync always --save "" \
		--daemonize no --protected-mode no --logfile "$dir/redis.log"
	;;
wait)
	k=0
	while :; do
		case $2 in
		postgres) "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$3" && exit 0 ;;
		redis) [ "$(redis-cli -p "$3" ping 2>/dev/null)" = PONG ] && exit 0 ;;
		*) echo "peers: wait postgres|redis PORT" >&2; exit 2 ;;
		esac
		k=$((k + 1))
		[ $k -gt 300 ] && { echo "peers: $2 on port $3 did not start" >&2; exit 1; }
		sleep 0.1
	done
	;;
*)
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
	[ "${1:-}" = --help ] || exit 2
	;;
esac
