#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/run.sh -- `make bench`: the fabric beside its yardsticks, in one run, as ratios.
#
# A benchmark, not a test: it never fails on timing.  It mounts its own fabric (temp dir, own state dir,
# unique node name) and a private tmpfs, runs every case on both sides in the same round (the order
# alternates from round to round), one untimed warm-up round first, then BENCH_ROUNDS timed ones, and
# prints the medians, the ratio (higher = better for the fabric) and whether the target ratio is met.
# The table also goes to tests/bench/last.md (markdown, for the README).  A case that cannot run says why
# in its row; the others go on.  Everything it made is undone at exit (also on Ctrl-C).
#
# The small-file case has a second yardstick, the floor: tests/bench/floorfs, a low-level FUSE filesystem
# that does nothing but answer (it stores no byte and no name; a directory lists empty), mounted in the
# temp dir for the run with the fabric's mount options, INIT capabilities, threads and cache lifetimes,
# and no passthrough.  Its row is the fabric's rate as a fraction of what FUSE itself allows on this
# machine for the same system calls (target 0.7); the row beside tmpfs stays (target 0.15).  When the
# floor cannot be mounted its row says why and the tmpfs row runs alone.
#
#   BENCH_ROUNDS   timed rounds per case (default 5)
#   BENCH_BIG      size of the big variable, and of the file on disk that `load` reads (default 1G)
#   BENCH_CKPT     bytes in the checkpoint and restore cases, in 8 variables (default 4G)
#   BENCH_SMALL_N  files created per round in the small-file case (default 10000)
#   BENCH_STAT_N   names for the stat and ls -l cases (default 100000)
#   BENCH_SPAWN_N  spawn-to-exit round trips of /bin/true on each side in the spawn case (default 1000)
#   BENCH_TASKS_N  tasks (1 MiB in, 1 MiB out) per round in the tasks case (default 1000)
#   BENCH_DS_N, BENCH_DS_CP_N, BENCH_DS_BIG  the dataset case: items of 1 KiB put in one request (default
#                  100000), files cp'd one at a time (10000), items of the big lookup case (1000000)
#   BENCH_TIMEOUT  seconds any one timed operation may take (default 600)
#   BENCH_ONLY     run only these cases (names separated by commas or blanks; default all): read, mmap,
#                  cp, small (both its rows: vs tmpfs and vs the floor), stat, load, ctl, spawn, tasks,
#                  dataset (put in one request vs tar -x, cp into a dataset vs into vars/, lookups at 10k and
#                  at BENCH_DS_BIG items, the tree's heights), passthrough, remote (a cluster of two: the first read of another node's variable vs
#                  raw TCP, the second vs tmpfs, a move vs raw TCP, a spawn placed on the other node vs on this one,
#                  lookups of random keys of the other node's dataset, first opens and again, vs on its node),
#                  cluster (three nodes on a three-member etcd: each= over a three-piece shard vs three
#                  spawns on this node; a name's delay to another node across an etcd leader kill vs
#                  with no failure), checkpoint (with restore).
#                  The table of such a run also goes to last.md, its settings line naming the cases
#
# Timing comes from tests/bench/fabench (C), which prints nanoseconds for each operation it does.
#
# The disk cases (load, checkpoint, restore) use a directory on a disk file system: in the temp dir when
# that is not tmpfs, else under /var/tmp.  Page cache is dropped before each of their timed operations, on
# both sides.  Checkpoint and restore run last, on a fresh fabric holding only their 8 variables (a
# checkpoint writes every variable of the node).
#
# Tasks (the fabric's default --max-tasks, the number of online CPUs = K): "spawn" times BENCH_SPAWN_N
# round trips spawn -- /bin/true on one open ctl, then poll on tasks/ID/status until it has ended, each
# alone, beside posix_spawn + waitpid of /bin/true; one run of each (N/10 untimed first), not rounds, like
# the ctl round trips; the target is on the overhead, fabric median minus posix_spawn median.  "tasks"
# runs BENCH_TASKS_N tasks `cp tk/in_I tk/out_I` (1 MiB each) per round, all submitted at once, beside
# `seq 1 N | xargs -P K -I{} cp tk/in_{} tk/out_{}` in the tmpfs; timed until every task has ended
# (their exit codes and seals are checked after, untimed; outputs removed and tasks forgotten each round).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FAB=$ROOT/tools/fabric
H=$ROOT/tests/bench/fabench
FLOORFS=$ROOT/tests/bench/floorfs
OUT_MD=$ROOT/tests/bench/last.md

ROUNDS=${BENCH_ROUNDS:-5}
BIG_ARG=${BENCH_BIG:-1G}
SMALL_N=${BENCH_SMALL_N:-10000}
STAT_N=${BENCH_STAT_N:-100000}
CKPT_ARG=${BENCH_CKPT:-4G}
SPAWN_N=${BENCH_SPAWN_N:-1000}
TASKS_N=${BENCH_TASKS_N:-1000}
DS_N=${BENCH_DS_N:-100000}   # items put in one request (and the middle height)
DS_CP_N=${BENCH_DS_CP_N:-10000}
DS_BIG=${BENCH_DS_BIG:-1000000} # items of the big lookup case
ONLY=$(printf '%s' "${BENCH_ONLY:-}" | tr ',' ' ' | xargs)
CPUS=$(getconf _NPROCESSORS_ONLN) # the fabric's default --max-tasks; xargs -P in the tasks case
CTL_N=10000 # round trips in each ctl latency case
export BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

# The command as typed, near enough: the BENCH_* settings given, then make bench or this script.
COMMAND=""
for v in BENCH_ONLY BENCH_BIG BENCH_CKPT BENCH_SMALL_N BENCH_STAT_N BENCH_SPAWN_N BENCH_TASKS_N BENCH_DS_N BENCH_DS_CP_N BENCH_DS_BIG BENCH_ROUNDS; do
	[ -z "${!v+set}" ] && continue
	if [[ ${!v} == *[[:space:]]* ]]; then COMMAND+="$v='${!v}' "; else COMMAND+="$v=${!v} "; fi
done
[ "$BENCH_TIMEOUT" != 600 ] && COMMAND+="BENCH_TIMEOUT=$BENCH_TIMEOUT "
if [ -n "${MAKELEVEL:-}" ]; then COMMAND+="make bench"; else COMMAND+="tests/bench/run.sh"; fi

BIG=$(numfmt --from=iec "$BIG_ARG" 2>/dev/null) || die "BENCH_BIG=$BIG_ARG is not a size (64M, 1G, ...)"
for v in ROUNDS SMALL_N STAT_N SPAWN_N TASKS_N DS_N DS_CP_N DS_BIG BENCH_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v} is not a positive number"
done
CKPT=$(numfmt --from=iec "$CKPT_ARG" 2>/dev/null) || die "BENCH_CKPT=$CKPT_ARG is not a size (256M, 4G, ...)"
[ "$BIG" -ge 4096 ] || die "BENCH_BIG=$BIG_ARG is too small (at least 4K)"
[ "$CKPT" -ge $((1 << 20)) ] || die "BENCH_CKPT=$CKPT_ARG is too small (at least 1M)"
CK_N=8 CK_EACH=$((CKPT / 8)) CK_BYTES=$((CKPT / 8 * 8))
CASES="read mmap cp small stat load ctl spawn tasks dataset passthrough remote cluster checkpoint"
for c in $ONLY; do
	[[ " $CASES " == *" $c "* ]] || die "BENCH_ONLY: no case '$c' (the cases: ${CASES// /, })"
done
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; } # CASE: true when the run includes it
# The big file and variable, for the cases that use them.
BIG_USE=0
for c in read mmap cp load ctl passthrough; do want "$c" && BIG_USE=1; done
want tasks && TASKS_MEM=$((2 * TASKS_N << 20)) || TASKS_MEM=0 # its inputs and outputs, on each side
# datasets: the archives and extractions on the tmpfs, the items in the fabric (a page each, packed)
want dataset && DS_MEM=$((DS_N * 6144 * 2 + DS_CP_N * 8192 * 2 + DS_BIG * 6144)) || DS_MEM=0
[ "$(id -u)" = 0 ] || die "needs root (FUSE passthrough, a private tmpfs, drop_caches)"
[ -c /dev/fuse ] || die "no /dev/fuse on this machine"
if [ ! -x "$H" ] || [ ! -x "$ROOT/fs/fabricd" ]; then
	die "not built: run make bench (or make all tests/bench/fabench)"
fi

# Room: the big file on tmpfs and in the fabric, a cp copy on each side, the small files and the names;
# in the tmpfs also the checkpoint's variables and their copy back from disk (the big file and the names
# are gone by then, and the fabric is a fresh one with a capacity of its own).
MARGIN=$((256 << 20))
TMPFS_SIZE=$((2 * BIG + (SMALL_N + STAT_N) * 8192 + 2 * CKPT + TASKS_MEM + DS_MEM + MARGIN))
CAPACITY=$((3 * BIG + (2 * SMALL_N + STAT_N) * 8192 + TASKS_MEM + DS_MEM + MARGIN))
avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
[ $(((4 * BIG * BIG_USE + 2 * TASKS_MEM) / 1024)) -lt "$avail_kb" ] ||
	die "BENCH_BIG=$BIG_ARG and BENCH_TASKS_N=$TASKS_N need about $(((4 * BIG * BIG_USE + 2 * TASKS_MEM) >> 20)) MiB of free memory; $((avail_kb >> 10)) MiB available"

T=$(mktemp -d "${TMPDIR:-/tmp}/fabric-bench.XXXXXX") || die "mktemp failed"
MNT=$T/mnt ST=$T/state YARD=$T/tmpfs FLOOR=$T/floor NODE="bench$$x$RANDOM"
mkdir -p "$MNT" "$ST" "$YARD" "$FLOOR"
FLOOR_PID="" FLOOR_WHY="" # floorfs's process while it serves $FLOOR; why there is no floor, when there is none

# The disk directory: $T/disk when $T is on a disk file system, else a directory of its own in /var/tmp
# (DISK_OWN, removed at exit).  DISK stays empty, with the reason in DISK_WHY, when neither is.
on_disk() { # DIR: true when DIR is on a file system backed by a disk
	case $(stat -f -c %T "$1" 2>/dev/null) in
	"" | tmpfs | ramfs | fuse) return 1 ;;
	esac
	return 0
}
DISK="" DISK_OWN="" DISK_WHY=""
if on_disk "$T"; then
	DISK=$T/disk
	mkdir "$DISK" || { DISK="" DISK_WHY="cannot make $T/disk"; }
elif on_disk /var/tmp; then
	DISK_OWN=$(mktemp -d /var/tmp/fabric-bench.XXXXXX) && DISK=$DISK_OWN || DISK_WHY="cannot make a directory in /var/tmp"
else
	DISK_WHY="neither $T nor /var/tmp is on a disk file system ($(stat -f -c %T "$T") and $(stat -f -c %T /var/tmp))"
fi

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }

cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM HUP
	cd / || true
	if is_mounted "$MNT"; then
		timeout 60 "$FAB" umount "$MNT" </dev/null >/dev/null 2>&1
		is_mounted "$MNT" && umount -f "$MNT" 2>/dev/null
		is_mounted "$MNT" && umount -l "$MNT" 2>/dev/null
	fi
	pid=$(head -n 1 "$ST/fabricd.pid" 2>/dev/null)
	if [[ $pid =~ ^[0-9]+$ ]] && grep -q fabricd "/proc/$pid/cmdline" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			grep -q fabricd "/proc/$pid/cmdline" 2>/dev/null || break
			sleep 0.05
		done
		grep -q fabricd "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	fi
	[ -d "$T/fc" ] && timeout 120 "$FAB" cluster down "$T/fc" --purge </dev/null >/dev/null 2>&1
	[ -d "$T/cc" ] && timeout 120 "$FAB" cluster down "$T/cc" --purge </dev/null >/dev/null 2>&1
	is_mounted "$YARD" && { umount "$YARD" 2>/dev/null || umount -l "$YARD"; }
	# the floor: unmounted, which ends its loop; its process is waited for (a gone or zombie process has
	# no cmdline), and killed when it does not end
	is_mounted "$FLOOR" && { umount "$FLOOR" 2>/dev/null || umount -l "$FLOOR" 2>/dev/null; }
	if [ -n "$FLOOR_PID" ]; then
		for ((i = 0; i < 100; i++)); do
			grep -q floorfs "/proc/$FLOOR_PID/cmdline" 2>/dev/null || break
			sleep 0.05
		done
		grep -q floorfs "/proc/$FLOOR_PID/cmdline" 2>/dev/null && kill -9 "$FLOOR_PID" 2>/dev/null
		wait "$FLOOR_PID" 2>/dev/null
	fi
	rm -f /dev/shm/fabric."$NODE".*
	[ -n "$DISK_OWN" ] && rm -rf "$DISK_OWN"
	if is_mounted "$MNT" || is_mounted "$YARD" || is_mounted "$FLOOR"; then
		echo "bench: $T is still mounted; left in place" >&2
	else
		rm -rf "$T"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- results ----------------------------------------------------------------------------------------

ROWS=() # "case<TAB>fabric<TAB>yardstick<TAB>ratio<TAB>target<TAB>met"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# show KIND N NS: a median as people read it.  tput: N bytes -> GiB/s; op: N operations -> us each;
# total: ms; tasks: N tasks -> tasks per second.
show() {
	case $1 in
	tput) awk -v n="$2" -v t="$3" 'BEGIN { printf "%.2f GiB/s", n / t * 1e9 / 2^30 }' ;;
	op) awk -v n="$2" -v t="$3" 'BEGIN { printf "%.2f us/op", t / n / 1e3 }' ;;
	total) awk -v t="$3" 'BEGIN { printf "%.1f ms", t / 1e6 }' ;;
	tasks) awk -v n="$2" -v t="$3" 'BEGIN { printf "%.0f tasks/s", n / t * 1e9 }' ;;
	esac
}

fail_row() { # NAME TARGET WHY (a TARGET that is a number is a ratio: ">= TARGET")
	ROWS+=("$1	-	-	-	$([[ $2 =~ ^[0-9.]+$ ]] && echo ">= $2" || echo "$2")	did not run: $3")
	note "$1: did not run: $3"
}

# measure NAME KIND N TARGET FABFN YARDFN [PREPFN]: a warm-up round, then ROUNDS timed ones; FABFN and
# YARDFN take the round number and print nanoseconds; PREPFN (untimed) runs before each of them.  A
# non-empty $BLOCKED turns the row into "did not run: $BLOCKED".
BLOCKED=""
measure() {
	measure_each "$2" "$3" "$5" "${7:-}" "$1" "$4" "$6"
}

# measure_each KIND N FABFN PREPFN NAME TARGET YARDFN [NAME TARGET YARDFN ...]: one fabric side beside
# several yardsticks, all in the same rounds (fabric first in odd rounds, last in even ones), one row each;
# the fabric's median is the same in all of them.
measure_each() {
	local kind=$1 n=$2 f=$3 prep=$4 r fn ns fm ym ratio met goal i k order
	shift 4
	local -a names=() targets=() ys=() fv=() yv=()
	while [ $# -ge 3 ]; do
		names+=("$1") targets+=("$2") ys+=("$3")
		shift 3
	done
	if [ -n "$BLOCKED" ]; then
		for i in "${!names[@]}"; do fail_row "${names[$i]}" "${targets[$i]}" "$BLOCKED"; done
		return
	fi
	note "${names[0]} ..."
	for ((r = 0; r <= ROUNDS; r++)); do
		order=$( ((r % 2)) && echo "$f ${ys[*]}" || echo "${ys[*]} $f")
		for fn in $order; do
			[ -n "$prep" ] && $prep
			if ! ns=$($fn "$r" 2>"$T/err"); then
				for i in "${!names[@]}"; do
					fail_row "${names[$i]}" "${targets[$i]}" "$([ "$fn" = "$f" ] && echo fabric || echo "yardstick $fn"): $(tail -n 1 "$T/err")"
				done
				return
			fi
			[ "$r" -eq 0 ] && continue
			if [ "$fn" = "$f" ]; then
				fv+=("$ns")
			else
				for k in "${!ys[@]}"; do [ "${ys[$k]}" = "$fn" ] && yv+=("$k $ns"); done
			fi
		done
	done
	fm=$(printf '%s\n' "${fv[@]}" | median)
	for i in "${!names[@]}"; do
		ym=$(printf '%s\n' "${yv[@]}" | awk -v k="$i" '$1 == k { print $2 }' | median)
		ratio=$(awk -v f="$fm" -v y="$ym" 'BEGIN { printf "%.2f", y / f }') # time ratio: >1 = fabric faster
		met=- goal=-
		if [ "${targets[$i]}" != - ]; then
			goal=">= ${targets[$i]}"
			met=$(awk -v r="$ratio" -v t="${targets[$i]}" 'BEGIN { print (r >= t) ? "yes" : "NO" }')
		fi
		ROWS+=("${names[$i]}	$(show "$kind" "$n" "$fm")	$(show "$kind" "$n" "$ym")	$ratio	$goal	$met")
	done
}

# ---- the two sides ------------------------------------------------------------------------------------

xval() { getfattr --absolute-names --only-values -n "$2" -- "$1" 2>/dev/null; }
wait_sealed() {
	local i
	for ((i = 0; i < 1200; i++)); do
		[ "$(xval "$1" user.fabric.state)" = sealed ] && return 0
		sleep 0.05
	done
	echo "bench: $1 was not sealed within 60 s" >&2
	return 1
}

# The daemon is started directly (what `fabric mount` execs), not through tools/fabric, which rebuilds it
# when a source is newer: both mounts of one run must be the binary `make bench` built.
mount_fabric() { # ARGS...: mount $MNT; the data path goes to $DATAPATH, a failure's reason to $BLOCKED
	if ! "$ROOT/fs/fabricd" "$MNT" --state "$ST" --node "$NODE" --capacity "$CAPACITY" "$@" >"$T/mount.out" 2>&1; then
		BLOCKED="fabric mount $* failed: $(tail -n 1 "$T/mount.out")"
		return 1
	fi
	DATAPATH=$(xval "$MNT" user.fabric.datapath) ||
		DATAPATH=$(grep -o 'data path: .*' "$ST/fabricd.log" | tail -n 1 | sed 's/^data path: //')
	return 0
}

# mount_floor: floorfs serving $FLOOR in the background (FLOOR_PID), waited for until the mount is in
# /proc/self/mounts and answers a statfs (which waits for its INIT); a failure's reason to $FLOOR_WHY.
mount_floor() {
	local i
	if [ ! -x "$FLOORFS" ]; then
		FLOOR_WHY="not built: tests/bench/floorfs (make bench builds it)"
		return 1
	fi
	"$FLOORFS" "$FLOOR" </dev/null >/dev/null 2>"$T/floor.err" &
	FLOOR_PID=$!
	for ((i = 0; i < 200; i++)); do
		is_mounted "$FLOOR" && break
		kill -0 "$FLOOR_PID" 2>/dev/null || break # it ended (its cmdline is the shell's until it execs)
		sleep 0.05
	done
	if ! is_mounted "$FLOOR"; then
		FLOOR_WHY="floorfs did not mount: $(tail -n 1 "$T/floor.err")"
		[ "$i" = 200 ] && FLOOR_WHY="floorfs did not mount $FLOOR within 10 s"
		return 1
	fi
	timeout 10 stat -f "$FLOOR" >/dev/null 2>&1 || { FLOOR_WHY="the floor at $FLOOR does not answer"; return 1; }
	return 0
}

drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches; }

fab_read() { "$H" read "$MNT/vars/big" 1048576; }
yard_read() { "$H" read "$YARD/big" 1048576; }
fab_mmap() { "$H" mmap "$MNT/vars/big" 0 "$BIG"; }
yard_mmap() { "$H" mmap "/dev/shm/$SHM" "$SHM_OFF" "$SHM_LEN"; }
fab_mmap_pop() { "$H" mmap "$MNT/vars/big" 0 "$BIG" pop; }
yard_mmap_pop() { "$H" mmap "/dev/shm/$SHM" "$SHM_OFF" "$SHM_LEN" pop; }
fab_cp() {
	local ns
	ns=$("$H" run cp "$YARD/big" "$MNT/vars/cp$1") && wait_sealed "$MNT/vars/cp$1" && rm "$MNT/vars/cp$1" && echo "$ns"
}
yard_cp() {
	local ns
	ns=$("$H" run cp "$YARD/big" "$YARD/cp$1") && rm "$YARD/cp$1" && echo "$ns"
}
small() { # DIR ROUND: a fresh directory, SMALL_N new 4 KiB files in it (timed), then removed
	local ns
	mkdir "$1/small$2" && ns=$("$H" create "$1/small$2" "$SMALL_N" 4096) && rm -rf "$1/small$2" && echo "$ns"
}
fab_small() { small "$MNT/vars" "$1"; }
yard_small() { small "$YARD" "$1"; }
floor_small() { small "$FLOOR" "$1"; }
fab_stat() { "$H" stat "$MNT/vars/names" "$STAT_N"; }
yard_stat() { "$H" stat "$YARD/names" "$STAT_N"; }
fab_ls() { "$H" run ls -l "$MNT/vars/names"; }
yard_ls() { "$H" run ls -l "$YARD/names"; }

# ctl LINE: LINE on a fresh open of the control file (timed); the answer to $T/answer, the nanoseconds
# to stdout.
ctl() { "$H" ctl "$MNT/ctl" "$1" 2>"$T/answer" || { cat "$T/answer" >&2; return 1; }; }
answer() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$T/answer"; } # KEY: a field of the last answer
q() { printf '"%s"' "$1"; } # WORD: quoted for a ctl line (the paths here hold no quotes or backslashes)
df_avail() { df -B1 --output=avail "$1" | tail -n 1 | tr -d ' '; }
mem_avail() { awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }

# load: the file on disk into a new variable (removed again, untimed), page cache dropped first (PREPFN).
fab_load() {
	local ns
	ns=$(ctl "load $(q "load$1") $(q "$DISK/big")") || return 1
	[ "$(answer size)" = "$BIG" ] || { echo "load answered size '$(answer size)', not $BIG" >&2; return 1; }
	rm "$MNT/vars/load$1" && echo "$ns"
}
yard_load_cp() {
	local ns
	ns=$("$H" run cp "$DISK/big" "$YARD/load$1") && rm "$YARD/load$1" && echo "$ns"
}
yard_load_dd() {
	local ns
	ns=$("$H" run dd if="$DISK/big" of="$YARD/load$1" bs=1M iflag=direct) && rm "$YARD/load$1" && echo "$ns"
}

# ctl_latency NAME LINE [keep]: CTL_N round trips of LINE, a row with their median and p99.
ctl_latency() {
	local out
	[ -n "$BLOCKED" ] && { fail_row "$1" - "$BLOCKED"; return; }
	note "$1 ..."
	if ! out=$("$H" ctllat "$MNT/ctl" "$2" "$CTL_N" ${3:+"$3"} 2>"$T/err"); then
		fail_row "$1" - "$(tail -n 1 "$T/err")"
		return
	fi
	ROWS+=("$1	$(awk -v m="${out% *}" -v p="${out#* }" 'BEGIN { printf "median %.1f us, p99 %.1f us", m / 1e3, p / 1e3 }')	-	-	-	-")
}

# spawn_latency NAME PROG: SPAWN_N spawn-to-exit round trips of PROG as a task, and as many posix_spawn +
# waitpid of it; a row with the medians and p99s of both, the ratio of the medians, and whether the
# overhead (fabric median - posix_spawn median) is under 1 ms.
spawn_latency() {
	local f y
	[ -n "$BLOCKED" ] && { fail_row "$1" "overhead < 1 ms" "$BLOCKED"; return; }
	note "$1 ..."
	if ! y=$("$H" posixlat "$SPAWN_N" "$2" 2>"$T/err"); then
		fail_row "$1" "overhead < 1 ms" "yardstick: $(tail -n 1 "$T/err")"
		return
	fi
	if ! f=$("$H" spawnlat "$MNT" "$SPAWN_N" "$2" 2>"$T/err"); then
		fail_row "$1" "overhead < 1 ms" "fabric: $(tail -n 1 "$T/err")"
		return
	fi
	grep -h 'lost wakeup' "$T/err" | while IFS= read -r l; do echo "$1: ${l#fabench: }"; done >>"$T/notes"
	ROWS+=("$1	$(lat "$f")	$(lat "$y")	$(awk -v f="${f% *}" -v y="${y% *}" 'BEGIN { printf "%.2f", y / f }')	overhead < 1 ms	$(
		awk -v f="${f% *}" -v y="${y% *}" 'BEGIN { d = (f - y) / 1e6; printf "%s (%+.2f ms)", d < 1 ? "yes" : "NO", d }')")
}
lat() { awk -v m="${1% *}" -v p="${1#* }" 'BEGIN { printf "median %.1f us, p99 %.1f us", m / 1e3, p / 1e3 }'; }

# tasks: TASKS_N tasks `cp tk/in_I tk/out_I` at once through the fabric (fabench submits them and waits
# for each; their outputs are checked, removed and the tasks forgotten, untimed), the same cp commands by
# xargs -P CPUS in the tmpfs (outputs removed after, untimed).
fab_tasks() {
	local ns
	ns=$("$H" tasks "$MNT" tk "$TASKS_N" 2>"$T/tasks.err") || { cat "$T/tasks.err" >&2; return 1; }
	grep -h 'lost wakeup' "$T/tasks.err" | while IFS= read -r l; do echo "tasks, round $1: ${l#fabench: }"; done >>"$T/notes"
	echo "$ns"
}
yard_tasks() {
	local ns
	ns=$("$H" run sh -c 'cd "$1" && seq 1 "$2" | xargs -P "$3" -I{} cp tk/in_{} tk/out_{}' sh "$YARD" "$TASKS_N" "$CPUS") &&
		find "$YARD/tk" -name 'out_*' -delete && echo "$ns"
}
# sealed_count DIR: how many files under DIR are sealed variables.
sealed_count() {
	find "$1" -type f -exec getfattr --absolute-names -n user.fabric.state {} + 2>/dev/null | grep -c '="sealed"$'
}

# checkpoint: every variable of the fresh fabric (the CK_N of vars/ck) to a new directory on disk; the
# yardsticks copy the same files from the tmpfs, with cp -r alone and with cp -r + sync -f (checkpoint
# does a syncfs before it renames its manifest into place).  Each directory is removed after its round.
fab_ckpt() {
	local ns
	ns=$(ctl "checkpoint $(q "$DISK/fck$1")") || return 1
	[ "$(answer bytes_written)" = "$CK_BYTES" ] ||
		{ echo "checkpoint wrote '$(answer bytes_written)' bytes, not $CK_BYTES" >&2; return 1; }
	rm -rf "$DISK/fck$1" && echo "$ns"
}
yard_ckpt_cp() {
	local ns
	ns=$("$H" run cp -r "$YARD/ck" "$DISK/ycp$1") && rm -rf "$DISK/ycp$1" && echo "$ns"
}
yard_ckpt_sync() {
	local ns
	ns=$("$H" run sh -c 'cp -r "$1" "$2" && sync -f "$2"' sh "$YARD/ck" "$DISK/ycs$1") &&
		rm -rf "$DISK/ycs$1" && echo "$ns"
}
# restore: the fabric's variables removed (untimed), then restored from $DISK/fk; the yardstick copies
# $DISK/yk (the same files) back into the tmpfs.
fab_restore() {
	local ns
	rm -rf "$MNT/vars/ck" && drop_caches || return 1
	ns=$(ctl "restore $(q "$DISK/fk")") || return 1
	[ "$(answer restored)" = "$CK_N" ] && [ "$(answer bytes)" = "$CK_BYTES" ] ||
		{ echo "restore brought back '$(answer restored)' variables, '$(answer bytes)' bytes" >&2; return 1; }
	echo "$ns"
}
yard_restore() {
	local ns
	drop_caches && ns=$("$H" run cp -r "$DISK/yk" "$YARD/rs$1") && rm -rf "$YARD/rs$1" && echo "$ns"
}

# ---- the run --------------------------------------------------------------------------------------------

DATAPATH="(no mount)"
mount -t tmpfs -o "size=$TMPFS_SIZE,mode=0755" tmpfs "$YARD" || BLOCKED="cannot mount a tmpfs at $YARD"
[ -z "$BLOCKED" ] && mount_fabric
note "data path: $DATAPATH"
want small && ! mount_floor && note "no floor: $FLOOR_WHY"

if [ -z "$BLOCKED" ] && [ "$BIG_USE" = 1 ]; then
	note "making the $BIG_ARG file and variable"
	if ! head -c "$BIG" /dev/urandom >"$YARD/big"; then
		BLOCKED="cannot write $BIG_ARG to the tmpfs"
	elif ! cp "$YARD/big" "$MNT/vars/big" 2>"$T/err" || ! wait_sealed "$MNT/vars/big" 2>>"$T/err"; then
		BLOCKED="cannot make the $BIG_ARG variable: $(tail -n 1 "$T/err")"
	fi
fi

if want read; then
	measure "read 1 MiB, warm (vs tmpfs)" tput "$BIG" 0.9 fab_read yard_read
	measure "read 1 MiB, cold (vs tmpfs)" tput "$BIG" 0.9 fab_read yard_read drop_caches
fi

# The yardstick of mmap is the variable's own shm object, mapped directly.
SAVED=$BLOCKED
want mmap || BLOCKED=skip
if [ -z "$BLOCKED" ]; then
	loc=$(xval "$MNT/vars/big" user.fabric.locations)
	read -r _ SHM SHM_OFF SHM_LEN _ <<<"$loc"
	if [ "$(printf '%s\n' "$loc" | grep -c .)" != 1 ] || [ ! -f "/dev/shm/${SHM:-?}" ] || [ "${SHM_LEN:-}" != "$BIG" ]; then
		BLOCKED="user.fabric.locations is not one whole extent in /dev/shm: '$loc'"
	fi
fi
if want mmap; then
	measure "mmap + touch each page (vs /dev/shm)" tput "$BIG" 0.9 fab_mmap yard_mmap
	measure "mmap MAP_POPULATE + touch (vs /dev/shm)" tput "$BIG" 0.9 fab_mmap_pop yard_mmap_pop
fi
BLOCKED=$SAVED

want cp && measure "cp $BIG_ARG in (vs tmpfs)" tput "$BIG" 0.8 fab_cp yard_cp
# small: one fabric side beside two yardsticks, tmpfs and the floor, in the same rounds.
if want small; then
	if [ -z "$FLOOR_WHY" ]; then
		measure_each op "$SMALL_N" fab_small "" \
			"create+write 4K+close x$SMALL_N (vs tmpfs)" 0.15 yard_small \
			"create+write 4K+close x$SMALL_N (vs floor)" 0.7 floor_small
	else
		measure "create+write 4K+close x$SMALL_N (vs tmpfs)" op "$SMALL_N" 0.15 fab_small yard_small
		fail_row "create+write 4K+close x$SMALL_N (vs floor)" 0.7 "${BLOCKED:-$FLOOR_WHY}"
	fi
fi

if [ -z "$BLOCKED" ] && want stat; then
	note "creating $STAT_N names on each side"
	mkdir "$MNT/vars/names" "$YARD/names" &&
		"$H" create "$MNT/vars/names" "$STAT_N" 0 >/dev/null 2>"$T/err" &&
		"$H" create "$YARD/names" "$STAT_N" 0 >/dev/null 2>>"$T/err" ||
		BLOCKED="cannot create the $STAT_N names: $(tail -n 1 "$T/err")"
fi
SAVED=$BLOCKED
if want stat; then
	measure "lstat x$STAT_N, warm (vs tmpfs)" op "$STAT_N" 0.3 fab_stat yard_stat
	measure "ls -l of $STAT_N entries, warm (vs tmpfs)" total 1 0.3 fab_ls yard_ls
fi
BLOCKED=$SAVED

# load: a file on disk into the fabric, cold, beside cp and dd iflag=direct of the file into the tmpfs.
SAVED=$BLOCKED
if [ -z "$BLOCKED" ] && want load; then
	if [ -z "$DISK" ]; then
		BLOCKED=$DISK_WHY
	elif [ "$(df_avail "$DISK")" -lt $((BIG + MARGIN)) ]; then
		BLOCKED="needs $(((BIG + MARGIN) >> 20)) MiB free on $DISK, $(($(df_avail "$DISK") >> 20)) MiB there"
	elif ! cp "$YARD/big" "$DISK/big" 2>"$T/err" || ! sync -f "$DISK/big"; then
		BLOCKED="cannot write the $BIG_ARG file to $DISK: $(tail -n 1 "$T/err")"
	fi
fi
if want load; then
	measure_each tput "$BIG" fab_load drop_caches \
		"load $BIG_ARG from disk, cold (vs cp to tmpfs)" 1.0 yard_load_cp \
		"load $BIG_ARG from disk, cold (vs dd iflag=direct to tmpfs)" - yard_load_dd
	rm -f "$DISK/big"
fi
BLOCKED=$SAVED

if want ctl; then
	ctl_latency "ctl round trip: open+write+read+close (locate) x$CTL_N" "locate big"
	ctl_latency "ctl round trip: kept open, write+read (locate) x$CTL_N" "locate big" keep
fi

# Tasks, on the same fabric (its default --max-tasks: $CPUS).
want spawn && spawn_latency "spawn /bin/true to exit x$SPAWN_N (vs posix_spawn + waitpid)" /bin/true
if want tasks; then
	SAVED=$BLOCKED
	if [ -z "$BLOCKED" ]; then
		note "making $TASKS_N inputs of 1 MiB on each side"
		if ! mkdir "$YARD/tk" "$MNT/vars/tk" 2>"$T/err" ||
			! head -c $((TASKS_N << 20)) /dev/urandom | split -b 1M -a 12 - "$YARD/tk/.in_" 2>"$T/err"; then
			BLOCKED="cannot make the inputs: $(tail -n 1 "$T/err")"
		else
			i=0
			for f in "$YARD"/tk/.in_*; do # split's names, in order, to in_1 .. in_N
				i=$((i + 1))
				mv "$f" "$YARD/tk/in_$i" || break
			done
			if [ "$i" != "$TASKS_N" ] || ! cp -r "$YARD/tk/." "$MNT/vars/tk/" 2>"$T/err"; then
				BLOCKED="cannot make the inputs: $(tail -n 1 "$T/err")"
			else
				for ((i = 0; i < 600; i++)); do
					[ "$(sealed_count "$MNT/vars/tk")" = "$TASKS_N" ] && break
					sleep 0.1
				done
				[ "$i" = 600 ] && BLOCKED="the $TASKS_N inputs in the fabric were not all sealed within 60 s"
			fi
		fi
	fi
	measure "$TASKS_N tasks cp 1 MiB in -> out (vs xargs -P $CPUS on tmpfs)" tasks "$TASKS_N" 0.7 fab_tasks yard_tasks
	rm -rf "$YARD/tk"
	is_mounted "$MNT" && rm -rf "$MNT/vars/tk"
	BLOCKED=$SAVED
fi

# Datasets, on the same fabric: DS_N items of 1 KiB put in one request (a tar on the tmpfs) beside `tar -x`
# of it into the tmpfs; DS_CP_N files cp'd one at a time into a dataset beside into vars/ (fabench create);
# then lookups of random keys (open, read, close) at 10,000 and at DS_BIG items, and the tree's heights
# with the default limits.  The lookup and height rows have no yardstick of their own: the ratio is the
# 10,000-item median over the DS_BIG one (the issue's target: the p50 may grow by 2x at most).
ds_clean() { rm -rf "$YARD"/dsx* "$MNT"/datasets/dsp* "$MNT"/datasets/dscp* "$MNT"/vars/dscp* 2>/dev/null; }
fab_ds_put() {
	mkdir "$MNT/datasets/dsp$1" && "$H" ctl "$MNT/ctl" "dataset put dsp$1 $YARD/ds.tar"
}
yard_ds_put() { mkdir "$YARD/dsx$1" && "$H" run tar -xf "$YARD/ds.tar" -C "$YARD/dsx$1"; }
fab_ds_cp() { mkdir "$MNT/datasets/dscp$1" && "$H" create "$MNT/datasets/dscp$1" "$DS_CP_N" 1024; }
yard_ds_cp() { mkdir "$MNT/vars/dscp$1" && "$H" create "$MNT/vars/dscp$1" "$DS_CP_N" 1024; }
# ds_tar FILE N SIZE: an archive of N members f0..f(N-1) of SIZE bytes each
ds_tar() {
	python3 - "$1" "$2" "$3" <<'PY'
import io, sys, tarfile
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = b"x" * size
with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
    for i in range(n):
        ti = tarfile.TarInfo("f%d" % i)
        ti.size = size
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
PY
}
# ds_height NAME: the root's height in datasets/NAME/.tree, once its leaves are within their limits
ds_height() {
	local i
	for ((i = 0; i < 1200; i++)); do
		awk -F'\t' 'NR > 2 && $4 == "leaf" && $8 > 4096 { over = 1 } END { exit over }' "$MNT/datasets/$1/.tree" && break
		sleep 0.1
	done
	sed -n '1s/.* height \([0-9]*\),.*/\1/p' "$MNT/datasets/$1/.tree"
}
if want dataset; then
	SAVED=$BLOCKED
	if [ -z "$BLOCKED" ]; then
		note "making an archive of $DS_N members of 1 KiB"
		ds_tar "$YARD/ds.tar" "$DS_N" 1024 2>"$T/err" || BLOCKED="cannot make the archive: $(tail -n 1 "$T/err")"
	fi
	measure "put $DS_N items of 1 KiB in one request (vs tar -x into tmpfs)" op "$DS_N" 1.0 fab_ds_put yard_ds_put ds_clean
	measure "cp $DS_CP_N files of 1 KiB one at a time into a dataset (vs into vars/)" op "$DS_CP_N" 0.9 fab_ds_cp yard_ds_cp ds_clean
	ds_clean
	H10=- H100=- HBIG=-
	if [ -z "$BLOCKED" ]; then
		note "dataset lookups: 10000 items, then $DS_BIG"
		mkdir "$MNT/datasets/dsl10k" && ds_tar "$YARD/dsl.tar" 10000 64 &&
			"$H" ctl "$MNT/ctl" "dataset put dsl10k $YARD/dsl.tar" 2>/dev/null >/dev/null &&
			H10=$(ds_height dsl10k) && l10=$("$H" lookup "$MNT/datasets/dsl10k" 10000 20000 2>"$T/err") &&
			drop_caches && c10=$("$H" lookup "$MNT/datasets/dsl10k" 10000 2000 2>"$T/err") ||
			BLOCKED="the 10,000-item dataset: $(tail -n 1 "$T/err")"
		mkdir "$MNT/datasets/dsp100k" && "$H" ctl "$MNT/ctl" "dataset put dsp100k $YARD/ds.tar" 2>/dev/null >/dev/null &&
			H100=$(ds_height dsp100k)
		rm -f "$YARD/ds.tar" "$YARD/dsl.tar"
		rm -rf "$MNT/datasets/dsp100k"
		if [ -z "$BLOCKED" ] && [ "$(mem_avail)" -lt $((DS_BIG * 6144 + MARGIN)) ]; then
			BLOCKED="$DS_BIG items need about $(((DS_BIG * 6144) >> 20)) MiB of free memory (a page each, and the archive)"
		elif [ -z "$BLOCKED" ]; then
			mkdir "$MNT/datasets/dslbig" && ds_tar "$YARD/dsl.tar" "$DS_BIG" 16 &&
				"$H" ctl "$MNT/ctl" "dataset put dslbig $YARD/dsl.tar" 2>"$T/err" >/dev/null &&
				HBIG=$(ds_height dslbig) && lbig=$("$H" lookup "$MNT/datasets/dslbig" "$DS_BIG" 20000 2>>"$T/err") &&
				drop_caches && cbig=$("$H" lookup "$MNT/datasets/dslbig" "$DS_BIG" 2000 2>>"$T/err") ||
				BLOCKED="the $DS_BIG-item dataset: $(tail -n 1 "$T/err")"
			rm -f "$YARD/dsl.tar"
		fi
	fi
	name="lookup (open+read+close) of a random key at $DS_BIG items (vs at 10,000)"
	if [ -n "$BLOCKED" ]; then
		fail_row "$name" 0.5 "$BLOCKED"
	else
		ratio=$(awk -v a="${l10% *}" -v b="${lbig% *}" 'BEGIN { printf "%.2f", a / b }')
		ROWS+=("$name	$(lat "$lbig")	$(lat "$l10")	$ratio	>= 0.5	$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5) ? "yes" : "NO" }')")
		# the same with the kernel's dentries dropped first, 2,000 lookups: nearly every one a LOOKUP to
		# the daemon at both sizes (above, the 20,000 lookups of 10,000 keys are mostly dentry-cache hits)
		ratio=$(awk -v a="${c10% *}" -v b="${cbig% *}" 'BEGIN { printf "%.2f", a / b }')
		ROWS+=("the same, dentries dropped first (each open a LOOKUP to the daemon)	$(lat "$cbig")	$(lat "$c10")	$ratio	>= 0.5	$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5) ? "yes" : "NO" }')")
	fi
	ROWS+=("the tree's height with the default limits at 10,000 / $DS_N / $DS_BIG items	$H10 / $H100 / $HBIG	-	-	-	-")
	rm -rf "$MNT"/datasets/dsl* 2>/dev/null
	BLOCKED=$SAVED
fi

# Case 6: the same reads without passthrough, when the mount offers the switch (cold too: a warm read
# without passthrough may come from the FUSE file's own page cache and never reach the daemon).
PT_NOTE=""
if ! want passthrough; then
	:
elif { "$FAB" --help; "$ROOT/fs/fabricd" --help; } 2>&1 | grep -q -- '--no-passthrough'; then
	if [ -z "$BLOCKED" ]; then
		PT_DATAPATH=$DATAPATH
		"$FAB" umount "$MNT" >"$T/umount.out" 2>&1 ||
			BLOCKED="fabric umount failed: $(tail -n 1 "$T/umount.out")"
		[ -z "$BLOCKED" ] && mount_fabric --no-passthrough && PT_NOTE="with --no-passthrough the data path is: $DATAPATH"
		DATAPATH=$PT_DATAPATH
	fi
	measure "read 1 MiB, warm, --no-passthrough (vs tmpfs)" tput "$BIG" - fab_read yard_read
	measure "read 1 MiB, cold, --no-passthrough (vs tmpfs)" tput "$BIG" - fab_read yard_read drop_caches
else
	PT_NOTE="comparison with --no-passthrough not available yet (neither tools/fabric nor fabricd offers it)"
fi

# Remote reads, on a cluster of two nodes of their own (fabric cluster up: an etcd and two daemons on
# loopback): each round a fresh variable of BIG bytes on r1 (the last one removed, its replica with it),
# read on r2, where the first open fetches it into a replica, beside a raw TCP stream of as many bytes
# memory to memory (fabench tcp); then the second read of one such variable (its replica) beside tmpfs.
FC=$T/fc RN1=$T/fc/$NODE-r1 RN2=$T/fc/$NODE-r2
fab_remote_first() {
	rm -f "$RN1"/vars/rv*
	cp "$YARD/rbig" "$RN1/vars/rv$1" && wait_sealed "$RN1/vars/rv$1" || return 1
	local i
	for ((i = 0; i < 600; i++)); do
		[ -e "$RN2/vars/rv$1" ] && break
		sleep 0.05
	done
	"$H" read "$RN2/vars/rv$1" 1048576
}
yard_tcp() { "$H" tcp "$BIG"; }
fab_remote_again() { "$H" read "$RN2/vars/again" 1048576; }
fab_move() { # a fresh variable on r1 moved to r2 (fetched, loaded, proved there, removed here)
	rm -f "$RN2"/vars/mv*
	cp "$YARD/rbig" "$RN1/vars/mv$1" && wait_sealed "$RN1/vars/mv$1" || return 1
	"$H" ctl "$RN1/ctl" "move mv$1 $NODE-r2"
}
yard_remote_again() { "$H" read "$YARD/rbig" 1048576; }
# remote_spawn NAME: SPAWN_N spawn-to-exit round trips from r1's ctl placed on r2 (scope node:r2: the
# spawn forwarded, the task's record back through etcd, its status polled on r1) beside as many placed on
# r1 itself; the added cost is the row's (no target: the issue asks for the figure).
remote_spawn() {
	local f y
	[ -n "$BLOCKED" ] && { fail_row "$1" "-" "$BLOCKED"; return; }
	note "$1 ..."
	if ! y=$("$H" spawnlat "$RN1" "$SPAWN_N" /bin/true "node:$NODE-r1" 2>"$T/err"); then
		fail_row "$1" "-" "on this node: $(tail -n 1 "$T/err")"
		return
	fi
	if ! f=$("$H" spawnlat "$RN1" "$SPAWN_N" /bin/true "node:$NODE-r2" 2>"$T/err"); then
		fail_row "$1" "-" "on the other node: $(tail -n 1 "$T/err")"
		return
	fi
	ROWS+=("$1	$(lat "$f")	$(lat "$y")	$(awk -v f="${f% *}" -v y="${y% *}" 'BEGIN { printf "%.2f", y / f }')	-	$(
		awk -v f="${f% *}" -v y="${y% *}" 'BEGIN { printf "added %+.2f ms", (f - y) / 1e6 }')")
}
# remote_lookups: a dataset of 10,000 items of 64 bytes put on r1; 20,000 lookups of random keys
# (open+read+close, fabench lookup, a fixed seed) on r2, where each key's first open fetches the item into
# a replica, then the same keys again (their replicas), each beside the same lookups on r1 itself.
remote_lookups() {
	local name1="lookup of a random key of another node's 10,000-item dataset, first opens (vs on its own node)"
	local name2="the same keys again, served by their replicas (vs on its own node)" own first again
	[ -n "$BLOCKED" ] && { fail_row "$name1" - "$BLOCKED"; fail_row "$name2" - "$BLOCKED"; return; }
	note "remote dataset lookups ..."
	if ! { ds_tar "$YARD/rds.tar" 10000 64 && mkdir "$RN1/datasets/rds" &&
		"$H" ctl "$RN1/ctl" "dataset put rds $YARD/rds.tar" >/dev/null; } 2>"$T/err"; then
		fail_row "$name1" - "the dataset: $(tail -n 1 "$T/err")"
		return
	fi
	rm -f "$YARD/rds.tar"
	local i
	for ((i = 0; i < 1200; i++)); do # published with the catalog's batches: until r2 lists the last key
		[ -e "$RN2/datasets/rds/f9999" ] && break
		sleep 0.05
	done
	if own=$("$H" lookup "$RN1/datasets/rds" 10000 20000 2>"$T/err") &&
		first=$("$H" lookup "$RN2/datasets/rds" 10000 20000 2>>"$T/err") &&
		again=$("$H" lookup "$RN2/datasets/rds" 10000 20000 2>>"$T/err"); then
		ROWS+=("$name1	$(lat "$first")	$(lat "$own")	$(awk -v f="${first% *}" -v y="${own% *}" 'BEGIN { printf "%.2f", y / f }')	-	-")
		ROWS+=("$name2	$(lat "$again")	$(lat "$own")	$(awk -v f="${again% *}" -v y="${own% *}" 'BEGIN { printf "%.2f", y / f }')	-	-")
	else
		fail_row "$name1" - "$(tail -n 1 "$T/err")"
	fi
	rm -rf "$RN1/datasets/rds"
}
if want remote; then
	BLOCKED=""
	if ! command -v etcd >/dev/null; then
		BLOCKED="no etcd (make deps installs Debian's etcd-server)"
	elif [ "$(mem_avail)" -lt $((6 * BIG + MARGIN)) ]; then
		BLOCKED="needs $(((6 * BIG + MARGIN) >> 20)) MiB of free memory, $(($(mem_avail) >> 20)) MiB available"
	elif ! head -c "$BIG" /dev/urandom >"$YARD/rbig" 2>"$T/err"; then
		BLOCKED="cannot write $BIG_ARG to the tmpfs"
	elif ! "$FAB" cluster up 2 --dir "$FC" --capacity $((3 * BIG + MARGIN)) --node-prefix "$NODE-r" >"$T/fc.out" 2>&1; then
		BLOCKED="fabric cluster up failed: $(tail -n 1 "$T/fc.out")"
	elif ! cp "$YARD/rbig" "$RN1/vars/again" 2>"$T/err" || ! wait_sealed "$RN1/vars/again" 2>>"$T/err"; then
		BLOCKED="cannot make the variable read again: $(tail -n 1 "$T/err")"
	fi
	measure "first read of another node's $BIG_ARG (vs raw TCP)" tput "$BIG" 0.7 fab_remote_first yard_tcp
	measure "second read of it, its replica (vs tmpfs)" tput "$BIG" 0.9 fab_remote_again yard_remote_again
	measure "move of $BIG_ARG to another node (vs raw TCP)" tput "$BIG" 0.8 fab_move yard_tcp
	remote_spawn "spawn /bin/true to exit x$SPAWN_N on the other node (vs on this one)"
	remote_lookups
	[ -d "$FC" ] && "$FAB" cluster down "$FC" --purge >/dev/null 2>&1
	rm -f "$YARD/rbig"
fi

# Work across nodes, on a cluster of three nodes of their own on a three-member etcd: SPAWN_N/10 maps
# (each= over a shard with a piece on each node, /bin/true) from c1, each waited for through its group,
# beside as many rounds of three spawns of /bin/true placed on c1 itself; then election.py: names made on
# c1 every 10 ms and watched for on c2, the etcd leader killed after 3 s.  No targets: the issue asks for
# the figures.
CN1=$T/cc/$NODE-c1 CN2=$T/cc/$NODE-c2
if want cluster; then
	BLOCKED=""
	if ! command -v etcd >/dev/null; then
		BLOCKED="no etcd (make deps installs Debian's etcd-server)"
	elif ! "$FAB" cluster up 3 --dir "$T/cc" --capacity 256M --node-prefix "$NODE-c" --etcd-members 3 >"$T/cc.out" 2>&1; then
		BLOCKED="fabric cluster up failed: $(tail -n 1 "$T/cc.out")"
	elif ! "$H" ctl "$CN1/ctl" "shard bmap 64" 2>"$T/err" >/dev/null; then
		BLOCKED="cannot make the shard: $(tail -n 1 "$T/err")"
	fi
	name="each= over a 3-piece shard, /bin/true, to its group's end x$((SPAWN_N / 10)) (vs 3 spawns on this node)"
	if [ -n "$BLOCKED" ]; then
		fail_row "$name" "-" "$BLOCKED"
	else
		note "$name ..."
		for i in 1 2 3; do # every node lists every piece before the first map
			for ((w = 0; w < 400; w++)); do [ -e "$CN1/shards/bmap/$NODE-c$i" ] && break; sleep 0.05; done
		done
		if ! y=$("$H" threelat "$CN1" $((SPAWN_N / 10)) /bin/true "node:$NODE-c1" 2>"$T/err"); then
			fail_row "$name" "-" "three spawns: $(tail -n 1 "$T/err")"
		elif ! f=$("$H" eachlat "$CN1" $((SPAWN_N / 10)) bmap /bin/true 2>"$T/err"); then
			fail_row "$name" "-" "each=: $(tail -n 1 "$T/err")"
		else
			ROWS+=("$name	$(lat "$f")	$(lat "$y")	$(awk -v f="${f% *}" -v y="${y% *}" 'BEGIN { printf "%.2f", y / f }')	-	$(
				awk -v f="${f% *}" -v y="${y% *}" 'BEGIN { printf "added %+.2f ms", (f - y) / 1e6 }')")
		fi
	fi
	name="a name's delay to another node across an etcd leader kill (vs with no failure)"
	if [ -n "$BLOCKED" ]; then
		fail_row "$name" "-" "$BLOCKED"
	else
		note "$name ..."
		if ! e=$(python3 "$ROOT/tests/bench/election.py" "$CN1" "$CN2" "$T/cc" "$FAB" 2>"$T/err"); then
			fail_row "$name" "-" "$(tail -n 1 "$T/err")"
		else
			read -r base worst mk <<<"$e"
			ROWS+=("$name	$(awk -v w="$worst" 'BEGIN { printf "longest %.0f ms", w / 1e6 }')	$(
				awk -v b="$base" 'BEGIN { printf "median %.1f ms", b / 1e6 }')	$(
				awk -v b="$base" -v w="$worst" 'BEGIN { printf "%.3f", b / w }')	-	$(
				awk -v m="$mk" 'BEGIN { printf "creates meanwhile: longest %.1f ms", m / 1e6 }')")
		fi
	fi
	[ -d "$T/cc" ] && "$FAB" cluster down "$T/cc" --purge >/dev/null 2>&1
fi

# Checkpoint and restore, on a fresh fabric holding only their variables: the mount goes, with its shm and
# state; the big file and the names leave the tmpfs.
CK_NAME="$CKPT_ARG in $CK_N vars"
if want checkpoint; then
	BLOCKED=""
	is_mounted "$YARD" || BLOCKED="no tmpfs at $YARD"
	if [ -z "$BLOCKED" ]; then
		rm -rf "$YARD/big" "$YARD/names"
		if is_mounted "$MNT" && ! "$FAB" umount "$MNT" >"$T/umount.out" 2>&1; then
			BLOCKED="fabric umount failed: $(tail -n 1 "$T/umount.out")"
		fi
	fi
	if [ -z "$BLOCKED" ]; then
		rm -f /dev/shm/fabric."$NODE".*
		rm -rf "$ST" && mkdir -p "$ST"
		if [ -z "$DISK" ]; then
			BLOCKED=$DISK_WHY
		elif [ "$(df_avail "$DISK")" -lt $((2 * CKPT + 4 * MARGIN)) ]; then
			BLOCKED="needs $(((2 * CKPT + 4 * MARGIN) >> 20)) MiB free on $DISK, $(($(df_avail "$DISK") >> 20)) MiB there"
		elif [ "$(mem_avail)" -lt $((3 * CKPT + MARGIN)) ]; then
			BLOCKED="needs $(((3 * CKPT + MARGIN) >> 20)) MiB of free memory, $(($(mem_avail) >> 20)) MiB available"
		else
			CAPACITY=$((CKPT + MARGIN))
			mount_fabric
		fi
	fi
	if [ -z "$BLOCKED" ]; then
		note "making the $CK_N variables of $CK_NAME"
		if ! { mkdir "$YARD/ck" "$MNT/vars/ck" && head -c "$CK_EACH" /dev/urandom >"$YARD/ck/v0"; } 2>"$T/err"; then
			BLOCKED="cannot make the first variable: $(tail -n 1 "$T/err")"
		fi
		# the others: copies of the first with their own first bytes (checkpoint stores equal data once)
		for ((i = 0; i < CK_N; i++)); do
			[ -z "$BLOCKED" ] || break
			{ [ "$i" = 0 ] || { cp "$YARD/ck/v0" "$YARD/ck/v$i" &&
				printf 'variable %08d\n' "$i" | dd of="$YARD/ck/v$i" conv=notrunc status=none; }; } 2>"$T/err" &&
				cp "$YARD/ck/v$i" "$MNT/vars/ck/v$i" 2>>"$T/err" && wait_sealed "$MNT/vars/ck/v$i" 2>>"$T/err" ||
				BLOCKED="cannot make variable v$i: $(tail -n 1 "$T/err")"
		done
	fi
	measure_each tput "$CK_BYTES" fab_ckpt drop_caches \
		"checkpoint $CK_NAME to disk (vs cp -r)" 1.0 yard_ckpt_cp \
		"checkpoint $CK_NAME to disk (vs cp -r + sync -f)" 1.0 yard_ckpt_sync
	if [ -z "$BLOCKED" ]; then
		ctl "checkpoint $(q "$DISK/fk")" >/dev/null 2>"$T/err" && cp -r "$YARD/ck" "$DISK/yk" 2>>"$T/err" && sync -f "$DISK/yk" ||
			BLOCKED="cannot make the checkpoint to restore from: $(tail -n 1 "$T/err")"
	fi
	measure "restore $CK_NAME from disk, cold (vs cp -r)" tput "$CK_BYTES" 1.0 fab_restore yard_restore
	[ -n "$DISK" ] && rm -rf "$DISK/fk" "$DISK/yk" "$DISK"/fck* "$DISK"/ycp* "$DISK"/ycs*
	rm -rf "$YARD/ck" "$YARD"/rs*
fi

# ---- the report -------------------------------------------------------------------------------------------

HEAD=("case" "fabric" "yardstick" "ratio" "target" "met")
SETTINGS="BIG=$BIG_ARG, CKPT=$CKPT_ARG, SMALL_N=$SMALL_N, STAT_N=$STAT_N, SPAWN_N=$SPAWN_N, TASKS_N=$TASKS_N; rounds: 1 warm-up + $ROUNDS timed, medians; ratio = yardstick time / fabric time (higher is better for the fabric)"
[ -n "$ONLY" ] && SETTINGS="only the cases ${ONLY// /, }; $SETTINGS"
MACHINE="$(uname -r), $(nproc) CPUs, MemTotal $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 2^20 }' /proc/meminfo)"
DATE=$(date '+%Y-%m-%d %H:%M:%S %Z')
if ! want load && ! want checkpoint; then
	DISK_NOTE="no disk cases in this run"
elif [ -n "$DISK" ]; then
	DISK_NOTE="disk cases in $DISK ($(findmnt -n -o FSTYPE,SOURCE -T "$DISK" | tr -s ' ' | sed 's/ / on /')); page cache dropped before each timed operation of theirs"
else
	DISK_NOTE="no disk cases: $DISK_WHY"
fi

# gain WARMTH: the read's ratio with passthrough over its ratio without ("" when either is missing).
gain() {
	printf '%s\n' "${ROWS[@]}" | awk -F'\t' -v a="read 1 MiB, $1 (vs tmpfs)" -v b="read 1 MiB, $1, --no-passthrough (vs tmpfs)" \
		'$1 == a { x = $4 } $1 == b { y = $4 } END { if (x + 0 > 0 && y + 0 > 0) printf "%s %.1fx", w, x / y }' w="$1"
}
GAIN=$(printf '%s\n' "$(gain warm)" "$(gain cold)" | grep . | paste -sd, | sed 's/,/, /')
[ -n "$GAIN" ] && GAIN="passthrough gain on the 1 MiB read (its ratio with passthrough / without): $GAIN"

table_text() {
	local r
	{
		(IFS=$'\t'; echo "${HEAD[*]}")
		for r in "${ROWS[@]}"; do echo "$r"; done
	} | awk -F'\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; m = NF > m ? NF : m }
		END { for (r = 1; r <= n; r++) { s = ""; for (i = 1; i < m; i++) s = s sprintf("%-*s  ", w[i], c[r, i]); print s c[r, m] } }'
}
table_md() {
	local r
	echo "| case | fabric | yardstick | ratio | target | met |"
	echo "|---|--:|--:|--:|--:|---|"
	for r in "${ROWS[@]}"; do
		echo "| ${r//	/ | } |"
	done
}

echo
echo "fabric bench: data path: $DATAPATH"
[ -n "$PT_NOTE" ] && echo "  ($PT_NOTE)"
echo "$SETTINGS"
echo "$DISK_NOTE"
echo
table_text
[ -n "$GAIN" ] && echo "$GAIN"
[ -s "$T/notes" ] && sed 's/^/note: /' "$T/notes"
if printf '%s\n' "${ROWS[@]}" | grep -q 'did not run' && [ -s "$ST/fabricd.log" ]; then
	echo "last lines of the daemon's log:"
	tail -n 15 "$ST/fabricd.log" | sed 's/^/  /'
fi
echo
echo "machine: $MACHINE"
echo "date:    $DATE"
echo "command: $COMMAND   (in $ROOT)"

{
	echo "Data path: \`$DATAPATH\`${PT_NOTE:+ ($PT_NOTE)}."
	echo "$SETTINGS."
	echo "${DISK_NOTE^}."
	echo
	table_md
	[ -n "$GAIN" ] && { echo; echo "${GAIN^}."; }
	[ -s "$T/notes" ] && { echo; sed 's/^/Note: /' "$T/notes"; }
	echo
	echo "Machine: $MACHINE; $DATE; \`$COMMAND\`."
} >"$OUT_MD"
echo "(markdown in ${OUT_MD#"$ROOT"/})"
