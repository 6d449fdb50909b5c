/* SPDX-License-Identifier: MIT */
/* yp_objects.c -- the store's tables in the yellow pages: objects, blocks and extents (see yp.h).
 *
 * core/store is their one writer.  A directory is a row of objects like a variable (one id space, so a
 * rename is one UPDATE); an object's bytes are found through its extent, which names a block and where in
 * it they are.  yp_each_object joins each object with its first extent and that extent's block, so a
 * restart rebuilds the namespace and finds every variable's bytes in one walk.  Optional columns are SQL
 * NULL when unset (a parent or node of 0, a type, doc or xxh3 of NULL, a sealed_ns of 0). */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>

#include "meta/ypInt.h"

static const char *const obj_sql[ST_COUNT] = {
	[ST_OBJ_INSERT] = "INSERT INTO objects(parent, name, kind, state, type, doc, xxh3, scope, node, size,"
			  " mode, uid, gid, created_ns, modified_ns, sealed_ns, target, alias_of, id, refs, keyhash)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
	[ST_OBJ_UPDATE] = "UPDATE objects SET parent = ?2, name = ?3, state = ?4, type = ?5, doc = ?6,"
			  " xxh3 = ?7, scope = ?8, size = ?9, mode = ?10, uid = ?11, gid = ?12,"
			  " modified_ns = ?13, sealed_ns = ?14, refs = ?15, keyhash = ?16 WHERE id = ?1",
	[ST_OBJ_DELETE] = "DELETE FROM objects WHERE id = ?1",
	[ST_OBJ_EACH] = YP_OBJ_SELECT " ORDER BY o.id",
	[ST_OBJ_MAX] = "SELECT max(coalesce((SELECT max(id) FROM objects), 0),"
		       " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'objects'), 0))",
	[ST_BLOCK_MAX] = "SELECT max(coalesce((SELECT max(id) FROM blocks), 0),"
			 " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'blocks'), 0))",
	[ST_BLOCK_INSERT] = "INSERT INTO blocks(id, node, shm_name, size, kind) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_BLOCK_SIZE] = "UPDATE blocks SET size = ?2 WHERE id = ?1",
	[ST_BLOCK_DELETE] = "DELETE FROM blocks WHERE id = ?1",
	[ST_BLOCK_EACH] = "SELECT b.id, b.shm_name, EXISTS (SELECT 1 FROM extents e WHERE e.block = b.id)"
			  " FROM blocks b ORDER BY b.id",
	[ST_EXTENT_SET] = "INSERT OR REPLACE INTO extents(object, block, offset, length) VALUES (?1, ?2, ?3, ?4)",
	[ST_EXTENT_MOVE] = "UPDATE extents SET block = ?2, offset = ?3, length = ?4 WHERE object = ?1",
	[ST_EXTENT_DELETE] = "DELETE FROM extents WHERE object = ?1",
};

static sqlite3_stmt *stmt(struct yp *yp, enum yp_stmt id)
{
	return yp_stmt(yp, id, obj_sql[id]);
}

/* ---- objects ---- */

int yp_obj_insert(struct yp *yp, struct yp_obj *o)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_OBJ_INSERT);
	if (s) {
		yp_bind_int(s, 1, o->parent);
		sqlite3_bind_text(s, 2, o->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, o->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, o->state, -1, SQLITE_STATIC);
		yp_bind_text(s, 5, o->type);
		yp_bind_text(s, 6, o->doc);
		yp_bind_text(s, 7, o->xxh3);
		sqlite3_bind_text(s, 8, o->scope ? o->scope : "any", -1, SQLITE_TRANSIENT);
		yp_bind_int(s, 9, o->node);
		sqlite3_bind_int64(s, 10, (int64_t)o->size);
		sqlite3_bind_int(s, 11, (int)o->mode);
		sqlite3_bind_int64(s, 12, o->uid);
		sqlite3_bind_int64(s, 13, o->gid);
		sqlite3_bind_int64(s, 14, o->created_ns);
		sqlite3_bind_int64(s, 15, o->modified_ns);
		yp_bind_int(s, 16, o->sealed_ns);
		yp_bind_text(s, 17, o->target);
		yp_bind_int(s, 18, o->alias_of);
		yp_bind_int(s, 19, o->id); /* NULL: the next AUTOINCREMENT id */
		yp_bind_text(s, 20, o->refs);
		sqlite3_bind_int64(s, 21, (sqlite3_int64)yp_key_hash(o->name));
		rc = yp_exec(yp, s, "object insert");
		if (rc == 0)
			o->id = sqlite3_last_insert_rowid(yp->db);
	}
	yp_unlock(yp);
	return rc;
}

int yp_obj_update(struct yp *yp, const struct yp_obj *o)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_OBJ_UPDATE);
	if (s) {
		sqlite3_bind_int64(s, 1, o->id);
		yp_bind_int(s, 2, o->parent);
		sqlite3_bind_text(s, 3, o->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 4, o->state, -1, SQLITE_STATIC);
		yp_bind_text(s, 5, o->type);
		yp_bind_text(s, 6, o->doc);
		yp_bind_text(s, 7, o->xxh3);
		sqlite3_bind_text(s, 8, o->scope ? o->scope : "any", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 9, (int64_t)o->size);
		sqlite3_bind_int(s, 10, (int)o->mode);
		sqlite3_bind_int64(s, 11, o->uid);
		sqlite3_bind_int64(s, 12, o->gid);
		sqlite3_bind_int64(s, 13, o->modified_ns);
		yp_bind_int(s, 14, o->sealed_ns);
		yp_bind_text(s, 15, o->refs);
		sqlite3_bind_int64(s, 16, (sqlite3_int64)yp_key_hash(o->name));
		rc = yp_exec(yp, s, "object update");
	}
	yp_unlock(yp);
	return rc;
}

int yp_obj_delete(struct yp *yp, int64_t id)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_OBJ_DELETE);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		rc = yp_exec(yp, s, "object delete");
	}
	yp_unlock(yp);
	return rc;
}

int yp_obj_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	struct yp_obj_walk *w = arg;
	struct yp_obj o = {
		.id = sqlite3_column_int64(s, 0),
		.parent = sqlite3_column_int64(s, 1),
		.name = yp_col_text(s, 2),
		.kind = yp_col_text(s, 3),
		.state = yp_col_text(s, 4),
		.type = yp_col_text(s, 5),
		.doc = yp_col_text(s, 6),
		.xxh3 = yp_col_text(s, 7),
		.scope = yp_col_text(s, 8),
		.node = sqlite3_column_int64(s, 9),
		.size = (uint64_t)sqlite3_column_int64(s, 10),
		.mode = (uint32_t)sqlite3_column_int(s, 11),
		.uid = (uint32_t)sqlite3_column_int64(s, 12),
		.gid = (uint32_t)sqlite3_column_int64(s, 13),
		.created_ns = sqlite3_column_int64(s, 14),
		.modified_ns = sqlite3_column_int64(s, 15),
		.sealed_ns = sqlite3_column_int64(s, 16),
		.block = sqlite3_column_int64(s, 17),
		.shm_name = yp_col_text(s, 18),
		.offset = (uint64_t)sqlite3_column_int64(s, 19),
		.length = (uint64_t)sqlite3_column_int64(s, 20),
		.block_kind = yp_col_text(s, 21),
		.target = yp_col_text(s, 22),
		.alias_of = sqlite3_column_int64(s, 23),
		.refs = yp_col_text(s, 24),
	};

	(void)yp;
	return w->fn(w->arg, &o);
}

int yp_each_object(struct yp *yp, int (*fn)(void *arg, const struct yp_obj *o), void *arg)
{
	sqlite3_stmt *s;
	struct yp_obj_walk w = { fn, arg };
	int rc;

	yp_lock(yp);
	s = stmt(yp, ST_OBJ_EACH);
	rc = s ? yp_rows(yp, s, "object list", yp_obj_row, &w) : -EIO;
	yp_unlock(yp);
	return rc;
}

/* ---- blocks ---- */

static int max_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	(void)yp;
	*(int64_t *)arg = sqlite3_column_int64(s, 0);
	return 0;
}

/* The one number a max statement returns (objects' and blocks' ids: every id they have or had). */
static int max_of(struct yp *yp, enum yp_stmt id, const char *what, int64_t *max)
{
	sqlite3_stmt *s;
	int rc;

	yp_lock(yp);
	s = stmt(yp, id);
	rc = s ? yp_rows(yp, s, what, max_row, max) : -EIO;
	yp_unlock(yp);
	return rc;
}

int yp_obj_max_id(struct yp *yp, int64_t *max)
{
	return max_of(yp, ST_OBJ_MAX, "object max", max);
}

int yp_block_max_id(struct yp *yp, int64_t *max)
{
	return max_of(yp, ST_BLOCK_MAX, "block max", max);
}

int yp_block_insert(struct yp *yp, int64_t id, int64_t node, const char *shm_name, uint64_t size,
		    const char *kind)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_BLOCK_INSERT);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, node);
		sqlite3_bind_text(s, 3, shm_name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 4, (int64_t)size);
		sqlite3_bind_text(s, 5, kind, -1, SQLITE_STATIC);
		rc = yp_exec(yp, s, "block insert");
	}
	yp_unlock(yp);
	return rc;
}

int yp_block_set_size(struct yp *yp, int64_t id, uint64_t size)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_BLOCK_SIZE);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, (int64_t)size);
		rc = yp_exec(yp, s, "block size");
	}
	yp_unlock(yp);
	return rc;
}

int yp_block_delete(struct yp *yp, int64_t id)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_BLOCK_DELETE);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		rc = yp_exec(yp, s, "block delete");
	}
	yp_unlock(yp);
	return rc;
}

struct block_walk {
	int (*fn)(void *arg, int64_t id, const char *shm_name, int used);
	void *arg;
};

static int block_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	struct block_walk *w = arg;

	(void)yp;
	return w->fn(w->arg, sqlite3_column_int64(s, 0), yp_col_text(s, 1), sqlite3_column_int(s, 2));
}

int yp_each_block(struct yp *yp, int (*fn)(void *arg, int64_t id, const char *shm_name, int used), void *arg)
{
	sqlite3_stmt *s;
	struct block_walk w = { fn, arg };
	int rc;

	yp_lock(yp);
	s = stmt(yp, ST_BLOCK_EACH);
	rc = s ? yp_rows(yp, s, "block list", block_row, &w) : -EIO;
	yp_unlock(yp);
	return rc;
}

/* ---- extents ---- */

/* set and move bind the same (object, block, offset, length); *changes, when asked, is read before anyone
 * else can step a statement */
static int extent_exec(struct yp *yp, enum yp_stmt id, int64_t obj, int64_t block, uint64_t offset,
		       uint64_t length, const char *what, int *changes)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, id);
	if (s) {
		sqlite3_bind_int64(s, 1, obj);
		sqlite3_bind_int64(s, 2, block);
		sqlite3_bind_int64(s, 3, (int64_t)offset);
		sqlite3_bind_int64(s, 4, (int64_t)length);
		rc = yp_exec(yp, s, what);
		if (rc == 0 && changes)
			*changes = sqlite3_changes(yp->db);
	}
	yp_unlock(yp);
	return rc;
}

int yp_extent_set(struct yp *yp, int64_t obj, int64_t block, uint64_t offset, uint64_t length)
{
	return extent_exec(yp, ST_EXTENT_SET, obj, block, offset, length, "extent set", NULL);
}

int yp_extent_move(struct yp *yp, int64_t obj, int64_t block, uint64_t offset, uint64_t length)
{
	int changes = 0;
	int rc = extent_exec(yp, ST_EXTENT_MOVE, obj, block, offset, length, "extent move", &changes);

	if (rc == 0 && changes == 0)
		rc = -ENOENT;
	return rc;
}

int yp_extent_delete(struct yp *yp, int64_t obj)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_EXTENT_DELETE);
	if (s) {
		sqlite3_bind_int64(s, 1, obj);
		rc = yp_exec(yp, s, "extent delete");
	}
	yp_unlock(yp);
	return rc;
}
