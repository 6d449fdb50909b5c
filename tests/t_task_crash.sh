#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_task_crash.sh -- kill -9 of the daemon while a task writes its output: the task's processes die with
# the daemon (grandchildren too), and after the next mount that task is `lost`, its output is gone, the
# task queued behind it runs, and a task that had finished before the crash keeps its record and output.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --max-tasks 1
V=$MNT/vars
export FABRIC=$MNT
state() { head -n 1 "$MNT/tasks/$1/status" | cut -d' ' -f1; }

done_id=$("$FAB_TOOL" spawn out=before -- sh -c 'echo before > before; echo said')
"$FAB_TOOL" wait "$done_id" >/dev/null || bad "the first task did not exit 0"
w=$("$FAB_TOOL" spawn out=partial -- sh -c 'exec 3>partial; echo half >&3; sh -c "sleep 7772" & sleep 7771')
q=$("$FAB_TOOL" spawn out=later -- sh -c 'echo later > later')
wait_says running state "$w"
wait_for pgrep -f "sleep 777[12]"
eq "$(state "$q")" queued "with --max-tasks 1 the second task waits"

pid=$(daemon_pid)
is_fabricd "$pid" || bad "no fabricd with the pid in $ST/fabricd.pid ($pid)"
kill -9 "$pid"
dead() { ! alive "$pid"; }
wait_for dead
wait_for sh -c '! pgrep -f "sleep 777[12]"' # ended with the daemon, not left writing

fab_mount --max-tasks 1
wait_says exited state "$q"
eq "$(state "$w")" lost "the task that was running is lost"
match "$(cat "$MNT/tasks/$w/status")" "reason: the daemon stopped while it ran" "and says why"
eq "$(cat "$MNT/tasks/$w/exit")" 125 "exit of a lost task"
fails "No such file or directory" stat "$V/partial"
eq "$(cat "$V/later")" later "the queued task ran after the restart"
eq "$(state "$done_id")" exited "a finished record is intact"
eq "$(cat "$V/before")" before "and so is its output"
eq "$(cat "$MNT/tasks/$done_id/stdout") $(stat -c %s "$MNT/tasks/$done_id/stdout")" "said 5" \
	"and its captured stdout, with its size"
eq "$(yp "SELECT state FROM tasks WHERE id = $w")" lost "the YP row says lost"

# a crash between a task's end (recorded) and its outputs' seal (not yet): as if, by editing the YP of a
# stopped fabric; the next mount keeps a task whose outputs are all sealed, and makes the other lost
k1=$("$FAB_TOOL" spawn out=kept -- sh -c 'echo kept > kept')
k2=$("$FAB_TOOL" spawn out=unsealed -- sh -c 'echo unsealed > unsealed')
"$FAB_TOOL" wait "$k1" >/dev/null && "$FAB_TOOL" wait "$k2" >/dev/null || bad "the two tasks did not exit 0"
wait_says 2 yp "SELECT sum(outputs_sealed) FROM tasks WHERE id IN ($k1, $k2)"
ok fab_umount
ok sqlite3 "$ST/yp.db" "UPDATE tasks SET outputs_sealed = 0 WHERE id IN ($k1, $k2);
	UPDATE objects SET state = 'writing', xxh3 = NULL WHERE name = 'unsealed' AND parent = 2"
fab_mount --max-tasks 1
eq "$(state "$k1") $(cat "$V/kept")" "exited kept" "outputs all sealed: the task stays exited"
eq "$(yp "SELECT outputs_sealed FROM tasks WHERE id = $k1")" 1 "and its mark is written"
eq "$(state "$k2")" lost "an output not sealed: the task is lost"
match "$(cat "$MNT/tasks/$k2/status")" "reason: it exited 0, but the daemon stopped before all its outputs" \
	"and says why"
fails "No such file or directory" stat "$V/unsealed"

# the history bound: with --task-history 2, only the two newest finished records stay
ok fab_umount
fab_mount --task-history 2
last=$("$FAB_TOOL" spawn -- true)
"$FAB_TOOL" wait "$last" >/dev/null || bad "a task after the remount did not exit 0"
wait_says 2 sh -c 'ls "$1" | wc -l' _ "$MNT/tasks"
eq "$(ls "$MNT/tasks" | sort -n | tail -n 1)" "$last" "the newest record is kept"
eq "$(yp "SELECT count(*) FROM tasks")" 2 "and the YP holds the same two"

# SIGTERM (a daemon stopped, not crashed) with a task running and one queued behind it
ok fab_umount
fab_mount --max-tasks 1
r=$("$FAB_TOOL" spawn out=cut -- sh -c 'echo part > cut; sleep 7773')
q2=$("$FAB_TOOL" spawn out=after -- sh -c 'echo after > after')
wait_says running state "$r"
pid=$(daemon_pid)
kill -TERM "$pid"
wait_for dead
wait_for sh -c '! pgrep -f "sleep 777[3]"'
fab_mount --max-tasks 1
eq "$(state "$r")" lost "a task running when the daemon was stopped is lost"
match "$(cat "$MNT/tasks/$r/status")" "reason: the fabric was unmounted while it ran" "and says so"
fails "No such file or directory" stat "$V/cut"
wait_says exited state "$q2"
eq "$(cat "$V/after")" after "the queue was kept and runs at the next mount"
fab_done
