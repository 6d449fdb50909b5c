/* SPDX-License-Identifier: MIT */
/* yp.c -- the yellow pages in SQLite (see yp.h).
 *
 * DESIGN
 * Statements are prepared once, on first use, with SQLITE_PREPARE_PERSISTENT, and kept in an array
 * indexed by enum stmt_id; each call binds, steps and resets.  SQLite result codes become negative errnos
 * here, at meta/'s edge: SQLITE_CONSTRAINT -> -EEXIST (a unique name), SQLITE_FULL -> -ENOSPC,
 * SQLITE_BUSY/LOCKED -> -EBUSY, anything else -> -EIO, each logged with sqlite3_errmsg().
 *
 * Durability: WAL with synchronous=NORMAL.  A commit has been write(2)n to the WAL before it returns, so a
 * crash of the daemon (kill -9) loses nothing committed; only a power loss can lose the last commits, and
 * a power loss wipes /dev/shm, the data itself, anyway.
 *
 * Schema history: user_version 1 is the first schema; 2 adds the kind 'mutable' (objects rebuilt, see
 * schema_v2); 3 adds tasks and the view task_cmds (schema_v3).  Older databases are upgraded in one
 * transaction at open; a database from a newer fabric is refused rather than guessed at. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/yp.h"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_NODE_GET,
	ST_NODE_ADD,
	ST_NODE_UPDATE,
	ST_OBJ_INSERT,
	ST_OBJ_UPDATE,
	ST_OBJ_DELETE,
	ST_OBJ_EACH,
	ST_BLOCK_MAX,
	ST_BLOCK_INSERT,
	ST_BLOCK_SIZE,
	ST_BLOCK_DELETE,
	ST_BLOCK_EACH,
	ST_EXTENT_SET,
	ST_EXTENT_MOVE,
	ST_EXTENT_DELETE,
	ST_TASK_INSERT,
	ST_TASK_UPDATE,
	ST_TASK_DELETE,
	ST_TASK_EACH,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_NODE_GET] = "SELECT id, name, shm_prefix, capacity, clean FROM nodes ORDER BY id LIMIT 1",
	[ST_NODE_ADD] = "INSERT INTO nodes(name, shm_prefix, capacity, clean) VALUES (?1, ?2, ?3, ?4)",
	[ST_NODE_UPDATE] = "UPDATE nodes SET capacity = ?2, clean = ?3 WHERE id = ?1",
	[ST_OBJ_INSERT] = "INSERT INTO objects(parent, name, kind, state, type, doc, xxh3, scope, node, size,"
			  " mode, uid, gid, created_ns, modified_ns, sealed_ns)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[ST_OBJ_UPDATE] = "UPDATE objects SET parent = ?2, name = ?3, state = ?4, type = ?5, doc = ?6,"
			  " xxh3 = ?7, scope = ?8, size = ?9, mode = ?10, uid = ?11, gid = ?12,"
			  " modified_ns = ?13, sealed_ns = ?14 WHERE id = ?1",
	[ST_OBJ_DELETE] = "DELETE FROM objects WHERE id = ?1",
	[ST_OBJ_EACH] = "SELECT o.id, o.parent, o.name, o.kind, o.state, o.type, o.doc, o.xxh3, o.scope, o.node,"
			" o.size, o.mode, o.uid, o.gid, o.created_ns, o.modified_ns, o.sealed_ns,"
			" e.block, b.shm_name, e.offset, e.length, b.kind"
			" FROM objects o LEFT JOIN extents e ON e.rowid ="
			" (SELECT rowid FROM extents WHERE object = o.id ORDER BY offset LIMIT 1)"
			" LEFT JOIN blocks b ON b.id = e.block ORDER BY o.id",
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
	[ST_TASK_INSERT] = "INSERT INTO tasks(state, argv, inputs, outputs, after, scope, node, placed, why, uid,"
			   " gid, groups, timeout_ms, exit_status, pid, pid_start, pidns, queued_ns, started_ns,"
			   " ended_ns, outputs_sealed)"
			   " VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
			   " ?19, ?20, ?21, ?22)",
	[ST_TASK_UPDATE] = "UPDATE tasks SET state = ?2, inputs = ?4, outputs = ?5, after = ?6, scope = ?7,"
			   " node = ?8, placed = ?9, why = ?10, uid = ?11, gid = ?12, groups = ?13,"
			   " timeout_ms = ?14, exit_status = ?15, pid = ?16, pid_start = ?17, pidns = ?18,"
			   " queued_ns = ?19, started_ns = ?20, ended_ns = ?21, outputs_sealed = ?22 WHERE id = ?1",
	[ST_TASK_DELETE] = "DELETE FROM tasks WHERE id = ?1",
	[ST_TASK_EACH] = "SELECT id, state, argv, inputs, outputs, after, scope, node, placed, why, uid, gid, groups,"
			 " timeout_ms, exit_status, pid, pid_start, pidns, queued_ns, started_ns, ended_ns, outputs_sealed"
			 " FROM tasks ORDER BY id",
};

/* Version 1.  Directories are rows of objects too (kind 'dir'), so one id space gives every name its
 * inode number, and a rename is one UPDATE whatever it moves. */
static const char schema_v1[] =
	"CREATE TABLE nodes("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  shm_prefix TEXT NOT NULL UNIQUE,"
	"  capacity INTEGER NOT NULL,"
	"  clean INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE blocks("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  node INTEGER NOT NULL REFERENCES nodes(id),"
	"  shm_name TEXT NOT NULL UNIQUE,"
	"  size INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('dedicated', 'slab')));"
	"CREATE TABLE objects("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  parent INTEGER REFERENCES objects(id),"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('dir', 'var')),"
	"  state TEXT NOT NULL CHECK (state IN ('writing', 'sealed', 'deleted', 'lost')),"
	"  type TEXT, doc TEXT, xxh3 TEXT,"
	"  scope TEXT NOT NULL DEFAULT 'any',"
	"  node INTEGER REFERENCES nodes(id),"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	"  created_ns INTEGER NOT NULL, modified_ns INTEGER NOT NULL, sealed_ns INTEGER);"
	"CREATE UNIQUE INDEX objects_by_name ON objects(parent, name) WHERE state IN ('writing', 'sealed');"
	"CREATE TABLE extents("
	"  object INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
	"  block INTEGER NOT NULL REFERENCES blocks(id),"
	"  offset INTEGER NOT NULL,"
	"  length INTEGER NOT NULL,"
	"  PRIMARY KEY (object, offset));"
	"CREATE INDEX extents_by_block ON extents(block);"
	/* Full paths under vars/, for people querying the YP. */
	"CREATE VIEW vars AS WITH RECURSIVE p(id, path) AS ("
	"  SELECT id, name FROM objects WHERE parent = 2 AND state IN ('writing', 'sealed')"
	"  UNION ALL SELECT o.id, p.path || '/' || o.name FROM objects o JOIN p ON o.parent = p.id"
	"  WHERE o.state IN ('writing', 'sealed'))"
	" SELECT p.path AS path, o.kind, o.type, o.doc, o.size, o.xxh3, o.scope, o.state, n.name AS node"
	" FROM p JOIN objects o ON o.id = p.id LEFT JOIN nodes n ON n.id = o.node;"
	"INSERT INTO objects(id, parent, name, kind, state, mode, uid, gid, created_ns, modified_ns)"
	"  VALUES (1, NULL, '', 'dir', 'sealed', 365, 0, 0, unixepoch() * 1000000000, unixepoch() * 1000000000),"
	"         (2, 1, 'vars', 'dir', 'sealed', 1023, 0, 0, unixepoch() * 1000000000, unixepoch() * 1000000000);"
	"PRAGMA user_version = 1;";

/* Version 2: kind 'mutable' (an object written in place, never sealed).  SQLite cannot change a CHECK
 * constraint in place, so objects is rebuilt; its AUTOINCREMENT counter is carried over, so no id (inode
 * number) is ever handed out twice. */
static const char schema_v2[] =
	"CREATE TABLE objects_v2("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  parent INTEGER REFERENCES objects(id),"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('dir', 'var', 'mutable')),"
	"  state TEXT NOT NULL CHECK (state IN ('writing', 'sealed', 'deleted', 'lost')),"
	"  type TEXT, doc TEXT, xxh3 TEXT,"
	"  scope TEXT NOT NULL DEFAULT 'any',"
	"  node INTEGER REFERENCES nodes(id),"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	"  created_ns INTEGER NOT NULL, modified_ns INTEGER NOT NULL, sealed_ns INTEGER);"
	"INSERT INTO objects_v2 SELECT id, parent, name, kind, state, type, doc, xxh3, scope, node, size, mode, uid,"
	"  gid, created_ns, modified_ns, sealed_ns FROM objects;"
	"CREATE TEMP TABLE seq AS SELECT seq FROM sqlite_sequence WHERE name = 'objects';"
	"DROP VIEW vars;"
	"DROP TABLE objects;"
	"ALTER TABLE objects_v2 RENAME TO objects;"
	"UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM temp.seq), 0)) WHERE name = 'objects';"
	"DROP TABLE temp.seq;"
	"CREATE UNIQUE INDEX objects_by_name ON objects(parent, name) WHERE state IN ('writing', 'sealed');"
	"CREATE VIEW vars AS WITH RECURSIVE p(id, path) AS ("
	"  SELECT id, name FROM objects WHERE parent = 2 AND state IN ('writing', 'sealed')"
	"  UNION ALL SELECT o.id, p.path || '/' || o.name FROM objects o JOIN p ON o.parent = p.id"
	"  WHERE o.state IN ('writing', 'sealed'))"
	" SELECT p.path AS path, o.kind, o.type, o.doc, o.size, o.xxh3, o.scope, o.state, n.name AS node"
	" FROM p JOIN objects o ON o.id = p.id LEFT JOIN nodes n ON n.id = o.node;"
	"PRAGMA user_version = 2;";

/* Version 3: tasks, one row per task (yp.h struct yp_task, one column per field, same names).  argv is a
 * BLOB so the NULs between its words survive; the CHECK keeps a hand-written text value out.  task_cmds
 * shows each task's argv with its words joined by spaces, for sqlite3 users (replace() stops at a NUL,
 * so the words are split with instr/substr, which count bytes on a blob). */
static const char schema_v3[] =
	"CREATE TABLE tasks("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'exited', 'failed', 'killed', 'timed-out',"
	" 'cancelled', 'lost')),"
	"  argv BLOB NOT NULL CHECK (typeof(argv) = 'blob'),"
	"  inputs TEXT NOT NULL DEFAULT '', outputs TEXT NOT NULL DEFAULT '', after TEXT NOT NULL DEFAULT '',"
	"  scope TEXT NOT NULL DEFAULT '', node TEXT NOT NULL DEFAULT '', placed TEXT NOT NULL DEFAULT '',"
	"  why TEXT NOT NULL DEFAULT '',"
	"  uid INTEGER NOT NULL, gid INTEGER NOT NULL, groups TEXT NOT NULL DEFAULT '',"
	"  timeout_ms INTEGER NOT NULL DEFAULT 0,"
	"  exit_status INTEGER NOT NULL DEFAULT -1,"
	"  pid INTEGER NOT NULL DEFAULT 0, pid_start INTEGER NOT NULL DEFAULT 0, pidns INTEGER NOT NULL DEFAULT 0,"
	"  queued_ns INTEGER NOT NULL DEFAULT 0, started_ns INTEGER NOT NULL DEFAULT 0,"
	"  ended_ns INTEGER NOT NULL DEFAULT 0,"
	"  outputs_sealed INTEGER NOT NULL DEFAULT 0);"
	"CREATE VIEW task_cmds AS WITH RECURSIVE w(id, n, rest, cmd) AS ("
	"  SELECT id, 0, argv, '' FROM tasks"
	"  UNION ALL SELECT id, n + 1, substr(rest, instr(rest, X'00') + 1),"
	"    cmd || CASE WHEN n THEN ' ' ELSE '' END || CAST(substr(rest, 1, instr(rest, X'00') - 1) AS TEXT)"
	"  FROM w WHERE instr(rest, X'00') > 0)"
	" SELECT t.id AS id, t.state AS state, t.node AS node,"
	"  w.cmd || CASE WHEN length(w.rest) THEN CASE WHEN w.n THEN ' ' ELSE '' END || CAST(w.rest AS TEXT)"
	"  ELSE '' END AS cmd"
	" FROM w JOIN tasks t ON t.id = w.id WHERE instr(w.rest, X'00') = 0 ORDER BY t.id;"
	"PRAGMA user_version = 3;";

struct yp {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	int depth; /* nesting of yp_begin */
	int failed; /* an inner level rolled back: the outermost commit must roll back too */
};

static int to_errno(struct yp *yp, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		fprintf(stderr, "yp: %s: %s\n", what, sqlite3_errmsg(yp->db));
		return -EEXIST;
	case SQLITE_FULL:
		fprintf(stderr, "yp: %s: %s\n", what, sqlite3_errmsg(yp->db));
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		fprintf(stderr, "yp: %s: %s\n", what, sqlite3_errmsg(yp->db));
		return -EBUSY;
	default:
		fprintf(stderr, "yp: %s: %s\n", what, sqlite3_errmsg(yp->db));
		return -EIO;
	}
}

/* The statement for id, prepared on first use; reset and cleared by done(). */
static sqlite3_stmt *stmt(struct yp *yp, enum stmt_id id)
{
	if (!yp->stmt[id]) {
		int rc = sqlite3_prepare_v3(yp->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &yp->stmt[id],
					    NULL);
		if (rc != SQLITE_OK) {
			fprintf(stderr, "yp: prepare %s: %s\n", stmt_sql[id], sqlite3_errmsg(yp->db));
			return NULL;
		}
	}
	return yp->stmt[id];
}

static void done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Step a statement that returns no rows. */
static int exec_stmt(struct yp *yp, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	rc = (rc == SQLITE_DONE) ? 0 : to_errno(yp, rc, what);
	done(s);
	return rc;
}

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void bind_id_or_null(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

static int migrate(struct yp *yp)
{
	sqlite3_stmt *s;
	int version = -1, rc;
	char *err = NULL;

	if (sqlite3_prepare_v2(yp->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return to_errno(yp, sqlite3_errcode(yp->db), "user_version");
	if (sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version == YP_SCHEMA_VERSION)
		return 0;
	if (version < 0 || version > YP_SCHEMA_VERSION) {
		fprintf(stderr, "yp: database schema version %d is newer than %d: made by a later fabric\n",
			version, YP_SCHEMA_VERSION);
		return -EPROTO;
	}
	/* foreign keys off around the rebuild of objects (extents point into it); not inside a transaction */
	rc = sqlite3_exec(yp->db, "PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE", NULL, NULL, &err);
	if (rc == SQLITE_OK && version < 1)
		rc = sqlite3_exec(yp->db, schema_v1, NULL, NULL, &err);
	if (rc == SQLITE_OK && version < 2)
		rc = sqlite3_exec(yp->db, schema_v2, NULL, NULL, &err);
	if (rc == SQLITE_OK && version < 3)
		rc = sqlite3_exec(yp->db, schema_v3, NULL, NULL, &err);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(yp->db, "COMMIT; PRAGMA foreign_keys = ON", NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "yp: creating or upgrading the schema from version %d: %s\n", version,
			err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		sqlite3_exec(yp->db, "ROLLBACK; PRAGMA foreign_keys = ON", NULL, NULL, NULL);
		return -EIO;
	}
	if (version > 0)
		fprintf(stderr, "yp: upgraded the schema from version %d to %d\n", version, YP_SCHEMA_VERSION);
	return 0;
}

int yp_open(const char *path, struct yp **out)
{
	struct yp *yp = calloc(1, sizeof(*yp));
	char *err = NULL;
	int rc;

	if (!yp)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &yp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "yp: open %s: %s\n", path, yp->db ? sqlite3_errmsg(yp->db) : sqlite3_errstr(rc));
		rc = -EIO;
		goto out_close;
	}
	sqlite3_busy_timeout(yp->db, 5000);
	if (sqlite3_exec(yp->db,
			 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
			 NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "yp: %s: %s\n", path, err);
		sqlite3_free(err);
		rc = -EIO;
		goto out_close;
	}
	rc = migrate(yp);
	if (rc)
		goto out_close;
	*out = yp;
	return 0;

out_close:
	sqlite3_close(yp->db);
	free(yp);
	return rc;
}

void yp_close(struct yp *yp)
{
	if (!yp)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(yp->stmt[i]);
	sqlite3_close(yp->db);
	free(yp);
}

int yp_begin(struct yp *yp)
{
	sqlite3_stmt *s;
	int rc;

	if (yp->depth++ > 0)
		return 0;
	yp->failed = 0;
	s = stmt(yp, ST_BEGIN);
	rc = s ? exec_stmt(yp, s, "begin") : -EIO;
	if (rc)
		yp->depth = 0;
	return rc;
}

int yp_commit(struct yp *yp)
{
	sqlite3_stmt *s;
	int rc;

	if (yp->depth <= 0)
		return -EINVAL;
	if (--yp->depth > 0)
		return 0;
	if (yp->failed) {
		s = stmt(yp, ST_ROLLBACK);
		if (s)
			exec_stmt(yp, s, "rollback");
		return -EIO;
	}
	s = stmt(yp, ST_COMMIT);
	rc = s ? exec_stmt(yp, s, "commit") : -EIO;
	if (rc && sqlite3_get_autocommit(yp->db) == 0) {
		s = stmt(yp, ST_ROLLBACK);
		if (s)
			exec_stmt(yp, s, "rollback");
	}
	return rc;
}

void yp_rollback(struct yp *yp)
{
	sqlite3_stmt *s;

	if (yp->depth <= 0)
		return;
	if (--yp->depth > 0) {
		yp->failed = 1;
		return;
	}
	s = stmt(yp, ST_ROLLBACK);
	if (s)
		exec_stmt(yp, s, "rollback");
}

int yp_node_get(struct yp *yp, struct yp_node *out)
{
	sqlite3_stmt *s = stmt(yp, ST_NODE_GET);
	int rc;

	if (!s)
		return -EIO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(s, 0);
		snprintf(out->name, sizeof(out->name), "%s", (const char *)sqlite3_column_text(s, 1));
		snprintf(out->shm_prefix, sizeof(out->shm_prefix), "%s", (const char *)sqlite3_column_text(s, 2));
		out->capacity = (uint64_t)sqlite3_column_int64(s, 3);
		out->clean = sqlite3_column_int(s, 4);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : to_errno(yp, rc, "node get");
	}
	done(s);
	return rc;
}

int yp_node_add(struct yp *yp, struct yp_node *n)
{
	sqlite3_stmt *s = stmt(yp, ST_NODE_ADD);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, n->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, n->shm_prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, (int64_t)n->capacity);
	sqlite3_bind_int(s, 4, n->clean);
	rc = exec_stmt(yp, s, "node add");
	if (rc == 0)
		n->id = sqlite3_last_insert_rowid(yp->db);
	return rc;
}

int yp_node_update(struct yp *yp, const struct yp_node *n)
{
	sqlite3_stmt *s = stmt(yp, ST_NODE_UPDATE);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, n->id);
	sqlite3_bind_int64(s, 2, (int64_t)n->capacity);
	sqlite3_bind_int(s, 3, n->clean);
	return exec_stmt(yp, s, "node update");
}

int yp_obj_insert(struct yp *yp, struct yp_obj *o)
{
	sqlite3_stmt *s = stmt(yp, ST_OBJ_INSERT);
	int rc;

	if (!s)
		return -EIO;
	bind_id_or_null(s, 1, o->parent);
	sqlite3_bind_text(s, 2, o->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, o->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, o->state, -1, SQLITE_STATIC);
	bind_text_or_null(s, 5, o->type);
	bind_text_or_null(s, 6, o->doc);
	bind_text_or_null(s, 7, o->xxh3);
	sqlite3_bind_text(s, 8, o->scope ? o->scope : "any", -1, SQLITE_TRANSIENT);
	bind_id_or_null(s, 9, o->node);
	sqlite3_bind_int64(s, 10, (int64_t)o->size);
	sqlite3_bind_int(s, 11, (int)o->mode);
	sqlite3_bind_int64(s, 12, o->uid);
	sqlite3_bind_int64(s, 13, o->gid);
	sqlite3_bind_int64(s, 14, o->created_ns);
	sqlite3_bind_int64(s, 15, o->modified_ns);
	if (o->sealed_ns)
		sqlite3_bind_int64(s, 16, o->sealed_ns);
	else
		sqlite3_bind_null(s, 16);
	rc = exec_stmt(yp, s, "object insert");
	if (rc == 0)
		o->id = sqlite3_last_insert_rowid(yp->db);
	return rc;
}

int yp_obj_update(struct yp *yp, const struct yp_obj *o)
{
	sqlite3_stmt *s = stmt(yp, ST_OBJ_UPDATE);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, o->id);
	bind_id_or_null(s, 2, o->parent);
	sqlite3_bind_text(s, 3, o->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, o->state, -1, SQLITE_STATIC);
	bind_text_or_null(s, 5, o->type);
	bind_text_or_null(s, 6, o->doc);
	bind_text_or_null(s, 7, o->xxh3);
	sqlite3_bind_text(s, 8, o->scope ? o->scope : "any", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 9, (int64_t)o->size);
	sqlite3_bind_int(s, 10, (int)o->mode);
	sqlite3_bind_int64(s, 11, o->uid);
	sqlite3_bind_int64(s, 12, o->gid);
	sqlite3_bind_int64(s, 13, o->modified_ns);
	if (o->sealed_ns)
		sqlite3_bind_int64(s, 14, o->sealed_ns);
	else
		sqlite3_bind_null(s, 14);
	return exec_stmt(yp, s, "object update");
}

int yp_obj_delete(struct yp *yp, int64_t id)
{
	sqlite3_stmt *s = stmt(yp, ST_OBJ_DELETE);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	return exec_stmt(yp, s, "object delete");
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

int yp_each_object(struct yp *yp, int (*fn)(void *arg, const struct yp_obj *o), void *arg)
{
	sqlite3_stmt *s = stmt(yp, ST_OBJ_EACH);
	int rc;

	if (!s)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct yp_obj o = {
			.id = sqlite3_column_int64(s, 0),
			.parent = sqlite3_column_int64(s, 1),
			.name = col_text(s, 2),
			.kind = col_text(s, 3),
			.state = col_text(s, 4),
			.type = col_text(s, 5),
			.doc = col_text(s, 6),
			.xxh3 = col_text(s, 7),
			.scope = col_text(s, 8),
			.node = sqlite3_column_int64(s, 9),
			.size = (uint64_t)sqlite3_column_int64(s, 10),
			.mode = (uint32_t)sqlite3_column_int(s, 11),
			.uid = (uint32_t)sqlite3_column_int64(s, 12),
			.gid = (uint32_t)sqlite3_column_int64(s, 13),
			.created_ns = sqlite3_column_int64(s, 14),
			.modified_ns = sqlite3_column_int64(s, 15),
			.sealed_ns = sqlite3_column_int64(s, 16),
			.block = sqlite3_column_int64(s, 17),
			.shm_name = col_text(s, 18),
			.offset = (uint64_t)sqlite3_column_int64(s, 19),
			.length = (uint64_t)sqlite3_column_int64(s, 20),
			.block_kind = col_text(s, 21),
		};
		int cb = fn(arg, &o);
		if (cb) {
			done(s);
			return cb;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : to_errno(yp, rc, "object list");
	done(s);
	return rc;
}

int yp_block_max_id(struct yp *yp, int64_t *max)
{
	sqlite3_stmt *s = stmt(yp, ST_BLOCK_MAX);
	int rc;

	if (!s)
		return -EIO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*max = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = to_errno(yp, rc, "block max");
	}
	done(s);
	return rc;
}

int yp_block_insert(struct yp *yp, int64_t id, int64_t node, const char *shm_name, uint64_t size,
		    const char *kind)
{
	sqlite3_stmt *s = stmt(yp, ST_BLOCK_INSERT);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, node);
	sqlite3_bind_text(s, 3, shm_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, (int64_t)size);
	sqlite3_bind_text(s, 5, kind, -1, SQLITE_STATIC);
	return exec_stmt(yp, s, "block insert");
}

int yp_block_set_size(struct yp *yp, int64_t id, uint64_t size)
{
	sqlite3_stmt *s = stmt(yp, ST_BLOCK_SIZE);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	return exec_stmt(yp, s, "block size");
}

int yp_block_delete(struct yp *yp, int64_t id)
{
	sqlite3_stmt *s = stmt(yp, ST_BLOCK_DELETE);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	return exec_stmt(yp, s, "block delete");
}

int yp_each_block(struct yp *yp, int (*fn)(void *arg, int64_t id, const char *shm_name, int used), void *arg)
{
	sqlite3_stmt *s = stmt(yp, ST_BLOCK_EACH);
	int rc;

	if (!s)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cb = fn(arg, sqlite3_column_int64(s, 0), col_text(s, 1), sqlite3_column_int(s, 2));
		if (cb) {
			done(s);
			return cb;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : to_errno(yp, rc, "block list");
	done(s);
	return rc;
}

int yp_extent_set(struct yp *yp, int64_t obj, int64_t block, uint64_t offset, uint64_t length)
{
	sqlite3_stmt *s = stmt(yp, ST_EXTENT_SET);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, obj);
	sqlite3_bind_int64(s, 2, block);
	sqlite3_bind_int64(s, 3, (int64_t)offset);
	sqlite3_bind_int64(s, 4, (int64_t)length);
	return exec_stmt(yp, s, "extent set");
}

int yp_extent_move(struct yp *yp, int64_t obj, int64_t block, uint64_t offset, uint64_t length)
{
	sqlite3_stmt *s = stmt(yp, ST_EXTENT_MOVE);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, obj);
	sqlite3_bind_int64(s, 2, block);
	sqlite3_bind_int64(s, 3, (int64_t)offset);
	sqlite3_bind_int64(s, 4, (int64_t)length);
	rc = exec_stmt(yp, s, "extent move");
	if (rc == 0 && sqlite3_changes(yp->db) == 0)
		rc = -ENOENT;
	return rc;
}

int yp_extent_delete(struct yp *yp, int64_t obj)
{
	sqlite3_stmt *s = stmt(yp, ST_EXTENT_DELETE);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, obj);
	return exec_stmt(yp, s, "extent delete");
}

/* ---- tasks ---- */

/* The columns insert and update share: ?2 and ?4 to ?22 (?1 is the id, ?3 argv). */
static void bind_task(sqlite3_stmt *s, const struct yp_task *t)
{
	sqlite3_bind_text(s, 2, t->state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, t->inputs ? t->inputs : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, t->outputs ? t->outputs : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 6, t->after ? t->after : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 7, t->scope ? t->scope : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 8, t->node ? t->node : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 9, t->placed ? t->placed : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 10, t->why ? t->why : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 11, t->uid);
	sqlite3_bind_int64(s, 12, t->gid);
	sqlite3_bind_text(s, 13, t->groups ? t->groups : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 14, t->timeout_ms);
	sqlite3_bind_int64(s, 15, t->exit_status);
	sqlite3_bind_int64(s, 16, t->pid);
	sqlite3_bind_int64(s, 17, (int64_t)t->pid_start);
	sqlite3_bind_int64(s, 18, (int64_t)t->pidns);
	sqlite3_bind_int64(s, 19, t->queued_ns);
	sqlite3_bind_int64(s, 20, t->started_ns);
	sqlite3_bind_int64(s, 21, t->ended_ns);
	sqlite3_bind_int(s, 22, t->outputs_sealed ? 1 : 0);
}

int yp_task_insert(struct yp *yp, struct yp_task *t)
{
	sqlite3_stmt *s = stmt(yp, ST_TASK_INSERT);
	int rc;

	if (!s)
		return -EIO;
	if (!t->state || (t->argv_len && !t->argv))
		return -EINVAL;
	bind_task(s, t);
	/* a NULL pointer would bind SQL NULL: an empty argv is an empty blob */
	if (t->argv_len)
		sqlite3_bind_blob64(s, 3, t->argv, t->argv_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_zeroblob(s, 3, 0);
	rc = exec_stmt(yp, s, "task insert");
	if (rc == 0)
		t->id = sqlite3_last_insert_rowid(yp->db);
	return rc;
}

int yp_task_update(struct yp *yp, const struct yp_task *t)
{
	sqlite3_stmt *s = stmt(yp, ST_TASK_UPDATE);
	int rc;

	if (!s)
		return -EIO;
	if (!t->state)
		return -EINVAL;
	sqlite3_bind_int64(s, 1, t->id);
	bind_task(s, t);
	rc = exec_stmt(yp, s, "task update");
	if (rc == 0 && sqlite3_changes(yp->db) == 0)
		rc = -ENOENT;
	return rc;
}

int yp_task_delete(struct yp *yp, int64_t id)
{
	sqlite3_stmt *s = stmt(yp, ST_TASK_DELETE);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	rc = exec_stmt(yp, s, "task delete");
	if (rc == 0 && sqlite3_changes(yp->db) == 0)
		rc = -ENOENT;
	return rc;
}

/* A NOT NULL text column; "" rather than NULL should SQLite fail to convert it (out of memory). */
static const char *col_str(sqlite3_stmt *s, int i)
{
	const char *v = col_text(s, i);

	return v ? v : "";
}

int yp_each_task(struct yp *yp, int (*fn)(void *arg, const struct yp_task *t), void *arg)
{
	sqlite3_stmt *s = stmt(yp, ST_TASK_EACH);
	int rc;

	if (!s)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		/* blob first, then its length (the order sqlite3_column_bytes asks for); an empty blob is NULL */
		const char *argv = sqlite3_column_blob(s, 2);
		struct yp_task t = {
			.id = sqlite3_column_int64(s, 0),
			.state = col_str(s, 1),
			.argv = argv ? argv : "",
			.argv_len = (size_t)sqlite3_column_bytes(s, 2),
			.inputs = col_str(s, 3),
			.outputs = col_str(s, 4),
			.after = col_str(s, 5),
			.scope = col_str(s, 6),
			.node = col_str(s, 7),
			.placed = col_str(s, 8),
			.why = col_str(s, 9),
			.uid = (uint32_t)sqlite3_column_int64(s, 10),
			.gid = (uint32_t)sqlite3_column_int64(s, 11),
			.groups = col_str(s, 12),
			.timeout_ms = sqlite3_column_int64(s, 13),
			.exit_status = sqlite3_column_int64(s, 14),
			.pid = sqlite3_column_int64(s, 15),
			.pid_start = (uint64_t)sqlite3_column_int64(s, 16),
			.pidns = (uint64_t)sqlite3_column_int64(s, 17),
			.queued_ns = sqlite3_column_int64(s, 18),
			.started_ns = sqlite3_column_int64(s, 19),
			.ended_ns = sqlite3_column_int64(s, 20),
			.outputs_sealed = sqlite3_column_int(s, 21) != 0,
		};
		int cb;

		if (!argv && t.argv_len) { /* out of memory reading the blob */
			rc = sqlite3_errcode(yp->db);
			break;
		}
		cb = fn(arg, &t);
		if (cb) {
			done(s);
			return cb;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : to_errno(yp, rc, "task list");
	done(s);
	return rc;
}
