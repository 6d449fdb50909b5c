#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_rights.sh -- who may do what (README, "Who may do what"), tried as the ordinary user nobody on a
# fabric root mounted: the verbs that change the whole node (allocate, deallocate, defragment) are EPERM
# with a sentence naming the verb and the right it needs, and change nothing; root may run them.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_public_tools
fab_mount --capacity 64M
V=$MNT/vars
export FABRIC=$MNT
field() { "$FAB_TOOL" stat | awk -v k="$1" '$1 == k { print $2; exit }'; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env FABRIC="$MNT" "$@"; }

for i in 1 2 3; do mkdata "$T/s$i" 10000; ok cp "$T/s$i" "$V/s$i"; done
ok rm "$V/s2"
slab=$(field slab)
before=$("$FAB_TOOL" stat)

# ---- node-wide verbs ----------------------------------------------------------------------------------
fails "Operation not permitted" as_nobody "$PUB_TOOL" allocate 64M
match "$(last_err)" "allocate acts on the whole node: it needs root or CAP_SYS_ADMIN, which uid 65534 does not have" \
	"allocate's refusal names the verb and the right"
fails "Operation not permitted" as_nobody "$PUB_TOOL" defragment
match "$(last_err)" "defragment acts on the whole node" "defragment refused"
fails "Operation not permitted" as_nobody "$PUB_TOOL" deallocate "$NODE" "$slab" move
match "$(last_err)" "deallocate acts on the whole node" "deallocate refused"
eq "$("$FAB_TOOL" stat)" "$before" "the node is unchanged by the refused verbs"
for i in 1 3; do same "$T/s$i" "$V/s$i" "vars/s$i after the refused verbs"; done
# What anyone may still ask.
ok as_nobody "$PUB_TOOL" stat
eq "$(last_out)" "$before" "stat is for everyone"
# Root may.
ok "$FAB_TOOL" allocate 8M
eq "$(field capacity)" 75497472 "root's allocate"
ok "$FAB_TOOL" defragment
for i in 1 3; do same "$T/s$i" "$V/s$i" "vars/s$i after root's defragment"; done

fab_done
