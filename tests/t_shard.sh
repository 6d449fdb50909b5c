#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_shard.sh -- shards (`fabric shard NAME SIZE`): shards/NAME/NODE is this node's mutable piece and
# shards/NAME/local the same piece; many processes increment a counter in the local piece (under flock,
# through their own shared mappings) and the reduction over the pieces gives the exact total: the seed's
# `1000` example, with processes instead of tasks.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount
S=$MNT/shards
export FABRIC=$MNT

ok "$FAB_TOOL" shard ctr 8
eq "$(last_out)" "$NODE	shards/ctr/$NODE	8" "shard's answer"
eq "$(ls "$S/ctr")" "$NODE" "the pieces of a shard on one node"
eq "$(stat -c %i "$S/ctr/local")" "$(stat -c %i "$S/ctr/$NODE")" "local is this node's piece"
eq "$(xget "$S/ctr/local" user.fabric.scope)" "node:$NODE" "a piece's scope"
eq "$(xget "$S/ctr/local" user.fabric.state)" mutable "a piece's state"
fails "File exists" "$FAB_TOOL" shard ctr 8
fails "Invalid argument" "$FAB_TOOL" shard local 8
fails "Invalid argument" "$FAB_TOOL" shard other 8 nodes=a,b
fails "Operation not permitted" mkdir "$S/x"
fails "Operation not permitted" touch "$S/ctr/extra"
fails "Operation not permitted" mv "$S/ctr" "$S/ctr2"

# 10 processes x 100 increments of one 64-bit counter in shards/ctr/local
for p in $(seq 1 10); do
	"$PY" - "$S/ctr/local" <<'PY' &
import fcntl, mmap, struct, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 8)
    for _ in range(100):
        fcntl.flock(f, fcntl.LOCK_EX)
        m[0:8] = struct.pack("<Q", struct.unpack("<Q", m[0:8])[0] + 1)
        fcntl.flock(f, fcntl.LOCK_UN)
PY
done
wait
# the README's reduction: a loop over the pieces
total=$("$PY" -c 'import glob, struct, sys
print(sum(struct.unpack("<Q", open(p, "rb").read(8))[0] for p in glob.glob(sys.argv[1] + "/*")))' "$S/ctr")
eq "$total" 1000 "the counters summed over the pieces"

fab_umount
fab_mount
eq "$("$PY" -c 'import struct, sys; print(struct.unpack("<Q", open(sys.argv[1], "rb").read(8))[0])' "$S/ctr/local")" \
	1000 "the counter after a restart"
ok rm -r "$S/ctr"
eq "$(ls "$S")" "" "shards/ after rm -r of the shard"
fab_done
