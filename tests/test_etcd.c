/* SPDX-License-Identifier: MIT */
/* test_etcd.c -- unit tests for core/os/etcd against a real etcd, started here for this run alone.
 *
 * The etcd (/usr/bin/etcd, from `make deps`) runs as a child in a fresh temp dir, with its own data dir,
 * log file and free loopback ports (never 2379/2380, where a packaged etcd.service may listen).  It dies
 * with us: an atexit handler kills it and removes the dir, a thread that takes SIGTERM, SIGINT, SIGHUP and
 * SIGALRM (the overall deadline) does the same, and in case we die without running either (SIGKILL, a
 * sanitizer's abort) etcd asked for SIGKILL on our death (PR_SET_PDEATHSIG) and a janitor process removes
 * the dir when its pipe from us closes.  Every wait is a poll with a deadline.
 *
 * Covers: binary values (NUL bytes, 0 bytes, 1 MiB) and one over etcd's request limit, missing keys,
 * delete, create that wins then loses, replace with the right and a stale revision; a paged listing of
 * 3000 keys (written by 8 threads over 4 clients) 7 keys a page, every key once, in order, none from outside
 * the prefix, and a consistent snapshot while keys change under it, and the whole key space; a callback
 * stopping a listing; leases (kept alive, expired, revoked, unknown); a watch from the listing's
 * revision + 1 that sees what changed during the listing and after it, in order, and stops at once; a
 * watch whose revision was compacted, and a listing whose revision is compacted mid-way; failover past a
 * dead endpoint for requests and watches, and the errors when no endpoint answers; a watch that outlives a
 * restart of etcd and resumes where it left off. */
#include "core/os/etcd.h"
#include "tests/check.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ETCD_BIN "/usr/bin/etcd"
#define READY_MS 15000
#define RANGE_KEYS 3000
#define HUGE (700u << 10) /* bytes of a value watched */

/* CHECK_RC with etcd's sentence for the failure. */
#define CHECK_E(expr, want)                                                                          \
	do {                                                                                         \
		int e_rc_ = (expr);                                                                  \
		if (e_rc_ != (want)) {                                                               \
			fprintf(stderr, "%s:%d: %s returned %d (%s), want %d\n", __FILE__, __LINE__, \
				#expr, e_rc_, etcd_why(), (int)(want));                              \
			check_failures++;                                                            \
		}                                                                                    \
	} while (0)

static char dir[] = "/tmp/fabric-test_etcd.XXXXXX";
static pid_t etcd_pid = -1, janitor_pid = -1;
static int janitor_fd = -1;
static int client_port, peer_port;
static char url[64], dead_url[64], dead2_url[64];
static pthread_mutex_t cleanup_lock = PTHREAD_MUTEX_INITIALIZER;
static struct etcd *db; /* the client most cases use */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the etcd of this run ---- */

static void stop_etcd(void)
{
	if (etcd_pid > 0) {
		kill(etcd_pid, SIGKILL);
		while (waitpid(etcd_pid, NULL, 0) < 0 && errno == EINTR)
			;
		etcd_pid = -1;
	}
}

/* A process that removes dir once the write end of its pipe closes: when cleanup says so, or when we die
 * in a way that runs no handler (SIGKILL, a sanitizer's abort).  etcd dies then by its PDEATHSIG. */
static int start_janitor(void)
{
	int p[2];
	char c;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	janitor_pid = fork();
	if (janitor_pid == 0) {
		signal(SIGINT, SIG_IGN); /* a ^C to the terminal's group is for us, not for it */
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		execl("/bin/rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	if (janitor_pid < 0) {
		close(p[1]);
		return -1;
	}
	janitor_fd = p[1];
	return 0;
}

static void cleanup(void)
{
	int status;

	pthread_mutex_lock(&cleanup_lock);
	stop_etcd();
	if (janitor_pid > 0) {
		close(janitor_fd);
		while (waitpid(janitor_pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
		janitor_pid = -1;
	}
	pthread_mutex_unlock(&cleanup_lock);
}

/* The signals that end the test arrive here, not in a handler: cleanup may do anything. */
static void *signal_main(void *arg)
{
	int sig;

	if (sigwait(arg, &sig) == 0) {
		fprintf(stderr, "test_etcd: %s: stopping etcd and cleaning up\n",
			sig == SIGALRM ? "out of time" : strsignal(sig));
		cleanup();
		_exit(T_EXIT_FAIL);
	}
	return NULL;
}

/* A loopback port nobody listens on now (bound to 0 and let go), never etcd's usual ones. */
static int free_port(void)
{
	for (;;) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

		if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
			port = ntohs(a.sin_port);
		if (fd >= 0)
			close(fd);
		if (port < 0)
			return -1;
		if (port != 2379 && port != 2380 && port != client_port && port != peer_port)
			return port;
	}
}

static void print_log_tail(void)
{
	char path[128], buf[4096];
	int fd;
	ssize_t n;
	off_t end;

	snprintf(path, sizeof(path), "%s/etcd.log", dir);
	if ((fd = open(path, O_RDONLY)) < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		fprintf(stderr, "--- the end of %s:\n%s\n---\n", path, buf);
	}
	close(fd);
}

/* Start etcd on client_port and peer_port with the data dir in dir (kept over a restart). */
static int start_etcd(void)
{
	char curl[64], purl[64], cluster[96], data[128], log[128];
	char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	char *const argv[] = { ETCD_BIN, "--name", "default", "--data-dir", data, "--listen-client-urls", curl,
			       "--advertise-client-urls", curl, "--listen-peer-urls", purl,
			       "--initial-advertise-peer-urls", purl, "--initial-cluster", cluster,
			       "--auto-compaction-retention", "1", NULL };
	pid_t parent = getpid();
	sigset_t none;

	snprintf(curl, sizeof(curl), "http://127.0.0.1:%d", client_port);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", peer_port);
	snprintf(cluster, sizeof(cluster), "default=%s", purl);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/etcd.log", dir);
	sigemptyset(&none);
	etcd_pid = fork();
	if (etcd_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600), null = open("/dev/null", O_RDONLY);

		sigprocmask(SIG_SETMASK, &none, NULL); /* our blocked signals would stay blocked in etcd */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 ||
		    dup2(fd, 2) < 0 || chdir(dir) != 0)
			_exit(127);
		execve(ETCD_BIN, argv, envp);
		_exit(127);
	}
	if (etcd_pid < 0) {
		perror("fork");
		return -1;
	}
	return 0;
}

/* Wait until etcd answers a read (it needs to elect itself first). */
static int wait_ready(void)
{
	struct etcd *e;
	char why[256];
	int64_t deadline = now_ms() + READY_MS;
	int rc = etcd_open(url, &e, why, sizeof(why)), status;

	if (rc) {
		fprintf(stderr, "etcd_open %s: %s\n", url, why);
		return -1;
	}
	while ((rc = etcd_get(e, "ready-probe", NULL, NULL, NULL)) != -ENOENT) {
		if (waitpid(etcd_pid, &status, WNOHANG) == etcd_pid) {
			fprintf(stderr, "etcd exited (status 0x%x) before it answered\n", status);
			etcd_pid = -1;
			break;
		}
		if (now_ms() > deadline) {
			fprintf(stderr, "etcd did not answer in %d ms: %s\n", READY_MS, etcd_why());
			break;
		}
		pause_ms(20);
	}
	etcd_close(e);
	if (rc != -ENOENT)
		print_log_tail();
	return rc == -ENOENT ? 0 : -1;
}

/* ---- watch events, gathered ---- */

struct event {
	int kind;
	char key[64];
	char val[64];
	size_t len;
	uint64_t sum; /* of all len bytes, for values longer than val */
	int64_t rev;
};

struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	struct event ev[32];
};

static void seen_init(struct seen *s)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, &a);
	pthread_condattr_destroy(&a);
	s->n = 0;
}

static void seen_destroy(struct seen *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
}

static uint64_t byte_sum(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = sum * 31 + b[i];
	return sum;
}

static void on_event(void *arg, int kind, const char *key, const void *val, size_t len, int64_t rev)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	if (s->n < (int)(sizeof(s->ev) / sizeof(s->ev[0]))) {
		struct event *e = &s->ev[s->n];

		*e = (struct event){ .kind = kind, .len = len, .rev = rev, .sum = byte_sum(val, len) };
		snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
		if (len)
			memcpy(e->val, val, len < sizeof(e->val) ? len : sizeof(e->val));
		s->n++;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Wait up to ms for n events; true when they came. */
static bool wait_events(struct seen *s, int n, int ms)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (s->n < n && pthread_cond_timedwait(&s->cond, &s->lock, &ts) == 0)
		;
	ok = s->n >= n;
	pthread_mutex_unlock(&s->lock);
	if (!ok)
		fprintf(stderr, "waited %d ms for %d watch events, got %d\n", ms, n, s->n);
	return ok;
}

static bool event_is(const struct event *e, int kind, const char *key, const char *val, size_t len, int64_t rev)
{
	bool ok = e->kind == kind && strcmp(e->key, key) == 0 && e->len == len &&
		  (!val || memcmp(e->val, val, len) == 0) && (!rev || e->rev == rev);

	if (!ok)
		fprintf(stderr, "event %d '%s' (%zu bytes) at %lld, want %d '%s' (%zu bytes) at %lld\n", e->kind,
			e->key, e->len, (long long)e->rev, kind, key, len, (long long)rev);
	return ok;
}

/* ---- keys ---- */

static bool value_is(const char *key, const void *want, size_t want_len)
{
	char *v = NULL;
	size_t len = 0;
	int rc = etcd_get(db, key, &v, &len, NULL);
	bool ok = rc == 0 && len == want_len && memcmp(v, want, len) == 0 && v[len] == '\0';

	if (!ok)
		fprintf(stderr, "get %s: rc %d (%s), %zu bytes, want %zu\n", key, rc, etcd_why(), len, want_len);
	free(v);
	return ok;
}

static void test_kv(void)
{
	static const char bin[] = { 'a', '\0', 'b', (char)0xff, '\0' };
	char *v = (char *)"untouched", *big;
	size_t len = 99;
	int64_t put_rev = 0, rev = 0;

	CHECK_E(etcd_put(db, "kv/bin", bin, sizeof(bin), NULL, &put_rev), 0);
	CHECK(put_rev > 0);
	CHECK_E(etcd_get(db, "kv/bin", &v, &len, &rev), 0);
	CHECK(len == sizeof(bin) && memcmp(v, bin, len) == 0 && rev == put_rev);
	free(v);
	/* 0 bytes: etcd leaves the empty value out of its answer */
	CHECK_E(etcd_put(db, "kv/empty", "", 0, NULL, NULL), 0);
	CHECK(value_is("kv/empty", "", 0));
	/* 1 to 3 bytes: every padding of base64 */
	CHECK_E(etcd_put(db, "kv/1", "\0", 1, NULL, NULL), 0);
	CHECK(value_is("kv/1", "\0", 1));
	CHECK_E(etcd_put(db, "kv/2", "\0\1", 2, NULL, NULL), 0);
	CHECK(value_is("kv/2", "\0\1", 2));
	CHECK_E(etcd_put(db, "kv/3", "\0\1\2", 3, NULL, NULL), 0);
	CHECK(value_is("kv/3", "\0\1\2", 3));
	/* overwrite */
	CHECK_E(etcd_put(db, "kv/bin", "x", 1, NULL, &rev), 0);
	CHECK(rev > put_rev && value_is("kv/bin", "x", 1));

	big = malloc(2 << 20);
	if (big) {
		for (size_t i = 0; i < 2 << 20; i++)
			big[i] = (char)(i * 7 + (i >> 11));
		CHECK_E(etcd_put(db, "kv/big", big, 1 << 20, NULL, NULL), 0);
		CHECK(value_is("kv/big", big, 1 << 20));
		CHECK_E(etcd_put(db, "kv/big", big, 2 << 20, NULL, NULL), -E2BIG); /* over --max-request-bytes */
		CHECK(value_is("kv/big", big, 1 << 20));
		free(big);
	}

	v = (char *)"untouched";
	CHECK_E(etcd_get(db, "kv/missing", &v, &len, &rev), -ENOENT);
	CHECK(v == NULL);
	CHECK_E(etcd_get(db, "kv/missing", NULL, NULL, NULL), -ENOENT);
	CHECK_E(etcd_delete(db, "kv/bin"), 0);
	CHECK_E(etcd_get(db, "kv/bin", NULL, NULL, NULL), -ENOENT);
	CHECK_E(etcd_delete(db, "kv/bin"), -ENOENT);
	CHECK_E(etcd_get(db, "kv/empty", NULL, NULL, NULL), 0); /* a delete takes that key only */
	CHECK_E(etcd_put(db, "", "x", 1, NULL, NULL), -EINVAL);
	CHECK_E(etcd_put(db, "kv/null", NULL, 3, NULL, NULL), -EINVAL);
	CHECK_E(etcd_put(db, "kv/null", NULL, 0, NULL, NULL), 0);
	CHECK(value_is("kv/null", "", 0));
}

static void test_create_replace(void)
{
	int64_t rev = 0, rev2 = 0, now = 0;

	CHECK_E(etcd_create(db, "cr/a", "first", 5, NULL, &rev), 0);
	CHECK(rev > 0);
	CHECK_E(etcd_create(db, "cr/a", "second", 6, NULL, NULL), -EEXIST);
	CHECK(strstr(etcd_why(), "exists") != NULL);
	CHECK(value_is("cr/a", "first", 5));

	CHECK_E(etcd_replace(db, "cr/a", "third", 5, rev, &rev2), 0);
	CHECK(rev2 > rev && value_is("cr/a", "third", 5));
	CHECK_E(etcd_get(db, "cr/a", NULL, NULL, &now), 0);
	CHECK(now == rev2);
	CHECK_E(etcd_replace(db, "cr/a", "fourth", 6, rev, NULL), -ESTALE); /* rev is stale now */
	CHECK(value_is("cr/a", "third", 5));
	CHECK_E(etcd_replace(db, "cr/none", "x", 1, rev2, NULL), -ESTALE);
	CHECK_E(etcd_get(db, "cr/none", NULL, NULL, NULL), -ENOENT);
	CHECK_E(etcd_replace(db, "cr/a", "x", 1, 0, NULL), -EINVAL);

	/* a key created again after a delete */
	CHECK_E(etcd_delete(db, "cr/a"), 0);
	CHECK_E(etcd_create(db, "cr/a", "again", 5, NULL, NULL), 0);
	CHECK(value_is("cr/a", "again", 5));
}

/* ---- listings ---- */

struct filler {
	struct etcd *e;
	int first, step, failed;
};

static void *fill_main(void *arg)
{
	struct filler *f = arg;

	for (int i = f->first; i < RANGE_KEYS; i += f->step) {
		char key[32], val[32];

		snprintf(key, sizeof(key), "range/k%05d", i);
		snprintf(val, sizeof(val), "v%d", i);
		if (etcd_put(f->e, key, val, strlen(val), NULL, NULL) != 0) {
			fprintf(stderr, "put %s: %s\n", key, etcd_why());
			f->failed++;
		}
	}
	return NULL;
}

/* RANGE_KEYS keys from 8 threads, two on each of 4 clients (so clients are shared between threads). */
static int fill_range(void)
{
	struct etcd *c[4] = { 0 };
	struct filler f[8];
	pthread_t t[8];
	char why[256];
	int failed = 0;

	for (int i = 0; i < 4; i++)
		if (etcd_open(url, &c[i], why, sizeof(why)) != 0)
			return -1;
	for (int i = 0; i < 8; i++) {
		f[i] = (struct filler){ c[i / 2], i, 8, 0 };
		if (pthread_create(&t[i], NULL, fill_main, &f[i]) != 0)
			f[i].failed = 1, t[i] = 0;
	}
	for (int i = 0; i < 8; i++) {
		if (t[i])
			pthread_join(t[i], NULL);
		failed += f[i].failed;
	}
	for (int i = 0; i < 4; i++)
		etcd_close(c[i]);
	return failed ? -1 : 0;
}

struct listing {
	int n, bad_order, outside, bad_value, stop_at;
	unsigned char seen[RANGE_KEYS];
	char last[64];
	struct etcd *other;   /* changes keys while the listing goes on */
	int64_t changed_rev[2];
};

static int on_key(void *arg, const char *key, const void *val, size_t len, int64_t rev)
{
	struct listing *l = arg;
	char want[32];
	int i;

	if (strncmp(key, "range/", 6) != 0)
		l->outside++;
	if (strcmp(key, l->last) <= 0)
		l->bad_order++;
	snprintf(l->last, sizeof(l->last), "%s", key);
	if (sscanf(key, "range/k%05d", &i) == 1 && i >= 0 && i < RANGE_KEYS) {
		l->seen[i]++;
		snprintf(want, sizeof(want), "v%d", i);
		if (len != strlen(want) || memcmp(val, want, len) != 0 || rev <= 0)
			l->bad_value++;
	} else {
		l->outside++;
	}
	/* halfway: a key added after the snapshot and one deleted from it; the listing shows neither change */
	if (++l->n == 1000 && l->other) {
		CHECK_E(etcd_put(l->other, "range/zzz", "late", 4, NULL, &l->changed_rev[0]), 0);
		CHECK_E(etcd_delete(l->other, "range/k02999"), 0);
		CHECK_E(etcd_get(l->other, "range/zzz", NULL, NULL, &l->changed_rev[1]), 0);
	}
	return l->n == l->stop_at ? 42 : 0;
}

static void test_range_and_watch(void)
{
	static const char *const outside[] = { "range", "range0", "range.x", "rangd/x", "rangf" };
	static struct listing l;
	struct etcd *other;
	struct etcd_watch *w = NULL;
	struct seen s;
	char why[256], *huge = NULL;
	int64_t rev = 0, revs[6] = { 0 }, changed, t;
	int all = 0;

	CHECK(fill_range() == 0);
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
		CHECK_E(etcd_put(db, outside[i], "out", 3, NULL, NULL), 0);
	if (etcd_open(url, &other, why, sizeof(why)) != 0) {
		CHECK(!"a second client");
		return;
	}

	etcd_set_page(db, 7);
	memset(&l, 0, sizeof(l));
	l.other = other;
	CHECK_E(etcd_range(db, "range/", on_key, &l, &rev), 0);
	CHECK(l.n == RANGE_KEYS && l.bad_order == 0 && l.outside == 0 && l.bad_value == 0 && rev > 0);
	for (int i = 0; i < RANGE_KEYS; i++)
		all += l.seen[i] == 1;
	CHECK(all == RANGE_KEYS); /* k02999 too: it was deleted after the snapshot */
	changed = l.changed_rev[0];
	CHECK(changed > rev && l.changed_rev[1] == changed);

	/* a callback that stops the listing */
	memset(&l, 0, sizeof(l));
	l.stop_at = 5;
	CHECK_E(etcd_range(db, "range/", on_key, &l, NULL), 42);
	CHECK(l.n == 5);
	etcd_set_page(db, 0);

	/* the watch from the listing's revision + 1 first sees what changed during the listing */
	seen_init(&s);
	CHECK_E(etcd_watch_start(url, "range/", rev + 1, on_event, &s, &w, why, sizeof(why)), 0);
	if (!w) {
		fprintf(stderr, "watch: %s\n", why);
		goto out;
	}
	CHECK_E(etcd_put(db, "range/k00001", "new", 3, NULL, &revs[0]), 0);
	CHECK_E(etcd_delete(db, "range/k00002"), 0);
	CHECK_E(etcd_put(db, "range0", "outside", 7, NULL, NULL), 0);
	CHECK_E(etcd_put(db, "range/bin", "\0\1\0", 3, NULL, &revs[2]), 0);
	CHECK_E(etcd_put(db, "range/empty", "", 0, NULL, &revs[3]), 0);
	/* an event far bigger than one curl write: the stream's object comes in many pieces */
	if ((huge = malloc(HUGE)) != NULL) {
		for (size_t i = 0; i < HUGE; i++)
			huge[i] = (char)(i ^ (i >> 9));
		CHECK_E(etcd_put(db, "range/huge", huge, HUGE, NULL, &revs[5]), 0);
	}
	CHECK_E(etcd_put(db, "range/last", "end", 3, NULL, &revs[4]), 0);
	/* a batch: its puts and deletes are one txn, one revision, and every one of them an event */
	{
		const struct etcd_op ops[] = { { "range/b1", "1", 1 }, { "range/b2", "22", 2 }, { "range/b3", "", 0 },
					       { "range/k00003", NULL, 0 }, { "range/never", NULL, 0 } };
		CHECK_E(etcd_batch(db, ops, sizeof(ops) / sizeof(ops[0])), 0);
		CHECK(value_is("range/b2", "22", 2) && value_is("range/b3", "", 0));
		CHECK_E(etcd_get(db, "range/k00003", NULL, NULL, NULL), -ENOENT);
		struct etcd_op many[ETCD_TXN_MAX + 1];
		for (size_t i = 0; i <= ETCD_TXN_MAX; i++)
			many[i] = (struct etcd_op){ "range/b1", "x", 1 };
		CHECK_E(etcd_batch(db, many, ETCD_TXN_MAX + 1), -E2BIG);
		CHECK(value_is("range/b1", "1", 1)); /* nothing of a refused batch */
	}
	if (wait_events(&s, 12, 5000)) {
		CHECK(event_is(&s.ev[0], ETCD_PUT, "range/zzz", "late", 4, changed));
		CHECK(event_is(&s.ev[1], ETCD_DELETE, "range/k02999", NULL, 0, changed + 1));
		CHECK(event_is(&s.ev[2], ETCD_PUT, "range/k00001", "new", 3, revs[0]));
		CHECK(event_is(&s.ev[3], ETCD_DELETE, "range/k00002", NULL, 0, revs[0] + 1));
		CHECK(event_is(&s.ev[4], ETCD_PUT, "range/bin", "\0\1\0", 3, revs[2]));
		CHECK(event_is(&s.ev[5], ETCD_PUT, "range/empty", "", 0, revs[3]));
		CHECK(event_is(&s.ev[6], ETCD_PUT, "range/huge", NULL, HUGE, revs[5]));
		CHECK(huge && s.ev[6].sum == byte_sum(huge, HUGE));
		CHECK(event_is(&s.ev[7], ETCD_PUT, "range/last", "end", 3, revs[4])); /* and not range0 */
		CHECK(event_is(&s.ev[8], ETCD_PUT, "range/b1", "1", 1, revs[4] + 1));
		CHECK(event_is(&s.ev[9], ETCD_PUT, "range/b2", "22", 2, revs[4] + 1));
		CHECK(event_is(&s.ev[10], ETCD_PUT, "range/b3", "", 0, revs[4] + 1));
		CHECK(event_is(&s.ev[11], ETCD_DELETE, "range/k00003", NULL, 0, revs[4] + 1));
	}
	free(huge);
	t = now_ms();
	etcd_watch_stop(w);
	t = now_ms() - t;
	CHECK(t < 500);
	if (t >= 500)
		fprintf(stderr, "etcd_watch_stop took %lld ms\n", (long long)t);
	CHECK(s.n == 12);

	/* the whole key space: "" selects from "\0" to the end */
	memset(&l, 0, sizeof(l));
	CHECK_E(etcd_range(db, "", on_key, &l, NULL), 0);
	CHECK(l.n > RANGE_KEYS && l.bad_order == 0 && l.outside >= 5);
out:
	seen_destroy(&s);
	etcd_close(other);
}

/* ---- leases ---- */

static bool vanishes(const char *key, int ms)
{
	int64_t deadline = now_ms() + ms;
	int rc;

	while ((rc = etcd_get(db, key, NULL, NULL, NULL)) == 0 && now_ms() < deadline)
		pause_ms(50);
	return rc == -ENOENT;
}

static void test_lease(void)
{
	char id[ETCD_LEASE_ID_MAX], id2[ETCD_LEASE_ID_MAX];
	int64_t until;
	int ttl = 0, kept = 0, rounds = 0;

	CHECK_E(etcd_lease_grant(db, 2, id), 0);
	CHECK(id[0] != '\0');
	CHECK_E(etcd_put(db, "lease/a", "alive", 5, id, NULL), 0);
	CHECK_E(etcd_create(db, "lease/b", "alive", 5, id, NULL), 0);
	/* kept alive for longer than its TTL, the keys stay */
	for (until = now_ms() + 3000; now_ms() < until; rounds++) {
		CHECK_E(etcd_lease_keepalive(db, id, &ttl), 0);
		kept += etcd_get(db, "lease/a", NULL, NULL, NULL) == 0 && etcd_get(db, "lease/b", NULL, NULL, NULL) == 0;
		pause_ms(400);
	}
	CHECK(kept == rounds && ttl == 2);
	/* a replace keeps the lease */
	{
		int64_t rev = 0;

		CHECK_E(etcd_get(db, "lease/b", NULL, NULL, &rev), 0);
		CHECK_E(etcd_replace(db, "lease/b", "still", 5, rev, NULL), 0);
	}
	/* no more keepalives: gone after about the TTL */
	CHECK(vanishes("lease/a", 10000));
	CHECK(vanishes("lease/b", 1000));
	CHECK_E(etcd_lease_keepalive(db, id, NULL), -ENOENT);
	CHECK_E(etcd_put(db, "lease/c", "x", 1, id, NULL), -ENOENT); /* an expired lease takes no keys */

	/* revoke: at once */
	CHECK_E(etcd_lease_grant(db, 60, id2), 0);
	CHECK(strcmp(id, id2) != 0);
	CHECK_E(etcd_put(db, "lease/d", "x", 1, id2, NULL), 0);
	CHECK_E(etcd_lease_revoke(db, id2), 0);
	CHECK_E(etcd_get(db, "lease/d", NULL, NULL, NULL), -ENOENT);
	CHECK_E(etcd_lease_revoke(db, id2), -ENOENT);
	CHECK_E(etcd_lease_keepalive(db, id2, NULL), -ENOENT);

	CHECK_E(etcd_put(db, "lease/e", "x", 1, "12345", NULL), -ENOENT);
	CHECK_E(etcd_put(db, "lease/e", "x", 1, "12x45", NULL), -EINVAL);
	CHECK_E(etcd_get(db, "lease/e", NULL, NULL, NULL), -ENOENT);
	CHECK_E(etcd_lease_grant(db, 0, id), -EINVAL);
}

/* ---- compaction ---- */

struct compactor {
	int n;
	int64_t rev;
};

static int compact_midway(void *arg, const char *key, const void *val, size_t len, int64_t rev)
{
	struct compactor *c = arg;
	int64_t now = 0;

	(void)key, (void)val, (void)len, (void)rev;
	if (c->n++ == 0) {
		CHECK_E(etcd_put(db, "cmp/x", "", 0, NULL, &now), 0);
		CHECK_E(etcd_compact(db, now), 0);
	}
	return 0;
}

static void test_compaction(void)
{
	struct etcd_watch *w = NULL;
	struct compactor c = { 0 };
	struct seen s;
	char why[256];
	int64_t r1 = 0, r2 = 0;

	CHECK_E(etcd_put(db, "c/a", "1", 1, NULL, &r1), 0);
	CHECK_E(etcd_put(db, "c/a", "2", 1, NULL, &r2), 0);
	CHECK_E(etcd_compact(db, r2), 0);
	seen_init(&s);
	CHECK_E(etcd_watch_start(url, "c/", r1, on_event, &s, &w, why, sizeof(why)), 0);
	if (w && wait_events(&s, 1, 5000))
		CHECK(s.ev[0].kind == ETCD_COMPACTED && s.ev[0].rev == r2);
	pause_ms(100);
	CHECK(s.n == 1); /* the watch's last call */
	etcd_watch_stop(w);
	seen_destroy(&s);

	/* a listing whose revision is compacted between its pages */
	CHECK_E(etcd_put(db, "cmp/a", "", 0, NULL, NULL), 0);
	CHECK_E(etcd_put(db, "cmp/b", "", 0, NULL, NULL), 0);
	CHECK_E(etcd_put(db, "cmp/c", "", 0, NULL, NULL), 0);
	etcd_set_page(db, 1);
	CHECK_E(etcd_range(db, "cmp/", compact_midway, &c, NULL), -ESTALE);
	CHECK(c.n == 1);
	etcd_set_page(db, 0);
}

/* ---- endpoints ---- */

static void test_failover(void)
{
	struct etcd *e = NULL;
	struct etcd_watch *w = NULL;
	struct seen s;
	char urls[200], why[256];
	int64_t t, rev = 0;

	CHECK_E(etcd_open("", &e, why, sizeof(why)), -EINVAL);
	CHECK_E(etcd_open("127.0.0.1:2379", &e, why, sizeof(why)), -EINVAL);
	CHECK(e == NULL && strstr(why, "127.0.0.1:2379") != NULL);

	/* the first endpoint is dead: the second answers */
	snprintf(urls, sizeof(urls), "%s, %s/", dead_url, url);
	CHECK_E(etcd_open(urls, &e, why, sizeof(why)), 0);
	if (e) {
		CHECK_E(etcd_put(e, "fo/a", "b", 1, NULL, &rev), 0);
		CHECK_E(etcd_get(e, "fo/a", NULL, NULL, NULL), 0);
		CHECK_E(etcd_create(e, "fo/a", "c", 1, NULL, NULL), -EEXIST);
		etcd_close(e);
		e = NULL;
	}
	/* a watch too */
	seen_init(&s);
	CHECK_E(etcd_watch_start(urls, "fo/", rev, on_event, &s, &w, why, sizeof(why)), 0);
	if (w && wait_events(&s, 1, 5000))
		CHECK(event_is(&s.ev[0], ETCD_PUT, "fo/a", "b", 1, rev));
	etcd_watch_stop(w);
	seen_destroy(&s);

	/* nobody answers */
	snprintf(urls, sizeof(urls), "%s,%s", dead_url, dead2_url);
	CHECK_E(etcd_open(urls, &e, why, sizeof(why)), 0);
	if (e) {
		t = now_ms();
		CHECK_E(etcd_put(e, "fo/a", "b", 1, NULL, NULL), -ECONNREFUSED);
		CHECK_E(etcd_get(e, "fo/a", NULL, NULL, NULL), -ECONNREFUSED);
		CHECK_E(etcd_create(e, "fo/b", "b", 1, NULL, NULL), -ECONNREFUSED);
		CHECK(now_ms() - t < 1000);
		etcd_close(e);
	}
	w = NULL;
	seen_init(&s);
	CHECK_E(etcd_watch_start(urls, "fo/", 0, on_event, &s, &w, why, sizeof(why)), -ECONNREFUSED);
	CHECK(w == NULL && why[0] != '\0');
	seen_destroy(&s);
}

/* A watch lives through a restart of etcd and goes on after its last event, without repeating it. */
static void test_restart(void)
{
	struct etcd_watch *w = NULL;
	struct seen s;
	char why[256];
	int64_t r1 = 0, r2 = 0;

	seen_init(&s);
	CHECK_E(etcd_watch_start(url, "re/", 0, on_event, &s, &w, why, sizeof(why)), 0);
	if (!w)
		goto out;
	CHECK_E(etcd_put(db, "re/1", "one", 3, NULL, &r1), 0);
	CHECK(wait_events(&s, 1, 5000));
	stop_etcd();
	CHECK_E(etcd_get(db, "re/1", NULL, NULL, NULL), -ECONNREFUSED);
	if (start_etcd() != 0 || wait_ready() != 0) {
		CHECK(!"etcd restarted");
		goto out;
	}
	CHECK_E(etcd_put(db, "re/2", "two", 3, NULL, &r2), 0);
	if (wait_events(&s, 2, 8000)) {
		CHECK(event_is(&s.ev[0], ETCD_PUT, "re/1", "one", 3, r1));
		CHECK(event_is(&s.ev[1], ETCD_PUT, "re/2", "two", 3, r2));
	}
	CHECK_E(etcd_put(db, "re/3", "three", 5, NULL, NULL), 0);
	CHECK(wait_events(&s, 3, 5000) && s.n == 3);
out:
	etcd_watch_stop(w);
	seen_destroy(&s);
}

static void run(const char *name, void (*fn)(void))
{
	int before = check_failures;
	int64_t t = now_ms();

	fn();
	printf("%s %s (%lld ms)\n", check_failures == before ? "ok  " : "FAIL", name, (long long)(now_ms() - t));
}

int main(void)
{
	sigset_t sigs;
	pthread_t sig_thread;
	char why[256];
	int64_t t0 = now_ms();

	setvbuf(stdout, NULL, _IONBF, 0);
	if (access(ETCD_BIN, X_OK) != 0) {
		printf("skip: %s is not installed (make deps installs etcd-server)\n", ETCD_BIN);
		return T_EXIT_SKIP;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return T_EXIT_FAIL;
	}
	if (start_janitor() != 0) {
		perror("janitor");
		rmdir(dir);
		return T_EXIT_FAIL;
	}
	atexit(cleanup);
	/* blocked in every thread (curl's included), taken by signal_main */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (pthread_create(&sig_thread, NULL, signal_main, &sigs) != 0) {
		perror("pthread_create");
		return T_EXIT_FAIL;
	}
	alarm(60);

	client_port = free_port();
	peer_port = free_port();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", client_port);
	snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d", free_port());
	snprintf(dead2_url, sizeof(dead2_url), "http://127.0.0.1:%d", free_port());
	if (client_port < 0 || peer_port < 0 || start_etcd() != 0 || wait_ready() != 0)
		return T_EXIT_FAIL;
	printf("etcd up on %s in %lld ms\n", url, (long long)(now_ms() - t0));
	if (etcd_open(url, &db, why, sizeof(why)) != 0) {
		fprintf(stderr, "etcd_open: %s\n", why);
		return T_EXIT_FAIL;
	}

	run("kv", test_kv);
	run("create_replace", test_create_replace);
	run("range_and_watch", test_range_and_watch);
	run("lease", test_lease);
	run("compaction", test_compaction);
	run("failover", test_failover);
	run("restart", test_restart);

	etcd_close(db);
	cleanup();
	printf("test_etcd: %s (%.1f s)\n", check_failures ? "FAILED" : "all passed", (double)(now_ms() - t0) / 1000);
	return CHECK_DONE();
}
