#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_mutable.sh -- mutable objects (`fabric mutable NAME SIZE`): never sealed, written in place by several
# processes through shared writable mappings that see each other's bytes; size fixed (a write past it is
# cut back and close says EFBIG; truncate and O_TRUNC EPERM); kept across a restart.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount
V=$MNT/vars
export FABRIC=$MNT

ok sh -c 'umask 002; exec "$@"' _ "$FAB_TOOL" mutable m 8192 scope="node:$NODE"
eq "$(last_out)" $'size\t8192' "mutable's answer"
eq "$(xget "$V/m" user.fabric.state)" mutable "state of a mutable object"
eq "$(xget "$V/m" user.fabric.kind)" mutable "kind of a mutable object"
eq "$(xget "$V/m" user.fabric.scope)" "node:$NODE" "scope given at creation"
xget "$V/m" user.fabric.xxh3 >/dev/null && bad "a mutable object has an xxh3"
eq "$(stat -c '%s %A' "$V/m")" "8192 -rw-rw-r--" "size and mode of a mutable object: 0666 less its maker's umask (002)"
fails "File exists" "$FAB_TOOL" mutable m 10
fails "Invalid argument" "$FAB_TOOL" mutable z 0
fails "Invalid argument" "$FAB_TOOL" mutable z 1M scope=node:elsewhere

# two processes, each with its own shared writable mapping, take turns: each sees the other's bytes
mkfifo "$T/ab" "$T/ba"
writer() { # NAME OFFSET MINE THEIRS IN OUT FIRST
	"$PY" - "$V/m" "$@" <<'PY'
import mmap, os, sys
path, name, off, mine, theirs, fin, fout, first = sys.argv[1:9]
off, theirs_off = int(off), 4096 - int(off)
with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 8192)
    if first == "1":
        m[off:off + len(mine)] = mine.encode()
        open(fout, "w").write("go\n")
        open(fin).read()
    else:
        open(fin).read()
        m[off:off + len(mine)] = mine.encode()
        open(fout, "w").write("go\n")
    print(name, "sees", m[theirs_off:theirs_off + len(theirs)].decode())
PY
}
writer A 0 alpha omega "$T/ba" "$T/ab" 1 >"$T/a.out" &
a=$!
writer B 4096 omega alpha "$T/ab" "$T/ba" 0 >"$T/b.out" &
b=$!
wait_exit $a "writer A" || bad "writer A failed"
wait_exit $b "writer B" || bad "writer B failed"
eq "$(cat "$T/a.out") / $(cat "$T/b.out")" "A sees omega / B sees alpha" "what each writer's mapping shows"
eq "$(head -c 5 "$V/m")" alpha "the bytes through read(2)"

# fixed size
fails "File too large" "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"x", 8192)
os.close(fd)' "$V/m"
eq "$(stat -c %s "$V/m")" 8192 "size after a write past the end"
fails "Operation not permitted" truncate -s 100 "$V/m"
fails "Operation not permitted" sh -c ": > '$V/m'"
eq "$(head -c 5 "$V/m")" alpha "bytes after the refused changes"

fab_umount
fab_mount
eq "$(xget "$V/m" user.fabric.state)" mutable "state after a restart"
eq "$(head -c 5 "$V/m")" alpha "bytes after a restart"
fab_done
