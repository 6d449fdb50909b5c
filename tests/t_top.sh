#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_top.sh -- `fabric top` (tools/fabric_top.py) on a real mount, in an 80x24 tmux pane with NO_COLOR=1:
# its first frame, then a variable written and a long task spawned showing up (the count of variables, the
# task with its node and age, the variable's events when the mount has an `events` file, else "no event
# stream"), no line wider than 80 columns, no colour escape (nor with a terminal that has no colours; with
# one that has, and NO_COLOR unset, there is colour), `q` ending it with status 0; `--once` at 80x24; a
# directory that is not a fabric refused with a sentence and status 1 (its `ctl` file untouched); the
# events parser on every kind of line, and the event reader on a FIFO (a line split across two writes,
# poll waking on new lines).
. "$(dirname "$0")/lib.sh"
if ! command -v tmux >/dev/null 2>&1; then
	echo "no tmux on this machine (make deps installs it)"
	exit 77
fi
fab_setup
fab_mount --capacity 64M
SOCK=$T/tmux.sock # a tmux server of this test's own, killed however the test ends
fab_at_exit tmux -S "$SOCK" kill-server
tm() { tmux -S "$SOCK" "$@"; }

# top_in SESSION ENV...: `fabric top` on $MNT in a new detached 80x24 pane, with the ENV assignments; its
# exit status goes to $T/SESSION.rc when it ends.
top_in() {
	local s=$1 cmd
	shift
	cmd="env $(printf '%q ' "$@")FABRIC=$(printf %q "$MNT") $(printf %q "$FAB_TOOL") top"
	tm new-session -d -x 80 -y 24 -s "$s" "$cmd; echo \$? >$(printf %q "$T/$s.rc")"
}
pane() { tm capture-pane -p -t "$1"; }
pane_has() { pane "$1" | grep -qE -- "$2"; }
session_gone() { ! tm has-session -t "$1" 2>/dev/null; }
# has_colour: stdin (capture-pane -e) holds an SGR escape that sets a colour (30-38, 40-48, 90-97,
# 100-107; 39 and 49, back to the default colours, are tmux's own resets after an attribute)
has_colour() {
	"$PY" -c '
import re, sys
for m in re.finditer(r"\x1b\[([0-9;:]*)m", sys.stdin.read()):
    for p in re.split("[;:]", m.group(1)):
        if p and (30 <= int(p) <= 38 or 40 <= int(p) <= 48 or 90 <= int(p) <= 97 or 100 <= int(p) <= 107):
            sys.exit(0)
sys.exit(1)'
}
# quit SESSION: q, then the pane must end with status 0
quit() {
	tm send-keys -t "$1" q
	wait_for session_gone "$1" || return 1
	eq "$(cat "$T/$1.rc" 2>/dev/null)" 0 "exit status of fabric top after q ($1)"
}

# ---- not a fabric: a sentence, status 1, nothing written --------------------------------------------
mkdir "$T/plain"
echo keep >"$T/plain/ctl"
FABRIC=$T/plain fails "is not a fabric mount" "$FAB_TOOL" top
FABRIC=$T/plain fails "is not a fabric mount" "$FAB_TOOL" top --once
eq "$(cat "$T/plain/ctl")" keep "the ctl file of a directory that is not a fabric"
FABRIC=$T/none fails "no fabric mounted at $T/none" "$FAB_TOOL" top
FABRIC=$MNT fails "--interval takes seconds" "$FAB_TOOL" top --interval 0
FABRIC=$MNT fails "needs a terminal" "$FAB_TOOL" top </dev/null
"$FAB_TOOL" --help | grep -q 'fabric top \[--interval SECS\]' || bad "fabric --help does not show top"

# ---- the terminal view ------------------------------------------------------------------------------
top_in top NO_COLOR=1
wait_for pane_has top 'q quits'
wait_for pane_has top '^variables 0 '
pane_has top "node $NODE" || bad "the header does not name node $NODE: $(pane top | head -n 1)"
pane_has top "^$NODE +up +\[[#.]+\] +[0-9.]+[BKMG]/64M " || bad "no bar of node $NODE: $(pane top)"
pane_has top '^tasks: 0 running, 0 queued' || bad "tasks of an empty fabric: $(pane top)"

mkdata "$T/data" 100000
ok cp "$T/data" "$MNT/vars/topvar"
id=$(FABRIC=$MNT "$FAB_TOOL" spawn -- sleep 60) || bad "spawn of sleep 60 failed"
fab_at_exit env FABRIC="$MNT" "$FAB_TOOL" kill "$id"
wait_for pane_has top '^variables 1 '
wait_for pane_has top "^ +$id running +$NODE +[0-9]+s sleep 60\$"
wait_for pane_has top '^tasks: 1 running, 0 queued'
wait_for pane_has top '(created|sealed) +vars/topvar'
wait_for pane_has top "task +tasks/$id"
wide=$(pane top | awk 'length($0) > 80')
eq "$wide" "" "lines of the pane wider than 80 columns"
[ "$(pane top | wc -l)" -le 24 ] || bad "more than 24 lines in the pane"
tm capture-pane -p -e -t top | has_colour && bad "colour escapes with NO_COLOR=1: $(tm capture-pane -p -e -t top | cat -v | head -n 3)"
quit top

# colour: on a terminal that has colours without NO_COLOR; never on one that has none
top_in colour NO_COLOR=
wait_for pane_has colour 'q quits'
tm capture-pane -p -e -t colour | has_colour || bad "no colour on a terminal that has colours, NO_COLOR unset"
quit colour
if infocmp vt100 >/dev/null 2>&1; then
	top_in mono NO_COLOR= TERM=vt100
	wait_for pane_has mono 'q quits'
	tm capture-pane -p -e -t mono | has_colour && bad "colour escapes on a vt100 (no colours)"
	quit mono
fi

# --once: one frame as text, at $COLUMNS x $LINES
ok env COLUMNS=80 LINES=24 FABRIC="$MNT" "$FAB_TOOL" top --once
once=$(last_out)
nl=$'\n'
match "$once" "(^|$nl)variables 1 " "--once: the count of variables"
match "$once" " mutable 0 " "--once: the count of mutable objects (stat's mutable)"
match "$once" " replicas 0($nl| )" "--once: the count of replicas (stat's replicas)"
match "$once" "(^|$nl) +$id running +$NODE " "--once: the running task"
eq "$(awk 'length($0) > 80' <<<"$once")" "" "--once: lines wider than 80 columns"
[ "$(wc -l <<<"$once")" -le 24 ] || bad "--once: more than 24 lines"

ok env FABRIC="$MNT" "$FAB_TOOL" kill "$id"
wait_says killed awk 'NR == 1 { print $1 }' "$MNT/tasks/$id/status"

# ---- the events parser, and the reader on a FIFO ---------------------------------------------------
mkfifo "$T/events"
ok env PYTHONPATH="$FAB_ROOT/tools" "$PY" - "$T/events" <<'PY'
import os, select, sys
import fabric_top as ft

p = ft.parse_event(b"41\t2026-12-03T08:30:01.123Z\tsealed\tvars/x\tsize=4096\txxh3=0123456789abcdef\tnode=n1\n")
assert (p.seq, p.time, p.event, p.path) == (41, "2026-12-03T08:30:01.123Z", "sealed", "vars/x"), p
assert dict(p.keys) == {"size": "4096", "xxh3": "0123456789abcdef", "node": "n1"}, p
assert ft.describe(p) == ("08:30:01.123", "sealed", "vars/x  size=4.0K xxh3=01234567 node=n1"), ft.describe(p)
p = ft.parse_event(b"42\t2026-12-03T08:30:01.124Z\trenamed\tvars/a\\040b\\134c\tto=vars/y\\011z\\012")
assert p.path == "vars/a b\\c" and p.keys["to"] == "vars/y\tz\n", p
assert ft.describe(p)[2] == "vars/a b\\134c -> vars/y\\011z\\012", ft.describe(p)  # shown escaped, one line
p = ft.parse_event("43\t2026-12-03T08:30:02.000Z\ttask\ttasks/7\tstate=exited\texit=0\tnode=n1")
assert ft.describe(p) == ("08:30:02.000", "task", "tasks/7 exited  exit=0 node=n1"), ft.describe(p)
p = ft.parse_event("44\t2026-12-03T08:30:03.000Z\tnode\tnodes/n2\tstate=down")
assert ft.describe(p)[2] == "nodes/n2 down", ft.describe(p)
p = ft.parse_event("45\t2026-12-03T08:30:04.000Z\tlost\t-\tcount=120")
assert p.event == "lost" and "120 older event(s) lost" in ft.describe(p)[2], ft.describe(p)
# unknown events and keys, a bare key, '=' in a value, a stray byte, a bad time, a line that is not one
p = ft.parse_event(b"46\tsoon\tfrobbed\tvars/\xff\tnew\tk=a=b")
assert (p.event, p.keys["new"], p.keys["k"]) == ("frobbed", None, "a=b"), p
assert ft.describe(p) == ("soon", "frobbed", "vars/\\377  new k=a=b"), ft.describe(p)
p = ft.parse_event("not an event")
assert p.raw == "not an event" and p.seq is None and ft.describe(p)[2] == "not an event", p

# the reader: opened once, non-blocking; a line split across writes is one event; poll wakes on new lines
w = os.open(sys.argv[1], os.O_RDWR)  # a writer first, so the reader's open does not wait and sees no EOF
es = ft.EventStream(sys.argv[1])
assert es.state is None and es.fd is not None, es.state
assert not es.read() and len(es.events) == 0 and es.fd is not None  # nothing yet: still polled
assert not es.read(polled=True) and es.fd is None  # poll said readable, nothing came: not polled this tick
es.tick()
assert es.fd is not None
os.write(w, b"1\t2026-12-03T08:30:01.000Z\tcreated\tvars/a\n2\t2026-12-03T08:30:01.001Z\tsea")
pl = select.poll(); pl.register(es.fd, select.POLLIN)
assert pl.poll(5000), "poll did not wake on new lines"
assert es.read() and [e.seq for e in es.events] == [1], list(es.events)
os.write(w, b"led\tvars/a\tsize=3\n")
assert pl.poll(5000), "poll did not wake on the rest of a line"
assert es.read() and [(e.seq, e.event) for e in es.events] == [(1, "created"), (2, "sealed")], list(es.events)
es.close()
os.close(w)
missing = ft.EventStream(sys.argv[1] + ".none")
assert missing.state == "absent" and missing.fd is None and not missing.read()
PY

ok fab_umount
fab_done
