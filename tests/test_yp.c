/* SPDX-License-Identifier: MIT */
/* test_yp.c -- unit tests for meta/yp: the yellow pages on a real SQLite file in a temp directory.
 *
 * Covers: the schema of a new database (user_version, no node yet, the root and vars/ rows); nodes,
 * objects (every field, NULL vs set), the unique live name per directory, blocks (ids chosen by the caller,
 * max id, size, delete, used flag), extents (set, replace, cascade on object delete); nested transactions
 * (commit, rollback, inner rollback poisoning the outer commit); reopening; the `vars` view of full paths;
 * and refusing a database from a newer schema.  What yp.h does not return (user_version, block sizes, the
 * view) is read through a second, read-only sqlite3 connection, as a person querying the YP would. */
#include "meta/yp.h"
#include "tests/check.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/fabric-test_yp.XXXXXX";
static char dbpath[256];

/* ---- a second connection, read-only, for what yp.h does not expose ---- */

/* The first column of the first row of sql as an integer; INT64_MIN when there is no row or on error. */
static int64_t ro_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = INT64_MIN;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "open %s read-only: %s\n", path, db ? sqlite3_errmsg(db) : "?");
		goto out;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "prepare %s: %s\n", sql, sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* Every row of a one- or two-column query, as "a|b" lines joined by '\n', into buf. */
static void ro_rows(const char *path, const char *sql, char *buf, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	size_t at = 0;

	buf[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "prepare %s: %s\n", sql, sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(s) == SQLITE_ROW && at < len) {
		int n = snprintf(buf + at, len - at, "%s%s", at ? "\n" : "", (const char *)sqlite3_column_text(s, 0));
		if (n > 0)
			at += (size_t)n;
		for (int c = 1; c < sqlite3_column_count(s) && at < len; c++) {
			const char *t = (const char *)sqlite3_column_text(s, c);
			n = snprintf(buf + at, len - at, "|%s", t ? t : "NULL");
			if (n > 0)
				at += (size_t)n;
		}
	}
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* ---- yp_each_object / yp_each_block collectors ---- */

#define MAXROWS 64

struct orow {
	int64_t id, parent, node, block;
	char name[64], kind[8], state[16], scope[16];
	char type[64], doc[64], xxh3[64], shm_name[128], refs[64];
	bool type_null, doc_null, xxh3_null, shm_null, refs_null;
	uint64_t size, offset, length;
	uint32_t mode, uid, gid;
	int64_t created_ns, modified_ns, sealed_ns;
};

struct orows {
	struct orow r[MAXROWS];
	int n;
};

static void copy_opt(char *dst, size_t len, bool *isnull, const char *src)
{
	*isnull = src == NULL;
	snprintf(dst, len, "%s", src ? src : "");
}

static int collect_obj(void *arg, const struct yp_obj *o)
{
	struct orows *c = arg;
	struct orow *r;

	if (c->n >= MAXROWS)
		return -E2BIG;
	r = &c->r[c->n++];
	memset(r, 0, sizeof(*r));
	r->id = o->id;
	r->parent = o->parent;
	r->node = o->node;
	r->block = o->block;
	snprintf(r->name, sizeof(r->name), "%s", o->name ? o->name : "(null)");
	snprintf(r->kind, sizeof(r->kind), "%s", o->kind ? o->kind : "(null)");
	snprintf(r->state, sizeof(r->state), "%s", o->state ? o->state : "(null)");
	snprintf(r->scope, sizeof(r->scope), "%s", o->scope ? o->scope : "(null)");
	copy_opt(r->type, sizeof(r->type), &r->type_null, o->type);
	copy_opt(r->doc, sizeof(r->doc), &r->doc_null, o->doc);
	copy_opt(r->xxh3, sizeof(r->xxh3), &r->xxh3_null, o->xxh3);
	copy_opt(r->shm_name, sizeof(r->shm_name), &r->shm_null, o->shm_name);
	copy_opt(r->refs, sizeof(r->refs), &r->refs_null, o->refs);
	r->size = o->size;
	r->offset = o->offset;
	r->length = o->length;
	r->mode = o->mode;
	r->uid = o->uid;
	r->gid = o->gid;
	r->created_ns = o->created_ns;
	r->modified_ns = o->modified_ns;
	r->sealed_ns = o->sealed_ns;
	return 0;
}

static int objects(struct yp *yp, struct orows *c)
{
	c->n = 0;
	return yp_each_object(yp, collect_obj, c);
}

static const struct orow *find_obj(const struct orows *c, int64_t id)
{
	for (int i = 0; i < c->n; i++)
		if (c->r[i].id == id)
			return &c->r[i];
	return NULL;
}

struct brows {
	int64_t id[MAXROWS];
	char shm[MAXROWS][128];
	int used[MAXROWS];
	int n;
};

static int collect_block(void *arg, int64_t id, const char *shm_name, int used)
{
	struct brows *b = arg;

	if (b->n >= MAXROWS)
		return -E2BIG;
	b->id[b->n] = id;
	snprintf(b->shm[b->n], sizeof(b->shm[b->n]), "%s", shm_name ? shm_name : "(null)");
	b->used[b->n] = used;
	b->n++;
	return 0;
}

/* used flag of block id: 0/1, or -1 when yp_each_block does not list it. */
static int block_used(struct yp *yp, int64_t id)
{
	struct brows b = { .n = 0 };

	if (yp_each_block(yp, collect_block, &b) != 0)
		return -2;
	for (int i = 0; i < b.n; i++)
		if (b.id[i] == id)
			return b.used[i];
	return -1;
}

static int count_cb(void *arg, const struct yp_obj *o)
{
	(void)o;
	++*(int *)arg;
	return 0;
}

static int stop_cb(void *arg, const struct yp_obj *o)
{
	(void)o;
	++*(int *)arg;
	return 42;
}

static int nobjects(struct yp *yp)
{
	int n = 0;

	return yp_each_object(yp, count_cb, &n) == 0 ? n : -1;
}

/* A plain variable row under parent, for the cases that do not care about its fields. */
static struct yp_obj var_row(int64_t parent, const char *name, int64_t node)
{
	return (struct yp_obj){ .parent = parent, .name = name, .kind = "var", .state = "writing",
				.scope = "any", .node = node, .mode = 0644, .uid = 1, .gid = 1,
				.created_ns = 1000, .modified_ns = 1000 };
}

/* ---- cases ---- */

static int64_t node_id;

static void test_new_db(struct yp *yp)
{
	struct yp_node n;
	struct orows c;
	const struct orow *root, *vars;

	CHECK(ro_int(dbpath, "PRAGMA user_version") == YP_SCHEMA_VERSION);
	{
		char mode[32];
		ro_rows(dbpath, "PRAGMA journal_mode", mode, sizeof(mode));
		CHECK(strcmp(mode, "wal") == 0); /* yp.h: WAL mode */
	}
	/* schema_v9: the kind and state constraints are OR chains, never an IN list of constants (an ephemeral
	 * index at every insert); that they still refuse is checked with the rows below */
	CHECK(ro_int(dbpath, "SELECT count(*) FROM sqlite_schema WHERE name IN ('objects', 'tasks')"
			     " AND (sql LIKE '%kind IN (%' OR sql LIKE '%state IN (%')") == 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM sqlite_schema WHERE name IN ('objects', 'tasks')"
			     " AND sql LIKE '%state = ''lost''%'") == 2);
	memset(&n, 0x5a, sizeof(n));
	CHECK_RC(yp_node_get(yp, &n), -ENOENT);

	CHECK_RC(objects(yp, &c), 0);
	CHECK(c.n == 2);
	root = find_obj(&c, YP_ROOT_ID);
	vars = find_obj(&c, YP_VARS_ID);
	CHECK(root != NULL);
	CHECK(vars != NULL);
	if (root) {
		CHECK(strcmp(root->kind, "dir") == 0);
		CHECK(root->parent == 0);
		CHECK(strcmp(root->state, "sealed") == 0);
		CHECK(root->block == 0);
	}
	if (vars) {
		CHECK(strcmp(vars->kind, "dir") == 0);
		CHECK(vars->parent == YP_ROOT_ID);
		CHECK(strcmp(vars->name, "vars") == 0);
		CHECK(strcmp(vars->state, "sealed") == 0);
	}

	int64_t max = -1;
	CHECK_RC(yp_block_max_id(yp, &max), 0);
	CHECK(max == 0);
}

static void test_nodes(struct yp *yp)
{
	struct yp_node n = { .capacity = 1ULL << 33, .clean = 1 }, got;

	snprintf(n.name, sizeof(n.name), "ut%d", (int)getpid());
	snprintf(n.shm_prefix, sizeof(n.shm_prefix), "fabric.%s.0badcafe.", n.name);
	n.id = -1;
	CHECK_RC(yp_node_add(yp, &n), 0);
	CHECK(n.id > 0);
	node_id = n.id;

	memset(&got, 0, sizeof(got));
	CHECK_RC(yp_node_get(yp, &got), 0);
	CHECK(got.id == n.id);
	CHECK(strcmp(got.name, n.name) == 0);
	CHECK(strcmp(got.shm_prefix, n.shm_prefix) == 0);
	CHECK(got.capacity == 1ULL << 33);
	CHECK(got.clean == 1);

	got.capacity = 12345678;
	got.clean = 0;
	CHECK_RC(yp_node_update(yp, &got), 0);
	memset(&got, 0, sizeof(got));
	CHECK_RC(yp_node_get(yp, &got), 0);
	CHECK(got.id == n.id);
	CHECK(got.capacity == 12345678);
	CHECK(got.clean == 0);
	CHECK(strcmp(got.name, n.name) == 0);

	got.capacity = 1ULL << 33;
	got.clean = 1;
	CHECK_RC(yp_node_update(yp, &got), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM nodes") == 1);
}

static void test_objects(struct yp *yp)
{
	struct yp_obj o = {
		.parent = YP_VARS_ID,
		.name = "alpha",
		.kind = "var",
		.state = "writing",
		.type = NULL,
		.doc = NULL,
		.xxh3 = NULL,
		.scope = "any",
		.node = node_id,
		.size = 0,
		.mode = 0644,
		.uid = 4000000000u, /* past INT32_MAX: must survive as unsigned */
		.gid = 4000000001u,
		.created_ns = INT64_C(1700000000123456789),
		.modified_ns = INT64_C(1700000000223456789),
		.sealed_ns = 0,
	};
	struct orows c;
	const struct orow *r;
	int64_t id;

	o.id = 0; /* 0: the table picks it */
	CHECK_RC(yp_obj_insert(yp, &o), 0);
	CHECK(o.id > YP_VARS_ID);
	id = o.id;
	/* an id given is the one the row gets (the store hands ids out itself) */
	{
		struct yp_obj g = var_row(YP_VARS_ID, "given", node_id);
		g.id = id + 100;
		CHECK_RC(yp_obj_insert(yp, &g), 0);
		CHECK(g.id == id + 100);
		CHECK_RC(yp_obj_max_id(yp, &g.id), 0);
		CHECK(g.id == id + 100);
		CHECK_RC(yp_obj_delete(yp, id + 100), 0);
		CHECK_RC(yp_obj_max_id(yp, &g.id), 0);
		CHECK(g.id == id + 100); /* AUTOINCREMENT remembers it: never handed out again */
	}

	CHECK_RC(objects(yp, &c), 0);
	r = find_obj(&c, id);
	CHECK(r != NULL);
	if (r) {
		CHECK(r->parent == YP_VARS_ID);
		CHECK(strcmp(r->name, "alpha") == 0);
		CHECK(strcmp(r->kind, "var") == 0);
		CHECK(strcmp(r->state, "writing") == 0);
		CHECK(r->type_null);
		CHECK(r->doc_null);
		CHECK(r->xxh3_null);
		CHECK(strcmp(r->scope, "any") == 0);
		CHECK(r->node == node_id);
		CHECK(r->size == 0);
		CHECK(r->mode == 0644);
		CHECK(r->uid == 4000000000u);
		CHECK(r->gid == 4000000001u);
		CHECK(r->created_ns == INT64_C(1700000000123456789));
		CHECK(r->modified_ns == INT64_C(1700000000223456789));
		CHECK(r->sealed_ns == 0);
		CHECK(r->block == 0);
		CHECK(r->shm_null);
	}
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'alpha' AND type IS NULL AND doc IS NULL"
			     " AND xxh3 IS NULL AND sealed_ns IS NULL") == 1);

	/* Update every column it may touch; kind, node and created must stay. */
	CHECK_RC(yp_obj_insert(yp, &(struct yp_obj){ .parent = YP_VARS_ID, .name = "sub", .kind = "dir",
						      .state = "sealed", .scope = "any", .node = node_id,
						      .mode = 0755, .created_ns = 1, .modified_ns = 1 }),
		 0);
	int64_t sub = -1;
	CHECK_RC(objects(yp, &c), 0);
	for (int i = 0; i < c.n; i++)
		if (strcmp(c.r[i].name, "sub") == 0)
			sub = c.r[i].id;
	CHECK(sub > 0);

	struct yp_obj u = {
		.id = id,
		.parent = sub,
		.name = "beta",
		.kind = "dir", /* ignored by update */
		.state = "sealed",
		.type = "40 * 20 * float64",
		.doc = "a doc string",
		.xxh3 = "0123456789abcdef0123456789abcdef",
		.scope = "any",
		.node = 0, /* ignored by update */
		.size = UINT64_C(1) << 40,
		.mode = 0600,
		.uid = 7,
		.gid = 8,
		.created_ns = 5, /* ignored by update */
		.modified_ns = INT64_C(1800000000000000001),
		.sealed_ns = INT64_C(1800000000000000002),
	};
	CHECK_RC(yp_obj_update(yp, &u), 0);
	CHECK_RC(objects(yp, &c), 0);
	r = find_obj(&c, id);
	CHECK(r != NULL);
	if (r) {
		CHECK(r->parent == sub);
		CHECK(strcmp(r->name, "beta") == 0);
		CHECK(strcmp(r->kind, "var") == 0);
		CHECK(strcmp(r->state, "sealed") == 0);
		CHECK(!r->type_null && strcmp(r->type, "40 * 20 * float64") == 0);
		CHECK(!r->doc_null && strcmp(r->doc, "a doc string") == 0);
		CHECK(!r->xxh3_null && strcmp(r->xxh3, "0123456789abcdef0123456789abcdef") == 0);
		CHECK(strcmp(r->scope, "any") == 0);
		CHECK(r->node == node_id);
		CHECK(r->size == UINT64_C(1) << 40);
		CHECK(r->mode == 0600);
		CHECK(r->uid == 7);
		CHECK(r->gid == 8);
		CHECK(r->created_ns == INT64_C(1700000000123456789));
		CHECK(r->modified_ns == INT64_C(1800000000000000001));
		CHECK(r->sealed_ns == INT64_C(1800000000000000002));
	}

	/* ... and back to NULLs and no parent (an unlinked object still open). */
	u.parent = 0;
	u.state = "deleted";
	u.type = u.doc = u.xxh3 = NULL;
	u.sealed_ns = 0;
	CHECK_RC(yp_obj_update(yp, &u), 0);
	CHECK_RC(objects(yp, &c), 0);
	r = find_obj(&c, id);
	CHECK(r != NULL);
	if (r) {
		CHECK(r->parent == 0);
		CHECK(strcmp(r->state, "deleted") == 0);
		CHECK(r->type_null);
		CHECK(r->doc_null);
		CHECK(r->xxh3_null);
		CHECK(r->sealed_ns == 0);
	}
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'beta' AND parent IS NULL AND type IS NULL"
			     " AND doc IS NULL AND xxh3 IS NULL AND sealed_ns IS NULL") == 1);

	/* A state outside the four is refused (CHECK constraint), and changes nothing. */
	u.state = "bogus";
	CHECK(yp_obj_update(yp, &u) < 0);
	CHECK_RC(objects(yp, &c), 0);
	r = find_obj(&c, id);
	CHECK(r && strcmp(r->state, "deleted") == 0);
	/* and so is a kind outside the five, at an insert */
	{
		struct yp_obj k = var_row(YP_VARS_ID, "kind_bogus", 0);
		k.kind = "bogus";
		CHECK(yp_obj_insert(yp, &k) < 0);
		CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'kind_bogus'") == 0);
	}

	CHECK_RC(yp_obj_delete(yp, id), 0);
	CHECK_RC(yp_obj_delete(yp, sub), 0);
	CHECK_RC(objects(yp, &c), 0);
	CHECK(find_obj(&c, id) == NULL);
	CHECK(find_obj(&c, sub) == NULL);
	CHECK(c.n == 2);

	/* A callback's non-zero return stops the walk and is returned. */
	int seen = 0;
	CHECK_RC(yp_each_object(yp, stop_cb, &seen), 42);
	CHECK(seen == 1);
	CHECK(nobjects(yp) == 2); /* the statement was reset: a new walk starts over */
}

static void test_unique_names(struct yp *yp)
{
	struct yp_obj a = var_row(YP_VARS_ID, "dup", node_id), b = var_row(YP_VARS_ID, "dup", node_id);
	struct yp_obj other = var_row(YP_ROOT_ID, "dup", node_id);
	int before = nobjects(yp);

	CHECK_RC(yp_obj_insert(yp, &a), 0);
	CHECK_RC(yp_obj_insert(yp, &b), -EEXIST);
	CHECK(nobjects(yp) == before + 1);
	b.state = "sealed";
	CHECK_RC(yp_obj_insert(yp, &b), -EEXIST);
	/* the same name in another directory is fine */
	CHECK_RC(yp_obj_insert(yp, &other), 0);

	/* once the first is 'deleted', the name is free again */
	a.state = "deleted";
	a.parent = YP_VARS_ID;
	CHECK_RC(yp_obj_update(yp, &a), 0);
	b.state = "writing";
	b.id = 0;
	CHECK_RC(yp_obj_insert(yp, &b), 0);
	CHECK(b.id > 0 && b.id != a.id);
	/* and a 'lost' row does not hold it either */
	b.state = "lost";
	CHECK_RC(yp_obj_update(yp, &b), 0);
	struct yp_obj c3 = var_row(YP_VARS_ID, "dup", node_id);
	CHECK_RC(yp_obj_insert(yp, &c3), 0);

	/* an update that would make a second live name is refused too */
	struct yp_obj d = var_row(YP_VARS_ID, "dup2", node_id);
	CHECK_RC(yp_obj_insert(yp, &d), 0);
	d.name = "dup";
	CHECK_RC(yp_obj_update(yp, &d), -EEXIST);

	CHECK_RC(yp_obj_delete(yp, a.id), 0);
	CHECK_RC(yp_obj_delete(yp, b.id), 0);
	CHECK_RC(yp_obj_delete(yp, c3.id), 0);
	CHECK_RC(yp_obj_delete(yp, d.id), 0);
	CHECK_RC(yp_obj_delete(yp, other.id), 0);
	CHECK(nobjects(yp) == before);
}

static void test_blocks_extents(struct yp *yp)
{
	char prefix[64], n1[96], n2[96];
	int64_t max = -1, b1, b2;
	struct orows c;
	const struct orow *r;

	snprintf(prefix, sizeof(prefix), "fabric.ut%d.0badcafe.", (int)getpid());
	CHECK_RC(yp_block_max_id(yp, &max), 0);
	CHECK(max == 0);
	b1 = max + 1;
	b2 = max + 7; /* ids are the caller's: gaps are fine */
	snprintf(n1, sizeof(n1), "%s%" PRId64, prefix, b1);
	snprintf(n2, sizeof(n2), "%s%" PRId64, prefix, b2);
	CHECK_RC(yp_block_insert(yp, b1, node_id, n1, 0, "dedicated"), 0);
	CHECK_RC(yp_block_max_id(yp, &max), 0);
	CHECK(max == b1);
	CHECK_RC(yp_block_insert(yp, b2, node_id, n2, 4096, "dedicated"), 0);
	CHECK_RC(yp_block_max_id(yp, &max), 0);
	CHECK(max == b2);
	/* the same id or the same shm name twice is refused */
	CHECK(yp_block_insert(yp, b1, node_id, "fabric.other.name.1", 0, "dedicated") < 0);
	CHECK(yp_block_insert(yp, b2 + 1, node_id, n1, 0, "dedicated") < 0);

	CHECK_RC(yp_block_set_size(yp, b1, 123456789012ULL), 0);
	{
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT size FROM blocks WHERE id = %" PRId64, b1);
		CHECK(ro_int(dbpath, sql) == 123456789012LL);
		snprintf(sql, sizeof(sql), "SELECT size FROM blocks WHERE id = %" PRId64, b2);
		CHECK(ro_int(dbpath, sql) == 4096);
	}

	/* yp_each_block lists both, unused */
	{
		struct brows b = { .n = 0 };
		CHECK_RC(yp_each_block(yp, collect_block, &b), 0);
		CHECK(b.n == 2);
		if (b.n == 2) {
			CHECK(b.id[0] == b1 && strcmp(b.shm[0], n1) == 0 && b.used[0] == 0);
			CHECK(b.id[1] == b2 && strcmp(b.shm[1], n2) == 0 && b.used[1] == 0);
		}
	}

	/* an extent: object -> block; yp_each_object shows it, and the block becomes used */
	struct yp_obj v = var_row(YP_VARS_ID, "withext", node_id);
	CHECK_RC(yp_obj_insert(yp, &v), 0);
	CHECK_RC(yp_extent_set(yp, v.id, b1, 0, 0), 0);
	CHECK(block_used(yp, b1) == 1);
	CHECK(block_used(yp, b2) == 0);
	CHECK_RC(objects(yp, &c), 0);
	r = find_obj(&c, v.id);
	CHECK(r && r->block == b1 && !r->shm_null && strcmp(r->shm_name, n1) == 0 && r->offset == 0 &&
	      r->length == 0);

	/* set replaces: same (object, offset), new length */
	CHECK_RC(yp_extent_set(yp, v.id, b1, 0, 5000), 0);
	CHECK_RC(objects(yp, &c), 0);
	CHECK(c.n == 3); /* still one row for the object: root, vars, withext */
	r = find_obj(&c, v.id);
	CHECK(r && r->block == b1 && r->offset == 0 && r->length == 5000);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM extents") == 1);

	/* ... and a new block */
	CHECK_RC(yp_extent_set(yp, v.id, b2, 0, 4096), 0);
	CHECK_RC(objects(yp, &c), 0);
	r = find_obj(&c, v.id);
	CHECK(r && r->block == b2 && strcmp(r->shm_name, n2) == 0 && r->length == 4096);
	CHECK(block_used(yp, b1) == 0);
	CHECK(block_used(yp, b2) == 1);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM extents") == 1);

	/* an extent needs a real object and block */
	CHECK(yp_extent_set(yp, v.id, 999999, 0, 1) < 0);
	CHECK(yp_extent_set(yp, 999999, b1, 0, 1) < 0);

	/* deleting the object takes its extents: the block is unused again */
	CHECK_RC(yp_obj_delete(yp, v.id), 0);
	CHECK(block_used(yp, b2) == 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM extents") == 0);

	/* delete; ids are not handed out again (the max does not go back), so a block's name stays unique */
	CHECK_RC(yp_block_delete(yp, b1), 0);
	CHECK(block_used(yp, b1) == -1);
	CHECK_RC(yp_block_delete(yp, b2), 0);
	CHECK(block_used(yp, b2) == -1);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM blocks") == 0);
	CHECK_RC(yp_block_max_id(yp, &max), 0);
	CHECK(max >= b2);
}

/* The WAL stays bounded under a steady stream of commits (meta/yp_wal.c): 20,000 one-row transactions
 * write ~60,000 frames, 240 MB of WAL if nothing checkpointed (SQLite's own checkpoints are off); the
 * checkpointer keeps it under its restart bound (32 MiB) plus what comes while it works. */
static void test_wal_bounded(struct yp *yp)
{
	enum { N = 20000 };
	static int64_t ids[N];
	char wal[300];
	struct stat sb;
	off_t peak = 0;

	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	for (int i = 0; i < N; i++) {
		char name[32];
		struct yp_obj o;
		snprintf(name, sizeof(name), "wal%d", i);
		o = var_row(YP_VARS_ID, name, node_id);
		if (yp_begin(yp) != 0 || yp_obj_insert(yp, &o) != 0 || yp_commit(yp) != 0) {
			CHECK(!"a commit of the WAL test failed");
			return;
		}
		ids[i] = o.id;
		if (i % 500 == 0 && stat(wal, &sb) == 0 && sb.st_size > peak)
			peak = sb.st_size;
	}
	CHECK(stat(wal, &sb) == 0);
	if (sb.st_size > peak)
		peak = sb.st_size;
	if (peak > (off_t)48 << 20)
		fprintf(stderr, "WAL peaked at %lld bytes\n", (long long)peak);
	CHECK(peak <= (off_t)48 << 20);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name LIKE 'wal%'") == N);
	/* gone again, for the cases after this one */
	CHECK_RC(yp_begin(yp), 0);
	for (int i = 0; i < N; i++)
		CHECK_RC(yp_obj_delete(yp, ids[i]), 0);
	CHECK_RC(yp_commit(yp), 0);
}

static void test_transactions(struct yp *yp)
{
	int before = nobjects(yp);
	struct yp_obj a = var_row(YP_VARS_ID, "tx_a", node_id), b = var_row(YP_VARS_ID, "tx_b", node_id);
	struct yp_obj x = var_row(YP_VARS_ID, "tx_x", node_id), y = var_row(YP_VARS_ID, "tx_y", node_id);

	/* nested begin/begin/commit/commit: visible to another connection only after the outer commit */
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_insert(yp, &a), 0);
	CHECK_RC(yp_commit(yp), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'tx_a'") == 0);
	CHECK_RC(yp_obj_insert(yp, &b), 0);
	CHECK_RC(yp_commit(yp), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name IN ('tx_a', 'tx_b')") == 2);
	CHECK(nobjects(yp) == before + 2);

	/* begin/insert/rollback leaves nothing */
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_insert(yp, &x), 0);
	CHECK(nobjects(yp) == before + 3);
	yp_rollback(yp);
	CHECK(nobjects(yp) == before + 2);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'tx_x'") == 0);

	/* inner rollback + outer commit: the commit fails and nothing of either level stays */
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_insert(yp, &x), 0);
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_insert(yp, &y), 0);
	yp_rollback(yp);
	CHECK(yp_commit(yp) < 0);
	CHECK(nobjects(yp) == before + 2);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name IN ('tx_x', 'tx_y')") == 0);

	/* and the next transaction works normally again */
	x.id = 0;
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_insert(yp, &x), 0);
	CHECK_RC(yp_commit(yp), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'tx_x'") == 1);

	/* a failed statement inside a transaction, then rollback: the whole transaction is gone */
	struct yp_obj dup = var_row(YP_VARS_ID, "tx_a", node_id);
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_insert(yp, &y), 0);
	CHECK_RC(yp_obj_insert(yp, &dup), -EEXIST);
	yp_rollback(yp);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'tx_y'") == 0);

	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_delete(yp, a.id), 0);
	CHECK_RC(yp_obj_delete(yp, b.id), 0);
	CHECK_RC(yp_obj_delete(yp, x.id), 0);
	CHECK_RC(yp_commit(yp), 0);
	CHECK(nobjects(yp) == before);
}

/* State left for the reopen and view checks: vars/run1/w (sealed, with a block), vars/run1/sub/z,
 * vars/top, and a deleted row the view must not show. */
struct fixture {
	int64_t run1, sub, w, z, top, gone, block;
	char shm[96];
};

static void make_fixture(struct yp *yp, struct fixture *f)
{
	struct yp_obj run1 = { .parent = YP_VARS_ID, .name = "run1", .kind = "dir", .state = "sealed",
			       .scope = "any", .node = node_id, .mode = 0755, .created_ns = 10,
			       .modified_ns = 11 };
	struct yp_obj w = { .parent = 0, .name = "w", .kind = "var", .state = "sealed",
			    .type = "4 * int32", .doc = "weights", .xxh3 = "00112233445566778899aabbccddeeff",
			    .scope = "any", .node = node_id, .size = 16, .mode = 0444, .uid = 1000, .gid = 100,
			    .created_ns = 20, .modified_ns = 21, .sealed_ns = 22 };
	struct yp_obj sub = run1, z = var_row(0, "z", node_id), top = var_row(YP_VARS_ID, "top", node_id);
	struct yp_obj gone = var_row(YP_VARS_ID, "gone", node_id);
	int64_t max = 0;

	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_insert(yp, &run1), 0);
	w.parent = run1.id;
	CHECK_RC(yp_obj_insert(yp, &w), 0);
	sub.name = "sub";
	sub.parent = run1.id;
	CHECK_RC(yp_obj_insert(yp, &sub), 0);
	z.parent = sub.id;
	CHECK_RC(yp_obj_insert(yp, &z), 0);
	CHECK_RC(yp_obj_insert(yp, &top), 0);
	gone.state = "deleted";
	CHECK_RC(yp_obj_insert(yp, &gone), 0);
	CHECK_RC(yp_block_max_id(yp, &max), 0);
	f->block = max + 1;
	snprintf(f->shm, sizeof(f->shm), "fabric.ut%d.0badcafe.%" PRId64, (int)getpid(), f->block);
	CHECK_RC(yp_block_insert(yp, f->block, node_id, f->shm, 16, "dedicated"), 0);
	CHECK_RC(yp_extent_set(yp, w.id, f->block, 0, 16), 0);
	CHECK_RC(yp_commit(yp), 0);
	f->run1 = run1.id;
	f->sub = sub.id;
	f->w = w.id;
	f->z = z.id;
	f->top = top.id;
	f->gone = gone.id;
}

static void check_fixture(struct yp *yp, const struct fixture *f)
{
	struct orows c;
	const struct orow *r;
	struct yp_node n;

	CHECK_RC(yp_node_get(yp, &n), 0);
	CHECK(n.id == node_id);
	CHECK(n.capacity == 1ULL << 33);
	CHECK(n.clean == 1);

	CHECK_RC(objects(yp, &c), 0);
	CHECK(c.n == 8); /* root, vars, run1, w, sub, z, top, gone */
	CHECK(find_obj(&c, YP_ROOT_ID) && find_obj(&c, YP_VARS_ID));
	r = find_obj(&c, f->run1);
	CHECK(r && r->parent == YP_VARS_ID && strcmp(r->kind, "dir") == 0 && strcmp(r->name, "run1") == 0);
	r = find_obj(&c, f->w);
	CHECK(r != NULL);
	if (r) {
		CHECK(r->parent == f->run1);
		CHECK(strcmp(r->name, "w") == 0);
		CHECK(strcmp(r->state, "sealed") == 0);
		CHECK(strcmp(r->type, "4 * int32") == 0);
		CHECK(strcmp(r->doc, "weights") == 0);
		CHECK(strcmp(r->xxh3, "00112233445566778899aabbccddeeff") == 0);
		CHECK(r->size == 16 && r->mode == 0444 && r->uid == 1000 && r->gid == 100);
		CHECK(r->created_ns == 20 && r->modified_ns == 21 && r->sealed_ns == 22);
		CHECK(r->block == f->block && strcmp(r->shm_name, f->shm) == 0 && r->offset == 0 && r->length == 16);
	}
	r = find_obj(&c, f->gone);
	CHECK(r && strcmp(r->state, "deleted") == 0);
	CHECK(block_used(yp, f->block) == 1);
}

static void test_view(const struct fixture *f)
{
	char rows[1024];

	(void)f;
	ro_rows(dbpath, "SELECT path, kind FROM vars ORDER BY path", rows, sizeof(rows));
	CHECK(strcmp(rows, "run1|dir\nrun1/sub|dir\nrun1/sub/z|var\nrun1/w|var\ntop|var") == 0);
	if (strcmp(rows, "run1|dir\nrun1/sub|dir\nrun1/sub/z|var\nrun1/w|var\ntop|var") != 0)
		fprintf(stderr, "vars view:\n%s\n", rows);
	ro_rows(dbpath, "SELECT path, type, doc, size, xxh3, state, node FROM vars WHERE path = 'run1/w'", rows,
		sizeof(rows));
	{
		char want[256];
		snprintf(want, sizeof(want), "run1/w|4 * int32|weights|16|00112233445566778899aabbccddeeff|sealed|ut%d",
			 (int)getpid());
		CHECK(strcmp(rows, want) == 0);
		if (strcmp(rows, want) != 0)
			fprintf(stderr, "run1/w in the view: '%s', want '%s'\n", rows, want);
	}
	CHECK(ro_int(dbpath, "SELECT count(*) FROM vars WHERE path LIKE '%gone%'") == 0);
}

/* ---- tasks ---- */

#define MAXTASKS 8

struct trow {
	int64_t id;
	char state[16];
	char argv[256];
	size_t argv_len;
	bool argv_null;
	char inputs[128], outputs[128], after[64], scope[64], node[64], placed[128], why[128], groups[64];
	uint32_t uid, gid;
	int64_t timeout_ms, exit_status, pid;
	uint64_t pid_start, pidns;
	int64_t queued_ns, started_ns, ended_ns;
	bool outputs_sealed;
};

struct trows {
	struct trow r[MAXTASKS];
	int n;
};

#define COPY_STR(dst, src) snprintf(dst, sizeof(dst), "%s", (src) ? (src) : "(null)")

static int collect_task(void *arg, const struct yp_task *t)
{
	struct trows *c = arg;
	struct trow *r;

	if (c->n >= MAXTASKS || t->argv_len > sizeof(r->argv))
		return -E2BIG;
	r = &c->r[c->n++];
	memset(r, 0, sizeof(*r));
	r->id = t->id;
	COPY_STR(r->state, t->state);
	r->argv_null = t->argv == NULL;
	if (t->argv)
		memcpy(r->argv, t->argv, t->argv_len);
	r->argv_len = t->argv_len;
	COPY_STR(r->inputs, t->inputs);
	COPY_STR(r->outputs, t->outputs);
	COPY_STR(r->after, t->after);
	COPY_STR(r->scope, t->scope);
	COPY_STR(r->node, t->node);
	COPY_STR(r->placed, t->placed);
	COPY_STR(r->why, t->why);
	COPY_STR(r->groups, t->groups);
	r->uid = t->uid;
	r->gid = t->gid;
	r->timeout_ms = t->timeout_ms;
	r->exit_status = t->exit_status;
	r->pid = t->pid;
	r->pid_start = t->pid_start;
	r->pidns = t->pidns;
	r->queued_ns = t->queued_ns;
	r->started_ns = t->started_ns;
	r->ended_ns = t->ended_ns;
	r->outputs_sealed = t->outputs_sealed;
	return 0;
}

static int tasks(struct yp *yp, struct trows *c)
{
	c->n = 0;
	return yp_each_task(yp, collect_task, c);
}

static const struct trow *find_task(const struct trows *c, int64_t id)
{
	for (int i = 0; i < c->n; i++)
		if (c->r[i].id == id)
			return &c->r[i];
	return NULL;
}

/* Every field of the row read back equals what was written (argv byte for byte, with its length). */
static void check_task(const char *what, const struct trow *r, const struct yp_task *t)
{
	int before = check_failures;

	CHECK(r != NULL);
	if (!r) {
		fprintf(stderr, "  (%s: task %" PRId64 " not listed)\n", what, t->id);
		return;
	}
	CHECK(r->id == t->id);
	CHECK(strcmp(r->state, t->state) == 0);
	CHECK(!r->argv_null);
	CHECK(r->argv_len == t->argv_len);
	CHECK(r->argv_len == t->argv_len && memcmp(r->argv, t->argv, t->argv_len) == 0);
	CHECK(strcmp(r->inputs, t->inputs) == 0);
	CHECK(strcmp(r->outputs, t->outputs) == 0);
	CHECK(strcmp(r->after, t->after) == 0);
	CHECK(strcmp(r->scope, t->scope) == 0);
	CHECK(strcmp(r->node, t->node) == 0);
	CHECK(strcmp(r->placed, t->placed) == 0);
	CHECK(strcmp(r->why, t->why) == 0);
	CHECK(strcmp(r->groups, t->groups) == 0);
	CHECK(r->uid == t->uid);
	CHECK(r->gid == t->gid);
	CHECK(r->timeout_ms == t->timeout_ms);
	CHECK(r->exit_status == t->exit_status);
	CHECK(r->pid == t->pid);
	CHECK(r->pid_start == t->pid_start);
	CHECK(r->pidns == t->pidns);
	CHECK(r->queued_ns == t->queued_ns);
	CHECK(r->started_ns == t->started_ns);
	CHECK(r->ended_ns == t->ended_ns);
	CHECK(r->outputs_sealed == t->outputs_sealed);
	if (check_failures != before)
		fprintf(stderr, "  (%s: task %" PRId64 ")\n", what, t->id);
}

static int stop_task_cb(void *arg, const struct yp_task *t)
{
	(void)t;
	++*(int *)arg;
	return 43;
}

/* Several words, an empty one, one with spaces and shell characters, one in UTF-8, and a byte that is
 * not UTF-8: each followed by its NUL.  sizeof - 1 leaves out the literal's own terminator. */
static const char argv1[] = "sh\0-c\0echo a  b > out\0\0two words\0caf\xc3\xa9\0\xff\x01\0";
static const char argv2[] = "true\0";
static const char argv2_changed[] = "false\0"; /* update must not store it */

/* State left for the reopen check: task1 (updated, ended) and task4 (queued), in that order. */
struct task_fixture {
	struct yp_task t1, t4;
};

static void test_tasks(struct yp *yp, struct task_fixture *f)
{
	struct yp_task t1 = {
		.id = 12345, /* ignored: the table picks */
		.state = "queued",
		.argv = argv1,
		.argv_len = sizeof(argv1) - 1,
		.inputs = "run1/w\nrun1/sub/z",
		.outputs = "out/a\nout/b",
		.after = "7\n8",
		.scope = "node=n1",
		.node = "",
		.placed = "",
		.why = "",
		.uid = 4000000000u, /* past INT32_MAX */
		.gid = 4000000001u,
		.groups = "4000000001,27,100",
		.timeout_ms = 90000,
		.exit_status = -1,
		.pid = 0,
		.pid_start = 0,
		.pidns = 0,
		.queued_ns = INT64_C(1700000000123456789),
		.started_ns = 0,
		.ended_ns = 0,
	};
	struct yp_task t2 = {
		.state = "running", .argv = argv2, .argv_len = sizeof(argv2) - 1, .inputs = "", .outputs = "",
		.after = "", .scope = "", .node = "n2", .placed = "most input bytes", .why = "", .uid = 0,
		.gid = 0, .groups = "", .timeout_ms = 0, .exit_status = -1, .pid = 4242,
		.pid_start = UINT64_C(0xfedcba9876543210), /* high bit set: stored as a negative int64 */
		.pidns = UINT64_C(4026531836), .queued_ns = 5, .started_ns = 6, .ended_ns = 0,
	};
	struct yp_task t3 = t2, t4 = t2;
	struct trows c;
	char rows[1024], want[512];
	int64_t gone_id;

	/* a new database has the table, empty */
	CHECK(ro_int(dbpath, "SELECT count(*) FROM tasks") == 0);
	CHECK_RC(tasks(yp, &c), 0);
	CHECK(c.n == 0);

	CHECK_RC(yp_task_insert(yp, &t1), 0);
	CHECK(t1.id == 1); /* the first task of a new database; the 12345 passed in is not used */
	CHECK_RC(yp_task_insert(yp, &t2), 0);
	CHECK(t2.id == t1.id + 1);
	/* an empty argv is an empty blob, read back as "" of length 0 (not NULL) */
	t3.argv = "";
	t3.argv_len = 0;
	t3.state = "cancelled";
	t3.why = "nobody wanted it";
	CHECK_RC(yp_task_insert(yp, &t3), 0);
	CHECK(t3.id == t2.id + 1);

	CHECK_RC(tasks(yp, &c), 0);
	CHECK(c.n == 3);
	if (c.n == 3) { /* id order */
		check_task("insert", &c.r[0], &t1);
		check_task("insert", &c.r[1], &t2);
		check_task("insert", &c.r[2], &t3);
	}
	/* as a sqlite3 user sees them */
	ro_rows(dbpath, "SELECT id, state, node FROM tasks", rows, sizeof(rows));
	CHECK(strcmp(rows, "1|queued|\n2|running|n2\n3|cancelled|n2") == 0);
	/* the blob itself, byte for byte, as a sqlite3 user reads it */
	for (size_t i = 0; i < sizeof(argv1) - 1; i++)
		snprintf(want + 2 * i, sizeof(want) - 2 * i, "%02X", (unsigned char)argv1[i]);
	ro_rows(dbpath, "SELECT hex(argv), typeof(argv), length(argv) FROM tasks WHERE id = 1", rows, sizeof(rows));
	snprintf(want + 2 * (sizeof(argv1) - 1), sizeof(want) - 2 * (sizeof(argv1) - 1), "|blob|%zu",
		 sizeof(argv1) - 1);
	CHECK(strcmp(rows, want) == 0);
	CHECK(ro_int(dbpath, "SELECT pid_start FROM tasks WHERE id = 2") == (int64_t)UINT64_C(0xfedcba9876543210));
	CHECK(ro_int(dbpath, "SELECT uid FROM tasks WHERE id = 1") == 4000000000);
	CHECK(ro_int(dbpath, "SELECT length(argv) FROM tasks WHERE id = 3") == 0);

	/* the view for sqlite3 users: argv's words joined by spaces */
	ro_rows(dbpath, "SELECT id, state, node, cmd FROM task_cmds WHERE id IN (2, 3)", rows, sizeof(rows));
	CHECK(strcmp(rows, "2|running|n2|true\n3|cancelled|n2|") == 0);
	if (strcmp(rows, "2|running|n2|true\n3|cancelled|n2|") != 0)
		fprintf(stderr, "task_cmds:\n%s\n", rows);
	ro_rows(dbpath, "SELECT cmd FROM task_cmds WHERE id = 1", rows, sizeof(rows));
	CHECK(strcmp(rows, "sh -c echo a  b > out  two words caf\xc3\xa9 \xff\x01") == 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM task_cmds") == 3);

	/* update: every column but id and argv */
	t1.state = "exited";
	t1.argv = argv2_changed; /* ignored */
	t1.argv_len = sizeof(argv2_changed) - 1;
	t1.inputs = "run1/w";
	t1.outputs = "out/c";
	t1.after = "";
	t1.scope = "any";
	t1.node = "n1";
	t1.placed = "the only node in scope";
	t1.why = "";
	t1.uid = 1000;
	t1.gid = 100;
	t1.groups = "100";
	t1.timeout_ms = 0;
	t1.exit_status = 1 << 8; /* exit(1) */
	t1.pid = 31337;
	t1.pid_start = UINT64_MAX;
	t1.pidns = UINT64_C(4026532000);
	t1.queued_ns = INT64_C(1700000000123456790);
	t1.started_ns = INT64_C(1700000001000000000);
	t1.ended_ns = INT64_C(1700000002000000000);
	t1.outputs_sealed = true;
	CHECK_RC(yp_task_update(yp, &t1), 0);
	CHECK_RC(tasks(yp, &c), 0);
	CHECK(c.n == 3);
	{
		struct yp_task want1 = t1;
		want1.argv = argv1;
		want1.argv_len = sizeof(argv1) - 1;
		check_task("update", find_task(&c, t1.id), &want1);
		t1 = want1;
	}
	check_task("update (other rows unchanged)", find_task(&c, t2.id), &t2);
	check_task("update (other rows unchanged)", find_task(&c, t3.id), &t3);

	/* a state outside the eight is refused and changes nothing; so is an insert with one */
	{
		struct yp_task bad = t1;
		bad.state = "bogus";
		bad.node = "elsewhere";
		CHECK(yp_task_update(yp, &bad) < 0);
		bad.id = 0;
		CHECK(yp_task_insert(yp, &bad) < 0);
		CHECK_RC(tasks(yp, &c), 0);
		CHECK(c.n == 3);
		check_task("bad state", find_task(&c, t1.id), &t1);
		bad.id = t1.id;
		bad.state = "timed-out"; /* the one state with a '-' is accepted */
		CHECK_RC(yp_task_update(yp, &bad), 0);
		CHECK(ro_int(dbpath, "SELECT count(*) FROM tasks WHERE id = 1 AND state = 'timed-out'") == 1);
		CHECK_RC(yp_task_update(yp, &t1), 0);
	}

	/* update and delete of an id no row has */
	{
		struct yp_task none = t2;
		none.id = 999;
		CHECK_RC(yp_task_update(yp, &none), -ENOENT);
		CHECK_RC(yp_task_delete(yp, 999), -ENOENT);
		CHECK_RC(yp_task_delete(yp, 0), -ENOENT);
		CHECK(ro_int(dbpath, "SELECT count(*) FROM tasks") == 3);
	}

	/* delete the newest: its id is not handed out again (AUTOINCREMENT) */
	gone_id = t3.id;
	CHECK_RC(yp_task_delete(yp, t3.id), 0);
	CHECK_RC(yp_task_delete(yp, t3.id), -ENOENT);
	t3.state = "lost";
	CHECK_RC(yp_task_update(yp, &t3), -ENOENT);
	CHECK_RC(tasks(yp, &c), 0);
	CHECK(c.n == 2);
	CHECK(find_task(&c, gone_id) == NULL);
	t4.state = "queued";
	t4.node = "";
	t4.pid = 0;
	t4.pid_start = t4.pidns = 0;
	t4.started_ns = 0;
	t4.queued_ns = 77;
	CHECK_RC(yp_task_insert(yp, &t4), 0);
	CHECK(t4.id > gone_id);

	/* an id given (a cluster's) is kept; one taken already is refused */
	{
		struct yp_task t6 = t4, t7 = t4;
		t6.id = 5000;
		t6.keep_id = true;
		CHECK_RC(yp_task_insert(yp, &t6), 0);
		CHECK(t6.id == 5000);
		CHECK(ro_int(dbpath, "SELECT count(*) FROM tasks WHERE id = 5000") == 1);
		t7.id = 5000;
		t7.keep_id = true;
		CHECK_RC(yp_task_insert(yp, &t7), -EEXIST);
		CHECK_RC(yp_task_delete(yp, 5000), 0);
	}

	/* delete one in the middle; the rest stay, in id order */
	CHECK_RC(yp_task_delete(yp, t2.id), 0);
	CHECK_RC(tasks(yp, &c), 0);
	CHECK(c.n == 2);
	if (c.n == 2) {
		check_task("after delete", &c.r[0], &t1);
		check_task("after delete", &c.r[1], &t4);
	}
	CHECK(find_task(&c, t2.id) == NULL);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM tasks WHERE id IN (2, 3)") == 0);

	/* inside a transaction that is rolled back, an insert leaves nothing */
	{
		struct yp_task t5 = t4;
		CHECK_RC(yp_begin(yp), 0);
		CHECK_RC(yp_task_insert(yp, &t5), 0);
		CHECK_RC(tasks(yp, &c), 0);
		CHECK(c.n == 3);
		yp_rollback(yp);
		CHECK_RC(tasks(yp, &c), 0);
		CHECK(c.n == 2);
	}

	/* a callback's non-zero return stops the walk and is returned; the next walk starts over */
	{
		int seen = 0;
		CHECK_RC(yp_each_task(yp, stop_task_cb, &seen), 43);
		CHECK(seen == 1);
		CHECK_RC(tasks(yp, &c), 0);
		CHECK(c.n == 2);
	}
	f->t1 = t1;
	f->t4 = t4;
}

static void check_task_fixture(struct yp *yp, const struct task_fixture *f)
{
	struct trows c;

	CHECK_RC(tasks(yp, &c), 0);
	CHECK(c.n == 2);
	if (c.n == 2) {
		check_task("reopened", &c.r[0], &f->t1);
		check_task("reopened", &c.r[1], &f->t4);
	}
}

/* ---- upgrades ----
 * The schemas of versions 1 and 2 exactly as meta/yp.c wrote them (copied from it when version 3 came,
 * and frozen: they are history), version 3's (copied when version 4 came) and version 4's (when 5
 * came).  A database is made with them and rows, as the fabric of that version left it, then opened: it must come up at YP_SCHEMA_VERSION with every row kept, and with the very schema
 * a new database gets. */
static const char old_schema_v1[] =
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
static const char old_schema_v2[] =
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

/* Version 3: tasks and the view task_cmds. */
static const char old_schema_v3[] =
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

/* Version 4: the kind 'link' and its column target (copied when version 5 came). */
static const char old_schema_v4[] =
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

/* Version 5: the kind 'alias' and its column alias_of (copied when version 6 came). */
static const char old_schema_v5[] =
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

/* sqlite_master of a database, one "type|name|sql" line per entry, in name order. */
/* Version 6 (the table remote and vars over both), as meta/yp.c wrote it when version 7 came. */
static const char old_schema_v6[] =
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

static void schema_of(const char *path, char *buf, size_t len)
{
	ro_rows(path, "SELECT type, name, sql FROM sqlite_master ORDER BY name", buf, len);
}

/* Make path at schema version `version` (1 to 6) holding a node, a sealed variable with its block and
 * extent, a mutable (version 2), and a deleted object that raised the id counter past the live ones. */
static void make_old_db(const char *path, int version)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	int rc;

	if (sqlite3_open(path, &db) != SQLITE_OK) {
		CHECK(!"cannot make an old database");
		sqlite3_close(db);
		return;
	}
	rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = OFF;", NULL, NULL, &err);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, old_schema_v1, NULL, NULL, &err);
	if (rc == SQLITE_OK && version >= 2)
		rc = sqlite3_exec(db, old_schema_v2, NULL, NULL, &err);
	if (rc == SQLITE_OK && version >= 3)
		rc = sqlite3_exec(db, old_schema_v3, NULL, NULL, &err);
	if (rc == SQLITE_OK && version >= 4)
		rc = sqlite3_exec(db, old_schema_v4, NULL, NULL, &err);
	if (rc == SQLITE_OK && version >= 5)
		rc = sqlite3_exec(db, old_schema_v5, NULL, NULL, &err);
	if (rc == SQLITE_OK && version >= 6)
		rc = sqlite3_exec(db, old_schema_v6, NULL, NULL, &err);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db,
				  "PRAGMA foreign_keys = ON;"
				  "INSERT INTO nodes(id, name, shm_prefix, capacity, clean)"
				  "  VALUES (1, 'old', 'fabric.old.0badcafe.', 1048576, 1);"
				  "INSERT INTO objects(id, parent, name, kind, state, type, doc, xxh3, node, size, mode,"
				  "  uid, gid, created_ns, modified_ns, sealed_ns)"
				  "  VALUES (3, 2, 'w', 'var', 'sealed', '4 * int32', 'weights',"
				  "  '00112233445566778899aabbccddeeff', 1, 16, 292, 1000, 100, 20, 21, 22);"
				  "INSERT INTO objects(id, parent, name, kind, state, node, mode, uid, gid, created_ns,"
				  "  modified_ns) VALUES (40, 2, 'was', 'var', 'writing', 1, 420, 0, 0, 1, 1);"
				  "DELETE FROM objects WHERE id = 40;"
				  "INSERT INTO blocks(id, node, shm_name, size, kind)"
				  "  VALUES (1, 1, 'fabric.old.0badcafe.1', 16, 'dedicated');"
				  "INSERT INTO extents(object, block, offset, length) VALUES (3, 1, 0, 16);",
				  NULL, NULL, &err);
	if (rc == SQLITE_OK && version >= 2)
		rc = sqlite3_exec(db,
				  "INSERT INTO objects(id, parent, name, kind, state, node, size, mode, uid, gid,"
				  "  created_ns, modified_ns) VALUES (5, 2, 'm', 'mutable', 'writing', 1, 4096, 420, 0, 0,"
				  "  30, 31);"
				  "INSERT INTO blocks(id, node, shm_name, size, kind)"
				  "  VALUES (2, 1, 'fabric.old.0badcafe.2', 4096, 'dedicated');"
				  "INSERT INTO extents(object, block, offset, length) VALUES (5, 2, 0, 4096);",
				  NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fprintf(stderr, "making a version %d database: %s\n", version, err ? err : sqlite3_errstr(rc));
	CHECK(rc == SQLITE_OK);
	sqlite3_free(err);
	sqlite3_close(db);
}

static void test_upgrade(int version)
{
	char path[300], fresh[16384], upgraded[16384];
	struct yp *yp = NULL;
	struct yp_node n;
	struct orows c;
	struct trows tc;
	const struct orow *r;
	int nobj = version >= 2 ? 4 : 3; /* root, vars, w (and m) */

	snprintf(path, sizeof(path), "%s/v%d.db", dir, version);
	make_old_db(path, version);
	CHECK(ro_int(path, "PRAGMA user_version") == version);
	CHECK(ro_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'tasks'") == (version >= 3));

	CHECK_RC(yp_open(path, &yp), 0);
	if (!yp)
		return;
	CHECK(ro_int(path, "PRAGMA user_version") == YP_SCHEMA_VERSION);
	CHECK(YP_SCHEMA_VERSION == 9);
	/* the same tables, indexes and views, with the same SQL, as a database made new */
	schema_of(dbpath, fresh, sizeof(fresh));
	schema_of(path, upgraded, sizeof(upgraded));
	CHECK(strstr(fresh, "table|tasks|") != NULL && strstr(fresh, "view|task_cmds|") != NULL);
	CHECK(strcmp(fresh, upgraded) == 0);
	if (strcmp(fresh, upgraded) != 0)
		fprintf(stderr, "schema of a new database:\n%s\nupgraded from version %d:\n%s\n", fresh, version,
			upgraded);

	/* every row kept */
	CHECK_RC(yp_node_get(yp, &n), 0);
	CHECK(n.id == 1 && strcmp(n.name, "old") == 0 && strcmp(n.shm_prefix, "fabric.old.0badcafe.") == 0);
	CHECK(n.capacity == 1048576 && n.clean == 1);
	CHECK_RC(objects(yp, &c), 0);
	CHECK(c.n == nobj);
	CHECK(find_obj(&c, YP_ROOT_ID) && find_obj(&c, YP_VARS_ID));
	r = find_obj(&c, 3);
	CHECK(r != NULL);
	if (r) {
		CHECK(r->parent == YP_VARS_ID && strcmp(r->name, "w") == 0 && strcmp(r->kind, "var") == 0);
		CHECK(strcmp(r->state, "sealed") == 0 && strcmp(r->type, "4 * int32") == 0);
		CHECK(strcmp(r->doc, "weights") == 0 && strcmp(r->xxh3, "00112233445566778899aabbccddeeff") == 0);
		CHECK(r->size == 16 && r->mode == 0444 && r->uid == 1000 && r->gid == 100);
		CHECK(r->created_ns == 20 && r->modified_ns == 21 && r->sealed_ns == 22);
		CHECK(r->block == 1 && strcmp(r->shm_name, "fabric.old.0badcafe.1") == 0 && r->length == 16);
	}
	if (version >= 2) {
		r = find_obj(&c, 5);
		CHECK(r && strcmp(r->kind, "mutable") == 0 && r->block == 2 && r->length == 4096);
	}
	CHECK(block_used(yp, 1) == 1);
	{
		char rows[256];
		ro_rows(path, "SELECT path, kind FROM vars ORDER BY path", rows, sizeof(rows));
		CHECK(strcmp(rows, version >= 2 ? "m|mutable\nw|var" : "w|var") == 0);
	}

	/* the id counter of objects survived: no inode number is handed out twice */
	{
		struct yp_obj o = var_row(YP_VARS_ID, "new", 1);
		CHECK_RC(yp_obj_insert(yp, &o), 0);
		CHECK(o.id > 40);
	}
	/* version 2's kind works (after a version 1 upgrade too) */
	{
		struct yp_obj m = var_row(YP_VARS_ID, "m2", 1);
		m.kind = "mutable";
		CHECK_RC(yp_obj_insert(yp, &m), 0);
	}

	/* version 4's kind works: a link with its target, which only a link has */
	{
		struct yp_obj l = var_row(YP_VARS_ID, "l", 1), bad = var_row(YP_VARS_ID, "bad", 1);
		l.kind = "link";
		l.state = "sealed";
		l.target = "w";
		CHECK_RC(yp_obj_insert(yp, &l), 0);
		CHECK(ro_int(path, "SELECT count(*) FROM vars WHERE path = 'l' AND kind = 'link' AND target = 'w'") == 1);
		bad.target = "w";
		CHECK(yp_obj_insert(yp, &bad) < 0);
	}
	/* version 5's kind works: an alias names w (vars shows w's attributes and id under its own name), only
	 * an alias has alias_of, and deleting w deletes the alias with it */
	{
		struct yp_obj a = var_row(YP_VARS_ID, "w2", 1), bad = var_row(YP_VARS_ID, "bad", 1);
		a.kind = "alias";
		a.state = "sealed";
		a.alias_of = 3;
		CHECK_RC(yp_obj_insert(yp, &a), 0);
		CHECK(ro_int(path, "SELECT count(*) FROM vars WHERE path = 'w2' AND kind = 'var' AND size = 16"
				   " AND object = 3") == 1);
		bad.alias_of = 3;
		CHECK(yp_obj_insert(yp, &bad) < 0);
		bad.alias_of = 0;
		bad.kind = "alias";
		CHECK(yp_obj_insert(yp, &bad) < 0);
		CHECK_RC(yp_obj_delete(yp, a.id), 0);
		{
			struct yp_obj x = var_row(YP_VARS_ID, "x", 1), xa = var_row(YP_VARS_ID, "xa", 1);
			CHECK_RC(yp_obj_insert(yp, &x), 0);
			xa.kind = "alias";
			xa.alias_of = x.id;
			CHECK_RC(yp_obj_insert(yp, &xa), 0);
			{ /* yp_obj_aliases: the ids of x's aliases (the cluster's catalog publishes them with x) */
				int64_t *ids = NULL;
				size_t n = 99;
				CHECK_RC(yp_obj_aliases(yp, x.id, &ids, &n), 0);
				CHECK(n == 1 && ids && ids[0] == xa.id);
				free(ids);
				CHECK_RC(yp_obj_aliases(yp, xa.id, &ids, &n), 0);
				CHECK(n == 0);
				free(ids);
			}
			CHECK_RC(yp_obj_delete(yp, x.id), 0);
			CHECK(ro_int(path, "SELECT count(*) FROM objects WHERE name IN ('x', 'xa')") == 0);
		}
	}

	/* and tasks work */
	CHECK_RC(tasks(yp, &tc), 0);
	CHECK(tc.n == 0);
	{
		struct yp_task t = { .state = "queued", .argv = argv1, .argv_len = sizeof(argv1) - 1, .inputs = "w",
				     .outputs = "", .after = "", .scope = "", .node = "", .placed = "", .why = "",
				     .groups = "", .exit_status = -1, .queued_ns = 1 };
		CHECK_RC(yp_task_insert(yp, &t), 0);
		CHECK(t.id == 1);
		CHECK_RC(tasks(yp, &tc), 0);
		CHECK(tc.n == 1);
		if (tc.n == 1)
			check_task("upgraded", &tc.r[0], &t);
	}
	yp_close(yp);

	/* opened again: nothing to upgrade, everything there */
	yp = NULL;
	CHECK_RC(yp_open(path, &yp), 0);
	if (yp) {
		CHECK_RC(objects(yp, &c), 0);
		CHECK(c.n == nobj + 3);
		CHECK_RC(tasks(yp, &tc), 0);
		CHECK(tc.n == 1);
		yp_close(yp);
	}
	CHECK(ro_int(path, "PRAGMA user_version") == YP_SCHEMA_VERSION);
}

/* A database whose user_version is newer than ours is refused, not guessed at. */
static void test_newer_schema(void)
{
	char path[300];
	sqlite3 *db = NULL;
	struct yp *yp = NULL;

	snprintf(path, sizeof(path), "%s/newer.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		CHECK(!"cannot make newer.db");
		sqlite3_close(db);
		return;
	}
	CHECK(sqlite3_exec(db, "CREATE TABLE t(x); PRAGMA user_version = 99;", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(yp_open(path, &yp) < 0);
	if (yp) /* only when it wrongly succeeded */
		yp_close(yp);
	CHECK(ro_int(path, "PRAGMA user_version") == 99);
}

/* ---- several nodes: one object's row, the watch of changed objects, the mirror ---- */

struct watched {
	int64_t ids[64];
	size_t n, calls;
};

static void on_watch(void *arg, const int64_t *ids, size_t n)
{
	struct watched *w = arg;

	w->calls++;
	for (size_t i = 0; i < n && w->n < 64; i++)
		w->ids[w->n++] = ids[i];
}

static bool watched_has(const struct watched *w, int64_t id)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->ids[i] == id)
			return true;
	return false;
}

static int found_name(void *arg, const struct yp_obj *o)
{
	snprintf(arg, 64, "%s|%s|%llu", o->name, o->state, (unsigned long long)o->size);
	return 0;
}

static void test_remote(struct yp *yp)
{
	struct watched w = { 0 };
	struct yp_obj a = var_row(YP_VARS_ID, "watched", node_id), b = var_row(YP_VARS_ID, "rolled", node_id);
	char got[64] = "", rows[1024];

	/* one row by id; -ENOENT for none */
	CHECK_RC(yp_obj_insert(yp, &a), 0);
	CHECK_RC(yp_obj_find(yp, a.id, found_name, got), 0);
	CHECK(strcmp(got, "watched|writing|0") == 0);
	CHECK_RC(yp_obj_find(yp, a.id + 1000000, found_name, got), -ENOENT);

	/* the watch: the ids a commit changed, at the commit; an autocommit statement too; none at a rollback */
	yp_watch_objects(yp, on_watch, &w);
	CHECK_RC(yp_begin(yp), 0);
	a.state = "sealed";
	a.size = 7;
	CHECK_RC(yp_obj_update(yp, &a), 0);
	CHECK(w.calls == 0); /* not before the commit */
	CHECK_RC(yp_commit(yp), 0);
	CHECK(w.calls == 1 && watched_has(&w, a.id));
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_obj_insert(yp, &b), 0);
	yp_rollback(yp);
	CHECK(w.calls == 1 && !watched_has(&w, b.id));
	CHECK_RC(yp_obj_find(yp, b.id, found_name, got), -ENOENT);
	CHECK_RC(yp_obj_delete(yp, a.id), 0); /* autocommit */
	CHECK(w.calls == 2);
	{
		struct yp_node n;
		size_t before = w.calls;
		CHECK_RC(yp_node_get(yp, &n), 0);
		CHECK_RC(yp_node_update(yp, &n), 0); /* another table: nothing to tell */
		CHECK(w.calls == before);
	}
	yp_watch_objects(yp, NULL, NULL);
	CHECK_RC(yp_obj_insert(yp, &b), 0);
	CHECK(w.calls == 2);
	CHECK_RC(yp_obj_delete(yp, b.id), 0);

	/* the mirror: another node's tree, listed in vars beside the local names with its node */
	struct yp_remote d = { .node = "far", .id = 10, .parent = YP_VARS_ID, .name = "shared", .kind = "dir",
			       .mode = 0755, .modified_ns = 1 };
	struct yp_remote x = { .node = "far", .id = 11, .parent = 10, .name = "x", .kind = "var", .size = 4096,
			       .shm = "fabric.far.0badcafe.7", .offset = 8192,
			       .xxh3 = "ffeeddccbbaa99887766554433221100", .type = "4096 * uint8", .doc = "far away",
			       .mode = 0444, .modified_ns = 2, .sealed_ns = 3 };
	struct yp_remote y = { .node = "near", .id = 11, .parent = YP_VARS_ID, .name = "y", .kind = "var", .size = 1,
			       .mode = 0444, .modified_ns = 2, .sealed_ns = 3 };
	CHECK_RC(yp_remote_put(yp, &d), 0);
	CHECK_RC(yp_remote_put(yp, &x), 0);
	CHECK_RC(yp_remote_put(yp, &y), 0); /* the same id on another node is another object */
	ro_rows(dbpath, "SELECT path, node, size, type FROM vars WHERE node IN ('far', 'near') ORDER BY path", rows,
		sizeof(rows));
	CHECK(strcmp(rows, "shared|far|0|NULL\nshared/x|far|4096|4096 * uint8\ny|near|1|NULL") == 0);
	if (strcmp(rows, "shared|far|0|NULL\nshared/x|far|4096|4096 * uint8\ny|near|1|NULL") != 0)
		fprintf(stderr, "vars with remote rows:\n%s\n", rows);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM remote WHERE shm = 'fabric.far.0badcafe.7' AND offset = 8192") == 1);
	x.name = "renamed"; /* a put replaces */
	CHECK_RC(yp_remote_put(yp, &x), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM vars WHERE path = 'shared/renamed' AND node = 'far'") == 1);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM vars WHERE path = 'shared/x'") == 0);
	CHECK_RC(yp_remote_delete(yp, "far", 11), 0);
	CHECK_RC(yp_remote_delete(yp, "far", 11), 0); /* none: still 0 */
	CHECK(ro_int(dbpath, "SELECT count(*) FROM remote") == 2);
	CHECK_RC(yp_remote_clear(yp), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM remote") == 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM vars WHERE node IN ('far', 'near')") == 0);
}

static int collect_move(void *arg, const struct yp_move *m)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 1024 - n, "%s%lld %s %s %s %lld %s", n ? "\n" : "", (long long)m->object, m->name, m->node,
		 m->xxh3, (long long)m->begun_ns, m->in ? "in" : "out");
	return 0;
}

/* The refs column (insert, update, back in the walk) and the moves table (begin, walk oldest first, end). */
static void test_refs_moves(struct yp *yp)
{
	struct yp_obj a = var_row(YP_VARS_ID, "referrer", node_id);
	struct orows c;
	const struct orow *r;
	char got[1024] = "";

	a.refs = "y d/z";
	CHECK_RC(yp_obj_insert(yp, &a), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'referrer' AND refs = 'y d/z'") == 1);
	a.refs = NULL;
	CHECK_RC(yp_obj_update(yp, &a), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM objects WHERE name = 'referrer' AND refs IS NULL") == 1);
	a.refs = "w";
	CHECK_RC(yp_obj_update(yp, &a), 0);
	CHECK_RC(objects(yp, &c), 0);
	r = find_obj(&c, a.id);
	CHECK(r != NULL && !r->refs_null && strcmp(r->refs, "w") == 0);
	CHECK_RC(yp_obj_delete(yp, a.id), 0);

	CHECK_RC(yp_move_begin(yp, &(struct yp_move){ 9, "later", "n3", "00112233445566778899aabbccddeeff", 20, false }), 0);
	CHECK_RC(yp_move_begin(yp, &(struct yp_move){ 8, "first", "n2", "ffeeddccbbaa99887766554433221100", 10, false }), 0);
	CHECK_RC(yp_move_begin(yp, &(struct yp_move){ 70, "first", "n2", "aa", 30, true }), 0); /* the other way */
	CHECK_RC(yp_each_move(yp, collect_move, got), 0);
	CHECK(strcmp(got, "8 first n2 ffeeddccbbaa99887766554433221100 10 out\n"
			  "9 later n3 00112233445566778899aabbccddeeff 20 out\n70 first n2 aa 30 in") == 0);
	CHECK(yp_move_between(yp, "first", "n2") == 1 && yp_move_between(yp, "later", "n3") == 1);
	CHECK(yp_move_between(yp, "first", "n3") == 0 && yp_move_between(yp, "other", "n2") == 0);
	CHECK_RC(yp_move_end(yp, false, "n2", "first"), 0);
	CHECK_RC(yp_move_end(yp, false, "n2", "first"), 0); /* none: still 0 */
	CHECK(yp_move_between(yp, "first", "n2") == 1); /* the way in is still there */
	CHECK_RC(yp_move_end(yp, true, "n2", "first"), 0);
	got[0] = '\0';
	CHECK_RC(yp_each_move(yp, collect_move, got), 0);
	CHECK(strcmp(got, "9 later n3 00112233445566778899aabbccddeeff 20 out") == 0);
	CHECK_RC(yp_move_end(yp, false, "n3", "later"), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM moves") == 0);
}

static int count_row(void *arg, const struct yp_ds_row *r)
{
	struct yp_ds_row *v = arg;

	for (int i = 0; i < 4; i++)
		if (v[i].id == 0 || v[i].id == r->id) {
			v[i] = *r;
			return 0;
		}
	return -E2BIG;
}

static int one_ds(void *arg, int64_t dir, const char *limits)
{
	if (strcmp(limits, "kids:4") == 0)
		*(int64_t *)arg = dir;
	return 0;
}

/* Items follow objects through the triggers: a sealed variable in a dataset's directory is an item of the
 * leaf whose range holds its key's hash, counted there; renamed, resized, removed or moved out, it
 * follows; a move of items by hash range carries the counts; the directory's row takes the rest along. */
static void test_datasets(struct yp *yp)
{
	struct yp_obj d = { .parent = YP_VARS_ID, .name = "ds", .kind = "dir", .state = "sealed", .scope = "any",
			    .node = node_id, .mode = 0755, .created_ns = 1, .modified_ns = 1 };
	struct yp_obj a = var_row(0, "alpha", node_id), b = var_row(0, "beta", node_id), w = var_row(0, "w", node_id);
	struct yp_ds_row v[4] = { 0 }, *l1 = NULL, *l2 = NULL;
	uint64_t ha = yp_key_hash("alpha"), hb = yp_key_hash("beta"), mid = 0, lo;
	int64_t found = 0, leaf = 0, max = 0;

	CHECK(ha < (1ULL << 62) && hb < (1ULL << 62) && ha != hb);
	CHECK_RC(yp_obj_insert(yp, &d), 0);
	CHECK_RC(yp_ds_add(yp, d.id, "kids:4"), 0);
	CHECK_RC(yp_each_ds(yp, one_ds, &found), 0);
	CHECK(found == d.id);
	CHECK_RC(yp_ds_put_row(yp, &(struct yp_ds_row){ .id = 501, .dataset = d.id, .height = 0, .lo = 0, .hi = 1ULL << 62 }), 0);
	CHECK_RC(yp_ds_put_row(yp, &(struct yp_ds_row){ .id = 502, .dataset = d.id, .parent = 501, .height = -1, .lo = 0,
							.hi = 1ULL << 62 }), 0);
	a.parent = b.parent = w.parent = d.id;
	a.state = b.state = "sealed";
	a.size = 10;
	b.size = 5;
	CHECK_RC(yp_obj_insert(yp, &a), 0);
	CHECK_RC(yp_obj_insert(yp, &b), 0);
	CHECK_RC(yp_obj_insert(yp, &w), 0); /* being written: no item yet */
	CHECK(ro_int(dbpath, "SELECT count(*) FROM dataset_items") == 2);
	CHECK(ro_int(dbpath, "SELECT items * 1000 + bytes FROM dataset_tree WHERE id = 502") == 2015);
	CHECK_RC(yp_ds_leaf_of(yp, a.id, &leaf), 0);
	CHECK(leaf == 502);
	CHECK(yp_ds_leaf_of(yp, w.id, &leaf) == -ENOENT);
	w.state = "sealed";
	w.size = 100;
	CHECK_RC(yp_obj_update(yp, &w), 0); /* sealed: an item */
	CHECK(ro_int(dbpath, "SELECT items * 1000 + bytes FROM dataset_tree WHERE id = 502") == 3115);
	w.parent = YP_VARS_ID;
	CHECK_RC(yp_obj_update(yp, &w), 0); /* moved out: no longer one */
	CHECK(ro_int(dbpath, "SELECT items * 1000 + bytes FROM dataset_tree WHERE id = 502") == 2015);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM dataset_items") == 2);

	/* split at the greater of the two hashes: one item each side, the counts with them */
	lo = ha < hb ? ha : hb;
	CHECK_RC(yp_ds_median(yp, 502, 0, &mid), 0);
	CHECK(mid == (ha > hb ? ha : hb)); /* of two, the second (offset n/2) */
	CHECK_RC(yp_ds_median(yp, 502, mid, &mid), 0 - ENOENT); /* nothing above the greater */
	mid = ha > hb ? ha : hb;
	CHECK_RC(yp_begin(yp), 0);
	CHECK_RC(yp_ds_put_row(yp, &(struct yp_ds_row){ .id = 502, .dataset = d.id, .parent = 501, .height = -1, .lo = 0,
							.hi = mid }), 0);
	CHECK_RC(yp_ds_put_row(yp, &(struct yp_ds_row){ .id = 503, .dataset = d.id, .parent = 501, .height = -1, .lo = mid,
							.hi = 1ULL << 62 }), 0);
	CHECK_RC(yp_ds_move_items(yp, 502, 503, mid, 1ULL << 62), 0);
	CHECK_RC(yp_commit(yp), 0);
	CHECK_RC(yp_each_ds_row(yp, d.id, count_row, v), 0);
	for (int i = 0; i < 4; i++) {
		if (v[i].id == 502)
			l1 = &v[i];
		if (v[i].id == 503)
			l2 = &v[i];
	}
	CHECK(l1 && l2 && v[2].id == 501 && v[3].id == 0); /* leaves first, then the root */
	CHECK(l1 && l1->items == 1 && l1->bytes == (ha == lo ? 10u : 5u) && l1->hi == mid);
	CHECK(l2 && l2->items == 1 && l2->bytes == (ha == lo ? 5u : 10u) && l2->lo == mid);
	CHECK_RC(yp_ds_max_row(yp, &max), 0);
	CHECK(max == 503);
	/* a new item goes to the leaf of its hash; a rename rehashes it */
	a.name = "alpha2";
	CHECK_RC(yp_obj_update(yp, &a), 0);
	CHECK_RC(yp_ds_leaf_of(yp, a.id, &leaf), 0);
	CHECK(leaf == (yp_key_hash("alpha2") < mid ? 502 : 503));
	CHECK(ro_int(dbpath, "SELECT sum(items) FROM dataset_tree WHERE dataset = (SELECT id FROM datasets)") == 2);
	CHECK_RC(yp_obj_delete(yp, a.id), 0);
	CHECK_RC(yp_obj_delete(yp, b.id), 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM dataset_items") == 0);
	CHECK(ro_int(dbpath, "SELECT sum(items) + sum(bytes) FROM dataset_tree") == 0);
	CHECK_RC(yp_obj_delete(yp, d.id), 0); /* rmdir: the dataset and its tree go with it */
	CHECK(ro_int(dbpath, "SELECT count(*) FROM datasets") == 0);
	CHECK(ro_int(dbpath, "SELECT count(*) FROM dataset_tree") == 0);
	CHECK_RC(yp_obj_delete(yp, w.id), 0);
}

static int run_all(void)
{
	struct yp *yp = NULL;
	struct fixture f = { 0 };
	struct task_fixture tf;

	CHECK_RC(yp_open(dbpath, &yp), 0);
	if (yp) {
		test_new_db(yp);
		test_nodes(yp);
		test_objects(yp);
		test_unique_names(yp);
		test_blocks_extents(yp);
		test_transactions(yp);
		test_wal_bounded(yp);
		make_fixture(yp, &f);
		check_fixture(yp, &f);
		test_view(&f);
		test_tasks(yp, &tf);
		test_remote(yp);
		test_refs_moves(yp);
		test_datasets(yp);
		yp_close(yp);
		yp = NULL;

		/* reopening the file keeps everything, and does not make the schema again */
		CHECK_RC(yp_open(dbpath, &yp), 0);
		if (yp) {
			check_fixture(yp, &f);
			test_view(&f);
			check_task_fixture(yp, &tf);
			CHECK(ro_int(dbpath, "PRAGMA user_version") == YP_SCHEMA_VERSION);
			yp_close(yp);
		}
	}
	yp_close(NULL); /* NULL is fine */
	test_upgrade(1);
	test_upgrade(2);
	test_upgrade(3);
	test_upgrade(4);
	test_upgrade(5);
	test_upgrade(6);
	test_newer_schema();
	if (check_failures)
		fprintf(stderr, "test_yp: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

/* The cases run in a child so that the temp dir goes even when they crash or are killed by a timeout. */
int main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char cmd[512];
	int status = 0, rc;
	pid_t child;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return T_EXIT_FAIL;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/yp.db", dir);
	child = fork();
	if (child == 0) {
		alarm(60);
		exit(run_all());
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	while (child > 0 && waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			break;
		if (stop_sig)
			kill(child, SIGKILL);
	}
	if (child < 0)
		perror("fork");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (child < 0 || stop_sig)
		return T_EXIT_FAIL;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "test_yp: killed by signal %d\n", WTERMSIG(status));
		return T_EXIT_FAIL;
	}
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : T_EXIT_FAIL;
	return rc;
}
