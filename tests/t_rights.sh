#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_rights.sh -- who may do what (README, "Who may do what"), tried as the ordinary user nobody on a
# fabric root mounted: the verbs that change the whole node (allocate, deallocate, defragment) are EPERM
# with a sentence naming the verb and the right it needs, and change nothing; root may run them.  Objects
# the daemon makes for a caller (mutable, shard pieces, load, task outputs) get their mode as open(2)
# would give it, from the caller's umask, or exactly mode=; nobody cannot write into root's objects.
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

# ---- checkpoint holds only what its caller could cat --------------------------------------------------
echo top secret >"$T/secret"
ok cp "$T/secret" "$V/secret"
ok chmod 400 "$V/secret"
ok mkdir -m 700 "$V/private"
ok cp "$T/s1" "$V/private/p"
ok chmod 644 "$V/private/p"
echo public >"$T/pub1"
ok cp "$T/pub1" "$V/l1"
mkdir "$T/ck"
chown 65534:65534 "$T/ck"
fails "Permission denied" as_nobody cat "$V/secret"
ok as_nobody "$PUB_TOOL" checkpoint "$T/ck/x"
match "$(last_out)" $'variables	3
' "nobody's checkpoint saved the three variables it may read (s1, s3, l1)"
match "$(last_out)" $'unreadable	2' "and says it left out two (vars/secret, vars/private/p)"
grep -rqF "top secret" "$T/ck/x" && bad "nobody's checkpoint holds the bytes of a 0400 variable of root's"
[ -e "$T/ck/x/data/$(xxh128 "$T/secret")" ] && bad "the secret's data file is there"
same "$T/ck/x/data/$(xxh128 "$T/pub1")" "$T/pub1" "a world-readable variable is saved (no EIO)"
grep -q "private" "$T/ck/x/manifest.tsv" && bad "the manifest names what sits in a directory nobody may not search"
eq "$(stat -c %U "$T/ck/x/manifest.tsv")" nobody "the checkpoint's files are nobody's own"
ok "$FAB_TOOL" checkpoint "$T/ck/root"
match "$(last_out)" $'variables	5
' "root's checkpoint holds every variable"
match "$(last_out)" $'unreadable	0' "and leaves none out"

# ---- modes like open(2) ---------------------------------------------------------------------------------
mode() { stat -c %a "$1"; }
ok sh -c 'umask 077; exec "$1" mutable m 4096' _ "$FAB_TOOL"
eq "$(mode "$V/m")" 600 "a mutable object made under umask 077"
ok sh -c 'umask 022; exec "$1" mutable m2 4096' _ "$FAB_TOOL"
eq "$(mode "$V/m2")" 644 "a mutable object made under umask 022"
fails "Permission denied" as_nobody sh -c 'echo x > "$1"' _ "$V/m2"
eq "$(od -An -tx1 -N1 "$V/m2" | tr -d ' ')" 00 "nobody's write into root's mutable object changed nothing"
ok "$FAB_TOOL" mutable m3 4096 mode=0640
eq "$(mode "$V/m3")" 640 "mutable mode= is taken as given"
fails "Invalid argument" "$FAB_TOOL" mutable m4 4096 mode=999
match "$(last_err)" "mode=999: give permission bits in octal, 0 to 0777" "a bad mode= says why"
fails "Invalid argument" "$FAB_TOOL" mutable m4 4096 mode=01777
[ -e "$V/m4" ] && bad "a refused mutable was made anyway"
ok sh -c 'umask 077; exec "$1" shard c 8' _ "$FAB_TOOL"
eq "$(mode "$MNT/shards/c/$NODE")" 600 "a shard piece made under umask 077"
eq "$(mode "$MNT/shards/c")" 700 "its directory"
fails "Permission denied" as_nobody sh -c 'echo x > "$1"' _ "$MNT/shards/c/local"
echo data >"$T/f"
chmod 644 "$T/f"
ok sh -c 'umask 027; exec "$1" put l "$2"' _ "$FAB_TOOL" "$T/f"
eq "$(mode "$V/l")" 440 "load: the file's bits less the umask, sealed (no write bits)"
ok "$FAB_TOOL" put l2 "$T/f" mode=0400
eq "$(mode "$V/l2")" 400 "load mode="
id=$(sh -c 'umask 077; exec "$1" spawn out=o -- sh -c "echo hi > o"' _ "$FAB_TOOL")
ok "$FAB_TOOL" wait "$id"
eq "$(mode "$V/o")" 400 "a task output made under umask 077 (sealed: no write bits)"
id=$("$FAB_TOOL" spawn out=o2 mode=0640 -- sh -c "echo hi > o2")
ok "$FAB_TOOL" wait "$id"
eq "$(mode "$V/o2")" 440 "a task output with mode=0640, sealed"

# a dataset is dropped by its owner or root only (datasets/ is sticky, as /tmp)
ok "$FAB_TOOL" dataset make rootds
fails "datasets/rootds is uid 0's: only its owner or root drops it" as_nobody "$PUB_TOOL" dataset drop rootds
test -d "$MNT/datasets/rootds" || bad "another user's drop removed the dataset"
ok "$FAB_TOOL" dataset drop rootds
fab_done
