#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_blocks.sh -- the Data Fabric verbs on blocks: stat per block, allocate (capacity + slab blocks made
# ahead), deallocate (EBUSY while a block holds variables, `move` moves them out; a variable's own block
# and unknown blocks refused), every variable's bytes unchanged throughout.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --capacity 64M
V=$MNT/vars
export FABRIC=$MNT
field() { "$FAB_TOOL" stat | awk -v k="$1" '$1 == k { print $2; exit }'; }

for i in $(seq 1 20); do mkdata "$V/s$i" 10000; done
mkdata "$V/big" 1000000
ok "$FAB_TOOL" stat
match "$(last_out)" $'own_blocks\t1\t1000000\t' "stat's line for variables' own blocks"
match "$(last_out)" $'slab\t[0-9]+\tfabric\\.[^\t]+\t4194304\t245760\t20\t' "stat's line for the slab"
slab=$(field slab)

ok "$FAB_TOOL" allocate 8M
match "$(last_out)" $'^capacity\t75497472\n'"$NODE"$'\t[0-9]+\n'"$NODE"$'\t[0-9]+$' "allocate's answer"
eq "$(field capacity)" 75497472 "capacity after allocate 8M"
eq "$(df -B1 --output=size "$MNT" | tail -1 | tr -d ' ')" 75497472 "df's size after allocate 8M"
ok "$FAB_TOOL" json allocate 4M
eq "$("$PY" -c 'import json, sys; d = json.load(sys.stdin); print(d["capacity"], len(d["blocks"]), d["blocks"][0]["node"])' <"$T/.last.out")" \
	"79691776 1 $NODE" "json allocate: one document"
ok "$FAB_TOOL" json deallocate "$NODE" "$("$PY" -c 'import json, sys; print(json.load(sys.stdin)["blocks"][0]["block"])' <"$T/.last.out")"
eq "$("$PY" -c 'import json, sys; d = json.load(sys.stdin); print(d["bytes_moved"])' <"$T/.last.out")" 0 "json deallocate: one document"

fails "Device or resource busy" "$FAB_TOOL" deallocate "$NODE" "$slab"
match "$(last_err)" "holds 20 variable" "why a busy block is refused"
big_block=$(xget "$V/big" user.fabric.locations | cut -d' ' -f2 | sed 's/.*\.//')
fails "Device or resource busy" "$FAB_TOOL" deallocate "$NODE" "$big_block"
match "$(last_err)" "variable's own block" "why a variable's own block is refused"
fails "No such file or directory" "$FAB_TOOL" deallocate "$NODE" 999999
fails "Invalid argument" "$FAB_TOOL" deallocate "$NODE" "$slab" keep
fails "Invalid argument" "$FAB_TOOL" deallocate elsewhere "$slab"
fails "Invalid argument" "$FAB_TOOL" allocate 12Q
fails "Invalid argument" "$FAB_TOOL" allocate -1

ok "$FAB_TOOL" deallocate "$NODE" "$slab" move
match "$(last_out)" $'bytes_moved\t200000' "deallocate move's answer"
eq "$(field capacity)" 71303168 "capacity after deallocating a 4 MiB block"
"$FAB_TOOL" stat | grep -q "^slab	$slab	" && bad "block $slab is still in stat"
for i in $(seq 1 20); do
	[ "$(xget "$V/s$i" user.fabric.xxh3)" == "$(xxh128 "$V/s$i")" ] || bad "s$i changed"
	match "$(xget "$V/s$i" user.fabric.locations)" "^$NODE fabric\\.[^ ]+\\.[0-9]+ [0-9]+ 10000$" "s$i's location"
done
eq "$(yp "select count(*) from blocks where id = $slab")" 0 "YP rows of the deallocated block"
fab_done
