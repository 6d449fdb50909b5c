/* SPDX-License-Identifier: MIT */
/* ypInt.h -- what meta/'s files share (see yp.h); included by meta/ only, so SQLite's types may appear.
 *
 * yp.c is the database itself: the connection, the schema and its upgrades, transactions, the node row,
 * and the helpers below (statements, result codes, the one loop that steps rows).  yp_objects.c keeps the
 * store's tables: objects, blocks and extents.  yp_tasks.c keeps the tasks table.  yp_wal.c checkpoints the WAL
 * off the request path.  yp_remote.c is what several nodes need: one object's row, the watch of changed
 * objects (SQLite's update and commit hooks), the mirror of the other nodes' objects; yp_moves.c the moves
 * this node has begun; yp_datasets.c the keyed datasets' trees.
 *
 * Statements: each file keeps the SQL of its own ids (enum yp_stmt below) in a table of its own and asks
 * yp_stmt for the prepared statement, which is made once and kept in struct yp. */
#ifndef FABRIC_META_YPINT_H
#define FABRIC_META_YPINT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "meta/yp.h"

#define YP_BUSY_MS 5000 /* how long a call waits for another connection's lock (sqlite3 readers, checkpoints) */

enum yp_stmt {
	/* yp.c */
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_NODE_GET,
	ST_NODE_ADD,
	ST_NODE_UPDATE,
	/* yp_objects.c */
	ST_OBJ_INSERT,
	ST_OBJ_UPDATE,
	ST_OBJ_DELETE,
	ST_OBJ_EACH,
	ST_OBJ_MAX,
	ST_BLOCK_MAX,
	ST_BLOCK_INSERT,
	ST_BLOCK_SIZE,
	ST_BLOCK_DELETE,
	ST_BLOCK_EACH,
	ST_EXTENT_SET,
	ST_EXTENT_MOVE,
	ST_EXTENT_DELETE,
	/* yp_tasks.c */
	ST_TASK_INSERT,
	ST_TASK_UPDATE,
	ST_TASK_DELETE,
	ST_TASK_EACH,
	/* yp_remote.c */
	ST_OBJ_FIND,
	ST_OBJ_ALIASES,
	ST_REMOTE_PUT,
	ST_REMOTE_DELETE,
	ST_REMOTE_CLEAR,
	ST_REMOTE_EACH,
	/* yp_moves.c */
	ST_MOVE_BEGIN,
	ST_MOVE_END,
	ST_MOVE_EACH,
	ST_MOVE_BETWEEN,
	/* yp_datasets.c */
	ST_DS_ADD,
	ST_DS_EACH,
	ST_DS_ROWS,
	ST_DS_PUT,
	ST_DS_DEL,
	ST_DS_MOVE,
	ST_DS_COUNT_OF,
	ST_DS_NTH,
	ST_DS_ABOVE,
	ST_DS_MAX,
	ST_DS_LEAF_OF,
	ST_COUNT
};

/* lock (yp.h, "Threads") guards the connection, its statements, depth and failed.  Every public call
 * takes it; yp_begin keeps it, one level per call, until the matching yp_commit or yp_rollback gives that
 * level back, so a transaction belongs to one thread from BEGIN to COMMIT.  It is recursive: the thread
 * holding it enters it again for each call inside its own transaction, and for a call from a walk's
 * callback.  meta takes no other lock while it holds it: it is innermost. */
struct yp {
	pthread_mutex_t lock;
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	int depth; /* nesting of yp_begin, by the thread that holds lock */
	int failed; /* an inner level rolled back: the outermost commit must roll back too */

	/* yp_wal.c: the checkpointer, its own connection, and wal_lock (a leaf) over the two flags */
	sqlite3 *wal_db;
	pthread_t wal_thread;
	pthread_mutex_t wal_lock;
	pthread_cond_t wal_cond, wal_done;
	bool wal_due, wal_stop, wal_restart; /* a pass asked for; stopping; a writer waits for a RESTART */
	int wal_restart_rc;                  /* how its RESTART went */
	int wal_last;       /* the WAL's pages at the last pass */
	int wal_restart_at; /* pages at which a commit runs a RESTART checkpoint itself (the hook's own) */

	/* yp_remote.c: the watcher of objects' rows, and the ids changed since the last commit */
	void (*watch_fn)(void *arg, const int64_t *ids, size_t n);
	void *watch_arg;
	int64_t *changed;
	size_t nchanged, changed_cap;
	bool changed_lost; /* out of memory while collecting: the watcher is told of id 0 (everything) */
};

/* yp_wal.c: checkpoints by a thread of their own on a second connection (see there); start after the
 * schema is in place (-errno: SQLite's own checkpoints stay), stop before the connection closes. */
int yp_wal_start(struct yp *yp, const char *path);
void yp_wal_stop(struct yp *yp);

static inline void yp_lock(struct yp *yp)
{
	pthread_mutex_lock(&yp->lock);
}

static inline void yp_unlock(struct yp *yp)
{
	pthread_mutex_unlock(&yp->lock);
}

/* The helpers: called with yp->lock held (they use the connection, or hand on what it returned). */

/* A SQLite result code as a negative errno (0 for OK, DONE and ROW), logging what failed and SQLite's
 * message: CONSTRAINT -> -EEXIST, FULL -> -ENOSPC, BUSY/LOCKED -> -EBUSY, anything else -> -EIO. */
int yp_errno(struct yp *yp, int rc, const char *what);
/* The statement for id, prepared from sql on first use (NULL, logged, when it cannot be). */
sqlite3_stmt *yp_stmt(struct yp *yp, enum yp_stmt id, const char *sql);
/* Reset s and clear its bindings, for the next call. */
void yp_done(sqlite3_stmt *s);
/* Step a statement that returns no rows, then yp_done it. */
int yp_exec(struct yp *yp, sqlite3_stmt *s, const char *what);
/* Step s to its end, calling row for each row (it decodes the columns and hands them on); then yp_done
 * it.  A non-zero return of row stops the walk and is returned; SQLite's failure is yp_errno(what). */
int yp_rows(struct yp *yp, sqlite3_stmt *s, const char *what,
	    int (*row)(struct yp *yp, sqlite3_stmt *s, void *arg), void *arg);
/* Bind parameter i: text v, or SQL NULL for NULL; integer v, or SQL NULL for 0 (no parent, no node, not
 * sealed). */
void yp_bind_text(sqlite3_stmt *s, int i, const char *v);
void yp_bind_int(sqlite3_stmt *s, int i, int64_t v);
/* Column i as text: NULL for SQL NULL. */
const char *yp_col_text(sqlite3_stmt *s, int i);

/* yp_objects.c: the columns of struct yp_obj, for every statement that hands objects out (append a WHERE
 * or ORDER BY), and the row callback of yp_rows that decodes them and calls w->fn. */
#define YP_OBJ_SELECT                                                                                    \
	"SELECT o.id, o.parent, o.name, o.kind, o.state, o.type, o.doc, o.xxh3, o.scope, o.node,"          \
	" o.size, o.mode, o.uid, o.gid, o.created_ns, o.modified_ns, o.sealed_ns,"                           \
	" e.block, b.shm_name, e.offset, e.length, b.kind, o.target, o.alias_of, o.refs"                            \
	" FROM objects o LEFT JOIN extents e ON e.rowid ="                                                    \
	" (SELECT rowid FROM extents WHERE object = o.id ORDER BY offset LIMIT 1)"                            \
	" LEFT JOIN blocks b ON b.id = e.block"
struct yp_obj_walk {
	int (*fn)(void *arg, const struct yp_obj *o);
	void *arg;
};
int yp_obj_row(struct yp *yp, sqlite3_stmt *s, void *arg);

#endif
