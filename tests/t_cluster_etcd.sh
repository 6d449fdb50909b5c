#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_cluster_etcd.sh -- what a user of two nodes sees when etcd's members fail (a three-member etcd of
# `fabric cluster up --etcd-members 3`): one member killed changes nothing; the leader killed pauses the
# publication of names for the election and then it goes on; every member down leaves local and remote
# reads, creates and moves working (names wait to be published), spawns refused with a sentence when no
# task id is left to take; once etcd is back, every name is published, every node is up again and the
# yellow pages of both nodes agree.
. "$(dirname "$0")/lib.sh"
fab_setup
command -v etcd >/dev/null || { echo "skip: etcd is not installed (make deps installs etcd-server)"; exit 77; }
FC=$T/fe
P=$NODE-e # node names under the test's own name: the generic cleanup removes their shm blocks
fab_at_exit "$FAB_TOOL" cluster down "$FC"
fab_at_exit sh -c 'for f in "$1"/etcd/m*.pid; do [ -s "$f" ] && kill -9 "$(cat "$f")"; done; true' _ "$FC"

ok "$FAB_TOOL" cluster up 2 --dir "$FC" --capacity 32M --node-prefix "$P" --etcd-members 3
N1=$FC/${P}1 N2=$FC/${P}2
for u in $(. "$FC/cluster.env" && echo "${ETCD//,/ }"); do
	match "$("$FAB_TOOL" cluster status "$FC")" "etcd $u healthy" "cluster status lists member $u"
done
ec() { "$FAB_TOOL" cluster etcd "$FC" "$@"; }
yp_of() { sqlite3 -readonly "$FC/state/$1/yp.db" "$2"; }
leader_is_one() { [[ $(ec leader) =~ ^[123]$ ]]; }
mkdata "$T/a" 100001

# one member killed, not the leader: creates, remote reads, moves and spawns go on as before
wait_for leader_is_one
l=$(ec leader)
k=$((l % 3 + 1))
ok ec stop "$k"
ok cp "$T/a" "$N1/vars/a"
wait_for test -e "$N2/vars/a"
same "$T/a" "$N2/vars/a" "a remote read with one etcd member down"
FABRIC=$N1 ok "$FAB_TOOL" move a "${P}2"
t=$(FABRIC=$N1 "$FAB_TOOL" spawn "scope=node:${P}2" -- true) || bad "spawn with one etcd member down"
FABRIC=$N1 ok "$FAB_TOOL" wait "$t"
ok ec start "$k"

# the leader killed: a name made meanwhile is published once a new leader is elected
wait_for leader_is_one
l=$(ec leader)
ok ec stop "$l"
t0=$(date +%s%N)
ok cp "$T/a" "$N1/vars/b"
wait_for test -e "$N2/vars/b"
echo "after the etcd leader was killed, a new name was visible on the other node in $((($(date +%s%N) - t0) / 1000000)) ms"
same "$T/a" "$N2/vars/b" "a name made while etcd elected a leader"
ok ec start "$l"
wait_for leader_is_one

# every member down: reads, creates and moves go on; a spawn that needs a task id is refused
for k in 1 2 3; do ok ec stop "$k"; done
same "$T/a" "$N2/vars/a" "a local read with etcd down"
same "$T/a" "$N1/vars/b" "a local read on the other node with etcd down"
same "$T/a" "$N1/vars/a" "a remote read with etcd down"
ok cp "$T/a" "$N1/vars/c"
FABRIC=$N1 ok "$FAB_TOOL" move b "${P}2"
fails "cannot take a task id from the cluster" env FABRIC="$N1" "$FAB_TOOL" spawn -- true
for k in 1 2 3; do ok ec start "$k"; done
#  etcd back: the name made meanwhile is published, both nodes are up, both YPs agree
wait_for test -e "$N2/vars/c"
same "$T/a" "$N2/vars/c" "a name made while etcd was down, read on the other node"
live() { ETCDCTL_API=3 etcdctl --endpoints="$(. "$FC/cluster.env" && echo "$ETCD")" get --prefix "/fabric/fabric/nodes/" --keys-only | grep -c '/live$'; }
wait_says 2 live # each node took its name again when its lease was found gone
want="a|${P}2 b|${P}2 c|${P}1 "
for n in "${P}1" "${P}2"; do
	wait_says "$want" sh -c "sqlite3 -readonly '$FC/state/$n/yp.db' 'select path, node from vars order by path' | tr '\n' ' '"
done
t=$(FABRIC=$N1 "$FAB_TOOL" spawn -- true) || bad "spawn once etcd is back"
FABRIC=$N1 ok "$FAB_TOOL" wait "$t"
ok "$FAB_TOOL" cluster down "$FC" --purge
fab_done
