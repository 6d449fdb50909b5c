#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_events.sh -- the event stream (README, "Events"): MOUNT/events and events.json give a reader the events
# from its open on, in order (created, sealed with the variable's own xxh3, renamed, removed, a task's
# states); poll(2) wakes on a new line and a non-blocking read says EAGAIN before; a read waiting for a
# line ends on a signal; a reader further behind than the bound (--events 64 here) gets one `lost` line
# counting exactly what it missed, then the newest 64; another user does not see the events of an object
# it may not read, nor another process the events of a variable scoped to one process; `fabric watch
# PREFIX` prints the lines under PREFIX.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_public_tools
fab_mount --events 64
V=$MNT/vars
export FABRIC=$MNT

# ---- the files ----------------------------------------------------------------------------------------
eq "$(stat -c '%A %s' "$MNT/events" "$MNT/events.json" | tr '\n' ' ')" "-r--r--r-- 0 -r--r--r-- 0 " \
	"events and events.json are read-only streams of no size"
ls "$MNT" | grep -qx events || bad "ls of the root lists events"
fails "Permission denied" "$PY" -c 'import os, sys; os.open(sys.argv[1], os.O_WRONLY)' "$MNT/events"

# reader FILE OUT UNTIL: read FILE (opened at once; "ready" into OUT.ready) into OUT until a line
# containing UNTIL, for at most 30 s.
cat >"$T/reader.py" <<'PY'
import os, sys, time
path, out, until = sys.argv[1], sys.argv[2], sys.argv[3].encode()
fd = os.open(path, os.O_RDONLY)
open(out + ".ready", "w").close()
data, deadline = b"", time.time() + 30
while until not in data and time.time() < deadline:
    data += os.read(fd, 65536)
open(out, "wb").write(data)
PY
# start_reader FILE OUT UNTIL [RUNNER...]: the reader in the background, once its file is open.
start_reader() {
	local file=$1 out=$2 until=$3
	shift 3
	rm -f "$out" "$out.ready"
	"$@" "$PY" "$T/reader.py" "$file" "$out" "$until" &
	wait_for test -e "$out.ready"
}

# ---- order and fields ---------------------------------------------------------------------------------
start_reader "$MNT/events" "$T/ev.txt" "state=exited"
r1=$!
start_reader "$MNT/events.json" "$T/ev.json" '"exited"'
r2=$!
mkdata "$T/e1" 5000
sealed() { [ -n "$(xget "$1" user.fabric.xxh3)" ]; }
ok cp "$T/e1" "$V/e1"
wait_for sealed "$V/e1" # a seal is committed with its group, after the close: then the mkdir
ok mkdir "$V/dd"
ok mv "$V/e1" "$V/dd/e2"
xxh=$(xget "$V/dd/e2" user.fabric.xxh3)
ok rm "$V/dd/e2"
ok "$FAB_TOOL" spawn -- /bin/true
task=$(last_out)
wait_exit $r1 "the text reader"
wait_exit $r2 "the JSON reader"
# the lines of vars/e1, in order, with their fields
got=$(awk -F'\t' '$4 == "vars/e1" || $4 ~ /^vars\/dd/ { printf "%s %s", $3, $4; for (i = 5; i <= NF; i++) printf " %s", $i; print "" }' "$T/ev.txt")
eq "$got" "created vars/e1
sealed vars/e1 size=5000 xxh3=$xxh node=$NODE
created vars/dd
renamed vars/e1 to=vars/dd/e2
removed vars/dd/e2" "created, sealed (with its xxh3), renamed, removed: in order"
eq "$(awk -F'\t' '$4 == "tasks/'"$task"'" { print $5 }' "$T/ev.txt" | tr '\n' ' ')" \
	"state=queued state=running state=exited " "the task's states"
grep -qP "^\d+\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\ttask\ttasks/$task\tstate=exited\tnode=$NODE\texit=0$" "$T/ev.txt" ||
	bad "a task's end: its node and exit code on a line with a sequence number and an ISO time"
seqs=$(cut -f1 "$T/ev.txt" | tr '\n' ' ')
eq "$(cut -f1 "$T/ev.txt" | sort -n | tr '\n' ' ')" "$seqs" "sequence numbers increase"
ok "$PY" - "$T/ev.json" "$T/ev.txt" <<'PY'
import json, sys
js = [json.loads(l) for l in open(sys.argv[1])]
txt = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
assert [j["seq"] for j in js] == [int(t[0]) for t in txt], "the same events in both files"
assert [j["event"] for j in js] == [t[2] for t in txt]
sealed = [j for j in js if j["event"] == "sealed" and j["path"] == "vars/e1"][0]
assert sealed["size"] == 5000 and isinstance(sealed["size"], int), sealed
ended = [j for j in js if j["event"] == "task" and j["state"] == "exited"][0]
assert ended["exit"] == 0, ended
PY

# ---- poll, EAGAIN, a signal to a waiting read -----------------------------------------------------------
ok "$PY" - "$MNT/events" "$V/p1" <<'PY'
import os, select, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
p = select.poll()
p.register(fd, select.POLLIN)
assert p.poll(0) == [], "nothing to read yet"
try:
    os.read(fd, 4096)
    raise SystemExit("a non-blocking read with nothing to give answered")
except BlockingIOError:
    pass
w = subprocess.Popen(["sh", "-c", "echo x > '%s'" % sys.argv[2]])
ev = p.poll(20000)
assert ev and ev[0][1] & select.POLLIN, "poll woke: %r" % ev
line = os.read(fd, 4096).decode()
assert "\tcreated\tvars/p1" in line, line
w.wait()
PY
timeout -k 10 -s INT 1 cat "$MNT/events" >/dev/null
eq "$?" 124 "a read waiting for an event ends on SIGINT (not killed after 10 s)"

# ---- a slow reader: the bound -----------------------------------------------------------------------------
ok "$PY" - "$MNT/events" "$V" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
for i in range(60):                    # 120 events at least: created and sealed
    with open(os.path.join(sys.argv[2], "b%d" % i), "w") as f:
        f.write("x")
for i in range(60):                    # a seal comes with the group commit: wait for the last one
    os.getxattr(os.path.join(sys.argv[2], "b%d" % i), "user.fabric.xxh3")
data = b""
while True:
    try:
        b = os.read(fd, 1 << 20)
    except BlockingIOError:
        break
    data += b
lines = [l.split(b"\t") for l in data.decode().encode().split(b"\n") if l]
assert lines[0][2] == b"lost", "the first line says what was lost: %r" % lines[0]
kept = lines[1:]
assert len(kept) == 64, "the bound keeps 64: %d" % len(kept)
seqs = [int(l[0]) for l in kept]
assert seqs == list(range(seqs[0], seqs[0] + 64)), "the newest 64, none skipped"
lost = int(lines[0][4].split(b"=")[1])
first = seqs[0] - lost
created = [int(l[0]) for l in kept if l[2] == b"created"]
# every event from the reader's open on is either counted as lost or kept: the first one it would have
# read was the create of b0
assert lost + 64 == seqs[-1] - first + 1 and lost >= 120 - 64, (lost, seqs[0], seqs[-1])
print(lost)
PY

# ---- who sees what ----------------------------------------------------------------------------------------
mkdir -m 1777 "$T/pub/out"
start_reader "$MNT/events" "$T/pub/out/nobody.txt" "vars/public" setpriv --reuid=65534 --regid=65534 --clear-groups
r3=$!
"$PY" -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o600))' "$V/secret"
wait_for sealed "$V/secret"
echo hi >"$V/public"
wait_exit $r3 "nobody's reader"
grep -q "vars/public" "$T/pub/out/nobody.txt" || bad "nobody sees a variable it may read"
if grep -q "vars/secret" "$T/pub/out/nobody.txt"; then
	bad "nobody saw the events of a variable of mode 0600: $(cat "$T/pub/out/nobody.txt")"
fi
start_reader "$MNT/events" "$T/other.txt" "vars/after"
r4=$!
ok "$PY" - "$MNT/events" "$V/mine" "$NODE" <<'PY'
import os, sys
ev = os.open(sys.argv[1], os.O_RDONLY)
fd = os.open(sys.argv[2], os.O_CREAT | os.O_WRONLY, 0o644)
os.setxattr(sys.argv[2], "user.fabric.scope", ("process:%s/%d" % (sys.argv[3], os.getpid())).encode())
os.write(fd, b"mine")
os.close(fd)
data = b""
while b"\tsealed\tvars/mine" not in data:
    data += os.read(ev, 65536)
PY
echo x >"$V/after"
wait_exit $r4 "the other process's reader"
if grep -qP "\tsealed\tvars/mine" "$T/other.txt"; then bad "another process saw the seal of a variable scoped to one process"; fi

# ---- fabric watch ---------------------------------------------------------------------------------------
"$FAB_TOOL" watch vars/w/ >"$T/watch.out" 2>&1 &
wpid=$!
wait_for blocked_in_fuse $wpid
ok mkdir "$V/w"
echo a >"$V/elsewhere"
echo b >"$V/w/in"
wait_for grep -qP "\tsealed\tvars/w/in\t" "$T/watch.out"
kill $wpid
wait "$wpid" 2>/dev/null
if grep -q elsewhere "$T/watch.out"; then bad "fabric watch vars/w/ printed a line of another path"; fi
fab_done
