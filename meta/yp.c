/* SPDX-License-Identifier: MIT */
/* yp.c -- the yellow pages' database: connection, schema, transactions, the node row (see yp.h, ypInt.h).
 *
 * DESIGN
 * Statements are prepared once, on first use, with SQLITE_PREPARE_PERSISTENT, and kept in an array
 * indexed by enum yp_stmt; each call binds, steps and resets.  Every walk and lookup steps its rows
 * through yp_rows, so a row's callback, a stop and a failure are handled in one place.  SQLite result
 * codes become negative errnos here, at meta/'s edge (yp_errno): SQLITE_CONSTRAINT -> -EEXIST (a unique
 * name), SQLITE_FULL -> -ENOSPC, SQLITE_BUSY/LOCKED -> -EBUSY, anything else -> -EIO, each logged with
 * sqlite3_errmsg().
 *
 * Threads: the connection is opened SQLITE_OPEN_NOMUTEX and guarded by struct yp's own recursive mutex
 * (ypInt.h), so what belongs together -- a statement and its last_insert_rowid or changes(), a walk and
 * its callbacks, a transaction from BEGIN to COMMIT -- is one thread's.  yp_begin keeps the mutex for the
 * level it opens; yp_commit and yp_rollback give it back.
 *
 * Durability: WAL with synchronous=NORMAL.  A commit has been write(2)n to the WAL before it returns, so a
 * crash of the daemon (kill -9) loses nothing committed; only a power loss can lose the last commits, and
 * a power loss wipes /dev/shm, the data itself, anyway.
 *
 * Schema history: user_version 1 is the first schema; 2 adds the kind 'mutable' (objects rebuilt, see
 * schema_v2); 3 adds tasks and the view task_cmds (schema_v3); 4 adds the kind 'link' and its column target
 * (schema_v4); 5 the kind 'alias' (a hard link) and its column alias_of (schema_v5); 6 the table remote,
 * other nodes' objects, and vars over both (schema_v6); 7 the column refs (here and in remote) and the
 * table moves (schema_v7); 8 keyed datasets (schema_v8); 9 the same CHECK constraints as OR chains
 * (schema_v9: no ephemeral index per insert).  Older databases are
 * upgraded in one transaction at open; a database from a newer fabric is refused rather than guessed at. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/ypInt.h"

static const char *const db_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_NODE_GET] = "SELECT id, name, shm_prefix, capacity, clean FROM nodes ORDER BY id LIMIT 1",
	[ST_NODE_ADD] = "INSERT INTO nodes(name, shm_prefix, capacity, clean) VALUES (?1, ?2, ?3, ?4)",
	[ST_NODE_UPDATE] = "UPDATE nodes SET capacity = ?2, clean = ?3 WHERE id = ?1",
};

static sqlite3_stmt *stmt(struct yp *yp, enum yp_stmt id)
{
	return yp_stmt(yp, id, db_sql[id]);
}

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

/* Version 4: kind 'link', a symbolic link, whose target text is its column target (NULL for every other
 * kind).  A link is a row like a variable so it has an inode number and a name under the same unique
 * index; objects is rebuilt as for version 2 (the CHECK changes), its AUTOINCREMENT counter carried over. */
static const char schema_v4[] =
	"CREATE TABLE objects_v4("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  parent INTEGER REFERENCES objects(id),"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('dir', 'var', 'mutable', 'link')),"
	"  state TEXT NOT NULL CHECK (state IN ('writing', 'sealed', 'deleted', 'lost')),"
	"  type TEXT, doc TEXT, xxh3 TEXT,"
	"  scope TEXT NOT NULL DEFAULT 'any',"
	"  node INTEGER REFERENCES nodes(id),"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	"  created_ns INTEGER NOT NULL, modified_ns INTEGER NOT NULL, sealed_ns INTEGER,"
	"  target TEXT CHECK ((kind = 'link') = (target IS NOT NULL)));"
	"INSERT INTO objects_v4 SELECT id, parent, name, kind, state, type, doc, xxh3, scope, node, size, mode, uid,"
	"  gid, created_ns, modified_ns, sealed_ns, NULL FROM objects;"
	"CREATE TEMP TABLE seq AS SELECT seq FROM sqlite_sequence WHERE name = 'objects';"
	"DROP VIEW vars;"
	"DROP TABLE objects;"
	"ALTER TABLE objects_v4 RENAME TO objects;"
	"UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM temp.seq), 0)) WHERE name = 'objects';"
	"DROP TABLE temp.seq;"
	"CREATE UNIQUE INDEX objects_by_name ON objects(parent, name) WHERE state IN ('writing', 'sealed');"
	"CREATE VIEW vars AS WITH RECURSIVE p(id, path) AS ("
	"  SELECT id, name FROM objects WHERE parent = 2 AND state IN ('writing', 'sealed')"
	"  UNION ALL SELECT o.id, p.path || '/' || o.name FROM objects o JOIN p ON o.parent = p.id"
	"  WHERE o.state IN ('writing', 'sealed'))"
	" SELECT p.path AS path, o.kind, o.type, o.doc, o.size, o.xxh3, o.scope, o.state, n.name AS node, o.target"
	" FROM p JOIN objects o ON o.id = p.id LEFT JOIN nodes n ON n.id = o.node;"
	"PRAGMA user_version = 4;";

/* Version 5: kind 'alias', a hard link: a second name for an object, whose column alias_of is that
 * object's id (NULL for every other kind).  An alias is a row of its own, so its name sits under the same
 * unique index as every other name, and shares the one id space (ids of aliases are never inode numbers:
 * a lookup of an alias answers with the object's).  Deleting the object deletes its aliases (CASCADE),
 * so no alias outlives what it names, whatever path deletes the row.  The view vars lists every name,
 * with the attributes of the object it names and that object's id (two names of one object: one id). */
static const char schema_v5[] =
	"CREATE TABLE objects_v5("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  parent INTEGER REFERENCES objects(id),"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('dir', 'var', 'mutable', 'link', 'alias')),"
	"  state TEXT NOT NULL CHECK (state IN ('writing', 'sealed', 'deleted', 'lost')),"
	"  type TEXT, doc TEXT, xxh3 TEXT,"
	"  scope TEXT NOT NULL DEFAULT 'any',"
	"  node INTEGER REFERENCES nodes(id),"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	"  created_ns INTEGER NOT NULL, modified_ns INTEGER NOT NULL, sealed_ns INTEGER,"
	"  target TEXT CHECK ((kind = 'link') = (target IS NOT NULL)),"
	"  alias_of INTEGER REFERENCES objects(id) ON DELETE CASCADE"
	"    CHECK ((kind = 'alias') = (alias_of IS NOT NULL)));"
	"INSERT INTO objects_v5 SELECT id, parent, name, kind, state, type, doc, xxh3, scope, node, size, mode, uid,"
	"  gid, created_ns, modified_ns, sealed_ns, target, NULL FROM objects;"
	"CREATE TEMP TABLE seq AS SELECT seq FROM sqlite_sequence WHERE name = 'objects';"
	"DROP VIEW vars;"
	"DROP TABLE objects;"
	"ALTER TABLE objects_v5 RENAME TO objects;"
	"UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM temp.seq), 0)) WHERE name = 'objects';"
	"DROP TABLE temp.seq;"
	"CREATE UNIQUE INDEX objects_by_name ON objects(parent, name) WHERE state IN ('writing', 'sealed');"
	"CREATE INDEX objects_by_alias ON objects(alias_of) WHERE alias_of IS NOT NULL;"
	"CREATE VIEW vars AS WITH RECURSIVE p(id, path) AS ("
	"  SELECT id, name FROM objects WHERE parent = 2 AND state IN ('writing', 'sealed')"
	"  UNION ALL SELECT o.id, p.path || '/' || o.name FROM objects o JOIN p ON o.parent = p.id"
	"  WHERE o.state IN ('writing', 'sealed'))"
	" SELECT p.path AS path, o.kind, o.type, o.doc, o.size, o.xxh3, o.scope, o.state, n.name AS node, o.target,"
	"  o.id AS object"
	" FROM p JOIN objects e ON e.id = p.id JOIN objects o ON o.id = coalesce(e.alias_of, e.id)"
	" LEFT JOIN nodes n ON n.id = o.node;"
	"PRAGMA user_version = 5;";

/* Version 6: remote, the mirror of the other nodes' objects in a cluster (core/cluster/catalog.c keeps it
 * from etcd): one row per (node, id) with its own parent and name, so paths are made per node as for the
 * local objects, and where its bytes are on its node (shm, offset); vars lists both, every name of the
 * cluster with its owner node. */
static const char schema_v6[] =
	"CREATE TABLE remote("
	"  node TEXT NOT NULL,"
	"  id INTEGER NOT NULL,"
	"  parent INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  type TEXT, doc TEXT, xxh3 TEXT,"
	"  scope TEXT NOT NULL DEFAULT 'any',"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	"  modified_ns INTEGER NOT NULL, sealed_ns INTEGER, target TEXT,"
	"  shm TEXT, offset INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (node, id));"
	"CREATE INDEX remote_by_parent ON remote(node, parent);"
	"DROP VIEW vars;"
	"CREATE VIEW vars AS WITH RECURSIVE p(id, path) AS ("
	"  SELECT id, name FROM objects WHERE parent = 2 AND state IN ('writing', 'sealed')"
	"  UNION ALL SELECT o.id, p.path || '/' || o.name FROM objects o JOIN p ON o.parent = p.id"
	"  WHERE o.state IN ('writing', 'sealed')),"
	" r(node, id, path) AS ("
	"  SELECT node, id, name FROM remote WHERE parent = 2"
	"  UNION ALL SELECT c.node, c.id, r.path || '/' || c.name FROM remote c JOIN r ON c.node = r.node AND c.parent = r.id)"
	" SELECT p.path AS path, o.kind, o.type, o.doc, o.size, o.xxh3, o.scope, o.state, n.name AS node, o.target,"
	"  o.id AS object"
	" FROM p JOIN objects e ON e.id = p.id JOIN objects o ON o.id = coalesce(e.alias_of, e.id)"
	" LEFT JOIN nodes n ON n.id = o.node"
	" UNION ALL SELECT r.path, m.kind, m.type, m.doc, m.size, m.xxh3, m.scope, 'sealed', m.node, m.target, m.id"
	" FROM r JOIN remote m ON m.node = r.node AND m.id = r.id;"
	"PRAGMA user_version = 6;";

/* Version 7: an object's references to others (user.fabric.refs, which `move recursive` follows), here and
 * in the mirror of the other nodes' objects; and the moves under way, this node's own ('out') and the
 * directories it is taking ('in'), until their end is known (core/cluster/move.h). */
static const char schema_v7[] =
	"ALTER TABLE objects ADD COLUMN refs TEXT;"
	"ALTER TABLE remote ADD COLUMN refs TEXT;"
	"CREATE TABLE moves("
	"  way TEXT NOT NULL CHECK (way IN ('out', 'in')),"
	"  node TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  object INTEGER NOT NULL,"
	"  xxh3 TEXT NOT NULL,"
	"  begun_ns INTEGER NOT NULL,"
	"  PRIMARY KEY (way, node, name));"
	"PRAGMA user_version = 7;";

/* Version 8: keyed datasets (core/dataset/dstree.h), and the index of objects by parent that deletes need.  A dataset is a directory of datasets/ with a row in
 * datasets (its limits); its tree of managers and leaves is dataset_tree, one row per tree node, each
 * covering the key hashes [lo, hi); every object row carries its name's hash (keyhash: yp_key_hash, written
 * by meta with the name, so the triggers need no function of ours and the sqlite3 shell may still change
 * rows); every sealed variable in a dataset's directory is an item, a row of dataset_items naming the leaf whose range holds its key's hash.  The
 * triggers keep the items and the leaves' counts in step with objects inside whichever transaction
 * changes an object, so no code path of the store has to remember them and a crash leaves both or
 * neither; a split or merge moves items between leaves by hash range (yp_ds_move_items), the count
 * triggers following.  A dataset directory's row going (rmdir) takes its dataset and tree rows along. */
static const char schema_v8[] =
	"ALTER TABLE objects ADD COLUMN keyhash INTEGER;"
	/* the foreign key parent -> objects(id): without an index of its own (objects_by_name is partial)
	 * every delete of an object scanned the whole table for children, 15 ms a delete at 90,000 objects */
	"CREATE INDEX objects_by_parent ON objects(parent);"
	"CREATE TABLE datasets("
	"  id INTEGER PRIMARY KEY REFERENCES objects(id) ON DELETE CASCADE,"
	"  limits TEXT NOT NULL);"
	"CREATE TABLE dataset_tree("
	"  id INTEGER PRIMARY KEY,"
	"  dataset INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,"
	"  parent INTEGER NOT NULL,"
	"  height INTEGER NOT NULL CHECK (height >= -1),"
	"  lo INTEGER NOT NULL, hi INTEGER NOT NULL CHECK (lo < hi),"
	"  items INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX dataset_tree_by_dataset ON dataset_tree(dataset, height, lo);"
	"CREATE TABLE dataset_items("
	"  id INTEGER PRIMARY KEY,"
	"  dataset INTEGER NOT NULL,"
	"  leaf INTEGER NOT NULL,"
	"  hash INTEGER NOT NULL,"
	"  size INTEGER NOT NULL);"
	"CREATE INDEX dataset_items_by_leaf ON dataset_items(leaf, hash);"
	"CREATE TRIGGER dataset_item_made AFTER INSERT ON objects"
	" WHEN new.kind = 'var' AND new.state = 'sealed' AND new.parent IN (SELECT id FROM datasets) BEGIN"
	"  INSERT INTO dataset_items(id, dataset, leaf, hash, size)"
	"   SELECT new.id, new.parent, t.id, new.keyhash, new.size FROM dataset_tree t"
	"   WHERE t.dataset = new.parent AND t.height = -1 AND t.lo <= new.keyhash AND new.keyhash < t.hi;"
	" END;"
	"CREATE TRIGGER dataset_item_changed AFTER UPDATE ON objects"
	" WHEN old.parent IN (SELECT id FROM datasets) OR new.parent IN (SELECT id FROM datasets) BEGIN"
	"  DELETE FROM dataset_items WHERE id = old.id;"
	"  INSERT INTO dataset_items(id, dataset, leaf, hash, size)"
	"   SELECT new.id, new.parent, t.id, new.keyhash, new.size FROM dataset_tree t"
	"   WHERE t.dataset = new.parent AND t.height = -1 AND t.lo <= new.keyhash AND new.keyhash < t.hi"
	"   AND new.kind = 'var' AND new.state = 'sealed';"
	" END;"
	"CREATE TRIGGER dataset_item_gone AFTER DELETE ON objects"
	" WHEN old.parent IN (SELECT id FROM datasets) BEGIN"
	"  DELETE FROM dataset_items WHERE id = old.id;"
	" END;"
	"CREATE TRIGGER dataset_count_in AFTER INSERT ON dataset_items BEGIN"
	"  UPDATE dataset_tree SET items = items + 1, bytes = bytes + new.size WHERE id = new.leaf;"
	" END;"
	"CREATE TRIGGER dataset_count_out AFTER DELETE ON dataset_items BEGIN"
	"  UPDATE dataset_tree SET items = items - 1, bytes = bytes - old.size WHERE id = old.leaf;"
	" END;"
	"CREATE TRIGGER dataset_count_moved AFTER UPDATE OF leaf ON dataset_items BEGIN"
	"  UPDATE dataset_tree SET items = items - 1, bytes = bytes - old.size WHERE id = old.leaf;"
	"  UPDATE dataset_tree SET items = items + 1, bytes = bytes + new.size WHERE id = new.leaf;"
	" END;"
	"PRAGMA user_version = 8;";

/* Version 9: the same constraints, cheaper.  SQLite codes `x IN (a, b, c)` over more than two constants as
 * an ephemeral index built at every check, so each insert of an object and each change of a task's state
 * opened and closed a b-tree or two: half of an object insert's time (23 -> 12 us, measured with the same
 * rows through the sqlite3 library).  An OR chain of the same constants allows and refuses the same
 * values, so every stored row still satisfies it and the table's bytes need no rebuild: SQLite's own
 * procedure for changing a constraint alone (writable_schema, then schema_version + 1; "Making Other
 * Kinds Of Table Schema Changes" in its ALTER TABLE page) applies.  A text that differs from the one the
 * earlier versions made (a database edited by hand) is left as it is: correct, only slower. */
static const char *const checks_v9[][2] = {
	{ "kind IN ('dir', 'var', 'mutable', 'link', 'alias')",
	  "(kind = 'dir' OR kind = 'var' OR kind = 'mutable' OR kind = 'link' OR kind = 'alias')" },
	{ "state IN ('writing', 'sealed', 'deleted', 'lost')",
	  "(state = 'writing' OR state = 'sealed' OR state = 'deleted' OR state = 'lost')" },
	{ "state IN ('queued', 'running', 'exited', 'failed', 'killed', 'timed-out', 'cancelled', 'lost')",
	  "(state = 'queued' OR state = 'running' OR state = 'exited' OR state = 'failed' OR state = 'killed'"
	  " OR state = 'timed-out' OR state = 'cancelled' OR state = 'lost')" },
};

/* Inside migrate's transaction. */
static int schema_v9(struct yp *yp, char **err)
{
	char sql[512];
	sqlite3_stmt *s;
	int version = -1, rc;

	if (sqlite3_prepare_v2(yp->db, "PRAGMA schema_version", -1, &s, NULL) != SQLITE_OK)
		return sqlite3_errcode(yp->db);
	if (sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version < 0)
		return SQLITE_ERROR;
	/* a library built defensive (SQLITE_DBCONFIG_DEFENSIVE) refuses to write the schema: the constraints
	 * then stay as they are, correct and slower */
	if (sqlite3_exec(yp->db, "PRAGMA writable_schema = ON", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_db_config(yp->db, SQLITE_DBCONFIG_DEFENSIVE, -1, &rc) != SQLITE_OK || rc)
		return sqlite3_exec(yp->db, "PRAGMA writable_schema = OFF; PRAGMA user_version = 9", NULL, NULL, err);
	rc = SQLITE_OK;
	for (size_t i = 0; rc == SQLITE_OK && i < sizeof(checks_v9) / sizeof(checks_v9[0]); i++) {
		rc = sqlite3_prepare_v2(yp->db, "UPDATE sqlite_schema SET sql = replace(sql, ?1, ?2)"
					" WHERE type = 'table' AND name IN ('objects', 'tasks')", -1, &s, NULL);
		if (rc != SQLITE_OK)
			break;
		sqlite3_bind_text(s, 1, checks_v9[i][0], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, checks_v9[i][1], -1, SQLITE_STATIC);
		rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(yp->db);
		sqlite3_finalize(s);
	}
	snprintf(sql, sizeof(sql), "PRAGMA schema_version = %d", version + 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(yp->db, sql, NULL, NULL, err);
	sqlite3_exec(yp->db, "PRAGMA writable_schema = OFF", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(yp->db, "PRAGMA user_version = 9", NULL, NULL, err);
	return rc;
}

int yp_errno(struct yp *yp, int rc, const char *what)
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

sqlite3_stmt *yp_stmt(struct yp *yp, enum yp_stmt id, const char *sql)
{
	if (!yp->stmt[id]) {
		int rc = sqlite3_prepare_v3(yp->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &yp->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			fprintf(stderr, "yp: prepare %s: %s\n", sql, sqlite3_errmsg(yp->db));
			return NULL;
		}
	}
	return yp->stmt[id];
}

void yp_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int yp_exec(struct yp *yp, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	rc = (rc == SQLITE_DONE) ? 0 : yp_errno(yp, rc, what);
	yp_done(s);
	return rc;
}

int yp_rows(struct yp *yp, sqlite3_stmt *s, const char *what,
	    int (*row)(struct yp *yp, sqlite3_stmt *s, void *arg), void *arg)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cb = row(yp, s, arg);
		if (cb) {
			yp_done(s);
			return cb;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : yp_errno(yp, rc, what);
	yp_done(s);
	return rc;
}

void yp_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

void yp_bind_int(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

const char *yp_col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

static int migrate(struct yp *yp)
{
	sqlite3_stmt *s;
	int version = -1, rc;
	char *err = NULL;

	if (sqlite3_prepare_v2(yp->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return yp_errno(yp, sqlite3_errcode(yp->db), "user_version");
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
	if (rc == SQLITE_OK && version < 4)
		rc = sqlite3_exec(yp->db, schema_v4, NULL, NULL, &err);
	if (rc == SQLITE_OK && version < 5)
		rc = sqlite3_exec(yp->db, schema_v5, NULL, NULL, &err);
	if (rc == SQLITE_OK && version < 6)
		rc = sqlite3_exec(yp->db, schema_v6, NULL, NULL, &err);
	if (rc == SQLITE_OK && version < 7)
		rc = sqlite3_exec(yp->db, schema_v7, NULL, NULL, &err);
	if (rc == SQLITE_OK && version < 8)
		rc = sqlite3_exec(yp->db, schema_v8, NULL, NULL, &err);
	if (rc == SQLITE_OK && version < 9)
		rc = schema_v9(yp, &err);
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

/* Recursive: see struct yp (ypInt.h). */
static int init_lock(struct yp *yp)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);

	if (rc)
		return -rc;
	rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	if (rc == 0)
		rc = pthread_mutex_init(&yp->lock, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

int yp_open(const char *path, struct yp **out)
{
	struct yp *yp = calloc(1, sizeof(*yp));
	char *err = NULL;
	int rc;

	if (!yp)
		return -ENOMEM;
	rc = init_lock(yp);
	if (rc) {
		free(yp);
		return rc;
	}
	rc = sqlite3_open_v2(path, &yp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "yp: open %s: %s\n", path, yp->db ? sqlite3_errmsg(yp->db) : sqlite3_errstr(rc));
		rc = -EIO;
		goto out_close;
	}
	sqlite3_busy_timeout(yp->db, YP_BUSY_MS);
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
	if (yp_wal_start(yp, path) != 0)
		fprintf(stderr, "yp: checkpoints stay inside commits (SQLite's own)\n");
	*out = yp;
	return 0;

out_close:
	sqlite3_close(yp->db);
	pthread_mutex_destroy(&yp->lock);
	free(yp);
	return rc;
}

void yp_close(struct yp *yp)
{
	if (!yp)
		return;
	yp_wal_stop(yp);
	yp_watch_objects(yp, NULL, NULL);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(yp->stmt[i]);
	sqlite3_close(yp->db);
	pthread_mutex_destroy(&yp->lock);
	free(yp);
}

/* The lock taken here is kept when the call succeeds: it is this level's, given back by its commit or
 * rollback.  A nested level only counts, inside the outer level's transaction. */
int yp_begin(struct yp *yp)
{
	sqlite3_stmt *s;
	int rc;

	yp_lock(yp);
	if (yp->depth++ > 0)
		return 0;
	yp->failed = 0;
	s = stmt(yp, ST_BEGIN);
	rc = s ? yp_exec(yp, s, "begin") : -EIO;
	if (rc) {
		yp->depth = 0;
		yp_unlock(yp);
	}
	return rc;
}

/* The outermost level's end, in SQLite: commit, or roll back what an inner level's rollback doomed. */
static int commit_outermost(struct yp *yp)
{
	sqlite3_stmt *s;
	int rc;

	if (yp->failed) {
		s = stmt(yp, ST_ROLLBACK);
		if (s)
			yp_exec(yp, s, "rollback");
		return -EIO;
	}
	s = stmt(yp, ST_COMMIT);
	rc = s ? yp_exec(yp, s, "commit") : -EIO;
	if (rc && sqlite3_get_autocommit(yp->db) == 0) {
		s = stmt(yp, ST_ROLLBACK);
		if (s)
			yp_exec(yp, s, "rollback");
	}
	return rc;
}

int yp_commit(struct yp *yp)
{
	int rc;

	yp_lock(yp);
	if (yp->depth <= 0) { /* no transaction of this thread's: another's has ended before the lock came */
		yp_unlock(yp);
		return -EINVAL;
	}
	rc = --yp->depth > 0 ? 0 : commit_outermost(yp);
	yp_unlock(yp); /* this call's */
	yp_unlock(yp); /* and the level's, taken by its yp_begin */
	return rc;
}

void yp_rollback(struct yp *yp)
{
	sqlite3_stmt *s;

	yp_lock(yp);
	if (yp->depth <= 0) { /* as in yp_commit; callers roll back after a yp_begin that failed, too */
		yp_unlock(yp);
		return;
	}
	if (--yp->depth > 0) {
		yp->failed = 1;
	} else {
		s = stmt(yp, ST_ROLLBACK);
		if (s)
			yp_exec(yp, s, "rollback");
	}
	yp_unlock(yp);
	yp_unlock(yp);
}

struct node_get {
	struct yp_node *out;
	int found;
};

static int node_row(struct yp *yp, sqlite3_stmt *s, void *arg)
{
	struct node_get *g = arg;
	struct yp_node *out = g->out;

	(void)yp;
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	snprintf(out->name, sizeof(out->name), "%s", yp_col_text(s, 1));
	snprintf(out->shm_prefix, sizeof(out->shm_prefix), "%s", yp_col_text(s, 2));
	out->capacity = (uint64_t)sqlite3_column_int64(s, 3);
	out->clean = sqlite3_column_int(s, 4);
	g->found = 1;
	return 0;
}

int yp_node_get(struct yp *yp, struct yp_node *out)
{
	sqlite3_stmt *s;
	struct node_get g = { out, 0 };
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_NODE_GET);
	if (s) {
		rc = yp_rows(yp, s, "node get", node_row, &g);
		if (rc == 0 && !g.found)
			rc = -ENOENT;
	}
	yp_unlock(yp);
	return rc;
}

int yp_node_add(struct yp *yp, struct yp_node *n)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_NODE_ADD);
	if (s) {
		sqlite3_bind_text(s, 1, n->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, n->shm_prefix, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, (int64_t)n->capacity);
		sqlite3_bind_int(s, 4, n->clean);
		rc = yp_exec(yp, s, "node add");
		if (rc == 0)
			n->id = sqlite3_last_insert_rowid(yp->db);
	}
	yp_unlock(yp);
	return rc;
}

int yp_node_update(struct yp *yp, const struct yp_node *n)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	yp_lock(yp);
	s = stmt(yp, ST_NODE_UPDATE);
	if (s) {
		sqlite3_bind_int64(s, 1, n->id);
		sqlite3_bind_int64(s, 2, (int64_t)n->capacity);
		sqlite3_bind_int(s, 3, n->clean);
		rc = yp_exec(yp, s, "node update");
	}
	yp_unlock(yp);
	return rc;
}
