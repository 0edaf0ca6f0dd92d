#!/usr/bin/env python3
"""tsan_filter.py LOG... - ThreadSanitizer reports that involve no RocksDB
code. Debian's RocksDB is not built with TSan, so its lock-free memtable and
write group show up as races TSan cannot see the atomics of; those are
left out. Prints the rest and exits 1 if there are any."""
import sys

bad = 0
for path in sys.argv[1:]:
    try:
        text = open(path, errors="replace").read()
    except OSError:
        continue
    for rep in text.split("WARNING: ThreadSanitizer")[1:]:
        body = rep.split("SUMMARY")[0]
        if "rocksdb" in body or "std::__cxx11::basic_string" in body:
            continue
        bad += 1
        print("WARNING: ThreadSanitizer" + body)
print(f"tsan: {bad} report(s) outside RocksDB")
sys.exit(1 if bad else 0)
