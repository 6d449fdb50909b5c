#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_numpy.sh -- numpy reads variables with np.memmap and np.fromfile exactly as written (arrays written
# with tofile to a temp file and cp'd in, or written by tofile straight into vars/), and the shape and
# dtype can be taken from the user.fabric.type xattr.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
"$PY" -c 'import numpy' 2>/dev/null || bad "$PY has no numpy (make deps installs python3-numpy)"

ok "$PY" - "$T" <<'EOF'
import numpy as np, sys
t = sys.argv[1]
rng = np.random.default_rng(7)
rng.standard_normal((40, 20)).tofile(t + "/w.bin")
rng.integers(-2**31, 2**31 - 1, size=(3, 5, 7), dtype=np.int32).tofile(t + "/i.bin")
EOF
ok cp "$T/w.bin" "$V/w"
ok setfattr -n user.fabric.type -v "40 * 20 * float64" "$V/w"
ok cp "$T/i.bin" "$V/i"
ok setfattr -n user.fabric.type -v "3*5*7*int32" "$V/i"

# The exact command of the spec, then fromfile, compared with what was written.
ok "$PY" -c "import numpy as np; a=np.memmap('$V/w', dtype='float64', mode='r', shape=(40,20))"
ok "$PY" - "$V" "$T" <<'EOF'
import numpy as np, sys
v, t = sys.argv[1:3]
want = np.fromfile(t + "/w.bin", dtype="float64").reshape(40, 20)
a = np.memmap(v + "/w", dtype="float64", mode="r", shape=(40, 20))
assert np.array_equal(a, want), "memmap of vars/w differs from what was written"
assert a[39, 19] == want[39, 19] and a.sum() == want.sum()
b = np.fromfile(v + "/w", dtype="float64").reshape(40, 20)
assert np.array_equal(b, want), "fromfile of vars/w differs"
i = np.memmap(v + "/i", dtype="int32", mode="r", shape=(3, 5, 7))
assert np.array_equal(i, np.fromfile(t + "/i.bin", dtype="int32").reshape(3, 5, 7)), "memmap of vars/i differs"
EOF

# Shape and dtype from the type xattr, as a consumer that knows only the name would do.
ok "$PY" - "$V/w" "$T/w.bin" <<'EOF'
import os, sys, numpy as np
path, src = sys.argv[1:3]
parts = [p.strip() for p in os.getxattr(path, "user.fabric.type").decode().split("*")]
shape, dtype = tuple(int(p) for p in parts[:-1]), parts[-1]
assert (shape, dtype) == ((40, 20), "float64"), (shape, dtype)
a = np.memmap(path, dtype=dtype, mode="r", shape=shape)
assert np.array_equal(a, np.fromfile(src, dtype=dtype).reshape(shape))
EOF

# numpy writing straight into vars/ (tofile creates the variable; its close seals it), then reading back.
ok "$PY" - "$V/direct" "$T/direct.bin" <<'EOF'
import numpy as np, sys
a = np.arange(100000, dtype=np.float32) * 0.5
a.tofile(sys.argv[1])
a.tofile(sys.argv[2])
EOF
same "$V/direct" "$T/direct.bin" "an array written by tofile into vars/"
ok "$PY" - "$V/direct" <<'EOF'
import numpy as np, sys
a = np.memmap(sys.argv[1], dtype="float32", mode="r")
assert a.shape == (100000,) and np.array_equal(a, np.arange(100000, dtype=np.float32) * 0.5)
EOF
eq "$(xget "$V/direct" user.fabric.state)" sealed "state of an array written by numpy"
ok setfattr -n user.fabric.type -v "100000 * float32" "$V/direct"

fab_done
