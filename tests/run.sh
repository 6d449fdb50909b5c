#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/run.sh -- run the test suite: every unit-test program tests/test_* and every mount test tests/t_*.sh.
#
#     tests/run.sh                  everything
#     tests/run.sh t_seal 'test_*'  only the tests whose name (with or without .sh, with or without tests/)
#                                   matches one of the names or globs
#
# Each test runs from the repository root under `timeout` (FABRIC_TEST_TIMEOUT seconds, default 300).
# Exit 0 is a pass, 77 a skip (its last output line says why), anything else a failure, whose output is
# printed indented.  The last line is "N passed, N failed" (skips are counted on the line before it), and
# the exit status is 1 when anything failed.  A unit test whose .c has no built program counts as failed.
# After each mount test, whatever it left behind (a mount, a daemon, shm objects) because it was killed by
# its timeout is cleaned up here with lib.sh's own cleanup.
set -u
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)
timeout_s=${FABRIC_TEST_TIMEOUT:-300}

# The tests, in a stable order: unit programs first (fast, and they explain a broken mount test).
tests=()
while read -r f; do
	[ -n "$f" ] && tests+=("$f")
done < <(
	for f in tests/test_*; do
		case $f in
		*.c) echo "${f%.c}" ;;
		*.o | *.d | *.dSYM) ;;
		*) [ -f "$f" ] && [ -x "$f" ] && echo "$f" ;;
		esac
	done | sort -u
)
for f in tests/t_*.sh; do
	[ -e "$f" ] && tests+=("$f")
done

# matches TEST PATTERN: tests/x.sh is named by tests/x.sh, x.sh or x, tests/test_y by test_y or
# test_y.c; a glob of any of these works too.
matches() {
	local base=${1#tests/} pat=${2#tests/}
	base=${base%.sh}
	pat=${pat%.sh}
	pat=${pat%.c}
	# shellcheck disable=SC2053
	[[ $base == $pat || $base.sh == $pat || $base == "$pat" ]]
}
run=()
for t in "${tests[@]}"; do
	if [ $# -eq 0 ]; then
		run+=("$t")
		continue
	fi
	for a in "$@"; do
		matches "$t" "$a" && run+=("$t") && break
	done
done
for a in "$@"; do
	found=0
	for t in "${run[@]}"; do
		matches "$t" "$a" && found=1 && break
	done
	[ $found -eq 1 ] || { echo "run.sh: no test matches '$a'" >&2; exit 2; }
done
if [ ${#run[@]} -eq 0 ]; then
	echo "run.sh: no tests found under tests/" >&2
	exit 2
fi

# shellcheck source=tests/lib.sh
FAB_ROOT=$root . tests/lib.sh

passed=0 failed=0 skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/fabric-run.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
for t in "${run[@]}"; do
	name=${t#tests/}
	log=$work/log
	reg=$work/registry
	: >"$reg"
	start=$SECONDS
	if [[ $t == *.sh ]]; then
		# (in a subshell whose stderr is dropped: only the test's own output goes to its log, not the
		# shell's "Killed" notice when timeout had to use SIGKILL)
		(FABRIC_TEST_REGISTRY=$reg timeout -k 10 "$timeout_s" bash "$t" >"$log" 2>&1 </dev/null; exit $?) 2>/dev/null
		rc=$?
	elif [ -x "$t" ]; then
		(timeout -k 10 "$timeout_s" "$t" >"$log" 2>&1 </dev/null; exit $?) 2>/dev/null
		rc=$?
	else
		echo "$t.c is not built into $t (run make)" >"$log"
		rc=1
	fi
	secs=$((SECONDS - start))
	# A test killed by its timeout could not clean up: do it for it.
	while read -r dir node; do
		[ -d "$dir" ] || continue
		echo "run.sh: cleaning up after $name: $dir" >>"$log"
		_fab_cleanup_dir "$dir" "$node" >>"$log" 2>&1
	done <"$reg"
	case $rc in
	0)
		echo "ok   $name (${secs}s)"
		passed=$((passed + 1))
		;;
	77)
		reason=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
		echo "SKIP $name: ${reason:-no reason given}"
		skipped=$((skipped + 1))
		;;
	*)
		case $rc in
		124 | 137) why="timed out after ${timeout_s}s" ;;
		*) why="exit $rc" ;;
		esac
		echo "FAIL $name ($why, ${secs}s)"
		if [ "$(wc -l <"$log")" -gt 300 ]; then
			head -n 100 "$log" | sed 's/^/    /'
			echo "    ... ($(($(wc -l <"$log") - 200)) lines left out) ..."
			tail -n 100 "$log" | sed 's/^/    /'
		else
			sed 's/^/    /' "$log"
		fi
		failed=$((failed + 1))
		;;
	esac
done

[ $skipped -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
