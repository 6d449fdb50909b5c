#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_python.sh -- tools/fabric.py, the seed's Python API, on a real mount: the seed's workflow end to end
# (allocate, insert a 40 * 20 * float64 array with a doc, get_list, get_locations, get_ptr giving the
# variable's own shm pages, delete, deallocate of a block allocate made, defragment), insert from bytes,
# an open file and a path on disk (load), and the refusals: a type that does not fit (EINVAL, nothing left
# under the name), a name that does not exist (ENOENT), a failing control verb's sentence; and keyed
# datasets through the module (made typed, items put, replaced, read with their type, a misfit refused,
# put many, the tree, removed).
. "$(dirname "$0")/lib.sh"
fab_setup
fab_public_tools
fab_mount --capacity 256M
V=$MNT/vars
"$PY" -c 'import numpy' 2>/dev/null || bad "$PY has no numpy (make deps installs python3-numpy)"

# pyf ARGS...: python with the module importable and the mount as the default fabric.
pyf() { env PYTHONPATH="$FAB_ROOT/tools" FABRIC="$MNT" "$PY" "$@"; }
# The shared helpers of the snippets below: the physical page behind an address (root reads PFNs).
cat >"$T/pfn.py" <<'PY'
import mmap, struct
def pfn(addr):
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(addr // mmap.PAGESIZE * 8)
        e = struct.unpack("<Q", f.read(8))[0]
    assert e >> 63, "page at %#x is not present" % addr
    return e & ((1 << 55) - 1)
PY

"$PY" -c 'import numpy as np; np.random.default_rng(7).standard_normal((40, 20)).tofile("'"$T/w.bin"'")'
mkdata "$T/blob" 3000
mkdata "$T/disk" 6400

# ---- the seed's workflow ----------------------------------------------------------------------------
cap0=$(ctl stat | awk '$1 == "capacity" { print $2 }')
ok pyf - <<'PY'
import fabric
r = fabric.allocate(8 << 20)
assert len(r["blocks"]) == 2 and all(isinstance(b, int) for _, b in r["blocks"]), r
print(r["capacity"], " ".join("%s:%d" % nb for nb in r["blocks"]))
PY
read -r cap1 blocks <<<"$(last_out)"
eq "$cap1" $((cap0 + 8 * 1024 * 1024)) "capacity after allocate(8 MiB)"
match "$blocks" "^$NODE:[0-9]+ $NODE:[0-9]+$" "the blocks allocate made"
for nb in $blocks; do
	match "$(ctl stat)" $'(^|\n)slab\t'"${nb#*:}"$'\t' "block ${nb#*:} in stat after allocate"
done

ok pyf - "$T/w.bin" <<'PY'
import sys, numpy as np, fabric
a = np.fromfile(sys.argv[1], dtype="float64").reshape(40, 20)
assert fabric.insert("run1/w", "layer 3 weights", None, a) == "run1/w"
PY
eq "$(xget "$V/run1/w" user.fabric.type)" "40 * 20 * float64" "type derived from the array"
eq "$(xget "$V/run1/w" user.fabric.doc)" "layer 3 weights" "doc of the array"
eq "$(xget "$V/run1/w" user.fabric.state)" sealed "state of the inserted array"
same "$V/run1/w" "$T/w.bin" "the inserted array's bytes"

ok pyf - <<'PY'
import fabric
rows = fabric.get_list("run1")
assert [r["path"] for r in rows] == ["run1", "run1/w"], rows
assert rows[1] == {"path": "run1/w", "kind": "var", "size": 6400, "type": "40 * 20 * float64", "state": "sealed"}, rows
assert rows[0]["kind"] == "dir" and rows[0]["type"] is None, rows
assert "run1/w" in [r["path"] for r in fabric.get_list()]
print(" ".join(map(str, fabric.get_locations("run1/w")[0])))
PY
loc=$(last_out)
eq "$loc" "$(xget "$V/run1/w" user.fabric.locations)" "get_locations vs user.fabric.locations"
read -r lnode lshm loff llen <<<"$loc"
eq "$lnode" "$NODE" "get_locations' node"
eq "$llen" 6400 "get_locations' length"
[ -f "/dev/shm/$lshm" ] || bad "get_locations' shm object /dev/shm/$lshm does not exist"

# get_ptr: the original array, read-only, and the shm object's own pages: the same physical pages as a
# second, independent mapping of /dev/shm/SHM, and a byte changed there shows through the pointer at once.
ok pyf - "$T" "$T/w.bin" $loc <<'PY'
import mmap, sys, numpy as np, fabric
sys.path.insert(0, sys.argv[1]); from pfn import pfn
want = np.fromfile(sys.argv[2], dtype="float64").reshape(40, 20)
node, shm, off, n = sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
tp, p = fabric.get_ptr(node, shm, off, tp="40*20*float64")
assert tp == "40 * 20 * float64" and p.shape == (40, 20) and p.dtype == np.float64, (tp, p.shape, p.dtype)
assert np.array_equal(p, want), "get_ptr's array differs from the original"
assert not p.flags.writeable
try:
    p[0, 0] = 1.0
    raise AssertionError("get_ptr's array is writable")
except ValueError:
    pass
base = p
while isinstance(base, (np.ndarray, memoryview)):  # frombuffer keeps a memoryview of the mmap
    base = base.base if isinstance(base, np.ndarray) else base.obj
assert isinstance(base, mmap.mmap), "get_ptr's array is not over a mapping: %r" % type(base)
assert np.shares_memory(p, np.frombuffer(base, np.uint8)), "get_ptr's array is a copy of its mapping"
with open("/dev/shm/" + shm, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
second = np.frombuffer(m, dtype="float64", count=n // 8, offset=off).reshape(40, 20)
assert np.array_equal(second, p)
assert pfn(p.ctypes.data) == pfn(second.ctypes.data), "get_ptr and /dev/shm are different pages"
old = m[off + 7]
m[off + 7] = old ^ 0x80                             # the sign bit of element [0, 0] (little-endian)
seen = p[0, 0]
m[off + 7] = old
assert seen == -want[0, 0], "a change through /dev/shm is not seen through get_ptr"
assert np.array_equal(p, want)
tp2, raw = fabric.get_ptr(node, shm, off, n)        # no type: the bytes
assert tp2 is None and raw.dtype == np.uint8 and raw.tobytes() == want.tobytes()
g = fabric.get("run1/w")                            # locate + get_ptr with its own type
assert g.shape == (40, 20) and np.array_equal(g, want) and pfn(g.ctypes.data) == pfn(p.ctypes.data)
PY

# A variable of its own block (>= 64 KiB): get() is the same pages as a mapping of the file in the mount
# (with passthrough), and, as a user who cannot open /dev/shm, get() maps the mount's file instead.
ok pyf - "$T" <<'PY'
import mmap, os, sys, numpy as np, fabric
sys.path.insert(0, sys.argv[1]); from pfn import pfn
a = np.arange(512 * 256, dtype=np.int32).reshape(512, 256)
fabric.insert("big", "own block", None, a)
g = fabric.get("big")
assert g.dtype == np.int32 and g.shape == (512, 256) and np.array_equal(g, a)
assert fabric.get_locations("big")[0][2] == 0
if os.getxattr(fabric.Fabric().mount, "user.fabric.datapath").startswith(b"passthrough"):
    with open(os.path.join(fabric.Fabric().vars, "big"), "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    b = np.frombuffer(m, dtype=np.int32).reshape(512, 256)
    assert np.array_equal(b, a) and pfn(b.ctypes.data) == pfn(g.ctypes.data), "get() and vars/big differ in pages"
PY
cp "$FAB_ROOT/tools/fabric.py" "$T/pub/tools/" && chmod a+r "$T/pub/tools/fabric.py"
ok setpriv --reuid=65534 --regid=65534 --clear-groups env PYTHONPATH="$T/pub/tools" FABRIC="$MNT" "$PY" -c '
import errno, numpy as np, fabric
node, shm, off, n = fabric.get_locations("big")[0]
try:
    fabric.get_ptr(node, shm, off, n)
    raise SystemExit("nobody opened /dev/shm/" + shm)
except fabric.FabricError as e:
    assert e.errno == errno.EACCES, e
g = fabric.get("big")
assert np.array_equal(g, np.arange(512 * 256, dtype=np.int32).reshape(512, 256)) and not g.flags.writeable'

# Without numpy the pointer is a read-only memoryview of the type's format and shape.
ok pyf - "$T/w.bin" <<'PY'
import sys
sys.modules["numpy"] = None                         # import numpy now fails
import array, fabric
assert fabric.np is None
want = array.array("d", open(sys.argv[1], "rb").read())
v = fabric.get("run1/w")
assert isinstance(v, memoryview) and v.readonly and v.format == "d" and v.shape == (40, 20), (v.format, v.shape)
assert v.tobytes() == want.tobytes() and v[39, 19] == want[-1]
tp, p = fabric.get_ptr(*fabric.get_locations("run1/w")[0], tp="40 * 20 * float64")
assert tp == "40 * 20 * float64" and p.shape == (40, 20) and p.tobytes() == want.tobytes()
PY

# ---- insert from bytes, an open file, a path on disk ---------------------------------------------------
ok pyf - "$T" <<'PY'
import os, sys, fabric
t = sys.argv[1]
assert fabric.insert("from/bytes", "fifteen bytes", "3 * 5 * uint8", bytes(range(15))) == "from/bytes"
assert fabric.insert("from/bytearray", None, None, bytearray(b"ba" * 10)) == "from/bytearray"
with open(t + "/blob", "rb") as f:
    assert fabric.insert("from/file", "an open file", None, f) == "from/file"
os.chdir(t)                                         # a relative path: made absolute for load
assert fabric.insert("from/disk/deep", 'a "quoted" doc, with blanks', "800*float64", "disk") == "from/disk/deep"
PY
printf '%b' "$(printf '\\x%02x' $(seq 0 14))" >"$T/bytes15"
same "$V/from/bytes" "$T/bytes15" "insert from bytes"
eq "$(xget "$V/from/bytes" user.fabric.type)" "3 * 5 * uint8" "type of insert from bytes"
eq "$(xget "$V/from/bytes" user.fabric.doc)" "fifteen bytes" "doc of insert from bytes"
eq "$(cat "$V/from/bytearray")" "babababababababababa" "insert from a bytearray"
same "$V/from/file" "$T/blob" "insert from an open file"
eq "$(xget "$V/from/file" user.fabric.doc)" "an open file" "doc of insert from a file"
same "$V/from/disk/deep" "$T/disk" "insert from a path (load)"
eq "$(xget "$V/from/disk/deep" user.fabric.type)" "800 * float64" "type of insert from a path"
eq "$(xget "$V/from/disk/deep" user.fabric.doc)" 'a "quoted" doc, with blanks' "doc of insert from a path"
eq "$(xget "$V/from/disk/deep" user.fabric.xxh3)" "$(xxh128 "$T/disk")" "xxh3 of insert from a path"

# ---- refusals -----------------------------------------------------------------------------------------
ok pyf - "$T" <<'PY'
import errno, io, os, sys, numpy as np, fabric
t, vars = sys.argv[1], fabric.Fabric().vars
def refused(err, call, *args):
    try:
        call(*args)
    except fabric.FabricError as e:
        assert isinstance(e, OSError) and e.errno == err, (errno.errorcode.get(e.errno), e)
        assert e.sentence and e.sentence in str(e), e
        return e
    raise AssertionError("%s%r succeeded" % (call.__name__, args))
# a type that does not fit the bytes: EINVAL, and nothing under the name
for what, data in (("bytes", b"x" * 15), ("file", io.BytesIO(b"x" * 15)), ("array", np.zeros(3)),
                   ("path", t + "/blob")):
    e = refused(errno.EINVAL, fabric.insert, "bad/" + what, None, "2 * int64", data)
    assert "2 * int64" in e.sentence, e
    assert not os.path.lexists(os.path.join(vars, "bad", what)), "bad/%s is left after %s" % (what, e)
    assert not [r for r in fabric.get_list("bad/") if r["path"] == "bad/" + what]
refused(errno.EINVAL, fabric.insert, "bad/malformed", None, "flaot64", b"12345678")
assert not os.path.lexists(os.path.join(vars, "bad", "malformed"))
refused(errno.EINVAL, fabric.insert, "bad/empty", None, None, np.zeros((0, 3)))
refused(errno.EEXIST, fabric.insert, "from/bytes", None, None, b"again")
assert open(os.path.join(vars, "from/bytes"), "rb").read() == bytes(range(15))
# names that do not exist
e = refused(errno.ENOENT, fabric.get, "no/such")
e = refused(errno.ENOENT, fabric.get_locations, "nosuch")
assert "no variable 'nosuch' under vars/" in e.sentence and e.command == "json locate nosuch", (e.sentence, e.command)
refused(errno.ENOENT, fabric.delete, "nosuch")
refused(errno.ENOENT, fabric.insert, "nosuch/disk", None, None, t + "/no-such-file")
refused(errno.EISDIR, fabric.get_locations, "from")
refused(errno.EREMOTE, fabric.get_ptr, "elsewhere", "fabric.x.1", 0, 8)
refused(errno.EINVAL, fabric.get, "../ctl")
# a failing control verb: the answer's own sentence
e = refused(errno.ENOENT, fabric.deallocate, fabric.Fabric().node(), 999999)
print(e.sentence)
try:
    fabric.Fabric(t + "/not-a-mount").get_list()
    raise AssertionError("get_list without a mount succeeded")
except fabric.FabricError as e:
    assert e.errno == errno.ENOENT and "is a fabric mounted" in e.sentence, e
PY
eq "$(last_out)" "no block 999999 on this node; see: stat" "deallocate's sentence"
fails "no block 999999 on this node; see: stat" ctl "deallocate $NODE 999999"
[ -e "$V/bad" ] && [ -n "$(ls -A "$V/bad")" ] && bad "left under vars/bad: $(ls -A "$V/bad")"
eq "$(yp "select count(*) from vars where path like 'bad/%'")" 0 "YP rows under bad/"

# ---- delete, deallocate, defragment ----------------------------------------------------------------
ok pyf - <<'PY'
import errno, fabric
fabric.delete("run1/w")
fabric.delete("run1")                               # an empty directory
assert not [r for r in fabric.get_list() if r["path"].startswith("run1")]
try:
    fabric.delete("from")
    raise AssertionError("delete of a directory that is not empty succeeded")
except fabric.FabricError as e:
    assert e.errno == errno.ENOTEMPTY, e
PY
[ -e "$V/run1" ] && bad "vars/run1 is still there after delete"

# The packed variables (under 64 KiB) sit in one of the blocks allocate made (there was none before it).
# deallocate it: EBUSY while it holds them, then with move they go into the other block, bytes intact.
# (Before defragment, which would free the other block: empty, it is not kept.)
ok pyf - "$blocks" <<'PY'
import errno, sys, fabric
mine = [int(nb.split(":")[1]) for nb in sys.argv[1].split()]
node = fabric.Fabric().node()
shm_of = {s["shm"]: s["block"] for s in fabric.stat()["slabs"]}
packed = ["from/bytes", "from/bytearray", "from/file", "from/disk/deep"]
before = {n: bytes(fabric.get(n).tobytes()) for n in packed}
held = {shm_of[fabric.get_locations(n)[0][1]] for n in packed}
assert len(held) == 1 and held <= set(mine), (held, mine)
block = held.pop()
cap = fabric.stat()["capacity"]
try:
    fabric.deallocate(node, block)
    raise AssertionError("deallocate of a block holding variables succeeded")
except fabric.FabricError as e:
    assert e.errno == errno.EBUSY and "add `move`" in e.sentence, e
r = fabric.deallocate(node, block, move=True)
assert r["node"] == node and r["block"] == block, r
assert r["bytes_moved"] == sum(len(b) for b in before.values()), r
st = fabric.stat()
assert st["capacity"] == cap - (4 << 20) and block not in [s["block"] for s in st["slabs"]], st
shm_of = {s["shm"]: s["block"] for s in st["slabs"]}
other = [b for b in mine if b != block][0]
for n in packed:
    assert shm_of[fabric.get_locations(n)[0][1]] == other, (n, fabric.get_locations(n))
    assert fabric.get(n).tobytes() == before[n], n
d = fabric.defragment()
assert set(d) == {"bytes_moved", "blocks_freed"} and all(isinstance(v, int) for v in d.values()), d
for n in packed:
    assert fabric.get(n).tobytes() == before[n], n
print(block)
PY
gone=$(last_out)
[ -n "$gone" ] && [ -e "/dev/shm/${lshm%.*}.$gone" ] && bad "/dev/shm/${lshm%.*}.$gone is still there after deallocate"
same "$V/from/file" "$T/blob" "an open file's variable after deallocate move and defragment"
same "$V/from/disk/deep" "$T/disk" "a loaded variable after deallocate move and defragment"
# ---- keyed datasets: made typed, items put (new keys and a key replaced), read back mapped with their
# type, a misfit refused before anything is written, listed, put many, the tree, removed
mkdir -p "$T/many"
"$PY" -c 'import numpy as np
for i in range(5): np.arange(4, dtype="float64").tofile("'"$T/many"'/m%d" % i)'
ok pyf - "$T/many" <<'PY'
import errno, sys
import numpy as np
import fabric
pts = fabric.make_dataset("pts", "2 * double", doc="points", limits="kids:4,items:8")
assert pts.type() == "2 * float64", pts.type()
pts["p1"] = np.array([1.0, 2.0])
pts.put("p3", np.arange(6, dtype="float64"))
a = pts["p3"]
assert a.shape == (3, 2) and a.dtype == np.float64 and (a.reshape(-1) == np.arange(6)).all(), (a.shape, a)
pts["p1"] = np.array([5.0, 6.0])  # a new item renamed over the old
assert (pts["p1"] == [5.0, 6.0]).all(), pts["p1"]
try:
    pts.put("bad", b"x" * 20)
    sys.exit("a misfit was put")
except fabric.FabricError as e:
    assert e.errno == errno.EINVAL and "whole number" in e.sentence, (e.errno, e.sentence)
assert "bad" not in pts and "p1" in pts
r = pts.put_many(sys.argv[1])
assert r["items"] == 5, r
assert pts.keys() == ["m0", "m1", "m2", "m3", "m4", "p1", "p3"], pts.keys()
assert len(pts) == 7
t = pts.tree()
assert t["dataset"] == "pts" and t["limits"].startswith("kids:4,items:8,"), t
del pts["m0"]
assert "m0" not in fabric.dataset("pts")
try:
    fabric.dataset("nope")
    sys.exit("a dataset that is not there was found")
except fabric.FabricError as e:
    assert e.errno == errno.ENOENT, e.errno
print(sorted(fabric.dataset("pts")))
other = fabric.make_dataset("other")
other["k"] = b"untyped"
assert bytes(other["k"]) == b"untyped" and other.drop() == 1
PY
eq "$(last_out)" "['m1', 'm2', 'm3', 'm4', 'p1', 'p3']" "the dataset's keys through the module"
eq "$(xget "$MNT/datasets/pts/p3" user.fabric.type) / $(xget "$MNT/datasets/pts/p3" user.fabric.doc)" \
	"3 * 2 * float64 / points" "an item put through the module: its type and the dataset's doc"
fab_done
