#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_getptr.sh -- get_ptr for programs: tools/fabric.h's fabric_map gives the bytes of a variable, with
# its type, as root (the shm object itself) and as another user (the file in the mount); and the README's
# Python example (mmap on the location) gives the same bytes.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_public_tools
fab_mount
V=$MNT/vars
PEEK=$FAB_ROOT/tools/fabric-peek
[ -x "$PEEK" ] || { bad "tools/fabric-peek is not built (run make)"; fab_done; }

mkdata "$T/a" 5000011
ok cp "$T/a" "$V/a"
mkdata "$T/small" 100
ok cp "$T/small" "$V/small"
"$PY" -c 'import numpy as np; np.arange(12, dtype="int32").tofile("'"$T/t"'")'
ok cp "$T/t" "$V/t"
ok setfattr -n user.fabric.type -v '3 * 4 * int32' "$V/t"

ok env FABRIC="$MNT" "$PEEK" a "$V/small" t
eq "$(last_out)" "$(printf 'a\t5000011\t-\t%s\n%s\t100\t-\t%s\nt\t48\t3 * 4 * int32\t%s' \
	"$(xxh128 "$T/a")" "$V/small" "$(xxh128 "$T/small")" "$(xxh128 "$T/t")")" "fabric-peek as root"

# Another user cannot open the 0600 shm objects: fabric_map falls back to the mount, same bytes.
ok setpriv --reuid=nobody --regid=nogroup --clear-groups env FABRIC="$MNT" "$PUB_PEEK" a
eq "$(last_out | cut -f4)" "$(xxh128 "$T/a")" "fabric-peek as nobody"

fails "" env FABRIC="$MNT" "$PEEK" missing
match "$(last_err)" "No such file or directory" "fabric-peek of a missing variable"

# The README's Python example: the location's shm object, mapped at its offset.
eq "$("$PY" - "$V/a" <<'PY'
import mmap, os, sys, hashlib
node, shm, off, length = os.getxattr(sys.argv[1], "user.fabric.locations").decode().split()
off, length = int(off), int(length)
with open("/dev/shm/" + shm, "rb") as f:
    start = off - off % mmap.PAGESIZE
    m = mmap.mmap(f.fileno(), length + off - start, prot=mmap.PROT_READ, offset=start)
    print(hashlib.sha256(m[off - start:off - start + length]).hexdigest())
PY
)" "$(sha256sum <"$T/a" | cut -d' ' -f1)" "the Python example's bytes"
fab_done
