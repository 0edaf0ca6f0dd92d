#!/bin/sh
# symbols.sh LIB - STYLE 2: every C symbol the library exports starts with
# cw_ (C++ symbols, mangled _Z..., come from generated FlatBuffers code and
# the RocksDB logger shim, and live in their own namespaces), and none
# belongs to causewayd's server, transport or replication.
lib=$1
bad=$(nm -g --defined-only "$lib" | awk 'NF==3 && $2 ~ /[TDBR]/ {print $3}' |
	grep -v '^_Z' | grep -v '^cw_')
if [ -n "$bad" ]; then
	echo "symbols: exported without cw_ prefix:" $bad
	echo "0 passed, 1 failed"
	exit 1
fi
# libcauseway is the SDK and the embedded engine: causewayd's server,
# transport and replication live in its own internal library.
srv=$(nm -g --defined-only "$lib" | awk 'NF==3 && $2 ~ /[TDBR]/ {print $3}' |
	grep -E '^cw_(server|wire|replica|rcache)_')
if [ -n "$srv" ]; then
	echo "symbols: causewayd's internals in the library:" $srv
	echo "0 passed, 1 failed"
	exit 1
fi
echo "symbols: every exported C symbol starts with cw_, none is causewayd's"
