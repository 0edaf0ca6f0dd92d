#!/bin/sh
# run.sh DIR TEST... - runs each cmocka test binary in DIR, then prints one
# summary line: "N passed, N failed" (cmocka's own lines stay above it).
dir=$1; shift
pass=0; fail=0; bad=""
for t in "$@"; do
	out=$(mktemp)
	t0=$(date +%s)
	"$dir/$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	echo "run.sh: $t took $(($(date +%s) - t0)) s"
	p=$(grep -o '\[  PASSED  \] [0-9]*' "$out" | tail -1 | grep -o '[0-9]*$')
	f=$(grep -o '\[  FAILED  \] [0-9]* test' "$out" | tail -1 | grep -o '[0-9]\+')
	rm -f "$out"
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
	if [ "$rc" -ne 0 ]; then
		bad="$bad $t"
		# a crash prints no cmocka summary: count the binary as a failure
		[ -z "$f" ] && fail=$((fail + 1))
	fi
done
[ -n "$bad" ] && echo "failing test programs:$bad"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ -z "$bad" ]
