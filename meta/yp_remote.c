/* SPDX-License-Identifier: MIT */
/* yp_remote.c -- what several nodes need of the yellow pages (yp.h): one object's row, the watch of the
 * objects whose rows change, and the table remote, the mirror of the other nodes' objects.
 *
 * The watch rides on SQLite's own hooks, so no writer of objects (core/store, in many places) has to
 * remember to report its changes: the update hook collects the rowids of objects that any statement
 * inserts, updates or deletes, the commit hook hands them to the watcher as the transaction commits (an
 * autocommit statement's too), the rollback hook forgets them.  The watcher reads the rows again
 * afterwards (yp_obj_find), under meta's mutex, so it sees what was committed, whatever the hook saw. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meta/ypInt.h"

static const char *const remote_sql[ST_COUNT] = {
	[ST_OBJ_FIND] = YP_OBJ_SELECT " WHERE o.id = ?1",
	[ST_OBJ_ALIASES] = "SELECT id FROM objects WHERE alias_of = ?1 ORDER BY id",
	[ST_REMOTE_PUT] = "INSERT OR REPLACE INTO remote(node, id, parent, name, kind, type, doc, xxh3, scope, size,"
			  " mode, uid, gid, modified_ns, sealed_ns, target, shm, offset, refs)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
	[ST_REMOTE_DELETE] = "DELETE FROM remote WHERE node = ?1 AND id = ?2",
	[ST_REMOTE_CLEAR] = "DELETE FROM remote",
	[ST_REMOTE_EACH] = "SELECT node, id, parent, name, kind, type, doc, xxh3, scope, size, mode, uid, gid,"
			   " modified_ns, sealed_ns, target, shm, offset, refs FROM remote",
};

static sqlite3_stmt *stmt(struct yp *yp, enum yp_stmt id)
{
	return yp_stmt(yp, id, remote_sql[id]);
}

int yp_obj_find(struct yp *yp, int64_t id, int (*fn)(void *arg, const struct yp_obj *o), void *arg)
{
	struct yp_obj_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	yp_lock(yp);
	s = stmt(yp, ST_OBJ_FIND);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			rc = yp_obj_row(yp, s, &w);
		} else {
			rc = rc == SQLITE_DONE ? -ENOENT : yp_errno(yp, rc, "object find");
		}
		yp_done(s);
	} else {
		rc = -EIO;
	}
	yp_unlock(yp);
	return rc;
}

int yp_obj_aliases(struct yp *yp, int64_t id, int64_t **ids, size_t *n)
{
	int64_t *v = NULL;
	size_t k = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	yp_lock(yp);
	s = stmt(yp, ST_OBJ_ALIASES);
	if (!s) {
		yp_unlock(yp);
		return -EIO;
	}
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (k == cap) {
			int64_t *w = realloc(v, (cap = cap ? cap * 2 : 4) * sizeof(*v));
			if (!w) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = w;
		}
		v[k++] = sqlite3_column_int64(s, 0);
	}
	rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : yp_errno(yp, rc, "aliases of an object");
	yp_done(s);
	yp_unlock(yp);
	if (rc) {
		free(v);
		v = NULL;
		k = 0;
	}
	*ids = v;
	*n = k;
	return rc;
}

/* ---- the watch ---- */

static void on_update(void *arg, int op, const char *db, const char *table, sqlite3_int64 rowid)
{
	struct yp *yp = arg;

	(void)op;
	(void)db;
	if (strcmp(table, "objects") != 0 || yp->changed_lost)
		return;
	if (yp->nchanged == yp->changed_cap) {
		size_t cap = yp->changed_cap ? yp->changed_cap * 2 : 256;
		int64_t *v = realloc(yp->changed, cap * sizeof(*v));
		if (!v) {
			yp->changed_lost = true;
			return;
		}
		yp->changed = v;
		yp->changed_cap = cap;
	}
	yp->changed[yp->nchanged++] = rowid;
}

static int on_commit(void *arg)
{
	struct yp *yp = arg;
	int64_t all = 0;

	if (yp->watch_fn && (yp->nchanged || yp->changed_lost))
		yp->watch_fn(yp->watch_arg, yp->changed_lost ? &all : yp->changed, yp->changed_lost ? 1 : yp->nchanged);
	yp->nchanged = 0;
	yp->changed_lost = false;
	return 0; /* the commit goes ahead */
}

static void on_rollback(void *arg)
{
	struct yp *yp = arg;

	yp->nchanged = 0;
	yp->changed_lost = false;
}

void yp_watch_objects(struct yp *yp, void (*fn)(void *arg, const int64_t *ids, size_t n), void *arg)
{
	yp_lock(yp);
	yp->watch_fn = fn;
	yp->watch_arg = arg;
	sqlite3_update_hook(yp->db, fn ? on_update : NULL, fn ? yp : NULL);
	sqlite3_commit_hook(yp->db, fn ? on_commit : NULL, fn ? yp : NULL);
	sqlite3_rollback_hook(yp->db, fn ? on_rollback : NULL, fn ? yp : NULL);
	if (!fn) {
		free(yp->changed);
		yp->changed = NULL;
		yp->nchanged = yp->changed_cap = 0;
	}
	yp_unlock(yp);
}

/* ---- the mirror ---- */

int yp_remote_put(struct yp *yp, const struct yp_remote *r)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_REMOTE_PUT);
	if (s) {
		sqlite3_bind_text(s, 1, r->node, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, r->id);
		sqlite3_bind_int64(s, 3, r->parent);
		sqlite3_bind_text(s, 4, r->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 5, r->kind, -1, SQLITE_TRANSIENT);
		yp_bind_text(s, 6, r->type);
		yp_bind_text(s, 7, r->doc);
		yp_bind_text(s, 8, r->xxh3);
		sqlite3_bind_text(s, 9, r->scope ? r->scope : "any", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 10, (int64_t)r->size);
		sqlite3_bind_int(s, 11, (int)r->mode);
		sqlite3_bind_int64(s, 12, r->uid);
		sqlite3_bind_int64(s, 13, r->gid);
		sqlite3_bind_int64(s, 14, r->modified_ns);
		yp_bind_int(s, 15, r->sealed_ns);
		yp_bind_text(s, 16, r->target);
		yp_bind_text(s, 17, r->shm);
		sqlite3_bind_int64(s, 18, (int64_t)r->offset);
		yp_bind_text(s, 19, r->refs);
		rc = yp_exec(yp, s, "remote put");
	}
	yp_unlock(yp);
	return rc;
}

int yp_remote_delete(struct yp *yp, const char *node, int64_t id)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_REMOTE_DELETE);
	if (s) {
		sqlite3_bind_text(s, 1, node, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, id);
		rc = yp_exec(yp, s, "remote delete");
	}
	yp_unlock(yp);
	return rc;
}

int yp_remote_clear(struct yp *yp)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_REMOTE_CLEAR);
	if (s)
		rc = yp_exec(yp, s, "remote clear");
	yp_unlock(yp);
	return rc;
}

struct remote_walk {
	int (*fn)(void *arg, const struct yp_remote *r);
	void *arg;
};

static int remote_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	struct remote_walk *w = arg;
	struct yp_remote r = {
		.node = yp_col_text(s, 0),
		.id = sqlite3_column_int64(s, 1),
		.parent = sqlite3_column_int64(s, 2),
		.name = yp_col_text(s, 3),
		.kind = yp_col_text(s, 4),
		.type = yp_col_text(s, 5),
		.doc = yp_col_text(s, 6),
		.xxh3 = yp_col_text(s, 7),
		.scope = yp_col_text(s, 8),
		.size = (uint64_t)sqlite3_column_int64(s, 9),
		.mode = (uint32_t)sqlite3_column_int(s, 10),
		.uid = (uint32_t)sqlite3_column_int64(s, 11),
		.gid = (uint32_t)sqlite3_column_int64(s, 12),
		.modified_ns = sqlite3_column_int64(s, 13),
		.sealed_ns = sqlite3_column_int64(s, 14),
		.target = yp_col_text(s, 15),
		.shm = yp_col_text(s, 16),
		.offset = (uint64_t)sqlite3_column_int64(s, 17),
		.refs = yp_col_text(s, 18),
	};

	(void)yp;
	return r.node && r.name && r.kind ? w->fn(w->arg, &r) : 0;
}

int yp_each_remote(struct yp *yp, int (*fn)(void *arg, const struct yp_remote *r), void *arg)
{
	struct remote_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_REMOTE_EACH);
	if (s)
		rc = yp_rows(yp, s, "remote each", remote_row, &w);
	yp_unlock(yp);
	return rc;
}
