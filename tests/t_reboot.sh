#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_reboot.sh -- a reboot wipes /dev/shm: with a checkpoint in STATE/checkpoint, the next mount restores
# the lost variables and dataset items by itself (same xxh3) and says so; without one, it says how many
# are lost and the log names them.  Variables removed since the checkpoint are not brought back.  A
# dataset removed since is made again by `restore`, with its type, doc, limits and items.
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
D=$MNT/datasets
ok "$FAB_TOOL" dataset make pts type=2*double doc="the points" limits=kids:4,items:8
for i in $(seq 1 20); do head -c $((16 * (i % 3 + 1))) /dev/urandom >"$D/pts/k$i" || bad "item k$i"; done
ok setfattr -n user.fabric.doc -v "its own" "$D/pts/k5"
wait_for xattr_is "$D/pts/k20" user.fabric.state sealed
ok "$FAB_TOOL" checkpoint
want=$(cd "$V" && for f in d/a b; do echo "$f $(xget "$f" user.fabric.xxh3)"; done)
items() { for i in $(seq 1 20); do echo "k$i $(xget "$D/pts/k$i" user.fabric.xxh3) $(xget "$D/pts/k$i" user.fabric.type)"; done; }
want_items=$(items)
rm "$V/gone"
fab_umount
rm -f /dev/shm/fabric."$NODE".*        # the reboot
ok "$FAB_TOOL" mount "$MNT" --state "$ST" --node "$NODE"
match "$(last_out)" "22 variable\(s\) lost, 22 restored from $ST/checkpoint" "what mount says after the wipe"
got=$(cd "$V" && for f in d/a b; do echo "$f $(xget "$f" user.fabric.xxh3)"; done)
eq "$got" "$want" "xxh3 of the variables restored at mount"
same "$T/a" "$V/d/a"
[ -e "$V/gone" ] && bad "a variable removed after the checkpoint came back"
eq "$(items)" "$want_items" "xxh3 and type of the dataset's items restored at mount"
eq "$(xget "$D/pts/k5" user.fabric.doc) / $(xget "$D/pts/k6" user.fabric.doc)" "its own / the points" \
	"an item's own doc comes back as its own, the others show the dataset's"
wait_for grep -q ' 20 items' "$D/pts/.tree"

# a dataset removed since the checkpoint: restore makes it again, as it was
sums=$(cat "$D"/pts/k* | md5sum)
ok rm -r "$D/pts"
ok "$FAB_TOOL" restore
match "$(last_out)" "restored	21" "restore answers what it made: the 20 items and vars/gone (removed after the checkpoint)"
ok rm "$V/gone"
eq "$(xget "$D/pts" user.fabric.type) / $(xget "$D/pts" user.fabric.doc)" "2 * float64 / the points" \
	"the dataset's type and doc come back"
match "$(head -n 1 "$D/pts/.tree")" "limits kids:4,items:8," "and its limits"
eq "$(items)" "$want_items" "xxh3 and type of the restored items"
eq "$(cat "$D"/pts/k* | md5sum)" "$sums" "the restored items' bytes"
wait_for sh -c "[ \"\$(awk -F'\t' '\$4 == \"leaf\" && \$8 > 8' '$D/pts/.tree' | wc -l)\" = 0 ]"

# no checkpoint: mount says how many are lost; the log names them
rm -rf "$ST/checkpoint"
fab_umount
rm -f /dev/shm/fabric."$NODE".*
ok "$FAB_TOOL" mount "$MNT" --state "$ST" --node "$NODE"
match "$(last_out)" "22 variable\(s\) lost and no checkpoint" "what mount says without a checkpoint"
grep -q "'a' is lost" "$ST/fabricd.log" || bad "the log does not name the lost variable a"
fab_done
