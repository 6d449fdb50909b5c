/* SPDX-License-Identifier: MIT */
/* yp_datasets.c -- the keyed datasets' rows (yp.h; schema version 8 in yp.c): which directories are
 * datasets, their trees, and the statements a split or merge is made of.  The items themselves are kept
 * by the schema's triggers; core/dataset decides what the tree becomes and brackets its changes in one
 * transaction (yp_begin/yp_commit), so the old tree or the new is what a crash leaves. */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <xxhash.h>

#include "meta/ypInt.h"

static const char *const ds_sql[ST_COUNT] = {
	[ST_DS_ADD] = "INSERT INTO datasets(id, limits) VALUES (?1, ?2)",
	[ST_DS_EACH] = "SELECT id, limits FROM datasets ORDER BY id",
	[ST_DS_ROWS] = "SELECT id, dataset, parent, height, lo, hi, items, bytes FROM dataset_tree"
		       " WHERE dataset = ?1 ORDER BY height, lo",
	[ST_DS_PUT] = "INSERT INTO dataset_tree(id, dataset, parent, height, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		      " ON CONFLICT(id) DO UPDATE SET parent = excluded.parent, height = excluded.height,"
		      " lo = excluded.lo, hi = excluded.hi",
	[ST_DS_DEL] = "DELETE FROM dataset_tree WHERE id = ?1",
	[ST_DS_MOVE] = "UPDATE dataset_items SET leaf = ?2 WHERE leaf = ?1 AND hash >= ?3 AND hash < ?4",
	[ST_DS_COUNT_OF] = "SELECT count(*) FROM dataset_items WHERE leaf = ?1",
	[ST_DS_NTH] = "SELECT hash FROM dataset_items WHERE leaf = ?1 ORDER BY hash LIMIT 1 OFFSET ?2",
	[ST_DS_ABOVE] = "SELECT min(hash) FROM dataset_items WHERE leaf = ?1 AND hash > ?2",
	[ST_DS_MAX] = "SELECT coalesce(max(id), 0) FROM dataset_tree",
	[ST_DS_LEAF_OF] = "SELECT leaf FROM dataset_items WHERE id = ?1",
};

static sqlite3_stmt *stmt(struct yp *yp, enum yp_stmt id)
{
	return yp_stmt(yp, id, ds_sql[id]);
}

uint64_t yp_key_hash(const char *key)
{
	return XXH3_64bits(key, strlen(key)) >> 2;
}

int yp_ds_add(struct yp *yp, int64_t dir, const char *limits)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_ADD))) {
		sqlite3_bind_int64(s, 1, dir);
		sqlite3_bind_text(s, 2, limits, -1, SQLITE_TRANSIENT);
		rc = yp_exec(yp, s, "dataset add");
	}
	yp_unlock(yp);
	return rc;
}

struct ds_walk {
	int (*each)(void *arg, int64_t dir, const char *limits);
	int (*row)(void *arg, const struct yp_ds_row *r);
	void *arg;
};

static int ds_each_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	struct ds_walk *w = arg;

	(void)yp;
	return w->each(w->arg, sqlite3_column_int64(s, 0), yp_col_text(s, 1));
}

int yp_each_ds(struct yp *yp, int (*fn)(void *arg, int64_t dir, const char *limits), void *arg)
{
	struct ds_walk w = { .each = fn, .arg = arg };
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_EACH)))
		rc = yp_rows(yp, s, "datasets", ds_each_row, &w);
	yp_unlock(yp);
	return rc;
}

static int tree_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	struct ds_walk *w = arg;
	struct yp_ds_row r = {
		.id = sqlite3_column_int64(s, 0),
		.dataset = sqlite3_column_int64(s, 1),
		.parent = sqlite3_column_int64(s, 2),
		.height = sqlite3_column_int(s, 3),
		.lo = (uint64_t)sqlite3_column_int64(s, 4),
		.hi = (uint64_t)sqlite3_column_int64(s, 5),
		.items = (uint64_t)sqlite3_column_int64(s, 6),
		.bytes = (uint64_t)sqlite3_column_int64(s, 7),
	};

	(void)yp;
	return w->row(w->arg, &r);
}

int yp_each_ds_row(struct yp *yp, int64_t ds, int (*fn)(void *arg, const struct yp_ds_row *r), void *arg)
{
	struct ds_walk w = { .row = fn, .arg = arg };
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_ROWS))) {
		sqlite3_bind_int64(s, 1, ds);
		rc = yp_rows(yp, s, "dataset tree", tree_row, &w);
	}
	yp_unlock(yp);
	return rc;
}

int yp_ds_put_row(struct yp *yp, const struct yp_ds_row *r)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_PUT))) {
		sqlite3_bind_int64(s, 1, r->id);
		sqlite3_bind_int64(s, 2, r->dataset);
		sqlite3_bind_int64(s, 3, r->parent);
		sqlite3_bind_int(s, 4, r->height);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)r->lo);
		sqlite3_bind_int64(s, 6, (sqlite3_int64)r->hi);
		rc = yp_exec(yp, s, "dataset tree put");
	}
	yp_unlock(yp);
	return rc;
}

int yp_ds_del_row(struct yp *yp, int64_t id)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_DEL))) {
		sqlite3_bind_int64(s, 1, id);
		rc = yp_exec(yp, s, "dataset tree delete");
	}
	yp_unlock(yp);
	return rc;
}

int yp_ds_move_items(struct yp *yp, int64_t from, int64_t to, uint64_t lo, uint64_t hi)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_MOVE))) {
		sqlite3_bind_int64(s, 1, from);
		sqlite3_bind_int64(s, 2, to);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)lo);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)hi);
		rc = yp_exec(yp, s, "dataset items move");
	}
	yp_unlock(yp);
	return rc;
}

/* One integer of a one-row statement (bound by the caller) into *v; -ENOENT for no row or NULL. */
static int one_int(struct yp *yp, sqlite3_stmt *s, const char *what, int64_t *v)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		*v = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? -ENOENT : yp_errno(yp, rc, what);
	}
	yp_done(s);
	return rc;
}

int yp_ds_median(struct yp *yp, int64_t leaf, uint64_t lo, uint64_t *mid)
{
	sqlite3_stmt *s;
	int64_t n = 0, h = 0;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_COUNT_OF))) {
		sqlite3_bind_int64(s, 1, leaf);
		rc = one_int(yp, s, "dataset leaf count", &n);
	}
	if (rc == 0 && (s = stmt(yp, ST_DS_NTH))) {
		sqlite3_bind_int64(s, 1, leaf);
		sqlite3_bind_int64(s, 2, n / 2);
		rc = one_int(yp, s, "dataset median", &h);
	}
	if (rc == 0 && (uint64_t)h <= lo && (s = stmt(yp, ST_DS_ABOVE))) {
		sqlite3_bind_int64(s, 1, leaf);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)lo);
		rc = one_int(yp, s, "dataset hash above", &h);
	}
	if (rc == 0)
		*mid = (uint64_t)h;
	yp_unlock(yp);
	return rc;
}

int yp_ds_max_row(struct yp *yp, int64_t *max)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_MAX)))
		rc = one_int(yp, s, "dataset tree max", max);
	yp_unlock(yp);
	return rc;
}

int yp_ds_leaf_of(struct yp *yp, int64_t id, int64_t *leaf)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	if ((s = stmt(yp, ST_DS_LEAF_OF))) {
		sqlite3_bind_int64(s, 1, id);
		rc = one_int(yp, s, "dataset item leaf", leaf);
	}
	yp_unlock(yp);
	return rc;
}
