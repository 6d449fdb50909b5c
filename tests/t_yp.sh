#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_yp.sh -- the yellow pages: sqlite3 -readonly on $ST/yp.db while mounted; nodes, objects (leaf name,
# parent directory, kind, type, doc, size, xxh3, scope, state, node), blocks and extents that agree with
# the locations xattr, the vars view with full paths; changes (write, seal, rm, mv) show up; queries keep
# working while variables are being written.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --capacity 64M

V=$MNT/vars
mkdata "$T/w" 6400
mkdata "$T/c" 300
ok mkdir "$V/run1"
ok mkdir "$V/run1/sub"
ok cp "$T/w" "$V/run1/w"
ok cp "$T/c" "$V/c"
cat "$V/run1/w" "$V/c" >/dev/null # waits for the seals
ok setfattr -n user.fabric.type -v "40*20*float64" "$V/run1/w"
ok setfattr -n user.fabric.doc -v "the weights" "$V/run1/w"
x=$(xget "$V/run1/w" user.fabric.xxh3)

# The query of the spec, while mounted.
ok sqlite3 -readonly "$ST/yp.db" 'select name,type,size from objects'
last_out | grep -qxF "w|40 * 20 * float64|6400" || bad "objects has no row w|40 * 20 * float64|6400: $(last_out | tr '\n' ';')"

# nodes
eq "$(yp "select name, capacity from nodes")" "$NODE|67108864" "the nodes table"
match "$(yp "select shm_prefix from nodes where name = '$NODE'")" "^fabric\.$NODE\.[0-9a-f]+\.\$" "shm_prefix"

# objects: leaf names, parents, kinds, state, xxh3, scope, node.
eq "$(yp "select d.kind, w.kind, w.state, w.size, w.xxh3, w.scope, w.doc
	from objects w join objects d on w.parent = d.id
	where w.name = 'w' and d.name = 'run1' and w.state = 'sealed'")" \
	"dir|var|sealed|6400|$x|any|the weights" "objects row of run1/w and its parent"
eq "$(yp "select count(*) from objects o join nodes n on (o.node = n.id or o.node = n.name)
	where o.name = 'w' and o.state = 'sealed' and n.name = '$NODE'")" 1 "node of run1/w"
eq "$(yp "select count(*) from objects s join objects d on s.parent = d.id
	where s.name = 'sub' and s.kind = 'dir' and d.name = 'run1'")" 1 "objects row of run1/sub"

# blocks and extents agree with the locations xattr.
read -r lnode lshm loff llen <<<"$(xget "$V/run1/w" user.fabric.locations)"
eq "$(yp "select b.shm_name, e.offset, e.length from extents e
	join blocks b on b.id = e.block join objects o on o.id = e.object
	where o.name = 'w' and o.state = 'sealed'")" "$lshm|$loff|$llen" "extents and blocks of run1/w"
eq "$lnode" "$NODE" "locations node"

# The vars view: full paths under vars/.
eq "$(yp "select path, kind, type, doc, size, xxh3, scope, state from vars where path = 'run1/w'")" \
	"run1/w|var|40 * 20 * float64|the weights|6400|$x|any|sealed" "vars view of run1/w"
eq "$(yp "select path, kind from vars where kind = 'dir' order by path" | tr '\n' ' ')" \
	"run1|dir run1/sub|dir " "directories in the vars view"
eq "$(yp "select path, size, state from vars where kind = 'var' order by path" | tr '\n' ' ')" \
	"c|300|sealed run1/w|6400|sealed " "variables in the vars view"

# A variable being written has no row yet (its rows come with its seal, in one transaction), then shows
# sealed with its size and xxh3.
exec 3>"$V/run1/p"
printf abc >&3
wait_for xattr_is "$V/run1/p" user.fabric.state writing
eq "$(yp "select count(*) from objects where name = 'p'")" 0 "rows of a variable being written"
exec 3>&-
printf abc >"$T/abc"
is_sealed() { [ "$(yp "select state || '|' || size from vars where path = 'run1/p'")" = "sealed|3" ]; }
wait_for is_sealed
eq "$(yp "select xxh3 from vars where path = 'run1/p'")" "$(xxh128 "$T/abc")" "xxh3 in the YP after the seal"

# rm and mv show up at once.
ok rm "$V/c"
eq "$(yp "select count(*) from vars where path = 'c'")" 0 "a removed variable in the vars view"
ok mv "$V/run1" "$V/run2"
eq "$(yp "select path from vars where path like 'run%' order by path" | tr '\n' ' ')" \
	"run2 run2/p run2/sub run2/w " "the vars view after renaming a directory"

# Read-only queries keep working while variables are being written.
ok mkdir "$V/busy"
(
	for i in $(seq 40); do
		cp "$T/w" "$V/busy/f$i" || exit 1
	done
) &
writer=$!
qfail=0
for i in $(seq 40); do
	sqlite3 -readonly "$ST/yp.db" "select count(*) from vars" >/dev/null 2>"$T/q.err" || {
		qfail=$((qfail + 1))
		qerr=$(cat "$T/q.err")
	}
done
eq "$qfail" 0 "failed read-only queries during writes${qerr:+ (last: $qerr)}"
wait_exit $writer "the cp loop" || bad "the cp loop beside the queries failed"
cat "$V/busy/f40" >/dev/null
all_sealed() { [ "$(yp "select count(*) from vars where path like 'busy/%' and state = 'sealed'")" = 40 ]; }
wait_for all_sealed

fab_done
