#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_capacity.sh -- --capacity: df reports it (64M, 1G, 4096), used space rises as variables are stored;
# a write past it fails with ENOSPC, the variable that hit it is dropped (and its space given back), and
# every other variable keeps its bytes and xxh3.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --capacity 64M

V=$MNT/vars
MiB=1048576
PAGES=$((16 * 4096)) # "within a few pages"

df_field() { df -B1 --output="$2" "$1" | tail -n 1 | tr -d ' '; }
near() { # GOT WANT WHAT: |GOT - WANT| <= PAGES
	local d=$(($1 - $2))
	[ $d -lt 0 ] && d=$((-d))
	[ $d -le $PAGES ] || bad "$3: $1, want $2 within $PAGES bytes"
}

total=$(df_field "$MNT" size)
near "$total" $((64 * MiB)) "df size with --capacity 64M"
used0=$(df_field "$MNT" used)

# Store some variables; used space rises with each.
mkdata "$T/a" $((8 * MiB))
mkdata "$T/b" $((4 * MiB))
mkdata "$T/c" 10000
ok cp "$T/a" "$V/a"
cat "$V/a" >/dev/null # waits for the seal
used1=$(df_field "$MNT" used)
[ "$used1" -ge $((used0 + 8 * MiB - PAGES)) ] || bad "df used after storing 8 MiB: $used0 -> $used1"
ok mkdir "$V/d"
ok cp "$T/b" "$V/d/b"
ok cp "$T/c" "$V/c"
cat "$V/d/b" "$V/c" >/dev/null
used2=$(df_field "$MNT" used)
[ "$used2" -ge $((used1 + 4 * MiB - PAGES)) ] || bad "df used after storing 4 MiB more: $used1 -> $used2"
eq "$(df_field "$MNT" size)" "$total" "df size does not change as space is used"
xa=$(xget "$V/a" user.fabric.xxh3)
xb=$(xget "$V/d/b" user.fabric.xxh3)
xc=$(xget "$V/c" user.fabric.xxh3)

# 80 MiB do not fit in what is left of 64 MiB.  Another variable is being written meanwhile: it is
# untouched too, and seals whole once its writer finishes after the ENOSPC.
mkdata "$T/w2" $((2 * MiB))
mkfifo "$T/go"
(
	exec 3>"$V/w2"
	head -c $MiB "$T/w2" >&3
	read -r _ <"$T/go"
	tail -c +$((MiB + 1)) "$T/w2" >&3
) &
writer=$!
wait_for xattr_is "$V/w2" user.fabric.state writing
fails "No space left on device" dd if=/dev/zero of="$V/big" bs=1M count=80 status=none
gone() { [ ! -e "$1" ]; }
wait_for gone "$V/big"
echo go >"$T/go"
wait_exit $writer "the writer of w2" || bad "the writer of w2 failed after another variable hit ENOSPC"
same "$V/w2" "$T/w2" "a variable being written while another hit ENOSPC"
eq "$(xget "$V/w2" user.fabric.xxh3)" "$(xxh128 "$T/w2")" "xxh3 of w2"
ls "$V" | grep -qx big && bad "ls still lists the variable that hit ENOSPC"
same "$V/a" "$T/a" "a after ENOSPC"
same "$V/d/b" "$T/b" "d/b after ENOSPC"
same "$V/c" "$T/c" "c after ENOSPC"
eq "$(xget "$V/a" user.fabric.xxh3)" "$xa" "xxh3 of a after ENOSPC"
eq "$(xget "$V/d/b" user.fabric.xxh3)" "$xb" "xxh3 of d/b after ENOSPC"
eq "$(xget "$V/c" user.fabric.xxh3)" "$xc" "xxh3 of c after ENOSPC"
eq "$(xxh128 "$V/a")" "$xa" "bytes of a still hash to its xxh3"

# The dropped variable's space is free again: 16 MiB still fit (64 - 14 used).
mkdata "$T/e" $((16 * MiB))
ok cp "$T/e" "$V/e"
same "$V/e" "$T/e" "a variable stored after ENOSPC"
eq "$(xget "$V/e" user.fabric.state)" sealed "state of a variable stored after ENOSPC"

# Other sizes: 1G and bare byte counts, each on its own state dir and node.
fab_mount_at "$T/mnt1g" "$T/state1g" "$NODE-g" --capacity 1G
near "$(df_field "$T/mnt1g" size)" $((1024 * MiB)) "df size with --capacity 1G"
ok fab_umount "$T/mnt1g"
fab_mount_at "$T/mntb" "$T/stateb" "$NODE-b" --capacity 16777216
near "$(df_field "$T/mntb" size)" $((16 * MiB)) "df size with --capacity 16777216"
ok fab_umount "$T/mntb"
fab_mount_at "$T/mnt4k" "$T/state4k" "$NODE-k" --capacity 4096
near "$(df_field "$T/mnt4k" size)" 4096 "df size with --capacity 4096"
mkdata "$T/f" 5000
fails "No space left on device" cp "$T/f" "$T/mnt4k/vars/f"
ok fab_umount "$T/mnt4k"

fab_done
