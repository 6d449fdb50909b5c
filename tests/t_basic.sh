#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_basic.sh -- a mounted fabric behaves like a plain filesystem for cp, cat, ls, stat, dd, head/tail,
# sha256sum, over variables of many sizes (empty, under, at and over a page, a few MiB) and in subdirs.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
eq "$(ls -A "$MNT" | tr "\n" " ")" "ctl datasets events events.json nodes shards tasks vars " "the mount root holds ctl, datasets/, events, events.json, nodes/, shards/, tasks/ and vars/"
eq "$(stat -c %F "$V")" directory "vars/ is a directory"
eq "$(ls -A "$V")" "" "vars/ starts empty"

# Variables of several sizes: cp in, then cat, cmp, sha256, stat, cp out.
sizes="0 1 100 4095 4096 4097 65536 1048579 5242880"
for n in $sizes; do
	mkdata "$T/src.$n" "$n"
	ok cp "$T/src.$n" "$V/v$n"
done
for n in $sizes; do
	f=$V/v$n
	eq "$(stat -c %s "$f")" "$n" "stat size of v$n"
	eq "$(stat -c '%F %a' "$f")" "$([ "$n" = 0 ] && echo 'regular empty file' || echo 'regular file') 444" \
		"type and mode of sealed v$n"
	cat "$f" >"$T/cat.$n" 2>"$T/cat.err" || bad "cat v$n: $(cat "$T/cat.err")"
	same "$T/cat.$n" "$T/src.$n" "cat of v$n"
	eq "$(sha256sum <"$f" | cut -d' ' -f1)" "$(sha256sum <"$T/src.$n" | cut -d' ' -f1)" "sha256 of v$n"
	ok cmp "$f" "$T/src.$n"
	ok cp "$f" "$T/out.$n"
	same "$T/out.$n" "$T/src.$n" "cp out of v$n"
done

# ls and ls -l: every name, sizes, modes.
eq "$(ls "$V" | sort | tr '\n' ' ')" "$(for n in $sizes; do echo "v$n"; done | sort | tr '\n' ' ')" "ls vars/"
line=$(ls -l "$V/v1048579")
match "$line" '^-r--r--r--.* 1048579 .*/v1048579$' "ls -l of a sealed variable"
eq "$(ls -l "$V" | grep -c '^-r--r--r--')" "$(wc -w <<<"$sizes")" "ls -l shows every variable read-only"

# dd reading parts: bs/count/skip, seek into an output file, a read past the end.
src=$T/src.1048579
f=$V/v1048579
ok dd if="$f" of="$T/dd1" bs=4096 skip=3 count=5 status=none
ok dd if="$src" of="$T/dd1.want" bs=4096 skip=3 count=5 status=none
same "$T/dd1" "$T/dd1.want" "dd bs=4096 skip=3 count=5"
eq "$(fsize "$T/dd1")" 20480 "dd bs=4096 count=5 size"
ok dd if="$f" of="$T/dd2" bs=1000 skip=7 seek=2 count=3 status=none
ok dd if="$src" of="$T/dd2.want" bs=1000 skip=7 seek=2 count=3 status=none
same "$T/dd2" "$T/dd2.want" "dd bs=1000 skip=7 seek=2 count=3"
ok dd if="$f" of="$T/dd3" bs=65536 skip=15 status=none # last block is short (1048579 = 16*65536 + 3)
ok dd if="$src" of="$T/dd3.want" bs=65536 skip=15 status=none
same "$T/dd3" "$T/dd3.want" "dd of the tail"
eq "$(fsize "$T/dd3")" 65539 "dd of the tail size"
eq "$(dd if="$f" bs=4096 skip=1000 status=none | wc -c)" 0 "dd skipping past the end reads nothing"
ok dd if="$f" of="$T/dd4" bs=1 skip=12345 count=77 status=none
ok dd if="$src" of="$T/dd4.want" bs=1 skip=12345 count=77 status=none
same "$T/dd4" "$T/dd4.want" "dd bs=1 skip=12345 count=77"

# head/tail (tail seeks from the end).
eq "$(head -c 1000 "$f" | sha256sum)" "$(head -c 1000 "$src" | sha256sum)" "head -c 1000"
eq "$(tail -c 5000 "$f" | sha256sum)" "$(tail -c 5000 "$src" | sha256sum)" "tail -c 5000"

# Subdirectories: mkdir, cp into them, read back, stat of the directories.
ok mkdir "$V/d1"
ok mkdir "$V/d1/d2"
eq "$(stat -c %F "$V/d1/d2")" directory "stat of a nested directory"
ok cp "$T/src.4097" "$V/d1/d2/x"
same "$V/d1/d2/x" "$T/src.4097" "a variable two directories down"
eq "$(ls "$V/d1")" d2 "ls of a directory"
eq "$(find "$V/d1" | sort | tr '\n' ' ')" "$V/d1 $V/d1/d2 $V/d1/d2/x " "find over the tree"

# A text variable written with a shell redirection, and many small ones in one directory.
ok sh -c 'echo "hello fabric" > "$1"' _ "$V/hello"
eq "$(cat "$V/hello")" "hello fabric" "echo > variable, then cat"
ok mkdir "$V/many"
for i in $(seq 1 50); do
	echo "item $i" >"$V/many/i$i" || bad "writing many/i$i"
done
eq "$(ls "$V/many" | wc -l)" 50 "50 small variables listed"
for i in 1 17 50; do
	eq "$(cat "$V/many/i$i")" "item $i" "small variable many/i$i"
done

# Nothing missing: a name never created.
fails "No such file or directory" cat "$V/never"
fails "No such file or directory" stat "$V/d1/never"

fab_done
