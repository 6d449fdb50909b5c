#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_names.sh -- the namespace: nothing can be made in the mount root, vars/ stays; mkdir, rmdir (and
# ENOTEMPTY), mv of variables and directories (contents follow), mv over a variable, rm and re-create;
# names up to 255 bytes, longer ones ENAMETOOLONG, '@' and control characters EINVAL.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
mkdata "$T/A" 5000
mkdata "$T/B" 7000
mkdata "$T/C" 300

# The root: vars/ cannot be removed or renamed, nothing else can be created there.
fails "Operation not permitted" rmdir "$MNT/vars"
fails "Operation not permitted" mv "$MNT/vars" "$MNT/other"
fails "Operation not permitted" touch "$MNT/x"
fails "Operation not permitted" sh -c 'echo x > "$1"' _ "$MNT/y"
fails "Operation not permitted" cp "$T/A" "$MNT/z"
fails "Operation not permitted" mkdir "$MNT/d"
fails "Operation not permitted" mkfifo "$MNT/fifo"
fails "Operation not permitted" ln -s vars "$MNT/link"
ok cp "$T/A" "$V/a"
fails "Operation not permitted" mv "$V/a" "$MNT/a"
same "$V/a" "$T/A" "a variable after a refused move to the root"
ok mkdir "$V/sub"
fails "Operation not permitted" mv "$V/sub" "$MNT/sub"
eq "$(ls -A "$MNT" | tr "\n" " ")" "ctl datasets events events.json nodes shards tasks vars " "the root after refused creates"
eq "$(stat -c %F "$V")" directory "vars/ after refused rmdir and mv"

# Directories: nesting, ENOTEMPTY, EEXIST, removal once empty.
ok mkdir "$V/d1"
ok mkdir "$V/d1/d2"
ok cp "$T/B" "$V/d1/d2/x"
fails "Directory not empty" rmdir "$V/d1"
fails "Directory not empty" rmdir "$V/d1/d2"
fails "File exists" mkdir "$V/d1"
fails "File exists" mkdir "$V/a"
fails "No such file or directory" mkdir "$V/nope/d"
fails "Not a directory" rmdir "$V/a"
same "$V/d1/d2/x" "$T/B" "contents after a refused rmdir"
ok rm "$V/d1/d2/x"
ok rmdir "$V/d1/d2"
ok rmdir "$V/d1"
[ -e "$V/d1" ] && bad "d1 still exists after rmdir"
eq "$(ls "$V" | tr '\n' ' ')" "a sub " "vars/ after removing d1"

# mv of a variable into a directory, over another variable, renames of directories.
ok mv "$V/a" "$V/sub/a"
[ -e "$V/a" ] && bad "vars/a still exists after mv to sub/a"
same "$V/sub/a" "$T/A" "a variable moved into a directory"
eq "$(xget "$V/sub/a" user.fabric.state)" sealed "state after mv"
eq "$(xget "$V/sub/a" user.fabric.xxh3)" "$(xxh128 "$T/A")" "xxh3 after mv"
ok cp "$T/B" "$V/b"
ok mv "$V/b" "$V/sub/a" # replaces it
[ -e "$V/b" ] && bad "vars/b still exists after mv over sub/a"
same "$V/sub/a" "$T/B" "mv over an existing variable replaces it"
eq "$(xget "$V/sub/a" user.fabric.xxh3)" "$(xxh128 "$T/B")" "xxh3 after mv over"
eq "$(ls "$V/sub")" a "one variable left after mv over"
ok mv "$V/sub/a" "$V/sub/renamed"
same "$V/sub/renamed" "$T/B" "a variable renamed in place"

ok mkdir "$V/run1"
ok mkdir "$V/run1/inner"
ok cp "$T/A" "$V/run1/w"
ok cp "$T/C" "$V/run1/inner/z"
ok mv "$V/run1" "$V/run2"
[ -e "$V/run1" ] && bad "run1 still exists after mv run1 run2"
same "$V/run2/w" "$T/A" "a variable after its directory was renamed"
same "$V/run2/inner/z" "$T/C" "a nested variable after its directory was renamed"
ok mv "$V/run2" "$V/sub/run2"
same "$V/sub/run2/inner/z" "$T/C" "a nested variable after its directory moved into another"
eq "$(find "$V" | sed "s|^$V||" | sort | tr '\n' ' ')" \
	" /sub /sub/renamed /sub/run2 /sub/run2/inner /sub/run2/inner/z /sub/run2/w " "the whole tree"
ok mkdir "$V/full"
ok cp "$T/C" "$V/full/f"
fails "Directory not empty" mv -T "$V/sub/run2" "$V/full"
same "$V/full/f" "$T/C" "a directory's contents after a refused mv over it"

# rm, then re-create under the same name.
ok rm "$V/sub/renamed"
fails "No such file or directory" cat "$V/sub/renamed"
ok cp "$T/C" "$V/sub/renamed"
same "$V/sub/renamed" "$T/C" "a re-created variable"
eq "$(xget "$V/sub/renamed" user.fabric.xxh3)" "$(xxh128 "$T/C")" "xxh3 of a re-created variable"
fails "No such file or directory" rm "$V/never"

# Name lengths: 255 bytes are fine, 256 are too long, counted in bytes (é is 2).
n255=$(printf 'n%.0s' $(seq 255))
d255=$(printf 'd%.0s' $(seq 255))
u255="$(printf 'é%.0s' $(seq 127))a"
n256=${n255}x
u256=$(printf 'é%.0s' $(seq 128))
ok cp "$T/A" "$V/$n255"
same "$V/$n255" "$T/A" "a variable with a 255-byte name"
ls "$V" | grep -qx "$n255" || bad "ls does not show the 255-byte name"
ok mkdir "$V/$d255"
ok cp "$T/C" "$V/$d255/$u255"
same "$V/$d255/$u255" "$T/C" "a 255-byte UTF-8 name in a 255-byte directory"
fails "File name too long" cp "$T/A" "$V/$n256"
fails "File name too long" touch "$V/$u256"
fails "File name too long" mkdir "$V/$n256"
fails "File name too long" mv "$V/$n255" "$V/$n256"
same "$V/$n255" "$T/A" "a variable after a refused rename to a long name"

# '@' and control characters are refused; spaces, dots, UTF-8 are fine.
for bad_name in 'a@b' '@' 'x@1' $'a\nb' $'a\tb' $'a\x01b' $'\x1b[31m' $'a\x7fb'; do
	show=$(printf '%q' "$bad_name")
	fails "Invalid argument" touch "$V/$bad_name" || echo "      (name $show)" >&2
	fails "Invalid argument" mkdir "$V/$bad_name" || echo "      (name $show)" >&2
	# (mv words EINVAL from rename(2) as "a subdirectory of itself": ask python for the errno)
	fails "Invalid argument" "$PY" -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' \
		"$V/sub/renamed" "$V/$bad_name" || echo "      (name $show)" >&2
done
same "$V/sub/renamed" "$T/C" "a variable after refused renames to bad names"
for good in 'a b' 'ünï code' '.hidden' 'x.y-z_1+2=3,4'; do
	ok cp "$T/C" "$V/$good"
	same "$V/$good" "$T/C" "a variable named $(printf '%q' "$good")"
done

fab_done
