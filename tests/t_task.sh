#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_task.sh -- tasks (`fabric spawn`): a three-stage numpy pipeline through numpy.memmap ending in exact
# bytes; reserved outputs (EBUSY for others, readers wait, sealed with their xxh3 only on exit 0); a
# failing task leaves no output and its dependents end cancelled; kill ends a task whose children have
# children; timeout; scope refusals naming both scopes; the caller's uid; 100 concurrent spawns; every
# refusal of bad input with its errno and sentence, nothing else touched; the task directory's files.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_public_tools # the uid tests below run as nobody, through $MNT
fab_mount --max-tasks 2
V=$MNT/vars
export FABRIC=$MNT

# spawn ARGS...: the id, or "" (and a failure recorded) when spawn refused
spawn() {
	if ok "$FAB_TOOL" spawn "$@"; then last_out; fi
}
state() { head -n 1 "$MNT/tasks/$1/status" | cut -d' ' -f1; }
states() { echo "$(state "$1") $(state "$2")"; }

# ---- the pipeline: raw -> doubled (numpy, memmap) -> sum (numpy) -> report (sh) ------------------------
"$PY" -c 'import numpy as np; np.arange(1000000, dtype=np.uint32).tofile("'"$T/raw.bin"'")'
ok cp "$T/raw.bin" "$V/raw"
a=$(spawn in=raw out=doubled -- "$PY" -c '
import numpy as np, os
a = np.memmap(os.environ["FABRIC"] + "/vars/raw", dtype="uint32", mode="r")
out = np.memmap("doubled", dtype="uint32", mode="w+", shape=a.shape)
out[:] = a * 2
out.flush()
print("doubled", a.size, "values")')
b=$(spawn in=doubled out=sum -- "$PY" -c '
import numpy as np
d = np.memmap("doubled", dtype="uint32", mode="r")
open("sum", "w").write(str(int(d.sum(dtype=np.uint64))))')
c=$(spawn in=sum out=report after="$a" -- sh -c 'printf "total=%s\n" "$(cat sum)" > report')
match "$a $b $c" '[0-9]+ [0-9]+ [0-9]+' "spawn answers one id per task"
ok "$FAB_TOOL" wait "$c"
match "$(last_out)" '^exited queued=[^ ]+ started=[^ ]+ ended=[^ ]+ exit=0$' "fabric wait prints the status line"
eq "$(cat "$V/report")" "total=999999000000" "the pipeline's result, exact"
eq "$(cat "$MNT/tasks/$a/stdout")" "doubled 1000000 values" "a task's stdout"
eq "$(stat -c %s "$MNT/tasks/$a/stdout")" 23 "its size is what was captured"
eq "$(cat "$MNT/tasks/$a/exit")" 0 "exit of a task that exited 0"
eq "$(cat "$MNT/tasks/$a/node")" "$NODE" "node of a task"
match "$(sed -n 2p "$MNT/tasks/$a/status")" "^placed $NODE: .+" "the status says where it was placed, and why"
eq "$(xget "$V/doubled" user.fabric.state)" sealed "an output is sealed when its task exits 0"
eq "$(xget "$V/doubled" user.fabric.xxh3)" "$(xxh128 "$V/doubled")" "sealed with its xxh3"
"$PY" -c 'import numpy as np; (np.arange(1000000, dtype=np.uint32) * 2).tofile("'"$T/doubled.want"'")'
same "$V/doubled" "$T/doubled.want" "the memmap-written output"
eq "$(head -n 1 "$MNT/tasks/$b/cmd" | cut -d' ' -f1-2)" "$PY -c" "cmd holds the program's words"
eq "$(yp "SELECT state FROM tasks WHERE id = $c")" exited "tasks are rows in the yellow pages"

# ---- reserved outputs: EBUSY for other writers, readers wait until the seal --------------------------
mkfifo "$T/gate" "$T/gate2"
g=$(spawn out=gated -- sh -c 'read x < "$1"; echo "gated $x" > gated' _ "$T/gate")
wait_says running state "$g"
"$FAB_TOOL" wait "$g" >/dev/null &
waiter=$!
in_poll() { read -r nr _ <"/proc/$waiter/syscall" && [ "$nr" = 7 ]; } # poll(2) on x86-64
wait_for in_poll
ok in_poll # still there: fabric wait sleeps in poll, it does not spin
fails "Device or resource busy" sh -c 'echo intruder > "$1"' _ "$V/gated"
fails "Device or resource busy" rm "$V/gated"
fails "Device or resource busy" truncate -s 0 "$V/gated"
fails "File exists" "$FAB_TOOL" spawn out=gated -- true
match "$(last_err)" "reserved as an output of task $g" "the refusal names the task holding the name"
cat "$V/gated" >"$T/gated.read" 2>&1 &
reader=$!
wait_blocked $reader "a reader of a reserved output waits"
echo go >"$T/gate"
wait_exit $reader
eq "$?" 0 "the reader is answered once the task ends"
wait_exit $waiter
eq "$?" 0 "fabric wait, woken by the status change, exits 0"
eq "$(cat "$T/gated.read")" "gated go" "and reads the sealed output"

# ---- failure: no output, dependents cancelled ---------------------------------------------------------
f=$(spawn out=half -- sh -c 'echo partial > half; read x < "$1"; echo boom >&2; exit 3' _ "$T/gate2")
d1=$(spawn in=half out=never -- cat half)
d2=$(spawn after="$f" -- true)
echo go >"$T/gate2"
"$FAB_TOOL" wait "$f" >/dev/null
eq "$?" 3 "fabric wait exits with the task's status"
eq "$(state "$f")" failed "a task exiting 3 is failed"
eq "$(cat "$MNT/tasks/$f/stderr")" boom "its stderr"
match "$(cat "$MNT/tasks/$f/status")" "reason: exited with status 3" "the reason"
fails "No such file or directory" stat "$V/half"
fails "No such file or directory" stat "$V/never"
wait_says cancelled state "$d1"
wait_says cancelled state "$d2"
match "$(cat "$MNT/tasks/$d1/status")" "reason: input 'half' was never made: task $f ended failed" \
	"a cancelled task says which task failed"
eq "$(cat "$MNT/tasks/$d2/exit")" 125 "exit of a cancelled task"
e=$(spawn out=empty -- true)
"$FAB_TOOL" wait "$e" >/dev/null
match "$(cat "$MNT/tasks/$e/status")" "reason: exited 0 without writing its output 'empty'" \
	"exit 0 without writing an output fails the task"
fails "No such file or directory" stat "$V/empty"

# ---- kill: the whole tree, grandchildren included ----------------------------------------------------
k=$(spawn out=slow -- sh -c 'sh -c "setsid sleep 6661 & sleep 6662 & wait" & echo x > slow; wait')
wait_says running state "$k"
wait_for pgrep -f "sleep 666[12]"
ok sh -c "echo kill > '$MNT/tasks/$k/ctl'"
"$FAB_TOOL" wait "$k" >/dev/null
eq "$(state "$k")" killed "killed on request"
eq "$(cat "$MNT/tasks/$k/exit")" 137 "exit of a killed task is 128+9"
wait_for sh -c '! pgrep -f "sleep 666[12]"'
fails "No such file or directory" stat "$V/slow"
fails "No such process" "$FAB_TOOL" kill "$k"
match "$(last_err)" "has ended already" "kill of a finished task says so"

# ---- timeout ------------------------------------------------------------------------------------------
to=$(spawn timeout=0.3 -- sleep 1000)
"$FAB_TOOL" wait "$to" >/dev/null
eq "$(state "$to")" timed-out "a task past its timeout"
match "$(cat "$MNT/tasks/$to/status")" "reason: ran past its timeout of 0.300 s" "the timeout reason"

# ---- scopes -------------------------------------------------------------------------------------------
echo here >"$V/pinned"
ok setfattr -n user.fabric.scope -v "node:$NODE" "$V/pinned"
fails "Invalid argument" "$FAB_TOOL" spawn in=pinned scope=node:elsewhere -- true
match "$(last_err)" "node:elsewhere.*node:$NODE|node:$NODE.*node:elsewhere" "the refusal names both scopes"
"$PY" -c 'import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT); os.write(fd, b"p"); os.close(fd)' "$V/mine"
ok setfattr -n user.fabric.scope -v "process:$NODE/$$" "$V/mine"
fails "Permission denied" "$FAB_TOOL" spawn in=mine -- true
match "$(last_err)" "input mine is scoped to a process" "the refusal names the input and says why"
ok rm "$V/mine"

# ---- a shard piece and a mutable object as inputs ----------------------------------------------------
ok "$FAB_TOOL" shard ctr 8
ok "$FAB_TOOL" mutable counters 16
si=$(spawn in=shards/ctr/local,counters out=inputs -- \
	sh -c 'printf "%s\n" "$FABRIC_INPUTS" > inputs; wc -c < ../shards/ctr/local >> inputs')
"$FAB_TOOL" wait "$si" >/dev/null
eq "$(cat "$V/inputs")" "$MNT/shards/ctr/local
$MNT/vars/counters
8" "a shard piece and a mutable object as inputs, listed in FABRIC_INPUTS"
match "$(sed -n 2p "$MNT/tasks/$si/status")" "^placed $NODE: .*node:$NODE" "placed inside the shard piece's scope"

# ---- the caller's identity ----------------------------------------------------------------------------
u=$(setpriv --reuid=65534 --regid=65534 --clear-groups env FABRIC="$MNT" "$PUB_TOOL" spawn out=who -- \
	sh -c 'id -u > who; id -g; echo "$HOME $PWD"')
match "$u" '[0-9]+' "a non-root user spawns"
"$FAB_TOOL" wait "$u" >/dev/null
eq "$(cat "$V/who")" 65534 "the task ran with its caller's uid"
eq "$(stat -c %u "$V/who")" 65534 "its output belongs to the caller"
match "$(cat "$MNT/tasks/$u/stdout")" "^65534
[^ ]+ $MNT/vars$" "gid, and the working directory is FABRIC/vars"
fails "Operation not permitted" setpriv --reuid=65534 --regid=65534 --clear-groups env FABRIC="$MNT" \
	"$PUB_TOOL" kill "$g"
ok mkdir -m 755 "$V/rootonly"
fails "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups env FABRIC="$MNT" \
	"$PUB_TOOL" spawn out=rootonly/x -- true
fails "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups env FABRIC="$MNT" \
	"$PUB_TOOL" mutable rootonly/m 8
fails "Permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups env FABRIC="$MNT" \
	"$PUB_TOOL" put rootonly/f /etc/hostname
eq "$(ls "$V/rootonly")" "" "a user cannot reserve an output, make a mutable or load where they cannot create"

# ---- bad input: errno + sentence, nothing else touched ------------------------------------------------
before=$(ls "$V" | tr '\n' ' ')
fails "Invalid argument" "$FAB_TOOL" spawn bogus=1 -- true
fails "Invalid argument" "$FAB_TOOL" spawn true
match "$(last_err)" "needs '--'" "missing -- is named"
fails "Invalid argument" "$FAB_TOOL" spawn --
fails "Invalid argument" "$FAB_TOOL" spawn in=nosuch -- true
match "$(last_err)" "in=nosuch: no such variable" "an unknown input is named"
fails "File exists" "$FAB_TOOL" spawn out=raw -- true
fails "Invalid argument" "$FAB_TOOL" spawn after=999999 -- true
fails "Invalid argument" "$FAB_TOOL" spawn in=raw out=raw -- true
fails "Invalid argument" "$FAB_TOOL" spawn out=nodir/x -- true
fails "Invalid argument" "$FAB_TOOL" spawn timeout=-1 -- true
fails "Invalid argument" "$FAB_TOOL" spawn out=a,,b -- true
fails "Argument list too long" "$FAB_TOOL" spawn -- echo $(seq 1 270)
fails "Argument list too long" "$FAB_TOOL" spawn -- echo "$(head -c 70000 /dev/zero | tr '\0' x)"
fails "Invalid argument" "$FAB_TOOL" spawn -- echo "$(printf 'a\001b')"
fails "No such file or directory" "$FAB_TOOL" kill 999999
nf=$(spawn -- no-such-program-xyz)
"$FAB_TOOL" wait "$nf" >/dev/null
eq "$(state "$nf")" failed "a program that does not exist: failed"
match "$(cat "$MNT/tasks/$nf/stderr")" "cannot run 'no-such-program-xyz'" "its stderr says why"
eq "$(cat "$MNT/tasks/$nf/exit")" 127 "and its exit is 127"
eq "$(ls "$V" | tr '\n' ' ')" "$before" "refused spawns left vars/ as it was"
eq "$(cat "$V/report")" "total=999999000000" "and every object untouched"

# ---- 100 concurrent spawns -----------------------------------------------------------------------------
for i in $(seq 1 100); do
	"$FAB_TOOL" spawn out="many$i" -- sh -c 'echo "$FABRIC_TASK" > "$(basename "$FABRIC_OUTPUTS")"' \
		>"$T/many.$i" 2>&1 &
done
wait
for i in $(seq 1 100); do
	id=$(cat "$T/many.$i")
	"$FAB_TOOL" wait "$id" >/dev/null 2>&1 || bad "task $id (spawn $i) did not exit 0"
	[ "$(cat "$V/many$i" 2>/dev/null)" = "$id" ] || bad "many$i does not hold its task id $id"
done
eq "$(ls "$MNT/tasks" | wc -l)" "$(("$("$FAB_TOOL" tasks | wc -l)"))" "tasks/ lists every task"
"$FAB_TOOL" json tasks >"$T/tasks.json"
eq "$("$PY" -c 'import json, sys
t = {x["id"]: x for x in json.load(open(sys.argv[1]))}
print(t[int(sys.argv[2])]["state"], t[int(sys.argv[2])]["exit"], t[int(sys.argv[3])]["exit"])' "$T/tasks.json" "$f" "$to")" \
	"failed 3 137" "json tasks: one object per task, exit codes as numbers"

# ---- at most --max-tasks 2 run at once, the rest queue in submission order ---------------------------
s1=$(spawn -- sleep 1000)
s2=$(spawn -- sleep 1000)
s3=$(spawn -- sleep 1000)
wait_says "running running" states "$s1" "$s2"
eq "$(state "$s3")" queued "a third task waits while two run"
ok "$FAB_TOOL" kill "$s1"
wait_says running state "$s3"
for s in $s2 $s3; do ok "$FAB_TOOL" kill "$s"; done

# ---- unmount while a task runs: refused, saying why ---------------------------------------------------
busy=$(spawn -- sleep 1000)
wait_says running state "$busy"
fails "1 task(s) running there" "$FAB_TOOL" umount "$MNT"
ok "$FAB_TOOL" kill "$busy"
"$FAB_TOOL" wait "$busy" >/dev/null

# ---- forget ---------------------------------------------------------------------------------------------
ok "$FAB_TOOL" forget "$a"
fails "No such file or directory" stat "$MNT/tasks/$a/status"
eq "$(yp "SELECT count(*) FROM tasks WHERE id = $a")" 0 "a forgotten task leaves the YP"
fab_done
