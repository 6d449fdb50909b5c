#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_cluster_partition.sh -- a network partition between nodes: etcd and nodes 1 and 2 listen on an
# address of this machine (`cluster up --host`), node 3 runs in a network namespace of the test's own,
# joined to it by a veth pair.  Taking the veth down cuts node 3 off from etcd and from the other nodes:
# they show it down; a replica of its variable is still served with the same bytes, one without a replica
# is refused (EHOSTDOWN), never served wrong; node 3 goes on serving its own variables and its replicas;
# a read there of a variable it has no replica of fails (EHOSTUNREACH once its neighbour is not found, or
# ETIMEDOUT after 10 s);
# both sides make names, one of them on both; a cut-off node's dataset is listed, its items served where
# there is a replica, EHOSTDOWN where there is none, and by itself as always.  After the heal node 3 is
# up again everywhere, every name made on either side is listed on every node with the same owner and
# xxh3, the name made on both sides is held once (the later one renamed NAME~NODE), and so is the dataset
# made on both sides (the same rule), and every byte reads as it was written.
. "$(dirname "$0")/lib.sh"
fab_setup
command -v etcd >/dev/null || { echo "skip: etcd is not installed (make deps installs etcd-server)"; exit 77; }
command -v ip >/dev/null || { echo "skip: no ip (iproute2) to make a network namespace"; exit 77; }
FC=$T/fp
P=$NODE-p # node names under the test's own name: the generic cleanup removes their shm blocks
NS=fabric-$NODE
VH=fv$$h VN=fv$$n
x=$(($$ % 250 + 1)) y=$((($$ / 250) % 60))
HOSTADDR=10.250.$x.$((y + 1)) # on lo: it stays reachable while the veth is down
VHADDR=10.251.$x.$((y * 4 + 1)) VNADDR=10.251.$x.$((y * 4 + 2))
N1=$FC/${P}1 N2=$FC/${P}2 N3=$FC/${P}3
# the cleanup, in this order: node 3, the cluster, etcd, the namespace (and its veth), the address
fab_at_exit "$FAB_TOOL" umount "$N3"
fab_at_exit "$FAB_TOOL" cluster down "$FC"
fab_at_exit sh -c 'kill -9 "$(cat "$1"/etcd/etcd.pid)"' _ "$FC"
fab_at_exit ip netns del "$NS"
fab_at_exit ip addr del "$HOSTADDR/32" dev lo

if ! ip netns add "$NS" 2>"$T/ns.err"; then
	echo "skip: cannot make a network namespace ($(cat "$T/ns.err"))"
	exit 77
fi
ok ip link add "$VH" type veth peer name "$VN" netns "$NS"
ok ip addr add "$HOSTADDR/32" dev lo
ok ip addr add "$VHADDR/30" dev "$VH"
ok ip link set "$VH" up
ok ip -n "$NS" link set lo up
ok ip -n "$NS" addr add "$VNADDR/30" dev "$VN"
ok ip -n "$NS" link set "$VN" up
ok ip -n "$NS" route add "$HOSTADDR/32" via "$VHADDR"
yp_of() { sqlite3 -readonly "$FC/state/$1/yp.db" "$2"; }
field() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1"; }
# the catalog as node N lists it: every name with its owner and xxh3
catalog() { yp_of "$1" "select path, node, xxh3 from vars order by path"; }

ok "$FAB_TOOL" cluster up 2 --dir "$FC" --capacity 32M --node-prefix "$P" --host "$HOSTADDR"
ETCD=$(. "$FC/cluster.env" && echo "$ETCD")
match "$ETCD" "^http://$HOSTADDR:" "etcd listens on --host's address"
mkdir -p "$N3" "$FC/state/${P}3"
ok nsenter --net="/run/netns/$NS" "$FAB_TOOL" mount "$N3" --state "$FC/state/${P}3" --node "${P}3" --capacity 32M \
	--etcd "$ETCD" --listen "$VNADDR:0" --secret "$FC/secret"
wait_says up field "$N1/nodes/${P}3/stat" state
eq "$(field "$N1/nodes/${P}3/stat" addr | cut -d: -f1)" "$VNADDR" "node 3 is reached at its namespace's address"

mkdata "$T/a" 300001
mkdata "$T/b" 70001
mkdata "$T/c" 5000
mkdata "$T/d" 123457
mkdata "$T/e" 4097
ok cp "$T/a" "$N3/vars/v3"
ok cp "$T/b" "$N3/vars/w3"
ok cp "$T/c" "$N1/vars/v1"
ok cp "$T/c" "$N1/vars/v1b"
wait_for test -e "$N1/vars/w3"
wait_for test -e "$N3/vars/v1b"
same "$T/a" "$N1/vars/v3" "a remote read of node 3's variable before the cut (a replica on node 1)"
same "$T/c" "$N3/vars/v1" "a remote read of node 1's variable on node 3 before the cut"
ok mkdir "$N3/datasets/ds3"
ok sh -c 'echo first > "$1/i1" && echo second > "$1/i2"' _ "$N3/datasets/ds3"
wait_for test -e "$N1/datasets/ds3/i2"
eq "$(cat "$N1/datasets/ds3/i1")" first "an item of node 3's dataset read on node 1 before the cut (a replica)"

# the cut: node 3 reaches neither etcd nor the other nodes
ok ip link set "$VH" down
t0=$(date +%s%N)
wait_says down field "$N1/nodes/${P}3/stat" state
echo "note: node 3 cut off, seen down by node 1 after $((($(date +%s%N) - t0) / 1000000)) ms"
wait_says down field "$N2/nodes/${P}3/stat" state
same "$T/a" "$N1/vars/v3" "node 1's replica of a cut-off node's variable is served as it was"
fails "Host is down" cat "$N1/vars/w3"
fails "Host is down" cat "$N2/vars/v3"
same "$T/b" "$N3/vars/w3" "the cut-off node serves its own variables"
same "$T/c" "$N3/vars/v1" "the cut-off node serves its replica of another node's variable"
eq "$(cat "$N1/datasets/ds3/i1")" first "node 1's replica of a cut-off node's dataset item is served"
fails "Host is down" cat "$N1/datasets/ds3/i2"
eq "$(ls "$N2/datasets/ds3" | tr '\n' ' ')" "i1 i2 " "a cut-off node's dataset is still listed"
eq "$(cat "$N3/datasets/ds3/i2")" second "the cut-off node serves its own dataset's items"
t0=$(date +%s%N)
fails "" timeout 60 cat "$N3/vars/v1b"
match "$(last_err)" "No route to host|Connection timed out" "the cut-off node's read of a variable it has no replica of"
echo "note: the cut-off node's read of a variable it has no replica of failed after $((($(date +%s%N) - t0) / 1000000)) ms"
ok cp "$T/d" "$N1/vars/during1"
ok cp "$T/e" "$N3/vars/during3"
ok sh -c 'echo one > "$1"' _ "$N1/vars/both"
wait_says "${P}1" yp_of "${P}2" "select node from vars where path = 'both'"
ok sh -c 'echo three > "$1"' _ "$N3/vars/both"
eq "$(cat "$N3/vars/both")" three "the cut-off node holds the name it made meanwhile"
ok mkdir "$N1/datasets/dsboth"
ok sh -c 'echo made-on-1 > "$1/k"' _ "$N1/datasets/dsboth"
wait_for test -e "$N2/datasets/dsboth/k"
ok mkdir "$N3/datasets/dsboth"
ok sh -c 'echo made-on-3 > "$1/k"' _ "$N3/datasets/dsboth"
eq "$(cat "$N3/datasets/dsboth/k")" made-on-3 "the cut-off node holds the dataset it made meanwhile"

# the heal
ok ip link set "$VH" up
t0=$(date +%s%N)
wait_says up field "$N1/nodes/${P}3/stat" state
echo "note: node 3 back, seen up by node 1 after $((($(date +%s%N) - t0) / 1000000)) ms"
wait_for test -e "$N3/vars/during1"
wait_for test -e "$N1/vars/during3"
wait_for test -e "$N1/vars/both~${P}3"
wait_for sh -c "[ \"\$(sqlite3 -readonly '$FC/state/${P}1/yp.db' 'select path, node, xxh3 from vars order by path')\" = \"\$(sqlite3 -readonly '$FC/state/${P}3/yp.db' 'select path, node, xxh3 from vars order by path')\" ]"
wait_for sh -c "[ \"\$(sqlite3 -readonly '$FC/state/${P}1/yp.db' 'select path, node, xxh3 from vars order by path')\" = \"\$(sqlite3 -readonly '$FC/state/${P}2/yp.db' 'select path, node, xxh3 from vars order by path')\" ]"
eq "$(catalog "${P}1" | cut -d'|' -f1,2 | tr '\n' ' ')" "both|${P}1 both~${P}3|${P}3 during1|${P}1 during3|${P}3 v1|${P}1 v1b|${P}1 v3|${P}3 w3|${P}3 " \
	"after the heal every node lists every name once, with its owner"
eq "$(cat "$N1/vars/both")" one "the name made on both sides is the one published first"
eq "$(cat "$N2/vars/both~${P}3")" three "the later one, renamed, read on another node"
eq "$(cat "$N3/vars/both")" one "the cut-off node shows the first one under the name"
wait_for test -e "$N1/datasets/dsboth~${P}3"
wait_for sh -c "[ \"\$(ls '$N3/datasets' | tr '\n' ' ')\" = 'ds3 dsboth dsboth~${P}3 ' ]"
eq "$(ls "$N2/datasets" | tr '\n' ' ')" "ds3 dsboth dsboth~${P}3 " "the dataset made on both sides is listed once, the later renamed"
eq "$(cat "$N2/datasets/dsboth/k")" made-on-1 "the dataset name made on both sides is the one made first"
eq "$(cat "$N1/datasets/dsboth~${P}3/k")" made-on-3 "the later dataset, renamed on its node, read on another node"
eq "$(cat "$N3/datasets/dsboth/k")" made-on-1 "the cut-off node shows the first dataset under the name"
same "$T/d" "$N3/vars/during1" "a variable made on node 1 during the cut, read on node 3 after it"
same "$T/e" "$N2/vars/during3" "a variable made on node 3 during the cut, read on node 2 after it"
same "$T/b" "$N1/vars/w3" "the variable refused during the cut reads after it"
same "$T/a" "$N2/vars/v3" "node 3's variable read on node 2 after the heal"
same "$T/c" "$N3/vars/v1b" "the read that timed out during the cut works after it"
eq "$(cat "$N1/datasets/ds3/i2")" second "the dataset item refused during the cut reads after it"
fab_done
