#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_load_many.sh -- many objects in one request: `load NAME DIR` and `load NAME FILE.tar` (GNU, pax,
# ustar archives; long names; hard and symbolic links; base-256 sizes) give NAME/ equal to the tree, byte
# for byte, by xxh3 and in the YP, every variable sealed when the answer comes; refusals (a '..' or
# absolute member, a link out of the tree, a cut archive, a FIFO, a file the caller may not read, a
# member of no known type, a hard link to nothing, capacity up front and part way) fail with their errno
# and a sentence naming the member, and leave nothing of the request: no name, no YP row, no shm block.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_public_tools
fab_mount --capacity 256M
V=$MNT/vars
export FABRIC=$MNT
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env FABRIC="$MNT" "$@"; }
blocks() { ls /dev/shm | grep -c "^fabric\.$1\." ; }
objects() { yp "select count(*) from objects"; }

# nothing NAME WHAT: the request that made NAME left nothing: no name, the same rows and shm blocks as
# before it ($rows0, $blocks0, taken by snap)
snap() { rows0=$(objects); blocks0=$(blocks "$NODE"); }
nothing() {
	[ -e "$V/$1" ] || [ -L "$V/$1" ] && bad "$2: vars/$1 is there after a refused load"
	eq "$(objects)" "$rows0" "$2: rows in objects after the refused load"
	eq "$(blocks "$NODE")" "$blocks0" "$2: shm blocks after the refused load"
}

# ---- a tree of a few hundred files in nested directories ------------------------------------------------
"$PY" - "$T/tree" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(13)
os.makedirs(root)
n = 0
for a in range(6):
    for b in range(5):
        d = os.path.join(root, "a%d" % a, "b%d" % b)
        os.makedirs(d)
        for f in range(10):
            size = rnd.choice([0, 1, 100, 4096, 5000, 65535, 65536, 70000])
            with open(os.path.join(d, "f%02d" % f), "wb") as o:
                o.write(rnd.randbytes(size))
            n += 1
os.makedirs(os.path.join(root, "empty", "deeper"))
with open(os.path.join(root, "big"), "wb") as o:                       # O_DIRECT, several io_uring chunks
    o.write(rnd.randbytes(3 * 1024 * 1024 + 17))
long = os.path.join(root, "long", "d" * 60, "e" * 60)                   # paths past ustar's 100 bytes
os.makedirs(long)
with open(os.path.join(long, "short"), "wb") as o:
    o.write(b"under a long directory\n")
with open(os.path.join(root, "long", "n" * 120), "wb") as o:            # a leaf past 100 bytes
    o.write(b"a long leaf\n")
os.symlink("../a1/b2/f03", os.path.join(root, "a0", "up"))
os.symlink("b1", os.path.join(root, "a0", "side"))
os.symlink("../../" + "d" * 60 + "/" + "e" * 60 + "/short", os.path.join(long, "back"))  # target > 100 bytes
os.link(os.path.join(root, "a2", "b3", "f04"), os.path.join(root, "a0", "hard"))
os.chmod(os.path.join(root, "a3", "b0", "f01"), 0o640)
PY
files=$(find "$T/tree" -type f | wc -l)
dirs=$(find "$T/tree" -type d | wc -l)
links=$(find "$T/tree" -type l | wc -l)
vars=$(find "$T/tree" -type f -printf '%i\n' | sort -u | wc -l)
bytes=$(find "$T/tree" -type f -printf '%i %s\n' | sort -u | awk '{ s += $2 } END { print s }')
want=$'variables\t'$vars$'\ndirectories\t'$dirs$'\nlinks\t'$links$'\nhard_links\t'$((files - vars))$'\nbytes\t'$bytes

# xxh3 of every file of the tree, "PATH HASH" lines (taken once: the tree does not change)
sums_t=$(cd "$T/tree" && find . -type f | sort | while read -r f; do echo "${f#./} $(xxh128 "$f")"; done)
# the same of a directory of the fabric, from user.fabric.xxh3 (one getfattr for the whole tree)
sums_of() {
	(cd "$1" && getfattr -R -h --absolute-names -n user.fabric.xxh3 . 2>/dev/null) |
		awk '/^# file: / { f = substr($0, 9); sub(/^\.\//, "", f) } /^user.fabric.xxh3=/ { v = $0; sub(/^[^"]*"/, "", v); sub(/"$/, "", v); print f, v }' |
		sort
}

# same_tree NAME WHAT: vars/NAME is the tree: diff, every variable's xxh3, the YP's rows, one inode for the
# hard link, every variable sealed
same_tree() {
	local name=$1 what=$2
	diff -r --no-dereference "$T/tree" "$V/$name" >"$T/.diff" 2>&1 || { bad "$what: vars/$name differs from the tree:"; head -n 5 "$T/.diff" >&2; }
	eq "$(sums_of "$V/$name")" "$sums_t" "$what: user.fabric.xxh3 of every variable vs xxh128sum of the tree"
	eq "$(yp "select count(*) from vars where path like '$name/%' and kind = 'var' and state = 'sealed'")" "$files" \
		"$what: sealed variables in the YP when the answer came"
	eq "$(yp "select count(distinct object) from vars where path like '$name/%' and kind = 'var'")" "$vars" "$what: objects in the YP"
	eq "$(yp "select count(*) from vars where (path = '$name' or path like '$name/%') and kind = 'dir'")" "$dirs" "$what: directories in the YP"
	eq "$(yp "select count(*) from vars where path like '$name/%' and kind = 'link'")" "$links" "$what: links in the YP"
	eq "$(stat -c %i "$V/$name/a0/hard")" "$(stat -c %i "$V/$name/a2/b3/f04")" "$what: the hard link is one inode"
	eq "$(stat -c %h "$V/$name/a0/hard")" 2 "$what: st_nlink of the hard link"
	eq "$(readlink "$V/$name/a0/up")" "../a1/b2/f03" "$what: a symbolic link's target"
}

ok ctl "load tree $T/tree doc=\"from the tree\""
eq "$(last_out)" "$want" "answer of load DIR"
same_tree tree "load DIR"
eq "$(xget "$V/tree/a1/b1/f01" user.fabric.doc)" "from the tree" "doc= goes to every variable"
eq "$(stat -c %a "$V/tree/a3/b0/f01")" 440 "a file of mode 0640 keeps its bits, sealed (no write bits)"
eq "$(xget "$MNT" user.fabric.loads)" "" "no load in flight after the answer"

# the same tree through fabric put, with mode= for every variable, and as JSON
ok "$FAB_TOOL" put put1 "$T/tree" mode=0400
eq "$(last_out)" "$want" "fabric put NAME DIR"
eq "$(stat -c %a "$V/put1/a1/b1/f02")" 400 "mode= goes to every variable"
ok ctl "json load js $T/tree"
ok "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["variables"] == int(sys.argv[2]) and d["links"] == int(sys.argv[3]), d' "$(last_out)" "$vars" "$links"

# ---- fabric.manifest at the top of DIR: types and docs of its files, read and not loaded ---------------
mkdir -p "$T/mtree/sub"
"$PY" -c 'import numpy as np; np.arange(800, dtype="float64").tofile("'"$T/mtree/w.bin"'")'
echo abc >"$T/mtree/sub/x"
ln "$T/mtree/sub/x" "$T/mtree/x2"
printf 'w.bin\ttype=40 * 20 * float64\tdoc=layer 3 weights\n# a comment, and an empty line\n\n./x2\tdoc=four bytes\n' >"$T/mtree/fabric.manifest"
ok ctl "load m $T/mtree"
match "$(last_out)" $'^variables\t2\n' "a manifest is read, not loaded"
[ -e "$V/m/fabric.manifest" ] && bad "fabric.manifest was loaded as a variable"
eq "$(xget "$V/m/w.bin" user.fabric.type)" "40 * 20 * float64" "type from the manifest"
eq "$(xget "$V/m/w.bin" user.fabric.doc)" "layer 3 weights" "doc from the manifest"
eq "$(xget "$V/m/sub/x" user.fabric.doc)" "four bytes" "a manifest line for one name of a hard-linked file"
snap
bad_manifest() { # LINE ERRNO SENTENCE WHAT
	printf '%s\n' "$1" >"$T/mtree/fabric.manifest"
	fails "$2" ctl "load mbad $T/mtree"
	match "$(last_err)" "fabric.manifest line 1: $3" "sentence for $4"
	nothing mbad "$4"
}
bad_manifest $'nothere\tdoc=x' "Invalid argument" "nothere is no file of" "a manifest line naming no file"
bad_manifest $'w.bin\ttype=3 * float64' "Invalid argument" "type '3 \\* float64' is 24 bytes, but w.bin has 6400" "a type that does not fit"
bad_manifest $'w.bin\tcolour=red' "Invalid argument" "'colour=red' is not type=T or doc=D" "a manifest field of no known key"
bad_manifest $'sub\tdoc=x' "Invalid argument" "sub is a directory" "a manifest line naming a directory"
rm "$T/mtree/fabric.manifest"

# ---- the same tree as tar archives ----------------------------------------------------------------------
ok tar -C "$T/tree" -cf "$T/gnu.tar" .
ok ctl "load gnu $T/gnu.tar"
eq "$(last_out)" "$want" "answer of load of a GNU tar"
same_tree gnu "GNU tar ('L' and 'K' long names, '1' hard link)"
ok tar -C "$T/tree" --format=posix -cf "$T/pax.tar" .
ok "$FAB_TOOL" put pax "$T/pax.tar"
eq "$(last_out)" "$want" "answer of fabric put of a pax tar"
same_tree pax "pax tar (path and linkpath records)"
deep=$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})/short # 127 bytes: ustar's prefix and name
ok tar -C "$T/tree/long" --format=ustar -cf "$T/ustar.tar" "$deep"
ok ctl "load ustar $T/ustar.tar"
same "$T/tree/long/$deep" "$V/ustar/$deep" "a ustar member named by prefix and name"
ok tar -C "$T/tree" -cf "$T/members.tar" a1/b1/f01 a1/b2 # no entries for a1 nor a1/b1: made as mkdir -p would
ok ctl "load members $T/members.tar"
same "$T/tree/a1/b1/f01" "$V/members/a1/b1/f01" "a member whose directories the archive does not list"
eq "$(ls "$V/members/a1/b2" | wc -l)" 10 "a directory member and its files"
ok cp "$T/gnu.tar" "$T/archive.bin"           # a tar archive is known by its content, not by its name
ok ctl "load byname $T/archive.bin"
ok diff -r --no-dereference "$T/tree" "$V/byname"

# hard links of a tar: one inode; pax 'g' headers skipped; GNU base-256 sizes; old-style directories
"$PY" - "$T" <<'PY'
import io, tarfile, sys
t = sys.argv[1]
with tarfile.open(t + "/hard.tar", "w", format=tarfile.GNU_FORMAT) as z:
    i = tarfile.TarInfo("x/one"); i.size = 5; z.addfile(i, io.BytesIO(b"12345"))
    i = tarfile.TarInfo("y/two"); i.type = tarfile.LNKTYPE; i.linkname = "x/one"; z.addfile(i)
with tarfile.open(t + "/global.tar", "w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "global"}) as z:
    i = tarfile.TarInfo("g/a"); i.size = 3; i.pax_headers = {"comment": "per member"}; z.addfile(i, io.BytesIO(b"abc"))
# a GNU header whose size is base-256 (what GNU tar writes past 8 GiB), and a directory named 'old/' of type '0'
def header(name, size_field, typ=b"0"):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"; h[108:116] = b"0000000\0"; h[116:124] = b"0000000\0"
    h[124:136] = size_field; h[136:148] = b"00000000000\0"; h[156:157] = typ
    h[257:265] = b"ustar  \0"
    h[148:156] = b"        "
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)
with open(t + "/b256.tar", "wb") as f:
    f.write(header(b"old/", b"00000000000\0"))
    f.write(header(b"old/n", b"\x80" + (7).to_bytes(11, "big")))
    f.write(b"seven!\n".ljust(512, b"\0"))
    f.write(bytes(1024))
PY
ok ctl "load hard $T/hard.tar"
match "$(last_out)" $'hard_links\t1' "answer of a tar with a hard link"
eq "$(stat -c %i "$V/hard/y/two")" "$(stat -c %i "$V/hard/x/one")" "a tar's hard link is one inode after load"
eq "$(cat "$V/hard/y/two")" 12345 "the hard link's bytes"
ok ctl "load global $T/global.tar"
eq "$(cat "$V/global/g/a")" abc "a pax archive with global and per-member headers"
ok ctl "load b256 $T/b256.tar"
eq "$(cat "$V/b256/old/n")" "seven!" "a member whose size is in GNU base-256"
[ -d "$V/b256/old" ] || bad "an old-style directory (type '0', name ending in '/') is no directory"

# ---- small files go straight into slab pages: no shm block of their own, not even for a moment ----------
# Every block, a variable's own or a slab, takes the next block id; so a variable with a block of its own
# made after the load shows how many the load took: one more slab at most.
mkdir "$T/small"
"$PY" -c 'import os, random, sys
rnd = random.Random(7)
for i in range(200):
    open("%s/s%03d" % (sys.argv[1], i), "wb").write(rnd.randbytes(rnd.randint(0, 4096)))' "$T/small"
ok cp "$T/tree/big" "$V/own1"
wait_for xattr_is "$V/own1" user.fabric.state sealed
before=$(yp "select max(id) from blocks")
ok ctl "load small $T/small"
match "$(last_out)" $'variables\t200' "answer of a load of 200 small files"
ok diff -r "$T/small" "$V/small"
eq "$(yp "select count(*) from objects o join extents e on e.object = o.id join blocks b on b.id = e.block
	  where o.parent = (select id from objects where name = 'small' and kind = 'dir') and b.kind = 'slab'")" 200 \
   "loaded small files whose extent is in a slab"
ok cp "$T/tree/big" "$V/own2"
wait_for xattr_is "$V/own2" user.fabric.state sealed
after=$(yp "select max(id) from blocks")
[ $((after - before)) -le 2 ] || bad "a load of 200 small files took $((after - before - 1)) block ids (a block each?)"
for f in s000 s123 s199; do
	eq "$(xget "$V/small/$f" user.fabric.xxh3)" "$(xxh128 "$T/small/$f")" "xxh3 of small/$f"
done
rm -rf "$V/small" "$V/own1" "$V/own2"

# ---- refusals: errno, a sentence naming the member, nothing left ----------------------------------------
ok cp "$T/tree/a0/b0/f00" "$V/keep" # a variable of the fabric's own, so a slab block is there before
"$PY" - "$T" <<'PY'
import io, tarfile, sys
t = sys.argv[1]
def tar(name, members):
    with tarfile.open(t + "/" + name, "w", format=tarfile.GNU_FORMAT) as z:
        for m, data in members:
            z.addfile(m, io.BytesIO(data) if data is not None else None)
def reg(name, data):
    i = tarfile.TarInfo(name); i.size = len(data); return (i, data)
def special(name, typ, link=""):
    i = tarfile.TarInfo(name); i.type = typ; i.linkname = link; return (i, None)
tar("dotdot.tar", [reg("a/ok", b"ok"), reg("../x", b"x")])
tar("abs.tar", [reg("a/ok", b"ok"), reg("/abs", b"x")])
tar("linkout.tar", [reg("a/ok", b"ok"), special("a/l", tarfile.SYMTYPE, "../../etc/passwd")])
tar("linkabs.tar", [special("l", tarfile.SYMTYPE, "/etc/passwd")])
tar("linkvia.tar", [special("a/up", tarfile.SYMTYPE, ".."), special("b", tarfile.SYMTYPE, "a/up/..")])
tar("fifo.tar", [reg("a/ok", b"ok"), special("a/p", tarfile.FIFOTYPE)])
tar("badname.tar", [reg("a/ok", b"ok"), reg("a/v@1", b"x")])
# made part way: files come before the hard link to nothing, so the second pass has things to undo
tar("nolink.tar", [reg("a/%03d" % i, b"x" * 5000) for i in range(50)] + [special("b/h", tarfile.LNKTYPE, "a/none")])
tar("twice.tar", [reg("a/%03d" % i, b"x" * 100) for i in range(20)] + [reg("a/005", b"again")])
PY
snap
fails "Invalid argument" ctl "load dotdot $T/dotdot.tar"
match "$(last_err)" "member '\.\./x': a '\.\.' component" "sentence for a '..' member"
nothing dotdot "a '..' member"
fails "Invalid argument" ctl "load abs $T/abs.tar"
match "$(last_err)" "member '/abs': an absolute name" "sentence for an absolute member"
nothing abs "an absolute member"
tar -P -cf "$T/abs2.tar" "$T/tree/a0/b0/f00" 2>/dev/null
fails "Invalid argument" ctl "load abs2 $T/abs2.tar"
nothing abs2 "tar -P of an absolute path"
fails "Invalid argument" ctl "load linkout $T/linkout.tar"
match "$(last_err)" "member a/l: a symbolic link to '\.\./\.\./etc/passwd', which leads out of" "sentence for a link out of the archive"
nothing linkout "a symbolic link out of the tree"
fails "Invalid argument" ctl "load linkabs $T/linkabs.tar"
match "$(last_err)" "member l: a symbolic link to the absolute path '/etc/passwd'" "sentence for an absolute link"
nothing linkabs "an absolute symbolic link"
fails "Invalid argument" ctl "load linkvia $T/linkvia.tar"
match "$(last_err)" "member b: a symbolic link to 'a/up/\.\.', whose '\.\.' comes after a name" "sentence for a link out through a link"
nothing linkvia "a link that leaves the tree through another link"
fails "Invalid argument" ctl "load fifo $T/fifo.tar"
match "$(last_err)" "member a/p: a FIFO \(type '6'\)" "sentence for a FIFO member"
nothing fifo "a FIFO member"
fails "Invalid argument" ctl "load badname $T/badname.tar"
match "$(last_err)" "'a/v@1': its name is refused" "sentence for a name the store refuses"
nothing badname "a member name with @"
fails "Invalid argument" ctl "load nolink $T/nolink.tar"
match "$(last_err)" "member b/h: a hard link to 'a/none', which no earlier member" "sentence for a hard link to nothing"
nothing nolink "a hard link to nothing, after 50 files were made"
fails "File exists" ctl "load twice $T/twice.tar"
match "$(last_err)" "twice.tar, member a/005: cannot make vars/twice/a/005: it exists already" "sentence for a member twice"
nothing twice "a member twice"
head -c 30000 "$T/gnu.tar" >"$T/cut.tar"
fails "Input/output error" ctl "load cut $T/cut.tar"
match "$(last_err)" "cut\.tar: the archive is cut short" "sentence for a cut archive"
nothing cut "a cut archive"
head -c 1536 "$T/hard.tar" >"$T/noend.tar" # whole members, no end-of-archive block
fails "Input/output error" ctl "load noend $T/noend.tar"
nothing noend "an archive without its end"
fails "Invalid argument" ctl "load typed $T/gnu.tar type=int8"
match "$(last_err)" "type= is for one file" "sentence for type= with an archive"
fails "Invalid argument" ctl "load typed $T/tree type=int8"
nothing typed "type= for a directory"
fails "File exists" ctl "load tree $T/tree"
match "$(last_err)" "vars/tree exists" "a name that exists"

# a directory with a FIFO, one with a link out, one with a link out through a link
mkdir -p "$T/odd/a"
echo x >"$T/odd/a/f"
mkfifo "$T/odd/a/p"
fails "Invalid argument" ctl "load odd $T/odd"
match "$(last_err)" "odd/a/p is a FIFO; load takes regular files, directories and symbolic links" "sentence for a FIFO in a tree"
nothing odd "a FIFO in a tree"
rm "$T/odd/a/p"
ln -s ../../tree "$T/odd/a/out"
fails "Invalid argument" ctl "load odd $T/odd"
match "$(last_err)" "odd/a/out: a symbolic link to '\.\./\.\./tree', which leads out of" "sentence for a link out of a tree"
nothing odd "a link out of a tree"
rm "$T/odd/a/out"
ok ctl "load odd $T/odd"
ok rm -r "$V/odd"

# a file its caller may not read, part way through a tree nobody loads: EACCES, and nothing of it left
mkdir -p "$T/ntree/a" "$T/ntree/m"
for i in $(seq -w 1 40); do mkdata "$T/ntree/a/f$i" 3000; done
mkdata "$T/ntree/m/big" 200000
mkdata "$T/ntree/m/zz" 100
chmod -R a+rX "$T/ntree"
chmod 000 "$T/ntree/m/zz"
ok mkdir -m 777 "$V/pub"
snap
fails "Permission denied" as_nobody "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.write(fd, ("load pub/n " + sys.argv[2] + "\n").encode())
except OSError as e:
    sys.stderr.write(os.strerror(e.errno) + ": " + os.read(fd, 4096).decode()); sys.exit(1)' "$MNT/ctl" "$T/ntree"
match "$(last_err)" "ntree/m/zz: cannot open it: Permission denied" "sentence for a file nobody may not read"
nothing pub/n "nobody's load of a tree with a file of mode 000"
chmod 644 "$T/ntree/m/zz"
ok as_nobody "$PUB_TOOL" put pub/n "$T/ntree"
eq "$(stat -c %U "$V/pub/n/m/zz")" nobody "what nobody loads is nobody's"
ok diff -r "$T/ntree" "$V/pub/n"

# capacity, on a fabric of 8 MiB: a file that cannot fit is refused before anything is made; many small
# files that fit one by one but not together fail part way, and what was made goes
fab_mount_at "$T/mnt2" "$T/state2" "$NODE-c" --capacity 8M
V2=$T/mnt2/vars
ok cp "$T/tree/a0/b0/f00" "$V2/keep"
wait_for xattr_is "$V2/keep" user.fabric.state sealed # packed into its slab before the counts below
mkdir -p "$T/huge" "$T/many"
mkdata "$T/huge/h" $((9 << 20))
mkdata "$T/huge/a" 100
"$PY" -c 'import os, sys
for i in range(2100):
    open("%s/f%04d" % (sys.argv[1], i), "wb").write(os.urandom(4096))' "$T/many"
(cd "$T/many" && tar -cf "$T/many.tar" .)
c_rows=$(sqlite3 -readonly "$T/state2/yp.db" "select count(*) from objects")
c_blocks=$(blocks "$NODE-c")
c_ctl() { MNT=$T/mnt2 ctl "$1"; }
c_nothing() {
	[ -e "$V2/$1" ] && bad "$2: vars/$1 is there after a refused load"
	eq "$(sqlite3 -readonly "$T/state2/yp.db" "select count(*) from objects")" "$c_rows" "$2: rows after the refused load"
	eq "$(blocks "$NODE-c")" "$c_blocks" "$2: shm blocks after the refused load"
}
fails "No space left on device" c_ctl "load huge $T/huge"
match "$(last_err)" "not enough capacity" "sentence for a tree past the capacity"
c_nothing huge "a file past the capacity"
fails "No space left on device" c_ctl "load many $T/many"
match "$(last_err)" "many/f[0-9]+: not enough capacity for its 4096 bytes" "sentence for a tree that fills the fabric part way"
c_nothing many "a tree that fills the fabric part way"
fails "No space left on device" c_ctl "load manytar $T/many.tar"
c_nothing manytar "an archive that fills the fabric part way"
same "$T/tree/a0/b0/f00" "$V2/keep" "the fabric's own variable after the refused loads"
fab_umount "$T/mnt2"

fab_done
