#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_nodes.sh -- /fabric/nodes/NODE/stat: the node's `stat` answer as a file, read-only, in a namespace
# where nothing can be made, removed or renamed.
. "$(dirname "$0")/lib.sh"
fab_setup
fab_mount --capacity 64M
export FABRIC=$MNT
for i in 1 2 3; do mkdata "$MNT/vars/s$i" 5000; done

eq "$(ls "$MNT/nodes")" "$NODE" "nodes/ lists this node"
eq "$(ls "$MNT/nodes/$NODE")" stat "nodes/NODE/ holds stat"
ok "$FAB_TOOL" stat
eq "$(cat "$MNT/nodes/$NODE/stat")" "$(last_out)" "nodes/NODE/stat and fabric stat"
match "$(cat "$MNT/nodes/$NODE/stat")" $'capacity\t67108864\n' "capacity in nodes/NODE/stat"
fails "Operation not permitted" touch "$MNT/nodes/x"
fails "Operation not permitted" mkdir "$MNT/nodes/$NODE/y"
fails "Operation not permitted" rm "$MNT/nodes/$NODE/stat"
fails "Operation not permitted" mv "$MNT/nodes/$NODE" "$MNT/nodes/other"
fails "Permission denied" sh -c "echo x > '$MNT/nodes/$NODE/stat'"
fails "No such file or directory" ls "$MNT/nodes/not-this-node"
fab_done
