#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_strict_seal.sh -- --strict-seal sends writers through the daemon: cp still works and seals, a writer
# cannot map the file (ENODEV), readers still get the shm pages themselves; and by default (passthrough
# writers) a producer can build a variable in place with numpy.memmap(mode="w+").
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount
V=$MNT/vars
case $(xget "$MNT" user.fabric.datapath) in
passthrough*) ;;
*) echo "passthrough is not active on this machine"; exit 77 ;;
esac

# Default: numpy builds a variable in place through a shared writable mapping; it seals at munmap.
ok "$PY" -c '
import numpy as np, sys
a = np.memmap(sys.argv[1], dtype="float64", mode="w+", shape=(40, 20))
a[:] = np.arange(800).reshape(40, 20)
a.flush(); del a' "$V/inplace"
wait_for xattr_is "$V/inplace" user.fabric.state sealed
eq "$("$PY" -c '
import numpy as np, sys
print(int(np.memmap(sys.argv[1], dtype="float64", mode="r").sum()))' "$V/inplace")" 319600 "sum of the in-place variable"

fab_umount
fab_mount --strict-seal
match "$(xget "$MNT" user.fabric.datapath)" "strict-seal" "data path with --strict-seal"
mkdata "$T/a" 300000
ok cp "$T/a" "$V/a"
same "$T/a" "$V/a"
eq "$(xget "$V/a" user.fabric.state)" sealed "state after cp under --strict-seal"
fails "No such device" "$PY" -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 4096)
mmap.mmap(fd, 4096)' "$V/mapped"
fab_done
