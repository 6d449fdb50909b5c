#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_defragment.sh -- small variables are packed into slab blocks; `fabric defragment` compacts them after
# deletions: it frees blocks, gives capacity back, and every variable keeps its bytes and xxh3, also for
# a reader that had one open across the move.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount
V=$MNT/vars
export FABRIC=$MNT

for i in $(seq 1 300); do mkdata "$V/s$i" 20000; done
match "$(xget "$V/s7" user.fabric.locations)" " [0-9]+ 20000$" "a small variable's location"
loc_off=$(xget "$V/s300" user.fabric.locations | cut -d' ' -f3)
[ "$loc_off" -gt 0 ] || bad "the 300th small variable is not packed at an offset: $(xget "$V/s300" user.fabric.locations)"
for i in $(seq 1 2 300); do rm "$V/s$i"; done
used() { "$FAB_TOOL" stat | awk '$1 == "used" { print $2 }'; }
before=$(used)

# a reader holds s300 open across the defragment
mkfifo "$T/go"
"$PY" - "$V/s300" "$T/go" >"$T/reader.out" <<'PY' &
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
first = os.pread(fd, 100, 0)
open(sys.argv[2]).read()
print(hashlib.sha256(os.pread(fd, 1 << 20, 0)).hexdigest())
PY
reader=$!
ok "$FAB_TOOL" defragment
match "$(last_out)" $'^bytes_moved\t[1-9][0-9]*\nblocks_freed\t[1-9][0-9]*$' "defragment's answer"
after=$(used)
[ "$after" -lt "$before" ] || bad "used did not go down: $before -> $after"
echo go >"$T/go"
wait_exit $reader "the reader" || bad "the reader failed"
eq "$(cat "$T/reader.out")" "$(sha256sum <"$V/s300" | cut -d' ' -f1)" "what a reader open across defragment read"
for i in $(seq 2 2 300); do
	[ "$(xget "$V/s$i" user.fabric.xxh3)" == "$(xxh128 "$V/s$i")" ] || bad "s$i changed across defragment"
done
fails "not this node" "$FAB_TOOL" defragment node=elsewhere
fab_done
