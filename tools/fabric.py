# SPDX-License-Identifier: MIT
"""fabric -- the seed design's Python API over a mounted fabric.

The design (allocate, insert, get_list, get_locations, get_ptr, delete, defragment, deallocate) asked
for a Python client; with the fabric mounted as a filesystem the client is this one module, standard
library only, nothing compiled.  numpy is used when it can be imported: get_ptr and get then give
read-only arrays of the variable's datashape type, and insert takes arrays (and derives their type).

    import fabric                                    # PYTHONPATH=tools; mount from $FABRIC, else /fabric
    fabric.insert("run1/w", "layer 3 weights", None, np.zeros((40, 20)))   # type "40 * 20 * float64"
    fabric.get_list("run1/")           # [{'path': 'run1/w', 'kind': 'var', 'size': 6400, 'type': ...}]
    node, shm, off, n = fabric.get_locations("run1/w")[0]
    tp, a = fabric.get_ptr(node, shm, off, n, tp="40 * 20 * float64")   # zero-copy, read-only
    a = fabric.get("run1/w")                         # the same in one call
    fabric.delete("run1/w")
    pts = fabric.make_dataset("pts", "2 * float64")  # keyed items: pts["p1"] = np.array([1.0, 2.0])

Everything goes through the mount: the control file MOUNT/ctl (one command line written, its answer read
back on the same open file), the files under MOUNT/vars and their user.fabric.* xattrs, and the shm
objects in /dev/shm that `locate` names (readable by root).  Every failure is a FabricError, an OSError
whose errno is the fabric's and whose .sentence says what was wrong (for a control command, the answer's
own sentence).  fabric.Fabric(mount) talks to another mount; the module's functions use a default one.

A pointer into a packed variable (one under 64 KiB, kept in a shared slab block) is only good while the
variable stays where it is: after its delete, a defragment or a `deallocate ... move`, those bytes of the
slab may hold another variable.  Variables of 64 KiB and more have a block of their own, which stays
mapped as it was (the fabric's usual rule: readers that keep it mapped keep working).
"""
import errno
import functools
import json
import mmap
import os
import shutil
import sys
import time

try:
    import numpy as np
except ImportError:  # the module works without it: memoryviews instead of arrays
    np = None

__all__ = ["Fabric", "FabricError", "parse_type", "allocate", "deallocate", "insert", "get_list",
           "get_locations", "get_ptr", "get", "delete", "defragment", "stat", "Dataset", "make_dataset",
           "dataset"]

# The scalars of core/text/dtype.c: canonical name -> (bytes, struct code for memoryview.cast or None).
SCALARS = {
    "bool": (1, "?"), "int8": (1, "b"), "int16": (2, "h"), "int32": (4, "i"), "int64": (8, "q"),
    "uint8": (1, "B"), "uint16": (2, "H"), "uint32": (4, "I"), "uint64": (8, "Q"),
    "float16": (2, None), "float32": (4, "f"), "float64": (8, "d"),
    "complex64": (8, None), "complex128": (16, None),
}
ALIASES = {"int": "int32", "float": "float64", "double": "float64", "real": "float64",
           "complex": "complex128", "byte": "uint8"}
TYPE, DOC, STATE = "user.fabric.type", "user.fabric.doc", "user.fabric.state"
SEAL_WAIT = 30.0  # seconds insert waits for its variable's seal to reach the daemon


class FabricError(OSError):
    """A failed fabric command or system call: .errno as the fabric gave it, .sentence saying why (for a
    control command the answer's own sentence), .command the control line when there was one."""

    def __init__(self, err, sentence, filename=None, command=None):
        super().__init__(err, sentence, filename)
        self.sentence = sentence
        self.command = command

    def __str__(self):
        name = errno.errorcode.get(self.errno, str(self.errno))
        return "%s: %s%s" % (name, self.sentence, " (ctl: %s)" % self.command if self.command else "")


class _syscalls:
    """with _syscalls("what"): turns an OSError into a FabricError saying what was being done."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if isinstance(e, OSError) and not isinstance(e, FabricError):
            raise FabricError(e.errno or errno.EIO, "%s: %s" % (self.what, e.strerror), e.filename) from e
        return False


def parse_type(tp):
    """Parse a datashape type as the fabric does ("40 * 20 * float64", aliases allowed): returns
    (shape tuple, canonical scalar, canonical string, nbytes).  A malformed type is FabricError(EINVAL)."""
    parts = [p.strip(" \t") for p in str(tp).split("*")]
    dims, scalar = parts[:-1], ALIASES.get(parts[-1], parts[-1])
    if scalar not in SCALARS:
        raise FabricError(errno.EINVAL, "unknown scalar type %r in %r; known: %s (aliases: %s)"
                          % (parts[-1], tp, ", ".join(SCALARS), ", ".join(ALIASES)))
    for d in dims:
        if not (d.isdigit() and d.isascii() and d[0] != "0"):
            raise FabricError(errno.EINVAL, "dimension %r of type %r is not a positive decimal integer" % (d, tp))
    shape = tuple(int(d) for d in dims)
    nbytes = SCALARS[scalar][0]
    for d in shape:
        nbytes *= d
    return shape, scalar, " * ".join([str(d) for d in shape] + [scalar]), nbytes


def _type_of_array(a):
    """The datashape type of a numpy array: its dims joined by " * ", then its dtype's name."""
    if a.dtype.name not in SCALARS:
        raise FabricError(errno.EINVAL, "numpy dtype %s has no fabric type; known: %s (or give tp)"
                          % (a.dtype, ", ".join(SCALARS)))
    if 0 in a.shape:
        raise FabricError(errno.EINVAL, "an array of shape %s has no datashape type: dimensions are at "
                          "least 1 (give tp, or insert its bytes)" % (a.shape,))
    return " * ".join([str(d) for d in a.shape] + [a.dtype.name])


def _quote(word):
    """A word of a control line: quoted with "..." when it holds blanks, quotes or backslashes."""
    if word and not any(c in word for c in ' \t"\\\n'):
        return word
    w = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"%s"' % w


def _view(buf, skip, length, tp):
    """A read-only view of length bytes of buf from skip, shaped by tp (None: bytes): a numpy array when
    numpy is there, else a memoryview (cast to the scalar when memoryview can; float16 and complex stay
    bytes).  No byte is copied."""
    shape, scalar = (parse_type(tp)[:2]) if tp else ((length,), "uint8")
    if np is not None:
        dt = np.dtype(scalar)
        a = np.frombuffer(buf, dtype=dt, count=length // dt.itemsize, offset=skip).reshape(shape)
        a.flags.writeable = False
        return a
    mv = memoryview(buf)[skip:skip + length].toreadonly()
    code = SCALARS[scalar][1]
    return mv.cast(code, shape) if code and length else mv


def _map_file(path, tp):
    """The file at path in the mount mapped read-only (zero-copy with passthrough), viewed as type tp."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return _view(b"", 0, 0, None)
        m = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    return _view(m, 0, size, tp)


class Fabric:
    """One mounted fabric: mount is its directory (None: $FABRIC, else /fabric)."""

    def __init__(self, mount=None):
        self.mount = os.path.abspath(mount or os.environ.get("FABRIC") or "/fabric")
        self.vars = os.path.join(self.mount, "vars")
        self._node = None

    # ---- the control file ---------------------------------------------------------------------------

    def ctl(self, *words, as_json=False):
        """Run one control command (its words, quoted here as needed) and return its answer: text, or the
        parsed JSON document with as_json.  A refused command raises FabricError with the write's errno
        and the answer's sentence."""
        line = " ".join(_quote(str(w)) for w in (("json",) if as_json else ()) + words)
        path = os.path.join(self.mount, "ctl")
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as e:
            raise FabricError(e.errno, "cannot open %s (%s): is a fabric mounted at %s?"
                              % (path, e.strerror, self.mount), path) from e
        try:
            data = (line + "\n").encode("utf-8", "surrogateescape")
            try:
                while data:
                    data = data[os.write(fd, data):]
            except OSError as e:
                sentence = self._read_answer(fd).strip() or e.strerror
                raise FabricError(e.errno, sentence, None, line) from None
            answer = self._read_answer(fd)
        finally:
            os.close(fd)
        return json.loads(answer) if as_json else answer

    @staticmethod
    def _read_answer(fd):
        chunks = []
        with _syscalls("reading the control file's answer"):
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    return b"".join(chunks).decode("utf-8", "surrogateescape")
                chunks.append(b)

    @staticmethod
    def _fields(answer):
        return [line.split("\t") for line in answer.splitlines() if line]

    def stat(self):
        """The `stat` verb: this node's name, capacity, used, free, variables and slab blocks (a dict)."""
        return self.ctl("stat", as_json=True)

    def node(self):
        """This mount's node name."""
        if self._node is None:
            self._node = self.stat()["node"]
        return self._node

    # ---- MANAGE -------------------------------------------------------------------------------------

    def allocate(self, size, node=None):
        """Add size (bytes, or a size word such as "64M") to the capacity; the fabric makes size / 4 MiB
        empty slab blocks ahead.  Returns {"capacity": bytes, "blocks": [(node, block), ...]}.  Needs
        root (or CAP_SYS_ADMIN): EPERM otherwise."""
        words = ["allocate", size] + (["node=%s" % node] if node else [])
        ans = {"capacity": None, "blocks": []}
        for f in self._fields(self.ctl(*words)):  # allocate answers text, even after `json`
            if f[0] == "capacity":
                ans["capacity"] = int(f[1])
            else:
                ans["blocks"].append((f[0], int(f[1])))
        return ans

    def deallocate(self, node, block, move=False):
        """Remove slab block `block` of node (as allocate or stat name it) and its size from the capacity;
        EBUSY while it holds variables unless move, which moves them into the other slabs first.
        Returns {"node", "block", "bytes_moved"}.  Needs root."""
        f = dict((x[0], x[1:]) for x in self._fields(self.ctl("deallocate", node, block, *(["move"] if move else []))))
        return {"node": f["deallocated"][0], "block": int(f["deallocated"][1]),
                "bytes_moved": int(f["bytes_moved"][0])}

    def defragment(self, node=None):
        """Compact the slab blocks (moving packed variables, freeing empty blocks): returns
        {"bytes_moved", "blocks_freed"}.  Needs root."""
        return self.ctl("defragment", *(["node=%s" % node] if node else []), as_json=True)

    # ---- CREATE -------------------------------------------------------------------------------------

    def _path(self, name):
        parts = str(name).split("/")
        if not name or str(name).startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise FabricError(errno.EINVAL, "%r is not a name under vars/ (a relative path, no empty, '.' or "
                              "'..' part)" % (name,))
        return os.path.join(self.vars, str(name))

    def insert(self, name, doc, tp, data):
        """Make the variable vars/NAME (and the directories above it) from data, with doc and datashape
        type tp (either may be None), and return name.  data is bytes-like (its bytes are written), an
        open binary file (copied), a numpy array (its bytes; tp None takes the array's own type), or a
        str/os.PathLike path of a file on disk (the fabric's `load` reads it straight into shm).
        A type that does not describe exactly the bytes written is EINVAL, and nothing is left under
        name; so is an existing name EEXIST."""
        path = self._path(name)
        if np is not None and isinstance(data, np.ndarray):
            tp = tp if tp is not None else _type_of_array(data)
            data = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("=")).reshape(-1).view(np.uint8)
        canon = parse_type(tp)[2] if tp is not None else None
        if doc is not None and not isinstance(doc, str):
            raise TypeError("doc must be a str or None")
        with _syscalls("insert %s" % name):
            parent = os.path.dirname(path)
            if parent != self.vars:
                os.makedirs(parent, exist_ok=True)
            if isinstance(data, (str, os.PathLike)):
                words = ["load", name, os.path.abspath(os.fsdecode(data))]
                words += ["type=" + canon] if canon else []
                words += ["doc=" + doc] if doc is not None else []
                self.ctl(*words)  # load checks the type against the file itself
                return name
            if hasattr(data, "read"):
                copy = functools.partial(shutil.copyfileobj, data)
            else:
                view = memoryview(data).cast("B")  # TypeError for what has no bytes
                copy = lambda f: f.write(view)
            done = False
            f = open(path, "xb")
            try:
                if canon:  # set while writing: checked against the final size at the seal
                    os.setxattr(f.fileno(), TYPE, canon.encode())
                if doc is not None:
                    os.setxattr(f.fileno(), DOC, doc.encode("utf-8", "surrogateescape"))
                copy(f)
                done = True
            finally:
                try:
                    f.close()  # the last close seals it
                finally:
                    if not done:
                        self._remove_quietly(path)
            self._wait_sealed(path)
            if canon and self._type(path) != canon:
                size = os.stat(path).st_size
                self._remove_quietly(path)
                raise FabricError(errno.EINVAL, "type '%s' does not fit the %d bytes written to %s: the fabric "
                                  "sealed it without a type, so it was removed" % (canon, size, name), path)
        return name

    @staticmethod
    def _remove_quietly(path):
        try:
            os.unlink(path)
        except OSError:
            pass

    @staticmethod
    def _wait_sealed(path):
        # close(2) returns just before the kernel's RELEASE reaches the daemon, so for a moment the
        # variable may still say `writing` (and keep a type the seal will drop).
        end, pause = time.monotonic() + SEAL_WAIT, 0.0005
        while os.getxattr(path, STATE) == b"writing":
            if time.monotonic() > end:
                raise FabricError(errno.ETIMEDOUT, "%s is still being written after %.0f s" % (path, SEAL_WAIT), path)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    @staticmethod
    def _type(path):
        try:
            return os.getxattr(path, TYPE).decode()
        except OSError as e:
            if e.errno == errno.ENODATA:
                return None
            raise

    # ---- READ ---------------------------------------------------------------------------------------

    def get_list(self, prefix=""):
        """Everything under vars/ whose path starts with prefix (the `list` verb): a list of dicts with
        path, kind (var, dir, mutable, link, ...), size, type (None when untyped) and state."""
        rows = self.ctl("list", *([prefix] if prefix else []), as_json=True)
        return [{"path": r["name"], "kind": r["kind"], "size": r["size"], "type": r["type"],
                 "state": r.get("state")} for r in rows]

    def get_locations(self, name):
        """Where the bytes of variable name are (the `locate` verb): a list of (node, shm_name, offset,
        length) tuples, shm_name being an object in /dev/shm of that node."""
        return [(r["node"], r["shm"], r["offset"], r["length"])
                for r in self.ctl("locate", name, as_json=True)]

    def get_ptr(self, node, shared_id, offset, length=None, tp=None):
        """Map length bytes (None: tp's size, else to the end) of the shm object shared_id at offset,
        read-only and zero-copy; returns (type, pointer): tp in canonical form (None when not given), and a
        read-only numpy array of that type and shape (without numpy: a memoryview).  The pointer keeps
        the mapping alive; its address is pointer.ctypes.data.  shared_id must be on this node (EREMOTE
        otherwise); opening /dev/shm objects needs root (EACCES otherwise)."""
        canon, nbytes = (parse_type(tp)[2:] if tp is not None else (None, None))
        if node != self.node():
            raise FabricError(errno.EREMOTE, "%s is on node %s, not this one (%s): read it through %s on "
                              "this node instead" % (shared_id, node, self.node(), self.vars))
        if not shared_id or "/" in shared_id or shared_id in (".", ".."):
            raise FabricError(errno.EINVAL, "%r is not the name of a shm object" % (shared_id,))
        path = "/dev/shm/" + shared_id
        with _syscalls("get_ptr %s" % shared_id):
            fd = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                length = length if length is not None else nbytes if nbytes is not None else size - offset
                if offset < 0 or length < 0 or offset + length > size:
                    raise FabricError(errno.EINVAL, "bytes %d to %d are outside %s (%d bytes)"
                                      % (offset, offset + length, shared_id, size), path)
                if nbytes is not None and nbytes != length:
                    raise FabricError(errno.EINVAL, "type '%s' is %d bytes, not %d" % (canon, nbytes, length))
                if length == 0:
                    return canon, _view(b"", 0, 0, None)
                start = offset - offset % mmap.ALLOCATIONGRANULARITY  # mmap wants a page-aligned offset
                m = mmap.mmap(fd, offset - start + length, access=mmap.ACCESS_READ, offset=start)
            finally:
                os.close(fd)
        return canon, _view(m, offset - start, length, canon)

    def get(self, name):
        """Variable name, mapped read-only and zero-copy: an array of its user.fabric.type (flat uint8
        when it has none), or a memoryview without numpy.  As root it maps its shm object (get_ptr on its
        location, zero-copy for every size); otherwise, or for another node's variable, it maps the file in
        the mount (zero-copy with passthrough for variables of 64 KiB and more)."""
        path = self._path(name)
        with _syscalls("get %s" % name):
            locs = self.get_locations(name)
            tp = self._type(path)
            if len(locs) == 1 and locs[0][0] == self.node():
                try:
                    return self.get_ptr(*locs[0], tp=tp)[1]
                except FabricError as e:
                    if e.errno not in (errno.EACCES, errno.EPERM):
                        raise
            return _map_file(path, tp)

    # ---- EVENTS -------------------------------------------------------------------------------------

    def watch(self, prefix=""):
        """Yield the events from now on, one dict each (seq, time, event, path and the event's own keys:
        size, xxh3, node, to, from, state, exit, count), those whose path (or a rename's or move's `to`)
        starts with prefix, a path in the mount ("vars/run1/", "tasks/", "nodes/"); `lost` events always
        (a reader further behind than the daemon keeps lost that many).  Blocks between events; only the
        events of objects this process may read (see the README's Events)."""
        for raw in self._event_lines("events.json"):
            e = json.loads(raw)
            if _watched(e.get("path", ""), e.get("to", ""), e.get("event"), prefix):
                yield e

    def _event_lines(self, name):
        path = os.path.join(self.mount, name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise FabricError(e.errno, "cannot open %s (%s): is a fabric mounted at %s?"
                              % (path, e.strerror, self.mount), path) from e
        rest = b""
        try:
            while True:
                with _syscalls("reading %s" % path):
                    b = os.read(fd, 1 << 16)
                if not b:
                    return
                lines = (rest + b).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    yield line
        finally:
            os.close(fd)

    # ---- DATASETS -----------------------------------------------------------------------------------

    def make_dataset(self, name, tp=None, doc=None, limits=None):
        """Make the keyed dataset datasets/NAME (the `dataset make` verb): every item of datashape type tp
        (or N of them) when tp is given, doc the doc of items without one, limits the tree's
        ("kids:16,items:4096").  Returns its Dataset; EEXIST when there is one."""
        words = ["dataset", "make", name] + (["type=" + parse_type(tp)[2]] if tp is not None else [])
        words += (["doc=" + doc] if doc is not None else []) + (["limits=" + limits] if limits else [])
        self.ctl(*words)
        return Dataset(self, name)

    def dataset(self, name):
        """The dataset datasets/NAME that exists (ENOENT otherwise)."""
        d = Dataset(self, name)
        with _syscalls("dataset %s" % name):
            if not os.path.isdir(d.path):
                raise FileNotFoundError(errno.ENOENT, "no dataset %s" % name, d.path)
        return d

    # ---- DELETE -------------------------------------------------------------------------------------

    def delete(self, name):
        """Remove the name vars/NAME (an empty directory too; ENOTEMPTY otherwise).  Programs that have it
        open or mapped through the mount keep their bytes; see the module's note on packed variables."""
        path = self._path(name)
        with _syscalls("delete %s" % name):
            try:
                os.unlink(path)
            except IsADirectoryError:
                os.rmdir(path)


class Dataset:
    """A keyed dataset of a fabric, datasets/NAME: items by key, each a variable (written once, a key
    given new bytes by a new item renamed over the old), read back mapped and zero-copy as get() does."""

    def __init__(self, fabric, name):
        if not name or "/" in name or name in (".", ".."):
            raise FabricError(errno.EINVAL, "%r is not a dataset's name" % (name,))
        self.fabric, self.name = fabric, name
        self.path = os.path.join(fabric.mount, "datasets", name)

    def _item(self, key):
        if not isinstance(key, str) or not key or "/" in key or key in (".", "..", ".tree"):
            raise FabricError(errno.EINVAL, "%r is not a key (a name without '/'; not '.', '..' or '.tree')"
                              % (key,))
        return os.path.join(self.path, key)

    def put(self, key, data):
        """Item key holds data (bytes-like, or a numpy array's bytes) from now on: a new key is written,
        an existing one gets a new item renamed over it (readers of the old keep it).  A misfit of the
        dataset's type is EINVAL and leaves the key as it was."""
        path = self._item(key)
        if np is not None and isinstance(data, np.ndarray):
            data = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("=")).reshape(-1).view(np.uint8)
        view = memoryview(data).cast("B")
        tp = self.type()
        if tp is not None and (len(view) == 0 or len(view) % parse_type(tp)[3]):
            raise FabricError(errno.EINVAL, "%d bytes are not a whole number of dataset %s's '%s' (%d bytes "
                              "each)" % (len(view), self.name, tp, parse_type(tp)[3]), path)
        tmp = os.path.join(self.path, ".%s.%d.new" % (key[:200], os.getpid()))
        with _syscalls("put %s/%s" % (self.name, key)):
            try:
                with open(tmp, "xb") as f:
                    f.write(view)  # the close says EINVAL for bytes the dataset's type refuses
                Fabric._wait_sealed(tmp)
                os.rename(tmp, path)
            except BaseException:
                Fabric._remove_quietly(tmp)
                raise
        return key

    def type(self):
        """The dataset's datashape type (every item's, or N of it), None when it has none."""
        with _syscalls("dataset %s" % self.name):
            return Fabric._type(self.path)

    def get(self, key):
        """Item key mapped read-only: an array of its type (flat uint8 without one), or a memoryview."""
        path = self._item(key)
        with _syscalls("get %s/%s" % (self.name, key)):
            return _map_file(path, Fabric._type(path))

    __getitem__ = get
    __setitem__ = put

    def __delitem__(self, key):
        with _syscalls("delete %s/%s" % (self.name, key)):
            os.unlink(self._item(key))

    def __contains__(self, key):
        try:
            return os.path.exists(self._item(key))
        except FabricError:
            return False

    def keys(self):
        with _syscalls("list %s" % self.name):
            return sorted(os.listdir(self.path))

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def put_many(self, source):
        """Every file of a directory, member of a tar archive or KEY<TAB>VALUE line of a .tsv (a path on
        disk) an item, in one request, all or nothing: returns {"items", "bytes"}."""
        return self.fabric.ctl("dataset", "put", self.name, os.path.abspath(os.fsdecode(source)), as_json=True)

    def tree(self):
        """Its tree (`json dataset tree`): {"dataset", "limits", "height", "nodes": [...]}."""
        return self.fabric.ctl("dataset", "tree", self.name, as_json=True)

    def drop(self):
        """Remove the dataset and every item in one request (its owner or root): the number of items."""
        return int(self.fabric.ctl("dataset", "drop", self.name, as_json=True)["items"])


def _watched(path, to, event, prefix):
    return event == "lost" or path.startswith(prefix) or (to or "").startswith(prefix)


def _unescape(field):
    """A path of an `events` line: \\ooo back to its byte (the line format escapes blanks, control bytes
    and backslashes so)."""
    out, i = bytearray(), 0
    while i < len(field):
        if field[i:i + 1] == b"\\" and len(field) >= i + 4:
            out.append(int(field[i + 1:i + 4], 8))
            i += 4
        else:
            out += field[i:i + 1]
            i += 1
    return out.decode("utf-8", "surrogateescape")


def _watch_main(args):
    """fabric watch [PREFIX] [--json]: the events from now on, like inotifywait -m; lines as the mount
    gives them (events or events.json), those under PREFIX (a path in the mount)."""
    as_json = "--json" in args
    words = [a for a in args if a != "--json"]
    if len(words) > 1 or any(w.startswith("-") for w in words):
        print("usage: fabric watch [PREFIX] [--json]", file=sys.stderr)
        return 2
    prefix = words[0] if words else ""
    f = Fabric()
    try:
        for raw in f._event_lines("events.json" if as_json else "events"):
            if as_json:
                e = json.loads(raw)
                ok = _watched(e.get("path", ""), e.get("to", ""), e.get("event"), prefix)
            else:
                cols = raw.split(b"\t")
                to = next((c[3:] for c in cols[4:] if c.startswith(b"to=")), b"")
                ok = len(cols) >= 4 and _watched(_unescape(cols[3]), _unescape(to),
                                                 cols[2].decode("ascii", "replace"), prefix)
            if ok:
                sys.stdout.buffer.write(raw + b"\n")
                sys.stdout.buffer.flush()
    except FabricError as e:
        print("fabric: %s" % e, file=sys.stderr)
        return 1
    except (KeyboardInterrupt, BrokenPipeError):
        return 0
    return 0


_default = None


def _fabric():
    global _default
    if _default is None:
        _default = Fabric()
    return _default


def _on_default(method):
    """The module-level function of a Fabric method: the same call on the default mount."""
    @functools.wraps(method)
    def call(*args, **kwargs):
        return method(_fabric(), *args, **kwargs)
    return call


allocate = _on_default(Fabric.allocate)
deallocate = _on_default(Fabric.deallocate)
insert = _on_default(Fabric.insert)
get_list = _on_default(Fabric.get_list)
get_locations = _on_default(Fabric.get_locations)
get_ptr = _on_default(Fabric.get_ptr)
get = _on_default(Fabric.get)
delete = _on_default(Fabric.delete)
defragment = _on_default(Fabric.defragment)
stat = _on_default(Fabric.stat)
make_dataset = _on_default(Fabric.make_dataset)
dataset = _on_default(Fabric.dataset)
watch = _on_default(Fabric.watch)

if __name__ == "__main__":
    if sys.argv[1:2] == ["watch"]:
        sys.exit(_watch_main(sys.argv[2:]))
    print("usage: python3 fabric.py watch [PREFIX] [--json]", file=sys.stderr)
    sys.exit(2)

