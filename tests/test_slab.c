/* SPDX-License-Identifier: MIT */
/* test_slab.c -- unit tests for slab packing (core/slab, core/store/store_seal.c) and store_defragment, driven
 * through the store's API on real SQLite and real POSIX shm.
 *
 * Covers: small variables packed at seal (their extent's block is a slab, the offset page-aligned, the
 * locations xattr names the slab and the offset, the bytes at that offset of that shm object are the
 * variable's, the xxh3 still right, the dedicated shm object gone), big ones and the threshold itself kept
 * dedicated; store_handle_fd -1 for packed ones; store_read of packed ones (whole, partial, across, at and
 * past EOF); opens that waited for the seal read the packed copy; no packing when another handle is open,
 * when the variable was unlinked before its seal, or when the block is still mapped for writing; unlink
 * frees pages (reused by the next variable), an empty slab goes (but the last one is kept warm);
 * defragment after deleting every other small variable (objects move, blocks are freed, bytes and xxh3
 * kept, a handle opened before reads right after, a reader thread reading all along sees the right
 * bytes); restart; crash recovery with packed variables (dropped ones, a changed one lost after an unclean
 * stop and its neighbour intact, a slab removed behind the store's back, an orphan); no new slab when its
 * charge does not fit (the variable just stays dedicated); statfs used exact throughout; many threads
 * sealing small variables at once.
 *
 * As in test_store.c: every case has its own state dir under one mkdtemp dir and its own node
 * "sl<PID>-<case>"; the cases run in a child process, and the parent removes the temp dir and every
 * /dev/shm/fabric.sl<PID>-* whatever happens to the child. */
#include "core/store/alloc.h"
#include "core/os/hash.h"
#include "core/os/shm.h"
#include "core/store/slab.h"
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
#include <time.h>
#include <unistd.h>

#define THRESH STORE_SLAB_THRESHOLD
#define MiB (1u << 20)
_Static_assert(STORE_SLAB_THRESHOLD > 60000 && STORE_SLAB_THRESHOLD < MiB,
	       "the cases below pack variables of up to 60000 bytes and keep 1 MiB ones dedicated");


static void log_sink(const char *msg)
{
	fprintf(stderr, "    store log: %s\n", msg);
}

/* ---- helpers ---- */

static void state_dir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", base, name);
	mkdir(buf, 0700);
}

static struct store *open_store(const char *name, uint64_t capacity)
{
	char dir[512], node[80], msg[512] = "";
	struct store_config cfg = { .state_dir = dir, .node = node, .capacity = capacity, .log = log_sink };
	struct store *st = NULL;
	int rc;

	state_dir(name, dir, sizeof(dir));
	snprintf(node, sizeof(node), "%s-%s", tag, name);
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
		buf[i] = (char)((i * 131 + seed * 7 + (i >> 8) + seed * (i >> 12)) & 0xff);
}


struct loc {
	char node[80];
	char shm[SHM_NAME_MAX];
	unsigned long long off, len;
};

/* user.fabric.locations of id, parsed; 0 or -errno. */
static int loc_of(struct store *st, uint64_t id, struct loc *l)
{
	char buf[512], extra[8];

	memset(l, 0, sizeof(*l));
	if (xget(st, id, "user.fabric.locations", buf, sizeof(buf)) < 0)
		return -ENODATA;
	if (sscanf(buf, "%79s %127s %llu %llu %7s", l->node, l->shm, &l->off, &l->len, extra) != 4)
		return -EINVAL;
	return 0;
}

static bool shm_exists(const char *name)
{
	char path[300];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, name);
	return stat(path, &sb) == 0;
}

static int64_t shm_size(const char *name)
{
	char path[300];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, name);
	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* Read len bytes at off of /dev/shm/NAME; bytes read or -errno. */
static ssize_t shm_read_at(const char *name, uint64_t off, char *buf, size_t len)
{
	char path[300];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	return n < 0 ? -errno : n;
}

/* xxh3 of len bytes at off of /dev/shm/NAME, with core/os/hash.h's hash_fd. */
static int shm_hash_at(const char *name, uint64_t off, uint64_t len, char hex[HASH_HEX_LEN + 1])
{
	char path[300];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = hash_fd(fd, off, len, hex);
	close(fd);
	return rc;
}

static void yp_text(const char *name, const char *sql, char *out, size_t len)
{
	char path[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/yp.db", base, name);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_text(s, 0))
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
	else if (db && !s)
		fprintf(stderr, "yp query %s: %s\n", sql, sqlite3_errmsg(db));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static long long yp_int(const char *name, const char *sql)
{
	char buf[64];

	yp_text(name, sql, buf, sizeof(buf));
	return buf[0] ? atoll(buf) : -1;
}

/* The kind of the block variable id's extent points into ("slab", "dedicated", "" for none). */
static void kind_of(const char *name, uint64_t id, char *out, size_t len)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT b.kind FROM extents e JOIN blocks b ON b.id = e.block WHERE e.object = %llu",
		 (unsigned long long)id);
	yp_text(name, sql, out, len);
}

static long long slab_rows(const char *name)
{
	return yp_int(name, "SELECT count(*) FROM blocks WHERE kind = 'slab'");
}

/* The node's shm objects in /dev/shm. */
static int count_shm(const char *name)
{
	char prefix[SHM_NAME_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	yp_text(name, "SELECT shm_prefix FROM nodes", prefix, sizeof(prefix));
	if (!prefix[0] || !(d = opendir(SHM_DIR)))
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* Open fds of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int set_clean(const char *name, int clean)
{
	char path[512];
	struct yp *yp = NULL;
	struct yp_node n;
	int rc;

	snprintf(path, sizeof(path), "%s/%s/yp.db", base, name);
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

static uint64_t used_of(struct store *st)
{
	uint64_t cap, used, objs;

	store_statfs(st, &cap, &used, &objs);
	return used;
}

/* Read all of a variable through a fresh read handle of another process ("pid 1" never waits on a
 * sealed variable); bytes or -errno. */
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

static bool var_is(struct store *st, uint64_t id, const char *want, size_t len)
{
	static char got[4 * MiB];
	ssize_t n = read_var(st, id, got, sizeof(got));

	return n == (ssize_t)len && memcmp(got, want, len) == 0;
}

/* What a packed variable must look like: its extent in a slab at a page-aligned offset, the locations
 * xattr saying so, the slab's bytes there the variable's, the xxh3 right over them. */
static void check_packed(struct store *st, const char *sname, uint64_t id, const char *data, size_t len)
{
	char kind[32], hex[HASH_HEX_LEN + 1], xx[64], sql[256], row[512];
	static char got[THRESH];
	struct loc l;

	kind_of(sname, id, kind, sizeof(kind));
	if (strcmp(kind, "slab") != 0)
		fprintf(stderr, "variable %llu of %zu bytes: extent in a '%s' block, want slab\n",
			(unsigned long long)id, len, kind);
	CHECK(strcmp(kind, "slab") == 0);
	CHECK_RC(loc_of(st, id, &l), 0);
	CHECK(l.off % 4096 == 0);
	CHECK(l.len == len);
	CHECK(l.off + l.len <= SLAB_BLOCK_SIZE);
	CHECK(shm_size(l.shm) == SLAB_BLOCK_SIZE);
	/* the YP's extent agrees with the xattr */
	snprintf(sql, sizeof(sql),
		 "SELECT b.shm_name || ' ' || e.offset || ' ' || e.length || ' ' || b.size FROM extents e"
		 " JOIN blocks b ON b.id = e.block WHERE e.object = %llu",
		 (unsigned long long)id);
	yp_text(sname, sql, row, sizeof(row));
	{
		char want[512];
		snprintf(want, sizeof(want), "%s %llu %zu %u", l.shm, l.off, len, SLAB_BLOCK_SIZE);
		CHECK(strcmp(row, want) == 0);
	}
	CHECK(shm_read_at(l.shm, l.off, got, len) == (ssize_t)len);
	CHECK(memcmp(got, data, len) == 0);
	hash_buf(data, len, hex);
	CHECK(xget(st, id, "user.fabric.xxh3", xx, sizeof(xx)) == HASH_HEX_LEN);
	CHECK(strcmp(xx, hex) == 0);
	CHECK_RC(shm_hash_at(l.shm, l.off, len, xx), 0);
	CHECK(strcmp(xx, hex) == 0);
	CHECK(var_is(st, id, data, len));
}

static void check_dedicated(struct store *st, const char *sname, uint64_t id, const char *data, size_t len)
{
	char kind[32];
	struct loc l;

	kind_of(sname, id, kind, sizeof(kind));
	if (strcmp(kind, "dedicated") != 0)
		fprintf(stderr, "variable %llu of %zu bytes: extent in a '%s' block, want dedicated\n",
			(unsigned long long)id, len, kind);
	CHECK(strcmp(kind, "dedicated") == 0);
	CHECK_RC(loc_of(st, id, &l), 0);
	CHECK(l.off == 0 && l.len == len);
	CHECK(shm_size(l.shm) == (int64_t)len);
	CHECK(var_is(st, id, data, len));
}

/* used must be: the slabs (as the YP counts them) and the dedicated variables' pages. */
static void check_used(struct store *st, const char *sname, uint64_t dedicated_bytes)
{
	long long slabs = slab_rows(sname);
	uint64_t want = (uint64_t)slabs * SLAB_BLOCK_SIZE + dedicated_bytes, used = used_of(st);

	if (used != want)
		fprintf(stderr, "used %llu, want %lld slabs + %llu = %llu\n", (unsigned long long)used, slabs,
			(unsigned long long)dedicated_bytes, (unsigned long long)want);
	CHECK(used == want);
}

/* ---- wake callback ---- */

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

static int woken(struct wctx *w, int ms)
{
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000 + 1;
	pthread_mutex_lock(&w->m);
	while (w->calls < 1 && pthread_cond_timedwait(&w->c, &w->m, &ts) == 0)
		;
	n = w->calls;
	pthread_mutex_unlock(&w->m);
	return n;
}

/* ---- cases ---- */

/* Small variables are packed, big ones (and one exactly at the threshold) are not. */
static void test_pack(void)
{
	static const size_t small[] = { 0, 1, 100, 4095, 4096, 4097, 10000, 40000, THRESH - 1 };
	static const size_t big[] = { THRESH, THRESH + 1, MiB };
	enum { NS = sizeof(small) / sizeof(small[0]), NB = sizeof(big) / sizeof(big[0]) };
	static char data[NS + NB][MiB];
	uint64_t ids[NS + NB], dedicated = 0;
	struct store *st = open_store("pack", 0);
	struct loc l[NS];
	char name[32];

	if (!st)
		return;
	CHECK(used_of(st) == 0);
	for (size_t i = 0; i < NS; i++) {
		fill(data[i], small[i], (unsigned)i + 1);
		snprintf(name, sizeof(name), "s%zu", i);
		ids[i] = mkvar(st, STORE_VARS_ID, name, data[i], small[i]);
	}
	for (size_t i = 0; i < NB; i++) {
		fill(data[NS + i], big[i], (unsigned)(NS + i) + 1);
		snprintf(name, sizeof(name), "b%zu", i);
		ids[NS + i] = mkvar(st, STORE_VARS_ID, name, data[NS + i], big[i]);
		dedicated += alloc_charge_for(big[i]);
	}
	for (size_t i = 0; i < NS; i++) {
		check_packed(st, "pack", ids[i], data[i], small[i]);
		CHECK_RC(loc_of(st, ids[i], &l[i]), 0);
	}
	for (size_t i = 0; i < NB; i++)
		check_dedicated(st, "pack", ids[NS + i], data[NS + i], big[i]);

	/* they all fit in one slab, without overlapping (an empty variable takes no page) */
	CHECK(slab_rows("pack") == 1);
	for (size_t i = 0; i < NS; i++) {
		CHECK(strcmp(l[i].shm, l[0].shm) == 0);
		for (size_t j = 0; j < i; j++)
			if (small[i] && small[j])
				CHECK(l[i].off + small[i] <= l[j].off || l[j].off + small[j] <= l[i].off);
	}
	/* the dedicated blocks of the packed ones are gone: one slab and the big ones' blocks are left */
	CHECK(count_shm("pack") == 1 + NB);
	CHECK(yp_int("pack", "SELECT count(*) FROM blocks") == 1 + NB);
	check_used(st, "pack", dedicated);

	/* store_handle_fd: -1 for packed, the block (offset 0 = byte 0) for dedicated */
	{
		struct store_handle *h = NULL;
		char b[16];
		CHECK_RC(store_open(st, ids[3], O_RDONLY, getppid(), NULL, NULL, &h), 0);
		if (h) {
			CHECK(store_handle_fd(h) == -1);
			store_release(st, h);
		}
		h = NULL;
		CHECK_RC(store_open(st, ids[NS], O_RDONLY, getppid(), NULL, NULL, &h), 0);
		if (h) {
			CHECK(store_handle_fd(h) >= 0);
			CHECK(pread(store_handle_fd(h), b, 16, 0) == 16 && memcmp(b, data[NS], 16) == 0);
			store_release(st, h);
		}
	}

	/* open packed variables hold no fd of their own (the slab's is shared) */
	{
		struct store_handle *hs[NS] = { 0 };
		int before = count_fds();
		for (size_t i = 0; i < NS; i++)
			CHECK_RC(store_open(st, ids[i], O_RDONLY, getppid(), NULL, NULL, &hs[i]), 0);
		CHECK(count_fds() == before);
		for (size_t i = 0; i < NS; i++)
			if (hs[i])
				store_release(st, hs[i]);
	}

	/* store_read of a packed variable: partial ranges, across the end, at and past the end */
	{
		struct store_handle *h = NULL;
		size_t n = small[7]; /* 40000 */
		static char got[THRESH + 8192];
		CHECK_RC(store_open(st, ids[7], O_RDONLY, getppid(), NULL, NULL, &h), 0);
		if (h) {
			CHECK(store_read(st, h, got, sizeof(got), 0) == (ssize_t)n);
			CHECK(memcmp(got, data[7], n) == 0);
			CHECK(store_read(st, h, got, 100, 5) == 100 && memcmp(got, data[7] + 5, 100) == 0);
			CHECK(store_read(st, h, got, 5000, 4090) == 5000 && memcmp(got, data[7] + 4090, 5000) == 0);
			CHECK(store_read(st, h, got, 1000, n - 10) == 10 && memcmp(got, data[7] + n - 10, 10) == 0);
			CHECK(store_read(st, h, got, 1000, n) == 0);
			CHECK(store_read(st, h, got, 1000, n + 1) == 0);
			CHECK(store_read(st, h, got, 1000, n + 4096 * 100) == 0);
			CHECK(store_read(st, h, got, 0, 7) == 0);
			/* past the end of this variable are the neighbours' pages: never shown */
			CHECK(store_read(st, h, got, sizeof(got), 40000 - 1) == 1);
			store_release(st, h);
		}
		h = NULL;
		CHECK_RC(store_open(st, ids[0], O_RDONLY, getppid(), NULL, NULL, &h), 0); /* the empty one */
		if (h) {
			CHECK(store_read(st, h, got, 10, 0) == 0);
			store_release(st, h);
		}
	}
	/* what getattr says is unchanged by packing */
	{
		struct store_attr a;
		CHECK_RC(store_getattr(st, ids[6], &a), 0);
		CHECK(a.sealed && a.size == small[6] && (a.mode & 0222) == 0);
	}
	store_destroy(st);
}

/* Opens that waited for the seal get handles on the packed copy; packing only when it is safe. */
static void test_when(void)
{
	static char d[30000], got[30000];
	struct store *st = open_store("when", 0);
	struct wctx rd = WCTX_INIT;
	struct store_handle *h = NULL, *own = NULL, *r = NULL;
	struct store_attr a;
	char kind[32];
	struct loc l;

	if (!st)
		return;
	fill(d, sizeof(d), 40);

	/* a future: the waiting reader gets the packed copy */
	CHECK_RC(store_create(st, STORE_VARS_ID, "fut", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &h),
		 0);
	if (h) {
		CHECK(store_write(st, h, d, sizeof(d), 0) == (ssize_t)sizeof(d));
		CHECK_RC(store_open(st, a.id, O_RDONLY, getppid(), wake, &rd, &r), STORE_WAITING);
		store_release(st, h);
		CHECK(woken(&rd, 2000) == 1);
		CHECK(rd.rc == 0 && rd.h);
		if (rd.h) {
			CHECK(store_handle_fd(rd.h) == -1);
			CHECK(store_read(st, rd.h, got, sizeof(got), 0) == (ssize_t)sizeof(d));
			CHECK(memcmp(got, d, sizeof(d)) == 0);
			store_release(st, rd.h);
		}
		check_packed(st, "when", a.id, d, sizeof(d));
	}

	/* the writer's own process still holds a read handle at the writer's release: it stays dedicated */
	h = NULL;
	CHECK_RC(store_create(st, STORE_VARS_ID, "own", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &h),
		 0);
	if (h) {
		CHECK(store_write(st, h, d, 5000, 0) == 5000);
		CHECK_RC(store_open(st, a.id, O_RDONLY, getpid(), NULL, NULL, &own), 0);
		store_release(st, h);
		if (own) {
			CHECK(store_handle_fd(own) >= 0);
			CHECK(store_read(st, own, got, sizeof(got), 0) == 5000 && memcmp(got, d, 5000) == 0);
			store_release(st, own);
		}
		check_dedicated(st, "when", a.id, d, 5000);
	}

	/* the block is still mapped for writing (a passthrough writer's mmap outlives its release): it
	 * stays dedicated, and writes through the mapping still show, as they do for a big variable */
	h = NULL;
	CHECK_RC(store_create(st, STORE_VARS_ID, "mapped", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(),
			      &a, &h),
		 0);
	if (h) {
		char path[300];
		void *map = MAP_FAILED;
		int fd;
		CHECK(store_write(st, h, d, 8192, 0) == 8192);
		CHECK_RC(loc_of(st, a.id, &l), 0);
		snprintf(path, sizeof(path), "%s/%s", SHM_DIR, l.shm);
		fd = open(path, O_RDWR | O_CLOEXEC);
		CHECK(fd >= 0);
		if (fd >= 0) {
			map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			close(fd); /* the mapping keeps the file open for writing */
		}
		CHECK(map != MAP_FAILED);
		store_release(st, h);
		kind_of("when", a.id, kind, sizeof(kind));
		CHECK(strcmp(kind, "dedicated") == 0);
		if (map != MAP_FAILED) {
			memcpy(map, "LATE", 4);
			munmap(map, 8192);
			CHECK(read_var(st, a.id, got, sizeof(got)) == 8192 && memcmp(got, "LATE", 4) == 0);
		}
	}

	/* unlinked while being written: dropped at its release, nothing packed */
	h = NULL;
	CHECK_RC(store_create(st, STORE_VARS_ID, "gone", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &h),
		 0);
	if (h) {
		uint64_t before;
		CHECK(store_write(st, h, d, 3000, 0) == 3000);
		CHECK_RC(loc_of(st, a.id, &l), 0);
		CHECK_RC(store_unlink(st, STORE_VARS_ID, "gone"), 0);
		before = used_of(st);
		store_release(st, h);
		CHECK(!shm_exists(l.shm));
		CHECK(used_of(st) == before - 4096);
		CHECK(yp_int("when", "SELECT count(*) FROM objects WHERE name = 'gone'") == 0);
	}
	/* exactly: one slab (fut), own (5000) and mapped (8192) dedicated */
	check_used(st, "when", 8192 + 8192);
	CHECK(count_shm("when") == 3);
	store_destroy(st);
}

/* Unlink frees a packed variable's pages (the next one of that size takes them), a slab left empty goes,
 * the last one stays (warm). */
static void test_unlink(void)
{
	enum { N = 100, LEN = 60000 }; /* 15 pages each: 68 fit in a slab, so two slabs */
	static char d[N][LEN];
	struct store *st = open_store("unlink", 0);
	uint64_t ids[N];
	struct loc l[N], nl;
	char name[32], first_slab[SHM_NAME_MAX], second[SHM_NAME_MAX] = "";
	struct store_handle *h = NULL;
	size_t in_first = 0;

	if (!st)
		return;
	for (size_t i = 0; i < N; i++) {
		fill(d[i], LEN, 100 + (unsigned)i);
		snprintf(name, sizeof(name), "u%zu", i);
		ids[i] = mkvar(st, STORE_VARS_ID, name, d[i], LEN);
		CHECK_RC(loc_of(st, ids[i], &l[i]), 0);
	}
	snprintf(first_slab, sizeof(first_slab), "%s", l[0].shm);
	for (size_t i = 0; i < N; i++) {
		if (strcmp(l[i].shm, first_slab) == 0)
			in_first++;
		else
			snprintf(second, sizeof(second), "%s", l[i].shm);
	}
	CHECK(in_first == SLAB_PAGES / 15);
	CHECK(second[0]);
	CHECK(slab_rows("unlink") == 2);
	CHECK(count_shm("unlink") == 2);
	check_used(st, "unlink", 0);

	/* a hole in the first slab is taken by the next variable that fits */
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "u10"), 0);
	{
		uint64_t id = mkvar(st, STORE_VARS_ID, "again", d[10], LEN);
		CHECK_RC(loc_of(st, id, &nl), 0);
		CHECK(strcmp(nl.shm, l[10].shm) == 0 && nl.off == l[10].off);
		check_packed(st, "unlink", id, d[10], LEN);
		ids[10] = id;
		snprintf(name, sizeof(name), "again");
	}
	/* unlink while open: the pages stay until the release */
	CHECK_RC(store_open(st, ids[20], O_RDONLY, getppid(), NULL, NULL, &h), 0);
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "u20"), 0);
	{
		static char got[LEN];
		uint64_t id = mkvar(st, STORE_VARS_ID, "other", d[21], 100);
		CHECK_RC(loc_of(st, id, &nl), 0);
		CHECK(!(strcmp(nl.shm, l[20].shm) == 0 && nl.off == l[20].off));
		if (h) {
			CHECK(store_read(st, h, got, LEN, 0) == LEN && memcmp(got, d[20], LEN) == 0);
			store_release(st, h);
		}
		CHECK_RC(store_unlink(st, STORE_VARS_ID, "other"), 0);
		id = mkvar(st, STORE_VARS_ID, "other2", d[21], 100);
		CHECK_RC(loc_of(st, id, &nl), 0);
		CHECK(strcmp(nl.shm, l[20].shm) == 0 && nl.off == l[20].off); /* u20's place is free again */
		CHECK_RC(store_unlink(st, STORE_VARS_ID, "other2"), 0);
	}
	check_used(st, "unlink", 0);

	/* empty the second slab: it goes, row, shm object and charge */
	for (size_t i = 0; i < N; i++) {
		if (strcmp(l[i].shm, second) != 0)
			continue;
		snprintf(name, sizeof(name), "u%zu", i);
		CHECK_RC(store_unlink(st, STORE_VARS_ID, name), 0);
	}
	CHECK(!shm_exists(second));
	CHECK(slab_rows("unlink") == 1);
	CHECK(used_of(st) == SLAB_BLOCK_SIZE);
	check_used(st, "unlink", 0);

	/* empty the first one too: it is the last, so it stays, warm */
	for (size_t i = 0; i < N; i++) {
		if (strcmp(l[i].shm, first_slab) != 0)
			continue;
		if (i == 20)
			continue; /* gone already */
		if (i == 10)
			snprintf(name, sizeof(name), "again");
		else
			snprintf(name, sizeof(name), "u%zu", i);
		CHECK_RC(store_unlink(st, STORE_VARS_ID, name), 0);
	}
	CHECK(shm_exists(first_slab));
	CHECK(slab_rows("unlink") == 1);
	CHECK(used_of(st) == SLAB_BLOCK_SIZE);
	CHECK(yp_int("unlink", "SELECT count(*) FROM extents") == 0);
	/* ...and the next small variable goes there, at offset 0 */
	{
		uint64_t id = mkvar(st, STORE_VARS_ID, "warm", d[1], 10);
		CHECK_RC(loc_of(st, id, &nl), 0);
		CHECK(strcmp(nl.shm, first_slab) == 0 && nl.off == 0);
		check_packed(st, "unlink", id, d[1], 10);
	}
	check_used(st, "unlink", 0);
	/* a restart removes an empty slab (nothing points into it); here one variable keeps it */
	store_destroy(st);
	st = open_store("unlink", 0);
	if (!st)
		return;
	CHECK(shm_exists(first_slab));
	check_used(st, "unlink", 0);
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "warm"), 0);
	store_destroy(st);
	st = open_store("unlink", 0);
	if (!st)
		return;
	CHECK(!shm_exists(first_slab));
	CHECK(slab_rows("unlink") == 0);
	CHECK(used_of(st) == 0);
	store_destroy(st);
}

/* A thread that reads packed variables in a loop and checks every byte, while defragment runs. */
struct reader {
	struct store *st;
	struct store_handle **hs;
	char (*data)[50000];
	size_t *lens;
	size_t n;
	int stop; /* __atomic */
	long reads, bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	static char got[50000];

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		for (size_t i = 0; i < r->n; i++) {
			size_t len = r->lens[i], off = (i * 977) % (len ? len : 1);
			ssize_t n = store_read(r->st, r->hs[i], got, len - off, off);
			r->reads++;
			if (n != (ssize_t)(len - off) || memcmp(got, r->data[i] + off, len - off) != 0)
				r->bad++;
		}
	}
	return NULL;
}

/* Delete every other small variable, defragment: variables move, slabs go, everything still reads. */
static void test_defrag(void)
{
	enum { N = 480 };
	static char d[N][50000];
	static size_t lens[N];
	struct store *st = open_store("defrag", 0);
	struct store_handle *hs[N] = { 0 };
	char hex[N][HASH_HEX_LEN + 1], name[32], x[64];
	uint64_t ids[N], moved = 0, freed = 0, moved2 = 9, freed2 = 9;
	long long slabs_before, slabs_after;
	struct loc before[N], after;
	size_t nmoved = 0, nlive = 0;
	struct reader rd = { 0 };
	pthread_t t;

	if (!st)
		return;
	for (size_t i = 0; i < N; i++) {
		lens[i] = 1 + (i * 7919) % 50000; /* 1 byte .. 13 pages */
		fill(d[i], lens[i], 200 + (unsigned)i);
		snprintf(name, sizeof(name), "d%zu", i);
		ids[i] = mkvar(st, STORE_VARS_ID, name, d[i], lens[i]);
		CHECK(xget(st, ids[i], "user.fabric.xxh3", hex[i], sizeof(hex[i])) == HASH_HEX_LEN);
	}
	slabs_before = slab_rows("defrag");
	CHECK(slabs_before >= 3);
	for (size_t i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "d%zu", i);
		CHECK_RC(store_unlink(st, STORE_VARS_ID, name), 0);
	}
	check_used(st, "defrag", 0);
	CHECK(slab_rows("defrag") == slabs_before); /* holes everywhere, no slab empty */
	/* handles opened before, and a thread reading through them all along */
	for (size_t i = 1; i < N; i += 2) {
		CHECK_RC(store_open(st, ids[i], O_RDONLY, getppid(), NULL, NULL, &hs[nlive]), 0);
		CHECK_RC(loc_of(st, ids[i], &before[i]), 0);
		lens[nlive] = lens[i];
		memcpy(d[nlive], d[i], lens[i]);
		nlive++;
	}
	rd = (struct reader){ .st = st, .hs = hs, .data = d, .lens = lens, .n = nlive };
	CHECK(pthread_create(&t, NULL, reader_main, &rd) == 0);
	usleep(20000);

	CHECK_RC(store_defragment(st, &moved, &freed), 0);

	usleep(20000);
	__atomic_store_n(&rd.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	CHECK(rd.reads > 0);
	CHECK(rd.bad == 0);
	if (rd.bad)
		fprintf(stderr, "%ld of %ld reads during defragment were wrong\n", rd.bad, rd.reads);
	slabs_after = slab_rows("defrag");
	fprintf(stderr, "    defragment: %lld slabs -> %lld, %llu bytes moved, %llu blocks freed\n", slabs_before,
		slabs_after, (unsigned long long)moved, (unsigned long long)freed);
	CHECK(moved > 0);
	CHECK(freed >= 1);
	CHECK(slabs_after == slabs_before - (long long)freed);
	CHECK(count_shm("defrag") == slabs_after);
	check_used(st, "defrag", 0);

	/* every survivor: same bytes (through the handle opened before, and a fresh one), same xxh3, and
	 * the bytes at its new location */
	nlive = 0;
	for (size_t i = 1; i < N; i += 2, nlive++) {
		static char got[50000];
		CHECK(store_read(st, hs[nlive], got, sizeof(got), 0) == (ssize_t)lens[nlive]);
		CHECK(memcmp(got, d[nlive], lens[nlive]) == 0);
		check_packed(st, "defrag", ids[i], d[nlive], lens[nlive]);
		CHECK(xget(st, ids[i], "user.fabric.xxh3", x, sizeof(x)) == HASH_HEX_LEN && strcmp(x, hex[i]) == 0);
		CHECK_RC(loc_of(st, ids[i], &after), 0);
		nmoved += strcmp(after.shm, before[i].shm) != 0 || after.off != before[i].off;
	}
	CHECK(nmoved > 0);
	for (size_t i = 0; i < nlive; i++)
		store_release(st, hs[i]);

	/* a second run has nothing left to free */
	CHECK_RC(store_defragment(st, &moved2, &freed2), 0);
	CHECK(freed2 == 0);
	check_used(st, "defrag", 0);

	/* and all of it survives a restart after an unclean stop (every packed variable hashed) */
	store_destroy(st);
	CHECK_RC(set_clean("defrag", 0), 0);
	st = open_store("defrag", 0);
	if (!st)
		return;
	nlive = 0;
	for (size_t i = 1; i < N; i += 2, nlive++)
		check_packed(st, "defrag", ids[i], d[nlive], lens[nlive]);
	check_used(st, "defrag", 0);
	store_destroy(st);
}

/* Restart keeps packed variables where they are, and the free space is rebuilt from the extents. */
static void test_restart(void)
{
	enum { N = 30 };
	static char d[N][20000];
	struct store *st = open_store("restart", 0);
	uint64_t ids[N], used;
	struct loc l[N], nl;
	char name[32];

	if (!st)
		return;
	for (size_t i = 0; i < N; i++) {
		fill(d[i], 20000, 300 + (unsigned)i);
		snprintf(name, sizeof(name), "r%zu", i);
		ids[i] = mkvar(st, STORE_VARS_ID, name, d[i], 1000 + i * 600);
		CHECK_RC(loc_of(st, ids[i], &l[i]), 0);
	}
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "r3"), 0);
	used = used_of(st);
	store_destroy(st);

	st = open_store("restart", 0);
	if (!st)
		return;
	CHECK(used_of(st) == used);
	for (size_t i = 0; i < N; i++) {
		struct store_attr a;
		snprintf(name, sizeof(name), "r%zu", i);
		if (i == 3) {
			CHECK_RC(store_lookup(st, STORE_VARS_ID, name, &a), -ENOENT);
			continue;
		}
		CHECK_RC(store_lookup(st, STORE_VARS_ID, name, &a), 0);
		CHECK(a.id == ids[i] && a.sealed && a.size == 1000 + i * 600);
		CHECK_RC(loc_of(st, ids[i], &nl), 0);
		CHECK(strcmp(nl.shm, l[i].shm) == 0 && nl.off == l[i].off);
		check_packed(st, "restart", ids[i], d[i], 1000 + i * 600);
	}
	/* new ones fill r3's hole and then go after the others, overlapping nothing */
	{
		uint64_t id = mkvar(st, STORE_VARS_ID, "new", d[0], 2000);
		CHECK_RC(loc_of(st, id, &nl), 0);
		CHECK(strcmp(nl.shm, l[3].shm) == 0 && nl.off == l[3].off);
		check_packed(st, "restart", id, d[0], 2000);
		id = mkvar(st, STORE_VARS_ID, "new2", d[1], 19000);
		check_packed(st, "restart", id, d[1], 19000);
		for (size_t i = 0; i < N; i++)
			if (i != 3)
				CHECK(var_is(st, ids[i], d[i], 1000 + i * 600));
	}
	check_used(st, "restart", 0);
	store_destroy(st);
}

/* Crash recovery with packed variables. */
static void test_crash(void)
{
	static char d[6][30000];
	struct store *st = open_store("crash", 0);
	struct store_handle *w = NULL, *r = NULL;
	struct store_attr a;
	struct loc lok, lbad, lul, lhalf, lother;
	uint64_t ok_id, bad_id, ul_id, other_id;
	char prefix[SHM_NAME_MAX], orphan[SHM_NAME_MAX + 16], path[300], buf[64];
	int fd;

	if (!st)
		return;
	for (unsigned i = 0; i < 6; i++)
		fill(d[i], sizeof(d[i]), 400 + i);
	ok_id = mkvar(st, STORE_VARS_ID, "ok", d[0], 30000);
	bad_id = mkvar(st, STORE_VARS_ID, "bad", d[1], 12000);
	ul_id = mkvar(st, STORE_VARS_ID, "ul", d[2], 9000);
	CHECK_RC(loc_of(st, ok_id, &lok), 0);
	CHECK_RC(loc_of(st, bad_id, &lbad), 0);
	CHECK_RC(loc_of(st, ul_id, &lul), 0);
	check_packed(st, "crash", ul_id, d[2], 9000);
	CHECK_RC(store_open(st, ul_id, O_RDONLY, getppid(), NULL, NULL, &r), 0);
	CHECK_RC(store_unlink(st, STORE_VARS_ID, "ul"), 0);
	CHECK_RC(store_create(st, STORE_VARS_ID, "half", 0644, getuid(), getgid(), O_WRONLY | O_CREAT, getpid(), &a,
			      &w),
		 0);
	if (w)
		CHECK(store_write(st, w, d[3], 5000, 0) == 5000);
	CHECK_RC(loc_of(st, a.id, &lhalf), 0);
	/* the "crash": handles never released, and the clean flag then cleared as a crash leaves it */
	store_destroy(st);
	CHECK_RC(set_clean("crash", 0), 0);

	/* behind the store's back: one packed variable's bytes changed in the slab; an orphan */
	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, lbad.shm);
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(pwrite(fd, "CHANGED", 7, (off_t)lbad.off + 100) == 7);
		close(fd);
	}
	yp_text("crash", "SELECT shm_prefix FROM nodes", prefix, sizeof(prefix));
	snprintf(orphan, sizeof(orphan), "/%s999999", prefix);
	fd = shm_open(orphan, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(ftruncate(fd, SLAB_BLOCK_SIZE) == 0);
		close(fd);
	}

	st = open_store("crash", 0);
	if (!st)
		return;
	/* ok is verified and kept, where it was */
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "ok", &a), 0);
	CHECK(a.id == ok_id);
	{
		struct loc l;
		CHECK_RC(loc_of(st, ok_id, &l), 0);
		CHECK(strcmp(l.shm, lok.shm) == 0 && l.off == lok.off);
	}
	check_packed(st, "crash", ok_id, d[0], 30000);
	/* bad is lost, with no extent left; ul and half are dropped; the orphan is gone */
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "bad", &a), -ENOENT);
	yp_text("crash", "SELECT state FROM objects WHERE name = 'bad'", buf, sizeof(buf));
	CHECK(strcmp(buf, "lost") == 0);
	CHECK(yp_int("crash", "SELECT count(*) FROM extents e JOIN objects o ON o.id = e.object"
			      " WHERE o.name = 'bad'") == 0);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "ul", &a), -ENOENT);
	CHECK(yp_int("crash", "SELECT count(*) FROM objects WHERE name IN ('ul', 'half')") == 0);
	CHECK(!shm_exists(lhalf.shm));
	CHECK(!shm_exists(orphan + 1));
	CHECK(shm_exists(lok.shm));
	CHECK(slab_rows("crash") == 1);
	CHECK(count_shm("crash") == 1);
	check_used(st, "crash", 0);
	/* the pages of bad and ul are free again: the next two variables take them (first fit) */
	other_id = mkvar(st, STORE_VARS_ID, "other", d[4], 12000);
	CHECK_RC(loc_of(st, other_id, &lother), 0);
	CHECK(lother.off == lbad.off);
	check_packed(st, "crash", other_id, d[4], 12000);
	other_id = mkvar(st, STORE_VARS_ID, "other2", d[5], 9000);
	CHECK_RC(loc_of(st, other_id, &lother), 0);
	CHECK(lother.off == lul.off);
	check_packed(st, "crash", other_id, d[5], 9000);
	check_packed(st, "crash", ok_id, d[0], 30000);
	store_destroy(st);

	/* the slab removed behind the store's back: every variable in it is lost, nothing else breaks */
	snprintf(path, sizeof(path), "/%s", lok.shm);
	CHECK(shm_unlink(path) == 0);
	st = open_store("crash", 0);
	if (!st)
		return;
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "ok", &a), -ENOENT);
	CHECK_RC(store_lookup(st, STORE_VARS_ID, "other", &a), -ENOENT);
	CHECK(yp_int("crash", "SELECT count(*) FROM objects WHERE state = 'lost'") == 4);
	CHECK(used_of(st) == 0);
	/* small variables get a new slab */
	other_id = mkvar(st, STORE_VARS_ID, "fresh", d[0], 100);
	check_packed(st, "crash", other_id, d[0], 100);
	check_used(st, "crash", 0);
	store_destroy(st);
}

/* A new slab is charged as a whole; when that does not fit, a small variable just stays dedicated. */
static void test_capacity(void)
{
	static char big[3 * MiB], small[5000];
	struct store *st = open_store("cap", 6 * MiB);
	uint64_t big_id, s1, s2;

	if (!st)
		return;
	fill(big, sizeof(big), 500);
	fill(small, sizeof(small), 501);
	big_id = mkvar(st, STORE_VARS_ID, "big", big, sizeof(big));
	s1 = mkvar(st, STORE_VARS_ID, "s1", small, sizeof(small));
	check_dedicated(st, "cap", big_id, big, sizeof(big));
	check_dedicated(st, "cap", s1, small, sizeof(small)); /* 3 MiB + 4 MiB > 6 MiB */
	CHECK(used_of(st) == 3 * MiB + 8192);
	CHECK(slab_rows("cap") == 0);
	CHECK(count_shm("cap") == 2);

	CHECK_RC(store_unlink(st, STORE_VARS_ID, "big"), 0);
	CHECK(used_of(st) == 8192);
	s2 = mkvar(st, STORE_VARS_ID, "s2", small, 3000);
	check_packed(st, "cap", s2, small, 3000);
	CHECK(used_of(st) == SLAB_BLOCK_SIZE + 8192);
	check_used(st, "cap", 8192);
	/* with the slab there, the rest of the capacity is there for others: 1 MiB still fits... */
	CHECK(mkvar(st, STORE_VARS_ID, "mid", big, MiB) != 0);
	CHECK(used_of(st) == SLAB_BLOCK_SIZE + 8192 + MiB);
	/* ...and a restart charges the same */
	store_destroy(st);
	st = open_store("cap", 6 * MiB);
	if (!st)
		return;
	CHECK(used_of(st) == SLAB_BLOCK_SIZE + 8192 + MiB);
	CHECK(var_is(st, s1, small, sizeof(small)));
	CHECK(var_is(st, s2, small, 3000));
	store_destroy(st);
}

/* Many threads sealing small variables at once: reservations and new slabs do not collide. */
struct sealer {
	struct store *st;
	int idx;
	uint64_t ids[60];
};

static void sealer_data(int t, int i, char *buf, size_t *len)
{
	*len = 1 + (size_t)((t * 60 + i) * 2741) % 30000;
	fill(buf, *len, 600 + (unsigned)(t * 60 + i));
}

static void *sealer_main(void *arg)
{
	struct sealer *s = arg;
	char name[32], *buf = malloc(30000);
	size_t len;

	for (int i = 0; buf && i < 60; i++) {
		sealer_data(s->idx, i, buf, &len);
		snprintf(name, sizeof(name), "t%d-%d", s->idx, i);
		s->ids[i] = mkvar(s->st, STORE_VARS_ID, name, buf, len);
	}
	free(buf);
	return NULL;
}

static void test_threads(void)
{
	enum { T = 6 };
	struct store *st = open_store("threads", 0);
	struct sealer s[T];
	pthread_t t[T];
	static char buf[30000];
	size_t len;

	if (!st)
		return;
	for (int i = 0; i < T; i++) {
		s[i] = (struct sealer){ .st = st, .idx = i };
		CHECK(pthread_create(&t[i], NULL, sealer_main, &s[i]) == 0);
	}
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < T; i++) {
		for (int j = 0; j < 60; j++) {
			sealer_data(i, j, buf, &len);
			check_packed(st, "threads", s[i].ids[j], buf, len);
		}
	}
	CHECK(count_shm("threads") == slab_rows("threads"));
	check_used(st, "threads", 0);
	store_destroy(st);
}

static int run_all(void)
{
	test_pack();
	test_when();
	test_unlink();
	test_defrag();
	test_restart();
	test_crash();
	test_capacity();
	test_threads();
	if (check_failures)
		fprintf(stderr, "test_slab: %d check(s) failed\n", check_failures);
	return CHECK_DONE();
}

int main(void)
{
	return fixture_main("test_slab", "sl", 120, run_all);
}
