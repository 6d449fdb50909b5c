#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_zerocopy.sh -- the passthrough data path is zero-copy: a mapping of /fabric/vars/x is the variable's
# shm pages themselves (a byte changed through the shm object shows through the fabric mapping at once,
# and not with --no-passthrough), and reading a big variable through the mount adds no page cache.
# Also: a writer killed mid-write (its writes went straight to shm) leaves no sealed variable.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
dp=$(xget "$MNT" user.fabric.datapath)
case $dp in
passthrough*) ;;
*) echo "passthrough is not active on this machine: $dp"; exit 77 ;;
esac

# The same pages: change byte 100 through /dev/shm/SHMNAME, read it back through the fabric's mapping.
same_pages() { # same_pages FILE -> prints "same" or "copy"
	"$PY" - "$1" <<'PY'
import mmap, os, sys
path = sys.argv[1]
shm = os.getxattr(path, "user.fabric.locations").decode().split()[1]
with open(path, "rb") as f, open("/dev/shm/" + shm, "r+b") as g:
    a = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    b = mmap.mmap(g.fileno(), 0)
    old = a[100]
    b[100] = old ^ 0xff
    print("same" if a[100] == old ^ 0xff else "copy")
    b[100] = old
PY
}
mkdata "$T/x" 1048576
ok cp "$T/x" "$V/x"
eq "$(same_pages "$V/x")" same "a fabric mapping after a change through the shm object"
same "$T/x" "$V/x"

# 256 MiB read through the mount: Cached may grow by the shm pages only once (they are Shmem already),
# so Cached minus Shmem must not grow by anything near 256 MiB.
ok dd if=/dev/urandom of="$V/big" bs=1M count=256 status=none
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
before=$(( $(meminfo Cached) - $(meminfo Shmem) ))
ok dd if="$V/big" of=/dev/null bs=1M status=none
after=$(( $(meminfo Cached) - $(meminfo Shmem) ))
grew=$(( (after - before) / 1024 ))
[ $grew -lt 64 ] || bad "reading 256 MiB through the mount added $grew MiB of page cache"

# A writer killed mid-write: its bytes went to shm without the daemon, yet nothing is sealed.
"$PY" -c '
import os, signal, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x" * 100000)
os.kill(os.getpid(), signal.SIGKILL)' "$V/killed"
wait_for eval '! [ -e "$V/killed" ]'
[ -e "$V/killed" ] && bad "a variable whose writer was killed is still there: $(xget "$V/killed" user.fabric.state)"
eq "$(yp "select count(*) from objects where name = 'killed' and state = 'sealed'")" 0 \
	"sealed rows of the killed writer's variable"

# With --no-passthrough the fabric mapping is a page-cache copy: the shm change is not seen.
fab_umount
fab_mount --no-passthrough
match "$(xget "$MNT" user.fabric.datapath)" "^FUSE read/write" "data path with --no-passthrough"
eq "$(same_pages "$V/x")" copy "a fabric mapping without passthrough"
same "$T/x" "$V/x"
# ...and reading through the mount makes a second copy in the page cache: the check above can see one.
before=$(( $(meminfo Cached) - $(meminfo Shmem) ))
ok dd if="$V/big" of=/dev/null bs=1M status=none
after=$(( $(meminfo Cached) - $(meminfo Shmem) ))
grew=$(( (after - before) / 1024 ))
[ $grew -ge 128 ] || bad "without passthrough a 256 MiB read added only $grew MiB of page cache"
fab_done
