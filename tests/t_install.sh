#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_install.sh -- make install / make uninstall (README "Install"): into a DESTDIR with PREFIX=/usr/local
# exactly the files the README lists; the man pages render (man -l) with the README's tables in them; the
# installed fabric, run from the DESTDIR, mounts with the installed fabricd (its /proc/PID/exe) and finds
# its helpers (fabric wait, fabric cluster); its fstab form `fabric SOURCE DIR -o OPTS` maps the options,
# accepts mount's own and refuses unknown ones; umount(8) alone ends the daemon with a clean state dir.
# Then, in this test's own mount namespace with the DESTDIR's /usr/local bound over /usr/local (mount(8)
# clears PATH, so only the real prefix shows whether mount.fuse3 finds `fabric`): systemd-analyze verify of
# the unit (it checks ExecStart and the man pages exist), `import fabric` from python3's own path,
# `mount -t fuse.fabric` and `mount -T FSTAB DIR`.  make uninstall leaves no file behind.
. "$(dirname "$0")/lib.sh"

# The whole test runs in a mount namespace of its own: the bind mount over /usr/local must not be seen by
# anything else on the machine, and it goes away with the namespace however the test ends.
if [ -z "${FAB_INSTALL_NS:-}" ] && [ -c /dev/fuse ] && [ "$(id -u)" = 0 ] &&
	unshare --mount --propagation private true 2>/dev/null; then
	FAB_INSTALL_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
fab_setup
for c in go-md2man man systemd-analyze; do
	command -v "$c" >/dev/null || { echo "$c is not installed (make deps installs it)"; exit 77; }
done

DEST=$T/dest
P=/usr/local
PYDIR=$P/lib/python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages
FAB=$DEST$P/bin/fabric

if ! make -s -C "$FAB_ROOT" install DESTDIR="$DEST" PREFIX=$P >"$T/install.out" 2>&1; then
	bad "make install DESTDIR=$DEST PREFIX=$P failed:"
	sed 's/^/      /' "$T/install.out" >&2
	fab_done
fi

# ---- the files, and nothing else --------------------------------------------------------------------
want=$(printf '%s\n' $P/bin/fabric $P/bin/fabric-peek $P/sbin/fabricd $P/libexec/fabric/fabric-wait \
	$P/libexec/fabric/fabric-cluster $P/libexec/fabric/fabric_top.py $P/include/fabric.h $P/lib/libfabric.a "$PYDIR/fabric.py" \
	$P/share/man/man1/fabric.1 $P/share/man/man8/fabricd.8 $P/lib/systemd/system/fabric@.service | sort)
eq "$(cd "$DEST" && find . ! -type d | sed 's/^\.//' | sort)" "$want" "the files make install puts"
for f in bin/fabric bin/fabric-peek sbin/fabricd libexec/fabric/fabric-wait libexec/fabric/fabric-cluster; do
	[ -x "$DEST$P/$f" ] || bad "$P/$f is not executable"
done
grep -qx 'layout=installed' "$FAB" || bad "the installed fabric does not say layout=installed"
grep -qx 'layout=checkout' "$FAB_ROOT/tools/fabric" || bad "tools/fabric in the checkout lost layout=checkout"
grep -qx "ExecStart=$P/bin/fabric mount %f \$FABRIC_OPTS" "$DEST$P/lib/systemd/system/fabric@.service" ||
	bad "the unit's ExecStart is not the installed fabric: $(grep ExecStart "$DEST$P/lib/systemd/system/fabric@.service")"

# ---- the man pages: they render, without a warning, and hold the README's tables --------------------
for page in man1/fabric.1 man8/fabricd.8; do
	MANWIDTH=80 man -l "$DEST$P/share/man/$page" >"$T/${page#*/}.txt" 2>"$T/man.err" || bad "man -l $page failed"
	[ -s "$T/${page#*/}.txt" ] || bad "man -l $page printed nothing"
	[ -s "$T/man.err" ] && bad "man -l $page warns: $(head -c 300 "$T/man.err")"
	for w in NAME SYNOPSIS DESCRIPTION OPTIONS FILES 'SEE ALSO' --state --capacity state=DIR; do
		grep -qF -- "$w" "$T/${page#*/}.txt" || bad "man $page has no '$w'"
	done
done
for w in locate deallocate 'dataset make' 'Who may:' 'Acting on:' user.fabric.scope fabric@.service \
	'fuse.fabric'; do
	tr -s ' ' <"$T/fabric.1.txt" | grep -qF -- "$w" || bad "man fabric has no '$w' (from the README)" # justified
done
grep -qF fabricd.pid "$T/fabricd.8.txt" || bad "man fabricd has no fabricd.pid (the state dir's files)"
# every verb of the README's control-file table is in fabric(1)
verbs=$(sed -n '/^<!-- man:verbs -->$/,/^<!-- \/man -->$/p' "$FAB_ROOT/README.md" | grep '^| `' |
	sed 's/^| `\([a-z]*\).*/\1/' | sort -u)
[ -n "$verbs" ] || bad "no verbs found between <!-- man:verbs --> and <!-- /man --> in README.md"
for v in $verbs; do
	grep -qE "^ {7}$v( |$)" "$T/fabric.1.txt" || bad "man fabric has no entry for the verb $v"
done

# ---- the installed fabric, from the DESTDIR: its own daemon and helpers -----------------------------
mkdir -p "$MNT"
ok "$FAB" mount "$MNT" --state "$ST" --node "$NODE" --capacity 64M
is_mounted "$MNT" || bad "the installed fabric did not mount $MNT"
pid=$(daemon_pid)
[ -e "/proc/$pid/exe" ] && [ "/proc/$pid/exe" -ef "$DEST$P/sbin/fabricd" ] ||
	bad "the daemon is not the installed fabricd: $(readlink "/proc/$pid/exe")"
mkdata "$T/a" 100000
ok cp "$T/a" "$MNT/vars/a"
id=$(FABRIC=$MNT "$FAB" spawn -- /bin/true)
match "$id" '^[0-9]+$' "task id from the installed fabric spawn"
FABRIC=$MNT ok "$FAB" wait "$id" # libexec/fabric/fabric-wait
fails "no cluster in $T/nocluster" "$FAB" cluster status "$T/nocluster" # libexec/fabric/fabric-cluster
COLUMNS=80 LINES=24 FABRIC=$MNT ok "$FAB" top --once # libexec/fabric/fabric_top.py, importing the installed module
match "$(last_out)" "variables 1" "the installed fabric top shows the variable"
FABRIC=$MNT timeout 1 "$FAB" watch >/dev/null 2>"$T/watch.err"
eq "$?:$(cat "$T/watch.err")" "124:" "the installed fabric watch runs (python3 -m fabric) until stopped"
ok "$FAB" umount "$MNT"
alive "$pid" && bad "fabricd ($pid) still runs after the installed fabric umount"

# ---- fabric SOURCE DIR -o OPTS (as mount.fuse3 runs it); umount(8) alone -----------------------------
# what mount(8) and mount.fuse3 add (rw, dev, suid) and what an fstab line may say change nothing
ok "$FAB" fabric "$MNT" -o "rw,state=$ST,node=$NODE,capacity=64M,defaults,noatime,_netdev,nofail,x-systemd.automount,nosuid,nodev,dev,suid"
is_mounted "$MNT" || bad "fabric SOURCE DIR -o OPTS returned but $MNT is not mounted"
match "$(awk -v m="$MNT" '$2 == m { print $3, $4 }' /proc/self/mounts)" '^fuse\.fabric rw,nosuid,nodev,' \
	"type and flags of the mount (dev and suid from mount.fuse3 must not weaken it)"
same "$MNT/vars/a" "$T/a" "a variable through the fstab form"
pid=$(daemon_pid)
ok umount "$MNT"
dead_daemon() { ! is_fabricd "$pid"; }
wait_for dead_daemon
eq "$(tail -n 1 "$ST/fabricd.log" | sed 's/^.*]: //')" "unmounted; the state dir is marked clean" \
	"the daemon's last log line after umount(8)"
eq "$(yp 'select clean from nodes')" 1 "nodes.clean after umount(8)"
flock -n -E 99 "$ST/fabricd.pid" true
eq $? 0 "flock -n on the pid file after umount(8)"
# options: unknown ones and ro are refused, with a sentence, and nothing is mounted
fails "-o bogus=1: unknown option" "$FAB" fabric "$MNT" -o "state=$ST,node=$NODE,bogus=1"
fails "cannot be mounted read-only" "$FAB" fabric "$MNT" -o "state=$ST,node=$NODE,ro"
fails "unknown command" "$FAB" fabric "$MNT" state="$ST" # no -o: not the fstab form
is_mounted "$MNT" && bad "$MNT mounted after a refused option"
# noexec is applied, no_passthrough reaches the daemon (as its --no-passthrough)
ok "$FAB" "$MNT" -o "state=$ST,node=$NODE,noexec,no_passthrough" # mount.fuse3 given no source
match "$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/self/mounts)" 'noexec' "flags of a -o noexec mount"
match "$(xget "$MNT" user.fabric.datapath)" 'turned off by --no-passthrough' "data path of a -o no_passthrough mount"
ok "$FAB" umount "$MNT"

# ---- at the real prefix, in this namespace: systemd, python, mount(8) --------------------------------
if [ -z "${FAB_INSTALL_NS:-}" ]; then
	echo "note: no mount namespace of its own (unshare failed): systemd-analyze, python3's path and mount(8) not checked" >&2
else
	ok mount --bind "$DEST$P" $P
	ok systemd-analyze verify $P/lib/systemd/system/fabric@.service
	# (byte code allowed: uninstall must remove it too)
	eq "$(env -u PYTHONPATH -u PYTHONDONTWRITEBYTECODE "$PY" -c 'import fabric; print(fabric.__file__)' 2>&1)" \
		"$PYDIR/fabric.py" "where python3 finds the installed module"
	ls "$DEST$PYDIR"/__pycache__/fabric.*.pyc >/dev/null 2>&1 || bad "python3 wrote no byte code of fabric.py"

	ok mount -t fuse.fabric fabric "$MNT" -o "state=$ST,node=$NODE"
	is_mounted "$MNT" || bad "mount -t fuse.fabric returned but $MNT is not mounted"
	pid=$(daemon_pid)
	[ "/proc/$pid/exe" -ef "$DEST$P/sbin/fabricd" ] || bad "mount -t: the daemon is $(readlink "/proc/$pid/exe")"
	same "$MNT/vars/a" "$T/a" "a variable through mount -t fuse.fabric"
	ok umount "$MNT"
	wait_for dead_daemon

	printf 'fabric %s fuse.fabric defaults,state=%s,node=%s,nofail 0 0\n' "$MNT" "$ST" "$NODE" >"$T/fstab"
	ok mount -T "$T/fstab" "$MNT"
	is_mounted "$MNT" || bad "mount -T $T/fstab $MNT returned but $MNT is not mounted"
	pid=$(daemon_pid)
	same "$MNT/vars/a" "$T/a" "a variable through an fstab line"
	ok umount "$MNT"
	wait_for dead_daemon
	eq "$(yp 'select clean from nodes')" 1 "nodes.clean after the fstab mount's umount"
	ok umount $P
fi

# ---- make uninstall: nothing left -------------------------------------------------------------------
ok make -s -C "$FAB_ROOT" uninstall DESTDIR="$DEST" PREFIX=$P
eq "$(cd "$DEST" && find . ! -type d)" "" "files left in DESTDIR after make uninstall"
[ -d "$DEST$P/libexec/fabric" ] && bad "make uninstall left $P/libexec/fabric"

fab_done
