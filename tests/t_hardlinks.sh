#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_hardlinks.sh -- hard links (aliases) in vars/: ln gives a second name to the same object (one inode,
# st_nlink counted in stat and ls -l, the same inode in readdir), whose type, doc and bytes are the
# object's under every name; the YP's vars view lists both names with one object id; rm of either name
# leaves the other (the object's own name promoted from an alias); mv of an alias, rename(2) between two
# names of one object (nothing happens, as POSIX says), rename over an alias and over a name that has
# aliases; a link to a symbolic link; a link made while the variable is still written (tar -x, cp -a and
# rsync -aH of trees with hard links keep them); a writer that dies badly drops every name; the refusals
# (a directory EPERM, an existing name EEXIST, the root EPERM, another mount EXDEV, a bad name EINVAL,
# shards/ EPERM, a nobody without rights); `fabric alias`; aliases survive unmount/mount and kill -9, and
# an alias of a variable a crash left half-written goes with it.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_public_tools
fab_mount

V=$MNT/vars
ino() { stat -c %i -- "$1"; }
links() { stat -c %h -- "$1"; }

mkdata "$T/A" 7000
ok cp "$T/A" "$V/a"
ok setfattr -n user.fabric.doc -v "the a data" "$V/a"

# link(2): one object, two names.
ok ln "$V/a" "$V/b"
eq "$(ino "$V/b")" "$(ino "$V/a")" "inode of b (a's)"
eq "$(links "$V/a") $(links "$V/b")" "2 2" "st_nlink of a and b"
same "$V/b" "$T/A" "b's bytes"
eq "$(xget "$V/b" user.fabric.doc)" "the a data" "doc through b"
ok setfattr -n user.fabric.type -v "7000 * uint8" "$V/b"
eq "$(xget "$V/a" user.fabric.type)" "7000 * uint8" "type set through b, read through a"
match "$(ls -l "$V/b")" '^-r--r--r-- 2 root root 7000 ' "ls -l of b"
# readdir's d_ino is the object's too (ls -i takes it from readdir)
eq "$(cd "$V" && ls -i a b | awk '{ print $1 }' | sort -u | wc -l)" 1 "one inode in readdir for a and b"
eq "$(find "$V" -samefile "$V/a" | sort | tr '\n' ' ')" "$V/a $V/b " "find -samefile a"
# the YP: two names, one object
eq "$(yp "select path, kind, size from vars where object = (select object from vars where path = 'a')
	order by path" | tr '\n' ' ')" "a|var|7000 b|var|7000 " "a and b in the YP's vars"
eq "$(yp "select count(*) from objects where kind = 'alias'")" 1 "alias rows"
match "$(ctl "list b")" $'^b\tvar\t7000\t' "list b"

# rm of either name leaves the other.
ok rm "$V/a"
same "$V/b" "$T/A" "b after rm a"
eq "$(links "$V/b")" 1 "st_nlink of b after rm a"
eq "$(yp "select kind from objects where parent = 2 and name = 'b'")" var "b's row is the object's now"
eq "$(yp "select count(*) from objects where kind = 'alias'")" 0 "alias rows after rm a"
eq "$(xget "$V/b" user.fabric.doc)" "the a data" "doc of b after rm a"
match "$(ctl "locate b")" " 7000$" "locate b after rm a"
ok mkdir "$V/d"
ok ln "$V/b" "$V/d/c"
ok rm "$V/d/c"
eq "$(links "$V/b")" 1 "st_nlink after rm of the alias"
same "$V/b" "$T/A" "b after rm of its alias"

# mv and rename(2) with several names.
ok ln "$V/b" "$V/d/c"
ok mv "$V/d/c" "$V/e"
eq "$(ino "$V/e") $(links "$V/e")" "$(ino "$V/b") 2" "alias moved by mv"
ok "$PY" -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$V/b" "$V/e"
eq "$(links "$V/b") $(links "$V/e")" "2 2" "rename between two names of one object does nothing"
mkdata "$T/G" 3000
ok cp "$T/G" "$V/g"
ok "$PY" -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$V/g" "$V/e" # over an alias
same "$V/e" "$T/G" "e after a rename over it"
eq "$(links "$V/b")" 1 "b once its alias was renamed over"
same "$V/b" "$T/A" "b after its alias was replaced"
ok ln "$V/b" "$V/d/h"
ok cp "$T/G" "$V/g2"
ok "$PY" -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$V/g2" "$V/b" # over a name with aliases
same "$V/b" "$T/G" "b after a rename over it"
same "$V/d/h" "$T/A" "h, the other name of the object renamed over"
eq "$(links "$V/d/h")" 1 "st_nlink of h"
eq "$(yp "select count(*) from objects where kind = 'alias'")" 0 "alias rows after the renames"
fails "Directory not empty" rmdir "$V/d"

# A link to a symbolic link is a link to the link (linkat without AT_SYMLINK_FOLLOW).
ok ln -s b "$V/sl"
ok ln -P "$V/sl" "$V/sl2"
eq "$(stat -c '%F %h' "$V/sl2")" "symbolic link 2" "a hard link to a symbolic link"
eq "$(readlink "$V/sl2")" b "its target"

# A link made while the variable is still written, and the seal under both names.
ok "$PY" - "$V/w" "$V/w2" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"x" * 5000)
os.link(sys.argv[1], sys.argv[2])
os.write(fd, b"y" * 100)
os.close(fd)
PY
wait_for xattr_is "$V/w2" user.fabric.state sealed
eq "$(stat -c '%s %h' "$V/w2")" "5100 2" "size and st_nlink of w2 once sealed"
eq "$(xget "$V/w" user.fabric.xxh3)" "$(xget "$V/w2" user.fabric.xxh3)" "one xxh3 under both names"
# a writer that dies badly drops its variable under every name
"$PY" - "$V/dying" "$V/dying2" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"z" * 100)
os.link(sys.argv[1], sys.argv[2])
os._exit(3)
PY
gone() { [ ! -e "$V/dying" ] && [ ! -e "$V/dying2" ]; }
wait_for gone
eq "$(yp "select count(*) from objects where name like 'dying%' and state != 'deleted'")" 0 \
	"rows of a dropped variable's names"

# Copy tools that keep hard links: tar -x, cp -a, rsync -aH.
mkdir -p "$T/tree/sub"
mkdata "$T/tree/sub/f" 4000
ln "$T/tree/sub/f" "$T/tree/g"
mkdata "$T/tree/lone" 100
tar -C "$T" -cf "$T/tree.tar" tree
ok mkdir "$V/untar"
ok tar -C "$V/untar" -xf "$T/tree.tar"
eq "$(ino "$V/untar/tree/g")" "$(ino "$V/untar/tree/sub/f")" "tar -x keeps a hard link"
same "$V/untar/tree/g" "$T/tree/sub/f" "its bytes after tar -x"
ok cp -a "$T/tree" "$V/cpa"
eq "$(ino "$V/cpa/g") $(links "$V/cpa/g")" "$(ino "$V/cpa/sub/f") 2" "cp -a keeps a hard link"
ok mkdir "$V/rs"
ok rsync -aH "$T/tree/" "$V/rs/"
eq "$(ino "$V/rs/g")" "$(ino "$V/rs/sub/f")" "rsync -aH keeps a hard link"
same "$V/rs/g" "$T/tree/sub/f" "its bytes after rsync -aH"

# Refusals, each leaving everything as it was.
ok ctl "shard sh 4096"
before=$(yp "select count(*) from objects")
fails "Operation not permitted" "$PY" -c 'import os, sys; os.link(sys.argv[1], sys.argv[2])' "$V/d" "$V/dlink"
fails "File exists" ln "$V/b" "$V/d/h"
fails "Operation not permitted" ln "$V/b" "$MNT/b"
fails "Invalid cross-device link" ln "$T/A" "$V/fromtmp"
fails "Invalid argument" ln "$V/b" "$V/bad@name"
fails "File name too long" ln "$V/b" "$V/$(head -c 256 /dev/zero | tr '\0' n)"
fails "No such file or directory" ln "$V/nothing" "$V/n2"
fails "Operation not permitted" ln "$V/b" "$MNT/shards/sh/x"
fails "Operation not permitted" ln "$MNT/shards/sh/$NODE" "$V/piece"
eq "$(yp "select count(*) from objects")" "$before" "rows after the refusals"
# nobody: no link to what it neither owns nor may read and write (the kernel's protected_hardlinks,
# when on); no name in a directory it cannot write
ok mkdir -m 0777 "$V/open"
ok cp "$T/A" "$V/secret"
ok chmod 0600 "$V/secret"
if [ "$(cat /proc/sys/fs/protected_hardlinks)" = 1 ]; then
	fails "Operation not permitted" setpriv --reuid=65534 --regid=65534 --clear-groups \
		ln "$V/secret" "$V/open/mine"
else
	echo "    (fs.protected_hardlinks is off: the kernel lets anyone link what they cannot read)"
fi
ok setpriv --reuid=65534 --regid=65534 --clear-groups cp "$T/A" "$V/open/nobodys"
ok setpriv --reuid=65534 --regid=65534 --clear-groups ln "$V/open/nobodys" "$V/open/nobodys2"
eq "$(stat -c '%u %h' "$V/open/nobodys2")" "65534 2" "owner and st_nlink of nobody's link"
fails "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups ln "$V/open/nobodys" "$V/d/nob"

# fabric alias NAME NEW, a convenience over ln.
FABRIC=$MNT ok "$FAB_TOOL" alias b d/b-too
eq "$(ino "$V/d/b-too")" "$(ino "$V/b")" "fabric alias"
FABRIC=$MNT fails "File exists" "$FAB_TOOL" alias b d/b-too

# Restart: aliases come back from the YP.
ok fab_umount
fab_mount
eq "$(ino "$V/d/b-too") $(links "$V/b")" "$(ino "$V/b") 2" "an alias after a restart"
same "$V/d/h" "$T/A" "h after a restart"
eq "$(links "$V/w") $(links "$V/cpa/sub/f")" "2 2" "st_nlink after a restart"
ok rm "$V/b"
same "$V/d/b-too" "$T/G" "the alias after its object's first name went, after a restart"

# kill -9: a link is committed when link(2) returns; an alias of a variable being written at the crash
# goes with it.
ok ln "$V/d/h" "$V/late"
"$PY" - "$V/half" "$V/half2" "$T/linked" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"h" * 100)
os.link(sys.argv[1], sys.argv[2])
open(sys.argv[3], "w").close()
time.sleep(60)
PY
writer=$!
wait_for test -e "$T/linked"
pid=$(daemon_pid)
kill -9 "$pid"
dead() { ! alive "$pid"; }
wait_for dead
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
fab_mount
eq "$(ino "$V/late")" "$(ino "$V/d/h")" "a link made just before a kill -9"
same "$V/late" "$T/A" "its bytes"
fails "No such file or directory" stat "$V/half2"
fails "No such file or directory" stat "$V/half"
eq "$(yp "select count(*) from objects where name like 'half%'")" 0 "rows of the half-written names"
eq "$(yp "select count(*) from objects o where kind = 'alias' and not exists
	(select 1 from objects t where t.id = o.alias_of and t.state = 'sealed')")" 0 "aliases of nothing"

fab_umount
fab_done
