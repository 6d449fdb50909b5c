/* SPDX-License-Identifier: MIT */
/* test_store.c -- unit tests for core/store, driven directly (no FUSE), on real SQLite and real POSIX shm.
 *
 * Covers: a new state dir; writing and sealing a variable (attributes, xxh3, locations, the bytes in
 * /dev/shm); -EROFS for writes to a sealed variable; the waiting-open protocol (STORE_WAITING, O_NONBLOCK,
 * wake once with a readable handle, -EROFS for a waiting writer, store_cancel_wait, the writer's own
 * process never waits); capacity (-ENOSPC, the doomed variable dropped at release, its waiters told
 * -ENOENT, nothing else touched, `used` back down); names (mkdir, lookup, rename in all its cases, rmdir,
 * the root, refused names); unlink while open; the user.fabric.* xattrs; restart; crash recovery (a
 * half-written variable, an unlinked-while-open one, an orphan shm object, someone else's shm object); and
 * verification of sealed variables at start (a missing block, a wrong size, changed bytes after an unclean
 * stop vs a clean one).
 *
 * Every case has its own state dir under one mkdtemp dir and its own node "ut<PID>-<case>", so every shm
 * object the program makes starts with "fabric.ut<PID>-".  The cases run in a child process: the parent
 * removes the temp dir and those shm objects whatever happens to the child (a failed check, a crash, a
 * timeout's SIGTERM). */
#include "core/os/hash.h"
#include "core/os/shm.h"
#include "core/store/store.h"
#include "meta/yp.h"
#include "tests/check.h"
#include "tests/fixture.h"
#include "tests/store_helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>


/* ---- the store's log, kept for checks and echoed to stderr ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[65536];
static size_t loglen;

static void log_sink(const char *msg)
{
	pthread_mutex_lock(&log_lock);
	int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);
	if (n > 0 && loglen + (size_t)n < sizeof(logbuf))
		loglen += (size_t)n;
	pthread_mutex_unlock(&log_lock);
	fprintf(stderr, "    store log: %s\n", msg);
}

static void log_clear(void)
{
	pthread_mutex_lock(&log_lock);
	loglen = 0;
	logbuf[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

static bool log_has(const char *s)
{
	pthread_mutex_lock(&log_lock);
	bool r = strstr(logbuf, s) != NULL;
	pthread_mutex_unlock(&log_lock);
	return r;
}

/* ---- helpers ---- */

static void state_dir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", base, name);
	mkdir(buf, 0700);
}

static void node_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", tag, name);
}

/* store_init on base/NAME with node TAG-NAME; NULL (and a message) on failure.  no_slabs: these cases
 * check variables in blocks of their own (tests/test_slab.c checks small ones packed into slabs). */
static struct store *open_store(const char *name, uint64_t capacity)
{
	char dir[512], node[80], msg[512] = "";
	struct store_config cfg = { .state_dir = dir, .node = node, .capacity = capacity, .log = log_sink,
				    .no_slabs = true };
	struct store *st = NULL;
	int rc;

	state_dir(name, dir, sizeof(dir));
	node_name(name, node, sizeof(node));
	rc = store_init(&cfg, &st, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "store_init %s: %d: %s\n", dir, rc, msg);
		check_failures++;
		return NULL;
	}
	return st;
}

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}


/* The shm object name of a variable, from user.fabric.locations ("NODE SHM-NAME OFFSET LENGTH"). */
static int shm_of(struct store *st, uint64_t id, char *name, size_t len)
{
	char loc[512], node[80], shm[SHM_NAME_MAX];
	unsigned long long off, length;

	name[0] = '\0';
	if (xget(st, id, "user.fabric.locations", loc, sizeof(loc)) < 0)
		return -ENODATA;
	if (sscanf(loc, "%79s %127s %llu %llu", node, shm, &off, &length) != 4)
		return -EINVAL;
	snprintf(name, len, "%s", shm);
	return 0;
}

/* The node's shm prefix: a block's shm name without its trailing block number. */
static void prefix_of(const char *shm, char *buf, size_t len)
{
	size_t n = strlen(shm);

	while (n > 0 && shm[n - 1] >= '0' && shm[n - 1] <= '9')
		n--;
	snprintf(buf, len, "%.*s", (int)n, shm);
}

static bool shm_exists(const char *name)
{
	char path[300];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, name);
	return stat(path, &sb) == 0;
}

/* Read /dev/shm/NAME whole; bytes read or -errno. */
static ssize_t shm_read_file(const char *name, char *buf, size_t len)
{
	char path[300];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, 0);
	close(fd);
	return n < 0 ? -errno : n;
}

/* Read a variable through a fresh read handle of this process; bytes read or -errno. */
static ssize_t read_var(struct store *st, uint64_t id, char *buf, size_t len)
{
	struct store_handle *h = NULL;
	ssize_t n;
	int rc = store_open(st, id, O_RDONLY, getpid(), NULL, NULL, &h);

	if (rc)
		return rc > 0 ? -EAGAIN : rc;
	n = store_read(st, h, buf, len, 0);
	store_release(st, h);
	return n;
}

/* Is variable id exactly these bytes (through the store)? */
static bool var_is(struct store *st, uint64_t id, const char *want, size_t len)
{
	static char got[2 << 20];
	ssize_t n = read_var(st, id, got, sizeof(got));

	return n == (ssize_t)len && memcmp(got, want, len) == 0;
}

/* The id of a path under vars/ ("run1/w"), or -errno. */
static int64_t lookup_path(struct store *st, const char *path)
{
	char copy[1024], *save = NULL;
	uint64_t id = STORE_VARS_ID;
	struct store_attr a;

	snprintf(copy, sizeof(copy), "%s", path);
	for (char *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		int rc = store_lookup(st, id, p, &a);
		if (rc)
			return rc;
		id = a.id;
	}
	return (int64_t)id;
}

static int yp_path(const char *name, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%s/yp.db", base, name);
}

/* One text value from the case's YP through a read-only sqlite3 connection ("" when there is no row). */
static void yp_text(const char *name, const char *sql, char *out, size_t len)
{
	char path[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	out[0] = '\0';
	yp_path(name, path, sizeof(path));
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_text(s, 0))
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
	else if (db && !s)
		fprintf(stderr, "yp query %s: %s\n", sql, sqlite3_errmsg(db));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* The node's clean flag, set with meta/yp.h while no store has the state dir open. */
static int set_clean(const char *name, int clean)
{
	char path[512];
	struct yp *yp = NULL;
	struct yp_node n;
	int rc;

	yp_path(name, path, sizeof(path));
	rc = yp_open(path, &yp);
	if (rc)
		return rc;
	rc = yp_node_get(yp, &n);
	if (rc == 0) {
		n.clean = clean;
		rc = yp_node_update(yp, &n);
	}
	yp_close(yp);
	return rc;
}

/* ---- wake callbacks ---- */

struct wctx {
	pthread_mutex_t m;
	pthread_cond_t c;
	int calls, rc;
	struct store_handle *h;
};

#define WCTX_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL }

static void wake(void *arg, int rc, struct store_handle *h)
{
	struct wctx *w = arg;

	pthread_mutex_lock(&w->m);
	w->calls++;
	w->rc = rc;
	w->h = h;
	pthread_cond_broadcast(&w->c);
	pthread_mutex_unlock(&w->m);
}

/* Calls so far, after waiting up to ms for there to be at least want. */
static int woken(struct wctx *w, int want, int ms)
{
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->m);
	while (w->calls < want && pthread_cond_timedwait(&w->c, &w->m, &ts) == 0)
		;
	n = w->calls;
	pthread_mutex_unlock(&w->m);
	return n;
}

/* ---- cases ---- */

/* A new state dir; several writes (out of order, one leaving a hole); the seal. */
static void test_seal(struct store *st)
{
	static const char part1[] = "hello ", part2[] = "world!", part3[] = "xyz";
	char want[32] = { 0 }, got[64], buf[512], shm[SHM_NAME_MAX], hex[HASH_HEX_LEN + 1], node[80];
	struct store_handle *h = NULL, *r = NULL;
	struct store_attr a, g;
	uint64_t cap = 0, used = 0, objs = 0;
	size_t len = 23;

	memcpy(want, part1, 6);
	memcpy(want + 6, part2, 6);
	memcpy(want + 20, part3, 3); /* 12..19 stay zero */

	node_name("main", node, sizeof(node));
	CHECK(strcmp(store_node_name(st), node) == 0);
	store_statfs(st, &cap, &used, &objs);
	CHECK(cap == 64 << 20);
	CHECK(used == 0);
	CHECK(objs == 0);
	{
		uint64_t *ids = NULL;
		size_t n = 99;
		CHECK_RC(store_dir_list(st, STORE_VARS_ID, &ids, &n), 0);
		CHECK(n == 0);
		free(ids);
		CHECK_RC(store_dir_list(st, STORE_ROOT_ID, &ids, &n), 0);
		/* the root: vars/, shards/ and datasets/ (made at the first start) */
		CHECK(n == 3 && ids && (ids[0] == STORE_VARS_ID || ids[1] == STORE_VARS_ID || ids[2] == STORE_VARS_ID));
		free(ids);
		CHECK_RC(store_lookup(st, STORE_ROOT_ID, "shards", &a), 0);
		CHECK(a.dir);
		store_forget(st, a.id, 1);
		CHECK_RC(store_lookup(st, STORE_ROOT_ID, "datasets", &a), 0);
		CHECK(a.dir && a.id == store_datasets_id(st) && (a.mode & 07777) == 01777);
		store_forget(st, a.id, 1);
	}

	CHECK_RC(store_create(st, STORE_VARS_ID, "v", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &h),
		 0);
	if (!h)
		return;
	CHECK(!a.dir && !a.sealed);
	CHECK(S_ISREG(a.mode) && (a.mode & 0200));
	CHECK(a.size == 0);
	CHECK(store_write(st, h, part2, 6, 6) == 6);
	CHECK(store_write(st, h, part1, 6, 0) == 6);
	CHECK(store_write(st, h, part3, 3, 20) == 3);
	CHECK_RC(store_getattr(st, a.id, &g), 0);
	CHECK(!g.sealed && g.size == len && (g.mode & 0200));
	CHECK(xget(st, a.id, "user.fabric.xxh3", buf, sizeof(buf)) == -ENODATA);
	CHECK(xget(st, a.id, "user.fabric.state", buf, sizeof(buf)) == 7 && strcmp(buf, "writing") == 0);
	CHECK_RC(store_create(st, STORE_VARS_ID, "v", 0644, 0, 0, O_WRONLY | O_CREAT, getpid(), &g, &r), -EEXIST);
	store_release(st, h);

	CHECK_RC(store_getattr(st, a.id, &g), 0);
	CHECK(g.sealed);
	CHECK(S_ISREG(g.mode) && (g.mode & 0222) == 0 && (g.mode & 0444) == 0444);
	CHECK(g.size == len);
	CHECK(xget(st, a.id, "user.fabric.state", buf, sizeof(buf)) == 6 && strcmp(buf, "sealed") == 0);
	hash_buf(want, len, hex);
	CHECK(xget(st, a.id, "user.fabric.xxh3", buf, sizeof(buf)) == HASH_HEX_LEN);
	CHECK(strcmp(buf, hex) == 0);
	CHECK(xget(st, a.id, "user.fabric.node", buf, sizeof(buf)) > 0 && strcmp(buf, node) == 0);

	/* locations: "NODE SHM-NAME 0 LENGTH", and that shm object holds the bytes */
	CHECK(xget(st, a.id, "user.fabric.locations", buf, sizeof(buf)) > 0);
	CHECK_RC(shm_of(st, a.id, shm, sizeof(shm)), 0);
	{
		char want_loc[512];
		snprintf(want_loc, sizeof(want_loc), "%s %s 0 %zu", node, shm, len);
		CHECK(strcmp(buf, want_loc) == 0);
	}
	CHECK(strncmp(shm, "fabric.", 7) == 0 && strstr(shm, node) != NULL);
	CHECK(shm_read_file(shm, got, sizeof(got)) == (ssize_t)len);
	CHECK(memcmp(got, want, len) == 0);
	CHECK(var_is(st, a.id, want, len));

	/* the YP says the same, for whoever queries it: the vars view, and the extent and block of v */
	yp_text("main", "SELECT state || ' ' || size || ' ' || xxh3 FROM vars WHERE path = 'v'", buf, sizeof(buf));
	{
		char want_row[128];
		snprintf(want_row, sizeof(want_row), "sealed %zu %s", len, hex);
		CHECK(strcmp(buf, want_row) == 0);
	}
	yp_text("main",
		"SELECT e.offset || ' ' || e.length || ' ' || b.size || ' ' || b.shm_name FROM objects o"
		" JOIN extents e ON e.object = o.id JOIN blocks b ON b.id = e.block WHERE o.name = 'v'",
		buf, sizeof(buf));
	{
		char want_row[256];
		snprintf(want_row, sizeof(want_row), "0 %zu %zu %s", len, len, shm);
		CHECK(strcmp(buf, want_row) == 0);
	}

	/* no more writing */
	r = NULL;
	CHECK_RC(store_open(st, a.id, O_WRONLY, getpid(), wake, NULL, &r), -EROFS);
	CHECK_RC(store_open(st, a.id, O_RDWR, getppid(), wake, NULL, &r), -EROFS);
	CHECK(r == NULL);
	/* a reader from another process opens at once */
	CHECK_RC(store_open(st, a.id, O_RDONLY, getppid(), wake, NULL, &r), 0);
	if (r) {
		CHECK(store_write(st, r, "q", 1, 0) < 0);
		CHECK(store_read(st, r, got, sizeof(got), 6) == (ssize_t)len - 6);
		CHECK(memcmp(got, want + 6, len - 6) == 0);
		store_release(st, r);
	}

	store_statfs(st, &cap, &used, &objs);
	CHECK(objs == 1);
	CHECK(used == 4096); /* 23 bytes cost a page */
}

/* Opens of a variable being written, by anyone but its writer, wait for the seal. */
static void test_waiting(struct store *st)
{
	struct wctx rd = WCTX_INIT, wr = WCTX_INIT, cancelled = WCTX_INIT;
	struct store_handle *h = NULL, *r, *own = NULL;
	struct store_attr a;
	char data[10000], got[10000];
	int rc;

	fill(data, sizeof(data), 1);
	CHECK_RC(store_create(st, STORE_VARS_ID, "fut", 0640, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &h),
		 0);
	if (!h)
		return;
	CHECK(store_write(st, h, data, 5000, 0) == 5000);

	r = (struct store_handle *)&rd; /* must stay untouched */
	CHECK_RC(store_open(st, a.id, O_RDONLY, getppid(), wake, &rd, &r), STORE_WAITING);
	CHECK(r == (struct store_handle *)&rd);
	CHECK_RC(store_open(st, a.id, O_RDONLY | O_NONBLOCK, getppid(), wake, &rd, &r), -EAGAIN);
	CHECK_RC(store_open(st, a.id, O_RDONLY | O_NONBLOCK, 1 /* another process too */, wake, &rd, &r), -EAGAIN);
	CHECK_RC(store_open(st, a.id, O_WRONLY, getppid(), wake, &wr, &r), STORE_WAITING);
	CHECK_RC(store_open(st, a.id, O_RDONLY, getppid(), wake, &cancelled, &r), STORE_WAITING);
	CHECK(store_cancel_wait(st, a.id, &cancelled));
	CHECK(!store_cancel_wait(st, a.id, &cancelled));

	/* the writer's own process does not wait for itself */
	rc = store_open(st, a.id, O_RDONLY, getpid(), wake, &rd, &own);
	CHECK_RC(rc, 0);
	if (rc == 0 && own) {
		CHECK(store_read(st, own, got, sizeof(got), 0) == 5000);
		CHECK(memcmp(got, data, 5000) == 0);
		store_release(st, own); /* a reader's release does not seal */
	}
	CHECK(woken(&rd, 1, 0) == 0);
	CHECK(store_write(st, h, data + 5000, 5000, 5000) == 5000);
	{
		struct store_attr g;
		CHECK_RC(store_getattr(st, a.id, &g), 0);
		CHECK(!g.sealed);
	}

	store_release(st, h);
	CHECK(woken(&rd, 1, 2000) == 1);
	CHECK(rd.rc == 0);
	CHECK(rd.h != NULL);
	if (rd.rc == 0 && rd.h) {
		CHECK(store_read(st, rd.h, got, sizeof(got), 0) == (ssize_t)sizeof(data));
		CHECK(memcmp(got, data, sizeof(data)) == 0);
		store_release(st, rd.h);
	}
	CHECK(woken(&wr, 1, 2000) == 1);
	CHECK(wr.rc == -EROFS);
	CHECK(wr.h == NULL);
	CHECK(woken(&cancelled, 1, 50) == 0);
	usleep(50000);
	CHECK(woken(&rd, 2, 0) == 1); /* once only */
	CHECK(woken(&wr, 2, 0) == 1);

	/* sealed now: another process opens without waiting */
	r = NULL;
	CHECK_RC(store_open(st, a.id, O_RDONLY, getppid(), wake, &rd, &r), 0);
	if (r)
		store_release(st, r);
	CHECK(woken(&rd, 2, 0) == 1);
}

/* A write past the capacity: -ENOSPC, the variable dropped at release, nothing else touched. */
static void test_capacity(void)
{
	struct store *st = open_store("cap", 1 << 20);
	static char keep[300 * 1024], big[512 * 1024], got[1 << 20];
	char hex_before[64], hex_after[64], shm_big[SHM_NAME_MAX], shm_keep[SHM_NAME_MAX];
	struct wctx waiter = WCTX_INIT;
	struct store_handle *h = NULL, *r = NULL;
	struct store_attr a;
	uint64_t cap, used_keep, used, objs, keep_id;

	if (!st)
		return;
	fill(keep, sizeof(keep), 2);
	fill(big, sizeof(big), 3);
	keep_id = mkvar(st, STORE_VARS_ID, "keep", keep, sizeof(keep));
	CHECK(xget(st, keep_id, "user.fabric.xxh3", hex_before, sizeof(hex_before)) == HASH_HEX_LEN);
	CHECK_RC(shm_of(st, keep_id, shm_keep, sizeof(shm_keep)), 0);
	store_statfs(st, &cap, &used_keep, &objs);
	CHECK(cap == 1 << 20);
	CHECK(used_keep == sizeof(keep));
	CHECK(objs == 1);

	CHECK_RC(store_create(st, STORE_VARS_ID, "big", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &h),
		 0);
	if (!h)
		goto out;
	CHECK_RC(shm_of(st, a.id, shm_big, sizeof(shm_big)), 0);
	CHECK(store_write(st, h, big, sizeof(big), 0) == (ssize_t)sizeof(big));
	CHECK_RC(store_open(st, a.id, O_RDONLY, getppid(), wake, &waiter, &r), STORE_WAITING);
	CHECK(store_write(st, h, big, sizeof(big), sizeof(big)) == -ENOSPC);
	store_statfs(st, &cap, &used, &objs);
	CHECK(used <= cap);
	store_release(st, h);

	CHECK(woken(&waiter, 1, 2000) == 1);
	CHECK(waiter.rc == -ENOENT);
	CHECK(waiter.h == NULL);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "big", &a), -ENOENT);
	CHECK(shm_big[0] && !shm_exists(shm_big));
	store_statfs(st, &cap, &used, &objs);
	CHECK(used == used_keep);
	CHECK(objs == 1);

	/* keep is as it was */
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "keep", &a), 0);
	CHECK(a.id == keep_id && a.sealed && a.size == sizeof(keep));
	CHECK(xget(st, keep_id, "user.fabric.xxh3", hex_after, sizeof(hex_after)) == HASH_HEX_LEN);
	CHECK(strcmp(hex_before, hex_after) == 0);
	CHECK(var_is(st, keep_id, keep, sizeof(keep)));
	CHECK(shm_read_file(shm_keep, got, sizeof(got)) == (ssize_t)sizeof(keep));
	CHECK(memcmp(got, keep, sizeof(keep)) == 0);

	/* the space is usable again: 600 KiB fits next to keep's 300 */
	{
		static char again[600 * 1024];
		uint64_t id;
		fill(again, sizeof(again), 4);
		id = mkvar(st, STORE_VARS_ID, "again", again, sizeof(again));
		CHECK(id != 0);
		CHECK_RC(store_getattr(st, id, &a), 0);
		CHECK(a.sealed && a.size == sizeof(again));
		store_statfs(st, &cap, &used, &objs);
		CHECK(used == used_keep + sizeof(again));
		CHECK(objs == 2);
	}
out:
	store_destroy(st);
}

static void test_names(struct store *st)
{
	struct store_attr run1, a, b, c, d;
	struct store_handle *h = NULL;
	char longname[300], data[100], shm_r2[SHM_NAME_MAX];
	uint64_t r1, r2, r3, cap, used, objs_before, objs;

	fill(data, sizeof(data), 5);
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, "run1", 0755, getuid(), getgid(), &run1), 0);
	CHECK(run1.dir && S_ISDIR(run1.mode));
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "run1", &a), 0);
	CHECK(a.id == run1.id && a.dir);
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, "run1", 0755, 0, 0, &a), -EEXIST);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "nothere", &a), -ENOENT);

	/* the root holds vars/ only */
	CHECK_RC(store_mkdir(st, STORE_ROOT_ID, "x", 0755, 0, 0, &a), -EPERM);
	CHECK_RC(store_create(st, STORE_ROOT_ID, "x", 0644, 0, 0, O_WRONLY | O_CREAT, getpid(), &a, &h), -EPERM);
	CHECK(h == NULL);
	CHECK_RC(store_rename(st, STORE_ROOT_ID, "vars", STORE_VARS_ID, "v2", 0), -EPERM);
	CHECK_RC(store_rmdir(st, STORE_ROOT_ID, "vars"), -EPERM);

	/* refused names */
	static const char *const bad[] = { "a@b", "a\nb", "@", "", ".", "..", "a/b", "tab\there" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = NULL;
		CHECK_RC(store_create(st, STORE_VARS_ID, bad[i], 0644, 0, 0, O_WRONLY | O_CREAT, getpid(), &a, &h),
			 -EINVAL);
		CHECK(h == NULL);
		CHECK_RC(store_mkdir(st, STORE_VARS_ID, bad[i], 0755, 0, 0, &a), -EINVAL);
	}
	memset(longname, 'n', 256);
	longname[256] = '\0';
	h = NULL;
	CHECK_RC(store_create(st, STORE_VARS_ID, longname, 0644, 0, 0, O_WRONLY | O_CREAT, getpid(), &a, &h),
		 -ENAMETOOLONG);
	CHECK(h == NULL);
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, longname, 0755, 0, 0, &a), -ENAMETOOLONG);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, longname, &a), -ENAMETOOLONG);
	longname[255] = '\0'; /* 255 bytes is fine */
	h = NULL;
	CHECK_RC(store_create(st, STORE_VARS_ID, longname, 0644, 0, 0, O_WRONLY | O_CREAT, getpid(), &a, &h), 0);
	if (h) {
		store_release(st, h);
		CHECK_RC(store_lookup(st, STORE_VARS_ID, longname, &b), 0);
		CHECK_RC(store_unlink(st, STORE_VARS_ID, longname), 0);
	}

	/* rename into a subdir */
	r1 = mkvar(st, STORE_VARS_ID, "r1", data, 10);
	CHECK_RC(store_rename(st, STORE_VARS_ID, "r1", run1.id, "r1", 0), 0);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "r1", &a), -ENOENT);
	CHECK_RC(store_lookup(st, run1.id, "r1", &a), 0);
	CHECK(a.id == r1 && a.sealed && a.size == 10);
	CHECK(var_is(st, r1, data, 10));
	CHECK(lookup_path(st, "run1/r1") == (int64_t)r1);

	/* rename over an existing variable replaces it (and its bytes go) */
	r2 = mkvar(st, run1.id, "r2", data + 50, 20);
	CHECK_RC(shm_of(st, r2, shm_r2, sizeof(shm_r2)), 0);
	store_statfs(st, &cap, &used, &objs_before);
	CHECK_RC(store_rename(st, run1.id, "r1", run1.id, "r2", 0), 0);
	CHECK_RC(store_lookup(st, run1.id, "r1", &a), -ENOENT);
	CHECK_RC(store_lookup(st, run1.id, "r2", &a), 0);
	CHECK(a.id == r1 && a.size == 10);
	CHECK(var_is(st, r1, data, 10));
	CHECK(shm_r2[0] && !shm_exists(shm_r2));
	store_statfs(st, &cap, &used, &objs);
	CHECK(objs == objs_before - 1);

	/* RENAME_NOREPLACE */
	r3 = mkvar(st, run1.id, "r3", data, 30);
	CHECK_RC(store_rename(st, run1.id, "r3", run1.id, "r2", RENAME_NOREPLACE), -EEXIST);
	CHECK_RC(store_lookup(st, run1.id, "r2", &a), 0);
	CHECK(a.id == r1);
	CHECK_RC(store_lookup(st, run1.id, "r3", &a), 0);
	CHECK(a.id == r3);
	CHECK_RC(store_rename(st, run1.id, "r3", run1.id, "r3b", RENAME_NOREPLACE), 0);
	CHECK_RC(store_lookup(st, run1.id, "r3b", &a), 0);
	CHECK(a.id == r3);
	CHECK_RC(store_rename(st, run1.id, "r3b", run1.id, "r3", RENAME_EXCHANGE), -EINVAL);
	CHECK_RC(store_rename(st, run1.id, "r3b", run1.id, "bad@name", 0), -EINVAL);
	CHECK_RC(store_rename(st, run1.id, "nothere", run1.id, "x", 0), -ENOENT);

	/* a directory cannot go into itself or its own child */
	CHECK_RC(store_mkdir(st, run1.id, "child", 0755, getuid(), getgid(), &c), 0);
	CHECK_RC(store_rename(st, STORE_VARS_ID, "run1", c.id, "run1", 0), -EINVAL);
	CHECK_RC(store_rename(st, STORE_VARS_ID, "run1", run1.id, "self", 0), -EINVAL);
	CHECK(lookup_path(st, "run1/child") == (int64_t)c.id);
	CHECK(lookup_path(st, "run1") == (int64_t)run1.id);

	/* a variable does not replace a directory, nor a directory a variable */
	CHECK_RC(store_rename(st, run1.id, "r2", run1.id, "child", 0), -EISDIR);
	CHECK_RC(store_rename(st, run1.id, "child", run1.id, "r2", 0), -ENOTDIR);
	/* a directory replaces an empty one, not a non-empty one */
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, "e1", 0755, 0, 0, &d), 0);
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, "e2", 0755, 0, 0, &b), 0);
	CHECK_RC(store_rename(st, STORE_VARS_ID, "e1", STORE_VARS_ID, "run1", 0), -ENOTEMPTY);
	CHECK_RC(store_rename(st, STORE_VARS_ID, "e1", STORE_VARS_ID, "e2", 0), 0);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "e2", &a), 0);
	CHECK(a.id == d.id);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "e1", &a), -ENOENT);

	/* rmdir */
	CHECK_RC(store_rmdir(st, STORE_VARS_ID, "run1"), -ENOTEMPTY);
	CHECK_RC(store_rmdir(st, run1.id, "r2"), -ENOTDIR);
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "run1"), -EISDIR);
	CHECK_RC(store_rmdir(st, STORE_VARS_ID, "e2"), 0);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "e2", &a), -ENOENT);
	CHECK_RC(store_rmdir(st, STORE_VARS_ID, "e2"), -ENOENT);
	CHECK(lookup_path(st, "run1/r2") == (int64_t)r1);

	/* the directory listing */
	{
		uint64_t *ids = NULL;
		size_t n = 0;
		int seen = 0;
		char name[300];
		CHECK_RC(store_dir_list(st, run1.id, &ids, &n), 0);
		CHECK(n == 3); /* r2, r3b, child */
		for (size_t i = 0; i < n; i++) {
			if (store_dir_entry(st, run1.id, ids[i], name, sizeof(name), &a, false) != 0)
				continue;
			seen |= strcmp(name, "r2") == 0 ? 1 : strcmp(name, "r3b") == 0 ? 2 : strcmp(name, "child") == 0 ? 4 : 8;
		}
		CHECK(seen == 7);
		free(ids);
		CHECK_RC(store_dir_entry(st, STORE_VARS_ID, r1, name, sizeof(name), &a, false), -ENOENT);
	}
}

/* Unlink while open: the name goes at once, the bytes at the last release. */
static void test_unlink_open(struct store *st)
{
	char data[9000], got[9000], shm[SHM_NAME_MAX];
	struct store_handle *h = NULL;
	struct store_attr a;
	uint64_t id, cap, used_before, used, objs_before, objs;

	fill(data, sizeof(data), 6);
	id = mkvar(st, STORE_VARS_ID, "u", data, sizeof(data));
	CHECK_RC(shm_of(st, id, shm, sizeof(shm)), 0);
	store_statfs(st, &cap, &used_before, &objs_before);
	CHECK_RC(store_open(st, id, O_RDONLY, getpid(), wake, NULL, &h), 0);
	if (!h)
		return;
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "u"), 0);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "u", &a), -ENOENT);
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "u"), -ENOENT);
	CHECK(store_read(st, h, got, sizeof(got), 0) == (ssize_t)sizeof(data));
	CHECK(memcmp(got, data, sizeof(data)) == 0);
	CHECK(shm_exists(shm));
	CHECK_RC(store_getattr(st, id, &a), 0); /* the id stays valid while open */
	CHECK(a.nlink == 0);
	/* the name is free for a new variable meanwhile */
	CHECK(mkvar(st, STORE_VARS_ID, "u", data, 100) != 0);
	store_release(st, h);
	CHECK(!shm_exists(shm));
	store_statfs(st, &cap, &used, &objs);
	CHECK(used == used_before - 12288 + 4096);
	CHECK(objs == objs_before);
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "u"), 0);

	/* a variable unlinked while still being written: its bytes go at its writer's release */
	h = NULL;
	CHECK_RC(store_create(st, STORE_VARS_ID, "uw", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &h),
		 0);
	if (!h)
		return;
	CHECK_RC(shm_of(st, a.id, shm, sizeof(shm)), 0);
	CHECK(store_write(st, h, data, 100, 0) == 100);
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "uw"), 0);
	CHECK(store_write(st, h, data, 100, 100) == 100);
	CHECK(shm_exists(shm));
	store_release(st, h);
	CHECK(!shm_exists(shm));
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "uw", &a), -ENOENT);
	store_statfs(st, &cap, &used, &objs);
	CHECK(used == used_before - 12288);
	CHECK(objs == objs_before - 1);
}

static void test_xattr(struct store *st)
{
	static char data[6400], doc[STORE_DOC_MAX + 2];
	char buf[STORE_DOC_MAX + 100];
	struct store_handle *h = NULL;
	struct store_attr a, dir;
	ssize_t n;

	fill(data, sizeof(data), 7);
	CHECK_RC(store_create(st, STORE_VARS_ID, "x", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &h),
		 0);
	if (!h)
		return;
	/* while writing, a type is taken as is (it is checked at the seal) and canonicalised */
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.type", "40*20*float64", 13, 0), 0);
	CHECK(xget(st, a.id, "user.fabric.type", buf, sizeof(buf)) == 17);
	CHECK(strcmp(buf, "40 * 20 * float64") == 0);
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.type", "not a type", 10, 0), -EINVAL);
	CHECK(xget(st, a.id, "user.fabric.type", buf, sizeof(buf)) == 17);
	CHECK(store_write(st, h, data, sizeof(data), 0) == (ssize_t)sizeof(data));
	store_release(st, h);
	CHECK_RC(store_getattr(st, a.id, &a), 0);
	CHECK(a.sealed && a.size == 6400);
	CHECK(xget(st, a.id, "user.fabric.type", buf, sizeof(buf)) == 17 && strcmp(buf, "40 * 20 * float64") == 0);

	/* on a sealed variable the type must fit the size */
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.type", "10 * float64", 12, 0), -EINVAL);
	CHECK(xget(st, a.id, "user.fabric.type", buf, sizeof(buf)) == 17 && strcmp(buf, "40 * 20 * float64") == 0);
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.type", "800*double", 10, 0), 0);
	CHECK(xget(st, a.id, "user.fabric.type", buf, sizeof(buf)) > 0 && strcmp(buf, "800 * float64") == 0);
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.type", "1600 * int32", 12, XATTR_CREATE), -EEXIST);
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.doc", "d", 1, XATTR_REPLACE), -ENODATA);

	/* read-only attributes (scope is settable, but never removed: every object has one) */
	static const char *const ro[] = { "user.fabric.xxh3", "user.fabric.node", "user.fabric.locations",
					  "user.fabric.state", "user.fabric.kind" };
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		CHECK_RC(store_setxattr(st, a.id, ro[i], "x", 1, 0), -EPERM);
		CHECK_RC(store_removexattr(st, a.id, ro[i]), -EPERM);
	}
	CHECK_RC(store_removexattr(st, a.id, "user.fabric.scope"), -EPERM);
	CHECK(xget(st, a.id, "user.fabric.scope", buf, sizeof(buf)) == 3 && strcmp(buf, "any") == 0);
	/* scope of a sealed variable: malformed EINVAL, one without this node EINVAL, narrowing only */
	{
		char sc[256];
		const char *me = store_node_name(st);
		CHECK_RC(store_setxattr(st, a.id, "user.fabric.scope", "x", 1, 0), -EINVAL);
		CHECK_RC(store_setxattr(st, a.id, "user.fabric.scope", "node:elsewhere", 14, 0), -EINVAL);
		snprintf(sc, sizeof(sc), "node:%s", me);
		CHECK_RC(store_setxattr(st, a.id, "user.fabric.scope", sc, strlen(sc), 0), 0);
		CHECK_RC(store_setxattr(st, a.id, "user.fabric.scope", "any", 3, 0), -EPERM);
		snprintf(sc, sizeof(sc), "union:node:%s,node:elsewhere", me);
		CHECK_RC(store_setxattr(st, a.id, "user.fabric.scope", sc, strlen(sc), 0), -EPERM);
		snprintf(sc, sizeof(sc), "process:%s/1", me);
		CHECK_RC(store_setxattr(st, a.id, "user.fabric.scope", sc, strlen(sc), 0), 0);
		CHECK(xget(st, a.id, "user.fabric.scope", buf, sizeof(buf)) > 0 && strcmp(buf, sc) == 0);
	}
	CHECK(xget(st, a.id, "user.fabric.kind", buf, sizeof(buf)) == 3 && strcmp(buf, "var") == 0);

	/* doc: up to STORE_DOC_MAX bytes */
	memset(doc, 'd', sizeof(doc));
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.doc", doc, STORE_DOC_MAX + 1, 0), -E2BIG);
	CHECK(xget(st, a.id, "user.fabric.doc", buf, sizeof(buf)) == -ENODATA);
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.doc", doc, STORE_DOC_MAX, 0), 0);
	n = store_getxattr(st, a.id, "user.fabric.doc", NULL, 0);
	CHECK(n == STORE_DOC_MAX);
	CHECK(store_getxattr(st, a.id, "user.fabric.doc", buf, 10) == -ERANGE);
	n = store_getxattr(st, a.id, "user.fabric.doc", buf, sizeof(buf));
	CHECK(n == STORE_DOC_MAX && memcmp(buf, doc, STORE_DOC_MAX) == 0);
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.doc", "short doc", 9, XATTR_REPLACE), 0);
	CHECK(xget(st, a.id, "user.fabric.doc", buf, sizeof(buf)) == 9 && strcmp(buf, "short doc") == 0);

	/* the list names the set ones */
	n = store_listxattr(st, a.id, buf, sizeof(buf));
	CHECK(n > 0);
	if (n > 0) {
		bool type = false, docn = false, xxh = false;
		for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
			type |= strcmp(p, "user.fabric.type") == 0;
			docn |= strcmp(p, "user.fabric.doc") == 0;
			xxh |= strcmp(p, "user.fabric.xxh3") == 0;
		}
		CHECK(type && docn && xxh);
	}
	CHECK(store_listxattr(st, a.id, NULL, 0) == n);

	CHECK_RC(store_removexattr(st, a.id, "user.fabric.doc"), 0);
	CHECK(xget(st, a.id, "user.fabric.doc", buf, sizeof(buf)) == -ENODATA);
	CHECK_RC(store_removexattr(st, a.id, "user.fabric.doc"), -ENODATA);

	/* directories have a doc but no type */
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, "xdir", 0755, 0, 0, &dir), 0);
	CHECK_RC(store_setxattr(st, dir.id, "user.fabric.type", "int8", 4, 0), -EINVAL);
	CHECK_RC(store_setxattr(st, dir.id, "user.fabric.doc", "a dir", 5, 0), 0);
	CHECK(xget(st, dir.id, "user.fabric.kind", buf, sizeof(buf)) == 3 && strcmp(buf, "dir") == 0);
}

/* Names and sealed variables of a store, to compare across a restart. */
struct snap_var {
	char path[64];
	uint64_t id, size;
	char xxh3[HASH_HEX_LEN + 1];
	const char *data;
};

static void check_var_back(struct store *st, const struct snap_var *v)
{
	struct store_attr a;
	char hex[HASH_HEX_LEN + 1];
	int64_t id = lookup_path(st, v->path);

	if (id != (int64_t)v->id)
		fprintf(stderr, "after restart %s is %lld, want %llu\n", v->path, (long long)id,
			(unsigned long long)v->id);
	CHECK(id == (int64_t)v->id);
	if (id < 0)
		return;
	CHECK_RC(store_getattr(st, (uint64_t)id, &a), 0);
	CHECK(a.sealed && a.size == v->size && (a.mode & 0222) == 0);
	CHECK(xget(st, (uint64_t)id, "user.fabric.xxh3", hex, sizeof(hex)) == HASH_HEX_LEN);
	CHECK(strcmp(hex, v->xxh3) == 0);
	CHECK(var_is(st, (uint64_t)id, v->data, v->size));
}

/* store_destroy then store_init on the same dir brings back every sealed variable and directory. */
static void test_restart(void)
{
	static char d1[5000], d2[70000], d3[1];
	struct store *st = open_store("rst", 0);
	struct snap_var vars[4];
	struct store_attr a, b, late, early;
	char buf[256], dir[512], msg[256], node[80];
	uint64_t cap0, used0, objs0, cap, used, objs;
	size_t nv = 0;

	if (!st)
		return;
	fill(d1, sizeof(d1), 8);
	fill(d2, sizeof(d2), 9);
	d3[0] = 'z';
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, "a", 0750, getuid(), getgid(), &a), 0);
	CHECK_RC(store_mkdir(st, a.id, "b", 0700, getuid(), getgid(), &b), 0);
	/* a directory made first, then moved into one made later (a child with a smaller id than its parent) */
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, "early", 0755, getuid(), getgid(), &early), 0);
	CHECK_RC(store_mkdir(st, STORE_VARS_ID, "late", 0755, getuid(), getgid(), &late), 0);
	vars[nv++] = (struct snap_var){ "top", mkvar(st, STORE_VARS_ID, "top", d1, sizeof(d1)), sizeof(d1), "", d1 };
	vars[nv++] = (struct snap_var){ "a/b/deep", mkvar(st, b.id, "deep", d2, sizeof(d2)), sizeof(d2), "", d2 };
	vars[nv++] = (struct snap_var){ "a/one", mkvar(st, a.id, "one", d3, 1), 1, "", d3 };
	vars[nv++] = (struct snap_var){ "late/early/empty", mkvar(st, early.id, "empty", NULL, 0), 0, "", "" };
	CHECK_RC(store_rename(st, STORE_VARS_ID, "early", late.id, "early", 0), 0);
	for (size_t i = 0; i < nv; i++)
		CHECK(xget(st, vars[i].id, "user.fabric.xxh3", vars[i].xxh3, sizeof(vars[i].xxh3)) == HASH_HEX_LEN);
	CHECK_RC(store_setxattr(st, vars[2].id, "user.fabric.type", "int8", 4, 0), 0);
	CHECK_RC(store_setxattr(st, vars[2].id, "user.fabric.doc", "one byte", 8, 0), 0);
	CHECK_RC(store_setxattr(st, a.id, "user.fabric.doc", "dir a", 5, 0), 0);
	store_statfs(st, &cap0, &used0, &objs0);
	CHECK(objs0 == 4);

	/* the clean flag: 0 while a store runs, 1 after store_destroy */
	yp_text("rst", "SELECT clean FROM nodes", buf, sizeof(buf));
	CHECK(strcmp(buf, "0") == 0);
	store_destroy(st);
	yp_text("rst", "SELECT clean FROM nodes", buf, sizeof(buf));
	CHECK(strcmp(buf, "1") == 0);

	/* again, with node NULL: the state dir's own node */
	struct store_config cfg = { .state_dir = dir, .node = NULL, .capacity = 0, .log = log_sink, .no_slabs = true };
	state_dir("rst", dir, sizeof(dir));
	node_name("rst", node, sizeof(node));
	st = NULL;
	log_clear();
	CHECK_RC(store_init(&cfg, &st, msg, sizeof(msg)), 0);
	if (!st)
		return;
	CHECK(!log_has("lost"));
	CHECK(strcmp(store_node_name(st), node) == 0);
	for (size_t i = 0; i < nv; i++)
		check_var_back(st, &vars[i]);
	CHECK(lookup_path(st, "a") == (int64_t)a.id);
	CHECK(lookup_path(st, "a/b") == (int64_t)b.id);
	CHECK(lookup_path(st, "late") == (int64_t)late.id);
	CHECK(lookup_path(st, "late/early") == (int64_t)early.id);
	CHECK(lookup_path(st, "early") == -ENOENT);
	{
		struct store_attr g;
		CHECK_RC(store_getattr(st, a.id, &g), 0);
		CHECK(g.dir && (g.mode & 07777) == 0750 && g.nlink == 3);
		CHECK_RC(store_getattr(st, b.id, &g), 0);
		CHECK(g.dir && (g.mode & 07777) == 0700);
	}
	CHECK(xget(st, vars[2].id, "user.fabric.type", buf, sizeof(buf)) == 4 && strcmp(buf, "int8") == 0);
	CHECK(xget(st, vars[2].id, "user.fabric.doc", buf, sizeof(buf)) == 8 && strcmp(buf, "one byte") == 0);
	CHECK(xget(st, a.id, "user.fabric.doc", buf, sizeof(buf)) == 5 && strcmp(buf, "dir a") == 0);
	store_statfs(st, &cap, &used, &objs);
	CHECK(cap == cap0 && used == used0 && objs == objs0);

	/* new variables after a restart get fresh blocks, not ones in use */
	{
		char shm_new[SHM_NAME_MAX], shm_old[SHM_NAME_MAX];
		uint64_t id = mkvar(st, STORE_VARS_ID, "after", "fresh", 5);
		CHECK_RC(shm_of(st, id, shm_new, sizeof(shm_new)), 0);
		for (size_t i = 0; i < nv; i++) {
			CHECK_RC(shm_of(st, vars[i].id, shm_old, sizeof(shm_old)), 0);
			CHECK(strcmp(shm_new, shm_old) != 0);
		}
		for (size_t i = 0; i < nv; i++)
			check_var_back(st, &vars[i]);
	}
	store_destroy(st);
}

/* Crash recovery: a variable being written and one unlinked while open at the "crash", an orphan shm
 * object with the node's prefix, and one with another instance's prefix that must be left alone. */
static void test_crash(void)
{
	static char d1[20000], d2[3000];
	struct store *st = open_store("crash", 0);
	struct store_handle *w = NULL, *r = NULL;
	struct store_attr a;
	char shm_half[SHM_NAME_MAX], shm_ul[SHM_NAME_MAX], shm_ok[SHM_NAME_MAX], prefix[SHM_NAME_MAX];
	char orphan[SHM_NAME_MAX + 16], other[SHM_NAME_MAX + 32], buf[256], node[80];
	uint64_t ok_id, ul_id, cap, used, objs;
	int fd;

	if (!st)
		return;
	fill(d1, sizeof(d1), 10);
	fill(d2, sizeof(d2), 11);
	ok_id = mkvar(st, STORE_VARS_ID, "ok1", d1, sizeof(d1));
	CHECK_RC(shm_of(st, ok_id, shm_ok, sizeof(shm_ok)), 0);

	ul_id = mkvar(st, STORE_VARS_ID, "ul", d2, sizeof(d2));
	CHECK_RC(shm_of(st, ul_id, shm_ul, sizeof(shm_ul)), 0);
	CHECK_RC(store_open(st, ul_id, O_RDONLY, getpid(), wake, NULL, &r), 0);
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "ul"), 0);

	CHECK_RC(store_create(st, STORE_VARS_ID, "half", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &w),
		 0);
	CHECK_RC(shm_of(st, a.id, shm_half, sizeof(shm_half)), 0);
	if (w)
		CHECK(store_write(st, w, d2, 1000, 0) == 1000);
	/* the "crash": the handles are never released */
	store_destroy(st);
	st = NULL;

	/* a variable being written has no rows: only its shm block, an orphan for the next start */
	yp_text("crash", "SELECT count(*) FROM objects WHERE name = 'half'", buf, sizeof(buf));
	CHECK(strcmp(buf, "0") == 0);
	yp_text("crash", "SELECT state FROM objects WHERE name = 'ul'", buf, sizeof(buf));
	CHECK(strcmp(buf, "deleted") == 0);
	CHECK(shm_exists(shm_half));
	CHECK(shm_exists(shm_ul));

	prefix_of(shm_ok, prefix, sizeof(prefix));
	node_name("crash", node, sizeof(node));
	CHECK(strncmp(prefix, "fabric.", 7) == 0 && strstr(prefix, node) && prefix[strlen(prefix) - 1] == '.');
	snprintf(orphan, sizeof(orphan), "/%s999999", prefix);
	fd = shm_open(orphan, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, "orphan", 6) == 6);
		close(fd);
	}
	/* same node name, another instance: somebody else's */
	snprintf(other, sizeof(other), "/fabric.%s.ffffffff.999999", node);
	if (strcmp(other + 1, orphan + 1) == 0) /* one chance in 2^32 */
		snprintf(other, sizeof(other), "/fabric.%s.fffffffe.999999", node);
	fd = shm_open(other, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);

	st = open_store("crash", 0);
	if (!st)
		return;
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "half", &a), -ENOENT);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "ul", &a), -ENOENT);
	CHECK(!shm_exists(shm_half));
	CHECK(!shm_exists(shm_ul));
	CHECK(!shm_exists(orphan + 1));
	CHECK(shm_exists(other + 1));
	CHECK(shm_exists(shm_ok));
	yp_text("crash", "SELECT count(*) FROM objects WHERE name IN ('half', 'ul')", buf, sizeof(buf));
	CHECK(strcmp(buf, "0") == 0);
	yp_text("crash", "SELECT count(*) FROM blocks", buf, sizeof(buf));
	CHECK(strcmp(buf, "1") == 0); /* ok1's only */

	CHECK_RC(store_lookup(st, STORE_VARS_ID, "ok1", &a), 0);
	CHECK(a.id == ok_id && a.sealed && a.size == sizeof(d1));
	CHECK(var_is(st, ok_id, d1, sizeof(d1)));
	store_statfs(st, &cap, &used, &objs);
	CHECK(objs == 1);
	CHECK(used == 20480);
	/* the names are free again */
	CHECK(mkvar(st, STORE_VARS_ID, "half", "again", 5) != 0);
	store_destroy(st);
	shm_unlink(other);
}

/* Sealed variables are verified at start: a missing block or a wrong size always, changed bytes only
 * after an unclean stop. */
static void test_verify(void)
{
	static char d[8192];
	struct store *st = open_store("verify", 0);
	uint64_t gone_id, resized_id, changed_id, good_id;
	char shm_gone[SHM_NAME_MAX], shm_resized[SHM_NAME_MAX], shm_changed[SHM_NAME_MAX];
	char hex_changed[HASH_HEX_LEN + 1], buf[256], path[300];
	struct store_attr a;
	int fd;

	if (!st)
		return;
	fill(d, sizeof(d), 12);
	gone_id = mkvar(st, STORE_VARS_ID, "gonevar", d, 1000);
	resized_id = mkvar(st, STORE_VARS_ID, "resizedvar", d, 2000);
	changed_id = mkvar(st, STORE_VARS_ID, "changedvar", d, sizeof(d));
	good_id = mkvar(st, STORE_VARS_ID, "goodvar", d, 3000);
	CHECK_RC(shm_of(st, gone_id, shm_gone, sizeof(shm_gone)), 0);
	CHECK_RC(shm_of(st, resized_id, shm_resized, sizeof(shm_resized)), 0);
	CHECK_RC(shm_of(st, changed_id, shm_changed, sizeof(shm_changed)), 0);
	CHECK(xget(st, changed_id, "user.fabric.xxh3", hex_changed, sizeof(hex_changed)) == HASH_HEX_LEN);
	store_destroy(st);

	/* behind the store's back: one block removed, one grown, one changed in place (same size) */
	snprintf(path, sizeof(path), "/%s", shm_gone);
	CHECK(shm_unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, shm_resized);
	CHECK(truncate(path, 2001) == 0);
	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, shm_changed);
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(pwrite(fd, "CHANGED", 7, 100) == 7);
		close(fd);
	}

	/* after a clean stop: the missing and the resized are lost, the changed one is only size-checked */
	log_clear();
	st = open_store("verify", 0);
	if (!st)
		return;
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "gonevar", &a), -ENOENT);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "resizedvar", &a), -ENOENT);
	CHECK(log_has("gonevar"));
	CHECK(log_has("resizedvar"));
	CHECK(!log_has("changedvar"));
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "changedvar", &a), 0);
	CHECK(a.id == changed_id && a.sealed && a.size == sizeof(d));
	CHECK(xget(st, changed_id, "user.fabric.xxh3", buf, sizeof(buf)) == HASH_HEX_LEN);
	CHECK(strcmp(buf, hex_changed) == 0);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "goodvar", &a), 0);
	CHECK(a.id == good_id);
	yp_text("verify", "SELECT state FROM objects WHERE name = 'gonevar'", buf, sizeof(buf));
	CHECK(strcmp(buf, "lost") == 0);
	yp_text("verify", "SELECT state FROM objects WHERE name = 'resizedvar'", buf, sizeof(buf));
	CHECK(strcmp(buf, "lost") == 0);
	yp_text("verify", "SELECT count(*) FROM vars WHERE path IN ('gonevar', 'resizedvar')", buf, sizeof(buf));
	CHECK(strcmp(buf, "0") == 0);
	{
		uint64_t cap, used, objs;
		store_statfs(st, &cap, &used, &objs);
		CHECK(objs == 2);
		CHECK(used == sizeof(d) + 4096);
	}
	/* a lost variable's name can be used again */
	CHECK(mkvar(st, STORE_VARS_ID, "gonevar", d, 10) != 0);
	store_destroy(st);

	/* after an unclean stop every sealed variable's bytes are hashed: the changed one is lost */
	CHECK_RC(set_clean("verify", 0), 0);
	yp_text("verify", "SELECT clean FROM nodes", buf, sizeof(buf));
	CHECK(strcmp(buf, "0") == 0);
	log_clear();
	st = open_store("verify", 0);
	if (!st)
		return;
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "changedvar", &a), -ENOENT);
	CHECK(log_has("changedvar"));
	yp_text("verify", "SELECT state FROM objects WHERE name = 'changedvar'", buf, sizeof(buf));
	CHECK(strcmp(buf, "lost") == 0);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "goodvar", &a), 0);
	CHECK(a.id == good_id && a.sealed);
	CHECK(var_is(st, good_id, d, 3000));
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "gonevar", &a), 0);
	CHECK(var_is(st, a.id, d, 10));
	store_destroy(st);
}

static int run_all(void)
{
	struct store *st;

	st = open_store("main", 64 << 20);
	if (st) {
		test_seal(st);
		test_waiting(st);
		test_names(st);
		test_unlink_open(st);
		test_xattr(st);
		store_destroy(st);
	}
	test_capacity();
	test_restart();
	test_crash();
	test_verify();
	if (check_failures)
		fprintf(stderr, "test_store: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}

int main(void)
{
	return fixture_main("test_store", "ut", 60, run_all);
}
