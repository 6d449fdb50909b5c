#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_links.sh -- symbolic links in vars/: ln -s, readlink, lstat (0777, S_IFLNK, size = the target's
# length, the caller's owner), DT_LNK in readdir, kind 'link' in the YP, rm and mv, loops the kernel
# reports, the refusals (an empty target ENOENT, one of PATH_MAX or more ENAMETOOLONG, names as for
# variables, none in the root); the daemon's own path walks (ctl verbs) refuse a link with ELOOP; cp -a
# and tar -x (and rsync -a) of a tree holding one; links survive unmount/mount and a kill -9 of the
# daemon.  Hard links: t_hardlinks.sh.
. "$(dirname "$0")/lib.sh"
fab_setup
chmod 755 "$T" # nobody makes a link below
fab_mount

V=$MNT/vars

mkdata "$T/A" 5000
ok cp "$T/A" "$V/a"
ok mkdir "$V/d"

# symlink(2), readlink(2), lstat.
ok ln -s a "$V/la"
eq "$(readlink "$V/la")" a "readlink of la"
eq "$(stat -c '%F %a %s %u %g' "$V/la")" "symbolic link 777 1 0 0" "lstat of la"
same "$V/la" "$T/A" "a read through the link"
ok ln -s ../a "$V/d/up"
same "$V/d/up" "$T/A" "a read through d/up -> ../a"
ok ln -s /nowhere/at/all "$V/dangling"
eq "$(stat -c %s "$V/dangling")" 15 "size of a dangling link"
fails "No such file or directory" cat "$V/dangling"
ok ln -s d "$V/ld"
eq "$(ls "$V/ld/")" up "ls through a link to a directory"
# owned by the caller
ok chmod 777 "$V/d"
ok setpriv --reuid=65534 --regid=65534 --clear-groups ln -s a "$V/d/nobodys"
eq "$(stat -c '%u %g' "$V/d/nobodys")" "65534 65534" "owner of a link made by nobody"
# DT_LNK in readdir (find -type l reads d_type), ls -l's 'l'
eq "$(cd "$V" && find . -type l | sort | tr '\n' ' ')" "./d/nobodys ./d/up ./dangling ./la ./ld " "find -type l"
match "$(ls -l "$V/la")" '^lrwxrwxrwx 1 root root 1 .*/la -> a$' "ls -l of la"
# the YP: kind link, its target
eq "$(yp "select kind, target, size from vars where path = 'la'")" "link|a|1" "la in the YP's vars"
eq "$(yp "select count(*) from vars where kind = 'link'")" 5 "links in the YP"
# user.fabric.kind: the kernel keeps user.* xattrs off symbolic links (getfattr -h gets ENODATA from
# it, never asking the daemon), so through the link it is the target's
eq "$(xget "$V/la" user.fabric.kind)" var "user.fabric.kind through la (its target's)"
fails "Operation not permitted" setfattr -h -n user.fabric.doc -v x "$V/la"
# ctl list shows the kind
match "$(ctl "list la")" $'^la\tlink\t1\t-' "list la"

# Refusals.
fails "No such file or directory" ln -s "" "$V/empty"
long=$(head -c 4096 /dev/zero | tr '\0' x)
fails "File name too long" ln -s "$long" "$V/long"
ok ln -s "${long:0:4095}" "$V/longest"
eq "$(readlink "$V/longest" | wc -c)" 4096 "a 4095-byte target (and readlink's newline)"
ok rm "$V/longest"
fails "Invalid argument" ln -s a "$V/bad@name"
fails "File name too long" ln -s a "$V/$(head -c 256 /dev/zero | tr '\0' n)"
fails "File exists" ln -s x "$V/a"
fails "Operation not permitted" ln -s vars "$MNT/link"
fails "Operation not permitted" mkfifo "$V/fifo"
fails "Operation not permitted" mknod "$V/dev" c 1 3
fails "Operation not permitted" "$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$V/sock"
# not a link: readlink(1) says nothing, so ask readlink(2)
fails "Invalid argument" "$PY" -c 'import os, sys; os.readlink(sys.argv[1])' "$V/a"
# a loop is the kernel's to report
ok ln -s loop2 "$V/loop1"
ok ln -s loop1 "$V/loop2"
fails "Too many levels of symbolic links" cat "$V/loop1"
# the daemon never follows a link for a caller: ELOOP, and a sentence that says why
fails "symbolic link, and the fabric does not follow links" ctl "locate la"
match "$(last_err)" "^Too many levels of symbolic links" "errno of locate through a link"
fails "symbolic link, and the fabric does not follow links" ctl "load ld/x $T/A"
fails "symbolic link, and the fabric does not follow links" ctl "locate ld/up"

# rm and mv.
ok mv "$V/la" "$V/d/la2"
eq "$(readlink "$V/d/la2")" a "readlink after mv"
fails "No such file or directory" stat "$V/la"
eq "$(yp "select path from vars where kind = 'link' and target = 'a' order by path" | tr '\n' ' ')" \
	"d/la2 d/nobodys " "links to a in the YP after mv"
ok mv -T "$V/d/la2" "$V/dangling" # over another link
eq "$(readlink "$V/dangling")" a "a link renamed over another"
ok rm "$V/dangling"
fails "No such file or directory" "$PY" -c 'import os, sys; os.readlink(sys.argv[1])' "$V/dangling"
ok rm "$V/loop1" "$V/loop2"
same "$V/a" "$T/A" "the target after its links went"

# cp -a and tar -x of a tree with a symbolic link.
mkdir -p "$T/tree/sub"
mkdata "$T/tree/sub/f" 3000
ln -s sub/f "$T/tree/lf"
ln -s /etc/hostname "$T/tree/abs"
ok cp -a "$T/tree" "$V/cpa"
eq "$(readlink "$V/cpa/lf") $(readlink "$V/cpa/abs")" "sub/f /etc/hostname" "links after cp -a"
same "$V/cpa/lf" "$T/tree/sub/f" "a read through a copied link"
tar -C "$T" -cf "$T/tree.tar" tree
ok mkdir "$V/untar"
ok tar -C "$V/untar" -xf "$T/tree.tar"
eq "$(readlink "$V/untar/tree/lf")" sub/f "a link after tar -x"
eq "$(stat -c %F "$V/untar/tree/abs")" "symbolic link" "type after tar -x"

ok mkdir "$V/rs"
ok rsync -a "$T/tree/" "$V/rs/"
eq "$(readlink "$V/rs/lf")" sub/f "a link after rsync -a"

# Hard links (t_hardlinks.sh) to a symbolic link are links to the link.
ok ln -P "$V/cpa/lf" "$V/hardlink-to-symlink"
eq "$(readlink "$V/hardlink-to-symlink") $(stat -c %h "$V/cpa/lf")" "sub/f 2" "a hard link to a symbolic link"

# Restart: links come back from the YP.
ok fab_umount
fab_mount
eq "$(readlink "$V/d/up")" ../a "readlink after a restart"
eq "$(stat -c '%F %a %s %u' "$V/d/nobodys")" "symbolic link 777 1 65534" "lstat after a restart"
same "$V/cpa/lf" "$T/tree/sub/f" "a read through a link after a restart"

# kill -9: a link is committed when symlink(2) returns.
ok ln -s cpa/sub/f "$V/late"
pid=$(daemon_pid)
kill -9 "$pid"
dead() { ! alive "$pid"; }
wait_for dead
fab_mount
eq "$(readlink "$V/late")" cpa/sub/f "a link made just before a kill -9"
same "$V/late" "$T/tree/sub/f" "a read through it"
eq "$(yp "select count(*) from vars where kind = 'link'")" 11 "names of links in the YP after the crash"

fab_umount
fab_done
