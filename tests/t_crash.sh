#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_crash.sh -- kill -9 of the daemon: the mount answers ENOTCONN; the next mount of the same dir and
# state cleans that up; every sealed variable is back with its bytes and xxh3; a variable that was being
# written is gone with its shm object; an orphan shm object with the node's prefix is removed.  Then a
# kill in the middle of a stream of cp: whatever comes back is complete and sealed, nothing leaks.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
shm_list() { ls /dev/shm | awk -v p="$1" 'index($0, p) == 1' | sort; }
kill_daemon() { # kill -9 the daemon and wait until it is gone
	local pid
	pid=$(daemon_pid)
	if ! is_fabricd "$pid"; then
		bad "no fabricd with the pid in $ST/fabricd.pid ($pid)"
		return
	fi
	kill -9 "$pid"
	dead() { ! alive "$pid"; }
	wait_for dead
}

files="a d/b c empty"
mkdata "$T/a" 1048576
mkdata "$T/b" 5000
mkdata "$T/c" 4096
: >"$T/empty"
ok mkdir "$V/d"
ok mkdir "$V/d/e"
declare -A xxh
for f in $files; do
	ok cp "$T/${f##*/}" "$V/$f"
	cat "$V/$f" >/dev/null # waits for the seal
	xxh[$f]=$(xget "$V/$f" user.fabric.xxh3)
	eq "${xxh[$f]}" "$(xxh128 "$T/${f##*/}")" "xxh3 of $f before the crash"
done

prefix=$(sqlite3 "$ST/yp.db" "select shm_prefix from nodes where name = '$NODE'")
match "$prefix" "^fabric\.$NODE\.[0-9a-f]+\.\$" "shm_prefix of the node in the YP"
[ -n "$prefix" ] || prefix="fabric.$NODE."
shm_before=$(shm_list "$prefix")

# A variable held open for writing across the crash.
mkfifo "$T/hold"
bash -c 'exec 3>"$1"; echo abc >&3; read -r _ <"$2"' _ "$V/partial" "$T/hold" &
writer=$!
wait_for xattr_is "$V/partial" user.fabric.state writing
partial_objs=$( (
	xget "$V/partial" user.fabric.locations | awk '{ print $2 }'
	comm -13 <(echo "$shm_before") <(shm_list "$prefix")
) | sort -u | grep .)
[ -n "$partial_objs" ] || bad "found no shm object holding the variable being written"

kill_daemon
fails_dead stat "$MNT"
fails_dead ls "$MNT/vars"
_fab_kill_tree $writer
wait $writer 2>/dev/null

echo orphan >"/dev/shm/${prefix}999999"
fab_mount
for f in $files; do
	same "$V/$f" "$T/${f##*/}" "$f after the crash"
	eq "$(xget "$V/$f" user.fabric.xxh3)" "${xxh[$f]}" "xxh3 of $f after the crash"
	eq "$(xget "$V/$f" user.fabric.state)" sealed "state of $f after the crash"
done
[ -d "$V/d/e" ] || bad "directory d/e is gone after the crash"
[ -e "$V/partial" ] && bad "the variable being written at the crash is back: $(ls -l "$V/partial")"
for o in $partial_objs; do
	[ -e "/dev/shm/$o" ] && bad "the shm object of the variable being written at the crash is still there: $o"
done
[ -e "/dev/shm/${prefix}999999" ] && bad "the orphan /dev/shm/${prefix}999999 is still there"
eq "$(yp "select count(*) from vars where path = 'partial'")" 0 "partial in the YP's vars view"
ok cp "$T/b" "$V/partial"
same "$V/partial" "$T/b" "a new variable under the crashed one's name"

# Kill in the middle of a stream of cp; after the remount every variable there is complete and sealed.
mkdata "$T/s0" 102400
mkdata "$T/s1" 300001
mkdata "$T/s2" 1048576
ok mkdir "$V/loop"
(
	for i in $(seq 1 5000); do
		cp "$T/s$((i % 3))" "$V/loop/f$i" 2>/dev/null || exit 0
	done
) &
loop=$!
at_least_12() { [ "$(ls "$V/loop" | wc -l)" -ge 12 ]; }
wait_for at_least_12
kill_daemon
wait_exit $loop "the cp loop after the crash"
fab_mount
n=0
for p in "$V"/loop/*; do
	f=${p##*/}
	i=${f#f}
	src=$T/s$((i % 3))
	same "$V/loop/$f" "$src" "loop/$f after a crash mid-stream" || continue
	eq "$(xget "$V/loop/$f" user.fabric.state)" sealed "state of loop/$f after the crash"
	eq "$(xget "$V/loop/$f" user.fabric.xxh3)" "$(xxh128 "$src")" "xxh3 of loop/$f after the crash"
	n=$((n + 1))
done
[ $n -ge 8 ] || bad "only $n variables of the cp stream came back (at least 12 had been created)"
for f in $files; do
	same "$V/$f" "$T/${f##*/}" "$f after the second crash"
done
# No shm object of the node is unknown to the YP (the one being written at the kill was removed).
unknown=$(comm -23 <(shm_list "$prefix") <(yp "select shm_name from blocks" | sort -u))
eq "$unknown" "" "shm objects with the node's prefix that no block in the YP names"

fab_done
