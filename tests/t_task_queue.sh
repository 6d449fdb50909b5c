#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_task_queue.sh -- the task queue under pressure: a task whose dependency ends badly is cancelled at
# once even while every run slot is taken; thousands of spawns at once are accepted up to the stated
# bound (10,000 queued or running) and the next one gets EAGAIN with a sentence, the queue untouched;
# killing what they all wait for cancels them all; the fabric takes new tasks afterwards.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --max-tasks 1
export FABRIC=$MNT
state() { head -n 1 "$MNT/tasks/$1/status" | cut -d' ' -f1; }

mkfifo "$T/gate"
gate=$("$FAB_TOOL" spawn -- sh -c 'read x < "$1"' _ "$T/gate")
wait_says running state "$gate"
q=$("$FAB_TOOL" spawn -- true)
d=$("$FAB_TOOL" spawn after="$q" -- true)
eq "$(state "$q") $(state "$d")" "queued queued" "behind the only run slot, both wait"
ok "$FAB_TOOL" kill "$q"
wait_says cancelled state "$d"
match "$(cat "$MNT/tasks/$d/status")" "reason: task $q it waits for ended killed" "the slot is still taken"

# thousands at once: 3 are pending (gate, and none else); fill up to the bound, one more is refused
"$PY" - "$MNT/ctl" "$gate" >"$T/fill.out" <<'PY'
import errno, os, sys
ctl = os.open(sys.argv[1], os.O_RDWR)
accepted = 0
while True:
    try:
        os.write(ctl, b"spawn after=%s -- true\n" % sys.argv[2].encode())
    except OSError as e:
        print(accepted, errno.errorcode[e.errno], os.read(ctl, 4096).decode().strip())
        break
    os.read(ctl, 64)
    accepted += 1
    if accepted > 20000:
        print(accepted, "no refusal")
        break
PY
read -r accepted code sentence <"$T/fill.out"
eq "$accepted" 9999 "spawns accepted up to 10,000 queued or running (the gate is one of them)"
eq "$code" EAGAIN "the next spawn's errno"
match "$sentence" "10000 tasks are queued or running already" "and its sentence"
eq "$(state "$gate")" running "the queue is untouched by the refusal"

ok "$FAB_TOOL" kill "$gate"
last=$(("$("$FAB_TOOL" tasks | tail -n 1 | cut -f1)"))
wait_says cancelled state "$last"
eq "$("$FAB_TOOL" tasks | awk -F'\t' '$2 == "queued" || $2 == "running"' | wc -l)" 0 "every waiting task is cancelled"
new=$("$FAB_TOOL" spawn -- true)
ok "$FAB_TOOL" wait "$new"
fab_done
