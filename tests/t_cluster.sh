#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_cluster.sh -- several nodes, membership: `fabric cluster up 3` starts a real etcd (Debian's
# etcd-server, free loopback ports) and three daemons that join it; every node's nodes/ lists all three,
# nodes/PEER/stat says each one's state, address, capacity and free space (kept up to date); a node
# killed with -9 is shown down on the others within a few lease TTLs, and comes back up when mounted
# again, its variables with it; one unmounted cleanly is down at once; a second node of the same name is
# refused while the first is up; bad cluster options get a sentence; every node's YP lists every node's
# names with their owner (made, changed, renamed, removed, loaded by the hundred; kept while their node is
# down; caught up by a node that was down); every mount shows the other nodes' names (vars/ is
# everybody's, a directory its maker's): stat, xattrs, readlink, listings, a name held elsewhere refused
# (EEXIST), rm, rmdir and mv of another node's names asked of their node (mv elsewhere: EXDEV, and mv(1)
# copies: the variable moves to this node); move (whole, proved, its attributes; every refusal; asked of
# another node's name; recursive over user.fabric.refs, remotes=no; a directory whole; kill -9 of either
# node at each point of no return, for a variable and a directory: one owner); remote reads (and the
# owner killed part way through one: EIO, nothing kept, then read again) (the first open fetches a replica, proved
# by xxh3; cmp, numpy.memmap; writes EROFS; a mutable object EREMOTE; a node-scoped one EACCES; a node
# that is down EHOSTDOWN; a wrong secret refused; replicas counted against capacity, the least recently
# used dropped to make room; a short transfer and one of the wrong bytes, from a
# made-up node, EIO and nothing kept); a change seen at once; `cluster status` and `cluster down --purge` (no mount, no etcd, no shm block left).  One
# cluster for every case.  (And one name, one object: made on two nodes apart, the later one is renamed.)
# Shards across nodes (a piece on each, listed everywhere, counted in and summed, nodes=, extend, rm -r);
# drain (what cannot go listed, then all gone).
. "$(dirname "$0")/lib.sh"
fab_setup
command -v etcd >/dev/null || { echo "skip: etcd is not installed (make deps installs etcd-server)"; exit 77; }
FC=$T/fc
P=$NODE-n # node names under the test's own name: the generic cleanup removes their shm blocks
fab_at_exit "$FAB_TOOL" cluster down "$FC"
fab_at_exit sh -c 'kill -9 "$(cat "$1"/etcd/etcd.pid)"' _ "$FC"

ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
match "$(last_out)" "${P}3 mounted at $FC/${P}3" "cluster up's answer"
. "$FC/cluster.env"
N1=$FC/${P}1 N2=$FC/${P}2 N3=$FC/${P}3
all="${P}1
${P}2
${P}3"
for m in "$N1" "$N2" "$N3"; do
	eq "$(ls "$m/nodes")" "$all" "nodes/ of $(basename "$m") lists every node"
done
addr_of() { grep -o 'listening at [0-9.:]*' "$FC/state/$1/fabricd.log" | tail -n 1 | cut -d' ' -f3; }
field() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1"; }
for p in 2 3; do
	f=$N1/nodes/$P$p/stat
	eq "$(field "$f" state)" up "state of $P$p seen from ${P}1"
	eq "$(field "$f" addr)" "$(addr_of "$P$p")" "address of $P$p seen from ${P}1"
	eq "$(field "$f" capacity)" 67108864 "capacity of $P$p seen from ${P}1"
done
eq "$(ls "$N2/nodes/${P}1")" stat "nodes/PEER/ holds stat"
FABRIC=$N2 ok "$FAB_TOOL" stat
eq "$(cat "$N2/nodes/${P}2/stat")" "$(last_out)" "a node's own nodes/NODE/stat is its stat answer"
fails "No such file or directory" ls "$N1/nodes/${P}9"
fails "Permission denied" sh -c "echo x > '$N1/nodes/${P}2/stat'"
fails "Operation not permitted" mkdir "$N1/nodes/${P}2/x"
# the free space follows what a node holds (renewed every second)
free0=$(field "$N2/nodes/${P}1/stat" free)
mkdata "$T/m4" $((4 << 20))
ok cp "$T/m4" "$N1/vars/m4"
freed() { [ "$(field "$N2/nodes/${P}1/stat" free)" -le $((free0 - (4 << 20))) ]; }
wait_for freed
eq "$(FABRIC=$FC/${P}1 "$FAB_TOOL" cluster status "$FC" | awk -v n="${P}3" '$1 == n { print $2 }')" up \
   "cluster status says ${P}3 is up"

# kill -9: down on the others within a few TTLs (3 s lease), measured; the mount answers ENOTCONN
pid3=$(head -n 1 "$FC/state/${P}3/fabricd.pid")
start=$(date +%s%N)
kill -9 "$pid3"
wait_says down field "$N1/nodes/${P}3/stat" state
echo "note: ${P}3 killed -9, seen down by ${P}1 after $((($(date +%s%N) - start) / 1000000)) ms" >&2
wait_says down field "$N2/nodes/${P}3/stat" state
eq "$(ls "$N1/nodes")" "$all" "a node that is down is still listed"
ok "$FAB_TOOL" cluster status "$FC"
match "$(last_out)" "${P}3 +down" "cluster status says ${P}3 is down"

# a second node of a name that is up is refused (after waiting out a lease that might be a dead one's)
mkdir -p "$T/dup" "$T/state-dup"
fails "" "$FAB_TOOL" mount "$T/dup" --state "$T/state-dup" --node "${P}2" --etcd "$ETCD" --cluster "$CLUSTER"
match "$(last_err)" "node ${P}2 is already up in cluster $CLUSTER" "sentence for a node name that is up"
eq "$(field "$N1/nodes/${P}2/stat" state)" up "${P}2 is still up after the refused twin"

# mounted again after the kill: up again, with its variables
{ echo kept >"$N3/vars/kept"; } 2>/dev/null && bad "a write to a killed node's mount succeeded"
ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_says up field "$N1/nodes/${P}3/stat" state
ok cp "$T/m4" "$N3/vars/again"
same "$T/m4" "$N3/vars/again" "a variable written on ${P}3 after its restart"

# ---- one catalog: every node's YP lists every node's names with their owner (published at seal) -------
yp_of() { sqlite3 -readonly "$FC/state/$1/yp.db" "$2"; }
node_of() { yp_of "$1" "select group_concat(node) from vars where path = '$2'"; }
count_of() { yp_of "$1" "select count(*) from vars where $2"; }
ok cp "$T/m4" "$N1/vars/cat1"
ok mkdir "$N2/vars/dir2"
ok cp "$T/m4" "$N2/vars/dir2/in"
for n in 2 3; do wait_says "${P}1" node_of "$P$n" cat1; done
for n in 1 3; do wait_says "${P}2" node_of "$P$n" dir2/in; done
eq "$(yp_of "${P}3" "select size || ' ' || xxh3 || ' ' || kind from vars where path = 'cat1'")" \
   "$((4 << 20)) $(xxh128 "$T/m4") var" "size, xxh3 and kind of ${P}1's cat1 in ${P}3's YP"
eq "$(node_of "${P}3" m4)" "${P}1" "a variable sealed before the others joined is listed too"
ok setfattr -n user.fabric.doc -v "a doc, changed" "$N1/vars/cat1"
wait_says "a doc, changed" yp_of "${P}2" "select doc from vars where path = 'cat1'"
ok mv "$N2/vars/dir2" "$N2/vars/dir2b"
wait_says "${P}2" node_of "${P}1" dir2b/in
eq "$(count_of "${P}1" "path = 'dir2/in'")" 0 "the old path of a renamed directory's variable"
ok rm "$N1/vars/cat1"
wait_says 0 count_of "${P}3" "path = 'cat1'"
mkdir "$T/many"
for i in $(seq 1 200); do echo "$i" >"$T/many/f$i"; done
FABRIC=$N3 ok "$FAB_TOOL" load many "$T/many"
wait_says 200 count_of "${P}1" "path like 'many/%' and node = '${P}3' and kind = 'var'"
for n in 1 2 3; do
	eq "$(yp_of "${P}2" "select group_concat(path || ' ' || size || ' ' || coalesce(xxh3, '-'), ',') from (select * from vars where node = '$P$n' order by path)")" \
	   "$(yp_of "$P$n" "select group_concat(path || ' ' || size || ' ' || coalesce(xxh3, '-'), ',') from (select * from vars where node = '$P$n' order by path)")" \
	   "$P$n's names in ${P}2's YP are the ones in its own"
done

# ---- the other nodes' names in every mount: vars/ is everybody's, a directory its maker's ---------------
mkdata "$T/ns" 100000
ok cp "$T/ns" "$N1/vars/ns1"
ok setfattr -n user.fabric.doc -v "seen everywhere" "$N1/vars/ns1"
ok mkdir "$N2/vars/ns2"
ok cp "$T/m4" "$N2/vars/ns2/in"
ok ln -s ns1 "$N1/vars/nslink"
for m in "$N2" "$N3"; do wait_for test -e "$m/vars/ns1"; done
wait_for test -e "$N3/vars/ns2/in"
wait_for test -L "$N2/vars/nslink"
eq "$(stat -c '%s %a %F' "$N2/vars/ns1")" "100000 444 regular file" "size, mode and kind of ${P}1's ns1 seen from ${P}2"
eq "$(xget "$N2/vars/ns1" user.fabric.xxh3)" "$(xxh128 "$T/ns")" "xxh3 of ${P}1's ns1 seen from ${P}2"
eq "$(xget "$N2/vars/ns1" user.fabric.node)" "${P}1" "user.fabric.node of another node's variable"
wait_says "seen everywhere" xget "$N3/vars/ns1" user.fabric.doc
eq "$(readlink "$N3/vars/nslink")" ns1 "another node's symbolic link"
eq "$(ls "$N1/vars/ns2")" in "another node's directory lists its names"
eq "$(stat -c %s "$N1/vars/ns2/in")" $((4 << 20)) "size of a variable in another node's directory"
match "$(ls "$N3/vars")" "ns1" "vars/ lists another node's names"
match "$(find "$N3/vars" -name in)" "ns2/in" "find walks another node's directory"
# a remote read: the first open fetches the bytes into a replica (a shm object of the reading node,
# proved by the xxh3), then they are served like the node's own: cmp, numpy.memmap (passthrough)
same "$T/ns" "$N3/vars/ns1" "${P}1's ns1 read on ${P}3"
ls /dev/shm | grep -q "^fabric\.${P}3\.[0-9a-f]*\.r[0-9]" || bad "no replica in /dev/shm for ${P}3's read"
same "$T/ns" "$N3/vars/ns1" "${P}1's ns1 read again on ${P}3 (its replica)"
loc=$(xget "$N3/vars/ns1" user.fabric.locations)
eq "$(echo "$loc" | head -n 1)" "$(xget "$N1/vars/ns1" user.fabric.locations)" "the owner's extent in another node's locations"
match "$(echo "$loc" | sed -n 2p)" "^${P}3 fabric\.${P}3\.[0-9a-f]+\.r[0-9]+ 0 100000$" "the replica in its reader's locations"
ok "$PY" -c 'import numpy as np, sys
a = np.memmap(sys.argv[1], dtype="uint8", mode="r"); b = np.fromfile(sys.argv[2], dtype="uint8")
sys.exit(0 if a.shape == b.shape and (a == b).all() else 1)' "$N2/vars/ns1" "$T/ns"
same "$T/m4" "$N1/vars/ns2/in" "a variable in another node's directory, read"
fails "Read-only file system" sh -c "echo x >> '$N3/vars/ns1'"
FABRIC=$N1 ok "$FAB_TOOL" mutable nsmut 4096
wait_for test -e "$N2/vars/nsmut"
fails "Object is remote" cat "$N2/vars/nsmut"     # written in place on its node: never copied
ok cp "$T/m4" "$N1/vars/scoped"
ok setfattr -n user.fabric.scope -v "node:${P}1" "$N1/vars/scoped"
wait_says "node:${P}1" xget "$N2/vars/scoped" user.fabric.scope
fails "Permission denied" cat "$N2/vars/scoped"   # a node-scoped variable never leaves its node
port=$(addr_of "${P}1")
port=${port##*:}
reply=$(exec 3<>"/dev/tcp/127.0.0.1/$port" && echo "FABRIC1 wrong GET 3" >&3 && timeout 5 cat <&3)
match "$reply" "^ERR 13 wrong cluster secret" "a transfer asked with a wrong secret"
ok sh -c "echo x > '$N3/vars/newer'"
fails "Read-only file system" cp "$T/ns" "$N3/vars/ns1" # the name is there: cp opens it to write over it
fails "File exists" "$PY" -c 'import os, sys; os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)' "$N3/vars/ns1"
fails "File exists" mkdir "$N3/vars/ns2"
fails "File exists" ln -s x "$N3/vars/ns1"
# datasets: every node's in every datasets/, each on the node that made it (its items there); an item
# read on another node is a remote read of a small item, proved like any; its name is taken everywhere
FABRIC=$N1 ok "$FAB_TOOL" dataset make cds type=uint8 doc="made on one node"
for i in $(seq 1 20); do echo "item $i" >"$N1/datasets/cds/k$i" || bad "item k$i on ${P}1"; done
wait_for test -e "$N2/datasets/cds/k20"
match "$(ls "$N2/datasets")" "cds" "datasets/ lists another node's dataset"
eq "$(ls "$N3/datasets/cds" | wc -l)" 20 "another node's dataset lists its items"
eq "$(cat "$N2/datasets/cds/k7")" "item 7" "an item of ${P}1's dataset read on ${P}2"
eq "$(xget "$N2/datasets/cds/k7" user.fabric.node)" "${P}1" "the item's node"
match "$(xget "$N2/datasets/cds/k7" user.fabric.locations | sed -n 2p)" "^${P}2 fabric\.${P}2\.[0-9a-f]+\.r[0-9]+ 0 7$" \
	"the item's replica in its reader's locations"
eq "$(xget "$N3/datasets/cds" user.fabric.type) / $(xget "$N3/datasets/cds/k3" user.fabric.type)" "uint8 / 7 * uint8" \
	"another node's dataset's type, and its item's"
fails "File exists" mkdir "$N2/datasets/cds"
FABRIC=$N3 fails "datasets/cds exists: node ${P}1's" "$FAB_TOOL" dataset make cds
# an item written on another node goes to the dataset's node at its close, made there as its writer;
# the writer's node reads it back at once; a misfit's close says EINVAL there too
ok sh -c "echo 'from two' > '$N2/datasets/cds/w2'"
eq "$(cat "$N2/datasets/cds/w2")" "from two" "an item written on ${P}2 read back on ${P}2"
eq "$(cat "$N1/datasets/cds/w2") $(xget "$N1/datasets/cds/w2" user.fabric.node)" "from two ${P}1" \
	"the item written on ${P}2 lives on the dataset's node"
mkdata "$T/item" 70000
ok cp "$T/item" "$N3/datasets/cds/w3"
same "$T/item" "$N1/datasets/cds/w3" "a 70,000-byte item cp'd on ${P}3, read on the dataset's node"
eq "$(xget "$N1/datasets/cds/w3" user.fabric.xxh3)" "$(xxh128 "$T/item")" "its xxh3 there"
fails "Read-only file system" sh -c "echo again > '$N2/datasets/cds/w2'" # write-once, as on its own node
ok sh -c "echo newer > '$N2/datasets/cds/.w2new' && mv '$N2/datasets/cds/.w2new' '$N2/datasets/cds/w2'"
wait_says newer cat "$N1/datasets/cds/w2"
FABRIC=$N1 ok "$FAB_TOOL" dataset make cpts type=2*double
wait_for test -d "$N2/datasets/cpts"
head -c 20 /dev/zero >"$T/z20"
fails "Invalid argument" cp "$T/z20" "$N2/datasets/cpts/bad"
test -e "$N1/datasets/cpts/bad" && bad "a misfit written on another node was made"
fails "Operation not permitted" mkdir "$N2/datasets/cds/sub"
fails "Operation not permitted" sh -c "echo x > '$N1/vars/ns2/new'" # another node's directory in vars/
ok rm -r "$N1/datasets/cpts"
wait_for sh -c "FABRIC='$N2' '$FAB_TOOL' dataset tree cds | head -n 1 | grep -q '^# dataset cds: .* 22 items'"
FABRIC=$N3 ok "$FAB_TOOL" json dataset tree cds
eq "$("$PY" -c 'import json, sys; d = json.load(sys.stdin); print(d["dataset"], sum(n["items"] for n in d["nodes"] if n["kind"] == "leaf"), {n["node"] for n in d["nodes"]})' <"$T/.last.out")" \
	"cds 22 {'${P}1'}" "another node's dataset tree as JSON, asked of its node"
eq "$(cat "$N3/datasets/cds/.tree")" "$(cat "$N1/datasets/cds/.tree")" "another node's dataset's .tree is its node's"
# poll(2) on it waits while nothing changes, and wakes when an item comes on the dataset's node
"$PY" - "$N3/datasets/cds/.tree" >"$T/rpoll.out" 2>&1 <<'PY' &
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 1 << 20)
p = select.poll()
p.register(fd, select.POLLIN)
print("early" if p.poll(300) else "quiet", flush=True)
print("woke" if p.poll(20000) else "timeout", flush=True)
PY
pollpid=$!
in_second_poll() { grep -q quiet "$T/rpoll.out" && grep -q poll "/proc/$pollpid/wchan" 2>/dev/null; }
wait_for in_second_poll
ok sh -c 'echo x > "$1"' _ "$N1/datasets/cds/rwake"
wait "$pollpid"
eq "$(tr '\n' ' ' <"$T/rpoll.out")" "quiet woke " "poll on another node's .tree waits, then wakes when an item is made on its node"
ok rm "$N3/datasets/cds/k20"
wait_for sh -c "! test -e '$N1/datasets/cds/k20'"
ok rm -r "$N1/datasets/cds"
wait_for sh -c "! test -e '$N2/datasets/cds'"
FABRIC=$N2 fails "no dataset cds" "$FAB_TOOL" dataset tree cds
# rm and rmdir of another node's name: asked of its node, gone everywhere, at once on the asking one
ok cp "$T/m4" "$N2/vars/fwd"
ok mkdir "$N2/vars/emptyd"
ok cp "$T/m4" "$N2/vars/ns2/gone1"
wait_for test -e "$N3/vars/fwd"
wait_for test -e "$N3/vars/ns2/gone1"
wait_for test -d "$N1/vars/emptyd"
ok rm "$N3/vars/fwd"
test -e "$N3/vars/fwd" && bad "another node's variable still there right after rm"
wait_for sh -c "! test -e '$N2/vars/fwd'" # its own kernel is told a moment later
wait_for sh -c "! test -e '$N1/vars/fwd'"
ok rm "$N3/vars/ns2/gone1"
wait_for sh -c "! test -e '$N2/vars/ns2/gone1'"
fails "Is a directory" rm "$N1/vars/emptyd"
ok rmdir "$N1/vars/emptyd"
wait_for sh -c "! test -d '$N2/vars/emptyd'"
fails "Directory not empty" rmdir "$N1/vars/ns2"
# a hard link's second name is every node's name too: read, renamed and removed from any node
ok cp "$T/m4" "$N2/vars/hl1"
ok ln "$N2/vars/hl1" "$N2/vars/ns2/hl2"
wait_for test -e "$N3/vars/ns2/hl2"
same "$T/m4" "$N3/vars/ns2/hl2" "a hard link's second name, read on another node"
eq "$(xget "$N1/vars/ns2/hl2" user.fabric.xxh3)" "$(xget "$N2/vars/hl1" user.fabric.xxh3)" "a hard link's name has its object's xxh3 everywhere"
ok mv "$N3/vars/ns2/hl2" "$N3/vars/ns2/hl3"
wait_for test -e "$N2/vars/ns2/hl3"
eq "$(stat -c %h "$N2/vars/hl1")" 2 "a hard link renamed from another node is still a link on its node"
ok rm "$N1/vars/hl1" # the object's own name: its link takes its place
wait_for sh -c "! test -e '$N3/vars/hl1'"
same "$T/m4" "$N3/vars/ns2/hl3" "the link left when the first name went, read on another node"
ok rm "$N3/vars/ns2/hl3"
wait_for sh -c "! test -e '$N2/vars/ns2/hl3'"
wait_for sh -c "! test -e '$N1/vars/ns2/hl3'"
# mv of another node's name: within its places (vars/, its directories) asked of its node; elsewhere
# EXDEV, so mv(1) copies the bytes here and removes the old name: the variable moves to this node
ok cp "$T/m4" "$N2/vars/mv1"
wait_for test -e "$N3/vars/mv1"
ok mv "$N3/vars/mv1" "$N3/vars/mv2"
test -e "$N3/vars/mv2" && ! test -e "$N3/vars/mv1" || bad "mv of another node's name, seen by the node that asked"
wait_for test -e "$N2/vars/mv2"
eq "$(xget "$N3/vars/mv2" user.fabric.node)" "${P}2" "a name renamed from another node stays its node's"
ok mv "$N3/vars/mv2" "$N3/vars/ns2/mv3"       # into a directory of the same node
wait_for test -e "$N2/vars/ns2/mv3"
wait_for test -e "$N1/vars/ns2/mv3"
ok mkdir "$N1/vars/m1dir"
ok mv "$N1/vars/ns2/mv3" "$N1/vars/m1dir/mv4" # another node's variable into this node's directory
eq "$(xget "$N1/vars/m1dir/mv4" user.fabric.node)" "${P}1" "a variable mv'd into this node's directory is this node's"
same "$T/m4" "$N1/vars/m1dir/mv4" "the bytes of a variable moved here by mv"
wait_for sh -c "! test -e '$N2/vars/ns2/mv3'"
fails "Operation not permitted" mv "$N1/vars/m1dir/mv4" "$N1/vars/ns2/back" # into another node's directory
fails "Operation not permitted" touch "$N1/vars/ns2/new"
ok rm "$N3/vars/newer"
replicas() { ls /dev/shm | grep -c "^fabric\.$1\.[0-9a-f]*\.r[0-9]"; }
r3=$(replicas "${P}3")
ok rm "$N1/vars/ns1"
for m in "$N2" "$N3"; do wait_for sh -c "! test -e '$m/vars/ns1'"; done
wait_says $((r3 - 1)) replicas "${P}3" # the replica of a variable removed on its node goes with it
ok cp "$T/ns" "$N3/vars/ns1" # a name another node gave up is free again

# replicas count against the reader's capacity; when it is spent, the least recently used one nobody has
# open goes (never a variable of the node's own)
stat_of() { FABRIC=$1 "$FAB_TOOL" stat | awk -F'\t' -v k="$2" '$1 == k { print $2 }'; }
free_of() { stat_of "$1" free; }
f1=$(free_of "$N1") f2=$(free_of "$N2") f3=$(free_of "$N3")
S=$((f2 * 2 / 5)) # two replicas fit on the reader, three do not
[ $((f3 * 2 / 5)) -lt "$S" ] && S=$((f3 * 2 / 5)) # the owners hold two of them (n3) and one (n1)
[ $((f1 * 4 / 5)) -lt "$S" ] && S=$((f1 * 4 / 5))
S=$((S / 4096 * 4096))
[ $((2 * S)) -le "$f2" ] && [ $((3 * S)) -gt "$f2" ] || bad "no sizes that fill ${P}2 ($f1 $f2 $f3 free)"
for i in 1 2 3; do
	mkdata "$T/cap$i" "$S"
	owner=$([ "$i" = 2 ] && echo "$N1" || echo "$N3")
	ok cp "$T/cap$i" "$owner/vars/cap$i"
	wait_for test -e "$N2/vars/cap$i"
done
r2=$(replicas "${P}2") s2=$(stat_of "$N2" replicas) b2=$(stat_of "$N2" replica_bytes)
same "$T/cap1" "$N2/vars/cap1" "cap1 read on ${P}2"
same "$T/cap2" "$N2/vars/cap2" "cap2 read on ${P}2"
eq "$(replicas "${P}2")" $((r2 + 2)) "replicas on ${P}2 after two reads"
eq "$(stat_of "$N2" replicas) $(stat_of "$N2" replica_bytes)" "$((s2 + 2)) $((b2 + 2 * S))" \
	"stat's replicas and replica_bytes on ${P}2 after two reads"
[ "$(free_of "$N2")" -le $((f2 - 2 * S)) ] || bad "${P}2's free space does not count its replicas"
same "$T/cap3" "$N2/vars/cap3" "cap3 read on ${P}2, its capacity spent by two replicas"
eq "$(replicas "${P}2")" $((r2 + 2)) "replicas on ${P}2 after the third read (the oldest made room)"
match "$(grep -c "dropped the replica of ${P}3's variable" "$FC/state/${P}2/fabricd.log")" "^[1-9]" "log of a replica dropped to make room"
same "$T/cap1" "$N2/vars/cap1" "cap1 read again on ${P}2 (fetched again)"
ok rm "$N3/vars/cap1" "$N1/vars/cap2" "$N3/vars/cap3"

# move: the variable goes to the other node, whole and proved, with its type, doc, mode and owner; then
# the old copy goes (a doc set right after the create: its publication must not wedge on one key twice)
ok cp "$T/m4" "$N1/vars/mv_a"
ok setfattr -n user.fabric.doc -v "moved along" "$N1/vars/mv_a"
FABRIC=$N1 ok "$FAB_TOOL" move mv_a "${P}3"
match "$(last_out)" $'moved\tmv_a\nto\t'"${P}3" "move's answer"
eq "$(xget "$N3/vars/mv_a" user.fabric.node)" "${P}3" "a moved variable is its new node's own"
same "$T/m4" "$N3/vars/mv_a" "the bytes of a moved variable"
eq "$(xget "$N3/vars/mv_a" user.fabric.doc)" "moved along" "the doc of a moved variable"
eq "$(stat -c '%a %u %g' "$N3/vars/mv_a")" "$(stat -c '%a %u %g' "$T/m4" | awk '{ print "444", $2, $3 }')" "mode and owner of a moved variable"
wait_says "${P}3" node_of "${P}2" mv_a # one owner in the catalog
wait_says "${P}3" xget "$N1/vars/mv_a" user.fabric.node
fails "pinned to its node" env FABRIC="$N1" "$FAB_TOOL" move nsmut "${P}2"
fails "directly in vars/" env FABRIC="$N1" "$FAB_TOOL" move m1dir/mv4 "${P}2"
ok cp "$T/m4" "$N1/vars/mv_b"
fails "no node ${P}9" env FABRIC="$N1" "$FAB_TOOL" move mv_b "${P}9"
fails "on ${P}1 already" env FABRIC="$N1" "$FAB_TOOL" move mv_b "${P}1"
fails "scoped" env FABRIC="$N1" "$FAB_TOOL" move scoped "${P}2"
fails "no node holds 'mv_none'" env FABRIC="$N1" "$FAB_TOOL" move mv_none "${P}2"
fails "goes with \`recursive\`" env FABRIC="$N1" "$FAB_TOOL" move mv_b "${P}2" remotes=no
same "$T/m4" "$N1/vars/mv_b" "a variable whose move was refused stays where it was"
# asked on a node that does not hold it: its owner moves it
FABRIC=$N2 ok "$FAB_TOOL" move mv_a "${P}1"
match "$(last_out)" "by	${P}3" "a move asked of another node's variable says who ran it"
eq "$(xget "$N1/vars/mv_a" user.fabric.node)" "${P}1" "moved by its owner at another node's request"
# 4 MiB and more travel spliced from the socket into the new block, proved after: an odd size, read
# remotely (a replica) and moved
mkdata "$T/odd" $(((5 << 20) + 4321))
ok cp "$T/odd" "$N1/vars/odd"
wait_for test -e "$N2/vars/odd"
same "$T/odd" "$N2/vars/odd" "a remote read of an odd size past 4 MiB"
FABRIC=$N1 ok "$FAB_TOOL" move odd "${P}3"
same "$T/odd" "$N3/vars/odd" "a move of an odd size past 4 MiB"
ok rm "$N3/vars/odd"
# recursive: what user.fabric.refs reach, from every node reached (the refs travel with the variable);
# remotes=no leaves the referents of other nodes where they are
mkdata "$T/r1" 3001
for v in rx ry; do ok cp "$T/r1" "$N1/vars/$v"; done
ok cp "$T/r1" "$N2/vars/rz"
ok cp "$T/r1" "$N3/vars/rw"
ok setfattr -n user.fabric.refs -v "ry rz" "$N1/vars/rx"
ok setfattr -n user.fabric.refs -v "rx rw" "$N2/vars/rz" # a cycle, and a referent on the target already
wait_says "ry rz" xget "$N3/vars/rx" user.fabric.refs
wait_says "rx rw" xget "$N1/vars/rz" user.fabric.refs
FABRIC=$N1 ok "$FAB_TOOL" move rx "${P}3" recursive remotes=no
match "$(last_out)" $'moved\trx ry\nto\t'"${P}3"$'\nbytes\t6002\nstayed\trz' "recursive move with remotes=no"
for v in rx ry; do wait_says "${P}3" node_of "${P}1" "$v"; done
eq "$(node_of "${P}3" rz)" "${P}2" "a referent on another node stays with remotes=no"
eq "$(xget "$N3/vars/rx" user.fabric.refs)" "ry rz" "refs of a moved variable"
FABRIC=$N2 ok "$FAB_TOOL" move rx "${P}1" recursive
for v in rx ry rz; do wait_says "${P}1" node_of "${P}2" "$v"; done
for v in rx ry rz; do same "$T/r1" "$N2/vars/$v" "$v after the recursive move"; done
eq "$(node_of "${P}2" rw)" "${P}1" "rw, referred to by rz: moved too, recursively"
ok setfattr -n user.fabric.refs -v "ry rnone" "$N1/vars/rx"
fails "refers to 'rnone', which no node holds" env FABRIC="$N1" "$FAB_TOOL" move rx "${P}2" recursive
ok setfattr -n user.fabric.refs -v "ry nsmut" "$N1/vars/rx"
wait_says "ry nsmut" xget "$N2/vars/rx" user.fabric.refs
fails "pinned to its node" env FABRIC="$N2" "$FAB_TOOL" move rx "${P}2" recursive
eq "$(xget "$N1/vars/ry" user.fabric.node)" "${P}1" "nothing moved when one referent is refused"
ok setfattr -x user.fabric.refs "$N1/vars/rx"

# kill -9 at a move's two points of no return leaves the variable whole in exactly one owner once both
# nodes are up: FABRIC_TEST_MOVE_PAUSE_MS holds a node there (transfer.h) so the test can kill it there
moves_of() { yp_of "$1" "select count(*) from moves"; }
restart_paused() { # NODE: kill -9 it and mount it again, held at the points of no return
	kill -9 "$(head -n 1 "$FC/state/$1/fabricd.pid")"
	wait_for sh -c "! kill -0 $(head -n 1 "$FC/state/$1/fabricd.pid") 2>/dev/null"
	FABRIC_TEST_MOVE_PAUSE_MS=30000 ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
}
#  the old owner killed after the new one sealed its copy, before it removed its own
mkdata "$T/k" 2000001
ok cp "$T/k" "$N1/vars/k1"
wait_for xattr_is "$N1/vars/k1" user.fabric.state sealed # a kill before the seal's commit drops it
restart_paused "${P}1"
wait_for test -e "$N1/vars/k1"
(FABRIC=$N1 "$FAB_TOOL" move k1 "${P}3" >"$T/k1.out" 2>&1) &
mover=$!
wait_says "${P}3" xget "$N3/vars/k1" user.fabric.node # sealed on n3; n1 holds its answer
eq "$(moves_of "${P}1")" 1 "the move is recorded on the old owner while it is under way"
kill -9 "$(head -n 1 "$FC/state/${P}1/fabricd.pid")"
wait "$mover"
ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_says 0 moves_of "${P}1"
wait_says "${P}3" node_of "${P}2" k1
eq "$(yp_of "${P}1" "select count(*) from objects where name = 'k1' and state = 'sealed'")" 0 "the old owner's copy, after its restart"
same "$T/k" "$N2/vars/k1" "k1 after a kill -9 of its old owner mid-move"
match "$(grep "'k1' is on ${P}3" "$FC/state/${P}1/fabricd.log")" "cut short is finished" "log of the move finished at the restart"
#  the new owner killed after its seal, before its answer: the old owner keeps its copy and says so,
#  then removes it when the new owner is back with the bytes
ok cp "$T/k" "$N1/vars/k2"
restart_paused "${P}3"
wait_for xattr_is "$N1/vars/k2" user.fabric.state sealed
(FABRIC=$N1 "$FAB_TOOL" move k2 "${P}3" >"$T/k2.out" 2>&1) &
mover=$!
wait_says "${P}3" xget "$N3/vars/k2" user.fabric.node
kill -9 "$(head -n 1 "$FC/state/${P}3/fabricd.pid")"
wait "$mover" && bad "a move whose new owner died before its answer succeeded"
match "$(cat "$T/k2.out")" "does not say whether it has it: this node keeps its copy" "the old owner's sentence"
eq "$(moves_of "${P}1")" 1 "the move stays recorded while its new owner is down"
same "$T/k" "$N1/vars/k2" "k2 while the move is open"
ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_says 0 moves_of "${P}1"
wait_says "${P}3" node_of "${P}2" k2
eq "$(yp_of "${P}1" "select count(*) from objects where name = 'k2' and state = 'sealed'")" 0 "the old owner's copy once the new one is back"
same "$T/k" "$N2/vars/k2" "k2 after a kill -9 of its new owner mid-move"
#  a move its target refuses (no room there) ends at once: nothing stays recorded, the copy is kept
ok cp "$T/k" "$N1/vars/k3"
mkdata "$T/filler" $(($(free_of "$N3") - (1 << 20)))
ok cp "$T/filler" "$N3/vars/filler"
fails "not enough capacity" env FABRIC="$N1" "$FAB_TOOL" move k3 "${P}3"
eq "$(moves_of "${P}1")" 0 "a refused move leaves no record"
eq "$(xget "$N1/vars/k3" user.fabric.node)" "${P}1" "a refused move leaves the variable where it was"
ok rm "$N3/vars/filler" "$N1/vars/k3"
# kill -9 of the owner in the middle of a remote read: the reader gets EIO and keeps nothing; once the
# owner is back, the read works (FABRIC_TEST_SEND_PAUSE_MS holds the owner after the first piece)
ok cp "$T/k" "$N1/vars/k4"
wait_for xattr_is "$N1/vars/k4" user.fabric.state sealed
kill -9 "$(head -n 1 "$FC/state/${P}1/fabricd.pid")"
wait_for sh -c "! kill -0 $(head -n 1 "$FC/state/${P}1/fabricd.pid") 2>/dev/null"
FABRIC_TEST_SEND_PAUSE_MS=30000 ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_for test -e "$N2/vars/k4"
r2=$(replicas "${P}2")
(cat "$N2/vars/k4" >"$T/k4.read" 2>"$T/k4.err"; echo $? >"$T/k4.rc") &
reader=$!
wait_for grep -q "part way through sending" "$FC/state/${P}1/fabricd.log"
kill -9 "$(head -n 1 "$FC/state/${P}1/fabricd.pid")"
wait "$reader"
eq "$(cat "$T/k4.rc")" 1 "a remote read whose owner died part way fails"
match "$(cat "$T/k4.err")" "Input/output error|Host is down" "the error of a read whose owner died part way"
eq "$(replicas "${P}2")" "$r2" "replicas after a read cut short"
ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_says up field "$N2/nodes/${P}1/stat" state
same "$T/k" "$N2/vars/k4" "k4 read again once its owner is back"
ok rm "$N1/vars/k4"

# a directory moves whole (recursive says so): its directories, variables (bytes, doc, refs, mode, owner)
# and links, then the old tree goes; refused with a sentence without recursive or with a mutable object in
# it, nothing moved
mktree() { # DIR
	mkdir -p "$1/sub" && cp "$T/r1" "$1/a" && cp "$T/k" "$1/sub/b" && ln -s a "$1/l" &&
		setfattr -n user.fabric.doc -v "a subdirectory" "$1/sub" && setfattr -n user.fabric.refs -v "rx" "$1/a"
}
ok mktree "$N1/vars/tree"
tree_of() { (cd "$1/vars/tree" && find . | sort && cat a sub/b | xxh128sum && readlink l); }
want=$(tree_of "$N1")
fails "moves with everything in it" env FABRIC="$N1" "$FAB_TOOL" move tree "${P}2"
FABRIC=$N1 ok "$FAB_TOOL" mutable tree/pinned 4096
fails "'tree/pinned' is a mutable object" env FABRIC="$N1" "$FAB_TOOL" move tree "${P}2" recursive
eq "$(xget "$N1/vars/tree/a" user.fabric.node)" "${P}1" "nothing of a refused directory moved"
ok rm "$N1/vars/tree/pinned"
FABRIC=$N1 ok "$FAB_TOOL" move tree "${P}2" recursive
match "$(last_out)" $'moved\ttree\nto\t'"${P}2"$'\nbytes\t'"$((3001 + 2000001))" "a directory's move answers its variables' bytes"
for f in tree tree/sub tree/a tree/sub/b tree/l; do wait_says "${P}2" node_of "${P}3" "$f"; done
eq "$(tree_of "$N3")" "$want" "the moved tree, read on a third node"
eq "$(xget "$N2/vars/tree/sub" user.fabric.doc)" "a subdirectory" "a moved directory's doc"
eq "$(xget "$N2/vars/tree/a" user.fabric.refs)" "rx" "a moved variable's refs, inside a directory"
eq "$(yp_of "${P}1" "select count(*) from objects where name in ('tree', 'sub', 'a', 'b', 'l') and state != 'deleted'")" 0 \
   "the old owner's tree, after the move"
eq "$(moves_of "${P}1")$(moves_of "${P}2")" 00 "no move left recorded either way"
#  the new owner killed part way into the tree: it keeps nothing of it, the old owner all of it
restart_paused "${P}3"
(FABRIC=$N2 "$FAB_TOOL" move tree "${P}3" recursive >"$T/tree.out" 2>&1) &
mover=$!
wait_says 1 moves_of "${P}3" # it has the record and the first entry
#  a second move of a name that is moving is refused, not run beside the first (nor settled under it)
fails "'tree' is moving already" env FABRIC="$N2" "$FAB_TOOL" move tree "${P}1" recursive
kill -9 "$(head -n 1 "$FC/state/${P}3/fabricd.pid")"
wait "$mover" && bad "a directory's move whose new owner died part way succeeded"
ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_says 00 sh -c "echo \$(sqlite3 -readonly '$FC/state/${P}2/yp.db' 'select count(*) from moves')\$(sqlite3 -readonly '$FC/state/${P}3/yp.db' 'select count(*) from moves')"
wait_says "${P}2" node_of "${P}1" tree/sub/b
eq "$(yp_of "${P}3" "select count(*) from objects where name in ('tree', 'a', 'b') and state = 'sealed'")" 0 \
   "what came of a tree part way, after its new owner's restart"
eq "$(tree_of "$N1")" "$want" "the tree on its old owner after a kill -9 of the new one part way"
#  the old owner killed after the new owner's answer, before it removed its tree: finished at its restart
restart_paused "${P}2"
(FABRIC=$N2 "$FAB_TOOL" move tree "${P}3" recursive >"$T/tree.out" 2>&1) &
mover=$!
wait_for grep -q "directory 'tree' moved here" "$FC/state/${P}3/fabricd.log"
kill -9 "$(head -n 1 "$FC/state/${P}2/fabricd.pid")"
wait "$mover"
ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_says 00 sh -c "echo \$(sqlite3 -readonly '$FC/state/${P}2/yp.db' 'select count(*) from moves')\$(sqlite3 -readonly '$FC/state/${P}3/yp.db' 'select count(*) from moves')"
for f in tree tree/a tree/sub/b; do wait_says "${P}3" node_of "${P}1" "$f"; done
eq "$(tree_of "$N1")" "$want" "the tree after a kill -9 of its old owner mid-move"
ok rm -r "$N3/vars/tree"

# a transfer that is short, or whose bytes are not the ones promised, never becomes a copy: a made-up
# node in etcd whose "daemon" is a python server that answers each request its own wrong way
"$PY" - "$T/fake.port" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
for answer in ("short", "wrong", "short"):
    c, _ = s.accept()
    c.recv(512)
    if answer == "short":   # says 1,000,000 bytes, sends 1,000
        c.sendall(b"OK 1000000 00000000000000000000000000000001\n" + b"x" * 1000)
    else:                   # the size promised, other bytes than the xxh3 says
        c.sendall(b"OK 1000 00000000000000000000000000000001\n" + b"y" * 1000)
    c.close()
PY
fake=$!
wait_for test -s "$T/fake.port"
ec() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD" "$@" >/dev/null; }
ok ec put "/fabric/$CLUSTER/nodes/${P}f/member" "{\"node\":\"${P}f\",\"addr\":\"127.0.0.1:$(cat "$T/fake.port")\",\"joined_ns\":1}"
ok ec put "/fabric/$CLUSTER/nodes/${P}f/live" "{\"node\":\"${P}f\",\"addr\":\"127.0.0.1:$(cat "$T/fake.port")\",\"capacity\":1,\"free\":1,\"pid\":1,\"up_ns\":1}"
ok ec put "/fabric/$CLUSTER/objects/${P}f/5" '{"parent":2,"name":"fakevar","kind":"var","xxh3":"00000000000000000000000000000001","scope":"any","size":1000,"mode":420,"uid":0,"gid":0,"modified_ns":1,"sealed_ns":1}'
wait_for test -e "$N3/vars/fakevar"
wait_says up field "$N3/nodes/${P}f/stat" state
r3=$(replicas "${P}3")
fails "Input/output error" cat "$N3/vars/fakevar"   # short: 1,000 of 1,000,000 bytes
match "$(grep "fakevar" "$FC/state/${P}3/fabricd.log" | tail -n 1)" "stopped after 1000 of 1000000 bytes" "log of a short transfer"
fails "Input/output error" cat "$N3/vars/fakevar"   # the bytes of another xxh3
match "$(grep "fakevar" "$FC/state/${P}3/fabricd.log" | tail -n 1)" "not the 0+1 promised" "log of a transfer of the wrong bytes"
eq "$(replicas "${P}3")" "$r3" "replicas after two failed transfers"
fails "Input/output error" cat "$N3/vars/fakevar"   # tried afresh at each open, never kept
wait "$fake"
ok ec del "/fabric/$CLUSTER/objects/${P}f/5"
ok ec del "/fabric/$CLUSTER/nodes/${P}f/live"
ok ec del "/fabric/$CLUSTER/nodes/${P}f/member"

# a clean unmount revokes the lease: down at once (no TTL to wait)
same "$T/m4" "$N1/vars/ns2/in" "${P}2's ns2/in read on ${P}1 (its replica, for while ${P}2 is down)"
ok "$FAB_TOOL" umount "$N2"
wait_says down field "$N1/nodes/${P}2/stat" state
same "$T/m4" "$N1/vars/m4" "${P}1's variable while the others come and go"
eq "$(node_of "${P}1" dir2b/in)" "${P}2" "the names of a node that is down stay listed"
fails "Host is down" cat "$N3/vars/dir2b/in"  # never fetched here, and its node is down
same "$T/m4" "$N1/vars/ns2/in" "a replica is served while its node is down"
fails "is down" env FABRIC="$N1" "$FAB_TOOL" move mv_b "${P}2"
test -e "$N3/vars/dir2b/in" || bad "a name of a node that is down is not in the mount"
# while it is down: made and removed elsewhere; it catches up when it is back
ok cp "$T/m4" "$N1/vars/while_down"
ok rm "$N3/vars/many/f7"
wait_says 0 count_of "${P}1" "path = 'many/f7'"

# refusals of the cluster options, each with a sentence; nothing mounted
mkdir -p "$T/bad" "$T/state-bad"
fails "" "$FAB_TOOL" mount "$T/bad" --state "$T/state-bad" --node "${P}7" --etcd http://127.0.0.1:1
match "$(last_err)" "cannot reach etcd at http://127.0.0.1:1" "sentence for an etcd nobody answers at"
fails "" "$FAB_TOOL" mount "$T/bad" --state "$T/state-bad" --node "${P}7" --listen 127.0.0.1:0
match "$(last_err)" "give its etcd too" "sentence for --listen without --etcd"
fails "" "$FAB_TOOL" mount "$T/bad" --state "$T/state-bad" --node "${P}7" --etcd "$ETCD" --listen "127.0.0.1:${ETCD##*:}"
match "$(last_err)" "Address already in use" "sentence for an address in use"
fails "" "$FAB_TOOL" mount "$T/bad" --state "$T/state-bad" --node "${P}7" --etcd "$ETCD" --cluster 'a b'
match "$(last_err)" "cluster name is 1-64" "sentence for a bad cluster name"
is_mounted "$T/bad" && bad "a refused mount is mounted"

# one name, one object: made on two nodes while they could not see each other (n2 mounted alone), the
# one made first keeps the name and the other is renamed NAME~NODE when they meet
mkdata "$T/twin1" 1001
mkdata "$T/twin2" 1002
ok cp "$T/twin1" "$N1/vars/twin"
ok "$FAB_TOOL" mount "$N2" --state "$FC/state/${P}2" --node "${P}2"
ok cp "$T/twin2" "$N2/vars/twin"
ok "$FAB_TOOL" umount "$N2"

# back up: the names made and removed while it was down are in its YP
ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_for test -e "$N2/vars/twin~${P}2"
wait_says "${P}1" xget "$N2/vars/twin" user.fabric.node
same "$T/twin1" "$N2/vars/twin" "the name made first, seen from the node that made it second"
same "$T/twin2" "$N2/vars/twin~${P}2" "the one made second, renamed on its node"
wait_says "${P}1" node_of "${P}3" twin
wait_says "${P}2" node_of "${P}3" "twin~${P}2"
match "$(grep "made vars/twin first" "$FC/state/${P}2/fabricd.log")" "this node's is vars/twin~${P}2 now" "log of the rename"
wait_says "${P}1" node_of "${P}2" while_down
wait_says 0 count_of "${P}2" "path = 'many/f7'"
eq "$(count_of "${P}2" "path like 'many/%' and node = '${P}3' and kind = 'var'")" 199 "the loaded names, less the removed one"

# shards across nodes: one piece on every node that is up, each scoped to its node; every node lists every
# piece, local is its own; another node's piece is listed (size, scope) but never read here (EREMOTE);
# each node's processes count in its own piece and the pieces sum up; nodes= and extend; rm -r everywhere
FABRIC=$N1 ok "$FAB_TOOL" shard ctr 8
eq "$(last_out | cut -f1,2 | tr '\n' ' ')" "${P}1	shards/ctr/${P}1 ${P}2	shards/ctr/${P}2 ${P}3	shards/ctr/${P}3 " "shard's answer: a piece on each node"
for m in "$N1" "$N2" "$N3"; do
	wait_says "$all" ls "$m/shards/ctr"
	eq "$(stat -c %i "$m/shards/ctr/local")" "$(stat -c %i "$m/shards/ctr/$(basename "$m")")" "local is $(basename "$m")'s own piece"
done
eq "$(xget "$N1/shards/ctr/${P}2" user.fabric.scope)" "node:${P}2" "another node's piece: its scope"
eq "$(stat -c %s "$N3/shards/ctr/${P}1")" 8 "another node's piece: its size"
fails "Object is remote" cat "$N1/shards/ctr/${P}2"
fails "File exists" env FABRIC="$N2" "$FAB_TOOL" shard ctr 8
for m in "$N1" "$N2" "$N3"; do
	for p in 1 2; do
		"$PY" - "$m/shards/ctr/local" <<'PY' &
import fcntl, mmap, struct, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 8)
    for _ in range(50):
        fcntl.flock(f, fcntl.LOCK_EX)
        m[0:8] = struct.pack("<Q", struct.unpack("<Q", m[0:8])[0] + 1)
        fcntl.flock(f, fcntl.LOCK_UN)
PY
	done
done
wait
total=0
for m in "$N1" "$N2" "$N3"; do
	total=$((total + $("$PY" -c 'import struct, sys; print(struct.unpack("<Q", open(sys.argv[1], "rb").read(8))[0])' "$m/shards/ctr/local")))
done
eq "$total" 300 "the pieces of three nodes, each counted in by its own processes, summed"
FABRIC=$N2 ok "$FAB_TOOL" shard two 16 nodes="${P}1,${P}3"
wait_says "${P}1
${P}3" ls "$N2/shards/two"  # a node without a piece lists the others'
fails "no node ${P}9" env FABRIC="$N2" "$FAB_TOOL" shard three 16 nodes="${P}1,${P}9"
fails "No such file" ls "$N1/shards/three"
FABRIC=$N2 ok "$FAB_TOOL" shard two extend
eq "$(last_out | cut -f1,2,3)" "${P}2	shards/two/${P}2	16" "extend gives a piece to the node that had none"
FABRIC=$N2 ok "$FAB_TOOL" shard two extend
eq "$(last_out)" "" "extend with every node holding a piece"
fails "no shard nothere" env FABRIC="$N2" "$FAB_TOOL" shard nothere extend
ok rm -r "$N3/shards/two" "$N1/shards/ctr"
for m in "$N1" "$N2" "$N3"; do wait_says "" ls "$m/shards"; done

# tasks on any node: ids unique in the cluster; a spawn runs on the node holding most of its input bytes
# (or the one its scope names); tasks/ID/ reads the same from every node and `fabric wait` wakes on any
# node; after= and in= across nodes; kill and forget from any node; the caller's uid goes with the task
# and a node refuses a uid it has no account for
mkdata "$T/tin" 3000000
ok cp "$T/tin" "$N2/vars/tin"
wait_for test -e "$N1/vars/tin"
ta=$(FABRIC=$N1 "$FAB_TOOL" spawn in=tin out=tout -- sh -c 'head -c 1000 tin > tout; echo "$FABRIC_NODE"') || bad "spawn by ${P}1"
tb=$(FABRIC=$N3 "$FAB_TOOL" spawn "after=$ta" in=tout out=tfinal "scope=node:${P}3" -- sh -c 'cat tout > tfinal; echo "$FABRIC_NODE"') ||
	bad "spawn by ${P}3 after ${P}1's task"
[ "$ta" != "$tb" ] || bad "tasks spawned on two nodes share id $ta"
FABRIC=$N1 ok "$FAB_TOOL" wait "$tb"
eq "$(cat "$N1/tasks/$ta/stdout")" "${P}2" "a task runs on the node of its input, its stdout read from another node"
eq "$(cat "$N1/tasks/$tb/stdout")" "${P}3" "a task with after= on another node's task, placed by its scope"
eq "$(cat "$N2/tasks/$tb/node")" "${P}3" "tasks/ID/node read on a third node"
match "$(cat "$N2/tasks/$ta/status")" "^exited .*exit=0" "tasks/ID/status read on another node"
head -c 1000 "$T/tin" >"$T/tin.head"
same "$T/tin.head" "$N1/vars/tfinal" "an output made from another node's task's output"
ids1=$(ls "$N1/tasks" | sort -n | tr '\n' ' ')
for m in "$N2" "$N3"; do wait_says "$ids1" sh -c "ls '$m/tasks' | sort -n | tr '\n' ' '"; done
FABRIC=$N2 ok "$FAB_TOOL" tasks
match "$(last_out)" "^$ta"$'\texited\t'"${P}2"$'\t0\t' "the tasks table of another node lists ${P}2's task"
match "$(last_out)" $'\n'"$tb"$'\texited\t'"${P}3"$'\t0\t' "the tasks table lists ${P}3's task"
tk=$(FABRIC=$N1 "$FAB_TOOL" spawn "scope=node:${P}3" -- sleep 100) || bad "spawn of a long task"
wait_says running sh -c "cut -d' ' -f1 '$N2/tasks/$tk/status' | head -n 1"
FABRIC=$N2 ok "$FAB_TOOL" kill "$tk"
FABRIC=$N1 "$FAB_TOOL" wait "$tk" >/dev/null && bad "wait for a killed task succeeded"
match "$(cat "$N1/tasks/$tk/status")" "^killed " "a task killed from another node"
fails "has ended already" env FABRIC="$N1" "$FAB_TOOL" kill "$tk"
FABRIC=$N1 ok "$FAB_TOOL" forget "$tk"
for m in "$N1" "$N2" "$N3"; do wait_for sh -c "! test -e '$m/tasks/$tk'"; done
fails "no task 999999" env FABRIC="$N2" "$FAB_TOOL" kill 999999
#  a node killed with -9 takes its running tasks with it: they read `lost` on every other node once it is
#  seen down, and a task after one of them is cancelled; its queued tasks are placed again on a live node
#  inside their scope, with their ids, and run there once; back with its state dir, the node records the
#  running task lost and drops its copy of the queued one
tl=$(FABRIC=$N1 "$FAB_TOOL" spawn "scope=node:${P}3" -- sleep 100) || bad "spawn on ${P}3"
wait_says running sh -c "cut -d' ' -f1 '$N1/tasks/$tl/status' | head -n 1"
td=$(FABRIC=$N1 "$FAB_TOOL" spawn "after=$tl" "scope=node:${P}1" -- true) || bad "spawn after ${P}3's task"
ok cp "$T/m4" "$N3/vars/q_in"
wait_for test -e "$N1/vars/q_in"
tg=$(FABRIC=$N1 "$FAB_TOOL" spawn "scope=node:${P}1" out=q_gate -- sh -c "while ! test -e '$T/q_open'; do sleep 0.05; done; echo open > q_gate") ||
	bad "spawn of the gate"
tq=$(FABRIC=$N1 "$FAB_TOOL" spawn in=q_in,q_gate out=q_out "scope=union:node:${P}2,node:${P}3" -- \
	sh -c 'cat q_gate > q_out; echo "$FABRIC_NODE"') || bad "spawn of a task queued on ${P}3"
eq "$(yp_of "${P}3" "select state from tasks where id = $tq")" queued "the task waits on ${P}3, the node of its input"
kill -9 "$(head -n 1 "$FC/state/${P}3/fabricd.pid")"
FABRIC=$N1 "$FAB_TOOL" wait "$td" >/dev/null && bad "a task after one whose node died ran"
match "$(cat "$N1/tasks/$td/status")" "^cancelled .*ended lost on node ${P}3 \(the node went down while it ran\)" \
	"a dependent of a task whose node was killed"
wait_says lost sh -c "cut -d' ' -f1 '$N2/tasks/$tl/status' | head -n 1"
match "$(cat "$N2/tasks/$tl/status")" "reason: its node ${P}3 went down while it ran" "a running task of a node that is down"
eq "$(cat "$N2/tasks/$tl/exit")" 125 "its exit code, read on another node"
FABRIC=$N2 timeout 60 "$FAB_TOOL" wait "$tl" >/dev/null; eq "$?" 125 "fabric wait for a task whose node died"
wait_says 1 yp_of "${P}2" "select count(*) from tasks where id = $tq"
match "$(grep "task $tq was queued on node ${P}3, which went down: placed again on node ${P}2" "$FC/state/${P}1/fabricd.log")" \
	"placed again" "log of the task placed again"
touch "$T/q_open"
FABRIC=$N1 ok timeout 60 "$FAB_TOOL" wait "$tq"
eq "$(cat "$N1/tasks/$tq/stdout")" "${P}2" "a queued task of a node that died ran on the other node its scope allows"
eq "$(cat "$N2/vars/q_out")" open "its output"
ok "$FAB_TOOL" cluster up 3 --dir "$FC" --capacity 64M --node-prefix "$P"
wait_says lost sh -c "cut -d' ' -f1 '$N1/tasks/$tl/status' | head -n 1"
wait_says 0 yp_of "${P}3" "select count(*) from tasks where id = $tq"
match "$(grep "task $tq was placed on another node" "$FC/state/${P}3/fabricd.log")" "its copy here is dropped" \
	"the node back drops its copy of the task placed elsewhere"
eq "$(cat "$N3/tasks/$tq/node")" "${P}2" "the task placed again, read on the node it left"
test -e "$N3/vars/q_out~${P}3" && bad "the dropped copy's output name is left on ${P}3"
for k in "$tl" "$td" "$tq" "$tg"; do FABRIC=$N2 ok "$FAB_TOOL" forget "$k"; done
ok rm "$N1/vars/q_in" "$N1/vars/q_out" "$N1/vars/q_gate"
#  a map over a shard's pieces: one task per piece, on its node, FABRIC_PIECE its piece and %n its node in
#  out=; then a reduction after all of them, from a third node
FABRIC=$N1 ok "$FAB_TOOL" shard tmap 64
for i in 1 2 3; do wait_for test -e "$N2/shards/tmap/${P}$i"; done
tmap=$(FABRIC=$N2 "$FAB_TOOL" spawn each=shards/tmap out=tm_%n -- sh -c \
	'printf %s "$FABRIC_NODE" | dd of="$FABRIC_PIECE" conv=notrunc status=none && basename "$FABRIC_PIECE" > "tm_$FABRIC_NODE"') ||
	bad "spawn each=shards/tmap"
eq "$(echo "$tmap" | wc -l)" 4 "each= answers its group and one task per piece"
tgroup=$(echo "$tmap" | head -n 1)
tr=$(FABRIC=$N3 "$FAB_TOOL" spawn "after=$tgroup" "in=tm_${P}1,tm_${P}2,tm_${P}3" out=tmall -- \
	sh -c "cat tm_${P}1 tm_${P}2 tm_${P}3 > tmall") || bad "spawn of the reduction"
FABRIC=$N2 ok "$FAB_TOOL" wait "$tr"
eq "$(cat "$N1/tasks/$tgroup/cmd")" "# a group of tasks $(echo "$tmap" | tail -n +2 | tr '\n' , | sed 's/,$//')" "the group's cmd"
match "$(cat "$N3/tasks/$tgroup/status")" "^exited .*exit=0" "the group exited once its tasks did"
eq "$(cat "$N3/tasks/$tgroup/node")" "${P}2" "the group lives on the node that was asked"
for k in $tmap "$tr"; do
	match "$(cat "$N1/tasks/$k/status")" "^exited " "each task of the map, and the reduction"
done
tbad=$(FABRIC=$N1 "$FAB_TOOL" spawn each=shards/tmap -- sh -c '[ "$FABRIC_NODE" != '"${P}2"' ]') || bad "spawn each= that fails on one piece"
FABRIC=$N1 "$FAB_TOOL" wait "$(echo "$tbad" | head -n 1)" >/dev/null && bad "the group of a map with a failed task exited 0"
match "$(cat "$N1/tasks/$(echo "$tbad" | head -n 1)/status")" "^cancelled .*ended failed on node ${P}2" "a group with a failed task"
for k in $tbad; do FABRIC=$N1 ok "$FAB_TOOL" forget "$k"; done
for i in 1 2 3; do
	eq "$(head -c $((${#P} + 1)) "$FC/${P}$i/shards/tmap/${P}$i")" "${P}$i" "the piece of ${P}$i, written by its own task"
done
eq "$(cat "$N1/vars/tmall")" "${P}1
${P}2
${P}3" "the reduction over the map's outputs"
fails "no such shard" env FABRIC="$N1" "$FAB_TOOL" spawn each=shards/nope -- true
ok rm -r "$N1/shards/tmap" "$N1/vars/tmall" "$N1/vars/tm_${P}1" "$N1/vars/tm_${P}2" "$N1/vars/tm_${P}3"
#  a three-stage pipeline, each stage forced onto its own node and spawned from another one, all three at
#  once: each stage waits for the one before it across nodes, and the last ends in the exact bytes
s1=$(FABRIC=$N2 "$FAB_TOOL" spawn "scope=node:${P}1" out=pipe1 -- sh -c 'seq 1 50000 > pipe1') || bad "spawn of stage 1"
s2=$(FABRIC=$N3 "$FAB_TOOL" spawn "scope=node:${P}2" in=pipe1 out=pipe2 -- sh -c 'grep 7 pipe1 | rev > pipe2') ||
	bad "spawn of stage 2"
s3=$(FABRIC=$N1 "$FAB_TOOL" spawn "scope=node:${P}3" in=pipe2 out=pipe3 -- sh -c 'export LC_ALL=C; sort -n pipe2 | uniq -c | sort -rn | head -n 3 > pipe3; wc -l < pipe2 >> pipe3') ||
	bad "spawn of stage 3"
FABRIC=$N2 ok timeout 60 "$FAB_TOOL" wait "$s3"
i=1
for k in "$s1" "$s2" "$s3"; do
	eq "$(cat "$N1/tasks/$k/node")" "${P}$i" "stage $i ran on node $i"
	i=$((i + 1))
done
seq 1 50000 | grep 7 | rev > "$T/pipe2" # the same programs, on the test's own disk
(export LC_ALL=C; sort -n "$T/pipe2" | uniq -c | sort -rn | head -n 3; wc -l < "$T/pipe2") > "$T/pipe3"
same "$T/pipe2" "$N1/vars/pipe2" "the middle stage's output, read on the first node"
same "$T/pipe3" "$N2/vars/pipe3" "the pipeline's end, read on the second node"
for k in "$s1" "$s2" "$s3"; do FABRIC=$N3 ok "$FAB_TOOL" forget "$k"; done
ok rm "$N1/vars/pipe1" "$N1/vars/pipe2" "$N1/vars/pipe3"
#  counters: 1,000 increments under flock, by a map over three pieces (300 each) and by ten plain tasks
#  (10 each) that run beside it on the pieces' nodes, sum to 1,000
FABRIC=$N1 ok "$FAB_TOOL" shard ctr 8
for i in 1 2 3; do wait_for test -e "$N3/shards/ctr/${P}$i"; done
cat > "$T/incr" <<'EOS'
#!/bin/sh
# incr PIECE N: add 1 to the decimal counter in PIECE, N times, each under an exclusive flock
i=0
while [ "$i" -lt "$2" ]; do
	flock "$1" sh -c 'n=$(tr -d "\0 " < "$1"); printf "%8d" $((${n:-0} + 1)) | dd of="$1" conv=notrunc status=none' _ "$1" || exit 1
	i=$((i + 1))
done
EOS
chmod 755 "$T/incr"
tctr=$(FABRIC=$N1 "$FAB_TOOL" spawn each=shards/ctr -- sh -c "$T/incr \"\$FABRIC_PIECE\" 300") || bad "spawn each=shards/ctr"
tplain=
for j in 0 1 2 3 4 5 6 7 8 9; do
	n="${P}$((j % 3 + 1))"
	k=$(FABRIC=$N2 "$FAB_TOOL" spawn "scope=node:$n" "in=shards/ctr/$n" -- sh -c "$T/incr \"\$FABRIC/shards/ctr/local\" 10") ||
		bad "spawn of a plain counter task on $n"
	tplain="$tplain $k"
done
FABRIC=$N3 ok timeout 120 "$FAB_TOOL" wait "$(echo "$tctr" | head -n 1)"
for k in $tplain; do FABRIC=$N3 ok timeout 120 "$FAB_TOOL" wait "$k"; done
sum=0
for i in 1 2 3; do
	v=$(tr -d '\0 ' < "$FC/${P}$i/shards/ctr/${P}$i") # a piece is read on its node (elsewhere: EREMOTE)
	sum=$((sum + ${v:-0}))
done
eq "$sum" 1000 "1,000 increments over three pieces, by a map and plain tasks, sum to 1,000"
for k in $tctr $tplain; do FABRIC=$N1 ok "$FAB_TOOL" forget "$k"; done
#  killing a group kills its tasks that have not ended
tkg=$(FABRIC=$N2 "$FAB_TOOL" spawn each=shards/ctr -- sh -c "while [ ! -e '$T/never' ]; do sleep 0.05; done") ||
	bad "spawn of a map that waits"
for k in $(echo "$tkg" | tail -n +2); do wait_says running sh -c "cut -d' ' -f1 '$N1/tasks/$k/status' | head -n 1"; done
FABRIC=$N3 ok "$FAB_TOOL" kill "$(echo "$tkg" | head -n 1)"
for k in $tkg; do wait_says killed sh -c "cut -d' ' -f1 '$N1/tasks/$k/status' | head -n 1"; done
for k in $tkg; do FABRIC=$N1 ok "$FAB_TOOL" forget "$k"; done
ok rm -r "$N1/shards/ctr"
#  another user's spawn goes with that uid; a node without an account for it refuses it
chmod o+x "$T" "$FC"
fails "Permission denied" setpriv --reuid=4242 --regid=4242 --clear-groups bash -c \
	'exec 3<>"$1/ctl" && echo "spawn scope=node:$2 -- true" >&3' _ "$N1" "${P}2"
ans=$(setpriv --reuid=4242 --regid=4242 --clear-groups bash -c 'exec 3<>"$1/ctl"; echo "spawn scope=node:$2 -- true" >&3; cat <&3' _ "$N1" "${P}2" 2>&1)
match "$ans" "uid 4242 has no account on node ${P}2" "the refusal of an identity the node cannot map"
chmod o-x "$T" "$FC"
#  words that are not UTF-8 cannot travel as JSON: refused for another node, run (and shown, '?' for the
#  byte) where they were spawned
fails "is not UTF-8, so it cannot go to another node" env FABRIC="$N1" "$FAB_TOOL" spawn "scope=node:${P}2" -- printf $'caf\xe9'
tu=$(FABRIC=$N1 "$FAB_TOOL" spawn "scope=node:${P}1" -- printf $'caf\xe9') || bad "spawn of a non-UTF-8 word here"
FABRIC=$N2 ok "$FAB_TOOL" wait "$tu"
eq "$(cat "$N2/tasks/$tu/stdout")" $'caf\xe9' "a non-UTF-8 task's stdout read from another node"
eq "$(cat "$N2/tasks/$tu/cmd")" "printf 'caf?'" "its cmd as another node shows it"
FABRIC=$N2 ok "$FAB_TOOL" forget "$tu"

# drain: everything a node holds goes to the others (the most room first); what cannot go stays, listed
FABRIC=$N3 ok "$FAB_TOOL" mutable pinned3 4096
ok cp "$T/k" "$N3/vars/drain_me"
wait_for test -e "$N1/vars/drain_me"
held3=$(count_of "${P}1" "node = '${P}3' and path not like 'pinned3'")
[ "$held3" -gt 200 ] || bad "${P}3 holds $held3 names before its drain, want the loaded ones and more"
FABRIC=$N3 ok "$FAB_TOOL" shard pin3 8 nodes="${P}3"
wait_for test -e "$N1/shards/pin3/${P}3"
ok mkdir "$N3/datasets/ds3d"
ok sh -c 'echo kept > "$1/k"' _ "$N3/datasets/ds3d"
wait_for test -e "$N1/datasets/ds3d/k"
fails "still holds 3 names that cannot go: pinned3 ('pinned3' is a mutable object" env FABRIC="$N1" "$FAB_TOOL" drain "${P}3"
match "$(last_err)" "shards/pin3/${P}3 \(a shard's piece: pinned to its node\)" "drain lists a shard's piece"
match "$(last_err)" "datasets/ds3d \(a dataset: moving one is not built yet\)" "drain lists a dataset it cannot move"
wait_says 0 count_of "${P}1" "node = '${P}3' and path != 'pinned3'"
eq "$(count_of "${P}2" "node != '${P}3' and (path = 'drain_me' or path like 'many/%')")" 200 "the drained names, on the other nodes"
same "$T/k" "$N3/vars/drain_me" "a drained variable read on the node it left"
eq "$(yp_of "${P}3" "select count(*) from objects where parent = 2 and state = 'sealed' and kind != 'mutable'")" 0 \
   "what the drained node still holds in vars/ but its mutable object"
ok rm "$N3/vars/pinned3"
ok rm -r "$N3/shards/pin3"
eq "$(cat "$N1/datasets/ds3d/k")" kept "a dataset a drain could not move, read from another node"
ok rm -r "$N3/datasets/ds3d"
FABRIC=$N1 ok "$FAB_TOOL" drain "${P}3"
match "$(last_out)" $'objects\t0' "a second drain: nothing left to move"
ok "$FAB_TOOL" umount "$N3"

# down --purge: nothing left
ok "$FAB_TOOL" cluster down "$FC" --purge
[ -d "$FC" ] && bad "cluster down --purge left $FC"
awk -v p="$FC/" 'index($2, p) == 1' /proc/self/mounts | grep -q . && bad "mounts left under $FC"
[ -n "$(ls /dev/shm | grep "^fabric\.$P")" ] && bad "shm blocks of the cluster's nodes left: $(ls /dev/shm | grep "^fabric\.$P")"
pgrep -f "etcd --name fabric-etcd --data-dir $FC/" >/dev/null && bad "etcd still runs after cluster down"
fab_done
