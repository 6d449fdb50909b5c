#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_xattr.sh -- the user.fabric.* xattrs: the read-only ones (xxh3, node, locations, scope, state, kind)
# and what they say, type (datashape, canonical form, must fit a sealed variable), doc (<= 4096 bytes),
# refs (names, canonical, kept across a restart).
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount

V=$MNT/vars
mkdata "$T/w" 6400 # 40 * 20 * float64
ok cp "$T/w" "$V/w"
f=$V/w
wait_for xattr_is "$f" user.fabric.state sealed # close(2) returns before the kernel's RELEASE seals it

# The listing: every read-only attribute, and no type or doc before they are set.
ok getfattr -d -m user.fabric --absolute-names "$f"
names=$(last_out | sed -n 's/^\(user\.fabric\.[a-z0-9_]*\)=.*/\1/p' | sort | tr '\n' ' ')
for a in kind locations node scope state xxh3; do
	[[ " $names " == *" user.fabric.$a "* ]] || bad "getfattr -d -m user.fabric does not list user.fabric.$a (got: $names)"
done
[[ " $names " == *" user.fabric.type "* ]] && bad "user.fabric.type listed before it was set"

# The values.
eq "$(xget "$f" user.fabric.kind)" var "kind"
eq "$(xget "$f" user.fabric.node)" "$NODE" "node"
eq "$(xget "$f" user.fabric.scope)" any "scope"
eq "$(xget "$f" user.fabric.state)" sealed "state after cp"
x=$(xget "$f" user.fabric.xxh3)
eq "$x" "$(xxh128 "$T/w")" "xxh3 against xxh128sum"
match "$x" '^[0-9a-f]{32}$' "xxh3 is 32 lowercase hex digits"
eq "$(xget "$f" user.fabric.xxh3 | wc -c)" 32 "xxh3 value length in bytes (no newline or NUL)"

# locations: one line "NODE SHMNAME OFFSET LENGTH"; /dev/shm/SHMNAME holds the bytes there.
check_locations() { # FILE SRC WHAT
	local loc node shm off len extra
	loc=$(xget "$1" user.fabric.locations)
	eq "$(printf '%s\n' "$loc" | wc -l)" 1 "$3: locations is one line"
	read -r node shm off len extra <<<"$loc"
	eq "$node" "$NODE" "$3: locations node"
	match "$shm" "^fabric\.$NODE\.[0-9a-f]+\.[0-9]+\$" "$3: locations shm name"
	eq "$off" 0 "$3: locations offset of a variable"
	eq "$len" "$(fsize "$2")" "$3: locations length"
	eq "$extra" "" "$3: nothing after LENGTH"
	[ -f "/dev/shm/$shm" ] || { bad "$3: /dev/shm/$shm does not exist"; return; }
	"$PY" -c 'import sys
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2])); sys.stdout.buffer.write(f.read(int(sys.argv[3])))' \
		"/dev/shm/$shm" "$off" "$len" >"$T/fromshm" || bad "$3: reading /dev/shm/$shm"
	same "$T/fromshm" "$2" "$3: bytes at the location in /dev/shm/$shm"
}
check_locations "$f" "$T/w" "w"
mkdata "$T/big" 3000001
ok cp "$T/big" "$V/big"
check_locations "$V/big" "$T/big" "big"
eq "$(xget "$V/big" user.fabric.xxh3)" "$(xxh128 "$T/big")" "xxh3 of a 3 MB variable"

# type: unset, then set (non-canonical spelling), shown canonical; aliases, malformed, wrong size.
fails "No such attribute" getfattr -n user.fabric.type "$f"
ok setfattr -n user.fabric.type -v '40*20*float64' "$f"
eq "$(xget "$f" user.fabric.type)" "40 * 20 * float64" "type shown in canonical form"
ok getfattr -d -m user.fabric --absolute-names "$f"
last_out | grep -qx 'user.fabric.type="40 \* 20 \* float64"' || bad "getfattr -d does not list the type: $(last_out)"
ok setfattr -n user.fabric.type -v '1600 *   float32' "$f"
eq "$(xget "$f" user.fabric.type)" "1600 * float32" "type set again, other shape"
ok setfattr -n user.fabric.type -v '10*20 *4*  float64' "$f"
eq "$(xget "$f" user.fabric.type)" "10 * 20 * 4 * float64" "a 3-d type shown canonical"
ok setfattr -n user.fabric.type -v '40 * 20 * float64' "$f"
for t in '40 * * float64' '40 * 20 * flaot64' '* float64' '-5 * float64' '40 x 20 x float64' '40 * 20 *'; do
	fails "Invalid argument" setfattr -n user.fabric.type -v "$t" "$f"
done
eq "$(xget "$f" user.fabric.type)" "40 * 20 * float64" "type unchanged after malformed values"
fails "Invalid argument" setfattr -n user.fabric.type -v '10 * float64' "$f"     # 80 bytes, not 6400
fails "Invalid argument" setfattr -n user.fabric.type -v '40 * 20 * float32' "$f" # 3200 bytes
fails "Invalid argument" setfattr -n user.fabric.type -v '801 * float64' "$f"
eq "$(xget "$f" user.fabric.type)" "40 * 20 * float64" "type unchanged after a size mismatch"
printf 12345678 >"$T/eight"
ok cp "$T/eight" "$V/scalar"
ok setfattr -n user.fabric.type -v int64 "$V/scalar"
eq "$(xget "$V/scalar" user.fabric.type)" int64 "a scalar type"
fails "Invalid argument" setfattr -n user.fabric.type -v int32 "$V/scalar"

# doc: free text up to 4096 bytes.
ok setfattr -n user.fabric.doc -v "weights of layer 3, run 12" "$f"
eq "$(xget "$f" user.fabric.doc)" "weights of layer 3, run 12" "doc"
long=$(head -c 4096 /dev/zero | tr '\0' d)
ok setfattr -n user.fabric.doc -v "$long" "$f"
eq "$(xget "$f" user.fabric.doc)" "$long" "a doc of 4096 bytes"
fails "Argument list too long" setfattr -n user.fabric.doc -v "${long}e" "$f"
eq "$(xget "$f" user.fabric.doc)" "$long" "doc unchanged after a too long one"
ok setfattr -n user.fabric.doc -v "short again" "$f"
eq "$(xget "$f" user.fabric.doc)" "short again" "doc replaced"

# refs: the names (paths under vars/) a variable refers to, kept one space apart; `move recursive`
# follows them.  Names only: a referent need not exist.  Malformed names are refused and change nothing.
fails "No such attribute" getfattr -n user.fabric.refs "$f"
ok setfattr -n user.fabric.refs -v $'big  run1/w\nlater' "$f"
eq "$(xget "$f" user.fabric.refs)" "big run1/w later" "refs kept one space apart"
ok getfattr -d -m user.fabric --absolute-names "$f"
last_out | grep -qx 'user.fabric.refs="big run1/w later"' || bad "getfattr -d does not list refs: $(last_out)"
for r in 'a//b' '../x' 'a/' 'x/./y'; do
	fails "Invalid argument" setfattr -n user.fabric.refs -v "$r" "$f"
done
fails "File name too long" setfattr -n user.fabric.refs -v "$(head -c 256 /dev/zero | tr '\0' n)" "$f"
eq "$(xget "$f" user.fabric.refs)" "big run1/w later" "refs unchanged after malformed ones"
ok setfattr -n user.fabric.refs -v "big" "$V/big"
ok setfattr -x user.fabric.refs "$V/big"
fails "No such attribute" getfattr -n user.fabric.refs "$V/big"
fails "No such attribute" setfattr -x user.fabric.refs "$V/big"

# The read-only attributes refuse to be set, even by root, and keep their values.  (scope is settable:
# t_scope.sh; a malformed one is refused and changes nothing.)
fails "Invalid argument" setfattr -n user.fabric.scope -v 0123456789abcdef0123456789abcdef "$f"
eq "$(xget "$f" user.fabric.scope)" any "scope unchanged after a malformed one"
for a in xxh3 node locations state kind; do
	before=$(xget "$f" "user.fabric.$a")
	fails "Operation not permitted" setfattr -n "user.fabric.$a" -v 0123456789abcdef0123456789abcdef "$f"
	eq "$(xget "$f" "user.fabric.$a")" "$before" "$a unchanged after a refused set"
done
# Sealed contents are unchanged by all of this.
same "$f" "$T/w" "w after the xattr changes"
# refs are in the yellow pages: a new daemon has them
ok fab_umount
fab_mount
eq "$(xget "$f" user.fabric.refs)" "big run1/w later" "refs after a remount"
eq "$(sqlite3 -readonly "$ST/yp.db" "select refs from objects where name = 'w'")" "big run1/w later" "refs in the YP"

# While a variable is written: state writing, no xxh3, a type may be set before the size is final;
# after the last close: sealed with its xxh3, the type kept.
mkfifo "$T/go"
(
	exec 3>"$V/p"
	printf abc >&3
	read -r _ <"$T/go"
	printf def >&3
) &
writer=$!
wait_for xattr_is "$V/p" user.fabric.state writing
fails "No such attribute" getfattr -n user.fabric.xxh3 "$V/p"
ok setfattr -n user.fabric.type -v "6*uint8" "$V/p" # 3 bytes written so far
echo go >"$T/go"
wait_exit $writer "the writer of p"
wait_for xattr_is "$V/p" user.fabric.state sealed
printf abcdef >"$T/abcdef"
same "$V/p" "$T/abcdef" "contents of p"
eq "$(xget "$V/p" user.fabric.xxh3)" "$(xxh128 "$T/abcdef")" "xxh3 once sealed"
eq "$(xget "$V/p" user.fabric.type)" "6 * uint8" "a type set while writing, after the seal"


# Names outside user.* are not kept: ENOTSUP (not ENODATA), so ls -l asks once per listing, not per name.
fails "Operation not supported" getfattr -n security.selinux "$V/p"
fails "Operation not supported" getfattr -n system.posix_acl_access "$V/p"
fails "No such attribute" getfattr -n user.fabric.nothing "$V/p"
ok mkdir "$V/many"
for i in $(seq 1 200); do : >"$V/many/f$i"; done
if command -v strace >/dev/null; then
	ok strace -f -c -o "$T/ls.strace" -e trace=lgetxattr,getxattr,llistxattr ls -l "$V/many"
	n=$(awk '$NF == "total" { print $4 }' "$T/ls.strace")
	[ -n "$n" ] && [ "$n" -le 4 ] || bad "ls -l of 200 names made $n xattr calls, want at most 4: $(cat "$T/ls.strace")"
fi

fab_done
