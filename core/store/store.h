/* SPDX-License-Identifier: MIT */
/* store.h -- one node's object store: the namespace, write-once variables in shm, and their yellow pages.
 *
 * The room core/store/ holds, file by file (storeInt.h says what the files share, and how they call each
 * other):
 *   names and attributes: lookup, mkdir, unlink, rename, setattr, statfs...   store.c (in memory: ns.c)
 *   opens, and the opens that wait for a variable being written; handles      store_open.c
 *   bytes through a handle: read, write, truncate                             store_bytes.c
 *   the seal: flush, release, the xxh3, packing small variables into slabs    store_seal.c
 *   slabs, and their defragmentation                                          slab.h, store_defrag.c
 *   blocks and capacity: stats, allocate, deallocate                          store_blocks.c, alloc.h
 *   extended attributes user.fabric.* (type, doc, scope, xxh3, locations...)  store_xattr.c
 *   mutable objects and shards                                                store_mutable.c
 *   a state dir opened and closed; crash recovery at every start              store_life.c, recover.c
 *   paths under vars/ ("run1/w") to ids                                       path.h
 *   names reserved for an owner (a task's outputs)                            store_reserve.c
 *
 * This is the library the daemon's FUSE layer (fs/) drives, and that tests and tools can drive directly:
 * it knows nothing of FUSE.  Objects are named by 64-bit ids, which are their YP row ids and, in fs/,
 * their inode numbers; STORE_ROOT_ID is the mount root and STORE_VARS_ID is vars/.
 *
 * Lifecycle of a variable:  writing --(last writer's release)--> sealed --(unlink, last close)--> gone.
 * A variable is written into a shm block of its own; at seal a small one (under STORE_SLAB_THRESHOLD)
 * is moved into a slab block shared with other small ones, when nothing else has it open.
 * A variable being written is a future: an open by any process other than its writers waits (see
 * store_open) until it is sealed, or fails when it is dropped.  A writer that hits ENOSPC, or whose last
 * close is its process dying of a signal or exiting non-zero, gets its variable dropped, never sealed.
 *
 * References: the caller (the kernel, through fs/) holds lookup references, counted by every call that
 * returns attributes "for an entry" (lookup, create, mkdir, dir_entry with lookup) and given back with
 * store_forget.  An id stays valid while it has lookup references or open handles, even after unlink.
 *
 * Errors: every int function returns 0 (or a byte count where said) or a negative errno.  Threads: all
 * functions may be called concurrently; the store serialises what must be. */
#ifndef FABRIC_CORE_STORE_H
#define FABRIC_CORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/os/shm.h"

#define STORE_ROOT_ID 1
#define STORE_VARS_ID 2
#define STORE_WAITING 1 /* store_open: the answer comes later, through the waiter callback */
#define STORE_DOC_MAX 4096

/* Variables smaller than this are moved at seal from their own shm block into a shared slab block
 * (core/store/slab.h); larger ones keep their own block, whose byte 0 is the variable's byte 0 (FUSE
 * passthrough, zero-copy mmap).  Measured on this 2-CPU VM (kernel 6.18, YP on ext4):
 *   - what a block of its own costs, whatever the size: 0.85-0.93 KB of unreclaimable kernel memory
 *     (shmem inode + dentry), a file in /dev/shm, one daemon fd for as long as it is open (1500 open
 *     variables: 1500 fds vs 0), and ~4 us at every start (20000 x 4 KiB: 111 vs 30 ms clean, 309 vs
 *     218 ms after a crash, when every xxh3 is taken);
 *   - what packing costs, per seal in the store (medians, alternating): +30 us up to 4 KiB (a read-only
 *     open, the lease probe, an extra unlink, one more YP row), +42 at 16 KiB, +64 at 64 KiB, +115 at
 *     128 KiB, +196 at 256 KiB, +560 at 1 MiB (the copy into fresh slab pages, ~2.3 GB/s);
 *   - through the mount (create, write, close, reopen once sealed; p50 of 1500 files): the same
 *     430-660 us packed or not up to 64 KiB, but +50% at 128 KiB and +75% at 1 MiB; the first read of a
 *     packed variable goes through the daemon instead of passthrough: 64 KiB 88-114 vs 68-83 us,
 *     128 KiB 149-210 vs 62, 1 MiB 646-802 vs 230-264 (several READ requests); cached rereads equal.
 * Below 64 KiB packing stays within the noise of a create and one READ request, while a block of its
 * own would cost >= 1.4% of the bytes in kernel memory, an fd per reader and start-up time; from 128 KiB
 * up, the copy and the lost passthrough (and zero-copy mmap) cost more than a block saves. */
#define STORE_SLAB_THRESHOLD (64u << 10)

struct store;
struct store_handle;

struct store_config {
	const char *state_dir; /* holds yp.db; must exist */
	const char *node;      /* node name; NULL: the one the state dir has, else names_default_node() */
	uint64_t capacity;     /* 0: the state dir's, else half of /dev/shm */
	/* Log sink for events nobody asked about (drops, recovery); NULL: stderr. */
	void (*log)(const char *msg);
	/* Keep every variable in a block of its own, never packing small ones into slabs (tests of dedicated
	 * blocks, measurements).  Packed variables already there stay packed. */
	bool no_slabs;
	/* Called during store_init for each sealed variable found lost (its shm is gone or changed, as after
	 * a reboot), with its path under vars/, so the caller can restore it; may be NULL. */
	void (*lost)(void *arg, const char *path);
	void *lost_arg;
	/* Called, with the store's lock held, whenever a name appears in or leaves directory `parent`, so
	 * the caller can tell a cache (the kernel's) about changes it did not make itself.  Not called for
	 * a directory other than the root that the kernel holds no lookup of (store_forget gave every one
	 * back): the kernel then has no names under it cached.  It must not call back into the store; may be
	 * NULL. */
	void (*name_changed)(void *arg, uint64_t parent, const char *name);
	void *name_changed_arg;
	size_t events_keep; /* the event stream's bound (core/event/events.h); 0: EVENTS_KEEP */
};

struct store_attr {
	uint64_t id;
	bool dir;
	bool sealed;   /* for variables: sealed (read-only) vs writing; a mutable object counts as sealed */
	bool mut;      /* a mutable object: written in place, never sealed, its size fixed */
	bool link;     /* a symbolic link (sealed too: it never changes); size is its target's length */
	uint32_t mode; /* with the file type bits; a sealed variable has no write bits */
	uint32_t uid, gid, nlink;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;
};

/* Attribute changes for store_setattr; a field is used when its flag is in `set`. */
enum {
	STORE_SET_MODE = 1,
	STORE_SET_UID = 2,
	STORE_SET_GID = 4,
	STORE_SET_SIZE = 8,
	STORE_SET_MTIME = 16,
};
struct store_setattr {
	unsigned set;
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime_ns;
	pid_t pid; /* the thread asking (0: unknown): a reserved variable changes size only for its owner */
};

/* Open a state dir: open/create the YP, recover from any crash (drop half-written objects, remove orphan
 * blocks, verify sealed ones), load the namespace.  On failure msg gets one sentence for the user. */
int store_init(const struct store_config *cfg, struct store **out, char *msg, size_t msglen);
/* Record a clean shutdown and free everything; open handles are abandoned (their variables are
 * dropped at the next start).  NULL is fine. */
void store_destroy(struct store *st);
/* The store's event stream (core/event/events.h): names made and removed, seals, renames; the cluster
 * and the task runner post theirs to it too.  NULL when it could not be made (no events then). */
struct events *store_events(struct store *st);
const char *store_node_name(const struct store *st);
/* The prefix of this node's shm objects ("fabric.NODE.INST."): an object named with it that the YP does
 * not know is removed at the next start (a replica of another node's variable, say). */
const char *store_shm_prefix(const struct store *st);

/* Names.  parent and the result are ids; *out is filled and counts one lookup reference. */
int store_lookup(struct store *st, uint64_t parent, const char *name, struct store_attr *out);
int store_getattr(struct store *st, uint64_t id, struct store_attr *out);
/* The object that id's name stands for: a hard link's (an alias row's id: its object's, the one every
 * lookup answers with), else id itself; 0 for no such id.  Another node knows each name by its row's id. */
uint64_t store_object_of(struct store *st, uint64_t id);
void store_forget(struct store *st, uint64_t id, uint64_t nlookup);
int store_mkdir(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		uint32_t gid, struct store_attr *out);
int store_rmdir(struct store *st, uint64_t parent, const char *name);
/* A symbolic link `name` in parent to target, owned by uid and gid, committed when this returns.  target
 * is kept as given, never followed by the store: -ENOENT when empty (as Linux), -ENAMETOOLONG when it
 * holds STORE_LINK_MAX bytes or more (PATH_MAX with its NUL).  store_readlink copies the target, without
 * a NUL, into buf and returns its length (-EINVAL: id is no link, -ERANGE: buf is too small). */
#define STORE_LINK_MAX 4096
int store_symlink(struct store *st, uint64_t parent, const char *name, const char *target, uint32_t uid,
		  uint32_t gid, struct store_attr *out);
ssize_t store_readlink(struct store *st, uint64_t id, char *buf, size_t size);
/* A hard link: newname in newparent becomes a second name of object id (a variable, mutable object or
 * symbolic link), committed when this returns; *out is id's attributes, st_nlink counting every name, and
 * counts one lookup reference.  -EPERM for a directory (POSIX) and under shards/, -EBUSY for a name
 * reserved for an owner, -ENOENT when id has no name left.  Every name is the same object: scope, type,
 * doc, mode, times and bytes; an unlink or a rename over one name leaves the others. */
int store_link(struct store *st, uint64_t id, uint64_t newparent, const char *newname, struct store_attr *out);
int store_unlink(struct store *st, uint64_t parent, const char *name);
/* flags: 0 (replace a variable or an empty directory) or RENAME_NOREPLACE; RENAME_EXCHANGE is -EINVAL. */
int store_rename(struct store *st, uint64_t parent, const char *name, uint64_t newparent, const char *newname,
		 unsigned flags);
int store_setattr(struct store *st, uint64_t id, const struct store_setattr *sa, struct store_attr *out);

/* Do an object's attributes give uid (with gid and groups) every permission of want (04 read, 02 write,
 * 01 search/execute), as access(2) decides (owner, then group, then other; root may)? */
bool store_attr_allows(const struct store_attr *a, uint32_t uid, uint32_t gid, const uint32_t *groups,
		       size_t ngroups, unsigned want);
/* Could uid (with gid and groups) create a name in directory dir: write and search permission, as the
 * kernel checks for a create (root may)?  For what the daemon makes on a caller's behalf (load, mutable,
 * a task's outputs), which no kernel check covers. */
bool store_may_create(struct store *st, uint64_t dir, uint32_t uid, uint32_t gid, const uint32_t *groups,
		      size_t ngroups);

/* Directories: a snapshot of the child ids of dir (malloc'd, the caller frees), and the name and
 * attributes of one child if it is still in dir (-ENOENT otherwise); lookup: count a lookup reference. */
int store_dir_list(struct store *st, uint64_t dir, uint64_t **ids, size_t *n);
int store_dir_entry(struct store *st, uint64_t dir, uint64_t child, char *name, size_t namelen,
		    struct store_attr *out, bool lookup);

/* Files.  flags are open(2) flags; pid is the calling thread (FUSE gives its id).  store_create makes a new
 * variable, opened for writing.  store_open returns 0 with *h, -errno, or STORE_WAITING: then *h is not
 * set and wake(arg, rc, h) is called once, later, from another thread, when the variable is sealed (rc 0
 * and an open handle h, or -EROFS for a writer) or dropped (rc -ENOENT).  store_cancel_wait withdraws a
 * waiting open (returns false when wake has been or is being called). */
int store_create(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		 uint32_t gid, int flags, pid_t pid, struct store_attr *out, struct store_handle **h);
int store_open(struct store *st, uint64_t id, int flags, pid_t pid,
	       void (*wake)(void *arg, int rc, struct store_handle *h), void *arg, struct store_handle **h);
bool store_cancel_wait(struct store *st, uint64_t id, void *arg);
/* Read/write through a handle: bytes done, or -errno.  A write that would pass the capacity fails with
 * -ENOSPC and dooms the variable (dropped at release). */
ssize_t store_read(struct store *st, struct store_handle *h, void *buf, size_t size, uint64_t off);
/* The block's fd behind h, for replies that move bytes without a copy through the caller (splice) and
 * for FUSE passthrough: offset 0 of it is the variable's byte 0.  Valid until h is released; the caller
 * must not close it or change its size.  -1 for a variable packed into a slab (see
 * STORE_SLAB_THRESHOLD): read it with store_read, which finds its bytes wherever they are at that moment. */
int store_handle_fd(const struct store_handle *h);
/* Was h opened for writing a variable (not a mutable object, which is written in place)? */
bool store_handle_writes(const struct store_handle *h);
ssize_t store_write(struct store *st, struct store_handle *h, const void *buf, size_t size, uint64_t off);
/* The writer h, the variable's only one, took the XXH3-128 (hex, HASH_HEX_LEN digits) of its len bytes as
 * it wrote them, through its block (a transfer proving them as they arrive): the seal takes it instead of
 * reading the bytes once more, when the variable has len bytes then.  -EBUSY with another writer. */
int store_handle_hashed(struct store *st, struct store_handle *h, uint64_t len, const char *hex);
/* A close(2) of a descriptor of h by thread pid.  If the last such close before the release comes from
 * a process that is dying (signal, or exit status other than 0), a writer's variable is dropped.  For a
 * writer it also charges what the block holds now (writes may have bypassed the daemon): -ENOSPC, for
 * close(2) to return, when that passes the capacity; the variable is then dropped at release. */
int store_flush(struct store *st, struct store_handle *h, pid_t pid);
/* The last reference to the open file is gone: the last writer's release seals (or drops) the variable
 * and wakes the opens that waited for it, the seal committed when this returns.  h is freed. */
void store_release(struct store *st, struct store_handle *h);
/* The same for a release nobody waits for (the kernel's RELEASE): the bytes are hashed now, but the seal is
 * committed a moment later together with others (group commit, store_sealer.c); until then the variable
 * is still being sealed (opens wait for it, which hurries the commit).  store_seal_wait returns once every
 * seal queued before it is committed (a checkpoint calls it first). */
void store_release_async(struct store *st, struct store_handle *h);
void store_seal_wait(struct store *st);

/* A small variable from bytes in hand (a bulk load's files): no block of its own, the bytes straight into
 * slab pages, the seal with the group commit (store_put.c).  store_put_begin makes `name` in parent, being
 * written (opens wait), with pages for len bytes (len < store_put_max; -EFBIG otherwise, -ENOSPC when no
 * slab fits in the capacity) and sets *id; store_setxattr may give it a type or doc meanwhile;
 * store_put_bytes writes len bytes of buf and takes their xxh3; store_put_end(ok) queues the seal (it is
 * committed when store_seal_wait returns), store_put_end(!ok), or after a failed store_put_bytes, drops
 * the name.  p is gone after store_put_end. */
struct store_put;
uint64_t store_put_max(const struct store *st);
int store_put_begin(struct store *st, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
		    uint32_t gid, uint64_t len, uint64_t *id, struct store_put **p);
int store_put_bytes(struct store *st, struct store_put *p, const void *buf);
void store_put_end(struct store *st, struct store_put *p, bool ok);

/* Extended attributes user.fabric.*: get returns the value's length (with size 0: the length it needs),
 * -ENODATA when unset, -ERANGE when size is too small; list returns the length of NUL-separated names. */
ssize_t store_getxattr(struct store *st, uint64_t id, const char *name, char *buf, size_t size);
int store_setxattr(struct store *st, uint64_t id, const char *name, const char *value, size_t size, int flags);
ssize_t store_listxattr(struct store *st, uint64_t id, char *buf, size_t size);
int store_removexattr(struct store *st, uint64_t id, const char *name);

void store_statfs(struct store *st, uint64_t *capacity, uint64_t *used, uint64_t *objects);

/* A mutable object (Dagger's @mutable): `size` bytes in a block of its own, zero-filled, never sealed,
 * never copied or moved; written in place by any program inside `scope` (NULL: any) through write(2) or a
 * shared writable mapping.  Its size is fixed: writes past it get -EFBIG, truncate -EPERM.  why gets the
 * sentence on failure. */
int store_mutable(struct store *st, uint64_t parent, const char *name, uint64_t size, const char *scope,
		  uint32_t mode, uint32_t uid, uint32_t gid, char *why, size_t whylen);
/* A shard (Dagger's @shard): shards/NAME holding this node's mutable piece of `size` bytes, named by the
 * node and scoped to it; shards/NAME/local is this node's piece (the other nodes' pieces, in a cluster,
 * are theirs: core/cluster/shard.h).  Names under shards/ are made by this call only (mkdir, create and
 * rename there are EPERM); rm works. */
int store_shard(struct store *st, const char *name, uint64_t size, uint32_t mode, uint32_t dir_mode, uint32_t uid,
		uint32_t gid, char *why, size_t whylen);
/* The id of shards/ (its directory, the root's child). */
uint64_t store_shards_id(const struct store *st);

/* Keyed datasets (store_dataset.c; their trees are core/dataset's).  A dataset is a directory of
 * datasets/ whose children, its items, are variables and nothing else: mkdir, symlink, link and mutable
 * objects there are EPERM, and so is anything made directly in datasets/ but by store_dataset_make; a
 * variable may be renamed into a dataset, out of it and within it (a key gets new bytes by a new item
 * renamed over the old).  The key ".tree" is reserved (EINVAL): it names the tree's file.  The item rows
 * follow the objects by themselves (meta's triggers). */
struct yp;
/* Make datasets/NAME with type and doc (NULL: none; a doc of STORE_DOC_MAX bytes at most), calling
 * rows(arg, yp, id) inside the same YP transaction as its directory's row, so the dataset's own rows
 * (core/dataset) come with it or not at all.  The new directory's id to *id. */
int store_dataset_make(struct store *st, const char *name, const char *type, const char *doc, uint32_t mode,
		       uint32_t uid, uint32_t gid, int (*rows)(void *arg, struct yp *yp, uint64_t id), void *arg,
		       uint64_t *id);
/* A dataset's type T (store_dataset_make's, canonical, NULL for none; the directory's user.fabric.type) is
 * every item's: an item with a type of its own must narrow T (the same scalar, T's dimensions as its last:
 * core/text/dtype.h) and fit its size; one without takes T when it holds T's bytes, "N * T" when N of them,
 * and is refused otherwise.  A writer's close that leaves a misfit says EINVAL, and at the last release a
 * misfit is dropped instead of sealed; setxattr of a type that does not narrow T is EINVAL, a rename of a
 * sealed misfit into the dataset EPERM.  store_item_type answers for a variable of size bytes with type own
 * (NULL: none) made in dir: 0 when dir has no such rule, 1 with the type it takes in canon (DTYPE_STR_MAX
 * bytes), or -EINVAL with a sentence in why. */
int store_item_type(struct store *st, uint64_t dir, const char *own, uint64_t size, char *canon, char *why,
		    size_t whylen);
/* Remove dataset id, its items and its rows in one YP transaction (rm -r takes one an item): the items'
 * bytes stay for whoever has them open, as unlink(2) leaves them.  The number of items to *items;
 * -ENOENT for no dataset, -EBUSY when a task's output is reserved in it (nothing removed). */
int store_dataset_drop(struct store *st, uint64_t id, uint64_t *items);
/* Dataset id's tree changed shape (a split or a merge: core/dataset's keeper, after its commit): its
 * directory's mtime becomes now, in memory and in its row, so other nodes hear of it (the catalog
 * publishes every changed row) and wake their pollers of its .tree.  -ENOENT for no dataset. */
int store_dataset_touch(struct store *st, uint64_t id);
/* The id of datasets/. */
uint64_t store_datasets_id(const struct store *st);
/* The limits dataset id was made with (core/dataset's text, as the YP keeps it) into buf; -ENOENT for no
 * dataset. */
int store_dataset_limits(struct store *st, uint64_t id, char *buf, size_t len);
/* Is id a dataset's directory?  Its name into name (NAMES_LEAF_MAX + 1 bytes) when name is not NULL. */
bool store_is_dataset(struct store *st, uint64_t id, char *name);
/* Every dataset's directory id (a malloc'd array, *n of them). */
int store_datasets(struct store *st, uint64_t **ids, size_t *n);

/* Names held by an owner (store_reserve.c): a variable being written that only the processes of its owner
 * may open for writing (others get -EBUSY), that nobody may unlink or rename (-EBUSY), and that its
 * writers' last close does not seal: store_reserved_end does, when the owner is done, or drops it.  Opens
 * by others wait for it like for any variable being written.  The store knows an owner only as a number
 * and the member hook; core/task/ makes each task the owner of its outputs.  member answers "is thread pid
 * one of owner's processes", under the store's lock: it must take no lock but its own. */
void store_owner_hook(struct store *st, bool (*member)(void *arg, uint64_t owner, pid_t pid), void *arg);
/* Reserve `name` in dir `parent` for owner, with mode, uid and gid: -EEXIST when taken (why says by
 * what), *id its id. */
int store_reserve(struct store *st, uint64_t parent, const char *name, uint64_t owner, uint32_t mode,
		  uint32_t uid, uint32_t gid, uint64_t *id, char *why, size_t whylen);
/* What variable id is to owners: owner 0 when it is not reserved; written: its owner opened it for
 * writing; doomed: a write to it failed.  -ENOENT when there is no such variable. */
struct store_reserved {
	uint64_t owner;
	bool written, doomed;
};
int store_reserved_of(struct store *st, uint64_t id, struct store_reserved *out);
/* The owner is done: seal reserved variable id (ok) or drop it.  When writers still hold it open (their
 * releases may come after the owner's end is seen) it is sealed or dropped at their last release.  The
 * seal is committed with others (store_release_async): a lookup or stat of it answers once it is.  With
 * ok, returns -ENOSPC when a write to it had failed (it is dropped instead). */
int store_reserved_end(struct store *st, uint64_t id, bool ok);
/* The store's yellow pages (meta/yp.h), for the tables of other rooms (core/task/ keeps its rows there):
 * meta serialises its connection itself, so a caller needs no store lock.  Valid until store_destroy. */
struct yp;
struct yp *store_yp(struct store *st);

/* Blocks (store_blocks.c).  store_block_stats calls fn first for the variables' own blocks summed up
 * (slab false, id 0: objects = how many, size = their bytes, used = their charge), then once per slab
 * block.  store_allocate adds size to the capacity and makes size / 4 MiB empty slab blocks (their ids in
 * ids, at most maxids).  store_deallocate removes slab block `block` and takes its size off the
 * capacity; one holding variables is -EBUSY unless move, which moves them into the other slabs first
 * (-ENOSPC when they lack room); a variable's own block is -EBUSY; why gets the sentence. */
struct store_block_info {
	uint64_t id;
	char shm_name[SHM_NAME_MAX];
	bool slab;
	uint64_t size, used, objects, largest_free;
};
int store_block_stats(struct store *st, int (*fn)(void *arg, const struct store_block_info *b), void *arg);
int store_allocate(struct store *st, uint64_t size, uint64_t *ids, size_t maxids, size_t *nids);
/* Capacity for bytes this node keeps that are not its objects (a replica of another node's variable):
 * *charge grows or shrinks to bytes (-ENOSPC, nothing changed, when that does not fit); store_uncharge
 * gives it all back.  statfs and stat count it as used. */
int store_charge(struct store *st, uint64_t *charge, uint64_t bytes);
void store_uncharge(struct store *st, uint64_t *charge);
/* What `stat` counts: linked variables (mutable objects among them), and the holders of a charge
 * (replicas) with their bytes. */
struct store_counts {
	uint64_t variables, mutables, charges, charged;
};
void store_counts(struct store *st, struct store_counts *out);
int store_deallocate(struct store *st, uint64_t block, bool move, uint64_t *moved, char *why, size_t whylen);

/* Compact the slabs: move packed variables out of the emptiest slabs into the holes of fuller ones, one
 * YP transaction per variable moved, then remove the slabs left empty (one is always kept).  Open handles
 * keep reading the right bytes throughout.  *bytes_moved and *blocks_freed (either may be NULL) say what
 * it did.  Returns 0, or the first error that stopped it (what was moved before stays moved). */
int store_defragment(struct store *st, uint64_t *bytes_moved, uint64_t *blocks_freed);

#endif
