#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_restart.sh -- umount, then mount again on the same state dir: every sealed variable is back with the
# same bytes, xxh3, type and doc, directories too; `umount` returns only once the daemon has exited; new
# variables written after a restart do not disturb the old ones.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
ok mkdir "$V/run1"
ok mkdir "$V/run1/sub"
ok mkdir "$V/emptydir"
files="top empty run1/w run1/sub/deep run1/big"
mkdata "$T/top" 1
: >"$T/empty"
mkdata "$T/w" 6400
mkdata "$T/deep" 4097
mkdata "$T/big" 3145728
for f in $files; do
	ok cp "$T/${f##*/}" "$V/$f"
done
ok setfattr -n user.fabric.type -v "40*20*float64" "$V/run1/w"
ok setfattr -n user.fabric.doc -v "the weights" "$V/run1/w"
declare -A xxh
for f in $files; do
	cat "$V/$f" >/dev/null # wait for every seal
	xxh[$f]=$(xget "$V/$f" user.fabric.xxh3)
done
tree() { find "$V" -printf '%P %y %m\n' | sort; }
tree_before=$(tree)

# check_all WHEN: everything written above is there as it was.
check_all() {
	local f want
	eq "$(tree)" "$tree_before" "$1: the tree (names, kinds, modes)"
	for f in $files; do
		same "$V/$f" "$T/${f##*/}" "$1: $f"
		want=${xxh[$f]}
		eq "$(xget "$V/$f" user.fabric.xxh3)" "$want" "$1: xxh3 of $f"
		eq "$want" "$(xxh128 "$T/${f##*/}")" "$1: recorded xxh3 of $f"
		eq "$(xget "$V/$f" user.fabric.state)" sealed "$1: state of $f"
	done
	eq "$(xget "$V/run1/w" user.fabric.type)" "40 * 20 * float64" "$1: type of run1/w"
	eq "$(xget "$V/run1/w" user.fabric.doc)" "the weights" "$1: doc of run1/w"
	fails "Read-only file system" sh -c 'echo x >> "$1"' _ "$V/top"
}

prefix=$(yp "select shm_prefix from nodes where name = '$NODE'")
loc_before=$(xget "$V/run1/big" user.fabric.locations)
pid=$(daemon_pid)
is_fabricd "$pid" || bad "no fabricd with the pid in $ST/fabricd.pid ($pid)"
ok fab_umount
alive "$pid" && bad "fabricd ($pid) still runs after tools/fabric umount returned"
is_mounted "$MNT" && bad "$MNT still mounted after tools/fabric umount"

fab_mount
check_all "after a restart"
eq "$(yp "select shm_prefix from nodes where name = '$NODE'")" "$prefix" "shm prefix (per state dir) after a restart"
match "$(xget "$V/run1/big" user.fabric.locations)" "^$NODE ${prefix//./\\.}[0-9]+ 0 3145728\$" \
	"locations of run1/big after a restart (was: $loc_before)"
pid2=$(daemon_pid)
[ "$pid2" != "$pid" ] && is_fabricd "$pid2" || bad "pid file after the restart: $pid2 (before: $pid)"

# New variables after the restart, in old and new directories; the old ones stay intact.
mkdata "$T/n1" 2000000
mkdata "$T/n2" 100
ok cp "$T/n1" "$V/n1"
ok cp "$T/n2" "$V/run1/n2"
ok mkdir "$V/run2"
ok cp "$T/n2" "$V/run2/n2"
same "$V/n1" "$T/n1" "a variable written after the restart"
files_new="n1 run1/n2 run2/n2"
for f in $files_new; do
	cat "$V/$f" >/dev/null
done

ok fab_umount
fab_mount
check_all_after() {
	local f
	for f in $files_new; do
		same "$V/$f" "$T/${f##*/}" "after a second restart: $f"
		eq "$(xget "$V/$f" user.fabric.xxh3)" "$(xxh128 "$T/${f##*/}")" "after a second restart: xxh3 of $f"
	done
	for f in $files; do
		same "$V/$f" "$T/${f##*/}" "after a second restart: $f"
	done
	[ -d "$V/emptydir" ] || bad "after a second restart: emptydir is gone"
}
check_all_after
# rm and mv before a restart stay done after it.
ok rm "$V/top"
ok mv "$V/run2" "$V/run1/run2"
ok fab_umount
fab_mount
[ -e "$V/top" ] && bad "a removed variable came back after a restart"
[ -e "$V/run2" ] && bad "a moved directory is back at its old name after a restart"
same "$V/run1/run2/n2" "$T/n2" "a moved directory's variable after a restart"
same "$V/run1/big" "$T/big" "run1/big after a third restart"

fab_done
