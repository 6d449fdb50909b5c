#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_checkpoint.sh -- the bytes a checkpoint writes, exact at every size the data path treats apart: packed
# variables (under 64 KiB, in slabs, copied out with store_read and written with one pwrite), a block of
# its own with O_DIRECT for the page-aligned body and a buffered tail (a tail of 0, 1 and 4095 bytes; one
# request, several, and more bytes than the batch keeps in flight), empty ones, two names of the same
# bytes, and more files than are in flight at once.  Each round: checkpoint, every data file checked
# against its source (cmp, and its xxh3 against its name), the node's shm wiped, the fabric mounted again,
# restore, every variable compared byte for byte and by xxh3.  Once to a directory on the test's disk
# (O_DIRECT where its file system reports an alignment: the daemon log says how many files took it), once
# to a tmpfs, which reports none: the buffered fallback.  (t_load.sh has the checkpoint answers, a second
# checkpoint that writes nothing, a damaged data file; t_rights.sh what a checkpoint may hold.)
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount
V=$MNT/vars
export FABRIC=$MNT

M=$((1 << 20))
# NAME SIZE: packed below 65536 bytes; 65536 and up have a block of their own
sizes="e0 0
p1 1
p4095 4095
p4096 4096
p4097 4097
p65535 65535
b65536 65536
b65537 65537
b1m3 $((M + 3))
b4m $((4 * M))
b8m4095 $((8 * M + 4095))
b64m1 $((64 * M + 1))"
mkdir "$T/src"
names=()
while read -r name size; do
	mkdata "$T/src/$name" "$size"
	names+=("$name")
done <<<"$sizes"
# more files than the batch keeps in flight (8), with a block each, small enough to be in flight together
for i in $(seq 1 12); do
	mkdata "$T/src/many$i" $((200 * 1024 + i))
	names+=("many$i")
done
mkdir "$V/d"
for n in "${names[@]}"; do
	ok cp "$T/src/$n" "$V/d/$n"
done
ok cp "$T/src/b1m3" "$V/dup"    # the same bytes under a second name: one data file
# close(2) returns before the kernel sends RELEASE, and a checkpoint saves sealed variables only
for n in "${names[@]}"; do
	wait_says sealed xget "$V/d/$n" user.fabric.state
done
wait_says sealed xget "$V/dup" user.fabric.state
direct_files=18                 # b65536 .. b64m1, many1..12 (the dup is not written twice)
all_files=24                    # and e0 .. p65535

# check_data DIR: every data file holds its source's bytes, is named by their xxh3, and nothing else
# (no temporary file) is left in DIR/data.
check_data() {
	local n x
	for n in "${names[@]}"; do
		x=$(xxh128 "$T/src/$n")
		if [ ! -f "$1/data/$x" ]; then
			bad "no data file for $n ($x) in $1"
			continue
		fi
		same "$T/src/$n" "$1/data/$x" "data file of $n ($(stat -c %s "$T/src/$n") bytes)"
		eq "$(xxh128 "$1/data/$x")" "$x" "xxh3 of the data file of $n"
	done
	eq "$(find "$1/data" -type f | wc -l)" "$all_files" "files in $1/data"
}

# round DIR: checkpoint to DIR, wipe the shm, mount, restore from DIR, compare.
round() {
	local dir=$1 n
	ok "$FAB_TOOL" checkpoint "$dir"
	match "$(last_out)" $'variables\t'$((${#names[@]} + 1)) "checkpoint answer ($dir)"
	check_data "$dir"
	fab_umount
	rm -f /dev/shm/fabric."$NODE".*
	fab_mount
	[ -e "$V/d/b1m3" ] && bad "vars/d/b1m3 survived a wipe of /dev/shm without restore"
	ok "$FAB_TOOL" restore "$dir"
	match "$(last_out)" $'restored\t'$((${#names[@]} + 1)) "restore answer ($dir)"
	for n in "${names[@]}"; do
		same "$T/src/$n" "$V/d/$n" "vars/d/$n restored from $dir"
		eq "$(xget "$V/d/$n" user.fabric.xxh3)" "$(xxh128 "$T/src/$n")" "xxh3 of vars/d/$n restored from $dir"
	done
	same "$T/src/b1m3" "$V/dup" "vars/dup restored from $dir"
}

# a disk file system: O_DIRECT for every file with a block of its own, when it reports an alignment
round "$T/ck"
line=$(grep 'checkpoint to '"$T/ck"':' "$ST/fabricd.log" | tail -n 1)
if [ "$(stat -f -c %T "$T")" = ext2/ext3 ]; then # ext4 (stat -f says ext2/ext3) takes O_DIRECT
	match "$line" "$all_files data file\(s\) written, $direct_files with O_DIRECT" "log of the checkpoint to ext4"
else
	echo "note: $T is on $(stat -f -c %T "$T"), not ext4: not asking which files took O_DIRECT" >&2
fi

# a tmpfs reports no direct-I/O alignment: everything buffered, the same bytes
mkdir "$T/tmpfs"
ok mount -t tmpfs -o size=256M tmpfs "$T/tmpfs"
round "$T/tmpfs/ck"
line=$(grep 'checkpoint to '"$T/tmpfs/ck"':' "$ST/fabricd.log" | tail -n 1)
match "$line" "$all_files data file\(s\) written, 0 with O_DIRECT; 0 bytes with O_DIRECT" "log of the checkpoint to tmpfs"
umount "$T/tmpfs"
fab_done
