/* SPDX-License-Identifier: MIT */
/* fabench -- the timed inner loops of `make bench` (tests/bench/run.sh), where shell overhead would
 * dominate.  Each mode does its work once and prints the elapsed wall time in nanoseconds on stdout (one
 * number, nothing else); on any error it prints one line on stderr and exits 1.
 *
 *   fabench read FILE BS              read FILE to its end with BS-byte read()s
 *   fabench mmap FILE OFF LEN [pop]   mmap LEN bytes of FILE at OFF (rounded down to a page), read one
 *                                     byte per 4 KiB page, munmap; "pop" adds MAP_POPULATE
 *   fabench create DIR N SIZE         create DIR/fI (I = 0..N-1, O_EXCL), write SIZE bytes, close
 *   fabench stat DIR N                lstat() DIR/f0 .. DIR/f(N-1)
 *   fabench lookup DIR N COUNT        COUNT lookups of random keys DIR/fI (I < N, a fixed seed), each timed
 *                                     alone: open, read to the end, close (after COUNT/10 untimed ones).
 *                                     Prints "MEDIAN_NS P99_NS"
 *   fabench run CMD ARGS...           fork + exec CMD (stdout to /dev/null), wait; fails if CMD does
 *   fabench ctl CTL LINE              open the control file CTL, write LINE and its newline, read the
 *                                     answer, close; the answer goes to stderr (a failed command: one
 *                                     line "fabench: LINE: errno text: answer" and exit 1)
 *   fabench ctllat CTL LINE N [keep]  N round trips of LINE on CTL (after N/10 untimed ones), each timed
 *                                     alone: open, write, read the answer, close; "keep": one open file,
 *                                     write + read only.  Prints "MEDIAN_NS P99_NS" (the only mode that
 *                                     prints two numbers)
 *   fabench spawnlat MOUNT N PROG [SCOPE]
 *                                     N spawn-to-exit round trips of PROG as a task of the fabric at
 *                                     MOUNT (after N/10 untimed ones), each timed alone: write "spawn
 *                                     [scope=SCOPE] -- PROG" on MOUNT/ctl (opened once; SCOPE node:N puts
 *                                     it on node N of a cluster), read the id, open
 *                                     tasks/ID/status, pread + poll until it has ended, close.  The task
 *                                     must end "exited"; "forget ID" follows, untimed.  Prints
 *                                     "MEDIAN_NS P99_NS"
 *   fabench eachlat MOUNT N SHARD PROG
 *                                     N round trips of a map: write "spawn each=shards/SHARD -- PROG",
 *                                     read the group id and its tasks' ids, wait for the group as
 *                                     spawnlat does (it must end "exited"); each timed alone, after N/10
 *                                     untimed; the group and its tasks forgotten, untimed.  Prints
 *                                     "MEDIAN_NS P99_NS"
 *   fabench threelat MOUNT N PROG SCOPE
 *                                     its yardstick: N round trips of three spawns of PROG with SCOPE
 *                                     written at once, then the three waited for.  Prints
 *                                     "MEDIAN_NS P99_NS"
 *   fabench posixlat N PROG           the yardstick of spawnlat: N posix_spawn(PROG) + waitpid (after N/10
 *                                     untimed ones), each timed alone.  Prints "MEDIAN_NS P99_NS"
 *   fabench tasks MOUNT DIR N         N tasks "cp DIR/in_I DIR/out_I" (I = 1..N; DIR under MOUNT/vars, the
 *                                     tasks' working directory; in= and out= the same names), all
 *                                     submitted through one open of MOUNT/ctl, then each waited for in
 *                                     order (pread + poll on its status): that much is timed.  Untimed
 *                                     after: each must have exited 0 (tasks/I/exit "0") with its output
 *                                     sealed; the outputs are removed and the tasks forgotten
 *   fabench tcp SIZE                  SIZE bytes over TCP on loopback, memory to memory (a forked sender,
 *                                     received into new pages): the yardstick of a remote read
 *
 * A wait on a task's status sleeps in poll(2) for at most a second at a time; a poll that times out
 * although the status had changed (a lost wakeup) is counted, and the count goes to stderr at the end.
 *
 * BENCH_TIMEOUT (seconds, default 600) bounds each call: past it the helper kills its child, says so on
 * stderr and exits 1, so a hung filesystem makes one failed row instead of a hung benchmark.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child;	  /* the command of `run`, killed on timeout */
static volatile unsigned sink; /* keeps the page loads of `mmap` */

static void on_alarm(int sig)
{
	static const char msg[] = "fabench: timed out (BENCH_TIMEOUT)\n";

	(void)sig;
	if (child > 0)
		kill(child, SIGKILL);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int die(const char *what, const char *arg)
{
	fprintf(stderr, "fabench: %s %s: %s\n", what, arg, strerror(errno));
	return 1;
}

static unsigned long long num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "fabench: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static int do_read(const char *file, size_t bs)
{
	char *buf = aligned_alloc(4096, bs);
	int fd;
	ssize_t n;
	uint64_t t0;

	if (!buf || bs == 0)
		return die("buffer of", "BS");
	t0 = now_ns();
	if ((fd = open(file, O_RDONLY)) < 0)
		return die("open", file);
	while ((n = read(fd, buf, bs)) > 0)
		;
	if (n < 0)
		return die("read", file);
	close(fd);
	printf("%llu\n", (unsigned long long)(now_ns() - t0));
	free(buf);
	return 0;
}

static int do_mmap(const char *file, off_t off, size_t len, int populate)
{
	off_t start = off & ~(off_t)4095;
	size_t maplen = len + (size_t)(off - start);
	volatile const unsigned char *p;
	unsigned sum = 0;
	uint64_t t0 = now_ns();
	int fd;

	if ((fd = open(file, O_RDONLY)) < 0)
		return die("open", file);
	p = mmap(NULL, maplen, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, start);
	if (p == MAP_FAILED)
		return die("mmap", file);
	for (size_t i = 0; i < maplen; i += 4096)
		sum += p[i];
	munmap((void *)p, maplen);
	close(fd);
	printf("%llu\n", (unsigned long long)(now_ns() - t0));
	sink = sum;
	return 0;
}

static int do_create(const char *dir, unsigned long n, size_t size)
{
	char path[4096], *buf = calloc(1, size ? size : 1);
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%lu", dir, i);
		if ((fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644)) < 0)
			return die("create", path);
		if (size && write(fd, buf, size) != (ssize_t)size)
			return die("write", path);
		if (close(fd) < 0)
			return die("close", path);
	}
	printf("%llu\n", (unsigned long long)(now_ns() - t0));
	free(buf);
	return 0;
}

static int do_stat(const char *dir, unsigned long n)
{
	char path[4096];
	struct stat st;
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%lu", dir, i);
		if (lstat(path, &st) < 0)
			return die("lstat", path);
	}
	printf("%llu\n", (unsigned long long)(now_ns() - t0));
	return 0;
}

/* The control file's answer is read with one read() of this many bytes: the file hands out as much of
 * the answer as is asked for, so one read is one round trip to the daemon and holds any answer here. */
#define ANSWER_MAX 65536

static char answer[ANSWER_MAX + 1];

/* One command on an open control file: write the line (its errno, 0 when it ran, to *werr), then read the
 * answer into `answer`.  Returns the answer's length, or -1 when the read fails. */
static ssize_t ctl_cmd(int fd, const char *line, size_t len, int *werr)
{
	ssize_t n;

	*werr = 0;
	errno = 0;
	if (write(fd, line, len) != (ssize_t)len)
		*werr = errno ? errno : EIO;
	if ((n = read(fd, answer, ANSWER_MAX)) < 0)
		return -1;
	answer[n] = '\0';
	return n;
}

/* The line with its newline, in a buffer of its own. */
static char *with_newline(const char *line, size_t *len)
{
	char *buf;

	*len = strlen(line) + 1;
	buf = malloc(*len + 1);
	if (!buf) {
		fprintf(stderr, "fabench: out of memory\n");
		exit(1);
	}
	memcpy(buf, line, *len - 1);
	buf[*len - 1] = '\n';
	buf[*len] = '\0';
	return buf;
}

static int ctl_failed(const char *line, int werr)
{
	answer[strcspn(answer, "\n")] = '\0';
	fprintf(stderr, "fabench: %s: %s: %s\n", line, strerror(werr), answer);
	return 1;
}

static int do_ctl(const char *ctl, const char *line)
{
	size_t len;
	char *buf = with_newline(line, &len);
	uint64_t t0 = now_ns(), t1;
	int fd, werr;

	if ((fd = open(ctl, O_RDWR)) < 0)
		return die("open", ctl);
	if (ctl_cmd(fd, buf, len, &werr) < 0)
		return die("read the answer of", ctl);
	if (close(fd) < 0 && !werr)
		werr = errno;
	t1 = now_ns();
	if (werr)
		return ctl_failed(line, werr);
	fputs(answer, stderr);
	printf("%llu\n", (unsigned long long)(t1 - t0));
	free(buf);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* "MEDIAN_NS P99_NS" of the n times in t (sorted here). */
static void print_median_p99(uint64_t *t, unsigned long n)
{
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("%llu %llu\n", (unsigned long long)(n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2),
	       (unsigned long long)t[(n * 99 + 99) / 100 - 1]);
}

static int do_lookup(const char *dir, unsigned long n, unsigned long count)
{
	uint64_t *t = calloc(count ? count : 1, sizeof(*t));
	unsigned long warm = count / 10;
	unsigned int seed = 42;
	char path[4096], buf[65536];

	if (!t || n == 0 || count == 0) {
		fprintf(stderr, "fabench: lookup needs N >= 1 and COUNT >= 1\n");
		return 1;
	}
	for (unsigned long i = 0; i < warm + count; i++) {
		unsigned long k = ((unsigned long)rand_r(&seed) << 16 ^ (unsigned long)rand_r(&seed)) % n;
		uint64_t t0 = now_ns();
		ssize_t r;
		int fd;

		snprintf(path, sizeof(path), "%s/f%lu", dir, k);
		if ((fd = open(path, O_RDONLY)) < 0)
			return die("open", path);
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			;
		if (r < 0)
			return die("read", path);
		close(fd);
		if (i >= warm)
			t[i - warm] = now_ns() - t0;
	}
	print_median_p99(t, count);
	free(t);
	return 0;
}

static int do_ctllat(const char *ctl, const char *line, unsigned long n, int keep)
{
	size_t len;
	char *buf = with_newline(line, &len);
	uint64_t *t = calloc(n ? n : 1, sizeof(*t));
	unsigned long warm = n / 10;
	int fd = -1, werr;

	if (!t || n == 0) {
		fprintf(stderr, "fabench: ctllat needs N >= 1\n");
		return 1;
	}
	if (keep && (fd = open(ctl, O_RDWR)) < 0)
		return die("open", ctl);
	for (unsigned long i = 0; i < warm + n; i++) {
		uint64_t t0 = now_ns();
		ssize_t got;

		if (!keep && (fd = open(ctl, O_RDWR)) < 0)
			return die("open", ctl);
		if ((got = ctl_cmd(fd, buf, len, &werr)) < 0)
			return die("read the answer of", ctl);
		if (!keep && close(fd) < 0 && !werr)
			werr = errno;
		if (i >= warm)
			t[i - warm] = now_ns() - t0;
		if (werr)
			return ctl_failed(line, werr);
		if (got == 0) {
			fprintf(stderr, "fabench: %s: an empty answer\n", line);
			return 1;
		}
	}
	if (keep)
		close(fd);
	print_median_p99(t, n);
	free(t);
	free(buf);
	return 0;
}

static int do_run(char **argv)
{
	uint64_t t0 = now_ns();
	int status;
	pid_t pid = child = fork();

	if (pid < 0)
		return die("fork", argv[0]);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "fabench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return die("wait", argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "fabench: %s failed (status %d)\n", argv[0], status);
		return 1;
	}
	printf("%llu\n", (unsigned long long)(now_ns() - t0));
	return 0;
}

/* ---- tasks ---- */

static unsigned long lost_wakeups; /* polls that timed out although the status had changed */

/* Wait until task ID of the fabric at MOUNT has ended, as fabric-wait does: pread the status at 0, and
 * while it says queued or running, poll for POLLIN.  The status line's first word goes to state (64
 * bytes).  Returns 0, or 1 after saying why on stderr. */
static int wait_task(const char *mount, unsigned long long id, char *state)
{
	char path[4096], buf[8192], prev[8192] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/tasks/%llu/status", mount, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return die("open", path);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		size_t w;
		int rc;

		if (n < 0)
			return die("read", path);
		buf[n] = '\0';
		w = strcspn(buf, " \n");
		if (!((w == 6 && !strncmp(buf, "queued", 6)) || (w == 7 && !strncmp(buf, "running", 7)))) {
			snprintf(state, 64, "%.*s", (int)(w < 63 ? w : 63), buf);
			break;
		}
		if (prev[0] && strcmp(prev, buf) != 0)
			lost_wakeups++;
		prev[0] = '\0';
		rc = poll(&p, 1, 1000);
		if (rc < 0 && errno != EINTR)
			return die("poll", path);
		if (rc == 0)
			memcpy(prev, buf, (size_t)n + 1); /* timed out: a changed status at the next read was lost */
		if (rc > 0 && (p.revents & POLLERR)) {
			fprintf(stderr, "fabench: task %llu is gone (forgotten)\n", id);
			return 1;
		}
	}
	close(fd);
	return 0;
}

/* One spawn line on the open control file; the task id to *id.  Returns 0, or 1 after saying why. */
static int spawn_task(int ctl, const char *line, size_t len, unsigned long long *id)
{
	char *end;
	int werr;

	if (ctl_cmd(ctl, line, len, &werr) < 0)
		return die("read the answer of", "spawn");
	if (werr)
		return ctl_failed(line, werr);
	errno = 0;
	*id = strtoull(answer, &end, 10);
	if (errno || end == answer || (*end && *end != '\n')) {
		answer[strcspn(answer, "\n")] = '\0';
		fprintf(stderr, "fabench: %s: answered '%s', not a task id\n", line, answer);
		return 1;
	}
	return 0;
}

static int forget_task(int ctl, unsigned long long id)
{
	char line[64];
	int len = snprintf(line, sizeof(line), "forget %llu\n", id), werr;

	if (ctl_cmd(ctl, line, (size_t)len, &werr) < 0)
		return die("read the answer of", "forget");
	if (werr) {
		line[len - 1] = '\0';
		return ctl_failed(line, werr);
	}
	return 0;
}

static void report_lost(void)
{
	if (lost_wakeups)
		fprintf(stderr, "fabench: %lu lost wakeup(s): a poll on a status timed out after it had changed\n",
			lost_wakeups);
}

static int do_spawnlat(const char *mount, unsigned long n, const char *prog, const char *scope)
{
	char ctlpath[4096], line[4096], state[64];
	uint64_t *t = calloc(n ? n : 1, sizeof(*t));
	unsigned long warm = n / 10;
	int len, ctl;

	if (!t || n == 0) {
		fprintf(stderr, "fabench: spawnlat needs N >= 1\n");
		return 1;
	}
	snprintf(ctlpath, sizeof(ctlpath), "%s/ctl", mount);
	len = snprintf(line, sizeof(line), "spawn %s%s%s-- \"%s\"\n", scope ? "scope=" : "", scope ? scope : "",
		       scope ? " " : "", prog);
	if ((ctl = open(ctlpath, O_RDWR | O_CLOEXEC)) < 0)
		return die("open", ctlpath);
	for (unsigned long i = 0; i < warm + n; i++) {
		unsigned long long id;
		uint64_t t0 = now_ns();

		if (spawn_task(ctl, line, (size_t)len, &id) || wait_task(mount, id, state))
			return 1;
		if (i >= warm)
			t[i - warm] = now_ns() - t0;
		if (strcmp(state, "exited") != 0) {
			fprintf(stderr, "fabench: task %llu (%s) ended %s\n", id, prog, state);
			return 1;
		}
		if (forget_task(ctl, id))
			return 1;
	}
	close(ctl);
	print_median_p99(t, n);
	report_lost();
	free(t);
	return 0;
}

/* The ids of a spawn's answer, one a line (each=: the group's first), into ids (at most max); their
 * count to *n.  Returns 0, or 1 after saying why. */
static int answer_ids(const char *line, unsigned long long *ids, size_t max, size_t *n)
{
	char *p = answer, *end;

	for (*n = 0; *p && *n < max; p = end + (*end == '\n')) {
		errno = 0;
		ids[(*n)++] = strtoull(p, &end, 10);
		if (errno || end == p || (*end && *end != '\n')) {
			fprintf(stderr, "fabench: %s: answered '%s', not task ids\n", line, answer);
			return 1;
		}
	}
	return 0;
}

/* Round trips of a map over a shard (each) or of three plain spawns (its yardstick). */
static int do_maplat(const char *mount, unsigned long n, const char *shard, const char *prog, const char *scope)
{
	char ctlpath[4096], line[4096], state[64];
	uint64_t *t = calloc(n ? n : 1, sizeof(*t));
	unsigned long warm = n / 10;
	int len, ctl, werr;

	if (!t || n == 0) {
		fprintf(stderr, "fabench: eachlat and threelat need N >= 1\n");
		return 1;
	}
	snprintf(ctlpath, sizeof(ctlpath), "%s/ctl", mount);
	if (shard)
		len = snprintf(line, sizeof(line), "spawn each=shards/%s -- \"%s\"\n", shard, prog);
	else
		len = snprintf(line, sizeof(line), "spawn scope=%s -- \"%s\"\n", scope, prog);
	if ((ctl = open(ctlpath, O_RDWR | O_CLOEXEC)) < 0)
		return die("open", ctlpath);
	for (unsigned long i = 0; i < warm + n; i++) {
		unsigned long long ids[64];
		size_t nids = 0, got;
		uint64_t t0 = now_ns();

		for (int k = 0; k < (shard ? 1 : 3); k++) {
			if (ctl_cmd(ctl, line, (size_t)len, &werr) < 0)
				return die("read the answer of", "spawn");
			if (werr)
				return ctl_failed(line, werr);
			if (answer_ids(line, ids + nids, 64 - nids, &got))
				return 1;
			nids += got;
		}
		/* each=: the group ends once its tasks have; three spawns: wait for each */
		for (size_t k = 0; k < (shard ? 1 : nids); k++) {
			if (wait_task(mount, ids[k], state))
				return 1;
			if (strcmp(state, "exited") != 0) {
				fprintf(stderr, "fabench: task %llu (%s) ended %s\n", ids[k], prog, state);
				return 1;
			}
		}
		if (i >= warm)
			t[i - warm] = now_ns() - t0;
		for (size_t k = 0; k < nids; k++)
			if (forget_task(ctl, ids[k]))
				return 1;
	}
	close(ctl);
	print_median_p99(t, n);
	report_lost();
	free(t);
	return 0;
}

extern char **environ;

static int do_posixlat(unsigned long n, const char *prog)
{
	uint64_t *t = calloc(n ? n : 1, sizeof(*t));
	unsigned long warm = n / 10;
	char *argv[] = { (char *)prog, NULL };

	if (!t || n == 0) {
		fprintf(stderr, "fabench: posixlat needs N >= 1\n");
		return 1;
	}
	for (unsigned long i = 0; i < warm + n; i++) {
		uint64_t t0 = now_ns();
		pid_t pid;
		int rc = posix_spawn(&pid, prog, NULL, NULL, argv, environ), status;

		if (rc) {
			errno = rc;
			return die("posix_spawn", prog);
		}
		child = pid;
		if (waitpid(pid, &status, 0) < 0)
			return die("wait", prog);
		if (i >= warm)
			t[i - warm] = now_ns() - t0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "fabench: %s failed (status %d)\n", prog, status);
			return 1;
		}
	}
	print_median_p99(t, n);
	free(t);
	return 0;
}

static int do_tasks(const char *mount, const char *dir, unsigned long n)
{
	char ctlpath[4096], line[4096], path[4096], state[64], buf[64];
	unsigned long long *ids = calloc(n ? n : 1, sizeof(*ids));
	uint64_t t0, t1;
	int ctl;

	if (!ids || n == 0) {
		fprintf(stderr, "fabench: tasks needs N >= 1\n");
		return 1;
	}
	snprintf(ctlpath, sizeof(ctlpath), "%s/ctl", mount);
	t0 = now_ns();
	if ((ctl = open(ctlpath, O_RDWR | O_CLOEXEC)) < 0)
		return die("open", ctlpath);
	for (unsigned long i = 0; i < n; i++) {
		int len = snprintf(line, sizeof(line), "spawn in=\"%s/in_%lu\" out=\"%s/out_%lu\" -- cp \"%s/in_%lu\" \"%s/out_%lu\"\n",
				   dir, i + 1, dir, i + 1, dir, i + 1, dir, i + 1);

		if (spawn_task(ctl, line, (size_t)len, &ids[i]))
			return 1;
	}
	for (unsigned long i = 0; i < n; i++) {
		if (wait_task(mount, ids[i], state))
			return 1;
		if (strcmp(state, "exited") != 0) {
			fprintf(stderr, "fabench: task %llu (cp %s/in_%lu %s/out_%lu) ended %s\n", ids[i], dir, i + 1,
				dir, i + 1, state);
			return 1;
		}
	}
	t1 = now_ns();

	/* untimed: exit codes, seals, then the outputs and the records go */
	for (unsigned long i = 0; i < n; i++) {
		int fd, tries = 0;
		ssize_t got;

		snprintf(path, sizeof(path), "%s/tasks/%llu/exit", mount, ids[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return die("open", path);
		got = pread(fd, buf, sizeof(buf) - 1, 0);
		close(fd);
		if (got < 0)
			return die("read", path);
		buf[got] = '\0';
		if (strcmp(buf, "0\n") != 0 && strcmp(buf, "0") != 0) {
			fprintf(stderr, "fabench: task %llu: exit file says '%.*s', not 0\n", ids[i],
				(int)strcspn(buf, "\n"), buf);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/vars/%s/out_%lu", mount, dir, i + 1);
		for (;;) { /* the seal may follow the exit by a moment (the kernel's release of cp's file) */
			got = getxattr(path, "user.fabric.state", buf, sizeof(buf) - 1);
			if (got < 0)
				return die("getxattr user.fabric.state of", path);
			buf[got] = '\0';
			if (!strcmp(buf, "sealed"))
				break;
			if (++tries > 10000) {
				fprintf(stderr, "fabench: %s is '%s' 10 s after its task exited 0\n", path, buf);
				return 1;
			}
			usleep(1000);
		}
		if (unlink(path) < 0)
			return die("unlink", path);
		if (forget_task(ctl, ids[i]))
			return 1;
	}
	close(ctl);
	printf("%llu\n", (unsigned long long)(t1 - t0));
	report_lost();
	free(ids);
	return 0;
}

/* The yardstick of a remote read: SIZE bytes over a TCP connection on loopback, memory to memory (a
 * child sends them from a 1 MiB buffer; this process receives them into new anonymous pages, as a replica
 * receives into a new shm object), timed from the connect to the last byte. */
static int do_tcp(uint64_t size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c, st;
	uint64_t t0, got = 0;
	char *dst;
	pid_t pid;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		return die("tcp", "listen");
	pid = fork();
	if (pid == 0) {
		static char buf[1 << 20];
		int s = accept(l, NULL, NULL);
		memset(buf, 7, sizeof(buf));
		for (uint64_t sent = 0; s >= 0 && sent < size;) {
			ssize_t n = send(s, buf, size - sent < sizeof(buf) ? (size_t)(size - sent) : sizeof(buf), 0);
			if (n <= 0)
				_exit(1);
			sent += (uint64_t)n;
		}
		_exit(0);
	}
	dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (pid < 0 || dst == MAP_FAILED || c < 0)
		return die("tcp", "setup");
	t0 = now_ns();
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		return die("tcp", "connect");
	while (got < size) {
		ssize_t n = recv(c, dst + got, size - got, MSG_WAITALL);
		if (n <= 0)
			return die("tcp", "recv");
		got += (uint64_t)n;
	}
	printf("%llu\n", (unsigned long long)(now_ns() - t0));
	waitpid(pid, &st, 0);
	munmap(dst, size);
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "", *limit = getenv("BENCH_TIMEOUT");

	signal(SIGALRM, on_alarm);
	alarm(limit && *limit ? (unsigned)num(limit) : 600);

	if (!strcmp(m, "read") && argc == 4)
		return do_read(argv[2], num(argv[3]));
	if (!strcmp(m, "mmap") && (argc == 5 || (argc == 6 && !strcmp(argv[5], "pop"))))
		return do_mmap(argv[2], (off_t)num(argv[3]), num(argv[4]), argc == 6);
	if (!strcmp(m, "create") && argc == 5)
		return do_create(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(m, "stat") && argc == 4)
		return do_stat(argv[2], num(argv[3]));
	if (!strcmp(m, "lookup") && argc == 5)
		return do_lookup(argv[2], num(argv[3]), num(argv[4]));
	if (!strcmp(m, "run") && argc >= 3)
		return do_run(argv + 2);
	if (!strcmp(m, "ctl") && argc == 4)
		return do_ctl(argv[2], argv[3]);
	if (!strcmp(m, "ctllat") && (argc == 5 || (argc == 6 && !strcmp(argv[5], "keep"))))
		return do_ctllat(argv[2], argv[3], num(argv[4]), argc == 6);
	if (!strcmp(m, "spawnlat") && (argc == 5 || argc == 6))
		return do_spawnlat(argv[2], num(argv[3]), argv[4], argc == 6 ? argv[5] : NULL);
	if (!strcmp(m, "eachlat") && argc == 6)
		return do_maplat(argv[2], num(argv[3]), argv[4], argv[5], NULL);
	if (!strcmp(m, "threelat") && argc == 6)
		return do_maplat(argv[2], num(argv[3]), NULL, argv[4], argv[5]);
	if (!strcmp(m, "posixlat") && argc == 4)
		return do_posixlat(num(argv[2]), argv[3]);
	if (!strcmp(m, "tasks") && argc == 5)
		return do_tasks(argv[2], argv[3], num(argv[4]));
	if (!strcmp(m, "tcp") && argc == 3)
		return do_tcp(num(argv[2]));
	fprintf(stderr, "usage: fabench read FILE BS | mmap FILE OFF LEN [pop] | create DIR N SIZE |\n"
			"               stat DIR N | lookup DIR N COUNT | run CMD ARGS... | ctl CTL LINE |\n"
			"               ctllat CTL LINE N [keep] |\n"
			"               spawnlat MOUNT N PROG | eachlat MOUNT N SHARD PROG |\n"
			"               threelat MOUNT N PROG SCOPE | posixlat N PROG | tasks MOUNT DIR N | tcp SIZE\n");
	return 2;
}
