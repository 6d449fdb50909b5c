#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_scope.sh -- user.fabric.scope on variables: set while writing, only narrowed after sealing, and
# enforced at open: a process: variable opens for its process and that process's threads only (EACCES
# for everybody else), an exact: one for one thread, a node: one only on its node.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount
V=$MNT/vars

mkdata "$T/a" 10000
ok cp "$T/a" "$V/a"
eq "$(xget "$V/a" user.fabric.scope)" any "the default scope"
fails "Invalid argument" setfattr -n user.fabric.scope -v "nod:$NODE" "$V/a"
fails "Invalid argument" setfattr -n user.fabric.scope -v "node:elsewhere" "$V/a"
ok setfattr -n user.fabric.scope -v "union:node:$NODE" "$V/a"
eq "$(xget "$V/a" user.fabric.scope)" "node:$NODE" "a narrowed scope, canonical"
fails "Operation not permitted" setfattr -n user.fabric.scope -v any "$V/a"
same "$T/a" "$V/a"

# A process scopes its own variable to itself while writing it; then it and its threads may open it,
# another process may not.
"$PY" - "$V/p" "$NODE" "$T/ready" "$T/go" >"$T/owner.out" 2>&1 <<'PY' &
import os, sys, threading
path, node, ready, go = sys.argv[1:5]
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"pointer-ish bytes")
os.setxattr(path, "user.fabric.scope", ("process:%s/%d" % (node, os.getpid())).encode())
os.close(fd)
def read():
    with open(path, "rb") as f:
        return f.read()
print("owner:", read().decode())
box = []
t = threading.Thread(target=lambda: box.append(read())); t.start(); t.join()
print("thread:", box[0].decode())
# exact: this thread only
os.setxattr(path, "user.fabric.scope", ("exact:%s/%d/%d" % (node, os.getpid(), threading.get_native_id())).encode())
print("exact owner thread:", read().decode())
def other():
    try:
        read(); box.append("opened")
    except PermissionError:
        box.append("EACCES")
t = threading.Thread(target=other); t.start(); t.join()
print("exact other thread:", box[-1])
open(ready, "w").write("ready")
open(go).read()
PY
owner=$!
mkfifo "$T/go"
wait_for test -s "$T/ready"
fails "Permission denied" cat "$V/p"
eq "$(ls "$V" | tr '\n' ' ')" "a p " "a process-scoped variable is still listed"
echo go >"$T/go"
wait_exit $owner "the owner" || bad "the owner failed: $(cat "$T/owner.out")"
eq "$(cat "$T/owner.out")" $'owner: pointer-ish bytes\nthread: pointer-ish bytes\nexact owner thread: pointer-ish bytes\nexact other thread: EACCES' "what the owner saw"
# its process has ended: the variable means nothing any more and goes at the next attempt to open it
fails "No such file or directory" cat "$V/p"
eq "$(ls "$V" | tr '\n' ' ')" "a " "vars/ once the owner of p has ended"
wait_for eval '! stat "$V/p" >/dev/null 2>&1' # the kernel is told (asynchronously) to forget the name
grep -q "vars/p: removed: every process of its scope" "$ST/fabricd.log" || bad "the log does not say why p went"

# node scope enforced by the daemon's node name: a row scoped to another node (as if written there)
fab_umount
sqlite3 "$ST/yp.db" "update objects set scope = 'node:othernode' where name = 'a'"
fab_mount
fails "Permission denied" cat "$V/a"
fab_done
