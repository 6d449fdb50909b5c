#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_readers.sh -- many readers at once: 16 cat of a 64 MiB variable, dd readers of different parts in
# parallel, and 8 readers that open a variable while it is still being written (all wait, all get it all).
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
MiB=1048576
mkdata "$T/big" $((64 * MiB))
ok cp "$T/big" "$V/big"

# 16 cat at once.
pids=()
for i in $(seq 16); do
	sh -c 'cat "$1" | cmp - "$2"' _ "$V/big" "$T/big" >"$T/cat$i.out" 2>&1 &
	pids+=($!)
done
for i in $(seq 16); do
	wait_exit "${pids[i - 1]}" "parallel cat $i" || bad "parallel cat $i of a 64 MiB variable: $(cat "$T/cat$i.out")"
done

# 8 dd of different 4 MiB parts at once (and a cat beside them).
pids=()
for k in $(seq 0 7); do
	dd if="$V/big" of="$T/part$k" bs=1M skip=$((k * 8 + 3)) count=4 status=none &
	pids+=($!)
done
sh -c 'cat "$1" | cmp - "$2"' _ "$V/big" "$T/big" >"$T/catdd.out" 2>&1 &
catdd=$!
for k in $(seq 0 7); do
	wait_exit "${pids[k]}" "parallel dd $k" || bad "parallel dd $k failed"
	dd if="$T/big" of="$T/want$k" bs=1M skip=$((k * 8 + 3)) count=4 status=none
	same "$T/part$k" "$T/want$k" "parallel dd of part $k"
done
wait_exit $catdd "cat beside the dd readers" || bad "cat beside the dd readers: $(cat "$T/catdd.out")"

# 8 readers open a variable while it is being written: all wait for the seal and read all 8 MiB.
head -c $((8 * MiB)) "$T/big" >"$T/fut"
mkfifo "$T/go"
(
	exec 3>"$V/fut"
	head -c $MiB "$T/fut" >&3
	read -r _ <"$T/go"
	tail -c +$((MiB + 1)) "$T/fut" >&3
) &
writer=$!
wait_for xattr_is "$V/fut" user.fabric.state writing
pids=()
for i in $(seq 8); do
	cat "$V/fut" >"$T/fut$i" 2>"$T/fut$i.err" &
	pids+=($!)
done
for i in $(seq 8); do
	wait_blocked "${pids[i - 1]}" "reader $i of a variable being written"
done
echo go >"$T/go"
wait_exit $writer "the writer" || bad "the writer of fut failed"
for i in $(seq 8); do
	wait_exit "${pids[i - 1]}" "waiting reader $i" || bad "waiting reader $i: $(cat "$T/fut$i.err")"
	same "$T/fut$i" "$T/fut" "what waiting reader $i read"
done

fab_done
