#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_load.sh -- load, checkpoint and restore through the control file and through `fabric`: bytes and
# xxh3 exact, refusals with the right errno and a sentence, files opened with the caller's credentials,
# and a fabric that survives a wipe of /dev/shm (what a reboot does) by checkpoint + restore.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount
V=$MNT/vars
export FABRIC=$MNT

mkdata "$T/big" 20000003
ok ctl "load big $T/big doc=\"from disk\""
match "$(last_out)" $'^size\t20000003\nxxh3\t[0-9a-f]{32}$' "answer of load"
same "$T/big" "$V/big"
eq "$(xget "$V/big" user.fabric.xxh3)" "$(xxh128 "$T/big")" "xxh3 of a loaded variable"
eq "$(xget "$V/big" user.fabric.doc)" "from disk" "doc given to load"
eq "$(xget "$V/big" user.fabric.state)" sealed "state after load"

"$PY" -c 'import numpy as np; np.arange(800, dtype="float64").tofile("'"$T/w.bin"'")'
mkdir "$V/run1"
ok "$FAB_TOOL" put run1/w "$T/w.bin" type='40 * 20 * float64'
eq "$(xget "$V/run1/w" user.fabric.type)" "40 * 20 * float64" "type given to fabric put"
same "$T/w.bin" "$V/run1/w"

# loads in flight, for fabric put's progress bar: none now; read-only
xget "$MNT" user.fabric.loads >/dev/null || bad "the root has no user.fabric.loads"
eq "$(xget "$MNT" user.fabric.loads)" "" "user.fabric.loads with no load in flight"
fails "Operation not permitted" setfattr -n user.fabric.loads -v x "$MNT"

# refusals: errno at the write, a sentence in the answer, nothing made
fails "Invalid argument" ctl "load rel w.bin"
match "$(last_err)" "absolute path" "answer for a relative FILE"
fails "No such file or directory" ctl "load nofile $T/does-not-exist"
fails "File exists" ctl "load big $T/big"
fails "No such file or directory" ctl "load nodir/x $T/big"
fails "Invalid argument" ctl "load typed $T/big type=\"3 * float64\""
fails "Invalid argument" ctl "load typed $T/big type=flaot64"
fails "Invalid argument" ctl "load $T/big"
fails "Invalid argument" ctl "load a $T/big b"
fails "Invalid argument" ctl "load a $T/big colour=red"
eq "$(ls "$V" | tr '\n' ' ')" "big run1 " "vars/ after refused loads"

# the caller's credentials: nobody cannot load a file only root may read
echo secret >"$T/secret"
chmod 600 "$T/secret"
chmod 755 "$T"
fails "Permission denied" setpriv --reuid=nobody --regid=nogroup --clear-groups "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.write(fd, ("load stolen " + sys.argv[2] + "\n").encode())
except OSError as e:
    sys.stderr.write(os.strerror(e.errno) + ": " + os.read(fd, 4096).decode()); sys.exit(1)' "$MNT/ctl" "$T/secret"
[ -e "$V/stolen" ] && bad "nobody loaded a root-only file"

# checkpoint, wipe the node's shm (a reboot), mount again: everything back with the same xxh3
before=$(cd "$V" && for f in big run1/w; do echo "$f $(xget "$f" user.fabric.xxh3)"; done)
ok "$FAB_TOOL" checkpoint "$T/ck"
match "$(last_out)" $'variables\t2' "checkpoint answer"
ok "$FAB_TOOL" checkpoint "$T/ck"
match "$(last_out)" $'bytes_written\t0' "a second checkpoint of unchanged variables"
fab_umount
rm -f /dev/shm/fabric."$NODE".*
fab_mount
[ -e "$V/big" ] && bad "vars/big survived a wipe of /dev/shm without restore"
eq "$(yp "select count(*) from objects where state = 'lost'")" 2 "lost rows after the wipe"
ok "$FAB_TOOL" restore "$T/ck"
match "$(last_out)" $'restored\t2' "restore answer"
after=$(cd "$V" && for f in big run1/w; do echo "$f $(xget "$f" user.fabric.xxh3)"; done)
eq "$after" "$before" "xxh3 of every variable after checkpoint, wipe, restore"
same "$T/big" "$V/big"
eq "$(xget "$V/run1/w" user.fabric.type)" "40 * 20 * float64" "type after restore"
ok "$FAB_TOOL" restore "$T/ck"
match "$(last_out)" $'restored\t0' "a second restore finds everything present"

# a damaged checkpoint: the data file no longer matches; restore drops it and says so
rm "$V/big"
printf 'x' | dd of="$T/ck/data/$(xxh128 "$T/big")" bs=1 seek=7 conv=notrunc status=none
ok "$FAB_TOOL" restore "$T/ck"
match "$(last_out)" "dropped	vars/big" "restore of a damaged data file"
[ -e "$V/big" ] && bad "a variable restored from damaged bytes is there"
fab_done
