# SPDX-License-Identifier: MIT
# tests/lib.sh -- helpers for the mount tests (tests/t_*.sh); each of them sources this file.
#
# A test is a bash script that runs from the repository root (tests/run.sh cd's there):
#
#     . tests/lib.sh
#     fab_setup                   # skip (77) without /dev/fuse or root; $T $MNT $ST $NODE; cleanup trap
#     fab_mount --capacity 64M    # tools/fabric mount "$MNT" --state "$ST" --node "$NODE" ...
#     ok cp "$T/a" "$MNT/vars/a"
#     fails "Read-only file system" sh -c ': > "$1"' _ "$MNT/vars/a"
#     eq "$(xget "$MNT/vars/a" user.fabric.state)" sealed "state after cp"
#     fab_done                    # exit 1 if any assertion failed, else 0
#
# Assertions never stop the test: each prints "FAIL file:line: what" and counts a failure, so one run shows
# every broken thing.  fab_mount is the exception (nothing after a failed mount means anything).
# The EXIT trap cleans up whatever happened before: background processes this shell started, every mount
# under $T (tools/fabric umount, then umount -f, then umount -l), every daemon named by a pid file under
# $T, the node's shm objects, and $T itself.  It also fails the test when a daemon log holds a sanitizer
# report.  Sourcing this file has no side effect beyond defining functions and variables, so tests/run.sh
# sources it too, to clean up after a test that was killed by its timeout.
#
# Waiting is always a poll with a deadline (wait_for), never a fixed sleep.  FABRIC_SANITIZE=1 (an ASan
# build of the daemon) triples the deadlines.

FAB_ROOT=${FAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FAB_TOOL="$FAB_ROOT/tools/fabric"
FAB_DAEMON="$FAB_ROOT/fs/fabricd"
PY=/usr/bin/python3 # Debian's python, which has numpy (a pyenv python3 on PATH may not)
FAB_DEADLINE=20     # seconds a wait_for waits
[ "${FABRIC_SANITIZE:-0}" = 1 ] && FAB_DEADLINE=60
FAB_FAILS=0

# ---- assertions -------------------------------------------------------------------------------------

# Where the test called us from: the first frame outside this file, as "t_x.sh:LINE".
_fab_where() {
	local i
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [ "${BASH_SOURCE[i]}" != "${BASH_SOURCE[0]}" ]; then
			echo "${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
			return
		fi
	done
	echo "?:${BASH_LINENO[0]}"
}

# bad MESSAGE...: record a failure at the caller's line.
bad() {
	FAB_FAILS=$((FAB_FAILS + 1))
	echo "FAIL $(_fab_where): $*" >&2
}

# Short, quoted rendering of a value for messages.
_fab_show() {
	local s=$1
	[ ${#s} -gt 160 ] && s="${s:0:160}...(${#1} chars)"
	printf '%q' "$s"
}

# The output of the last ok/fails command.
last_out() { cat "$T/.last.out" 2>/dev/null; }
last_err() { cat "$T/.last.err" 2>/dev/null; }

# ok CMD...: CMD must exit 0.  Its stdout/stderr are kept (last_out, last_err) and shown if it fails.
ok() {
	"$@" >"$T/.last.out" 2>"$T/.last.err"
	local rc=$?
	if [ $rc -ne 0 ]; then
		bad "exit $rc from: $*"
		sed 's/^/      stderr: /' "$T/.last.err" | head -n 20 >&2
	fi
	return $rc
}

# fails TEXT CMD...: CMD must exit non-zero with TEXT (e.g. "Read-only file system") in its stderr.
# An empty TEXT asks only for some message on stderr.
fails() {
	local text=$1
	shift
	"$@" >"$T/.last.out" 2>"$T/.last.err"
	local rc=$?
	if [ $rc -eq 0 ]; then
		bad "expected failure${text:+ ($text)}, but it succeeded: $*"
		return 1
	fi
	if [ -z "$text" ]; then
		if [ ! -s "$T/.last.err" ]; then
			bad "failed (exit $rc) as expected but printed no message on stderr: $*"
			return 1
		fi
	elif ! grep -qF -- "$text" "$T/.last.err"; then
		bad "expected \"$text\" from: $*; got exit $rc and stderr:"
		sed 's/^/      stderr: /' "$T/.last.err" | head -n 20 >&2
		return 1
	fi
	return 0
}

# fails_dead CMD...: CMD fails the way a program sees a mount whose daemon is gone: ENOTCONN, or
# ECONNABORTED when its request raced the kernel's abort of the connection (seen under ASan).
fails_dead() {
	fails "" "$@" || return 1
	grep -qE 'Transport endpoint is not connected|Software caused connection abort' "$T/.last.err" && return 0
	bad "expected ENOTCONN or ECONNABORTED from: $*; got: $(head -c 300 "$T/.last.err")"
}

# eq GOT WANT WHAT: two strings must be equal.
eq() {
	[ "$1" == "$2" ] && return 0
	bad "${3:-value}: got $(_fab_show "$1"), want $(_fab_show "$2")"
	return 1
}

# match GOT ERE WHAT: a string must match an extended regular expression (whole string: anchor it).
match() {
	[[ $1 =~ $2 ]] && return 0
	bad "${3:-value}: $(_fab_show "$1") does not match /$2/"
	return 1
}

# same FILE1 FILE2 [WHAT]: two files must hold the same bytes.
same() {
	local diff
	diff=$(cmp -- "$1" "$2" 2>&1) && return 0
	bad "${3:-contents} differ: $diff"
	return 1
}

# wait_for CMD...: poll CMD (every 0.05 s) until it succeeds; after $FAB_DEADLINE s record a failure.
wait_for() {
	local end=$((SECONDS + FAB_DEADLINE))
	while ! "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $end ]; then
			bad "timed out after ${FAB_DEADLINE}s waiting for: $*"
			return 1
		fi
		sleep 0.05
	done
	return 0
}

# wait_says WANT CMD...: poll until CMD's output is WANT (CMD runs afresh at every try, which
# `wait_for test "$(CMD)" = WANT` does not: there the output is taken once, before the first try).
wait_says() {
	local want=$1
	shift
	wait_for _fab_says "$want" "$@"
}
_fab_says() {
	local want=$1
	shift
	[ "$("$@" 2>/dev/null)" == "$want" ]
}

# alive PID: PID runs (a finished child not yet waited for is a zombie: not alive).
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

# wait_exit PID [WHAT]: wait (with the deadline) for a background child to finish and return its exit
# status; past the deadline record a failure, kill it, and return 124.
wait_exit() {
	local end=$((SECONDS + FAB_DEADLINE))
	while alive "$1"; do
		if [ $SECONDS -ge $end ]; then
			bad "${2:-process $1} still running after ${FAB_DEADLINE}s; killed"
			_fab_kill_tree "$1"
			wait "$1" 2>/dev/null
			return 124
		fi
		sleep 0.05
	done
	wait "$1"
}

# blocked_in_fuse PID: PID is alive and waits for an answer from a FUSE daemon (seen on 5 polls in a row,
# so a passing round trip is not mistaken for a wait).  The kernel stack tells; where it cannot be read,
# a process inside open(2) (openat is syscall 257 on x86-64) stands in for it.
blocked_in_fuse() {
	local n=0
	while [ $n -lt 5 ]; do
		alive "$1" || return 1
		if [ -r /proc/self/stack ]; then
			grep -q fuse "/proc/$1/stack" 2>/dev/null || return 1
		else
			grep -q '^257 ' "/proc/$1/syscall" 2>/dev/null || return 1
		fi
		n=$((n + 1))
		sleep 0.05
	done
	return 0
}

# wait_blocked PID WHAT: wait until PID is blocked in the FUSE daemon; if it finishes instead, or neither
# happens before the deadline, record a failure and return 1.
wait_blocked() {
	local end=$((SECONDS + FAB_DEADLINE))
	while alive "$1"; do
		blocked_in_fuse "$1" && return 0
		if [ $SECONDS -ge $end ]; then
			bad "${2:-process $1}: neither blocked in the filesystem nor finished after ${FAB_DEADLINE}s"
			return 1
		fi
		sleep 0.05
	done
	bad "${2:-process $1}: finished instead of waiting"
	return 1
}

# ---- small tools ------------------------------------------------------------------------------------

# mkdata FILE BYTES: random bytes.
mkdata() { head -c "$2" /dev/urandom >"$1"; }

# xget FILE NAME: an xattr's value, raw (fails, printing nothing, when absent or after a deadline).
xget() { timeout "$FAB_DEADLINE" getfattr --absolute-names --only-values -n "$2" -- "$1" 2>/dev/null; }

# xattr_is FILE NAME VALUE: the xattr holds VALUE (for wait_for).
xattr_is() { [ "$(xget "$1" "$2")" == "$3" ]; }

# xxh128 FILE: XXH3-128 of FILE as 32 lowercase hex digits, as xxh128sum prints it (xxh128sum when
# installed, else libxxhash through ctypes: the library the daemon links, so always present).
xxh128() {
	if command -v xxh128sum >/dev/null 2>&1; then
		xxh128sum -- "$1" 2>/dev/null | cut -d' ' -f1
		return
	fi
	"$PY" - "$1" <<-'EOF'
		import ctypes, sys
		class H(ctypes.Structure):
		    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]
		lib = ctypes.CDLL("libxxhash.so.0")
		lib.XXH3_128bits.restype = H
		lib.XXH3_128bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
		data = open(sys.argv[1], "rb").read()
		h = lib.XXH3_128bits(data, len(data))
		print("%016x%016x" % (h.high64, h.low64))
	EOF
}

# size FILE: size in bytes.
fsize() { stat -c %s -- "$1"; }

# daemon_pid [STATE]: the daemon's pid, from the first line of its pid file.
daemon_pid() { head -n 1 "${1:-$ST}/fabricd.pid" 2>/dev/null; }

# is_fabricd PID: PID is a live fabricd process.
is_fabricd() {
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q fabricd
}

# is_mounted DIR: DIR is a mount point in /proc/self/mounts (also when its daemon is dead).
is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }

# yp SQL: a read-only query of the yellow pages.
yp() { sqlite3 -readonly "$ST/yp.db" "$1"; }

# ---- mounting ---------------------------------------------------------------------------------------

# fab_setup: skip without /dev/fuse or root; make $T, $MNT, $ST, $NODE; install the cleanup trap.
fab_setup() {
	if [ ! -c /dev/fuse ]; then
		echo "no /dev/fuse on this machine"
		exit 77
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "mount tests need root"
		exit 77
	fi
	T=$(mktemp -d "${TMPDIR:-/tmp}/fabric-test.XXXXXX") || exit 1
	MNT=$T/mnt
	ST=$T/state
	NODE="t$$x$RANDOM"
	mkdir -p "$MNT" "$ST"
	[ -n "${FABRIC_TEST_REGISTRY:-}" ] && echo "$T $NODE" >>"$FABRIC_TEST_REGISTRY"
	trap _fab_on_exit EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	cd "$FAB_ROOT" || exit 1
	if [ ! -x "$FAB_TOOL" ] || [ ! -x "$FAB_DAEMON" ]; then
		bad "tools/fabric or fs/fabricd is not built (run make)"
		exit 1
	fi
}

# ctl LINE: one command on a fresh open of $MNT/ctl, from python, where write(2)'s errno is exact: prints
# the answer; fails with the errno's text and the answer's sentence on stderr, like any write.
ctl() {
	"$PY" - "$MNT/ctl" "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.write(fd, (sys.argv[2] + "\n").encode())
except OSError as e:
    sys.stderr.write(os.strerror(e.errno) + ": " + os.read(fd, 65536).decode())
    sys.exit(1)
sys.stdout.write(os.read(fd, 1 << 20).decode())
PY
}

# fab_public_tools: copies of tools/fabric, fabric-wait and fabric-peek that another user can run, in
# $T/pub/tools ($PUB_TOOL, $PUB_PEEK): the checkout may sit under a directory other users cannot enter
# (a mktemp -d, a 0700 home), so nothing a test runs as nobody is taken from it.  $T is opened to others
# too (the mount under it is what they use).  Skips the test (77), saying why, when nobody still cannot
# reach $T (a TMPDIR closed to others).  Call it right after fab_setup.
fab_public_tools() {
	chmod 755 "$T"
	mkdir -p "$T/pub/tools"
	cp "$FAB_TOOL" "$FAB_ROOT/tools/fabric-wait" "$FAB_ROOT/tools/fabric-peek" "$T/pub/tools/" || exit 1
	chmod -R a+rX "$T/pub"
	PUB_TOOL=$T/pub/tools/fabric
	PUB_PEEK=$T/pub/tools/fabric-peek
	if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$PUB_TOOL"; then
		echo "user nobody cannot reach $T (a parent directory is closed to others): set TMPDIR to an open one"
		exit 77
	fi
}

# fab_mount_at MNT STATE NODE [ARGS...]: mount; a failure ends the test (with the daemon's log).
fab_mount_at() {
	local mnt=$1 st=$2 node=$3
	shift 3
	is_mounted "$mnt" || mkdir -p "$mnt" # (a dead mount cannot even be stat'ed)
	mkdir -p "$st"
	if ! "$FAB_TOOL" mount "$mnt" --state "$st" --node "$node" "$@" >"$T/.mount.out" 2>&1; then
		bad "tools/fabric mount $mnt --state $st --node $node $* failed:"
		sed 's/^/      /' "$T/.mount.out" >&2
		_fab_log_tail "$st"
		exit 1
	fi
	if ! is_mounted "$mnt"; then
		bad "tools/fabric mount $mnt returned 0 but $mnt is not mounted"
		_fab_log_tail "$st"
		exit 1
	fi
}

# fab_mount [ARGS...]: mount $MNT with state $ST as node $NODE.
fab_mount() { fab_mount_at "$MNT" "$ST" "$NODE" "$@"; }

# fab_umount [DIR]: tools/fabric umount (returns its status).
fab_umount() { "$FAB_TOOL" umount "${1:-$MNT}"; }

# fab_done: end the test: 1 if an assertion failed (with the tail of the daemon log), else 0.
fab_done() {
	if [ $FAB_FAILS -ne 0 ]; then
		echo "$FAB_FAILS assertion(s) failed" >&2
		_fab_log_tail "$ST"
		exit 1
	fi
	exit 0
}

_fab_log_tail() {
	[ -s "$1/fabricd.log" ] || return 0
	echo "--- last lines of $1/fabricd.log:" >&2
	tail -n 25 "$1/fabricd.log" | sed 's/^/      /' >&2
}

# ---- cleanup ----------------------------------------------------------------------------------------

# Kill PID and all its descendants (SIGKILL), children first.  Never a fabricd: those are stopped after
# their unmount, by pid file.
_fab_kill_tree() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		_fab_kill_tree "$c"
	done
	is_fabricd "$1" || kill -9 "$1" 2>/dev/null
}

# _fab_cleanup_dir T NODE: undo everything a test under T may have left: mounts, daemons, shm objects.
# Prints a line for each sanitizer report found in a daemon log and returns 1 then.
_fab_cleanup_dir() {
	local t=$1 node=$2 m s pid i rc=0
	[ -n "$t" ] && [ -d "$t" ] || return 0
	# every mount under t, deepest first
	while read -r m; do
		timeout 30 "$FAB_TOOL" umount "$m" </dev/null >/dev/null 2>&1
		is_mounted "$m" && umount -f "$m" >/dev/null 2>&1
		is_mounted "$m" && umount -l "$m" >/dev/null 2>&1
	done < <(awk -v p="$t/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r)
	for s in "$t"/state*; do
		pid=$(head -n 1 "$s/fabricd.pid" 2>/dev/null)
		is_fabricd "$pid" || continue
		kill "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			is_fabricd "$pid" || break
			sleep 0.05
		done
		is_fabricd "$pid" && kill -9 "$pid" 2>/dev/null
	done
	for s in "$t"/state* "$t"/*/state/*; do # a cluster's nodes keep theirs in DIR/state/NODE
		if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$s/fabricd.log" 2>/dev/null; then
			echo "FAIL sanitizer report in $s/fabricd.log:" >&2
			grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$s/fabricd.log" |
				head -n 60 | sed 's/^/      /' >&2
			rc=1
		fi
	done
	if [[ $node =~ ^[A-Za-z0-9_-]+$ ]]; then
		rm -f /dev/shm/fabric."$node".* /dev/shm/fabric."$node"-*.*
	fi
	rm -rf "$t"
	return $rc
}

# fab_at_exit CMD [ARGS...]: run CMD first when the test ends, however it ends (what the generic cleanup
# below cannot know of: an etcd started for a cluster, say).
FAB_AT_EXIT=()
fab_at_exit() {
	local w q=""
	for w in "$@"; do q+=" $(printf '%q' "$w")"; done
	FAB_AT_EXIT+=("${q# }")
}

_fab_on_exit() {
	local rc=$? p c
	trap - EXIT HUP INT TERM
	cd / || true
	for c in "${FAB_AT_EXIT[@]}"; do
		eval "$c" </dev/null >/dev/null 2>&1
	done
	for p in $(ps -o pid= --ppid $$ 2>/dev/null); do
		_fab_kill_tree "$p"
	done
	_fab_cleanup_dir "$T" "$NODE" || rc=1
	exit $rc
}
