#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_ctl.sh -- the control file /fabric/ctl through a real mount, and the `fabric` verbs over it.
#
# The file itself (a regular file, no xattrs, cannot be removed or renamed); every read-only verb (help,
# list, locate, stat, and their json forms) from a shell (exec 3<>ctl; echo ... >&3; cat <&3); the
# protocol from python, where write(2)'s result and errno are exact: a write returns its length on
# success; EINVAL, ENOENT, EISDIR, E2BIG on failure, with the sentence read back after it; a line split
# across writes; a line with no newline run at read or at close; two lines in one write refused; lengths
# around CTL_LINE_MAX; answers per open file; 8 processes each issuing its own locate 200 times and
# always reading its own answer; then the same verbs through tools/fabric.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --capacity 64M
V=$MNT/vars
C=$MNT/ctl
export FABRIC=$MNT

# ---- a few objects ---------------------------------------------------------------------------------

mkdata "$T/w" 1000
ok cp "$T/w" "$V/w"
ok setfattr -n user.fabric.type -v "1000*uint8" "$V/w"
wtype=$(xget "$V/w" user.fabric.type)
ok mkdir -p "$V/d1/d2"
mkdata "$T/x" 4097
ok cp "$T/x" "$V/d1/d2/x"
ok sh -c 'echo hello > "$1"' _ "$V/a b"
ok sh -c 'echo kv > "$1"' _ "$V/a b=c"
for i in 0 1 2 3 4 5 6 7; do
	mkdata "$T/c$i" $((100 + i * 4096))
	ok cp "$T/c$i" "$V/c$i"
done
nvars=12

# ---- the file itself -------------------------------------------------------------------------------

eq "$(ls -A "$MNT" | tr '\n' ' ')" "ctl datasets events events.json nodes shards tasks vars " "the mount root"
# its size is one longest command line (CTL_LINE_MAX + 1): a write inside st_size may run beside others
# (FOPEN_PARALLEL_DIRECT_WRITES), so one slow command never holds up another caller's (t_cluster.sh)
match "$(ls -l "$C")" '^-rw-rw-rw- 1 [^ ]+ [^ ]+ 65537 .*/ctl$' "ls -l of the control file"
eq "$(stat -c %F "$C")" "regular file" "stat of the control file"
eq "$(getfattr -d -m - --absolute-names "$C" 2>&1)" "" "getfattr -d -m - shows nothing on ctl"
fails "No such attribute" getfattr -n user.fabric.state "$C"
fails "Operation not supported" setfattr -n user.fabric.doc -v x "$C"
fails "Operation not permitted" rm -f "$C"
fails "Operation not permitted" mv "$C" "$MNT/ctl2"
fails "Operation not permitted" mv "$C" "$V/ctl"
fails "Operation not permitted" mv "$V/c0" "$C"
ok test -f "$C"
eq "$(ls -A "$MNT" | tr '\n' ' ')" "ctl datasets events events.json nodes shards tasks vars " "the mount root after the refusals"
eq "$(cat "$C")" "" "a fresh open reads nothing"

# ---- every verb from a shell -----------------------------------------------------------------------

exec 3<>"$C"

echo "locate w" >&3 || bad "echo locate w >&3 failed"
eq "$(cat <&3)" "$(xget "$V/w" user.fabric.locations)" "locate w"
eq "$(cat <&3)" "" "the answer is read once: then end of file"
echo 'locate "a b"' >&3 || bad "echo locate \"a b\" >&3 failed"
eq "$(cat <&3)" "$(xget "$V/a b" user.fabric.locations)" "locate of a name with a blank"
printf 'locate\td1//d2/x\n' >&3 || bad "locate d1//d2/x failed"
eq "$(cat <&3)" "$(xget "$V/d1/d2/x" user.fabric.locations)" "locate of a nested name"
match "$(xget "$V/w" user.fabric.locations)" "^$NODE [^ ]+ [0-9]+ 1000\$" "the locations of w: NODE SHM OFFSET LENGTH"

echo stat >&3 || bad "echo stat >&3 failed"
ans=$(cat <&3)
match "$ans" $'^node\t'"$NODE"$'\ncapacity\t67108864\nused\t[0-9]+\nfree\t[0-9]+\nvariables\t'"$nvars"$'\nmutable\t0\nreplicas\t0\nreplica_bytes\t0\nown_blocks\t' "stat"
used=$(awk -F'\t' '$1 == "used" { print $2 }' <<<"$ans")
free=$(awk -F'\t' '$1 == "free" { print $2 }' <<<"$ans")
eq "$((used + free))" 67108864 "stat: used + free is the capacity"
eq "$(stat -f -c '%b %f' "$MNT")" "$((67108864 / 4096)) $((free / 4096))" "stat agrees with statfs"

echo list >&3 || bad "echo list >&3 failed"
want=$(
	printf '%s\t%s\t%s\t%s\n' w var 1000 "$wtype" "a b" var 6 - "a b=c" var 3 - d1 dir 0 - d1/d2 dir 0 - \
		d1/d2/x var 4097 -
	for i in 0 1 2 3 4 5 6 7; do printf 'c%s\tvar\t%s\t-\n' $i $((100 + i * 4096)); done
)
eq "$(cat <&3 | sort)" "$(sort <<<"$want")" "list"
echo "list d1" >&3 || bad "echo list d1 >&3 failed"
eq "$(cat <&3 | sort)" "$(printf 'd1\tdir\t0\t-\nd1/d2\tdir\t0\t-\nd1/d2/x\tvar\t4097\t-\n')" "list d1"
echo "list nothing" >&3 || bad "echo list nothing >&3 failed"
eq "$(cat <&3)" "" "list of a prefix nothing has"

echo help >&3 || bad "echo help >&3 failed"
ans=$(cat <&3)
for u in "help [VERB]" "list [PREFIX]" "locate NAME" "stat"; do
	eq "$(awk -F'\t' -v u="$u" '$1 == u && $2 != "" { n++ } END { print n + 0 }' <<<"$ans")" 1 \
		"help lists \"$u\" once, with what it does"
	echo "help ${u%% *}" >&3 || bad "help ${u%% *} failed"
	one=$(cat <&3)
	eq "${one%%$'\t'*}" "$u" "help ${u%% *}: its usage, then a tab"
	eq "$(wc -l <<<"$one")" 1 "help ${u%% *}: one line"
done

# json: one document each, with what the text answer says
echo "json locate w" >&3 || bad "json locate w failed"
ok "$PY" -c '
import json, sys
d = json.loads(sys.argv[1]); node, shm, off, length = sys.argv[2].split()
assert d == [{"node": node, "shm": shm, "offset": int(off), "length": int(length)}], d' \
	"$(cat <&3)" "$(xget "$V/w" user.fabric.locations)"
echo "json stat" >&3 || bad "json stat failed"
ok "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["node"] == sys.argv[2] and d["capacity"] == 64 << 20 and d["variables"] == int(sys.argv[3]), d
assert d["used"] + d["free"] == d["capacity"], d' "$(cat <&3)" "$NODE" "$nvars"
echo "json list" >&3 || bad "json list failed"
ok "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
names = sorted(e["name"] for e in d)
assert names == sorted(["w", "a b", "a b=c", "d1", "d1/d2", "d1/d2/x"] + ["c%d" % i for i in range(8)]), names
w = [e for e in d if e["name"] == "w"][0]
assert w["kind"] == "var" and w["size"] == 1000 and w["type"] == sys.argv[2], w
assert [e["kind"] for e in d if e["name"] == "d1/d2"] == ["dir"]' "$(cat <&3)" "$wtype"

# failures from a shell: echo reports the errno, the next read gives the sentence
fails "No such file or directory" bash -c 'echo "locate nosuch" >&3'
match "$(cat <&3)" "nosuch" "the sentence after a failed locate names what was missing"
fails "Invalid argument" bash -c 'echo "frobnicate now" >&3'
one=$(cat <&3)
match "$one" "frobnicate" "the sentence after an unknown verb names it"
eq "$(wc -l <<<"$one")" 1 "the sentence after an unknown verb: one line"
fails "Is a directory" bash -c 'echo "locate d1" >&3'
match "$(cat <&3)" "d1" "the sentence after locate of a directory"
# a line without its newline runs when read
printf 'locate w' >&3 || bad "printf locate w >&3 failed"
eq "$(cat <&3)" "$(xget "$V/w" user.fabric.locations)" "a line without a newline runs at the read"
exec 3>&-

# a shell redirection (open O_WRONLY|O_TRUNC, one write, close) works, and fails as it should
ok bash -c 'echo stat > "$1"' _ "$C"
fails "Invalid argument" bash -c 'echo "stat now" > "$1"' _ "$C"

# ---- the protocol, exactly, from python ------------------------------------------------------------

ok "$PY" - "$C" "$V" <<'PY'
import errno, os, sys
ctl, vars_ = sys.argv[1], sys.argv[2]
bad = []
E = errno.errorcode

def check(cond, what):
    if not cond:
        bad.append(what)

def loc(name):
    return os.getxattr(os.path.join(vars_, name), "user.fabric.locations").decode() + "\n"

def readall(fd):
    out = b""
    while True:
        b = os.read(fd, 65536)
        if not b:
            return out.decode()
        out += b

def sentence(a):
    return len(a) > 1 and a.endswith("\n") and a.count("\n") == 1

def write_ok(fd, data, what):
    try:
        n = os.write(fd, data)
        check(n == len(data), "%s: write returned %d, want %d" % (what, n, len(data)))
    except OSError as e:
        bad.append("%s: write failed (%s): %r" % (what, E.get(e.errno), readall(fd)))

def write_fails(fd, data, want, what):
    try:
        n = os.write(fd, data)
        bad.append("%s: write returned %d, want %s" % (what, n, E[want]))
        return readall(fd)
    except OSError as e:
        check(e.errno == want, "%s: errno %s, want %s" % (what, E.get(e.errno), E[want]))
    a = readall(fd)
    check(sentence(a), "%s: the answer %r is not one sentence" % (what, a))
    return a

fd = os.open(ctl, os.O_RDWR)

# success: the write returns its length; the answer is read back, in pieces too
write_ok(fd, b"locate w\n", "locate w")
check(readall(fd) == loc("w"), "answer of locate w")
write_ok(fd, b"stat\n", "stat")
parts = []
while True:
    b = os.read(fd, 3)
    if not b:
        break
    parts.append(b)
check(b"".join(parts).decode().startswith("node\t"), "stat read 3 bytes at a time")
# a new command replaces an answer read halfway
write_ok(fd, b"list\n", "list")
os.read(fd, 5)
write_ok(fd, b"locate c3\n", "locate c3")
check(readall(fd) == loc("c3"), "a new command replaces a half-read answer")
# the file is not seekable: the answer is read from where the last read stopped
try:
    os.lseek(fd, 0, os.SEEK_SET)
    bad.append("lseek on ctl succeeded")
except OSError as e:
    check(e.errno == errno.ESPIPE, "lseek on ctl: %s, want ESPIPE" % E.get(e.errno))

# failures: the errno that fits, then one sentence
a = write_fails(fd, b"frobnicate\n", errno.EINVAL, "unknown verb")
check("frobnicate" in a and "help" in a, "the unknown verb's sentence: %r" % a)
check("locate NAME" in write_fails(fd, b"locate\n", errno.EINVAL, "locate without a name"), "usage given")
check("locate NAME" in write_fails(fd, b"locate a b\n", errno.EINVAL, "locate with two names"), "usage given")
write_fails(fd, b"stat now\n", errno.EINVAL, "stat with an argument")
write_fails(fd, b"list a b\n", errno.EINVAL, "list with two prefixes")
write_fails(fd, b"help a b\n", errno.EINVAL, "help with two verbs")
write_fails(fd, b"help frobnicate\n", errno.EINVAL, "help of an unknown verb")
write_fails(fd, b"\n", errno.EINVAL, "an empty line")
write_fails(fd, b"  \t \n", errno.EINVAL, "a blank line")
write_fails(fd, b"json\n", errno.EINVAL, "only json")
write_fails(fd, b"json json stat\n", errno.EINVAL, "json twice")
check("quote" in write_fails(fd, b'locate "w\n', errno.EINVAL, "an unclosed quote"), "quote named")
write_fails(fd, b"st\0at\n", errno.EINVAL, "a NUL in the line")
write_fails(fd, b"stat\r\n", errno.EINVAL, "a CR before the newline")
write_fails(fd, b"stat\x7f\n", errno.EINVAL, "DEL in the line")
write_fails(fd, b"locate \x1b[1mw\n", errno.EINVAL, "an escape sequence")
check("nosuch" in write_fails(fd, b"locate nosuch\n", errno.ENOENT, "locate of a missing name"), "name given")
write_fails(fd, b"locate d1/nosuch\n", errno.ENOENT, "locate of a missing nested name")
write_fails(fd, b"json locate nosuch\n", errno.ENOENT, "json locate of a missing name")
write_fails(fd, b"locate d1\n", errno.EISDIR, "locate of a directory")
write_fails(fd, b"locate w/x\n", errno.ENOTDIR, "locate under a variable")
# after all that the file still works
write_ok(fd, b"locate w\n", "locate w after failures")
check(readall(fd) == loc("w"), "answer of locate w after failures")

# two lines in one write: refused whole, nothing of it runs
check("one command" in write_fails(fd, b"stat\nstat\n", errno.EINVAL, "two lines in one write"),
      "the two-lines sentence")
write_fails(fd, b"locate w\nlocate c1", errno.EINVAL, "a line and a half in one write")
write_fails(fd, b"\n\n", errno.EINVAL, "two newlines in one write")
# ... and a partial line pending before it is dropped too
write_ok(fd, b"locate c", "a partial line")
write_fails(fd, b"1\nx\n", errno.EINVAL, "two lines ending a partial line")
write_ok(fd, b"locate c2\n", "locate c2 after a refused write")
check(readall(fd) == loc("c2"), "answer of locate c2 after a refused write")

# a line split across writes runs once its newline arrives
write_ok(fd, b"loc", "first part")
write_ok(fd, b"ate ", "second part")
write_ok(fd, b"c4", "third part")
write_ok(fd, b"\n", "the newline")
check(readall(fd) == loc("c4"), "a line in four writes")
write_ok(fd, b"locate ", "first part of a failing line")
write_fails(fd, b"nosuch\n", errno.ENOENT, "the rest of a failing line")
# a line without a newline runs at the read (its answer says how it went)
write_ok(fd, b"locate c5", "a line without its newline")
check(readall(fd) == loc("c5"), "a line without a newline runs at the read")
write_ok(fd, b"frobnicate", "a bad line without its newline")
check(sentence(readall(fd)), "a bad line without a newline: its sentence at the read")

# lengths: 65536 bytes run, 65537 are E2BIG (in one write or several), then all is well again
line = b"list" + b" " * (65536 - 5) + b"w"
check(len(line) == 65536, "length of the longest line")
write_ok(fd, line + b"\n", "a line of exactly 65536 bytes")
check(readall(fd) == "w\tvar\t1000\t%s\n" % os.getxattr(os.path.join(vars_, "w"), "user.fabric.type").decode(),
      "answer of the 65536-byte line")
line = b"locate " + b"a" * (65537 - 7)
check("65536" in write_fails(fd, line + b"\n", errno.E2BIG, "a line of 65537 bytes"), "the limit named")
write_ok(fd, line[:30000], "30000 bytes of a long line")
write_ok(fd, line[30000:], "the rest of a long line, without its newline")
write_fails(fd, b"\n", errno.E2BIG, "the newline of a long line given in parts")
write_fails(fd, b"locate " + b"a" * 100000 + b"\n", errno.E2BIG, "a line of 100 kB")
write_ok(fd, b"x" * 70000, "70000 bytes without a newline")
check(sentence(readall(fd)), "an overlong line without a newline: its sentence at the read")
write_ok(fd, b"locate c6\n", "locate c6 after long lines")
check(readall(fd) == loc("c6"), "answer of locate c6 after long lines")

# answers are per open file
fd2 = os.open(ctl, os.O_RDWR)
write_ok(fd, b"locate c0\n", "locate c0 on the first open")
write_ok(fd2, b"locate c7\n", "locate c7 on the second open")
write_fails(fd2, b"locate nosuch\n", errno.ENOENT, "a failure on the second open")
check(readall(fd) == loc("c0"), "the first open still has its own answer")
os.close(fd2)
os.close(fd)

# a line left without its newline runs at close, and close reports its errno
fd = os.open(ctl, os.O_RDWR)
write_ok(fd, b"frobnicate", "a bad line left for the close")
try:
    os.close(fd)
    bad.append("close ran a bad pending line without an error")
except OSError as e:
    check(e.errno == errno.EINVAL, "close of a bad pending line: %s, want EINVAL" % E.get(e.errno))
fd = os.open(ctl, os.O_WRONLY)
write_ok(fd, b"stat", "a good line left for the close")
os.close(fd)
fd = os.open(ctl, os.O_RDONLY)
check(os.read(fd, 100) == b"", "a read-only open reads nothing")
os.close(fd)

for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# ---- concurrent users: 8 processes, 200 commands each, each reading only its own answers ------------

ok "$PY" - "$C" "$V" <<'PY'
import errno, os, signal, sys
ctl, vars_ = sys.argv[1], sys.argv[2]
N, ROUNDS = 8, 200

def readall(fd):
    out = b""
    while True:
        b = os.read(fd, 65536)
        if not b:
            return out.decode()
        out += b

def child(i):
    signal.alarm(120)
    want = os.getxattr(os.path.join(vars_, "c%d" % i), "user.fabric.locations").decode() + "\n"
    fd = os.open(ctl, os.O_RDWR)
    wrong = 0
    for r in range(ROUNDS):
        if r % 10 == 9:  # now and then a failure of our own, and a fresh open
            try:
                os.write(fd, b"locate nosuch%d\n" % i)
                wrong += 1
            except OSError as e:
                wrong += e.errno != errno.ENOENT
            a = readall(fd)
            wrong += ("nosuch%d'" % i) not in a
            os.close(fd)
            fd = os.open(ctl, os.O_RDWR)
            continue
        line = b"locate c%d\n" % i
        n = os.write(fd, line)
        a = readall(fd)
        if n != len(line) or a != want:
            wrong += 1
            if wrong < 5:
                print("process %d round %d: %r, want %r" % (i, r, a, want), file=sys.stderr)
    os.close(fd)
    os._exit(1 if wrong else 0)

pids = []
for i in range(N):
    pid = os.fork()
    if pid == 0:
        try:
            child(i)
        finally:
            os._exit(2)
    pids.append(pid)
failed = 0
for pid in pids:
    _, st = os.waitpid(pid, 0)
    failed += st != 0
if failed:
    print("%d of %d processes read answers that were not theirs (or failed)" % (failed, N), file=sys.stderr)
sys.exit(1 if failed else 0)
PY

# ---- the same verbs through tools/fabric -----------------------------------------------------------

ok "$FAB_TOOL" locate w
eq "$(last_out)" "$(xget "$V/w" user.fabric.locations)" "fabric locate w"
ok "$FAB_TOOL" locate "a b"
eq "$(last_out)" "$(xget "$V/a b" user.fabric.locations)" "fabric locate of a name with a blank"
ok "$FAB_TOOL" locate "a b=c"
eq "$(last_out)" "$(xget "$V/a b=c" user.fabric.locations)" "fabric locate of a name with a blank and a ="
ok "$FAB_TOOL" list d1
eq "$(sort "$T/.last.out")" "$(printf 'd1\tdir\t0\t-\nd1/d2\tdir\t0\t-\nd1/d2/x\tvar\t4097\t-\n')" "fabric list d1"
ok "$FAB_TOOL" list
eq "$(sort "$T/.last.out")" "$(sort <<<"$want")" "fabric list"
ok "$FAB_TOOL" stat
match "$(last_out)" $'^node\t'"$NODE"$'\ncapacity\t67108864\n' "fabric stat"
ok "$FAB_TOOL" help
for u in "help [VERB]" "list [PREFIX]" "locate NAME" "stat"; do
	eq "$(awk -F'\t' -v u="$u" '$1 == u { n++ } END { print n + 0 }' "$T/.last.out")" 1 "fabric help lists \"$u\""
done
ok "$FAB_TOOL" help locate
match "$(last_out)" $'^locate NAME\t' "fabric help locate"
ok "$FAB_TOOL" json stat
ok "$PY" -c 'import json, sys; assert json.loads(sys.argv[1])["capacity"] == 64 << 20' "$(last_out)"
ok "$FAB_TOOL" json locate d1/d2/x
ok "$PY" -c 'import json, sys; assert json.loads(sys.argv[1])[0]["length"] == 4097' "$(last_out)"
ok "$FAB_TOOL" json list d1
ok "$PY" -c 'import json, sys; assert len(json.loads(sys.argv[1])) == 3' "$(last_out)"
fails "nosuch" "$FAB_TOOL" locate nosuch
eq "$(last_out)" "" "a failed fabric locate prints nothing on stdout"
fails "usage: locate NAME" "$FAB_TOOL" locate
fails "usage: stat" "$FAB_TOOL" stat now
FABRIC=$T/nowhere fails "no fabric mounted" "$FAB_TOOL" stat

fab_done
