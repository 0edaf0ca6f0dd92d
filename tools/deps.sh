#!/bin/sh
# deps.sh - checks that the Debian packages Causeway builds with are
# installed. As root it installs the missing ones; otherwise it prints the
# exact apt-get line and fails.
set -u
PKGS="gcc g++ make clang clang-format pkg-config librocksdb-dev libnng-dev libcmocka-dev \
libflatbuffers-dev flatbuffers-compiler libmbedtls-dev openssl libclang-rt-14-dev libpq-dev libhiredis-dev \
postgresql redis-server"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
		echo "deps: apt-get install failed" >&2; exit 1; }
	exit 0
fi
echo "deps: missing Debian packages. Run:" >&2
echo "  sudo apt-get install -y$missing" >&2
exit 1
