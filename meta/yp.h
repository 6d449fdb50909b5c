/* SPDX-License-Identifier: MIT */
/* yp.h -- the yellow pages: the fabric's registry of nodes, shm blocks, objects and extents, and of tasks,
 * in SQLite.  The one header of meta/: nothing of SQLite crosses it.
 *
 * What it is for: what a node holds must outlive its daemon.  One database file per node (STATE/yp.db),
 * WAL mode, opened by the daemon alone for writing; anyone may open it read-only with sqlite3 and query
 * it (the views vars and task_cmds are for them), which is a feature.
 *
 * Who owns what: core/store opens and closes the struct yp (store_init, store_destroy) and is the one
 * writer of nodes, objects, blocks and extents; core/task is the one writer of tasks, on the struct yp the
 * store hands it (store_yp).  In meta/: yp.c the connection, schema, transactions and node row,
 * yp_objects.c objects, blocks and extents, yp_tasks.c tasks (meta/ypInt.h says more).
 *
 * Every user-visible change is one transaction: callers bracket several calls with yp_begin/yp_commit
 * (nestable: only the outermost pair touches SQLite) and yp_rollback on any failure.
 *
 * Threads: a struct yp may be used from any thread; it serialises its connection with a mutex of its
 * own, taken inside every call, and held from yp_begin to the matching yp_commit or yp_rollback by the
 * thread that began (its nested levels and its calls inside the transaction enter it again), so another
 * thread's call waits for the commit rather than landing in someone else's transaction.  The callbacks
 * of yp_each_* run with it held.
 * Lock order: meta's mutex is innermost.  Callers may hold their own locks when they call meta (core/store
 * calls it under store->lock, core/task under tasks->lock, which comes before store->lock), and meta takes
 * no other lock.  So while a thread holds it -- inside a transaction, or in a yp_each_* callback -- it
 * must not wait for a lock whose holder may call meta.
 *
 * Every function returns 0 or a negative errno; SQLite's own message goes to stderr (the daemon log).
 * Strings in structs handed to callbacks live until the callback returns; strings in structs handed in
 * are copied by SQLite (SQLITE_TRANSIENT) or used only during the call. */
#ifndef FABRIC_META_YP_H
#define FABRIC_META_YP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YP_SCHEMA_VERSION 9
#define YP_ROOT_ID 1 /* the mount root */
#define YP_VARS_ID 2 /* vars/ */

struct yp;

struct yp_node {
	int64_t id;
	char name[65];
	char shm_prefix[128];
	uint64_t capacity;
	int clean; /* 1 after a clean unmount, 0 while a daemon runs (or after it crashed) */
};

/* One row of objects; for yp_each_object also its extent and that extent's block (a variable has one
 * extent: its own block at offset 0, or a slab at a page-aligned offset). */
struct yp_obj {
	int64_t id;
	int64_t parent; /* 0: none (the root, or an unlinked object still open) */
	const char *name;
	const char *kind;  /* "dir" | "var" | "mutable" | "link" | "alias" */
	const char *state; /* "writing" | "sealed" | "deleted" | "lost" */
	const char *type;  /* NULL when unset */
	const char *doc;   /* NULL when unset */
	const char *xxh3;  /* NULL until sealed */
	const char *scope; /* "any" */
	int64_t node;
	uint64_t size;
	uint32_t mode, uid, gid;
	int64_t created_ns, modified_ns, sealed_ns;
	const char *target; /* a link's target text; NULL for every other kind (set at insert only) */
	int64_t alias_of;   /* an alias's object (a second name for it); 0 for every other kind (insert only) */
	const char *refs;   /* user.fabric.refs: names under vars/ it refers to, one space between; NULL: none */
	int64_t block; /* 0: no extent */
	const char *shm_name;
	const char *block_kind; /* "dedicated" | "slab"; NULL without an extent */
	uint64_t offset, length; /* where the bytes are in the block */
};

/* Open (creating and migrating when needed) the database at path. */
int yp_open(const char *path, struct yp **out);
/* Finalize every statement and close; NULL is fine. */
void yp_close(struct yp *yp);

/* Transactions, nestable by depth. */
int yp_begin(struct yp *yp);
int yp_commit(struct yp *yp);
void yp_rollback(struct yp *yp);

/* Nodes.  A state dir belongs to one node: yp_node_get returns it, or -ENOENT on a new database. */
int yp_node_get(struct yp *yp, struct yp_node *out);
int yp_node_add(struct yp *yp, struct yp_node *n); /* sets n->id */
int yp_node_update(struct yp *yp, const struct yp_node *n); /* capacity and clean */

/* Objects. */
/* Insert o with the id it has, or (id 0) the table's next AUTOINCREMENT id, which it sets.  The store
 * hands out ids itself (yp_obj_max_id + 1 and up, never one twice), so that a variable has its id, the
 * inode number, before it has a row. */
int yp_obj_insert(struct yp *yp, struct yp_obj *o);
int yp_obj_max_id(struct yp *yp, int64_t *max);
int yp_obj_update(struct yp *yp, const struct yp_obj *o); /* every column but id, kind, node, created */
int yp_obj_delete(struct yp *yp, int64_t id);       /* with its extents */
int yp_each_object(struct yp *yp, int (*fn)(void *arg, const struct yp_obj *o), void *arg);

/* Blocks: the caller picks ids (yp_block_max_id + 1 and up) so a block's shm name is known before its
 * row is written.  used (for yp_each_block) is 1 when some extent points into the block. */
int yp_block_max_id(struct yp *yp, int64_t *max);
int yp_block_insert(struct yp *yp, int64_t id, int64_t node, const char *shm_name, uint64_t size,
		    const char *kind);
int yp_block_set_size(struct yp *yp, int64_t id, uint64_t size);
int yp_block_delete(struct yp *yp, int64_t id);
int yp_each_block(struct yp *yp, int (*fn)(void *arg, int64_t id, const char *shm_name, int used), void *arg);

/* Extents: (object, block, offset, length): the object's bytes are length bytes at offset of block.
 * Keyed by (object, offset): set inserts, or replaces the object's extent at that same offset; move
 * repoints every extent of the object (it has one) to another block and offset (-ENOENT when it has
 * none); delete removes them. */
int yp_extent_set(struct yp *yp, int64_t obj, int64_t block, uint64_t offset, uint64_t length);
int yp_extent_move(struct yp *yp, int64_t obj, int64_t block, uint64_t offset, uint64_t length);
int yp_extent_delete(struct yp *yp, int64_t obj);

/* Tasks (core/task/task.h): one row per task the node accepted, until it is forgotten.  Ids come from the
 * table's AUTOINCREMENT (never reused), or from the caller (a cluster's ids, unique across its nodes).  Lists are words separated by '\n' (names never hold one);
 * argv is the program's words each followed by a NUL (argv_len bytes).  Times are ns since the epoch,
 * 0 when not yet.  exit_status is waitpid(2)'s status, -1 when the task has not ended by itself. */
struct yp_task {
	int64_t id;
	const char *state; /* queued | running | exited | failed | killed | timed-out | cancelled | lost */
	const char *argv;
	size_t argv_len;
	const char *inputs, *outputs, *after; /* '\n'-separated; "" when none */
	const char *scope;                    /* the task's own scope= ("" when not given) */
	const char *node;                     /* where it was placed; "" while queued */
	const char *placed;                   /* why there */
	const char *why;                      /* the reason it failed, was cancelled or lost; "" otherwise */
	uint32_t uid, gid;
	const char *groups; /* decimal gids separated by ',' */
	int64_t timeout_ms; /* 0: none */
	int64_t exit_status;
	int64_t pid;
	uint64_t pid_start, pidns; /* core/os/launch.h struct launch_id */
	int64_t queued_ns, started_ns, ended_ns;
	bool outputs_sealed; /* an exited task: every output's seal is committed (written after them) */
	bool keep_id;        /* insert: the id given (a cluster's, unique across its nodes), not the table's */
};
int yp_task_insert(struct yp *yp, struct yp_task *t); /* sets t->id; keep_id: inserts t->id (-EEXIST if taken) */
int yp_task_update(struct yp *yp, const struct yp_task *t); /* every column but id, argv */
int yp_task_delete(struct yp *yp, int64_t id);
/* In id order (submission order). */
int yp_each_task(struct yp *yp, int (*fn)(void *arg, const struct yp_task *t), void *arg);

/* ---- several nodes (yp_remote.c) ---- */

/* One object, by id, as yp_each_object gives it: fn is called once; -ENOENT when there is no row. */
int yp_obj_find(struct yp *yp, int64_t id, int (*fn)(void *arg, const struct yp_obj *o), void *arg);
/* The ids of object id's aliases (its hard links' rows), in id order, malloc'd (*n of them, maybe 0). */
int yp_obj_aliases(struct yp *yp, int64_t id, int64_t **ids, size_t *n);
/* fn is told the ids of the objects whose rows every commit changed (inserted, updated or deleted),
 * called inside that commit, with meta's mutex held: it must not call meta, nor wait for a lock whose
 * holder may call meta (take a leaf lock, queue, return).  One watcher; NULL stops it. */
void yp_watch_objects(struct yp *yp, void (*fn)(void *arg, const int64_t *ids, size_t n), void *arg);

/* The mirror of another node's object (table remote; the view vars lists it with the local ones). */
struct yp_remote {
	const char *node;
	int64_t id, parent; /* the node's own ids: parent YP_VARS_ID is its vars/ */
	const char *name, *kind, *type, *doc, *xxh3, *scope, *target, *refs;
	const char *shm; /* the shm object of its bytes on its node, NULL for none; offset in it */
	uint64_t offset;
	uint64_t size;
	uint32_t mode, uid, gid;
	int64_t modified_ns, sealed_ns;
};
int yp_remote_put(struct yp *yp, const struct yp_remote *r);       /* insert or replace */
int yp_remote_delete(struct yp *yp, const char *node, int64_t id); /* 0 also when there was none */
int yp_remote_clear(struct yp *yp);                                /* every row: before a new listing */
/* fn for every row of the mirror (its strings the walk's), with meta's lock held: no store call in fn. */
int yp_each_remote(struct yp *yp, int (*fn)(void *arg, const struct yp_remote *r), void *arg);

/* A move under way (yp_moves.c): this node's object under its name in vars/ going to node (out), or a
 * directory of node's that this node is taking (in, object: its id there), with the xxh3 (a directory's:
 * its tree's fingerprint) the new owner must show.  Recorded before a byte leaves (or arrives), removed
 * once the end is known, so a move cut short by a crash is finished (or undone) at the next start.  One
 * row for each (way, node, name): a new begin replaces the old. */
struct yp_move {
	int64_t object;
	const char *name, *node, *xxh3;
	int64_t begun_ns;
	bool in;
};
int yp_move_begin(struct yp *yp, const struct yp_move *m);
int yp_move_end(struct yp *yp, bool in, const char *node, const char *name); /* 0 also when none */
/* Is a move of name between this node and node under way, either way?  1 or 0, or -errno. */
int yp_move_between(struct yp *yp, const char *name, const char *node);
/* fn for every move begun and not ended, oldest first, with meta's lock held: fn copies what it needs
 * (the strings are the walk's) and must not call the store, whose lock comes before meta's.  A non-zero
 * return stops the walk and is returned. */
int yp_each_move(struct yp *yp, int (*fn)(void *arg, const struct yp_move *m), void *arg);

/* Keyed datasets (yp_datasets.c; schema version 8 in yp.c says how items follow objects).  A key's hash,
 * the one the triggers file items by (every object row's keyhash): XXH3-64 of the name's bytes, shifted
 * into [0, 2^62). */
uint64_t yp_key_hash(const char *key);
/* One node of a dataset's tree: parent 0 for the root, height -1 for a leaf; items and bytes are a leaf's
 * (the triggers' counts), 0 for a manager. */
struct yp_ds_row {
	int64_t id, dataset, parent;
	int height;
	uint64_t lo, hi, items, bytes;
};
/* Make directory dir (its objects row already in) a dataset with these limits (canonical text). */
int yp_ds_add(struct yp *yp, int64_t dir, const char *limits);
/* fn for every dataset: its directory's id and limits, with meta's lock held (no store call in fn). */
int yp_each_ds(struct yp *yp, int (*fn)(void *arg, int64_t dir, const char *limits), void *arg);
/* fn for every tree node of dataset ds, by height (leaves first) then lo, with meta's lock held. */
int yp_each_ds_row(struct yp *yp, int64_t ds, int (*fn)(void *arg, const struct yp_ds_row *r), void *arg);
/* Insert or change a tree node: every column but the counts, which only the triggers write. */
int yp_ds_put_row(struct yp *yp, const struct yp_ds_row *r);
int yp_ds_del_row(struct yp *yp, int64_t id);
/* The items of leaf `from` whose hash is in [lo, hi) now belong to leaf `to` (their counts follow). */
int yp_ds_move_items(struct yp *yp, int64_t from, int64_t to, uint64_t lo, uint64_t hi);
/* Where to split a leaf: the median hash of its items, or the least above lo when the median is lo;
 * -ENOENT when no item hash lies above lo (nothing to split). */
int yp_ds_median(struct yp *yp, int64_t leaf, uint64_t lo, uint64_t *mid);
/* The greatest tree node id of every dataset (0 when none). */
int yp_ds_max_row(struct yp *yp, int64_t *max);
/* The leaf holding object id as an item: 0 with its id in *leaf, or -ENOENT (not an item). */
int yp_ds_leaf_of(struct yp *yp, int64_t id, int64_t *leaf);

#endif
