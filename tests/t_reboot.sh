#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_reboot.sh -- a reboot wipes /dev/shm: with a checkpoint in STATE/checkpoint, the next mount restores
# the lost variables by itself (same xxh3) and says so; without one, it says how many are lost and the
# log names them.  Variables removed since the checkpoint are not brought back.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount
V=$MNT/vars
export FABRIC=$MNT

mkdata "$T/a" 3000000
mkdata "$T/b" 5000
mkdir "$V/d"
ok cp "$T/a" "$V/d/a"
ok cp "$T/b" "$V/b"
ok cp "$T/b" "$V/gone"
ok "$FAB_TOOL" checkpoint
want=$(cd "$V" && for f in d/a b; do echo "$f $(xget "$f" user.fabric.xxh3)"; done)
rm "$V/gone"
fab_umount
rm -f /dev/shm/fabric."$NODE".*        # the reboot
ok "$FAB_TOOL" mount "$MNT" --state "$ST" --node "$NODE"
match "$(last_out)" "2 variable\(s\) lost, 2 restored from $ST/checkpoint" "what mount says after the wipe"
got=$(cd "$V" && for f in d/a b; do echo "$f $(xget "$f" user.fabric.xxh3)"; done)
eq "$got" "$want" "xxh3 of the variables restored at mount"
same "$T/a" "$V/d/a"
[ -e "$V/gone" ] && bad "a variable removed after the checkpoint came back"

# no checkpoint: mount says how many are lost; the log names them
rm -rf "$ST/checkpoint"
fab_umount
rm -f /dev/shm/fabric."$NODE".*
ok "$FAB_TOOL" mount "$MNT" --state "$ST" --node "$NODE"
match "$(last_out)" "2 variable\(s\) lost and no checkpoint" "what mount says without a checkpoint"
grep -q "'a' is lost" "$ST/fabricd.log" || bad "the log does not name the lost variable a"
fab_done
