#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_group_commit.sh -- seals committed together (core/store/store_sealer.c): what a closed variable shows
# (the mode without write bits, its xxh3), a reader that opens it right after the writer's close, rm and mv of a variable whose seal is queued (no
# row or block left over, the row under the new name), a burst of small creates whose YP rows are all
# there, and kill -9 of the daemon in the middle of a burst: after the restart every variable a reader
# had seen sealed is there with the same bytes and xxh3, every other one is gone, none half, and no row
# says writing.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
mkdata "$T/A" 3000
want=$(xxh128 "$T/A")

# What a closed variable shows: close(2) returns before the kernel's RELEASE reaches the daemon, so for a
# moment it is still being written; from its RELEASE on (its seal queued or committed), stat, getfattr
# and opens answer with the sealed variable.
ok cp "$T/A" "$V/a"
wait_for xattr_is "$V/a" user.fabric.state sealed
eq "$(stat -c %a "$V/a")" 444 "mode of a variable once sealed"
eq "$(xget "$V/a" user.fabric.xxh3)" "$want" "its xxh3"
ok sh -c 'cp "$1" "$2/b" && cat "$2/b" >"$3"' sh "$T/A" "$V" "$T/b.out"
same "$T/b.out" "$T/A" "a reader right after the writer's close"

# rm and mv while the seal may still be queued.
prefix=$(yp "select shm_prefix from nodes")
ok sh -c 'cp "$1" "$2/gone" && rm "$2/gone"' sh "$T/A" "$V"
ok sh -c 'cp "$1" "$2/first" && mv "$2/first" "$2/second"' sh "$T/A" "$V"
eq "$(xget "$V/second" user.fabric.xxh3)" "$want" "xxh3 of a variable renamed right after its close"
eq "$(yp "select count(*) from objects where name in ('gone', 'first')")" 0 "rows of the removed and the renamed"
eq "$(yp "select count(*) from objects where name = 'second' and state = 'sealed'")" 1 "row of the renamed"

# A burst: every variable has its rows, sealed, with its xxh3.
ok mkdir "$V/burst"
ok "$PY" - "$V/burst" 500 <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{d}/f{i}", "wb") as f:
        f.write(os.urandom(30000 + i)) # 8 pages each: new slabs are made during the burst
PY
sealed_all() { [ "$(yp "select count(*) from vars where path like 'burst/%' and state = 'sealed'")" = 500 ]; }
wait_for sealed_all
eq "$(yp "select count(*) from vars where path like 'burst/%' and xxh3 is null")" 0 "burst rows without xxh3"
eq "$(xget "$V/burst/f77" user.fabric.xxh3)" "$(xxh128 "$V/burst/f77")" "xxh3 of one of the burst"
# a batch's seals moving into one new slab write its row once (the batch is not refused and redone alone)
eq "$(grep -c 'constraint failed' "$ST/fabricd.log")" 0 "refused YP statements in the daemon's log"
# no shm block leaked: every block in /dev/shm of this node has its row
shm_blocks() { ls /dev/shm | grep -c "^$prefix"; }
eq "$(shm_blocks)" "$(yp "select count(*) from blocks")" "shm blocks vs rows of blocks"

# kill -9 in the middle of a burst.  The reader asks each new variable for its xxh3 (getfattr answers
# once its seal is committed) and writes down what it saw.
ok mkdir "$V/crash"
"$PY" - "$V/crash" <<'PY' &
import os, sys
d = sys.argv[1]
i = 0
try:
    while True:
        with open(f"{d}/f{i}", "wb") as f:
            f.write(os.urandom(200 + i % 5000))
        i += 1
except OSError:
    pass
PY
writer=$!
"$PY" - "$V/crash" "$T/seen" <<'PY' &
import os, sys, time
d, out = sys.argv[1], sys.argv[2]
i = 0
with open(out, "w") as log:
    while True:
        try:
            x = os.getxattr(f"{d}/f{i}", "user.fabric.xxh3").decode()
        except OSError as e:
            if e.errno not in (2, 61): # ENOENT: not made yet; ENODATA: being written
                break
            time.sleep(0.0005)
            continue
        log.write(f"f{i} {x}\n")
        log.flush()
        i += 1
PY
reader=$!
enough() { [ "$(wc -l <"$T/seen" 2>/dev/null)" -ge 300 ]; }
wait_for enough
pid=$(daemon_pid)
kill -9 "$pid"
dead() { ! alive "$pid"; }
wait_for dead
kill "$writer" "$reader" 2>/dev/null # they end by themselves on the dead mount; do not count on it
wait "$writer" "$reader" 2>/dev/null
fab_mount
seen=$(wc -l <"$T/seen")
lost=0
while read -r name x; do
	[ "$(xxh128 "$V/crash/$name" 2>/dev/null)" = "$x" ] || { lost=$((lost + 1)); echo "    lost or changed: $name" >&2; }
done <"$T/seen"
eq "$lost" 0 "variables seen sealed before the crash and not there the same after it (of $seen)"
bad_after=0
for f in "$V/crash"/*; do
	[ "$(xget "$f" user.fabric.state)" = sealed ] && [ "$(xget "$f" user.fabric.xxh3)" = "$(xxh128 "$f")" ] ||
		bad_after=$((bad_after + 1))
done
eq "$bad_after" 0 "variables after the crash that are not sealed with their own bytes' xxh3"
eq "$(yp "select count(*) from objects where state = 'writing'")" 0 "rows in state writing after the crash"
eq "$(shm_blocks)" "$(yp "select count(*) from blocks")" "shm blocks vs rows of blocks after the crash"

fab_umount
fab_done
