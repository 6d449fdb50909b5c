/* SPDX-License-Identifier: MIT */
/* test_launch.c -- unit tests for core/launch: output and exit status through the pipes and the pidfd,
 * refusals (no such program, not executable, no such directory, a directory the identity may not enter)
 * with their sentences and nothing left behind, the PATH search of the given environment, the identity,
 * working directory and environment the program gets, no inherited descriptors, signals reset, and the
 * process tree: membership, kill, leftovers after a "restart", and the tree dying with its starter.
 *
 * Run as root (as tests/run.sh does) every program gets a PID namespace and the identity checks take
 * nobody's; run unprivileged, the session fallback is tested and the identity checks use our own.
 * Waits are bounded polls of /proc or of the descriptors, never fixed sleeps.  Every launched program is
 * killed and reaped before its check returns, whether it passed or not. */
#include "core/os/launch.h"
#include "tests/check.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 5000
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const std_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
static uint32_t my_groups[64];
static size_t my_ngroups;
static bool root;

static struct launch_spec spec(const char *const *argv, const char *const *envp, const char *cwd)
{
	return (struct launch_spec){ argv, envp ? envp : std_env, cwd ? cwd : "/", (uint32_t)getuid(),
				     (uint32_t)getgid(), my_groups, my_ngroups };
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Kill (when asked) and reap l, close its pipes: nothing of it is left. */
static int end(struct launch *l, bool kill_it)
{
	int status = -1;

	if (l->pidfd >= 0) {
		if (kill_it)
			launch_kill(l);
		CHECK_RC(launch_reap(l, &status), 0);
	}
	if (l->out_fd >= 0)
		close(l->out_fd);
	if (l->err_fd >= 0)
		close(l->err_fd);
	l->out_fd = l->err_fd = -1;
	return status;
}

/* Read stdout and stderr to their end (at most WAIT_MS), then reap: the exit status, or -1 when it had to
 * be killed. */
static int drain(struct launch *l, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t got[2] = { 0, 0 }, cap[2] = { outlen - 1, errlen - 1 };
	char *buf[2] = { out, err };
	bool open_[2] = { true, true };
	int64_t deadline = now_ms() + WAIT_MS;

	while ((open_[0] || open_[1]) && now_ms() < deadline) {
		struct pollfd p[2] = { { open_[0] ? l->out_fd : -1, POLLIN, 0 },
				       { open_[1] ? l->err_fd : -1, POLLIN, 0 } };

		if (poll(p, 2, 100) < 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (!open_[i] || !p[i].revents)
				continue;
			char scratch[256];
			ssize_t n = got[i] < cap[i] ? read(p[i].fd, buf[i] + got[i], cap[i] - got[i])
						    : read(p[i].fd, scratch, sizeof(scratch));
			if (n > 0 && got[i] < cap[i])
				got[i] += (size_t)n;
			else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				open_[i] = false;
		}
	}
	out[got[0]] = '\0';
	err[got[1]] = '\0';
	if (open_[0] || open_[1]) {
		fprintf(stderr, "program did not close its output within %d ms: killed\n", WAIT_MS);
		check_failures++;
		end(l, true);
		return -1;
	}
	return end(l, false);
}

/* Start s, collect its output and status.  Returns launch_start's result. */
static int run(const struct launch_spec *s, char *out, size_t outlen, char *err, size_t errlen, int *status,
	       char *why, size_t whylen)
{
	struct launch l;
	int rc = launch_start(s, &l, why, whylen);

	if (rc == 0)
		*status = drain(&l, out, outlen, err, errlen);
	return rc;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* Alive: in /proc and not a zombie. */
static bool alive(pid_t pid)
{
	char path[64], buf[512];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static bool all_gone(const pid_t *pids, size_t n)
{
	int64_t deadline = now_ms() + WAIT_MS;

	for (;;) {
		bool any = false;
		for (size_t i = 0; i < n; i++)
			any |= pids[i] > 0 && alive(pids[i]);
		if (!any)
			return true;
		if (now_ms() > deadline)
			return false;
		pause_ms(10);
	}
}

/* Parent pid of pid, 0 when gone. */
static pid_t ppid_of(pid_t pid)
{
	char path[64], buf[512];
	int fd, ppid = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

/* The live child of parent whose command line is exactly "sleep ARG", waited for up to WAIT_MS: 0 when
 * none appeared. */
static pid_t find_sleep(pid_t parent, const char *arg)
{
	char want[64];
	int wlen = snprintf(want, sizeof(want), "sleep%c%s", '\0', arg) + 1;
	int64_t deadline = now_ms() + WAIT_MS;

	do {
		DIR *d = opendir("/proc");
		struct dirent *e;
		pid_t found = 0;

		while (d && !found && (e = readdir(d))) {
			char path[300], buf[64];
			pid_t pid = atoi(e->d_name);
			if (pid <= 0 || ppid_of(pid) != parent)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t n = read(fd, buf, sizeof(buf));
			close(fd);
			if (n == wlen && memcmp(buf, want, (size_t)wlen) == 0 && alive(pid))
				found = pid;
		}
		if (d)
			closedir(d);
		if (found)
			return found;
		pause_ms(10);
	} while (now_ms() < deadline);
	return 0;
}

static void test_echo(void)
{
	static const char *const argv[] = { "/bin/echo", "hello", NULL };
	struct launch_spec s = spec(argv, NULL, NULL);
	struct launch l;
	char out[256], err[256], why[512];
	int status = -1;

	CHECK_RC(launch_start(&s, &l, why, sizeof(why)), 0);
	CHECK(l.id.pid > 0 && l.id.start_time > 0);
	CHECK(!root || l.id.pidns != 0);
	CHECK((fcntl(l.out_fd, F_GETFL) & O_NONBLOCK) && (fcntl(l.err_fd, F_GETFL) & O_NONBLOCK));
	CHECK((fcntl(l.out_fd, F_GETFD) & FD_CLOEXEC) && (fcntl(l.err_fd, F_GETFD) & FD_CLOEXEC));
	CHECK(fcntl(l.pidfd, F_GETFD) & FD_CLOEXEC);
	status = drain(&l, out, sizeof(out), err, sizeof(err));
	CHECK(strcmp(out, "hello\n") == 0);
	CHECK(err[0] == '\0');
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(l.pidfd == -1);
}

static void test_stderr_and_status(void)
{
	static const char *const argv[] = { "sh", "-c", "echo err >&2; exit 3", NULL };
	struct launch_spec s = spec(argv, NULL, NULL);
	char out[256], err[256], why[512];
	int status = -1;

	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	CHECK(out[0] == '\0');
	CHECK(strcmp(err, "err\n") == 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
}

/* Refused with want, why naming prog and holding frag, and no process, zombie or descriptor left. */
static void check_refused(const struct launch_spec *s, int want, const char *frag, int line)
{
	struct launch l = { .pidfd = -2, .out_fd = -2, .err_fd = -2 };
	char why[1024] = "stale";
	int fds = count_fds(), rc = launch_start(s, &l, why, sizeof(why));
	char named[300];

	snprintf(named, sizeof(named), "'%s'", s->argv[0]);
	if (rc != want || !strstr(why, named) || (frag && !strstr(why, frag))) {
		fprintf(stderr, "line %d: launch '%s' gave %d '%s', want %d with '%s'\n", line, s->argv[0], rc, why,
			want, frag ? frag : "");
		check_failures++;
	}
	if (rc == 0)
		end(&l, true);
	CHECK(l.pidfd == -2 && l.out_fd == -2); /* untouched */
	CHECK(count_fds() == fds);
	errno = 0;
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
}
#define REFUSED(s, want, frag) check_refused(s, want, frag, __LINE__)

static void test_not_found(void)
{
	static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
	static const char *const nosuch[] = { "no-such-program-xyz", NULL };
	static const char *const abs[] = { "/no/such/program", NULL };
	struct launch_spec s = spec(nosuch, env, NULL);

	REFUSED(&s, -ENOENT, "No such file or directory (searched PATH=/usr/bin:/bin)");
	s = spec(abs, env, NULL);
	REFUSED(&s, -ENOENT, "No such file or directory");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
		close(fd);
	}
}

static void test_path_search(void)
{
	char dir[] = "/tmp/test_launch.XXXXXX", script[300], noexec[300], path1[400], path2[400], path3[400];
	char out[256], err[256], why[1024];
	int status = -1;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(script, sizeof(script), "%s/myscript", dir);
	snprintf(noexec, sizeof(noexec), "%s/notmine", dir);
	write_file(script, "#!/bin/sh\necho from-script \"$1\"\n", 0755);
	write_file(noexec, "#!/bin/sh\necho no\n", 0644);
	snprintf(path1, sizeof(path1), "PATH=%s", dir);
	snprintf(path2, sizeof(path2), "PATH=/no/such/dir:/etc/hostname:%s", dir);
	snprintf(path3, sizeof(path3), "PATH=%s:/no/such/dir", dir);
	const char *const env1[] = { path1, NULL }, *const env2[] = { path2, NULL }, *const env3[] = { path3, NULL };
	static const char *const argv[] = { "myscript", "x", NULL }, *const argv_ne[] = { "notmine", NULL };
	static const char *const argv_env[] = { "env", NULL };

	/* only in the given PATH */
	struct launch_spec s = spec(argv, env1, NULL);
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	CHECK(strcmp(out, "from-script x\n") == 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* past a missing directory and a file where a directory should be */
	s = spec(argv, env2, NULL);
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	CHECK(strcmp(out, "from-script x\n") == 0);
	/* the daemon's own PATH is not used */
	static const char *const argv_id[] = { "id", NULL };
	s = spec(argv_id, env1, NULL);
	REFUSED(&s, -ENOENT, path1);
	/* a file found but not executable: EACCES, even when later entries do not have it */
	s = spec(argv_ne, env3, NULL);
	REFUSED(&s, -EACCES, "Permission denied (searched PATH=");
	const char *const argv_abs[] = { noexec, NULL };
	s = spec(argv_abs, env3, NULL);
	REFUSED(&s, -EACCES, "': Permission denied");
	/* no PATH at all: the default one */
	static const char *const empty_env[] = { NULL };
	s = spec(argv_env, empty_env, NULL);
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	CHECK(out[0] == '\0' && err[0] == '\0');
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	unlink(script);
	unlink(noexec);
	rmdir(dir);
}

static void test_identity(void)
{
	static const char *const id_u[] = { "/usr/bin/id", "-u", NULL }, *const id_g[] = { "/usr/bin/id", "-g", NULL },
				 *const id_G[] = { "/usr/bin/id", "-G", NULL };
	static const uint32_t nobody_groups[] = { 65534 };
	char out[256], err[256], why[1024], want[64];
	int status = -1;
	uint32_t uid = root ? 65534 : (uint32_t)getuid(), gid = root ? 65534 : (uint32_t)getgid();
	struct launch_spec s = spec(id_u, NULL, NULL);

	s.uid = uid;
	s.gid = gid;
	if (root) {
		s.groups = nobody_groups;
		s.ngroups = 1;
	}
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	snprintf(want, sizeof(want), "%u\n", uid);
	CHECK(strcmp(out, want) == 0);
	s.argv = id_g;
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	snprintf(want, sizeof(want), "%u\n", gid);
	CHECK(strcmp(out, want) == 0);
	if (root) {
		s.argv = id_G;
		CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
		CHECK(strcmp(out, "65534\n") == 0);
		static const uint32_t two[] = { 65534, 100 };
		s.groups = two;
		s.ngroups = 2;
		CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
		CHECK(strcmp(out, "65534 100\n") == 0);
		/* no groups at all */
		s.ngroups = 0;
		CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
		CHECK(strcmp(out, "65534\n") == 0); /* id -G shows the primary group */
	} else {
		/* someone else's identity cannot be taken without the privilege */
		s.uid = 0;
		s.gid = 0;
		REFUSED(&s, -EPERM, "cannot take uid 0 gid 0");
	}
}

static void test_cwd(void)
{
	static const char *const pwd[] = { "/bin/pwd", NULL };
	char dir[] = "/tmp/test_launch.XXXXXX", real[PATH_MAX], want[PATH_MAX + 2], out[PATH_MAX + 16], err[256];
	char why[1024];
	int status = -1;

	if (!mkdtemp(dir) || !realpath(dir, real)) {
		CHECK(!"mkdtemp");
		return;
	}
	struct launch_spec s = spec(pwd, NULL, dir);
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	snprintf(want, sizeof(want), "%s\n", real);
	CHECK(strcmp(out, want) == 0);

	s.cwd = "/no/such/directory";
	REFUSED(&s, -ENOENT, "cannot change into directory '/no/such/directory': No such file or directory");
	if (root) {
		/* dir is 0700 and root's: nobody may not enter it, though the daemon could */
		s.cwd = dir;
		s.uid = s.gid = 65534;
		s.ngroups = 0;
		snprintf(want, sizeof(want), "cannot change into directory '%s': Permission denied", dir);
		REFUSED(&s, -EACCES, want);
	}
	rmdir(dir);
}

static void test_environment(void)
{
	static const char *const env_argv[] = { "/usr/bin/env", NULL };
	static const char *const env[] = { "A=1", "B=two words", "PATH=/usr/bin:/bin", "EMPTY=", NULL };
	char out[1024], err[256], why[512];
	int status = -1;
	struct launch_spec s = spec(env_argv, env, NULL);

	setenv("TEST_LAUNCH_LEAK", "yes", 1); /* the daemon's own environment must not show */
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	CHECK(strcmp(out, "A=1\nB=two words\nPATH=/usr/bin:/bin\nEMPTY=\n") == 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unsetenv("TEST_LAUNCH_LEAK");
}

static void test_no_leaked_fds(void)
{
	/* `[ -e ]` runs after the glob is done, so the shell's own directory descriptor is not listed */
	static const char *const argv[] = {
		"sh", "-c", "for f in /proc/self/fd/*; do [ -e \"$f\" ] && echo \"${f##*/}\"; done", NULL
	};
	char out[1024], err[256], why[512];
	int status = -1, leak = open("/dev/null", O_RDONLY), p[2] = { -1, -1 };
	struct launch_spec s = spec(argv, NULL, NULL);

	CHECK(leak >= 0);
	CHECK(pipe(p) == 0);
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	CHECK(strcmp(out, "0\n1\n2\n") == 0);
	if (strcmp(out, "0\n1\n2\n") != 0)
		fprintf(stderr, "descriptors seen: %s\n", out);
	/* and stdin is /dev/null */
	static const char *const in_argv[] = { "sh", "-c", "readlink /proc/self/fd/0; cat", NULL };
	s.argv = in_argv;
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	CHECK(strcmp(out, "/dev/null\n") == 0);
	close(leak);
	close(p[0]);
	close(p[1]);
}

/* "SigIgn:\t0000..." of pid, or "" */
static void status_line(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], buf[4096];
	int fd;
	ssize_t n;

	val[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, strlen(key)) == 0 && l[strlen(key)] == ':') {
			l += strlen(key) + 1;
			l += strspn(l, " \t");
			snprintf(val, len, "%.*s", (int)strcspn(l, "\n"), l);
			return;
		}
	}
}

static void test_signals(void)
{
	static const char *const inner[] = { "sh", "-c", "sh -c 'kill -PIPE $$; echo survived'; echo $?", NULL };
	static const char *const self[] = { "sh", "-c", "kill -PIPE $$; echo survived", NULL };
	static const char *const sleeper[] = { "/bin/sleep", "1000", NULL };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
	sigset_t usr1, old_mask;
	char out[256], err[256], why[512], val[64];
	int status = -1;
	struct launch_spec s = spec(inner, NULL, NULL);
	struct launch l;

	/* what libfuse does to the daemon, and a blocked signal */
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old_mask);

	/* the program's children die of SIGPIPE again */
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	CHECK(strcmp(out, "141\n") == 0);

	/* the program itself: nothing ignored, nothing blocked */
	s.argv = sleeper;
	CHECK_RC(launch_start(&s, &l, why, sizeof(why)), 0);
	status_line(l.id.pid, "SigIgn", val, sizeof(val));
	CHECK(strcmp(val, "0000000000000000") == 0);
	status_line(l.id.pid, "SigBlk", val, sizeof(val));
	CHECK(strcmp(val, "0000000000000000") == 0);
	bool ns = l.id.pidns != 0;
	status = end(&l, true);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* A program signalling itself dies of it -- unless it is pid 1 of its namespace, which the kernel
	 * shields from every signal it has no handler for (so only its children can die of SIGPIPE). */
	s.argv = self;
	CHECK_RC(run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)), 0);
	if (ns) {
		CHECK(strcmp(out, "survived\n") == 0 && WIFEXITED(status));
	} else {
		CHECK(out[0] == '\0');
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
	}

	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
}

static void test_tree_kill(void)
{
	static const char *const argv[] = { "sh", "-c", "sleep 1000 & setsid sleep 1001 & wait", NULL };
	struct launch_spec s = spec(argv, NULL, NULL);
	struct launch l;
	char why[512];
	int status;

	CHECK_RC(launch_start(&s, &l, why, sizeof(why)), 0);
	pid_t kids[3] = { l.id.pid, find_sleep(l.id.pid, "1000"), find_sleep(l.id.pid, "1001") };
	CHECK(kids[1] > 0 && kids[2] > 0);
	CHECK(launch_member(&l.id, l.id.pid));
	CHECK(kids[1] > 0 && launch_member(&l.id, kids[1]));
	CHECK(kids[2] > 0 && launch_member(&l.id, kids[2])); /* its namespace, or its ancestry */
	CHECK(!launch_member(&l.id, getpid()));
	CHECK(!launch_member(&l.id, 1));
	CHECK(!launch_member(&l.id, getppid()));
	CHECK(!launch_member(&l.id, INT_MAX));

	CHECK_RC(launch_kill(&l), 0);
	status = end(&l, false);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	if (l.id.pidns) {
		CHECK(all_gone(kids, 3));
	} else {
		/* a session of its own: the setsid'd one escaped the group kill (the documented weak spot) */
		CHECK(all_gone(kids, 2));
		if (kids[2] > 0)
			kill(kids[2], SIGKILL);
	}
	if (l.id.pidns) {
		/* (in a session, the killed orphans may stay zombies of a pid 1 that does not reap, still
		 * in the session and the group) */
		CHECK(!launch_member(&l.id, kids[1]));
		CHECK_RC(launch_kill(&l), -ESRCH); /* reaped: gone */
	}

	/* exited but not reaped: gone too (with a namespace its pid 1 took everything with it) */
	static const char *const t[] = { "/bin/true", NULL };
	s.argv = t;
	CHECK_RC(launch_start(&s, &l, why, sizeof(why)), 0);
	struct pollfd p = { l.pidfd, POLLIN, 0 };
	CHECK(poll(&p, 1, WAIT_MS) == 1);
	CHECK(!root || l.id.pidns != 0); /* read while it was a zombie, or before */
	if (l.id.pidns)
		CHECK_RC(launch_kill(&l), -ESRCH);
	status = end(&l, false);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_leftovers(void)
{
	static const char *const argv[] = { "sh", "-c", "sleep 1000 & wait", NULL };
	struct launch_spec s = spec(argv, NULL, NULL);
	struct launch l;
	char why[512];

	CHECK_RC(launch_start(&s, &l, why, sizeof(why)), 0);
	pid_t kids[2] = { l.id.pid, find_sleep(l.id.pid, "1000") };
	CHECK(kids[1] > 0);

	/* a pid reused by someone else (another start time): not touched */
	struct launch_id other = l.id;
	other.start_time++;
	CHECK_RC(launch_kill_leftovers(&other), 0);
	CHECK(alive(kids[0]) && alive(kids[1]));

	/* what a restarted daemon knows: only the id */
	struct launch_id id = l.id;
	int n = launch_kill_leftovers(&id);
	CHECK(n >= 1);
	CHECK(all_gone(kids, 2));
	int status = end(&l, false);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_RC(launch_kill_leftovers(&id), 0);
	CHECK(!alive(kids[1]));
}

/* The tree dies with the thread that started it: a helper process starts it and exits without a word.
 * We are the subreaper meanwhile, so the orphaned program becomes our child and is reaped here (pid 1
 * of this machine may not reap). */
static void test_parent_death(void)
{
	static const char *const argv[] = { "sh", "-c", "sleep 1000 & wait", NULL };
	struct launch_spec s = spec(argv, NULL, NULL);
	struct { struct launch_id id; pid_t sleeper; } msg = { { 0 }, 0 };
	int p[2], status;
	pid_t helper;

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	helper = fork();
	if (helper == 0) {
		struct launch l;
		char why[512];

		close(p[0]);
		if (launch_start(&s, &l, why, sizeof(why)) == 0) {
			msg.id = l.id;
			msg.sleeper = find_sleep(l.id.pid, "1000");
			if (!l.id.pidns)
				end(&l, true); /* no parent-death signal to test: leave nothing behind */
		}
		if (write(p[1], &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	CHECK(helper > 0);
	CHECK(read(p[0], &msg, sizeof(msg)) == (ssize_t)sizeof(msg));
	close(p[0]);
	CHECK(waitpid(helper, &status, 0) == helper && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!msg.id.pid) {
		CHECK(!"the helper could not start its program");
	} else if (!msg.id.pidns) {
		printf("test_launch: parent death not checked: no PID namespace (not root)\n");
	} else {
		pid_t kids[2] = { msg.id.pid, msg.sleeper };
		int64_t deadline = now_ms() + WAIT_MS;
		pid_t got = 0;

		CHECK(msg.sleeper > 0);
		while ((got = waitpid(msg.id.pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
			pause_ms(10);
		CHECK(got == msg.id.pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		CHECK(all_gone(kids, 2));
		if (got != msg.id.pid) {
			launch_kill_leftovers(&msg.id);
			waitpid(msg.id.pid, &status, 0);
		}
	}
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) == 0);
	/* whatever else was orphaned to us meanwhile (the helper's killed sleep, in a session) */
	for (int64_t deadline = now_ms() + WAIT_MS; now_ms() < deadline;) {
		pid_t r = waitpid(-1, &status, WNOHANG);
		if (r < 0)
			break;
		if (r == 0)
			pause_ms(10);
	}
}

/* Many starts in a row: descriptors and the reused stack hold up. */
static void test_repeat(void)
{
	static const char *const argv[] = { "true", NULL }, *const bad[] = { "no-such-program-xyz", NULL };
	char out[64], err[64], why[512];
	int fds = count_fds(), status, ok = 0;
	struct launch_spec s = spec(argv, NULL, NULL), b = spec(bad, NULL, NULL);

	for (int i = 0; i < 50; i++) {
		ok += run(&s, out, sizeof(out), err, sizeof(err), &status, why, sizeof(why)) == 0 &&
		      WIFEXITED(status) && WEXITSTATUS(status) == 0;
		ok += launch_start(&b, &(struct launch){ 0 }, why, sizeof(why)) == -ENOENT;
	}
	CHECK(ok == 100);
	CHECK(count_fds() == fds);
}

int main(void)
{
	gid_t g[64];
	int n = getgroups(64, g);

	setvbuf(stdout, NULL, _IONBF, 0);
	root = geteuid() == 0;
	for (int i = 0; i < n; i++)
		my_groups[my_ngroups++] = g[i];
	if (root) {
		/* groups of the "daemon" that a program must not keep */
		static const gid_t daemon_groups[] = { 0, 4, 27 };
		CHECK(setgroups(N(daemon_groups), daemon_groups) == 0);
		my_groups[0] = 0;
		my_ngroups = 1;
	}

	test_echo();
	test_stderr_and_status();
	test_not_found();
	test_path_search();
	test_identity();
	test_cwd();
	test_environment();
	test_no_leaked_fds();
	test_signals();
	test_tree_kill();
	test_leftovers();
	test_parent_death();
	test_repeat();

	errno = 0;
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD); /* every child reaped */
	printf("test_launch: %s (%s)\n", check_failures ? "FAILED" : "all passed",
	       root ? "as root: PID namespaces" : "unprivileged: sessions");
	return CHECK_DONE();
}
