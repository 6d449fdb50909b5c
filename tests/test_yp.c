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
	char type[64], doc[64], xxh3[64], shm_name[128];
	bool type_null, doc_null, xxh3_null, shm_null;
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

	o.id = -1;
	CHECK_RC(yp_obj_insert(yp, &o), 0);
	CHECK(o.id > YP_VARS_ID);
	id = o.id;

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
	b.id = -1;
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

static int run_all(void)
{
	struct yp *yp = NULL;
	struct fixture f = { 0 };

	CHECK_RC(yp_open(dbpath, &yp), 0);
	if (yp) {
		test_new_db(yp);
		test_nodes(yp);
		test_objects(yp);
		test_unique_names(yp);
		test_blocks_extents(yp);
		test_transactions(yp);
		make_fixture(yp, &f);
		check_fixture(yp, &f);
		test_view(&f);
		yp_close(yp);
		yp = NULL;

		/* reopening the file keeps everything, and does not make the schema again */
		CHECK_RC(yp_open(dbpath, &yp), 0);
		if (yp) {
			check_fixture(yp, &f);
			test_view(&f);
			CHECK(ro_int(dbpath, "PRAGMA user_version") == YP_SCHEMA_VERSION);
			yp_close(yp);
		}
	}
	yp_close(NULL); /* NULL is fine */
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
