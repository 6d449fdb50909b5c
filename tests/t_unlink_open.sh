#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_unlink_open.sh -- POSIX unlink: a process that has a variable open and mmap'd keeps reading the right
# bytes after `rm`, even once a new variable has taken the same name.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
mkdata "$T/old" 3145733 # 3 MiB and a bit: many pages, a short last one
mkdata "$T/new" 5000
ok cp "$T/old" "$V/u"
mkfifo "$T/go"

# The holder opens u (fd, mmap, buffered file), touches only the first page, says ready, waits for go,
# then reads everything through all three and prints their sha256s and the size fstat sees.
"$PY" - "$V/u" "$T/ready" "$T/go" >"$T/holder.out" 2>"$T/holder.err" <<'EOF' &
import hashlib, mmap, os, sys
path, ready, go = sys.argv[1:4]
fd = os.open(path, os.O_RDONLY)
size = os.fstat(fd).st_size
m = mmap.mmap(fd, size, prot=mmap.PROT_READ)
f = open(path, "rb")
first = (os.pread(fd, 4096, 0), m[:4096], f.read(4096))
with open(ready, "w") as r:
    r.write("ready")
with open(go) as g:
    g.read()
whole = (os.pread(fd, size + 1, 0), m[:], first[2] + f.read())
for w in whole:
    print(hashlib.sha256(w).hexdigest())
print(os.fstat(fd).st_size)
print("first pages agree" if len(set(first)) == 1 and first[0] == whole[0][:4096] else "first pages differ")
EOF
holder=$!
ready_or_gone() { [ -s "$T/ready" ] || ! alive $holder; }
wait_for ready_or_gone
if [ ! -s "$T/ready" ]; then
	bad "the holder did not get ready: $(cat "$T/holder.err")"
	fab_done
fi

ok rm "$V/u"
fails "No such file or directory" stat "$V/u"
ls "$V" | grep -qx u && bad "ls still lists u after rm"
ok cp "$T/new" "$V/u" # the name is free again
same "$V/u" "$T/new" "a new variable under the removed one's name"

echo go >"$T/go"
wait_exit $holder "the process holding the removed variable" || bad "the holder failed: $(cat "$T/holder.err")"
want=$(sha256sum <"$T/old" | cut -d' ' -f1)
mapfile -t got <"$T/holder.out"
eq "${got[0]:-}" "$want" "pread of the removed variable through a descriptor opened before rm"
eq "${got[1]:-}" "$want" "mmap of the removed variable made before rm"
eq "${got[2]:-}" "$want" "buffered read of the removed variable opened before rm"
eq "${got[3]:-}" 3145733 "fstat size of the removed variable"
eq "${got[4]:-}" "first pages agree" "the pages read before rm"
same "$V/u" "$T/new" "the new variable after the holder finished"
eq "$(xget "$V/u" user.fabric.xxh3)" "$(xxh128 "$T/new")" "xxh3 of the new variable"

fab_done
