#!/bin/sh
# symbols.sh LIB - STYLE 2: every C symbol the library exports starts with
# cw_ (C++ symbols, mangled _Z..., come from generated FlatBuffers code and
# the RocksDB logger shim, and live in their own namespaces).
lib=$1
bad=$(nm -g --defined-only "$lib" | awk 'NF==3 && $2 ~ /[TDBR]/ {print $3}' |
	grep -v '^_Z' | grep -v '^cw_')
if [ -n "$bad" ]; then
	echo "symbols: exported without cw_ prefix:" $bad
	echo "0 passed, 1 failed"
	exit 1
fi
echo "symbols: every exported C symbol starts with cw_"
