/* SPDX-License-Identifier: MIT */
/* storeInt.h -- what the files of core/store/ share: the in-memory object, the store itself, and the
 * calls they make to each other (declared at the end, by the file that defines them, bottom-up).
 *
 * The files, one job each:
 *   ns.c             the in-memory namespace: objects by id and by (parent, name), each dir's children
 *   store_alias.c    hard links: an alias made, removed, promoted to be its object's name, or dropped
 *                    with it
 *   store_obj.c      what every file does to one object or slab: its path for messages, YP row,
 *                    attributes, its bytes going; a slab's row and removal; the log and the clock
 *   store.c          names and attributes: lookup, mkdir, rmdir, unlink, rename, setattr, readdir, statfs
 *   store_bytes.c    read, write and truncate through a handle; the block's fd
 *   store_open.c     create and open (with the scope check), the opens that wait for a variable being
 *                    written, handles
 *   store_seal.c     flush and release; the seal (xxh3, one commit) and packing a small variable into a slab
 *   store_sealer.c   group commit: the seals of many releases in one transaction, by a thread of its own
 *   store_put.c      a small variable from bytes in hand, straight into a slab, sealed by the group commit
 *   store_defrag.c   defragmenting the slabs; the move of one packed variable (store_deallocate's too)
 *   store_blocks.c   blocks as the verbs see them: stats, allocate, deallocate
 *   store_xattr.c    the user.fabric.* extended attributes; a scope parsed for this node
 *   store_mutable.c  mutable objects and shards
 *   store_reserve.c  names reserved for an owner; store_yp, the YP for core/task (meta locks it itself)
 *   store_life.c     store_init and store_destroy
 *   recover.c        crash recovery at start: the YP and the shm blocks reconciled, the namespace loaded
 *   alloc.c, slab.c  capacity accounting; slab blocks and their free pages (headers of their own)
 *   path.c           paths under vars/ to ids, through the public calls only (path.h)
 *
 * Calls between these files go one way.  ns.c and store_obj.c call no other file of the store but alloc.c
 * and slab.c, store_alias.c only those, and the others call them; besides: store.c calls store_bytes.c (truncate); store_open.c
 * calls store.c and store_bytes.c; store_seal.c calls store_open.c (the waiting opens, scopes whose
 * processes have ended); store_defrag.c calls only the bottom two; store_blocks.c calls store_defrag.c;
 * store_mutable.c calls store.c and store_xattr.c; store_reserve.c calls store.c, store_open.c,
 * store_seal.c and store_sealer.c; store_put.c calls store.c, store_open.c, store_seal.c and
 * store_sealer.c; store_sealer.c calls store_seal.c; store_life.c calls recover.c and store_sealer.c.  There is no circle; a new shared helper goes in the lowest
 * file all its callers may call.  Up the other way go only the callbacks (the owner hook, core/task/;
 * name_changed, fs/), called under the lock and so forbidden to call into the store.  The files still make
 * one room, not several: they share one lock and one object table, and what one file calls in another runs
 * with store->lock held on objects that both change, so none of them can be used, or reasoned about, apart
 * from the others (the lock order and the lifetime below hold for all of them).
 *
 * Locking: one mutex, store->lock, guards the namespace, every struct obj field and the slabs; the store's
 * YP transactions run under it, so a change and its rows are one step (meta's own lock, innermost, keeps
 * core/task's rows out of them).  Data moves (pread/pwrite on a block fd, hashing at seal, copying a small variable into a slab)
 * happen outside it: an open handle keeps the object and its fd alive, so nobody frees them underneath.
 * Reads of a packed object take store->slab_lock for reading instead, and look up its slab and offset
 * under it; whoever moves a packed object (defragment) holds store->lock and takes slab_lock for writing
 * only to switch obj->slab and obj->offset, after the copy and the commit.  So a reader sees the old
 * place or the new one, whole, and the old place is given back only once no reader can be in it.  Lock
 * order: store->lock, then slab_lock; a reader holding slab_lock takes nothing else.
 *
 * Lifetime of a struct obj: it exists while it is linked in the namespace (parent != NULL, or it is the
 * root), or the kernel holds lookup references (nlookup), or handles are open (nopen).  Its bytes (its
 * shm block, or its pages in a slab) and YP row go when it is unlinked and nopen reaches 0
 * (store_release_data); the struct itself when nlookup also reaches 0 (store_maybe_free). */
#ifndef FABRIC_CORE_STOREINT_H
#define FABRIC_CORE_STOREINT_H

#include <pthread.h>

#include "core/event/events.h"
#include "core/store/alloc.h"
#include "core/os/hash.h"
#include "core/text/names.h"
#include "core/os/shm.h"
#include "core/store/slab.h"
#include "core/store/store.h"

struct yp;
struct yp_obj;

/* OBJ_LINK: a symbolic link, its target text in target; born sealed, never opened, no bytes of its own.
 * OBJ_ALIAS: a hard link, a second name for the object `of` (a variable or a symbolic link): only a name
 * in the namespace, with a YP row of its own; everything else is of's (store_alias.c). */
enum obj_kind { OBJ_DIR, OBJ_VAR, OBJ_LINK, OBJ_ALIAS };

/* A variable's permission bits never include setuid or setgid: the kernel leaves dropping them at a write
 * to the file system (FUSE_HANDLE_KILLPRIV_V2, fs/passthrough.c), and with none kept there is nothing to
 * drop, also for writes that go straight to the shm block. */
#define STORE_VAR_MODE_BITS 01777
enum obj_state { OBJ_WRITING, OBJ_SEALED };

struct waiter {
	void (*wake)(void *arg, int rc, struct store_handle *h);
	void *arg;
	int flags;
	pid_t pid;
	int rc;                 /* filled when the variable is sealed or dropped */
	struct store_handle *h; /* the handle opened for it at seal */
	struct waiter *next;
};

struct store_handle {
	struct obj *o;
	bool writer;
	pid_t pid;  /* thread that opened it */
	pid_t tgid; /* its process, looked up when first needed (0 until then) */
	pid_t bad_closer; /* the last close (FLUSH) came from this process dying badly; 0: it did not */
	int bad_code;     /* that process's exit code, as waitpid(2) reports it */
	struct store_handle *next;
};

struct obj {
	uint64_t id;
	enum obj_kind kind;
	enum obj_state state;
	struct obj *parent; /* NULL: the root, or unlinked */
	bool unlinked;      /* its name is gone; its data stays while handles are open */
	bool in_yp;         /* it has its rows: always but for a variable being written (see store_open.c) */
	bool data_gone;     /* block removed and YP row deleted */
	char *name;
	struct obj *by_name_next, *by_id_next; /* hash chains */
	struct obj *first_child, *prev_sib, *next_sib;
	uint64_t nchildren, nsubdirs;

	uint32_t mode, uid, gid; /* mode without type bits */
	int64_t created_ns, modified_ns, sealed_ns;
	uint64_t size;
	char *type, *doc, *scope;
	char *refs; /* user.fabric.refs, canonical (one space between names), or NULL */
	char *target; /* a link's target (OBJ_LINK); NULL for the others */
	struct obj *of;          /* OBJ_ALIAS: the object it names */
	struct obj *aliases;     /* the object's aliases, chained by alias_next; naliases of them */
	struct obj *alias_next;
	uint32_t naliases;
	char xxh3[HASH_HEX_LEN + 1]; /* "" until sealed */
	char given_xxh3[HASH_HEX_LEN + 1]; /* store_handle_hashed: the seal's hash of given_len bytes, or "" */
	uint64_t given_len;

	/* variables: where the bytes are.  A dedicated variable (every one while it is written) has a block
	 * of its own: block_id and shm_name are that block, byte 0 is its byte 0, fd is open while nopen > 0
	 * (read-only once sealed), charge is what the allocator holds for it.  A packed one (moved into a slab
	 * at seal, see store_seal.c) has block_id and shm_name of its slab, its bytes at offset, fd -1 and no
	 * charge of its own (the slab is charged).  packed is set once, at seal, while no other handle is
	 * open, so a handle's owner may read it without the lock; slab and offset change under slab_lock. */
	uint64_t block_id;
	char shm_name[SHM_NAME_MAX];
	int fd;
	uint64_t charge;
	bool packed;
	struct slab *slab;
	uint64_t offset;

	uint64_t nlookup;
	unsigned nopen, nwriters;
	bool sealing; /* the last writer is gone: the hash is being taken, the bytes maybe packed */
	bool seal_queued; /* hashed, its seal waiting for its batch's commit (store_sealer.c) */
	bool mut;     /* a mutable object (store_mutable): state SEALED, but written in place */
	bool dataset; /* a dataset's directory (store_dataset.c): its children are its items */
	bool doomed;  /* drop instead of seal */
	uint64_t owner;   /* reserved for this owner (store_reserve): 0 when free, and once the owner ended */
	bool owner_wrote; /* one of the owner's processes opened it for writing */
	struct store_handle *handles;
	struct waiter *waiters;
};

struct store {
	pthread_mutex_t lock;
	struct yp *yp;
	struct alloc alloc;
	char node[NAMES_NODE_MAX + 1];
	int64_t node_id;
	uint64_t shards_id; /* the id of shards/ (made at the first start that lacks it) */
	uint64_t datasets_id; /* the id of datasets/ (the same) */
	char prefix[SHM_NAME_MAX];
	uint64_t next_block;
	uint64_t next_id; /* the next object id (inode number): ids are handed out here, rows follow */
	void (*log)(const char *msg);
	void (*name_changed)(void *arg, uint64_t parent, const char *name);
	void *name_changed_arg;
	/* The event stream (core/event), NULL until the namespace is loaded; ev_quiet > 0 while a rename or
	 * an alias's promotion relinks names (store_events.c says so as one event). */
	struct events *events;
	int ev_quiet;
	bool names_quiet; /* a dataset's drop: its items' names go unsaid to the kernel (its directory's is said) */

	struct slab_set slabs;
	pthread_rwlock_t slab_lock; /* see "Locking" above */
	uint64_t slab_threshold;    /* variables smaller than this are packed at seal: STORE_SLAB_THRESHOLD */
	bool lease_warned;          /* the lease probe failed once and said so (store_seal.c) */

	/* store_sealer.c: the queue of seals waiting for their batch's commit, and its thread */
	pthread_t sealer;
	pthread_cond_t seal_cond, seal_idle;
	bool sealer_on, sealer_stop, seal_hurry, seal_busy;
	struct seal_job *seal_head, *seal_tail;
	size_t seal_n;

	bool (*owner_member)(void *arg, uint64_t owner, pid_t pid); /* store_owner_hook */
	void *owner_arg;

	struct obj **by_name, **by_id; /* hash tables, nbuckets each */
	size_t nbuckets, nobjs;
	uint64_t nvars; /* linked variables, for statfs */
	uint64_t nmut;  /* of them mutable objects (shards' pieces too) */
	uint64_t ncharges, charged; /* store_charge's holders (replicas) and their bytes */
};

/* ns.c: the in-memory namespace */
int ns_init(struct store *st);
void ns_destroy(struct store *st);
struct obj *ns_new(struct store *st, uint64_t id, enum obj_kind kind, const char *name);
void ns_free(struct store *st, struct obj *o);
struct obj *ns_by_id(struct store *st, uint64_t id);
struct obj *ns_child(struct store *st, struct obj *dir, const char *name);
void ns_link(struct store *st, struct obj *dir, struct obj *o, const char *name); /* name: NULL keeps */
void ns_unlink(struct store *st, struct obj *o);
bool ns_is_ancestor(const struct obj *a, const struct obj *o);

/* store_obj.c: what every file does to one object or slab (calls nothing above ns.c, slab.c, alloc.c) */
void store_fill_yp(const struct obj *o, struct yp_obj *row);
int store_persist(struct store *st, struct obj *o);
void store_logf(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t store_now_ns(void);
uint64_t store_new_id(struct store *st);
void store_attr_of(const struct obj *o, struct store_attr *out);
void store_path(const struct obj *o, char *buf, size_t len);
/* store_events.c: post an event about o (its path, its owner's access), and a seal's with size and xxh3. */
void store_event(struct store *st, struct obj *o, enum event_kind kind, const struct event_field *f, size_t nf);
void store_event_at(struct store *st, struct obj *o, const char *path, enum event_kind kind,
		    const struct event_field *f, size_t nf);
void store_event_sealed(struct store *st, struct obj *o);
int store_drop_rows(struct store *st, struct obj *o);
void store_free_bytes(struct store *st, struct obj *o);
void store_release_data(struct store *st, struct obj *o);
int store_slab_row(struct store *st, struct slab *s);
bool store_slab_maybe_free(struct store *st, struct slab *s);
/* Remove empty slab s: its row in a transaction of its own, then its charge and shm object.  With
 * keep_on_error a failed row delete leaves everything as it was; without, the slab goes anyway (the next
 * start removes a row no extent points into).  Returns the row's result.  Lock held. */
int store_slab_remove(struct store *st, struct slab *s, bool keep_on_error);
void store_maybe_free(struct store *st, struct obj *o);
/* Object id, once its seal is committed if it is queued for one (the commit hurried): what stat and
 * getfattr say of a variable whose writer has closed it is its sealed state.  Lock held (and given up
 * while waiting); NULL when there is no such object. */
struct obj *store_settled(struct store *st, uint64_t id);
void store_mark_unlinked(struct store *st, struct obj *o);

/* store_alias.c: hard links (see there); each pair is the YP side, inside the caller's transaction, then
 * the memory side, after its commit.  Lock held. */
static inline struct obj *store_named(struct obj *e)
{
	return e->kind == OBJ_ALIAS ? e->of : e;
}
int store_alias_new(struct store *st, struct obj *dir, const char *name, struct obj *o, struct obj **out);
int store_alias_remove_rows(struct store *st, struct obj *a);
void store_alias_remove(struct store *st, struct obj *a);
/* o's own name goes, but o has aliases: the first takes o's place as o's name */
int store_alias_promote_rows(struct store *st, struct obj *o);
void store_alias_promote(struct store *st, struct obj *o);
/* o goes under every name (a drop): its aliases' rows, then their memory */
int store_alias_drop_rows(struct store *st, struct obj *o);
void store_alias_drop(struct store *st, struct obj *o);

/* store.c: the namespace's rules, for the files that make or remove names */
/* Remove variable o (YP and memory) under every name it has, as unlink(2) of its last name does; its bytes
 * go at its last close.  Lock held. */
int store_unlink_locked(struct store *st, struct obj *o);
/* Is dir shards/ or below it?  Names there are made by the shard verb only.  Lock held. */
bool store_under_shards(struct store *st, const struct obj *dir);

/* store_dataset.c: the rules of datasets/ (see store.h) */
/* Mark the directories the YP lists as datasets (at start, after recovery). */
int store_datasets_load(struct store *st);
/* May an object of kind `kind` named `name` be made in, or moved into, dir?  0, or -EPERM for anything
 * in datasets/ itself and anything but a variable in a dataset, -EINVAL for a key a dataset reserves
 * (".tree").  Lock held. */
int store_dataset_allows(struct store *st, const struct obj *dir, enum obj_kind kind, const char *name);
/* The type a variable of size bytes whose own type is own (NULL: none) takes as an item of dir: 0 when
 * dir is no dataset with a type (own stands as it is), 1 with the item's type in canon (DTYPE_STR_MAX), or
 * -EINVAL with why (see store_item_type in store.h).  Lock held. */
int store_item_type_locked(const struct obj *dir, const char *own, uint64_t size, char *canon, char *why,
			   size_t whylen);

/* store_bytes.c: truncate a variable being written (SETATTR size, open with O_TRUNC).  Lock held. */
int store_truncate_locked(struct store *st, struct obj *o, uint64_t size);

/* store_open.c: making variables, handles, and the opens that wait */
/* Make variable `name` in dir, being written: with own_block in a new block of its own whose fd is left
 * open in o->fd, else with no bytes yet (o->fd -1: store_put.c gives it slab pages); *out is linked but
 * holds no handle yet.  Lock held. */
int store_make_var_locked(struct store *st, struct obj *dir, const char *name, uint32_t mode, uint32_t uid,
			  uint32_t gid, bool own_block, struct obj **out);
int store_new_handle(struct obj *o, bool writer, pid_t pid, struct store_handle **out);
/* Has every process o's scope names ended (then o is removed: store_drop_orphan)?  Lock held. */
bool store_owners_gone(struct store *st, struct obj *o);
void store_drop_orphan(struct store *st, struct obj *o);
/* At the last writer's release, under the lock: answer o's waiting opens (rc 0: sealed, each gets a handle
 * or -EROFS; else rc for all) and take them off o; store_wake_waiters then calls them, without the lock. */
struct waiter *store_take_waiters(struct obj *o, int rc);
void store_wake_waiters(struct waiter *ws);

/* store_seal.c: a seal in its parts, so that store_sealer.c can commit many in one transaction.  A job
 * is one variable whose last writer released it: store_seal_prepare (lock held on entry and exit, dropped
 * inside) decides whether h's release seals o and, if so, sets o->sealing, hashes its bytes and copies a
 * small one into a slab (into pack); store_seal_write writes its rows inside the caller's transaction;
 * store_seal_end, after that commit (committed) or without one (it then commits alone), makes it sealed or
 * drops it and takes its waiting opens into ws; store_release_tail takes h (may be NULL: a queued job's
 * hold on o) off o and lets o's bytes go with its last open; store_seal_after, without the lock, answers
 * the waiting opens and removes the block a packed variable left. */
struct pack {
	struct slab *s; /* NULL: the variable stays in its own block */
	uint64_t off;
	char old_name[SHM_NAME_MAX];
};
struct seal_job {
	struct obj *o;
	struct pack p;
	int rc;           /* of the hash and copy; not 0: the variable is dropped */
	bool wrote, gone; /* its rows went into a batch; its own block is to be removed */
	bool slab_row_done; /* an earlier job of its batch wrote the row of its new slab (p.s) */
	struct waiter *ws;
	int64_t queued_ns;
	struct seal_job *next;
};
/* Pages for len bytes in some slab: the first slab (by id) with room, else a new one, charged to the
 * allocator as a whole (-ENOSPC when that does not fit: the caller keeps the variable where it is);
 * store_pack_abort gives back a reservation that was not committed.  Lock held. */
int store_slab_reserve(struct store *st, uint64_t len, struct slab **out, uint64_t *off);
void store_pack_abort(struct store *st, struct pack *p, uint64_t len);
bool store_seal_prepare(struct store *st, struct store_handle *h, struct seal_job *j);
int store_seal_write(struct store *st, struct seal_job *j);
void store_seal_end(struct store *st, struct seal_job *j, bool committed);
void store_release_tail(struct store *st, struct obj *o, struct store_handle *h, bool answered);
void store_seal_after(struct seal_job *j);

/* store_sealer.c: the thread that commits queued seals together, started by store_init (without it every
 * release seals alone) and stopped, after its last batch, by store_destroy. */
int store_sealer_start(struct store *st);
void store_sealer_stop(struct store *st);
/* Lock held: job j, its bytes ready (j->rc 0, o->sealing set), joins the queue, holding o open (one count
 * in o->nopen) until its batch's commit; j is freed after it.  false when no thread commits (not started,
 * or stopping): nothing done, the caller seals alone. */
bool store_seal_enqueue(struct store *st, struct seal_job *j);

/* store_defrag.c: move packed variable o to pages already reserved at off in slab d (defragment,
 * deallocate); on failure the reservation is given back and o stays where it was.  Lock held. */
int store_move_packed(struct store *st, struct obj *o, struct slab *d, uint64_t off);

/* store_xattr.c: parse a scope for a variable on this node: canonical form into canon, or -EINVAL with
 * why (the scope attribute, and store_mutable's scope). */
int store_scope_canon(struct store *st, const char *value, char *canon, size_t len, char *why, size_t whylen);

/* recover.c: RECOVERY at start (see there): reconcile the YP with the shm blocks and load the namespace,
 * verifying every sealed variable's xxh3 with full_verify; lost (may be NULL) is told each lost one. */
int store_recover(struct store *st, bool full_verify, void (*lost)(void *arg, const char *path),
		  void *lost_arg);

#endif
