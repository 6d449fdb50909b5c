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
 *   fabench run CMD ARGS...           fork + exec CMD (stdout to /dev/null), wait; fails if CMD does
 *   fabench ctl CTL LINE              open the control file CTL, write LINE and its newline, read the
 *                                     answer, close; the answer goes to stderr (a failed command: one
 *                                     line "fabench: LINE: errno text: answer" and exit 1)
 *   fabench ctllat CTL LINE N [keep]  N round trips of LINE on CTL (after N/10 untimed ones), each timed
 *                                     alone: open, write, read the answer, close; "keep": one open file,
 *                                     write + read only.  Prints "MEDIAN_NS P99_NS" (the only mode that
 *                                     prints two numbers)
 *
 * BENCH_TIMEOUT (seconds, default 600) bounds each call: past it the helper kills its child, says so on
 * stderr and exits 1, so a hung filesystem makes one failed row instead of a hung benchmark.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("%llu %llu\n", (unsigned long long)(n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2),
	       (unsigned long long)t[(n * 99 + 99) / 100 - 1]);
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
	if (!strcmp(m, "run") && argc >= 3)
		return do_run(argv + 2);
	if (!strcmp(m, "ctl") && argc == 4)
		return do_ctl(argv[2], argv[3]);
	if (!strcmp(m, "ctllat") && (argc == 5 || (argc == 6 && !strcmp(argv[5], "keep"))))
		return do_ctllat(argv[2], argv[3], num(argv[4]), argc == 6);
	fprintf(stderr, "usage: fabench read FILE BS | mmap FILE OFF LEN [pop] | create DIR N SIZE |\n"
			"               stat DIR N | run CMD ARGS... | ctl CTL LINE | ctllat CTL LINE N [keep]\n");
	return 2;
}
