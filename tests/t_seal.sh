#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_seal.sh -- write-once variables: the last close of the writer seals (0444, final size, EROFS for any
# write or truncate, root included); a reader that opens a variable being written waits for the seal and
# sees all of it; O_NONBLOCK gets EAGAIN instead; `cp x && cat x` never sees a partial variable.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
mkdata "$T/s" 10000
mkdata "$T/other" 300
ok cp "$T/s" "$V/s"
wait_for xattr_is "$V/s" user.fabric.state sealed
eq "$(stat -c %a "$V/s")" 444 "mode of a sealed variable"
# The writer's kernel keeps the attributes its create answered while it writes, and its close makes it
# forget them: a stat straight after cp (no wait) asks the store, which hurries the seal: the sealed mode.
# (A write makes the kernel forget size and times itself; a variable created and closed without a write
# relies on the close alone.)
for i in 1 2 3 4 5; do
	ok cp "$T/other" "$V/quick$i"
	eq "$(stat -c '%a %s' "$V/quick$i")" "444 300" "mode and size of quick$i, stat straight after cp"
	ok "$PY" -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644))' "$V/quick_empty$i"
	eq "$(stat -c '%a %s' "$V/quick_empty$i")" "444 0" "mode and size of quick_empty$i, stat straight after its close"
done

# Every way of writing a sealed variable is EROFS (we are root: permission bits would not stop us).
fails "Read-only file system" sh -c 'echo more >> "$1"' _ "$V/s"
fails "Read-only file system" sh -c ': > "$1"' _ "$V/s"
fails "Read-only file system" truncate -s 0 "$V/s"
fails "Read-only file system" truncate -s 20000 "$V/s"
fails "Read-only file system" cp "$T/other" "$V/s"
fails "Read-only file system" dd if=/dev/zero of="$V/s" bs=1 count=1 conv=notrunc status=none
fails "Read-only file system" "$PY" -c 'import os, sys; os.truncate(sys.argv[1], 0)' "$V/s"
fails "Read-only file system" "$PY" -c 'import sys; open(sys.argv[1], "r+b")' "$V/s"
chmod u+w "$V/s" 2>/dev/null # whatever chmod does, the variable stays sealed
fails "Read-only file system" sh -c 'echo more >> "$1"' _ "$V/s"
same "$V/s" "$T/s" "a sealed variable after refused writes"
eq "$(fsize "$V/s")" 10000 "size of a sealed variable after refused writes"
eq "$(xget "$V/s" user.fabric.xxh3)" "$(xxh128 "$T/s")" "xxh3 after refused writes"

# An empty variable seals too.
ok sh -c ': > "$1"' _ "$V/empty"
wait_for xattr_is "$V/empty" user.fabric.state sealed
eq "$(stat -c '%s %a' "$V/empty")" "0 444" "size and mode of an empty sealed variable"
fails "Read-only file system" sh -c 'echo x >> "$1"' _ "$V/empty"

# Only the last close seals: a forked child closing its copy, or a dup being closed, does not.
exec 3>"$V/multi"
printf a >&3
(printf b >&3)
bash -c 'printf c >&3'
exec 4>&3
exec 4>&-
eq "$(xget "$V/multi" user.fabric.state)" writing "state after closes that are not the last"
printf d >&3
exec 3>&-
wait_for xattr_is "$V/multi" user.fabric.state sealed
eq "$(cat "$V/multi")" abcd "contents written through shared descriptors"
eq "$(stat -c %a "$V/multi")" 444 "mode after the last close"

# A child that inherited the descriptor and exits with a failure (grep finding nothing, say) is not the
# writer's last close: the variable stays open, then seals whole at the real last close.
exec 3>"$V/inherited"
printf one >&3
/bin/false
grep -q nothing-here /dev/null
printf two >&3
eq "$(xget "$V/inherited" user.fabric.state)" writing "state after children sharing the descriptor exited 1"
exec 3>&-
wait_for xattr_is "$V/inherited" user.fabric.state sealed
eq "$(cat "$V/inherited" 2>&1)" onetwo "contents once the last close sealed it"

# A reader of a variable being written waits for the seal, then reads all of it; O_NONBLOCK: EAGAIN.
mkfifo "$T/go"
(
	exec 3>"$V/slow"
	printf part1 >&3
	read -r _ <"$T/go"
	printf part2 >&3
) &
writer=$!
wait_for xattr_is "$V/slow" user.fabric.state writing
fails "Resource temporarily unavailable" "$PY" -c 'import os, sys; os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)' "$V/slow"
cat "$V/slow" >"$T/slow.out" 2>"$T/slow.err" &
reader=$!
wait_blocked $reader "cat of a variable being written"
eq "$(fsize "$T/slow.out")" 0 "bytes the waiting reader got before the seal"
echo go >"$T/go"
wait_exit $writer "the writer" || bad "the writer failed"
wait_exit $reader "the waiting reader" || bad "the reader failed: $(cat "$T/slow.err")"
eq "$(cat "$T/slow.out")" part1part2 "what a reader that waited for the seal read"
eq "$(xget "$V/slow" user.fabric.state)" sealed "state after the writer's close"
eq "$("$PY" -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
sys.stdout.write(os.read(fd, 100).decode())' "$V/slow")" part1part2 "an O_NONBLOCK read of a sealed variable"

# cp then cat at once, many times: the reader never sees a partial variable (nor a stale size).
mkdata "$T/r" 262147
for i in $(seq 30); do
	ok cp "$T/r" "$V/race$i" || break
	if ! cmp -s "$V/race$i" "$T/r"; then
		bad "cmp right after cp saw other bytes (try $i): $(cmp "$V/race$i" "$T/r" 2>&1)"
		break
	fi
	eq "$(fsize "$V/race$i")" 262147 "size after a read of race$i" || break
done

fab_done
