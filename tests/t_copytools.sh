#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_copytools.sh -- the POSIX habits cp -a, tar -x and rsync -a rely on: the mtime they set while
# writing (before the asynchronous RELEASE that seals) is the mtime after the seal, to the nanosecond,
# whatever chmod they send after it; a second rsync -a of the same tree transfers nothing.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --capacity 64M
V=$MNT/vars
export TZ=UTC
for t in rsync tar; do command -v $t >/dev/null || { echo "$t is not installed (make deps installs it)"; exit 77; }; done

mkdir -p "$T/src/d/e"
for i in 1 2 3; do mkdata "$T/src/d/f$i" $((3000 * i)); done
mkdata "$T/src/d/e/big" 200000 # past the slab threshold: keeps its own block
touch -d '2020-01-02 03:04:05.123456789' "$T/src/d/f1" "$T/src/d/f2" "$T/src/d/f3" "$T/src/d/e/big"
mtimes() { (cd "$1" && find . -type f | sort | while read -r f; do echo "$f $(stat -c %y "$f")"; done); }
want=$(mtimes "$T/src/d")

ok cp -a "$T/src/d" "$V/cp"
eq "$(mtimes "$V/cp")" "$want" "cp -a keeps every mtime to the nanosecond"
ok tar -C "$T/src" --format=posix -cf "$T/d.tar" d
ok mkdir "$V/tar"
ok tar -C "$V/tar" -xf "$T/d.tar"
eq "$(mtimes "$V/tar/d")" "$want" "tar -x (pax format) keeps every mtime to the nanosecond"
ok rsync -a "$T/src/" "$V/rs/"
eq "$(mtimes "$V/rs/d")" "$want" "rsync -a keeps every mtime"
ok rsync -a --stats "$T/src/" "$V/rs/"
match "$(last_out)" $'Number of regular files transferred: 0\n' "a second rsync -a transfers nothing"
for f in f1 f2 f3 e/big; do same "$T/src/d/$f" "$V/rs/d/$f" "rsync's copy of $f"; done
eq "$(xget "$V/cp/f1" user.fabric.state)" sealed "cp -a's copy is sealed"
# Without a set time, the mtime is the last write's, also through passthrough (writes the daemon never
# sees), and not the create's or the seal's.
ok "$PY" -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"first"); time.sleep(2.5); os.write(fd, b" last")
print(time.time_ns()); time.sleep(2.5); os.close(fd)' "$V/slow"
last=$(last_out)
got=$(stat -c %Y "$V/slow")
[ $((got - last / 1000000000)) -ge -1 ] && [ $((got - last / 1000000000)) -le 0 ] ||
	bad "mtime of vars/slow is $got, the last write was at $((last / 1000000000)) (not the create 2.5 s before it, nor the close 2.5 s after)"
ok sh -c 'exec 3>"$1"; echo x >&3; touch -d "2019-03-04 05:06:07.25" "$1"; echo y >&3' _ "$V/settime"
[ "$(stat -c %Y "$V/settime")" -ge $(($(date +%s) - 60)) ] ||
	bad "a write after the writer set the time must move it, as POSIX says: $(stat -c %y "$V/settime")"
ok sh -c 'exec 3>"$1"; echo x >&3; touch -d "2019-03-04 05:06:07.25" "$1"; exec 3>&-' _ "$V/settime2"
eq "$(stat -c %y "$V/settime2")" "2019-03-04 05:06:07.250000000 +0000" "a time set while writing, then close"
# chmod of a sealed variable keeps its mtime; touch -d sets it.
ok chmod 400 "$V/cp/f2"
eq "$(stat -c %y "$V/cp/f2")" "$(stat -c %y "$T/src/d/f2")" "chmod changes no mtime"
ok touch -d '2021-06-07 08:09:10.5' "$V/cp/f3"
eq "$(stat -c %y "$V/cp/f3")" "2021-06-07 08:09:10.500000000 +0000" "touch -d on a sealed variable"
# All of it survives a restart (the YP holds the times).
ok fab_umount
fab_mount --capacity 64M
eq "$(mtimes "$V/rs/d")" "$want" "mtimes after a restart"

fab_done
