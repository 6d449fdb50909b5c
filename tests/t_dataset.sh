#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_dataset.sh -- keyed datasets on one node: datasets/NAME made by mkdir or `dataset make` (limits=, its
# refusals); items written, read, mapped and renamed over like variables, each filed in exactly the leaf
# whose hash range holds its key (the YP's dataset_items and dataset_tree, checked with sqlite3); what a
# dataset refuses (directories, links, a key with a control character, .tree); the four rules seen in
# .tree: leaves split as they fill, the root grows a level through a proxy, merges after deletes and the
# root adopting its only kid bring the height back to 0; poll(2) on .tree wakes when the tree changes; a
# kill -9 while items pour in and leaves split, then a remount: every item that was sealed is there once,
# byte-exact, in its leaf, and the tree goes on growing; dataset drop and rm -r take a dataset away with
# its rows.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --capacity 256M
export FABRIC=$MNT
D=$MNT/datasets
# a consistency query over the YP: items outside their leaf's range, and leaves whose count is not theirs
misfiled() {
	yp "select count(*) from dataset_items i join dataset_tree t on t.id = i.leaf where i.hash < t.lo or i.hash >= t.hi"
}
miscounted() {
	yp "select count(*) from dataset_tree t where t.height = -1 and t.items != (select count(*) from dataset_items i where i.leaf = t.id)"
}
ds_id() { yp "select o.id from objects o join datasets d on d.id = o.id where o.name = '$1'"; }
# the items of dataset $1 in the YP
yp_items() { yp "select count(*) from dataset_items where dataset = $(ds_id "$1")"; }
height() { sed -n '1s/.* height \([0-9-]*\),.*/\1/p' "$D/$1/.tree"; }
leaves() { awk -F'\t' '$4 == "leaf"' "$D/$1/.tree" | wc -l; }
fullest() { awk -F'\t' '$4 == "leaf" && $8 > m { m = $8 } END { print m + 0 }' "$D/$1/.tree"; }

# making one, and what is refused
ok mkdir "$D/profiles"
eq "$(head -c 40 "$D/profiles/.tree")" "# dataset profiles: height 0, 1 managers" ".tree of a new dataset"
match "$(cat "$D/profiles/.tree")" "limits kids:16,items:4096,bytes:67108864,settle:5" "mkdir gives the default limits"
ok "$FAB_TOOL" dataset make small limits=kids:4,items:8,settle:0.3
match "$(last_out)" "^dataset	small" "dataset make answers its name"
match "$(sed -n 1p "$D/small/.tree")" "limits kids:4,items:8,bytes:67108864,settle:0.3$" "limits= as given, canonical"
fails "File exists" "$FAB_TOOL" dataset make small
fails "kids must be" "$FAB_TOOL" dataset make bad limits=kids:1
fails "Invalid argument" "$FAB_TOOL" dataset make bad limits=kids:4,kids:5
fails "Invalid argument" "$FAB_TOOL" dataset make bad limits=color:blue
test -e "$D/bad" && bad "a refused dataset left its directory"
fails "Operation not permitted" touch "$D/loose"
fails "Operation not permitted" mkdir "$D/profiles/sub"
fails "Operation not permitted" ln -s x "$D/profiles/link"
fails "Invalid argument" sh -c 'echo x > "$1"' _ "$D/profiles/"$'bad\001key'
fails "Permission denied" sh -c 'echo x > "$1"' _ "$D/profiles/.tree"
fails "no dataset nope" "$FAB_TOOL" dataset tree nope

# items are variables: written once, read, mapped, renamed over, moved out
ok sh -c 'echo "{\"name\": \"ada\"}" > "$1"' _ "$D/profiles/u1842"
eq "$(cat "$D/profiles/u1842")" '{"name": "ada"}' "an item reads back"
eq "$(xget "$D/profiles/u1842" user.fabric.state)" sealed "an item is sealed at its close"
printf '{"name": "ada"}\n' >"$T/ada"
eq "$(xget "$D/profiles/u1842" user.fabric.xxh3)" "$(xxh128 "$T/ada")" "an item's xxh3"
fails "Read-only file system" sh -c 'echo more >> "$1"' _ "$D/profiles/u1842"
eq "$("$PY" -c 'import mmap, sys
with open(sys.argv[1], "rb") as f:
    print(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)[:15].decode())' "$D/profiles/u1842")" '{"name": "ada"}' "an item maps"
ok sh -c 'echo "{\"name\": \"grace\"}" > "$1"' _ "$D/profiles/.new"
ok mv "$D/profiles/.new" "$D/profiles/u1842"
eq "$(cat "$D/profiles/u1842")" '{"name": "grace"}' "a key gets new bytes by a rename over it"
wait_says 1 yp_items profiles
ok cp "$D/profiles/u1842" "$MNT/vars/outside"
ok mv "$MNT/vars/outside" "$D/profiles/u7"
wait_says 2 yp_items profiles
ok mkdir "$MNT/vars/adir"
fails "Operation not permitted" mv "$MNT/vars/adir" "$D/profiles/adir"
ok "$FAB_TOOL" mutable amut 64
fails "Operation not permitted" mv "$MNT/vars/amut" "$D/profiles/amut"
fails "Operation not permitted" ln "$D/profiles/u7" "$MNT/vars/u7link"
eq "$(ls "$D/profiles" | tr '\n' ' ')" "u1842 u7 " "ls lists the items (not .tree)"
eq "$(ls -A "$D/profiles" | tr '\n' ' ')" "u1842 u7 " "ls -A does not list .tree either (rm -r and tar see items only)"

# bulk: every member of a tar archive or file of a directory an item, in one request, all or nothing
mkdir -p "$T/tarsrc"
for i in $(seq 1 500); do echo "bulk $i" >"$T/tarsrc/b$i"; done
tar -C "$T/tarsrc" -cf "$T/bulk.tar" .
ok "$FAB_TOOL" put profiles "$T/bulk.tar"
eq "$(last_out)" "items	500
bytes	$(cat "$T"/tarsrc/* | wc -c)" "fabric put of a tar into a dataset answers its items and bytes"
wait_says 502 yp_items profiles
eq "$(cat "$D/profiles/b377")" "bulk 377" "an item of the archive"
mkdir -p "$T/dirsrc/sub"
echo one >"$T/dirsrc/d1"
echo deep >"$T/dirsrc/sub/d2"
fails "Operation not permitted" "$FAB_TOOL" dataset put profiles "$T/dirsrc"
test -e "$D/profiles/d1" && bad "a refused put left an item"
rm -r "$T/dirsrc/sub"
echo b1 >"$T/dirsrc/b1"
fails "File exists" "$FAB_TOOL" dataset put profiles "$T/dirsrc"
test -e "$D/profiles/d1" && bad "a put that met an existing key left an item"
fails "takes a directory of files, a tar archive or a FILE.tsv" "$FAB_TOOL" dataset put profiles "$T/ada"
fails "no dataset nope" "$FAB_TOOL" dataset put nope "$T/bulk.tar"
eq "$(yp_items profiles)" 502 "the refused puts changed nothing"

# a TSV: KEY<TAB>VALUE lines, \t \n \r \\ decoded (linear TSV), a value of 100 KB through its own block
want_bytes=$("$PY" - "$T/items.tsv" <<'PY'
import sys
print(len('{"name": "ada"}') + len("one\ttwo\nthree\\four\r") + 0 + 100000 + len("last line, no newline"))
with open(sys.argv[1], "w") as f:
    f.write('t1\t{"name": "ada"}\n')
    f.write("t2\tone\\ttwo\\nthree\\\\four\\r\n\n")   # an empty line is skipped
    f.write("t3\t\n")                                     # an empty value
    f.write("big\t" + "x" * 100000 + "\n")
    f.write("t4\tlast line, no newline")
PY
)
ok "$FAB_TOOL" put profiles "$T/items.tsv"
eq "$(last_out)" "items	5
bytes	$want_bytes" "a TSV's lines as items: their count and decoded bytes"
eq "$(cat "$D/profiles/t1")" '{"name": "ada"}' "a TSV item"
eq "$(od -An -c "$D/profiles/t2" | tr -s ' ' | tr -d '\n')" " o n e \t t w o \n t h r e e \\ f o u r \r" "escapes decoded"
eq "$(stat -c %s "$D/profiles/t3") $(stat -c %s "$D/profiles/big") $(cat "$D/profiles/t4")" "0 100000 last line, no newline" \
	"an empty value, a large one, a last line without a newline"
wait_says 507 yp_items profiles
printf 'u1\tok\nu2 no tab\n' >"$T/bad1.tsv"
fails "bad1.tsv, line 2: no tab" "$FAB_TOOL" dataset put profiles "$T/bad1.tsv"
printf 'u1\tok\nu2\ta\tb\n' >"$T/bad2.tsv"
fails "line 2: more than two fields" "$FAB_TOOL" dataset put profiles "$T/bad2.tsv"
printf 'u1\tok\nu2\tc:\\dir\n' >"$T/bad3.tsv"
fails "line 2: a backslash must start" "$FAB_TOOL" dataset put profiles "$T/bad3.tsv"
printf 'u1\tok\nu/2\tx\n' >"$T/bad4.tsv"
fails "line 2: key 'u/2'" "$FAB_TOOL" dataset put profiles "$T/bad4.tsv"
printf 'u1\tok\nu2\tx\nu1\tagain\n' >"$T/bad5.tsv"
fails "key 'u1' is on line 1 and on line 3" "$FAB_TOOL" dataset put profiles "$T/bad5.tsv"
printf 'u1\tok\nt1\tclash\n' >"$T/bad6.tsv"
fails "bad6.tsv, key t1: cannot make datasets/profiles/t1: it exists already" "$FAB_TOOL" dataset put profiles "$T/bad6.tsv"
test -e "$D/profiles/u1" && bad "a refused TSV put left an item"
eq "$(yp_items profiles)" 507 "the refused TSV puts changed nothing"

# a typed dataset: every item T or N * T; an item's own type narrows T; a misfit is refused, never sealed
fails "type=flaot64 refused: unknown scalar type" "$FAB_TOOL" dataset make pts type=flaot64
test -e "$D/pts" && bad "a refused type left a dataset"
ok "$FAB_TOOL" dataset make pts type="2*double" doc="points of the plane"
eq "$(xget "$D/pts" user.fabric.type)" "2 * float64" "a dataset's type, canonical, on its directory"
eq "$(xget "$D/pts" user.fabric.doc)" "points of the plane" "a dataset's doc on its directory"
"$PY" -c 'import struct, sys; sys.stdout.buffer.write(struct.pack("<6d", *range(6)))' >"$T/three.bin"
head -c 16 "$T/three.bin" >"$T/one.bin"
head -c 20 "$T/three.bin" >"$T/odd.bin"
ok cp "$T/one.bin" "$D/pts/p1"
eq "$(xget "$D/pts/p1" user.fabric.type)" "2 * float64" "an item of T's bytes is of type T"
ok cp "$T/three.bin" "$D/pts/p3"
eq "$(xget "$D/pts/p3" user.fabric.type)" "3 * 2 * float64" "an item of three T is of type 3 * T"
eq "$(xget "$D/pts/p3" user.fabric.doc)" "points of the plane" "an item without a doc has its dataset's"
ok setfattr -n user.fabric.doc -v "the third" "$D/pts/p3"
eq "$(xget "$D/pts/p3" user.fabric.doc)" "the third" "an item's own doc"
fails "Invalid argument" cp "$T/odd.bin" "$D/pts/podd"
wait_for sh -c "! test -e '$D/pts/podd'"
fails "Invalid argument" touch "$D/pts/pempty"
wait_for sh -c "! test -e '$D/pts/pempty'"
fails "Invalid argument" setfattr -n user.fabric.type -v "4 * float64" "$D/pts/p1"
fails "Invalid argument" setfattr -n user.fabric.type -v "2 * float32" "$D/pts/p1"
ok setfattr -n user.fabric.type -v "1 * 2 * float64" "$D/pts/p1"
eq "$(xget "$D/pts/p1" user.fabric.type)" "1 * 2 * float64" "an item's own type may narrow T"
"$PY" - "$D/pts/p6" <<'PY' || bad "an item typed while written (6 * float64 does not narrow 2 * float64) was not refused"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
try:
    os.setxattr(fd, "user.fabric.type", b"6 * float64")
    sys.exit(1)
except OSError as e:
    sys.exit(0 if e.errno == errno.EINVAL else 1)
finally:
    try:
        os.close(fd)
    except OSError as e:  # empty: its close says EINVAL too
        pass
PY
wait_for sh -c "! test -e '$D/pts/p6'"
cp "$T/odd.bin" "$MNT/vars/odd"
fails "Operation not permitted" mv "$MNT/vars/odd" "$D/pts/podd"
cp "$T/three.bin" "$MNT/vars/fits"
ok mv "$MNT/vars/fits" "$D/pts/pfits"
eq "$(xget "$D/pts/pfits" user.fabric.type)" "3 * 2 * float64" "a variable renamed into a typed dataset takes its type"
mkdir -p "$T/ptsrc"
cp "$T/one.bin" "$T/ptsrc/a"; cp "$T/three.bin" "$T/ptsrc/b"; cp "$T/odd.bin" "$T/ptsrc/c"
fails "c: 20 bytes are not a whole number of the dataset's '2 * float64'" "$FAB_TOOL" dataset put pts "$T/ptsrc"
test -e "$D/pts/a" && bad "a put refused for one misfit left an item"
rm "$T/ptsrc/c"
ok "$FAB_TOOL" dataset put pts "$T/ptsrc"
eq "$(xget "$D/pts/a" user.fabric.type) / $(xget "$D/pts/b" user.fabric.type)" "2 * float64 / 3 * 2 * float64" \
	"a put's items take the dataset's type"
eq "$(ls "$D/pts" | tr '\n' ' ')" "a b p1 p3 pfits " "only the fitting items are there"

# growth: leaves split as they pass 8 items, the root grows through proxies (its id stays)
root0=$(awk -F'\t' '$2 == "0" { print $1 }' "$D/small/.tree")
for i in $(seq 1 150); do echo "item $i" >"$D/small/k$i" || bad "write of item k$i"; done
wait_says 150 yp_items small
wait_for sh -c "[ \"\$(awk -F'\t' '\$4 == \"leaf\" && \$8 > 8' '$D/small/.tree' | wc -l)\" = 0 ]"
match "$(sed -n 1p "$D/small/.tree")" "150 items" ".tree counts every item"
h=$(height small)
[ "${h:-0}" -ge 2 ] || bad "150 items with kids:4,items:8 should raise the tree to height 2 or more, got $h"
eq "$(awk -F'\t' '$2 == "0" { print $1 }' "$D/small/.tree")" "$root0" "the root keeps its id as proxies push its kids down"
[ "$(leaves small)" -ge 19 ] || bad "150 items in leaves of 8 at most need 19 leaves or more, got $(leaves small)"
[ "$(awk -F'\t' '$4 == "manager" && $7 > 4' "$D/small/.tree" | wc -l)" = 0 ] || bad "a manager has more than 4 kids"
eq "$(misfiled)" 0 "every item is in the leaf whose range holds its hash"
eq "$(miscounted)" 0 "every leaf counts its own items"
ok "$FAB_TOOL" json dataset tree small
eq "$("$PY" -c 'import json, sys; d = json.load(sys.stdin); print(d["height"], sum(n["items"] for n in d["nodes"] if n["kind"] == "leaf"))' <"$T/.last.out")" "$h 150" "dataset tree as JSON"
eq "$(cat "$D/small/k77")" "item 77" "an item after the splits"

# poll on .tree wakes when the tree changes (here: its counts)
"$PY" - "$D/small/.tree" >"$T/poll.out" 2>&1 <<'PY' &
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 1 << 20)
p = select.poll()
p.register(fd, select.POLLIN)
print("woke" if p.poll(20000) else "timeout", flush=True)
PY
pollpid=$!
in_poll() { grep -q poll "/proc/$pollpid/wchan" 2>/dev/null; } # asleep in poll(2), before the change
wait_for in_poll
ok sh -c 'echo x > "$1"' _ "$D/small/wake"
wait "$pollpid"
eq "$(cat "$T/poll.out")" woke "poll on .tree wakes on a change"

# shrinking: after the deletes, merges and the root's adoption bring it back to the minimal tree
for i in $(seq 1 149); do rm -f "$D/small/k$i"; done
rm -f "$D/small/wake"
wait_says 1 yp_items small
wait_says 0 height small
eq "$(leaves small)" 1 "one leaf once merged"
eq "$(cat "$D/small/k150")" "item 150" "the last item after the merges"
eq "$(misfiled)" 0 "items in their leaves after the merges"

# kill -9 while items pour in and leaves split; after the remount every sealed item is there, once
ok "$FAB_TOOL" dataset make crash limits=kids:4,items:8,settle:60
"$PY" - "$D/crash" >"$T/writer.out" 2>&1 <<'PY' &
import os, sys
d = sys.argv[1]
for i in range(100000):
    try:
        with open(os.path.join(d, "c%d" % i), "w") as f:
            f.write("crash item %d\n" % i)
    except OSError:
        break
    print(i, flush=True)
PY
writer=$!
wait_for sh -c "[ \"\$(wc -l < '$T/writer.out')\" -ge 300 ]"
pid=$(daemon_pid)
kill -9 "$pid"
dead() { ! alive "$pid"; }
wait_for dead
wait "$writer" 2>/dev/null
"$FAB_TOOL" umount "$MNT" >/dev/null 2>&1 || umount -l "$MNT" 2>/dev/null
fab_mount --capacity 256M
n=$(ls "$D/crash" | wc -l)
[ "$n" -ge 300 ] || bad "only $n items after the crash, the writer had closed 300 or more"
eq "$(yp_items crash)" "$n" "the YP files every item the directory lists, once"
eq "$(misfiled)" 0 "after the crash, every item in the leaf of its hash"
eq "$(miscounted)" 0 "after the crash, every leaf's count is its items'"
badbytes=0
for f in "$D"/crash/c*; do
	[ "$(cat "$f")" = "crash item ${f##*/c}" ] || badbytes=$((badbytes + 1))
done
eq "$badbytes" 0 "every item after the crash holds its own bytes"
for i in $(seq 1 40); do echo "after $i" >"$D/crash/after$i"; done
wait_for sh -c "[ \"\$(awk -F'\t' '\$4 == \"leaf\" && \$8 > 8' '$D/crash/.tree' | wc -l)\" = 0 ]"
eq "$(misfiled)" 0 "the tree grows on after the crash"

# dataset drop: the dataset and every item in one request, its rows with it; an item open for reading
# keeps its bytes (as after unlink)
ok "$FAB_TOOL" dataset make dropme
for i in $(seq 1 300); do echo "drop $i" >"$D/dropme/d$i" || bad "item d$i"; done
wait_says 300 yp_items dropme
dropid=$(ds_id dropme)
exec 7<"$D/dropme/d42"
ok "$FAB_TOOL" dataset drop dropme
eq "$(last_out)" "dropped	dropme
items	300" "dataset drop answers its name and items"
test -e "$D/dropme" && bad "dataset drop left datasets/dropme"
eq "$(cat <&7)" "drop 42" "an item open across the drop still reads"
exec 7<&-
eq "$(yp "select count(*) from dataset_items where dataset = $dropid") $(yp "select count(*) from dataset_tree where dataset = $dropid") $(yp "select count(*) from objects where parent = $dropid and state in ('writing', 'sealed')")" \
	"0 0 0" "no item, tree or object row of a dropped dataset"
fails "no dataset dropme" "$FAB_TOOL" dataset drop dropme
fails "no dataset crash" "$FAB_TOOL" dataset drop crash/x

# rm -r takes a dataset away, its rows with it
ok rm -r "$D/crash"
test -e "$D/crash" && bad "rm -r left datasets/crash"
eq "$(yp "select count(*) from dataset_tree t where not exists (select 1 from datasets d where d.id = t.dataset)")" 0 \
	"no tree rows of a removed dataset"
eq "$(yp "select count(*) from datasets")" 3 "the other datasets stay"
fab_done
