# fabric: shared memory as a filesystem.  One plain Makefile, no configure step.
#   make            build the daemon (fs/fabricd) and the test programs
#   make deps       apt-install the Debian packages the build, tests and mount need (when missing)
#   make mount      build and mount a fabric at $(MOUNTPOINT) on the embedded default
#   make install    install under $(PREFIX) (default /usr/local), staged under $(DESTDIR) when given;
#                   make uninstall removes exactly what it installed (README "Install")
#   make man        the man pages fabric(1) and fabricd(8), from the README's tables (tools/man/mkman)
#   make test       build, check the layers and run the whole suite (tests/run.sh)
#   make layers     check that every #include keeps to the layer order in tools/layers
#   make sanitize   the same suite on an ASan+UBSan build
#   make clean
PKGS     = fuse3 sqlite3 liburing libxxhash libcurl jansson libcrypto
MOUNTPOINT ?= /fabric

CC      ?= cc
CFLAGS  += -std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -Werror -I. \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
ifdef SAN
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# core/ is a stack of rooms, bottom-up (each may use the ones before it; see `make layers`):
#   text/  values parsed and printed, no I/O      os/    the kernel and C libraries: shm, xxHash, io_uring, /proc, launch
#   event/ the event stream: a bounded ring read by cursors
#   store/ one node's objects, blocks and slabs    bulk/  load, checkpoint, restore
#   cluster/ several nodes: membership on etcd     task/  tasks, the runner, placement
#   dataset/ keyed datasets: their trees        ctl/   the control file's language and verbs
TEXT_OBJS  = core/text/text.o core/text/dtype.o core/text/names.o core/text/size.o core/text/scope.o
EVENT_OBJS = core/event/events.o
OS_OBJS    = core/os/shm.o core/os/hash.o core/os/uring_copy.o core/os/uring_direct.o core/os/proc.o core/os/launch.o \
             core/os/etcd.o core/os/etcd_kv.o core/os/etcd_watch.o
STORE_OBJS = core/store/alloc.o core/store/slab.o core/store/ns.o core/store/store_obj.o core/store/store_alias.o core/store/store.o \
             core/store/store_open.o core/store/store_bytes.o core/store/store_seal.o core/store/store_sealer.o core/store/store_put.o core/store/store_defrag.o \
             core/store/store_xattr.o core/store/store_life.o core/store/recover.o core/store/store_blocks.o \
             core/store/store_mutable.o core/store/store_reserve.o core/store/store_dataset.o core/store/store_events.o core/store/path.o
BULK_OBJS  = core/bulk/load.o core/bulk/load_many.o core/bulk/load_ahead.o core/bulk/load_tree.o core/bulk/load_tar.o core/bulk/load_tsv.o core/bulk/tar.o \
             core/bulk/load_manifest.o core/bulk/checkpoint.o
TASK_OBJS  = core/task/place.o core/task/task.o core/task/task_spawn.o core/task/task_place.o core/task/task_rows.o \
             core/task/task_end.o core/task/task_resume.o core/task/task_run.o core/task/task_text.o core/task/task_net.o \
             core/task/task_handover.o core/task/task_wire.o
DATASET_OBJS = core/dataset/dstree.o core/dataset/dataset.o
CTL_OBJS   = core/ctl/ctl.o core/ctl/ctl_parse.o core/ctl/ctl_answer.o core/ctl/ctl_store.o core/ctl/ctl_bulk.o core/ctl/ctl_task.o core/ctl/ctl_dataset.o core/ctl/ctl_cluster.o
CLUSTER_OBJS = core/cluster/cluster.o core/cluster/catalog.o core/cluster/remote.o core/cluster/transfer.o core/cluster/move.o core/cluster/tree.o core/cluster/shard.o core/cluster/busy.o
CORE_OBJS  = $(TEXT_OBJS) $(OS_OBJS) $(EVENT_OBJS) $(STORE_OBJS) $(BULK_OBJS) $(CLUSTER_OBJS) $(TASK_OBJS) $(DATASET_OBJS) $(CTL_OBJS)
CORE_HDRS  = $(wildcard core/*/*.h)
META_OBJS = meta/yp.o meta/yp_objects.o meta/yp_tasks.o meta/yp_wal.o meta/yp_remote.o meta/yp_moves.o meta/yp_datasets.o
FS_OBJS   = fs/main.o fs/mount.o fs/passthrough.o fs/kind.o fs/ops_dir.o fs/ops_file.o fs/ops_xattr.o fs/ops_ctl.o fs/ops_virtual.o fs/ops_peers.o fs/ops_remote.o fs/ops_shards.o fs/ops_task.o fs/ops_dataset.o fs/ops_outgoing.o fs/ops_rtree.o fs/ops_events.o fs/pollset.o fs/notify.o

TESTS     = tests/test_dtype tests/test_alloc tests/test_names tests/test_size tests/test_yp tests/test_store tests/test_slab tests/test_ctl tests/test_scope tests/test_place tests/test_launch tests/test_etcd tests/test_dstree

TOOLS     = tools/libfabric.a tools/fabric-peek tools/fabric-wait

all: fs/fabricd $(TOOLS) $(TESTS)

core/libcore.a: $(CORE_OBJS)
	rm -f $@; $(AR) rcs $@ $^
meta/libmeta.a: $(META_OBJS)
	rm -f $@; $(AR) rcs $@ $^

fs/fabricd: $(FS_OBJS) core/libcore.a meta/libmeta.a
	$(CC) $(LDFLAGS) -o $@ $(FS_OBJS) core/libcore.a meta/libmeta.a $(LDLIBS)

# get_ptr for programs: tools/fabric.h + tools/libfabric.a (libc only), and its C example.
tools/libfabric.a: tools/fabric_map.o
	rm -f $@; $(AR) rcs $@ $^
tools/fabric_map.o: tools/fabric_map.c tools/fabric.h
	$(CC) $(CFLAGS) -c -o $@ $<
tools/fabric-wait: tools/fabric_wait.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
tools/fabric-peek: tools/fabric_peek.c tools/fabric.h tools/libfabric.a core/libcore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tools/libfabric.a core/libcore.a $(LDLIBS)

tests/test_%: tests/test_%.c tests/check.h tests/fixture.h tests/json_check.h tests/store_helpers.h core/libcore.a meta/libmeta.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< core/libcore.a meta/libmeta.a $(LDLIBS)

core/%.o: core/%.c $(CORE_HDRS) meta/*.h
	$(CC) $(CFLAGS) -c -o $@ $<
meta/%.o: meta/%.c meta/*.h
	$(CC) $(CFLAGS) -c -o $@ $<
fs/%.o: fs/%.c fs/*.h $(CORE_HDRS) meta/*.h
	$(CC) $(CFLAGS) -c -o $@ $<

# Debian packages: build (-dev, pkg-config), mount (fuse3), tests (attr, sqlite3, numpy, psmisc; etcd for
# tests/test_etcd, which starts its own server on free loopback ports; tmux for tests/t_top.sh's terminal),
# the man pages (go-md2man renders them, man-db's man reads them in tests/t_install.sh).
DEB_PKGS = build-essential pkg-config fuse3 libfuse3-dev libsqlite3-dev sqlite3 liburing-dev \
           libxxhash-dev xxhash attr python3 python3-numpy util-linux procps rsync tar strace \
           etcd-server etcd-client libcurl4-openssl-dev libjansson-dev tmux go-md2man man-db
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing $$missing"; \
	    if [ "$$(id -u)" != 0 ]; then echo "deps: need root to install: $$missing" >&2; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@# etcd-server enables its own etcd.service on 2379 where systemd runs; the fabric starts its own etcd
	@if command -v systemctl >/dev/null 2>&1 && { systemctl -q is-enabled etcd 2>/dev/null || \
	    systemctl -q is-active etcd 2>/dev/null; }; then \
	    echo "deps: disabling the packaged etcd.service"; systemctl disable --now etcd || true; fi

mount: deps all
	tools/fabric mount $(MOUNTPOINT)

umount:
	tools/fabric umount $(MOUNTPOINT)

# The man pages: tools/man/*.md templates with the README's marked tables spliced in, rendered by go-md2man.
MAN_PAGES = tools/man/fabric.1 tools/man/fabricd.8
man: $(MAN_PAGES)
$(MAN_PAGES) &: tools/man/mkman README.md $(MAN_PAGES:=.md)
	tools/man/mkman README.md tools/man $(MAN_PAGES:=.md)

# make install: the daemon in sbin (it is an administrator's command, fabricd(8), that fabric mount runs by
# its path; it needs no PATH), the helpers that only fabric runs in libexec/fabric, the python module where
# Debian's python3 looks for PREFIX.  The installed fabric and fabric-cluster find the rest relative to
# their own place (layout=installed), so a DESTDIR copy works as it is.  Only PREFIX and DESTDIR are meant
# to be changed: the layout under PREFIX is what fabric expects.
PREFIX   ?= /usr/local
BINDIR    = $(PREFIX)/bin
SBINDIR   = $(PREFIX)/sbin
HELPERDIR = $(PREFIX)/libexec/fabric
INCDIR    = $(PREFIX)/include
LIBDIR    = $(PREFIX)/lib
MANDIR    = $(PREFIX)/share/man
UNITDIR   = $(PREFIX)/lib/systemd/system
PYTHON3  ?= /usr/bin/python3
ifeq ($(PREFIX),/usr)
PYDIR     = $(PREFIX)/lib/python3/dist-packages
else
PYDIR     = $(PREFIX)/lib/python$(shell $(PYTHON3) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages
endif
INSTALLED = $(BINDIR)/fabric $(BINDIR)/fabric-peek $(SBINDIR)/fabricd $(HELPERDIR)/fabric-wait \
            $(HELPERDIR)/fabric-cluster $(HELPERDIR)/fabric_top.py $(INCDIR)/fabric.h $(LIBDIR)/libfabric.a $(PYDIR)/fabric.py \
            $(MANDIR)/man1/fabric.1 $(MANDIR)/man8/fabricd.8 $(UNITDIR)/fabric@.service

install: fs/fabricd $(TOOLS) man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(HELPERDIR) $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PYDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	@# the scripts, told they are installed (and checked: a renamed layout line must not go unnoticed)
	for f in tools/fabric:$(BINDIR)/fabric tools/fabric-cluster:$(HELPERDIR)/fabric-cluster; do \
	    sed -e 's/^layout=checkout$$/layout=installed/' -e 's|@PYREL@|$(PYDIR:$(PREFIX)/%=%)|' \
	        $${f%%:*} >$(DESTDIR)$${f#*:}.tmp && \
	    grep -q '^layout=installed$$' $(DESTDIR)$${f#*:}.tmp && chmod 755 $(DESTDIR)$${f#*:}.tmp && \
	    mv $(DESTDIR)$${f#*:}.tmp $(DESTDIR)$${f#*:} || exit 1; \
	done
	install -m 755 tools/fabric-peek $(DESTDIR)$(BINDIR)/fabric-peek
	install -m 755 fs/fabricd $(DESTDIR)$(SBINDIR)/fabricd
	install -m 755 tools/fabric-wait $(DESTDIR)$(HELPERDIR)/fabric-wait
	install -m 644 tools/fabric.h $(DESTDIR)$(INCDIR)/fabric.h
	install -m 644 tools/libfabric.a $(DESTDIR)$(LIBDIR)/libfabric.a
	install -m 644 tools/fabric.py $(DESTDIR)$(PYDIR)/fabric.py
	install -m 644 tools/fabric_top.py $(DESTDIR)$(HELPERDIR)/fabric_top.py
	install -m 644 tools/man/fabric.1 $(DESTDIR)$(MANDIR)/man1/fabric.1
	install -m 644 tools/man/fabricd.8 $(DESTDIR)$(MANDIR)/man8/fabricd.8
	sed 's|@BINDIR@|$(BINDIR)|g' tools/systemd/fabric@.service >$(DESTDIR)$(UNITDIR)/fabric@.service
	chmod 644 $(DESTDIR)$(UNITDIR)/fabric@.service

# The python module's byte code is python's doing, but ours to remove; libexec/fabric is our own directory.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED)) $(DESTDIR)$(PYDIR)/__pycache__/fabric.*.pyc \
	    $(DESTDIR)$(HELPERDIR)/__pycache__/fabric_top.*.pyc
	rmdir $(DESTDIR)$(HELPERDIR)/__pycache__ 2>/dev/null || true
	rmdir $(DESTDIR)$(HELPERDIR) 2>/dev/null || true

test: deps all layers
	tests/run.sh

# make layers: every #include keeps to the layer order written in tools/layers (fs/ alone includes FUSE,
# meta/ alone SQLite; core/'s rooms bottom-up text, os, store, bulk, cluster, task, ctl).
layers:
	@tools/layers

sanitize: deps
	$(MAKE) clean
	$(MAKE) SAN=1 all
	FABRIC_SANITIZE=1 tests/run.sh

clean:
	rm -f core/*/*.o core/*.a meta/*.o meta/*.a fs/*.o fs/fabricd tools/*.o $(TOOLS) $(TESTS) $(MAN_PAGES) \
	      tests/fuzz_ctl tests/bench/fabench tests/bench/floorfs

# make fuzz: libFuzzer (clang, with ASan+UBSan) on the control-line parser and the read-only verbs
# (tests/fuzz_ctl.c) for FUZZ_SECONDS (default 60), from the seeds in tests/fuzz/ctl/.  New inputs go to a
# temp dir, not to the seeds; a crashing input is kept there (its path is printed).  Replay one with
# tests/fuzz_ctl FILE.
FUZZ_SECONDS  ?= 60
FUZZ_DEB_PKGS  = clang libclang-rt-14-dev
FUZZ_PKGS      = sqlite3 libxxhash liburing libcurl jansson libcrypto
fuzz:
	@missing=$$(for p in $(FUZZ_DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "fuzz: installing $$missing"; \
	    if [ "$$(id -u)" != 0 ]; then echo "fuzz: need root to install: $$missing" >&2; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	$(MAKE) tests/fuzz_ctl
	@work=$$(mktemp -d "$${TMPDIR:-/tmp}/fabric-fuzz.XXXXXX") || exit 1; \
	tests/fuzz_ctl -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$$work/" "$$work" tests/fuzz/ctl; rc=$$?; \
	if [ $$rc -eq 0 ]; then rm -rf "$$work"; echo "fuzz: no failure in $(FUZZ_SECONDS) s"; \
	else echo "fuzz: FAILED (exit $$rc); the input is kept in $$work" >&2; fi; exit $$rc

tests/fuzz_ctl: tests/fuzz_ctl.c $(CORE_OBJS:.o=.c) $(CORE_HDRS) $(META_OBJS:.o=.c) meta/*.h
	clang -std=c11 -D_GNU_SOURCE -g -O1 -I. -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ \
	    tests/fuzz_ctl.c $(CORE_OBJS:.o=.c) $(META_OBJS:.o=.c) $$(pkg-config --cflags --libs $(FUZZ_PKGS)) -lpthread

# make bench: the fabric beside tmpfs, /dev/shm and a FUSE filesystem that only answers (tests/bench/floorfs,
# the floor of the small-file case) in one run, as ratios (tests/bench/run.sh; sizes from BENCH_ROUNDS,
# BENCH_BIG, BENCH_CKPT, BENCH_SMALL_N, BENCH_STAT_N).  Prints the table, writes tests/bench/last.md.
bench: all tests/bench/fabench tests/bench/floorfs
	tests/bench/run.sh

tests/bench/fabench: tests/bench/fabench.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
# the floor of the small-file case: a FUSE filesystem that only answers (libfuse alone)
tests/bench/floorfs: tests/bench/floorfs.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs fuse3 2>/dev/null)

.PHONY: all deps mount umount man install uninstall test layers sanitize clean fuzz bench
