#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_mount.sh -- tools/fabric mount/umount: --help; the state dir (pid file held with flock, yp.db in WAL
# mode, the log); a second mount of a live state dir is refused ("already"); bad arguments fail with a
# message and leave nothing mounted; umount returns after the daemon exited; after kill -9 the dead mount
# is cleaned up by the next mount.
. "$(dirname "$0")/lib.sh"
fab_setup

ok "$FAB_TOOL" --help
help=$(last_out; last_err)
[[ $help == *mount* && $help == *umount* ]] || bad "--help does not show mount and umount: $help"

fab_mount
V=$MNT/vars
is_mounted "$MNT" || bad "$MNT is not in /proc/self/mounts"
match "$(awk -v m="$MNT" '$2 == m { print $3 }' /proc/self/mounts)" '^fuse' "file system type of the mount"
pid=$(daemon_pid)
is_fabricd "$pid" || bad "first line of $ST/fabricd.pid is not a live fabricd: $pid"
flock -n -E 99 "$ST/fabricd.pid" true
eq $? 99 "flock -n on the pid file while mounted (99: held by another)"
[ -f "$ST/yp.db" ] || bad "no $ST/yp.db"
[ -f "$ST/fabricd.log" ] || bad "no $ST/fabricd.log"
eq "$(yp 'pragma journal_mode')" wal "journal mode of yp.db"
mkdata "$T/a" 20000
ok cp "$T/a" "$V/a"

# A second mount of the same state dir is refused, and leaves the first alone.
fails "already" "$FAB_TOOL" mount "$T/mnt2" --state "$ST" --node "$NODE"
is_mounted "$T/mnt2" && bad "the refused second mount is mounted"
eq "$(daemon_pid)" "$pid" "pid file after a refused second mount"
same "$V/a" "$T/a" "the first mount after a refused second one"
ok cp "$T/a" "$V/a2"
same "$V/a2" "$T/a" "writing to the first mount after a refused second one"

# Bad arguments: non-zero, a message on stderr, nothing mounted, no daemon left behind.
mkdir -p "$T/mnt3"
touch "$T/notadir"
fails "" "$FAB_TOOL" mount "$T/notadir" --state "$T/state4" --node "$NODE-y"
is_mounted "$T/notadir" && { bad "mounted on a regular file"; fab_umount "$T/notadir"; }
for cap in 12Q bogus -5 ''; do
	fails "" "$FAB_TOOL" mount "$T/mnt3" --state "$T/state3" --node "$NODE-x" --capacity "$cap"
	is_mounted "$T/mnt3" && { bad "mounted despite --capacity '$cap'"; fab_umount "$T/mnt3"; }
done
p3=$(daemon_pid "$T/state3")
[ -n "$p3" ] && alive "$p3" && bad "a daemon ($p3) still runs after refused mounts"
fails "" "$FAB_TOOL" mount
fails "" "$FAB_TOOL" frobnicate "$T/mnt3"

# umount returns once the daemon has exited; the lock is free then.
ok fab_umount
alive "$pid" && bad "fabricd ($pid) still runs after tools/fabric umount returned"
is_mounted "$MNT" && bad "$MNT still mounted after umount"
flock -n -E 99 "$ST/fabricd.pid" true
eq $? 0 "flock -n on the pid file after umount"

# After kill -9 the mount point is dead; the next mount cleans it up and serves the same data.
fab_mount
pid=$(daemon_pid)
kill -9 "$pid"
dead() { ! alive "$pid"; }
wait_for dead
fails_dead ls "$V"
is_mounted "$MNT" || bad "the dead mount is not in /proc/self/mounts (nothing left to clean up?)"
fab_mount
same "$V/a" "$T/a" "a variable after kill -9 and mount"
eq "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" 1 "mounts at $MNT after cleanup and mount"
pid2=$(daemon_pid)
[ "$pid2" != "$pid" ] && is_fabricd "$pid2" || bad "pid file after the remount: $pid2"
ok fab_umount
is_mounted "$MNT" && bad "$MNT still mounted after the last umount"

fab_done
