#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_layers.sh -- tools/layers (make layers) passes on this tree, and fails, naming the file, the line and
# the rule, on a copy of the tree with an include planted in each way the order forbids.  Needs neither
# FUSE nor root.
. "$(dirname "$0")/lib.sh"
cd "$FAB_ROOT" || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/fabric-layers.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

ok tools/layers
match "$(last_out)" "^layers: every include keeps to the order" "the tree itself keeps to its layers"

# plant FILE LINE: a copy of the tree whose FILE has LINE after its first line.
plant() {
	rm -rf "$T/tree"
	mkdir "$T/tree"
	cp -r core meta fs tools "$T/tree/"
	sed -i "1a $2" "$T/tree/$1"
}
plant core/store/store.c '#include "core/ctl/ctl.h"'
fails "" tools/layers "$T/tree"
match "$(last_err)" "core/store/store.c:2: includes core/ctl/ctl.h: core/ctl is above core/store" "an upward include in core"
plant meta/yp.h '#include "core/text/text.h"'
fails "" tools/layers "$T/tree"
match "$(last_err)" "meta/yp.h:2: includes core/text/text.h: core/text is above meta" "meta reaching into core"
plant core/os/shm.c '#include "fs/fs.h"'
fails "" tools/layers "$T/tree"
match "$(last_err)" "core/os/shm.c:2: includes fs/fs.h: fs is above core/os" "core reaching into fs"
plant tools/fabric_map.c '#include "fs/fs.h"'
fails "" tools/layers "$T/tree"
match "$(last_err)" "tools/fabric_map.c:2: includes fs/fs.h: fs and tools are siblings" "tools reaching into fs"
plant core/text/size.c '#include <sqlite3.h>'
fails "" tools/layers "$T/tree"
match "$(last_err)" "core/text/size.c:2: includes <sqlite3.h>: only meta/ may" "SQLite outside meta"
plant core/store/store.c '#include <fuse_lowlevel.h>'
fails "" tools/layers "$T/tree"
match "$(last_err)" "core/store/store.c:2: includes <fuse_lowlevel.h>: only fs/ may" "FUSE outside fs"
plant core/task/task.c '#  include   <liburing.h>'
fails "" tools/layers "$T/tree"
match "$(last_err)" "core/task/task.c:2: includes <liburing.h>: only core/os/ may" "io_uring outside core/os"
# A downward include and one inside a room stay allowed.
plant core/ctl/ctl.c '#include "core/os/shm.h"'
ok tools/layers "$T/tree"

if [ "$FAB_FAILS" -ne 0 ]; then
	echo "$FAB_FAILS assertion(s) failed" >&2
	exit 1
fi
